"""Large synthetic interaction logs with Amazon Beauty's statistics, for scale tests.

The log is written chunk by chunk (about ``CHUNK_ROWS`` interactions in memory at a time)
as Parquet parts, so its size is limited by disk, not memory. It has:

* sequence lengths from a discrete power law fitted to Beauty's (a 5-core: 32% of users
  have 5 interactions, median 6, mean 8.9, longest 204);
* item popularity from log-normal weights fitted to Beauty's concentration (the top 1% of
  items get 10.5% of interactions, the top 10% get 43%), a catalogue that grows with the
  log (Beauty has 16.4 interactions per item), and no item twice in a row (as in Beauty);
* sequential structure for a sequential model to learn: items are grouped in categories
  and the next item comes from the previous item's category with probability ``stay``;
* unix-second timestamps increasing within each user, spread over 2014-2017; parts are
  time partitions (part ``k`` holds the ``k``-th time slice), so a user's history is
  spread over several files, as in a day-partitioned shop log.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict, dataclass
from itertools import pairwise
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from shopaug.columns import EVENT_TYPES, Columns
from shopaug.exceptions import ConfigError
from shopaug.random import RNGLike, make_rng

#: Interactions generated per step; peak memory is about 200 bytes times this.
CHUNK_ROWS = 1 << 20
_T0 = 1_388_534_400  # 2014-01-01 UTC
_T1 = 1_514_764_800  # 2018-01-01 UTC
_MANIFEST = "_manifest.json"  # "_" so that log readers skip it


@dataclass(frozen=True)
class LogProfile:
    """The statistics of a generated log. Defaults are fitted to the bundled Amazon Beauty
    (``shopaug.data.load("bundled:amazon-beauty")``), except where marked as chosen.

    Attributes:
        min_len: shortest sequence (Beauty is a 5-core).
        max_len: longest sequence (Beauty's longest).
        len_exponent: ``a`` in P(length = k) ~ k**-a on ``min_len..max_len``; the maximum
            likelihood fit on Beauty's 22,363 lengths (it gives P(5) = .324 vs .320
            measured, median 6, mean 8.98 vs 8.88).
        item_sigma: sigma of the log-normal item weights: the value whose generated logs
            match Beauty's top-1% and top-10% item shares (.105, .428; two seeds at 400k
            rows give .105-.106 and .426-.430). Plain popularity draws would need 1.08;
            redrawing repeated items flattens the head a little.
        per_item: interactions per catalogue item (198,502 / 12,101 in Beauty).
        category_size: mean items per category (chosen).
        stay: probability that the next item comes from the previous item's category
            (chosen; 0 gives no sequential structure beyond popularity).
        gap_days: median days between a user's consecutive interactions (chosen: Beauty as
            bundled has no timestamps); gaps are log-normal with sigma 2, at most a year.
        event_probs: probabilities of ``EVENT_TYPES`` when events are written (chosen).
    """

    min_len: int = 5
    max_len: int = 204
    len_exponent: float = 2.97
    item_sigma: float = 1.12
    per_item: float = 16.4
    category_size: int = 40
    stay: float = 0.5
    gap_days: float = 1.0
    event_probs: tuple[float, ...] = (0.70, 0.20, 0.07, 0.03)

    def __post_init__(self) -> None:
        if not 1 <= self.min_len <= self.max_len:
            raise ConfigError(f"expected 1 <= min_len <= max_len, got {self.min_len}, "
                              f"{self.max_len}")
        if self.item_sigma < 0 or self.per_item <= 0 or self.category_size < 1:
            raise ConfigError("expected item_sigma >= 0, per_item > 0, category_size >= 1")
        if not 0 <= self.stay <= 1:
            raise ConfigError(f"stay must be in [0, 1], got {self.stay}")
        if self.gap_days <= 0:
            raise ConfigError(f"gap_days must be positive, got {self.gap_days}")
        p = np.asarray(self.event_probs, dtype=float)
        if len(p) != len(EVENT_TYPES) or (p < 0).any() or not np.isclose(p.sum(), 1):
            raise ConfigError(f"event_probs: expected {len(EVENT_TYPES)} probabilities "
                              f"summing to 1 ({', '.join(EVENT_TYPES)}), got {self.event_probs}")

    def length_cdf(self) -> tuple[np.ndarray, np.ndarray]:
        """Support and cumulative probabilities of the sequence length."""
        support = np.arange(self.min_len, self.max_len + 1)
        p = support.astype(float) ** -self.len_exponent
        return support, np.cumsum(p) / p.sum()


@dataclass(frozen=True)
class GeneratedLog:
    """What ``generate_log`` wrote.

    Attributes:
        path: the folder of Parquet parts.
        interactions: rows written (exactly the number asked for).
        users: users with at least one row.
        items: size of the generated catalogue (some rare items may get no rows).
        files: Parquet parts written.
    """

    path: Path
    interactions: int
    users: int
    items: int
    files: int


def _lengths(n: int, users: int | None, profile: LogProfile,
             rng: np.random.Generator) -> np.ndarray:
    """Sequence lengths summing to ``n`` exactly."""
    support, cdf = profile.length_cdf()

    def draw(k: int) -> np.ndarray:
        return support[np.minimum(np.searchsorted(cdf, rng.random(k), side="right"),
                                  len(support) - 1)]

    if users is None:
        mean = float(np.diff(np.r_[0, cdf]) @ support)
        parts, total = [], 0
        while total < n:  # draw users until the log is long enough, cut the last one
            more = draw(int((n - total) / mean * 1.05) + 16)
            parts.append(more)
            total += int(more.sum())
        lengths = np.concatenate(parts)
        end = int(np.searchsorted(np.cumsum(lengths), n))
        lengths = lengths[: end + 1]
        lengths[-1] -= int(lengths.sum()) - n
        return lengths
    # A given number of users: scale drawn lengths to sum to n (largest remainders).
    x = draw(users).astype(float)
    x *= n / x.sum()
    lengths = np.floor(x).astype(np.int64)
    short = n - int(lengths.sum())
    lengths[np.argsort(lengths - x, kind="stable")[:short]] += 1
    return lengths[lengths > 0]


class _Catalogue:
    """Items with log-normal popularity in contiguous categories; draws are vectorized."""

    def __init__(self, n_items: int, profile: LogProfile, rng: np.random.Generator) -> None:
        self.n_items = n_items
        weight = rng.lognormal(0.0, profile.item_sigma, n_items)
        n_cat = max(1, n_items // profile.category_size)
        cuts = np.sort(rng.choice(np.arange(1, n_items), n_cat - 1, replace=False))
        self.lo = np.r_[0, cuts]
        self.hi = np.r_[cuts, n_items]
        cum = np.r_[0.0, np.cumsum(weight)]
        self.cum = cum[1:]
        self.start = cum[self.lo]
        self.mass = cum[self.hi] - self.start
        self.cat_cdf = np.cumsum(self.mass) / cum[-1]
        # external ids are shuffled so that neither popularity nor category shows in them
        self.code = rng.permutation(n_items)

    def categories(self, k: int, rng: np.random.Generator) -> np.ndarray:
        """Categories drawn by total popularity (a popularity-weighted item's category)."""
        c = np.searchsorted(self.cat_cdf, rng.random(k), side="right")
        return np.minimum(c, len(self.lo) - 1)

    def items(self, cat: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """One item per entry of ``cat``, by popularity within the category."""
        target = self.start[cat] + rng.random(len(cat)) * self.mass[cat]
        item = np.searchsorted(self.cum, target, side="right")
        return np.clip(item, self.lo[cat], self.hi[cat] - 1)


def _ids(prefix: str, values: np.ndarray, width: int) -> pa.Array:
    digits = pc.utf8_lpad(pc.cast(pa.array(values), pa.string()), width, "0")
    return pc.binary_join_element_wise(prefix, digits, "")


def _chunk(lengths: np.ndarray, first_user: int, cat: _Catalogue, profile: LogProfile,
           events: bool, rng: np.random.Generator) -> dict[str, np.ndarray]:
    n = int(lengths.sum())
    starts = np.r_[0, np.cumsum(lengths)[:-1]]
    pos = np.arange(n) - np.repeat(starts, lengths)
    # Category chain: each user's first step, and a step with probability 1 - stay, draws
    # a fresh category; other steps keep the category of the last fresh draw.
    jump = (pos == 0) | (rng.random(n) >= profile.stay)
    fresh = np.flatnonzero(jump)
    category = np.zeros(n, dtype=np.int64)
    category[fresh] = cat.categories(len(fresh), rng)
    category = category[np.maximum.accumulate(np.where(jump, np.arange(n), 0))]
    item = cat.items(category, rng)
    # Beauty never has an item twice in a row: redraw such steps in their category, then
    # (tiny categories) from the whole catalogue, then take the next item id.
    for attempt in range(12):
        again = np.flatnonzero((pos[1:] > 0) & (item[1:] == item[:-1])) + 1
        if not len(again) or cat.n_items == 1:
            break
        if attempt < 4:
            item[again] = cat.items(category[again], rng)
        elif attempt < 8:
            item[again] = cat.items(cat.categories(len(again), rng), rng)
        else:
            item[again] = (item[again] + 1) % cat.n_items

    begin = rng.integers(_T0, _T1, len(lengths))
    gap = rng.lognormal(np.log(profile.gap_days * 86400), 2.0, n)
    gap = np.clip(gap, 1, 365 * 86400).astype(np.int64)
    gap[pos == 0] = 0
    elapsed = np.cumsum(gap)
    elapsed -= np.repeat(elapsed[starts], lengths)
    out = {
        "user": np.repeat(np.arange(first_user, first_user + len(lengths)), lengths),
        "item": item,
        "time": np.repeat(begin, lengths) + elapsed,
    }
    if events:
        out["event"] = rng.choice(len(EVENT_TYPES), size=n, p=np.asarray(profile.event_probs))
    return out


def generate_log(
    out_dir: str | Path,
    interactions: int,
    *,
    seed: RNGLike,
    files: int = 8,
    users: int | None = None,
    items: int | None = None,
    events: bool = False,
    profile: LogProfile | None = None,
    progress: bool = False,
) -> GeneratedLog:
    """Write a synthetic interaction log with Beauty-like statistics as Parquet parts.

    The same seed and arguments give the same rows (``files`` only changes how the rows are
    split into parts). Memory stays bounded: ``CHUNK_ROWS`` interactions at a time plus a
    few arrays over users and items.

    Args:
        out_dir: folder to write ``part-NNNNN.parquet`` files and ``_manifest.json`` into;
            it must not hold Parquet files yet.
        interactions: rows to write (exactly).
        seed: an int or a ``np.random.Generator``.
        files: number of time partitions; a part with no rows is not written.
        users: number of users; default: as many as Beauty's length distribution needs
            (about ``interactions / 9``). Given, drawn lengths are scaled to sum to
            ``interactions``, so lengths no longer follow the profile exactly.
        items: catalogue size; default ``interactions / profile.per_item``.
        events: also write an ``event`` column (``profile.event_probs``).
        profile: the statistics; default ``LogProfile()`` (Beauty's).
        progress: show a progress bar.

    Columns: ``user_id`` (``u0000123``), ``item_id`` (``i000456``), ``timestamp`` (unix
    seconds, increasing within a user) and optionally ``event``.
    """
    profile = profile or LogProfile()
    if interactions < 1:
        raise ConfigError(f"interactions must be at least 1, got {interactions}")
    if files < 1:
        raise ConfigError(f"files must be at least 1, got {files}")
    if users is not None and not 1 <= users <= interactions:
        raise ConfigError(f"users must be in 1..interactions, got {users}")
    if items is not None and items < 1:
        raise ConfigError(f"items must be at least 1, got {items}")
    out = Path(out_dir)
    if out.is_dir() and any(out.glob("*.parquet")):
        raise ConfigError(f"{out} already holds Parquet files; expected a new or empty folder")
    rng = make_rng(seed)

    lengths = _lengths(interactions, users, profile, rng)
    n_items = items or max(1, round(interactions / profile.per_item))
    catalogue = _Catalogue(n_items, profile, rng)
    user_width = max(7, len(str(len(lengths) - 1)))
    item_width = max(6, len(str(n_items - 1)))

    # Chunk boundaries fall between users, about CHUNK_ROWS rows apart.
    ends = np.cumsum(lengths)
    cuts = np.unique(np.searchsorted(ends, np.arange(CHUNK_ROWS, interactions, CHUNK_ROWS)))
    bounds = np.r_[0, cuts + 1, len(lengths)]
    bounds = np.unique(np.minimum(bounds, len(lengths)))

    partial = out / ".partial"  # hidden from readers until complete
    if partial.exists():
        shutil.rmtree(partial)
    partial.mkdir(parents=True)
    fields = [(Columns.User, pa.string()), (Columns.Item, pa.string()),
              (Columns.Time, pa.int64())]
    if events:
        fields.append((Columns.Event, pa.string()))
    schema = pa.schema(fields)
    writers: dict[int, pq.ParquetWriter] = {}
    event_names = pa.array(EVENT_TYPES, pa.string())
    from tqdm.auto import tqdm

    bar = tqdm(total=interactions, unit="rows", unit_scale=True, disable=not progress,
               desc="generate")
    try:
        for u0, u1 in pairwise(bounds):
            rows = _chunk(lengths[u0:u1], int(u0), catalogue, profile, events, rng)
            part = np.clip((rows["time"] - _T0) * files // (_T1 - _T0), 0, files - 1)
            order = np.argsort(part, kind="stable")
            split = np.r_[0, np.cumsum(np.bincount(part, minlength=files))]
            for k in np.flatnonzero(np.diff(split)):
                take = order[split[k]:split[k + 1]]
                cols = [
                    _ids("u", rows["user"][take], user_width),
                    _ids("i", catalogue.code[rows["item"][take]], item_width),
                    pa.array(rows["time"][take]),
                ]
                if events:
                    cols.append(event_names.take(pa.array(rows["event"][take])))
                if k not in writers:
                    writers[k] = pq.ParquetWriter(partial / f"part-{k:05d}.parquet", schema)
                writers[k].write_table(pa.Table.from_arrays(cols, schema=schema))
            bar.update(len(rows["time"]))
    finally:
        bar.close()
        for w in writers.values():
            w.close()
    for p in sorted(partial.iterdir()):
        p.replace(out / p.name)
    partial.rmdir()
    summary = GeneratedLog(out, interactions, len(lengths), n_items, len(writers))
    manifest = {
        "generator": "shopaug.data.generate_log",
        "interactions": interactions,
        "users": len(lengths),
        "items": n_items,
        "files": len(writers),
        "events": events,
        "seed": seed if isinstance(seed, int) else None,
        "profile": asdict(profile),
    }
    (out / _MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return summary
