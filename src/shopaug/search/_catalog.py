"""Product catalogues and graded relevance judgments for product search.

Files are CSV (``.csv``: comma-separated, fields may be quoted), TSV (``.tsv`` or ``.txt``:
tab-separated with no quoting, so a title may hold ``"`` as in ``1/2 in. "``) or Parquet
(``.parquet``, ``.pq``). Ids are always read as strings (``"007"`` stays ``"007"``); text
fields are stripped of surrounding whitespace. Unknown columns are ignored.

Every problem is a :class:`~shopaug.exceptions.DataError` naming the file, the line (the
header is line 1; Parquet files have no lines, so the message names the 1-based row) and
the column. Checks are vectorized; when a file has several problems the one in the
earliest row is reported.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

from shopaug.data._log import _first, _Problems, _Where, dispatch
from shopaug.exceptions import DataError

#: Text file suffixes and their delimiters; ``.txt`` files are read as TSV.
DELIMITERS = {".csv": ",", ".tsv": "\t", ".txt": "\t"}

#: Canonical column -> header names accepted for it; the canonical name wins if both occur.
_CATALOG_COLUMNS = {
    "product_id": ("product_id", "item_id"),
    "title": ("title", "text"),
    "description": ("description",),
    "brand": ("brand",),
    "category": ("category",),
}
_JUDGMENT_COLUMNS = {
    "query": ("query",),
    "product_id": ("product_id", "item_id"),
    "relevance": ("relevance",),
}

# A plain decimal or scientific number; "nan", "inf" and hex are refused on purpose.
_NUMBER = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$"
# Undecodable bytes survive a "surrogateescape" decode as lone surrogates.
_ESCAPED = re.compile("[\udc80-\udcff]")
#: Separator between the fields that :meth:`Catalog.texts` joins.
TEXT_SEPARATOR = " | "


@dataclass(frozen=True)
class Catalog:
    """Products that search can return, in file order.

    Attributes:
        ids: external product ids (object array of ``str``), unique.
        titles: one title per product (may be empty only when the description is not).
        descriptions: one description per product, or None when the file has none.
        brands: one brand per product (may be empty), or None.
        categories: one category per product (may be empty), or None.
        source: the file the catalogue was read from.
    """

    ids: np.ndarray
    titles: list[str]
    descriptions: list[str] | None = None
    brands: list[str] | None = None
    categories: list[str] | None = None
    source: str = ""

    def __post_init__(self) -> None:
        n = len(self.ids)
        for name in ("titles", "descriptions", "brands", "categories"):
            values = getattr(self, name)
            if values is not None and len(values) != n:
                raise ValueError(f"{name} has {len(values)} entries for {n} ids")

    def __len__(self) -> int:
        return len(self.ids)

    @cached_property
    def _id_set(self) -> pa.Array:
        # Built once: converting tens of thousands of Python strings is the slow part.
        return pa.array(self.ids.tolist(), pa.string())

    def texts(self, description_words: int = 64) -> list[str]:
        """One text per product for lexical or dense indexing.

        The parts are the title; the brand, unless empty or already in the title (case
        ignored); the category, unless empty; and the first ``description_words`` words
        of the description (none when 0). Empty parts are left out and the rest are
        joined with ``" | "``, which tokenizers drop and which cannot be mistaken for the
        abbreviation dots that titles are full of (``"1/2 in."``).

        Args:
            description_words: how many whitespace-separated description words to keep.
        """
        n = len(self)
        brands = self.brands or [""] * n
        categories = self.categories or [""] * n
        descriptions = self.descriptions if description_words > 0 else None
        descriptions = descriptions or [""] * n
        out = []
        for title, brand, category, description in zip(
            self.titles, brands, categories, descriptions, strict=True
        ):
            if brand and brand.lower() in title.lower():
                brand = ""
            words = " ".join(description.split()[:description_words])
            out.append(TEXT_SEPARATOR.join(p for p in (title, brand, category, words) if p))
        return out

    def index_of(self, ids: Sequence[str] | np.ndarray) -> np.ndarray:
        """Positions of ``ids`` in the catalogue (int64), -1 for ids it does not hold."""
        values = ids.tolist() if isinstance(ids, np.ndarray) else list(ids)
        found = pc.index_in(pa.array(values, pa.string()), value_set=self._id_set)
        return found.fill_null(-1).to_numpy().astype(np.int64)

    def subset(self, positions: Sequence[int] | np.ndarray) -> Catalog:
        """The products at ``positions`` (integer positions or a boolean mask), in that order."""
        pos = np.asarray(positions)
        if pos.dtype == bool:
            pos = np.flatnonzero(pos)
        pos = pos.astype(np.int64, copy=False)

        def pick(values: list[str] | None) -> list[str] | None:
            return None if values is None else [values[i] for i in pos]

        return Catalog(
            ids=self.ids[pos],
            titles=[self.titles[i] for i in pos],
            descriptions=pick(self.descriptions),
            brands=pick(self.brands),
            categories=pick(self.categories),
            source=self.source,
        )


@dataclass(frozen=True)
class Judgments:
    """Graded relevance of (query, product) pairs, one row per pair.

    Attributes:
        query: query strings (object array), stripped, case kept.
        product_id: external product ids (object array of ``str``).
        relevance: grades (float64) on any numeric scale; larger is more relevant.
        source: the file the judgments were read from.
    """

    query: np.ndarray
    product_id: np.ndarray
    relevance: np.ndarray
    source: str = ""

    def __post_init__(self) -> None:
        n = len(self.query)
        if len(self.product_id) != n or len(self.relevance) != n:
            raise ValueError(
                f"query, product_id and relevance lengths differ: "
                f"{n}, {len(self.product_id)}, {len(self.relevance)}"
            )

    def __len__(self) -> int:
        return len(self.query)

    def queries(self) -> list[str]:
        """Distinct queries in first-seen order."""
        return list(dict.fromkeys(self.query.tolist()))

    def select(self, queries: Collection[str]) -> Judgments:
        """The rows whose query is in ``queries``, in their original order."""
        values = queries.tolist() if isinstance(queries, np.ndarray) else list(queries)
        keep = pc.is_in(
            pa.array(self.query.tolist(), pa.string()),
            value_set=pa.array(values, pa.string()),
        )
        return self._rows(np.asarray(keep, dtype=bool))

    def split(self, frac: float, seed: int) -> tuple[Judgments, Judgments]:
        """Split by query into (rest, held-out); no query lands in both.

        The held-out part gets ``round(frac * n_queries)`` queries drawn with
        ``np.random.default_rng(seed)`` from the sorted distinct queries, so the result
        depends only on the set of queries and the seed, not on the row order.

        Args:
            frac: share of queries to hold out, in [0, 1].
            seed: seed of the random generator.
        """
        if not 0.0 <= frac <= 1.0:
            raise ValueError(f"frac must be in [0, 1], got {frac}")
        queries = np.array(sorted(self.queries()), dtype=object)
        rng = np.random.default_rng(seed)
        held = queries[rng.permutation(len(queries))[: round(frac * len(queries))]]
        mask = np.asarray(
            pc.is_in(
                pa.array(self.query.tolist(), pa.string()),
                value_set=pa.array(held.tolist(), pa.string()),
            ),
            dtype=bool,
        )
        return self._rows(~mask), self._rows(mask)

    def _rows(self, mask: np.ndarray) -> Judgments:
        return Judgments(
            query=self.query[mask],
            product_id=self.product_id[mask],
            relevance=self.relevance[mask],
            source=self.source,
        )


def read_catalog(path: str | Path) -> Catalog:
    """Read a product catalogue (``.csv``, ``.tsv``/``.txt``, ``.parquet``/``.pq``).

    Args:
        path: a file with columns ``product_id`` (or ``item_id``) and ``title`` (or
            ``text``), and optionally ``description``, ``brand`` and ``category``.

    Raises:
        DataError: naming the file, line (or Parquet row) and column, for a missing or
            empty file, a missing or repeated header column, rows with the wrong number
            of fields, bytes that are not UTF-8, or an empty or repeated ``product_id``
            (both lines are named). A product with no text at all is kept.
    """
    path = Path(path)
    expected = "columns product_id and title (optionally description, brand, category)"
    cols, names, where = _read_table(path, _CATALOG_COLUMNS, ("product_id", "title"), expected)
    problems = _Problems(where)
    ids = _ids(cols["product_id"], names["product_id"], where, problems)
    _check_unique(pc.dictionary_encode(ids).indices, ids, names["product_id"], where, problems)

    text = {c: _strings(cols[c], names[c], where) for c in cols if c != "product_id"}
    # a product without any text is kept (new products often lack titles): it cannot match a
    # query, but its id stays valid for judgments and personalised re-ranking
    problems.raise_first()

    def optional(column: str) -> list[str] | None:
        return text[column].to_pylist() if column in text else None

    return Catalog(
        ids=ids.to_numpy(zero_copy_only=False).astype(object),
        titles=text["title"].to_pylist(),
        descriptions=optional("description"),
        brands=optional("brand"),
        categories=optional("category"),
        source=str(path),
    )


def read_judgments(path: str | Path) -> Judgments:
    """Read relevance judgments (``.csv``, ``.tsv``/``.txt``, ``.parquet``/``.pq``).

    Args:
        path: a file with columns ``query``, ``product_id`` (or ``item_id``) and
            ``relevance`` (integers or floats on any scale; larger is more relevant).

    Raises:
        DataError: naming the file, line (or Parquet row) and column, for a missing or
            empty file, missing columns, rows with the wrong number of fields, bytes that
            are not UTF-8, an empty query or product id, a relevance that is not a finite
            number (the value is shown), or a repeated (query, product_id) pair (both
            lines are named).
    """
    path = Path(path)
    required = ("query", "product_id", "relevance")
    expected = "columns query, product_id and relevance"
    cols, names, where = _read_table(path, _JUDGMENT_COLUMNS, required, expected)
    problems = _Problems(where)
    query = _strings(cols["query"], names["query"], where)
    problems.add(
        _first(pc.equal(pc.utf8_length(query), 0)), names["query"], "empty query; expected text"
    )
    ids = _ids(cols["product_id"], names["product_id"], where, problems)
    relevance = _relevance(cols["relevance"], names["relevance"], where, problems)

    # One int64 key per pair: query code * number of distinct ids + id code.
    q = pc.dictionary_encode(query).indices.to_numpy().astype(np.int64)
    encoded = pc.dictionary_encode(ids)
    key = q * len(encoded.dictionary) + encoded.indices.to_numpy()
    dup = _first_duplicate(key)
    if dup is not None:
        row, earlier = dup
        pair = (query[row].as_py(), ids[row].as_py())
        problems.add(
            row,
            names["product_id"],
            f"duplicate (query, product_id) pair {pair!r}, first on {_place(where, earlier)}; "
            "expected one judgment per pair",
        )
    problems.raise_first()
    return Judgments(
        query=query.to_numpy(zero_copy_only=False).astype(object),
        product_id=ids.to_numpy(zero_copy_only=False).astype(object),
        relevance=relevance,
        source=str(path),
    )


# --- reading ---------------------------------------------------------------------------


def _read_table(
    path: Path,
    columns: dict[str, tuple[str, ...]],
    required: tuple[str, ...],
    expected: str,
) -> tuple[dict[str, pa.Array], dict[str, str], _Where]:
    """Wanted columns by canonical name, the header name each was found under, locator."""
    return dispatch(
        path, expected, DELIMITERS,
        lambda delim: _read_text_table(path, delim, columns, required, expected),
        lambda: _read_parquet(path, columns, required, expected),
    )


def _resolve(
    header: list[str],
    columns: dict[str, tuple[str, ...]],
    required: tuple[str, ...],
    expected: str,
    where: _Where,
) -> dict[str, str]:
    """Canonical column -> header name, checking repeats and required columns."""
    dup = sorted({h for h in header if h and header.count(h) > 1})
    if dup:
        raise where.error(
            f"duplicate header column(s) {dup}; expected each column once",
            header=True,
            column=dup[0],
        )
    names = {}
    for canonical, aliases in columns.items():
        found = next((a for a in aliases if a in header), None)
        if found is not None:
            names[canonical] = found
        elif canonical in required:
            alias = f" (or {' or '.join(aliases[1:])!r})" if len(aliases) > 1 else ""
            raise where.error(
                f"missing column {canonical!r}{alias}; found columns {header}, expected {expected}",
                header=True,
                column=canonical,
            )
    return names


def _read_text_table(
    path: Path,
    delimiter: str,
    columns: dict[str, tuple[str, ...]],
    required: tuple[str, ...],
    expected: str,
) -> tuple[dict[str, pa.Array], dict[str, str], _Where]:
    text = _decode(path, delimiter)
    where = _Where(path, text, delimiter)
    first = next(where.records(), None)
    if first is None:
        raise DataError(
            f"empty file; expected a header line naming {expected}",
            file=path,
            line=1,
            column=required[0],
        )
    raw = first[1]
    header = [h.strip() for h in raw]
    names = _resolve(header, columns, required, expected, where)
    written = {c: raw[header.index(n)] for c, n in names.items()}  # as in the file
    quoted = delimiter == ","
    parse = pcsv.ParseOptions(
        delimiter=delimiter, quote_char='"' if quoted else False, newlines_in_values=quoted
    )
    convert = pcsv.ConvertOptions(
        column_types={w: pa.string() for w in written.values()},  # ids stay strings
        include_columns=list(written.values()),
    )
    try:
        table = pcsv.read_csv(
            pa.BufferReader(text.encode("utf-8")), parse_options=parse, convert_options=convert
        )
    except pa.ArrowInvalid as e:
        raise _field_count_error(header, where, e) from None
    if table.num_rows == 0:
        raise where.error(
            f"no data rows after the header; expected rows with {expected}",
            row=0,
            column=names[required[0]],
        )
    return {c: table[w].combine_chunks() for c, w in written.items()}, names, where


def _read_parquet(
    path: Path,
    columns: dict[str, tuple[str, ...]],
    required: tuple[str, ...],
    expected: str,
) -> tuple[dict[str, pa.Array], dict[str, str], _Where]:
    where = _Where(path)
    try:
        schema = pq.read_schema(path)
    except (pa.ArrowInvalid, OSError) as e:
        raise where.error(f"not a readable Parquet file ({e}); expected {expected}") from None
    names = _resolve(list(schema.names), columns, required, expected, where)
    try:
        table = pq.read_table(path, columns=list(names.values()))
    except (pa.ArrowInvalid, OSError) as e:
        raise where.error(f"cannot read the Parquet file: {e}") from None
    if table.num_rows == 0:
        raise where.error(f"no rows; expected rows with {expected}", column=names[required[0]])
    return {c: table[n].combine_chunks() for c, n in names.items()}, names, where


def _decode(path: Path, delimiter: str) -> str:
    """The file as UTF-8 text; bad bytes are reported with their line and column."""
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as e:
        start = e.start
    # Error path only: parse the escaped text to learn which field holds the bad byte.
    text = raw.decode("utf-8", errors="surrogateescape").removeprefix("\ufeff")
    column = None
    records = _Where(path, text, delimiter).records()
    header = next(records, (1, []))[1]
    for _, fields in records:
        bad = next((i for i, f in enumerate(fields) if _ESCAPED.search(f)), None)
        if bad is not None:
            column = header[bad].strip() if bad < len(header) else None
            break
    raise DataError(
        f"bad encoding: byte 0x{raw[start]:02x} is not valid UTF-8; "
        "expected a UTF-8 text file (re-save it as UTF-8)",
        file=path,
        line=raw[:start].count(b"\n") + 1,
        column=column,
    )


def _field_count_error(header: list[str], where: _Where, err: Exception) -> DataError:
    """The first row whose field count differs from the header's (error path only)."""
    kind = "tab-separated" if where.delimiter == "\t" else "comma-separated"
    records = where.records()
    next(records)  # the header
    for line, fields in records:
        n = len(fields)
        if n < len(header):
            column, detail = header[n], f"field {header[n]!r} and any after it are missing"
        elif n > len(header):
            column, detail = header[-1], f"{n - len(header)} extra field(s) after {header[-1]!r}"
        else:
            continue
        if where.delimiter == "\t" and n > len(header):
            detail += " (a tab inside a text field?)"
        return DataError(
            f"expected {len(header)} {kind} fields as in the header, got {n}: {detail}",
            file=where.path,
            line=line,
            column=column,
        )
    return DataError(f"cannot parse the file: {err}", file=where.path)


# --- columns ---------------------------------------------------------------------------


def _strings(arr: pa.Array, column: str, where: _Where, *, ints: bool = False) -> pa.Array:
    """Stripped strings, nulls as ""; integer columns too when ``ints`` (Parquet ids)."""
    t = arr.type
    if pa.types.is_dictionary(t):
        arr, t = arr.dictionary_decode(), t.value_type
    ok = pa.types.is_string(t) or pa.types.is_large_string(t)
    if not ok and not (ints and pa.types.is_integer(t)):
        wanted = "strings or integers" if ints else "strings"
        raise where.error(f"wrong type {t}; expected {wanted}", column=column)
    return pc.utf8_trim_whitespace(pc.cast(arr, pa.string()).fill_null(""))


def _ids(arr: pa.Array, column: str, where: _Where, problems: _Problems) -> pa.Array:
    ids = _strings(arr, column, where, ints=True)
    problems.add(
        _first(pc.equal(pc.utf8_length(ids), 0)), column, "empty product_id; expected an id"
    )
    return ids


def _relevance(arr: pa.Array, column: str, where: _Where, problems: _Problems) -> np.ndarray:
    """Grades as float64; the first value that is not a finite number is a problem."""
    expected = "expected a finite number such as 2 or 2.5"
    t = arr.type
    if pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t):
        problems.add(_first(arr.is_null()), column, f"missing relevance (null); {expected}")
        values = pc.cast(arr, pa.float64()).fill_null(0.0).to_numpy(zero_copy_only=False)
        text = None
    elif pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_dictionary(t):
        text = _strings(arr, column, where)
        numeric = pc.match_substring_regex(text, _NUMBER)
        bad = _first(pc.invert(numeric))
        if bad is not None:
            value = text[bad].as_py()
            problems.add(bad, column, f"relevance {value!r} is not a finite number; {expected}")
        values = pc.cast(pc.if_else(numeric, text, "0"), pa.float64()).to_numpy()
    else:
        raise where.error(f"wrong type {t}; {expected}", column=column)
    bad = _first(~np.isfinite(values))
    if bad is not None:  # NaN in Parquet, or an overflow such as 1e999 in text
        value = text[bad].as_py() if text is not None else float(values[bad])
        problems.add(bad, column, f"relevance {value!r} is not a finite number; {expected}")
    return values.astype(np.float64)


def _first_duplicate(key: np.ndarray) -> tuple[int, int] | None:
    """Earliest row whose key occurred on an earlier row, and that earlier row."""
    _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    earlier = first[inverse]
    row = _first(earlier != np.arange(len(key)))
    return None if row is None else (row, int(earlier[row]))


def _check_unique(
    codes: pa.Array, ids: pa.Array, column: str, where: _Where, problems: _Problems
) -> None:
    dup = _first_duplicate(codes.to_numpy())
    if dup is not None:
        row, earlier = dup
        problems.add(
            row,
            column,
            f"duplicate {column} {ids[row].as_py()!r}, first on {_place(where, earlier)}; "
            "expected one row per product",
        )


def _place(where: _Where, row: int) -> str:
    """How a message names a data row: its line in text files, its row in Parquet."""
    if where.text is None:
        return f"row {row + 1}"
    return f"line {where.lines()[row + 1]}"
