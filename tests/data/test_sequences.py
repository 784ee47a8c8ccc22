"""Sequences (CSR rows of item ids) and IdVocab, checked by hand."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from shopaug.data import IdVocab, Sequences

ROWS = [[1, 2, 3], [], [4], [5, 6, 7, 8]]


def test_rows_and_lengths():
    s = Sequences.from_lists(ROWS)
    assert len(s) == 4 and s.lengths.tolist() == [3, 0, 1, 4]
    assert s[3].tolist() == [5, 6, 7, 8]
    sub = s.rows(np.array([3, 0]))
    assert [r.tolist() for r in sub] == [[5, 6, 7, 8], [1, 2, 3]]


def test_padded_left_keeps_newest():
    s = Sequences.from_lists(ROWS)
    assert s.padded(3).tolist() == [[1, 2, 3], [0, 0, 0], [0, 0, 4], [6, 7, 8]]


def test_drop_last_and_append_are_inverse():
    s = Sequences.from_lists([[1, 2, 3], [4, 5], [6, 7, 8, 9]])
    head, tail = s.drop_last(1)
    assert [r.tolist() for r in head] == [[1, 2], [4], [6, 7, 8]]
    assert tail[:, 0].tolist() == [3, 5, 9]
    assert head.append(tail[:, 0]) == s
    with pytest.raises(ValueError, match="at least"):
        s.drop_last(3)


def test_operations_do_not_modify_input():
    s = Sequences.from_lists(ROWS)
    before = s.items.copy()
    s.padded(2)
    s.rows(np.array([0, 3]))
    s.append(np.array([9, 9, 9, 9]))
    np.testing.assert_array_equal(s.items, before)


@given(st.lists(st.lists(st.integers(1, 50), max_size=12), min_size=1, max_size=20),
       st.integers(1, 15))
def test_padded_matches_python(rows, width):
    s = Sequences.from_lists(rows)
    expected = [[0] * (width - len(r[-width:])) + r[-width:] for r in rows]
    assert s.padded(width).tolist() == expected


def test_vocab_roundtrip_and_errors():
    v = IdVocab(["a", "b", "c"], offset=1)
    assert v.to_internal(["c", "a"]).tolist() == [3, 1]
    assert v.to_external([1, 2]).tolist() == ["a", "b"]
    assert v.get("zz") is None and "b" in v
    with pytest.raises(KeyError, match="zz"):
        v.to_internal(["zz"])
    with pytest.raises(KeyError):
        v.to_external([0])
    with pytest.raises(ValueError, match="unique"):
        IdVocab(["a", "a"])


def test_concat_and_keep_by_hand():
    a = Sequences.from_lists([[1, 2], [3]])
    b = Sequences.from_lists([[], [4, 5, 6]])
    both = Sequences.concat([a, b])
    assert [list(r) for r in both] == [[1, 2], [3], [], [4, 5, 6]]
    assert len(Sequences.concat([])) == 0
    kept = both.keep(both.items % 2 == 0)
    assert [list(r) for r in kept] == [[2], [], [], [4, 6]]


def test_rows_in_by_hand():
    a = Sequences.from_lists([[1, 2], [], [2, 1], [3], [1, 2, 3]])
    b = Sequences.from_lists([[1, 2], [], [3], [1, 2, 4]])
    # exact, ordered, non-empty matches only: [] never counts as a copy
    np.testing.assert_array_equal(a.rows_in(b), [True, False, False, True, False])
    assert not Sequences.from_lists([]).rows_in(b).size
