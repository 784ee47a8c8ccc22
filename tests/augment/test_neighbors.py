"""Co-occurrence neighbours: by hand, and against a plain Python count."""

from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shopaug.augment import cooccurrence_neighbors
from shopaug.data import Sequences


def test_by_hand():
    s = Sequences.from_lists([[1, 2, 3], [2, 3]])
    # window 1: pairs 1-2 (once), 2-3 (twice); counts 1:1, 2:2, 3:2
    # cosine: 1-2 = 1/sqrt(2), 2-3 = 2/sqrt(4) = 1
    table = cooccurrence_neighbors(s, n_items=4, k=2, window=1)
    assert table.tolist() == [[0, 0], [2, 0], [3, 1], [2, 0], [0, 0]]
    assert table.dtype == np.int64 and table.shape == (5, 2)


def test_window_reaches_further_and_ties_go_to_smaller_ids():
    s = Sequences.from_lists([[5, 1, 2, 3]])
    # window 3: item 5 co-occurs once with 1, 2 and 3, all with count 1: tie -> 1, 2, 3
    table = cooccurrence_neighbors(s, n_items=5, k=3, window=3)
    assert table[5].tolist() == [1, 2, 3]
    assert cooccurrence_neighbors(s, n_items=5, k=3, window=1)[5].tolist() == [1, 0, 0]


def test_no_self_neighbour_and_unseen_items_are_empty():
    s = Sequences.from_lists([[1, 1, 2, 1], [3]])
    table = cooccurrence_neighbors(s, n_items=6, k=4, window=2)
    assert 1 not in table[1] and 2 not in table[2]
    assert (table[3] == 0).all()  # seen, but never next to another item
    assert (table[4:] == 0).all() and (table[0] == 0).all()


def test_bad_arguments():
    s = Sequences.from_lists([[1, 2]])
    with pytest.raises(ValueError):
        cooccurrence_neighbors(s, n_items=2, k=0)
    with pytest.raises(ValueError, match=r"1\.\.1"):
        cooccurrence_neighbors(s, n_items=1)


@settings(max_examples=40, deadline=None)
@given(
    rows=st.lists(st.lists(st.integers(1, 8), max_size=8), max_size=6),
    k=st.integers(1, 4),
    window=st.integers(1, 3),
)
def test_matches_python(rows, k, window):
    n_items = 8
    pairs = Counter()
    for row in rows:
        for i, a in enumerate(row):
            for j in range(i + 1, min(len(row), i + window + 1)):
                if a != row[j]:
                    pairs[a, row[j]] += 1
                    pairs[row[j], a] += 1
    counts = Counter(x for row in rows for x in row)
    expected = np.zeros((n_items + 1, k), dtype=np.int64)
    for a in range(1, n_items + 1):
        sims = [(-c / np.sqrt(counts[a] * counts[b]), b) for (x, b), c in pairs.items() if x == a]
        best = [b for _, b in sorted(sims)[:k]]
        expected[a, : len(best)] = best
    got = cooccurrence_neighbors(Sequences.from_lists(rows), n_items, k=k, window=window)
    np.testing.assert_array_equal(got, expected)
