"""Reader for interaction logs (CSV, TSV or Parquet) and optional item catalogues.

Log columns: ``user_id``, ``item_id``, ``timestamp`` and optionally ``event`` (one of
``EVENT_TYPES``); catalogue columns: ``item_id`` and ``text`` or ``title``. Other columns
are ignored. Checks are vectorized; the error reported is the one in the earliest row.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

from shopaug.columns import EVENT_TYPES, Columns
from shopaug.data import _clean
from shopaug.data._dataset import Dataset
from shopaug.data._folder import read_text, sort_ids
from shopaug.data._vocab import IdVocab
from shopaug.exceptions import DataError

CSV_SUFFIXES = {".csv": ",", ".tsv": "\t"}
_T = TypeVar("_T")
PARQUET_SUFFIXES = (".parquet", ".pq")

# Unix seconds need at most 18 digits to stay inside int64 after any arithmetic we do.
_INT = r"^\d{1,18}$"
_ZONED = r"[T ]\d{2}.*(Z|[+-]\d{2}:?\d{2})$"
_ISO_HINT = "unix seconds or an ISO-8601 date/datetime such as 2020-01-31T12:00:00"
_TIME_TYPES = "integers (unix seconds), timestamps, dates or ISO-8601 strings"


class _Where:
    """Turns row indices of a table read from ``path`` into DataError locations.

    CSV rows map to the 1-based line they start on, found by re-reading the text with the
    csv module (blank lines and quoted newlines shift them) only when an error needs it;
    Parquet rows have no lines and are named as ``row N`` (1-based) in the message.
    """

    def __init__(self, path: Path, text: str | None = None, delimiter: str = ",") -> None:
        self.path = path
        self.text = text
        self.delimiter = delimiter
        self._lines: list[int] | None = None

    def _rows(self) -> Iterator[str]:
        assert self.text is not None
        return io.StringIO(self.text, newline="")

    def records(self) -> Iterator[tuple[int, list[str]]]:
        """Start line and fields of each non-blank record: the header, then one per row."""
        quoting = csv.QUOTE_MINIMAL if self.delimiter == "," else csv.QUOTE_NONE
        reader = csv.reader(self._rows(), delimiter=self.delimiter, quoting=quoting)
        start = 1
        for fields in reader:
            if fields:
                yield start, fields
            start = reader.line_num + 1

    def lines(self) -> list[int]:
        if self._lines is None:
            self._lines = [start for start, _ in self.records()]
        return self._lines

    def error(
        self,
        message: str,
        *,
        row: int | None = None,
        column: str | None = None,
        header: bool = False,
    ) -> DataError:
        if self.text is None:
            if row is not None:
                message = f"row {row + 1}: {message}"
            return DataError(message, file=self.path, column=column)
        line = None
        if header:
            line = self.lines()[0]
        elif row is not None:
            lines = self.lines()
            line = lines[row + 1] if row + 1 < len(lines) else row + 2
        return DataError(message, file=self.path, line=line, column=column)


def _read_csv(
    path: Path, delimiter: str, required: list[str], optional: list[str], expected: str
) -> tuple[dict[str, pa.Array], _Where]:
    text = read_text(path).removeprefix("\ufeff")
    where = _Where(path, text, delimiter)
    header, wanted, names = csv_header(where, required, optional, expected)
    quoted = delimiter == ","  # TSV files have no quoting, as in the Beauty layout
    parse = pcsv.ParseOptions(
        delimiter=delimiter, quote_char='"' if quoted else False, newlines_in_values=quoted
    )
    convert = pcsv.ConvertOptions(
        column_types={names[c]: pa.string() for c in wanted},
        include_columns=[names[c] for c in wanted],
    )
    try:
        table = pcsv.read_csv(
            pa.BufferReader(text.encode("utf-8")),
            parse_options=parse,
            convert_options=convert,
        )
    except pa.ArrowInvalid as e:
        raise _locate_parse_error(len(header), where, e) from None
    if table.num_rows == 0:
        raise where.error(
            f"no rows: the file has a header but no data; expected data rows with {expected}",
            row=0,
        )
    return {c: table[names[c]].combine_chunks() for c in wanted}, where


def csv_header(
    where: _Where, required: list[str], optional: list[str], expected: str
) -> tuple[list[str], list[str], dict[str, str]]:
    """The checked header of a CSV/TSV file: its stripped names, the wanted columns present
    (required first) and each wanted column's name as written."""
    first = next(where.records(), None)
    if first is None:
        raise where.error(f"empty file: expected a header line naming {expected}")
    raw = first[1]
    header = [h.strip() for h in raw]
    dup = sorted({h for h in header if h and header.count(h) > 1})
    if dup:
        raise where.error(f"duplicate header column(s) {dup}", header=True, column=dup[0])
    _check_columns(header, required, expected, where)
    wanted = [c for c in required + optional if c in header]
    return header, wanted, {c: raw[header.index(c)] for c in wanted}


def _locate_parse_error(n_fields: int, where: _Where, err: Exception) -> DataError:
    """Find the first row with the wrong number of fields (only runs on the error path)."""
    name = "tab-separated" if where.delimiter == "\t" else "comma-separated"
    records = where.records()
    next(records)  # the header
    for line, fields in records:
        if len(fields) != n_fields:
            return DataError(
                f"expected {n_fields} {name} fields (as in the header), got {len(fields)}",
                file=where.path,
                line=line,
            )
    return DataError(f"cannot parse the file: {err}", file=where.path)


def _read_parquet(
    path: Path, required: list[str], optional: list[str], expected: str
) -> tuple[dict[str, pa.Array], _Where]:
    where = _Where(path)
    try:
        schema = pq.read_schema(path)
    except (pa.ArrowInvalid, OSError) as e:
        raise where.error(f"not a readable Parquet file ({e}); expected {expected}") from None
    header = list(schema.names)
    dup = sorted({h for h in header if header.count(h) > 1})
    if dup:
        raise where.error(f"duplicate column(s) {dup}", column=dup[0])
    _check_columns(header, required, expected, where)
    wanted = [c for c in required + optional if c in header]
    try:
        table = pq.read_table(path, columns=wanted)
    except (pa.ArrowInvalid, OSError) as e:
        raise where.error(f"cannot read the Parquet file: {e}") from None
    if table.num_rows == 0:
        raise where.error(f"no rows; expected data rows with {expected}")
    return {c: table[c].combine_chunks() for c in wanted}, where


def _check_columns(header: list[str], required: list[str], expected: str, where: _Where) -> None:
    for col in required:
        if col not in header:
            raise where.error(
                f"missing column '{col}'; header is {header}, expected {expected}",
                header=True,
                column=col,
            )


def dispatch(
    path: Path,
    expected: str,
    delimiters: dict[str, str],
    read_text: Callable[[str], _T],
    read_parquet: Callable[[], _T],
) -> _T:
    """Call the reader for ``path``'s suffix: ``read_text(delimiter)`` or ``read_parquet()``;
    a missing file or an unknown suffix is a DataError naming what was expected."""
    if not path.is_file():
        raise DataError(f"no such file; expected a file with {expected}", file=path)
    suffix = path.suffix.lower()
    if suffix in delimiters:
        return read_text(delimiters[suffix])
    if suffix in PARQUET_SUFFIXES:
        return read_parquet()
    allowed = ", ".join([*delimiters, *PARQUET_SUFFIXES])
    raise DataError(f"unsupported file type {suffix or '(none)'!r}; expected {allowed}", file=path)


def _read(
    path: Path, required: list[str], optional: list[str], expected: str
) -> tuple[dict[str, pa.Array], _Where]:
    return dispatch(
        path, expected, CSV_SUFFIXES,
        lambda delim: _read_csv(path, delim, required, optional, expected),
        lambda: _read_parquet(path, required, optional, expected),
    )


def _first(mask: np.ndarray | pa.Array) -> int | None:
    mask = np.asarray(mask, dtype=bool)
    hits = np.flatnonzero(mask)
    return int(hits[0]) if len(hits) else None


class _Problems:
    """Collects the first bad row of each check; raises the earliest one."""

    def __init__(self, where: _Where) -> None:
        self.where = where
        self.found: list[tuple[int, int, str, str]] = []

    def add(self, row: int | None, column: str, message: str) -> None:
        if row is not None:
            self.found.append((row, len(self.found), column, message))

    def raise_first(self) -> None:
        if self.found:
            row, _, column, message = min(self.found)
            raise self.where.error(message, row=row, column=column)


def _strings(
    arr: pa.Array, column: str, problems: _Problems, expected: str, *, ints: bool = False
) -> pa.Array:
    """Column as trimmed strings; Parquet integer columns too when ``ints`` (ids)."""
    t = arr.type
    if pa.types.is_dictionary(t):
        arr, t = arr.dictionary_decode(), t.value_type
    ok = pa.types.is_string(t) or pa.types.is_large_string(t)
    if not ok and not (ints and pa.types.is_integer(t)):
        raise problems.where.error(f"wrong type {t}: expected {expected}", column=column)
    arr = pc.cast(arr, pa.string())
    problems.add(_first(arr.is_null()), column, "missing value (null)")
    return pc.utf8_trim_whitespace(arr.fill_null(""))


def _ids(arr: pa.Array, column: str, problems: _Problems) -> pa.Array:
    ids = _strings(arr, column, problems, "strings or integers", ints=True)
    problems.add(_first(pc.equal(pc.utf8_length(ids), 0)), column, "empty id")
    return ids


def _first_failure(arr: pa.Array, convert: Callable[[pa.Array], object]) -> int:
    """Index of the first element ``convert`` rejects, by bisection on prefixes."""
    lo, hi = 0, len(arr)  # convert(arr[:lo]) works, convert(arr[:hi]) fails
    while hi - lo > 1:
        mid = (lo + hi) // 2
        try:
            convert(arr[:mid])
            lo = mid
        except pa.ArrowInvalid:
            hi = mid
    return lo


def _iso_seconds(arr: pa.Array, tz: str | None) -> np.ndarray:
    ns = pc.cast(arr, pa.timestamp("ns", tz=tz)).cast(pa.int64())
    return np.floor_divide(ns.to_numpy(zero_copy_only=False), 10**9)


def _times(arr: pa.Array, problems: _Problems) -> np.ndarray:
    """Unix seconds from integers, Parquet timestamps/dates or ISO-8601 strings."""
    col, t = Columns.Time, arr.type
    if pa.types.is_integer(t) or pa.types.is_timestamp(t) or pa.types.is_date(t):
        problems.add(_first(arr.is_null()), col, "missing value (null)")
        arr = arr.fill_null(0)
        if pa.types.is_integer(t):
            out = pc.cast(arr, pa.int64()).to_numpy()
        elif pa.types.is_timestamp(t):
            per_second = {"s": 1, "ms": 10**3, "us": 10**6, "ns": 10**9}[t.unit]
            out = np.floor_divide(arr.cast(pa.int64()).to_numpy(), per_second)
        elif pa.types.is_date32(t):
            out = arr.cast(pa.int32()).to_numpy().astype(np.int64) * 86400
        else:
            out = np.floor_divide(arr.cast(pa.int64()).to_numpy(), 1000)
        problems.add(_first(out < 0), col, f"negative timestamp; expected {_ISO_HINT}")
        return out

    ts = _strings(arr, col, problems, _TIME_TYPES)
    out = np.zeros(len(ts), dtype=np.int64)
    is_int = np.asarray(pc.match_substring_regex(ts, _INT), dtype=bool)
    if is_int.all():
        return pc.cast(ts, pa.int64()).to_numpy()
    problems.add(
        _first(np.asarray(pc.match_substring_regex(ts, r"^-\d+$"), dtype=bool)),
        col,
        f"negative timestamp; expected {_ISO_HINT}",
    )
    problems.add(
        _first(np.asarray(pc.match_substring_regex(ts, r"^\d{19,}$"), dtype=bool)),
        col,
        f"timestamp out of range; expected {_ISO_HINT}",
    )
    idx = np.flatnonzero(is_int)
    out[idx] = pc.cast(ts.take(pa.array(idx)), pa.int64()).to_numpy()

    zoned = np.asarray(pc.match_substring_regex(ts, _ZONED), dtype=bool)
    for tz, mask in ((None, ~is_int & ~zoned), ("UTC", ~is_int & zoned)):
        idx = np.flatnonzero(mask)
        if not len(idx):
            continue
        sub = ts.take(pa.array(idx))
        try:
            out[idx] = _iso_seconds(sub, tz)
        except pa.ArrowInvalid:
            bad = int(idx[_first_failure(sub, lambda a, tz=tz: _iso_seconds(a, tz))])
            value = ts[bad].as_py()
            problems.add(bad, col, f"cannot read timestamp {value!r}: expected {_ISO_HINT}")
            continue
        neg = np.flatnonzero(out[idx] < 0)
        problems.add(
            int(idx[neg[0]]) if len(neg) else None,
            col,
            "negative timestamp (before 1970); expected a date after 1970-01-01",
        )
    return out


def _events(arr: pa.Array, problems: _Problems) -> np.ndarray:
    values = pc.utf8_lower(_strings(arr, Columns.Event, problems, "strings"))
    codes = pc.index_in(values, value_set=pa.array(EVENT_TYPES, pa.string()))
    bad = _first(codes.is_null())
    if bad is not None:
        problems.add(
            bad,
            Columns.Event,
            f"unknown event {values[bad].as_py()!r}; expected one of {', '.join(EVENT_TYPES)}",
        )
    return codes.fill_null(0).to_numpy().astype(np.int8)


def _catalog(path: Path) -> dict[str, str]:
    expected = f"columns '{Columns.Item}' and '{Columns.Text}' or '{Columns.Title}'"
    cols, where = _read(path, [Columns.Item], [Columns.Text, Columns.Title], expected)
    text_col = Columns.Text if Columns.Text in cols else Columns.Title
    if text_col not in cols:
        raise where.error(
            f"missing column '{Columns.Text}' or '{Columns.Title}'; expected {expected}",
            header=True,
            column=Columns.Text,
        )
    problems = _Problems(where)
    ids = _ids(cols[Columns.Item], Columns.Item, problems)
    problems.raise_first()
    text = cols[text_col]
    if pa.types.is_dictionary(text.type):
        text = text.dictionary_decode()
    if not (pa.types.is_string(text.type) or pa.types.is_large_string(text.type)):
        raise where.error(f"wrong type {text.type}: expected strings", column=text_col)
    text = pc.cast(text, pa.string())

    # First row of each id; a row whose id was seen earlier is a duplicate.
    uniq = pc.unique(ids)
    codes = pc.index_in(ids, value_set=uniq).to_numpy()
    first_row = np.full(len(uniq), -1, dtype=np.int64)
    first_row[codes[::-1]] = np.arange(len(codes))[::-1]
    dup = _first(first_row[codes] != np.arange(len(codes)))
    if dup is not None:
        earlier = int(first_row[codes[dup]])
        if where.text is None:
            at = f"row {earlier + 1}"
        else:
            at = f"line {where.lines()[earlier + 1]}"
        raise where.error(
            f"duplicate item id {ids[dup].as_py()!r} (first on {at}); expected one row per item",
            row=dup,
            column=Columns.Item,
        )
    return dict(zip(ids.to_pylist(), text.fill_null("").to_pylist(), strict=True))


def _vocab(values: pa.Array, offset: int) -> IdVocab:
    return IdVocab(sort_ids(sorted(pc.unique(values).to_pylist())), offset=offset)


def _internal(values: pa.Array, vocab: IdVocab) -> np.ndarray:
    value_set = pa.array(vocab.external.tolist(), pa.string())
    return pc.index_in(values, value_set=value_set).to_numpy().astype(np.int64) + vocab.offset


def read_log(
    path: str | Path,
    *,
    catalog: str | Path | None = None,
    dedupe: bool = True,
    kcore: int | None = None,
    name: str | None = None,
) -> Dataset:
    """Read an interaction log (``.csv``, ``.tsv``, ``.parquet`` or ``.pq``).

    Args:
        path: the log, with columns ``user_id``, ``item_id``, ``timestamp`` (unix seconds
            or ISO-8601; naive datetimes are taken as UTC) and optionally ``event``.
        catalog: an item file with ``item_id`` and ``text`` or ``title``; its items are
            added to the item vocabulary even without interactions.
        dedupe: drop exact duplicate rows (see ``shopaug.data.dedupe``).
        kcore: keep the k-core (see ``shopaug.data.kcore``); this also drops catalogue
            items without interactions.
        name: a short name for reports; defaults to the file name without suffix.

    Raises:
        DataError: naming the file, line (or Parquet row), column and what was expected.
    """
    path = Path(path)
    required = [Columns.User, Columns.Item, Columns.Time]
    expected = f"columns {', '.join(required)} (and optionally {Columns.Event})"
    cols, where = _read(path, required, [Columns.Event], expected)
    problems = _Problems(where)
    users = _ids(cols[Columns.User], Columns.User, problems)
    items = _ids(cols[Columns.Item], Columns.Item, problems)
    time = _times(cols[Columns.Time], problems)
    event = _events(cols[Columns.Event], problems) if Columns.Event in cols else None
    problems.raise_first()

    texts = _catalog(Path(catalog)) if catalog is not None else None
    item_values = items if texts is None else pa.concat_arrays([items, pa.array(list(texts))])
    user_vocab, item_vocab = _vocab(users, 0), _vocab(item_values, 1)
    item_text = None
    if texts is not None:
        item_text = np.array([""] + [texts.get(e, "") for e in item_vocab.external], dtype=object)

    ds = Dataset.from_arrays(
        name=name or path.stem,
        source=str(path),
        users=user_vocab,
        items=item_vocab,
        user=_internal(users, user_vocab),
        item=_internal(items, item_vocab),
        time=time,
        event=event,
        item_text=item_text,
    )
    if dedupe:
        ds = _clean.dedupe(ds)
    if kcore is not None:
        ds = _clean.kcore(ds, kcore)
        if ds.n_interactions == 0:
            raise DataError(
                f"no interactions left after {kcore}-core filtering; expected a smaller k",
                file=path,
            )
    return ds
