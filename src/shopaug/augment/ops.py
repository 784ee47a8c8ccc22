"""Functional core of sequence augmentation: vectorized numpy ops on padded id batches.

A batch is a left-padded integer array ``(B, L)`` of internal item ids: 0 pads, real items
are right-aligned and the newest item of a row sits in column ``L - 1``. Every op

* takes the random stream explicitly (``rng: np.random.Generator``; no global state, so the
  same input and the same seed give the same output),
* returns a new array of the same shape and dtype, still left-padded, and never writes to
  its input,
* leaves rows of length 0 all-padding,
* reads ratios as fractions of each row's real length ``n``: an op touching "``ratio``"
  items touches ``floor(ratio * n)`` of them.

Ops trust their input to be left-padded (``Augmenter.__call__`` checks it once per batch).
No op loops over rows in Python. Positions are chosen per row in one shot with the
"random key per position, rank within its row" trick, windows are gathered with per-row
offsets and fancy indexing, and rows that grow (``insert``) are scattered to destination
columns computed from cumulative sums.

``prefixes`` and ``windows`` expand CSR :class:`~shopaug.data.Sequences` into padded
samples (one sample per prefix or per sliding window) with the same tricks.

References:
    Xie et al., "Contrastive Learning for Sequential Recommendation" (CL4SRec, ICDE 2022):
    crop, mask, reorder. Liu et al., "Contrastive Self-supervised Sequential Recommendation
    with Robust Augmentation" (CoSeRec, 2021): substitute, insert. Tan et al., "Improved
    Recurrent Neural Networks for Session-based Recommendations" (2016): prefix expansion.
"""

from __future__ import annotations

import numpy as np

from shopaug.data import Sequences

__all__ = [
    "count",
    "crop",
    "insert",
    "lengths",
    "mask",
    "noise",
    "prefixes",
    "reorder",
    "substitute",
    "windows",
]

# floor(ratio * n) computed in floating point may land just below an integer
# (0.29 * 100 == 28.999999999999996); this slack makes such products count as intended.
_EPS = 1e-9


def count(ratio: float, n: np.ndarray) -> np.ndarray:
    """``floor(ratio * n)`` per row, robust to floating-point error; int64."""
    return np.floor(ratio * np.asarray(n, dtype=np.float64) + _EPS).astype(np.int64)


def lengths(batch: np.ndarray) -> np.ndarray:
    """Real (non-padding) length of every row of a left-padded batch."""
    return np.count_nonzero(batch, axis=1).astype(np.int64)


def _check(batch: np.ndarray) -> np.ndarray:
    batch = np.asarray(batch)
    if batch.ndim != 2 or not np.issubdtype(batch.dtype, np.integer):
        raise ValueError(
            f"expected a 2-D integer batch (B, L) of item ids, got shape {batch.shape} "
            f"dtype {batch.dtype}"
        )
    return batch


def _real(n: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(rows, offsets, cols)`` of every real position of a left-padded batch of width
    ``width`` and row lengths ``n``, row by row, oldest item first (``offsets`` counts from
    the row's oldest item)."""
    rows = np.repeat(np.arange(len(n)), n)
    offsets = np.arange(len(rows)) - np.repeat(np.cumsum(n) - n, n)
    return rows, offsets, width - n[rows] + offsets


def _choose(
    rows: np.ndarray, offsets: np.ndarray, k: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Indices into the real positions ``(rows, offsets)`` (from ``_real``) of a uniformly
    random ``k[r]``-subset of every row ``r``.

    Every real position gets the key ``row + u`` with ``u`` uniform in [0, 0.5) (below 1
    with room for rounding, so keys never cross into the next row); one stable argsort
    shuffles positions within their rows, and the first ``k[row]`` of each row are chosen.
    Working on the real positions only (not on the padded ``(B, L)`` grid) skips the
    padding, which is most of a typical batch.
    """
    order = np.argsort(rows + 0.5 * rng.random(len(rows)), kind="stable")
    # The sort keeps rows grouped in place (rows[order] == rows), so the offset of sorted
    # position i is its rank within its row.
    return order[offsets < k[rows]]


def _choose_in(batch: np.ndarray, ratio: float, rng: np.random.Generator) -> tuple:
    """``(rows, cols)`` of ``floor(ratio * n)`` random real positions per row."""
    n = lengths(batch)
    rows, offsets, cols = _real(n, batch.shape[1])
    idx = _choose(rows, offsets, count(ratio, n), rng)
    return rows[idx], cols[idx]


def crop(batch: np.ndarray, rng: np.random.Generator, ratio: float = 0.6) -> np.ndarray:
    """Keep a random contiguous window of ``max(1, floor(ratio * n))`` items per row.

    Args:
        batch: left-padded ids ``(B, L)``.
        rng: random stream.
        ratio: window length as a fraction of the row's length, in (0, 1].
    """
    batch = _check(batch)
    n_rows, width = batch.shape
    n = lengths(batch)
    m = np.where(n > 0, np.clip(count(ratio, n), 1, n), 0)
    start = np.floor(rng.random(n_rows) * (n - m + 1)).astype(np.int64)  # within the row
    # Gather only the kept items: row r's window goes to columns width - m[r] .. width - 1.
    rows, offsets, _ = _real(m, width)
    out = np.zeros_like(batch)
    out[rows, width - m[rows] + offsets] = batch[rows, (width - n + start)[rows] + offsets]
    return out


def mask(
    batch: np.ndarray, rng: np.random.Generator, ratio: float = 0.3, *, token: int
) -> np.ndarray:
    """Replace a random ``floor(ratio * n)`` subset of each row's items by ``token``.

    Args:
        batch: left-padded ids ``(B, L)``.
        rng: random stream.
        ratio: fraction of items masked, in [0, 1].
        token: the model's mask id (typically ``n_items + 1``).
    """
    batch = _check(batch)
    rows, cols = _choose_in(batch, ratio, rng)
    out = batch.copy()
    out[rows, cols] = token
    return out


def reorder(batch: np.ndarray, rng: np.random.Generator, ratio: float = 0.3) -> np.ndarray:
    """Shuffle a random contiguous window of ``floor(ratio * n)`` items per row.

    Args:
        batch: left-padded ids ``(B, L)``.
        rng: random stream.
        ratio: window length as a fraction of the row's length, in [0, 1].
    """
    batch = _check(batch)
    n_rows, width = batch.shape
    n = lengths(batch)
    m = np.minimum(count(ratio, n), n)
    start = width - n + np.floor(rng.random(n_rows) * (n - m + 1)).astype(np.int64)
    out = batch.copy()
    active = np.flatnonzero(m >= 2)  # windows of 0 or 1 items change nothing
    if len(active) == 0:
        return out
    m, start = m[active], start[active]
    span = int(m.max())
    # Work on the windows only, (rows, span): a random key per window slot, inf past the
    # row's window, so an argsort puts the window's own slots first, in random order.
    j = np.arange(span)
    inside = j[None, :] < m[:, None]
    src = np.minimum(start[:, None] + j[None, :], width - 1)
    keys = np.where(inside, rng.random((len(active), span)), np.inf)
    perm = np.argsort(keys, axis=1)
    window = batch[active[:, None], src]
    shuffled = np.take_along_axis(window, perm, axis=1)
    rows = np.nonzero(inside)[0]
    out[active[rows], src[inside]] = shuffled[inside]
    return out


def _neighbour(
    table: np.ndarray, items: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """A uniformly random non-zero neighbour per item; returns ``(neighbour, has_one)``.

    Items outside the table (e.g. a mask token) or without neighbours get ``has_one`` False.
    """
    inside = items < len(table)
    cand = table[np.where(inside, items, 0)]
    cand[~inside] = 0
    nonzero = cand != 0
    n_cand = nonzero.sum(axis=1)
    j = np.floor(rng.random(len(items)) * n_cand).astype(np.int64)
    # column of the j-th non-zero entry (tables need not be packed to the left)
    col = np.argmax(np.cumsum(nonzero, axis=1) > j[:, None], axis=1)
    return cand[np.arange(len(items)), col], n_cand > 0


def substitute(
    batch: np.ndarray, rng: np.random.Generator, ratio: float, table: np.ndarray
) -> np.ndarray:
    """Replace a random ``floor(ratio * n)`` subset of each row's items by a random neighbour.

    Args:
        batch: left-padded ids ``(B, L)``.
        rng: random stream.
        ratio: fraction of items substituted, in [0, 1].
        table: neighbours ``(n_items + 1, k)`` (0 = none); an item without neighbours stays.
    """
    batch = _check(batch)
    rows, cols = _choose_in(batch, ratio, rng)
    out = batch.copy()
    nb, ok = _neighbour(table, batch[rows, cols], rng)
    out[rows[ok], cols[ok]] = nb[ok]
    return out


def insert(
    batch: np.ndarray, rng: np.random.Generator, ratio: float, table: np.ndarray
) -> np.ndarray:
    """After a random ``floor(ratio * n)`` subset of each row's items, insert a neighbour.

    Rows grow by one item per chosen item that has a neighbour; the newest ``L`` items are
    kept (the oldest drop off the left) and rows stay left-padded.

    Args:
        batch: left-padded ids ``(B, L)``.
        rng: random stream.
        ratio: fraction of items followed by an inserted neighbour, in [0, 1].
        table: neighbours ``(n_items + 1, k)`` (0 = none).
    """
    batch = _check(batch)
    n_rows, width = batch.shape
    n = lengths(batch)
    rows, offsets, cols = _real(n, width)
    items = batch[rows, cols]
    idx = _choose(rows, offsets, count(ratio, n), rng)
    nb, ok = _neighbour(table, items[idx], rng)
    idx, nb = idx[ok], nb[ok]
    # Insertions before each real position within its row (exclusive cumulative count).
    grow = np.zeros(len(rows), dtype=np.int64)
    grow[idx] = 1
    per_row = np.bincount(rows[idx], minlength=n_rows)
    before = np.cumsum(grow) - grow - (np.cumsum(per_row) - per_row)[rows]
    # Destination column in the grown row, right-aligned; negative = dropped (too old).
    dest = width - (n + per_row)[rows] + offsets + before
    out = np.zeros_like(batch)
    keep = dest >= 0
    out[rows[keep], dest[keep]] = items[keep]
    dest = dest[idx] + 1  # the neighbour sits right after its item
    keep = dest >= 0
    out[rows[idx][keep], dest[keep]] = nb[keep].astype(batch.dtype, copy=False)
    return out


def noise(
    batch: np.ndarray,
    rng: np.random.Generator,
    ratio: float,
    items: np.ndarray,
    probs: np.ndarray | None = None,
) -> np.ndarray:
    """Replace a random ``floor(ratio * n)`` subset of each row's items by random items.

    Args:
        batch: left-padded ids ``(B, L)``.
        rng: random stream.
        ratio: fraction of items replaced, in [0, 1].
        items: 1-D pool to draw from. Pass only items seen in training: drawing from the
            whole catalogue would leak held-out items into training samples.
        probs: drawing probability per pool item (sums to 1), or None for uniform.
    """
    batch = _check(batch)
    rows, cols = _choose_in(batch, ratio, rng)
    out = batch.copy()
    if len(rows):
        items = np.asarray(items)
        if len(items) == 0:
            raise ValueError("noise needs a non-empty item pool")
        out[rows, cols] = rng.choice(items, size=len(rows), p=probs)
    return out


# --- expansion of CSR sequences into padded samples -------------------------------------


def _pad_slices(items: np.ndarray, ends: np.ndarray, lens: np.ndarray, max_len: int) -> np.ndarray:
    """Left-padded ``(len(ends), max_len)`` rows: the newest ``max_len`` items of each slice
    ``items[ends - lens : ends]``."""
    kept = np.minimum(lens, max_len)
    out = np.zeros((len(ends), max_len), dtype=np.int64)
    total = int(kept.sum())
    if total == 0:
        return out
    row = np.repeat(np.arange(len(ends)), kept)
    pos = np.arange(total) - np.repeat(np.cumsum(kept) - kept, kept)
    k = np.repeat(kept, kept)
    out[row, max_len - k + pos] = items[np.repeat(ends, kept) - k + pos]
    return out


def prefixes(
    seqs: Sequences, max_len: int, min_len: int = 2
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Prefix expansion: every prefix of length ``>= min_len`` of every row as a sample.

    Args:
        seqs: sequences (oldest item first).
        max_len: width of the padded samples; longer prefixes keep their newest items.
        min_len: shortest prefix emitted (at least 1).

    Returns:
        ``(samples, source_row, end)``: left-padded samples ``(P, max_len)`` int64, the row
        of ``seqs`` each comes from and its prefix length, ordered by row, then length.
    """
    if min_len < 1 or max_len < 1:
        raise ValueError("prefixes needs min_len >= 1 and max_len >= 1")
    n = seqs.lengths
    per_row = np.maximum(n - min_len + 1, 0)
    source = np.repeat(np.arange(len(n)), per_row)
    end = np.arange(int(per_row.sum())) - np.repeat(np.cumsum(per_row) - per_row, per_row)
    end += min_len
    return _pad_slices(seqs.items, seqs.indptr[source] + end, end, max_len), source, end


def windows(
    seqs: Sequences, max_len: int, stride: int, min_len: int = 1
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sub-sequence expansion: sliding windows of ``max_len`` items, ``stride`` apart.

    Windows are anchored at the newest item: a row of length ``n`` gives windows ending at
    ``n, n - stride, n - 2 * stride, ...``; the oldest window is shifted to start at the
    row's first item, so with ``stride <= max_len`` every item is in some window. A row no
    longer than ``max_len`` is a single window; rows shorter than ``min_len`` give none.

    Returns:
        ``(samples, source_row, end)`` as for :func:`prefixes` (``end`` is the window's end
        position in its row), ordered by row, then newest window first.
    """
    if max_len < 1 or stride < 1 or min_len < 1:
        raise ValueError("windows needs max_len >= 1, stride >= 1 and min_len >= 1")
    n = seqs.lengths
    extra = np.maximum(n - max_len, 0)
    per_row = np.where(n >= min_len, 1 + -(-extra // stride), 0)
    source = np.repeat(np.arange(len(n)), per_row)
    j = np.arange(int(per_row.sum())) - np.repeat(np.cumsum(per_row) - per_row, per_row)
    n_src = n[source]
    end = np.maximum(n_src - j * stride, np.minimum(n_src, max_len))
    span = np.minimum(end, max_len)
    return _pad_slices(seqs.items, seqs.indptr[source] + end, span, max_len), source, end
