"""dedupe and kcore on tiny hand-made datasets with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from shopaug.data import Dataset, IdVocab, dedupe, kcore


def build(rows: list[tuple], items: list[str] | None = None, *, events: bool = False) -> Dataset:
    """A Dataset from (user, item, time[, event]) rows; ``items`` adds catalogue items."""
    users = IdVocab(sorted({r[0] for r in rows}))
    item_vocab = IdVocab(sorted({r[1] for r in rows} | set(items or [])), offset=1)
    texts = np.array([""] + [f"text {e}" for e in item_vocab.external], dtype=object)
    attrs = [np.zeros(0, dtype=np.int64)] + [
        np.array([ord(e[0])], dtype=np.int64) for e in item_vocab.external
    ]
    return Dataset.from_arrays(
        name="tiny",
        source="memory",
        users=users,
        items=item_vocab,
        user=users.to_internal([r[0] for r in rows]),
        item=item_vocab.to_internal([r[1] for r in rows]),
        time=np.array([r[2] for r in rows]),
        event=np.array([r[3] for r in rows]) if events else None,
        item_text=texts,
        item_attrs=attrs,
    )


def triples(ds: Dataset) -> list[tuple[str, str, int]]:
    return list(
        zip(
            ds.users.to_external(ds.user).tolist(),
            ds.items.to_external(ds.item).tolist(),
            ds.time.tolist(),
            strict=True,
        )
    )


def test_kcore_cascades() -> None:
    # Round 1 drops items d and e (one interaction each). That leaves u3 and u4 with one
    # interaction each, so round 2 drops them, and with them item c, which had two.
    rows = [
        ("u1", "a", 1), ("u1", "b", 2),
        ("u2", "a", 1), ("u2", "b", 2),
        ("u3", "c", 1), ("u3", "d", 2),
        ("u4", "c", 1), ("u4", "e", 2),
    ]  # fmt: skip
    ds = kcore(build(rows, items=["z"]), 2)
    assert list(ds.users.external) == ["u1", "u2"]
    assert list(ds.items.external) == ["a", "b"]  # catalogue-only z is gone too
    assert triples(ds) == [("u1", "a", 1), ("u1", "b", 2), ("u2", "a", 1), ("u2", "b", 2)]
    assert ds.user.tolist() == [0, 0, 1, 1]
    assert ds.item.tolist() == [1, 2, 1, 2]
    assert ds.has_time


def test_kcore_keeps_side_information_aligned() -> None:
    rows = [("u1", "x", 1), ("u1", "b", 2), ("u2", "x", 3), ("u2", "b", 4), ("u2", "m", 5)]
    ds = kcore(build(rows), 2)
    assert list(ds.items.external) == ["b", "x"]
    for i, ext in enumerate(ds.items.external, start=1):
        assert ds.item_text[i] == f"text {ext}"
        assert ds.item_attrs[i].tolist() == [ord(ext)]
    assert ds.item_text[0] == ""
    assert len(ds.item_text) == len(ds.item_attrs) == ds.n_items + 1


def test_kcore_can_empty_the_dataset() -> None:
    ds = kcore(build([("u1", "a", 1), ("u2", "b", 1)]), 2)
    assert (ds.n_users, ds.n_items, ds.n_interactions) == (0, 0, 0)


def test_kcore_one_keeps_interactions_and_drops_unused_items() -> None:
    base = build([("u1", "a", 1), ("u2", "b", 1)], items=["c"])
    ds = kcore(base, 1)
    assert ds.n_interactions == 2
    assert list(ds.items.external) == ["a", "b"]


def test_kcore_keeps_order_without_timestamps() -> None:
    users, items = IdVocab(["u1", "u2"]), IdVocab(["a", "b", "c"], offset=1)
    ds = Dataset.from_arrays(
        name="t",
        source="m",
        users=users,
        items=items,
        user=np.array([0, 0, 0, 1, 1]),
        item=np.array([3, 1, 2, 3, 1]),
    )
    out = kcore(ds, 2)
    assert not out.has_time
    assert out.items.to_external(out.sequences()[0]).tolist() == ["c", "a"]
    assert out.time.tolist() == [0, 1, 0, 1]


def test_kcore_rejects_k_below_one() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        kcore(build([("u1", "a", 1)]), 0)


def test_dedupe_drops_exact_duplicates_keeping_first() -> None:
    rows = [("u1", "a", 5), ("u1", "b", 5), ("u1", "a", 5), ("u1", "a", 6), ("u2", "a", 5)]
    ds = dedupe(build(rows))
    assert triples(ds) == [("u1", "a", 5), ("u1", "b", 5), ("u1", "a", 6), ("u2", "a", 5)]
    assert list(ds.items.external) == ["a", "b"]


def test_dedupe_keeps_rows_that_differ_in_event() -> None:
    rows = [("u1", "a", 5, 0), ("u1", "a", 5, 3), ("u1", "a", 5, 0)]
    ds = dedupe(build(rows, events=True))
    assert ds.event.tolist() == [0, 3]


def test_dedupe_without_duplicates_is_identity() -> None:
    ds = build([("u1", "a", 1), ("u1", "a", 2)])
    assert dedupe(ds) is ds
