"""Reader for a dataset folder in the Amazon Beauty layout.

``sequences.txt``: one user a line, ``user_id item_id item_id ...`` in time order.
``items.tsv`` (optional): ``item_id``, optional ``asin``, ``text`` (tab separated, header).
``item_attributes.json`` (optional): ``{"item_id": [attribute_id, ...]}``.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np

from shopaug.data._dataset import Dataset
from shopaug.data._vocab import IdVocab
from shopaug.exceptions import DataError


def read_text(path: Path) -> str:
    """Read a UTF-8 text file, or raise a DataError naming the line with bad bytes."""
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise DataError(
            f"bad encoding: byte 0x{raw[e.start]:02x} at offset {e.start} is not valid UTF-8 "
            "(expected a UTF-8 text file)",
            file=path,
            line=line,
        ) from None


def sort_ids(values: list[str]) -> list[str]:
    """Numeric order when every id is an integer (so Beauty's ids keep their numbers)."""
    if all(v.isdigit() for v in values):
        return sorted(values, key=int)
    return values


def read_sequences_file(path: Path) -> tuple[list[str], list[list[str]]]:
    text = read_text(path)
    users: list[str] = []
    rows: list[list[str]] = []
    seen: dict[str, int] = {}
    lines = text.splitlines()
    for lineno, line in enumerate(lines, start=1):
        tokens = line.split()
        if not tokens:
            continue
        for col, tok in enumerate(tokens):
            if not tok.isdigit():
                field = "user_id" if col == 0 else f"item_id (token {col + 1})"
                raise DataError(
                    f"expected a non-negative integer id, got {tok!r}",
                    file=path,
                    line=lineno,
                    column=field,
                )
        if len(tokens) < 2:
            raise DataError(
                "expected a user id followed by at least one item id",
                file=path,
                line=lineno,
            )
        user = str(int(tokens[0]))
        if user in seen:
            raise DataError(
                f"user {user} appears again (first on line {seen[user]}); "
                "expected one line per user",
                file=path,
                line=lineno,
                column="user_id",
            )
        seen[user] = lineno
        users.append(user)
        rows.append([str(int(t)) for t in tokens[1:]])
    if not users:
        raise DataError("empty file: expected lines 'user_id item_id item_id ...'", file=path)
    return users, rows


def read_items_tsv(path: Path) -> dict[str, str]:
    text = read_text(path)
    reader = csv.reader(text.splitlines(), delimiter="\t", quoting=csv.QUOTE_NONE)
    header = next(reader, None)
    if header is None:
        raise DataError("empty file: expected a header 'item_id<TAB>text'", file=path)
    dup = {h for h in header if header.count(h) > 1}
    if dup:
        raise DataError(f"duplicate header column(s) {sorted(dup)}", file=path, line=1)
    for col in ("item_id", "text"):
        if col not in header:
            raise DataError(
                f"missing column '{col}'; header is {header}, expected 'item_id' and 'text'",
                file=path,
                line=1,
            )
    i_id, i_text = header.index("item_id"), header.index("text")
    out: dict[str, str] = {}
    for lineno, row in enumerate(reader, start=2):
        if not row:
            continue
        if len(row) > len(header):
            raise DataError(
                f"expected {len(header)} tab-separated fields, got {len(row)}",
                file=path,
                line=lineno,
            )
        row = row + [""] * (len(header) - len(row))
        item = row[i_id].strip()
        if not item:
            raise DataError("empty item id", file=path, line=lineno, column="item_id")
        if item.isdigit():
            item = str(int(item))
        out[item] = row[i_text]
    return out


def read_attributes_json(path: Path) -> dict[str, list[int]]:
    text = read_text(path)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise DataError(f"invalid JSON: {e.msg}", file=path, line=e.lineno) from None
    if not isinstance(data, dict):
        raise DataError("expected a JSON object {item_id: [attribute_id, ...]}", file=path)
    out: dict[str, list[int]] = {}
    for key, value in data.items():
        if not isinstance(value, list) or not all(
            isinstance(v, int) and not isinstance(v, bool) for v in value
        ):
            raise DataError(
                f"item {key!r}: expected a list of integer attribute ids, got {value!r}"[:200],
                file=path,
                column=str(key),
            )
        out[str(int(key)) if str(key).isdigit() else str(key)] = value
    return out


def read_folder(path: str | Path, *, name: str | None = None, source: str | None = None) -> Dataset:
    """Read a folder in the Amazon Beauty layout (see module docstring)."""
    folder = Path(path)
    seq_path = folder / "sequences.txt"
    if not seq_path.is_file():
        raise DataError(
            "expected a file 'sequences.txt' (one user a line: user_id item_id ...)",
            file=seq_path,
        )
    users, rows = read_sequences_file(seq_path)
    texts = read_items_tsv(folder / "items.tsv") if (folder / "items.tsv").is_file() else None
    attrs_path = folder / "item_attributes.json"
    attrs = read_attributes_json(attrs_path) if attrs_path.is_file() else None

    item_ids = {i for r in rows for i in r}
    if texts is not None:
        item_ids |= set(texts)  # catalogue items without interactions can still be ranked
    items = IdVocab(sort_ids(sorted(item_ids)), offset=1)
    user_vocab = IdVocab(sort_ids(users))

    lengths = np.array([len(r) for r in rows], dtype=np.int64)
    user = np.repeat(user_vocab.to_internal(users), lengths)
    item = items.to_internal([i for r in rows for i in r])

    item_text = None
    if texts is not None:
        item_text = np.array([""] + [texts.get(e, "") for e in items.external], dtype=object)
    item_attrs = None
    if attrs is not None:
        item_attrs = [np.zeros(0, dtype=np.int64)] + [
            np.asarray(attrs.get(e, []), dtype=np.int64) for e in items.external
        ]
    return Dataset.from_arrays(
        name=name or folder.name,
        source=source or str(folder),
        users=user_vocab,
        items=items,
        user=user,
        item=item,
        item_text=item_text,
        item_attrs=item_attrs,
    )
