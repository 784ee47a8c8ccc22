"""Out-of-core reader for interaction logs too large to hold as strings in memory.

Input: a folder of Parquet files (any depth, e.g. hive-style ``day=3/part-0.parquet``) or
one large Parquet, CSV or TSV file, with the columns of ``read_log``. It gives the same
Dataset as ``read_log`` on the same rows (ids, arrays, order, de-duplication), in passes:

1. Scan Arrow batches of at most ``batch_rows`` rows; check each with ``read_log``'s checks
   (the error names the file, the line or Parquet row, and the column) and collect the
   distinct user and item ids. The id vocabularies follow ``read_log``'s rules.
2. Scan again, map ids to internal ids (Arrow hash lookups, a group of batches at a time)
   and append compact records (17 bytes a row) to temporary files, one per range of
   internal user ids ("bucket").
3. Per bucket, in user order: sort by (user, time), drop duplicates, keep each user's newest
   ``keep_last`` rows, and copy into the output arrays.

Peak memory is the output (25 bytes an interaction plus the id vocabularies) plus one
bucket, one mapping group (about as many rows as the larger vocabulary) and one Parquet row
group being decoded, never the raw string log; disk holds 17 bytes a row until the bucket
is read.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.dataset as pads

from shopaug.columns import Columns
from shopaug.data import _clean
from shopaug.data._dataset import Dataset
from shopaug.data._folder import sort_ids
from shopaug.data._log import (
    CSV_SUFFIXES,
    PARQUET_SUFFIXES,
    _catalog,
    _check_columns,
    _events,
    _ids,
    _locate_parse_error,
    _Problems,
    _times,
    _Where,
    csv_header,
)
from shopaug.data._vocab import IdVocab
from shopaug.exceptions import DataError

#: Rows per Arrow batch read from a file.
BATCH_ROWS = 1 << 18
#: Target interactions per spill bucket; a bucket's sort needs about 120 bytes a row.
BUCKET_ROWS = 1 << 20
# Mapping ids rebuilds a hash table of the vocabulary per call, so batches are mapped in
# groups of at least the vocabulary's size (linear total cost), up to this many rows.
_MAX_GROUP_ROWS = 1 << 23
_RECORD = np.dtype([("user", "<i4"), ("item", "<i4"), ("time", "<i8"), ("event", "i1")])
_REQUIRED = [Columns.User, Columns.Item, Columns.Time]
_EXPECTED = f"columns {', '.join(_REQUIRED)} (and optionally {Columns.Event})"


def _natural(path: Path) -> list[str | int]:
    # day=2 before day=10, so hive partitions and numbered parts read in their order
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", path.as_posix())]


def log_parts(folder: str | Path) -> list[Path]:
    """Parquet files (``.parquet``, ``.pq``) under ``folder`` at any depth, in natural path
    order; files and folders whose names start with ``.`` or ``_`` (``_SUCCESS``,
    ``_metadata``, hidden files) are skipped, as Spark and Arrow do. Partition keys in folder
    names are not read as columns."""
    root = Path(folder)
    found = [
        p
        for p in root.rglob("*")
        if p.suffix.lower() in PARQUET_SUFFIXES
        and p.is_file()
        and not any(part[:1] in "._" for part in p.relative_to(root).parts)
    ]
    return sorted(found, key=lambda p: _natural(p.relative_to(root)))


class _PartWhere(_Where):
    """Locations of one batch's rows in their file: rows are counted from ``offset``.

    For CSV the line of a row is found by streaming the file with the csv module, only on
    the error path (quoted newlines and blank lines shift lines against rows).
    """

    def __init__(self, path: Path, delimiter: str | None, offset: int = 0) -> None:
        super().__init__(path, None, delimiter or ",")
        self.is_csv = delimiter is not None
        self.offset = offset

    def at(self, offset: int) -> _PartWhere:
        return _PartWhere(self.path, self.delimiter if self.is_csv else None, offset)

    def _rows(self) -> Iterator[str]:
        with open(self.path, "rb") as f:
            start = 0
            for lineno, raw in enumerate(f, start=1):
                try:
                    text = raw.decode("utf-8")
                except UnicodeDecodeError as e:
                    raise DataError(
                        f"bad encoding: byte 0x{raw[e.start]:02x} at offset {start + e.start} "
                        "is not valid UTF-8 (expected a UTF-8 text file)",
                        file=self.path,
                        line=lineno,
                    ) from None
                yield text.removeprefix("\ufeff") if lineno == 1 else text
                start += len(raw)

    def error(
        self,
        message: str,
        *,
        row: int | None = None,
        column: str | None = None,
        header: bool = False,
    ) -> DataError:
        row = None if row is None else row + self.offset
        if not self.is_csv:
            return super().error(message, row=row, column=column, header=header)
        line = None
        if header:
            line = next(self.records())[0]
        elif row is not None:
            line = next((ln for i, (ln, _) in enumerate(self.records()) if i == row + 1), row + 2)
        return DataError(message, file=self.path, line=line, column=column)


_Batch = tuple[dict[str, pa.Array], _PartWhere]


def _parquet_batches(path: Path, batch_rows: int) -> Iterator[_Batch]:
    where = _PartWhere(path, None)
    try:
        dataset = pads.dataset(path, format="parquet")
        header = list(dataset.schema.names)
    except (pa.ArrowInvalid, OSError) as e:
        raise where.error(f"not a readable Parquet file ({e}); expected {_EXPECTED}") from None
    dup = sorted({h for h in header if header.count(h) > 1})
    if dup:
        raise where.error(f"duplicate column(s) {dup}", column=dup[0])
    _check_columns(header, _REQUIRED, _EXPECTED, where)
    wanted = [c for c in [*_REQUIRED, Columns.Event] if c in header]
    offset = 0
    batches = dataset.to_batches(
        columns=wanted, batch_size=batch_rows, batch_readahead=1, fragment_readahead=1,
        # pre-buffering reads whole row groups ahead; a buffered stream reads column chunks
        # in pieces. Memory still grows with the row-group size, so keep those moderate.
        fragment_scan_options=pads.ParquetFragmentScanOptions(
            pre_buffer=False, use_buffered_stream=True, buffer_size=1 << 20
        ),
    )
    try:
        for batch in batches:
            if batch.num_rows:
                yield {c: batch.column(c) for c in wanted}, where.at(offset)
                offset += batch.num_rows
    except (pa.ArrowInvalid, OSError) as e:
        raise where.error(f"cannot read the Parquet file: {e}") from None


def _csv_batches(path: Path, delimiter: str, batch_rows: int) -> Iterator[_Batch]:
    where = _PartWhere(path, delimiter)
    header, wanted, names = csv_header(where, _REQUIRED, [Columns.Event], _EXPECTED)
    quoted = delimiter == ","  # as read_log: TSV files have no quoting
    reader_options = {
        # about 40 bytes a row in typical logs; Arrow splits batches at block boundaries
        "read_options": pcsv.ReadOptions(block_size=max(1 << 16, batch_rows * 40)),
        "parse_options": pcsv.ParseOptions(
            delimiter=delimiter, quote_char='"' if quoted else False, newlines_in_values=quoted
        ),
        "convert_options": pcsv.ConvertOptions(
            column_types={names[c]: pa.string() for c in wanted},
            include_columns=[names[c] for c in wanted],
        ),
    }
    offset = 0
    try:
        for batch in pcsv.open_csv(path, **reader_options):
            if batch.num_rows:
                yield {c: batch.column(names[c]) for c in wanted}, where.at(offset)
                offset += batch.num_rows
    except pa.ArrowInvalid as e:
        raise _locate_parse_error(len(header), where, e) from None
    if offset == 0:
        raise where.error(
            f"no rows: the file has a header but no data; expected data rows with {_EXPECTED}",
            row=0,
        )


def _parts(path: Path) -> list[tuple[Path, str | None]]:
    """The files of a log and their CSV delimiter (None for Parquet)."""
    if path.is_dir():
        files = log_parts(path)
        if not files:
            raise DataError(f"no Parquet files in the folder; expected *.parquet parts with "
                            f"{_EXPECTED}", file=path)
        return [(f, None) for f in files]
    if not path.is_file():
        raise DataError(f"no such file or folder; expected a log with {_EXPECTED}", file=path)
    suffix = path.suffix.lower()
    if suffix in CSV_SUFFIXES:
        return [(path, CSV_SUFFIXES[suffix])]
    if suffix in PARQUET_SUFFIXES:
        return [(path, None)]
    allowed = ", ".join([*CSV_SUFFIXES, *PARQUET_SUFFIXES])
    raise DataError(f"unsupported file type {suffix or '(none)'!r}; expected {allowed} "
                    "or a folder of Parquet files", file=path)


@dataclass
class _Rows:
    users: pa.Array
    items: pa.Array
    time: np.ndarray
    event: np.ndarray | None


def _scan(parts: list[tuple[Path, str | None]], batch_rows: int) -> Iterator[_Rows]:
    """Checked batches of all parts, in order; every part must agree on having ``event``."""
    has_event: tuple[Path, bool] | None = None
    for path, delimiter in parts:
        batches = (
            _parquet_batches(path, batch_rows)
            if delimiter is None
            else _csv_batches(path, delimiter, batch_rows)
        )
        for cols, where in batches:
            event = Columns.Event in cols
            if has_event is None:
                has_event = (path, event)
            elif has_event[1] != event:
                first = has_event[0].name
                raise DataError(
                    f"column '{Columns.Event}' is {'present' if event else 'missing'} here but "
                    f"{'present' if has_event[1] else 'missing'} in {first}; expected the same "
                    "columns in every file",
                    file=path,
                    column=Columns.Event,
                )
            problems = _Problems(where)
            users = _ids(cols[Columns.User], Columns.User, problems)
            items = _ids(cols[Columns.Item], Columns.Item, problems)
            time = np.array(_times(cols[Columns.Time], problems))  # own memory, not the batch's
            codes = _events(cols[Columns.Event], problems) if event else None
            problems.raise_first()
            yield _Rows(users, items, time, codes)


class _Distinct:
    """Distinct strings seen so far. Per-batch uniques are merged only once they outnumber
    the merged set, so merging costs time linear in the ids read, not quadratic."""

    def __init__(self) -> None:
        self.merged = pa.array([], pa.large_string())
        self.pending: list[pa.Array] = []
        self.n_pending = 0

    def add(self, values: pa.Array) -> None:
        uniq = pc.unique(values).cast(pa.large_string())
        self.pending.append(uniq)
        self.n_pending += len(uniq)
        if self.n_pending > max(len(self.merged), 1 << 16):
            self._merge()

    def _merge(self) -> None:
        if self.pending:
            self.merged = pc.unique(pa.concat_arrays([self.merged, *self.pending]))
            self.pending, self.n_pending = [], 0

    def vocab(self, offset: int) -> IdVocab:
        """As ``read_log``: code-point order (UTF-8 byte order, as Arrow sorts), numeric
        order when every id is an integer."""
        self._merge()
        ordered = self.merged.take(pc.sort_indices(self.merged)).to_pylist()
        return IdVocab(sort_ids(ordered), offset=offset)


def _dedupe_mask(user: np.ndarray, item: np.ndarray, time: np.ndarray,
                 event: np.ndarray | None) -> np.ndarray:
    """First row of each (user, item, time, event), as ``_clean.dedupe`` keeps it, for rows
    sorted by (user, time): duplicates lie in runs of equal (user, time), so only those
    rows are sorted further (often none: times rarely tie within a user)."""
    keep = np.ones(len(user), dtype=bool)
    tie = (user[1:] == user[:-1]) & (time[1:] == time[:-1])
    if not tie.any():
        return keep
    rows = np.flatnonzero(np.r_[tie, False] | np.r_[False, tie])
    run = np.cumsum(np.r_[True, ~tie])[rows]  # (user, time) run of each candidate row
    keys = [item[rows], run] if event is None else [event[rows], item[rows], run]
    order = np.lexsort(keys)  # stable: of equal rows the first in order is kept
    new = np.zeros(len(rows), dtype=bool)
    new[0] = True
    for k in keys:
        sk = k[order]
        new[1:] |= sk[1:] != sk[:-1]
    keep[rows[order]] = new
    return keep


def _newest(user: np.ndarray, n: int) -> np.ndarray:
    """Rows among the last ``n`` of their user (rows sorted by user, then time)."""
    starts = np.flatnonzero(np.r_[True, user[1:] != user[:-1]])
    ends = np.r_[starts[1:], len(user)]
    return np.repeat(ends, ends - starts) - np.arange(len(user)) <= n


class _Spill:
    """Compact records appended to one temporary file per range of internal user ids."""

    def __init__(self, folder: Path, n_users: int, n_buckets: int) -> None:
        self.folder = folder
        self.n_users = n_users
        self.n_buckets = n_buckets

    def path(self, b: int) -> Path:
        return self.folder / f"bucket-{b:05d}.bin"

    def write(self, user: np.ndarray, item: np.ndarray, time: np.ndarray,
              event: np.ndarray | None) -> None:
        bucket = user.astype(np.int64) * self.n_buckets // self.n_users
        order = np.argsort(bucket, kind="stable")  # file order within a bucket
        rec = np.empty(len(user), dtype=_RECORD)
        rec["user"], rec["item"], rec["time"] = user[order], item[order], time[order]
        rec["event"] = 0 if event is None else event[order]
        bounds = np.r_[0, np.cumsum(np.bincount(bucket, minlength=self.n_buckets))]
        for b in np.flatnonzero(np.diff(bounds)):
            with open(self.path(b), "ab") as f:
                rec[bounds[b]:bounds[b + 1]].tofile(f)

    def read(self, b: int) -> np.ndarray:
        path = self.path(b)
        if not path.exists():
            return np.empty(0, dtype=_RECORD)
        rec = np.fromfile(path, dtype=_RECORD)
        path.unlink()  # frees the disk as the output grows
        return rec


def read_log_stream(
    path: str | Path,
    *,
    catalog: str | Path | None = None,
    dedupe: bool = True,
    kcore: int | None = None,
    keep_last: int | None = None,
    name: str | None = None,
    batch_rows: int = BATCH_ROWS,
    bucket_rows: int = BUCKET_ROWS,
    tmp_dir: str | Path | None = None,
) -> Dataset:
    """Read an interaction log out of core: a folder of Parquet files or one large file.

    Gives the same Dataset as ``read_log`` on the same rows (the parts of a folder taken in
    natural path order): same vocabularies, arrays and de-duplication, so the same
    fingerprint. See the module docstring for the passes and memory bounds.

    Args:
        path: a folder of ``*.parquet``/``*.pq`` files (any depth; names starting with
            ``.`` or ``_`` are skipped) or one ``.parquet``, ``.pq``, ``.csv`` or ``.tsv``
            file, with columns ``user_id``, ``item_id``, ``timestamp`` and optionally
            ``event`` (in every part or in none).
        catalog: an item file, as for ``read_log``.
        dedupe: drop exact duplicate rows (see ``shopaug.data.dedupe``); exact per bucket,
            since duplicates share a user.
        kcore: keep the k-core, after ``keep_last``.
        keep_last: keep only each user's newest ``keep_last`` interactions (after
            de-duplication; ties in time keep file order), so the output grows with the
            number of users rather than the log. The vocabularies keep every id read.
        name: a short name for reports; defaults to the file or folder name.
        batch_rows: rows per Arrow batch read.
        bucket_rows: target rows per spill bucket (the unit sorted in memory).
        tmp_dir: where the spill files go (default: the system temporary folder).

    Raises:
        DataError: naming the file, line (CSV) or row (Parquet), column and what was expected.
    """
    path = Path(path)
    if keep_last is not None and keep_last < 1:
        raise ValueError(f"keep_last must be at least 1, got {keep_last}")
    if batch_rows < 1 or bucket_rows < 1:
        raise ValueError("batch_rows and bucket_rows must be positive")
    parts = _parts(path)

    users, items = _Distinct(), _Distinct()
    n_rows, has_event = 0, False
    for rows in _scan(parts, batch_rows):
        users.add(rows.users)
        items.add(rows.items)
        n_rows += len(rows.time)
        has_event = rows.event is not None
    if n_rows == 0:
        raise DataError(f"no rows in any file; expected data rows with {_EXPECTED}", file=path)
    texts = None
    if catalog is not None:
        texts = _catalog(Path(catalog))
        items.add(pa.array(list(texts), pa.string()))
    user_vocab, item_vocab = users.vocab(0), items.vocab(1)
    del users, items
    # Arrow's allocator keeps freed blocks for reuse; hand them back before the output grows
    pa.default_memory_pool().release_unused()
    if max(len(user_vocab), len(item_vocab)) >= 2**31:
        raise DataError("more than 2**31 - 1 distinct users or items", file=path)

    with tempfile.TemporaryDirectory(prefix="shopaug-stream-", dir=tmp_dir) as tmp:
        n_buckets = max(1, min(-(-n_rows // bucket_rows), len(user_vocab)))
        spill = _Spill(Path(tmp), len(user_vocab), n_buckets)
        _map_and_spill(parts, batch_rows, user_vocab, item_vocab, spill)
        pa.default_memory_pool().release_unused()
        user, item, time, event = _gather(spill, n_rows, has_event, dedupe, keep_last)

    item_text = None
    if texts is not None:
        item_text = np.array([""] + [texts.get(e, "") for e in item_vocab.external], dtype=object)
    ds = Dataset(
        name=name or (path.name if path.is_dir() else path.stem),
        source=str(path),
        users=user_vocab,
        items=item_vocab,
        user=user,
        item=item,
        time=time,
        event=event,
        item_text=item_text,
        has_time=True,
    )
    if kcore is not None:
        ds = _clean.kcore(ds, kcore)
        if ds.n_interactions == 0:
            raise DataError(
                f"no interactions left after {kcore}-core filtering; expected a smaller k",
                file=path,
            )
    return ds


def _map_and_spill(parts: list[tuple[Path, str | None]], batch_rows: int, user_vocab: IdVocab,
                   item_vocab: IdVocab, spill: _Spill) -> None:
    user_set = pa.array(user_vocab.external.tolist(), pa.string())
    item_set = pa.array(item_vocab.external.tolist(), pa.string())
    group_rows = min(max(batch_rows, len(user_set), len(item_set)), _MAX_GROUP_ROWS)

    def flush(group: list[_Rows]) -> None:
        def lookup(values: list[pa.Array], value_set: pa.Array) -> np.ndarray:
            found = pc.index_in(pa.concat_arrays(values), value_set=value_set)
            return found.to_numpy(zero_copy_only=False).astype(np.int32, copy=False)

        user = lookup([r.users for r in group], user_set)
        item = lookup([r.items for r in group], item_set) + 1
        time = np.concatenate([r.time for r in group])
        event = None if group[0].event is None else np.concatenate([r.event for r in group])
        spill.write(user, item, time, event)

    group: list[_Rows] = []
    size = 0
    for rows in _scan(parts, batch_rows):
        group.append(rows)
        size += len(rows.time)
        if size >= group_rows:
            flush(group)
            group, size = [], 0
    if group:
        flush(group)


def _order(user: np.ndarray, time: np.ndarray) -> np.ndarray:
    """Stable order by (user, time), as ``Dataset.from_arrays`` sorts: one sort of a
    combined key when it fits in int64 (about twice as fast), else ``np.lexsort``."""
    if not len(user):
        return np.zeros(0, dtype=np.int64)
    t0, span = int(time.min()), int(time.max()) - int(time.min()) + 1
    u0, users = int(user.min()), int(user.max()) - int(user.min()) + 1
    if users * span < 2**62:
        return np.argsort((user - u0) * span + (time - t0), kind="stable")
    return np.lexsort((time, user))


def _gather(spill: _Spill, n_rows: int, has_event: bool, dedupe: bool,
            keep_last: int | None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """Concatenate the buckets in user order, each sorted and cleaned on its own."""
    user = np.empty(n_rows, dtype=np.int64)
    item = np.empty(n_rows, dtype=np.int64)
    time = np.empty(n_rows, dtype=np.int64)
    event = np.empty(n_rows, dtype=np.int8) if has_event else None
    pos = 0
    for b in range(spill.n_buckets):
        rec = spill.read(b)
        u, t = rec["user"].astype(np.int64), rec["time"]
        order = _order(u, t)
        u, i, t = u[order], rec["item"][order].astype(np.int64), t[order]
        e = rec["event"][order] if has_event else None
        del rec, order
        keep = None
        if dedupe:
            keep = _dedupe_mask(u, i, t, e)
        if keep_last is not None:
            if keep is not None:
                u, i, t = u[keep], i[keep], t[keep]
                e = None if e is None else e[keep]
            keep = _newest(u, keep_last)
        if keep is not None:
            u, i, t = u[keep], i[keep], t[keep]
            e = None if e is None else e[keep]
        end = pos + len(u)
        user[pos:end], item[pos:end], time[pos:end] = u, i, t
        if event is not None:
            event[pos:end] = e
        pos = end
    if pos < n_rows:  # shrink in place; nothing else refers to these arrays yet
        for arr in (user, item, time, event):
            if arr is not None:
                arr.resize(pos, refcheck=False)
    return user, item, time, event
