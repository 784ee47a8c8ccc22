"""The functional core: Hypothesis properties of every op, plus hand-checked examples."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shopaug.augment import ops
from shopaug.data import Sequences

SETTINGS = settings(max_examples=60, deadline=None)
TOKEN = 99
OFFSET = 100  # neighbour of item i in FULL_TABLE, and the pool of noise items


@st.composite
def batches(draw, max_rows=6, max_width=10, max_item=30):
    """Left-padded int64 batches (B, L), rows of any length 0..L (B may be 0)."""
    width = draw(st.integers(1, max_width))
    rows = draw(st.lists(st.lists(st.integers(1, max_item), max_size=width), max_size=max_rows))
    out = np.zeros((len(rows), width), dtype=np.int64)
    for r, row in enumerate(rows):
        if row:
            out[r, width - len(row) :] = row
    return out


seeds = st.integers(0, 2**32 - 1)
ratios = st.floats(0.0, 1.0)
pos_ratios = st.floats(0.01, 1.0)

# every item 1..30 has neighbours i + OFFSET (and a second one), so the inserted and
# substituted items are recognisable
FULL_TABLE = np.zeros((OFFSET, 2), dtype=np.int64)
FULL_TABLE[1:31, 0] = np.arange(1, 31) + OFFSET
FULL_TABLE[1:31, 1] = np.arange(1, 31) + 2 * OFFSET
# odd items only have neighbours; the neighbour sits in column 1 (tables need not be packed)
SPARSE_TABLE = np.zeros((OFFSET, 3), dtype=np.int64)
SPARSE_TABLE[1:31:2, 1] = np.arange(1, 31, 2) + OFFSET
POOL = np.arange(OFFSET + 1, OFFSET + 6)


def call(name, batch, rng, ratio):
    return {
        "crop": lambda: ops.crop(batch, rng, max(ratio, 0.01)),
        "mask": lambda: ops.mask(batch, rng, ratio, token=TOKEN),
        "reorder": lambda: ops.reorder(batch, rng, ratio),
        "substitute": lambda: ops.substitute(batch, rng, ratio, FULL_TABLE),
        "substitute_sparse": lambda: ops.substitute(batch, rng, ratio, SPARSE_TABLE),
        "insert": lambda: ops.insert(batch, rng, ratio, FULL_TABLE),
        "insert_sparse": lambda: ops.insert(batch, rng, ratio, SPARSE_TABLE),
        "noise": lambda: ops.noise(batch, rng, ratio, POOL),
        "noise_p": lambda: ops.noise(batch, rng, ratio, POOL, np.full(5, 0.2)),
    }[name]()


OPS = [
    "crop",
    "mask",
    "reorder",
    "substitute",
    "substitute_sparse",
    "insert",
    "insert_sparse",
    "noise",
    "noise_p",
]


def real(row):
    return row[row != 0].tolist()


def assert_left_padded(out):
    assert not ((out[:, :-1] != 0) & (out[:, 1:] == 0)).any(), out


def k_of(ratio, n):
    return int(ops.count(ratio, np.array([n]))[0])


@pytest.mark.parametrize("name", OPS)
@SETTINGS
@given(batch=batches(), seed=seeds, ratio=ratios)
def test_common_contract(name, batch, seed, ratio):
    before = batch.copy()
    out = call(name, batch, np.random.default_rng(seed), ratio)
    np.testing.assert_array_equal(batch, before)  # input untouched
    assert out is not batch and not np.shares_memory(out, batch)
    assert out.shape == batch.shape and out.dtype == batch.dtype
    assert_left_padded(out)
    empty = (batch != 0).sum(1) == 0
    assert (out[empty] == 0).all()  # empty rows stay empty
    again = call(name, batch, np.random.default_rng(seed), ratio)
    np.testing.assert_array_equal(out, again)  # same seed, same output


@SETTINGS
@given(batch=batches(), seed=seeds, ratio=pos_ratios)
def test_crop_keeps_a_contiguous_window(batch, seed, ratio):
    out = ops.crop(batch, np.random.default_rng(seed), ratio)
    for src, got in zip(batch, out, strict=True):
        s, g = real(src), real(got)
        assert len(g) == (max(1, k_of(ratio, len(s))) if s else 0)
        assert any(s[i : i + len(g)] == g for i in range(len(s) - len(g) + 1))


@SETTINGS
@given(batch=batches(), seed=seeds, ratio=ratios)
def test_mask_changes_exactly_k_items_to_the_token(batch, seed, ratio):
    out = ops.mask(batch, np.random.default_rng(seed), ratio, token=TOKEN)
    for src, got in zip(batch, out, strict=True):
        changed = src != got
        assert (got[changed] == TOKEN).all()
        assert changed.sum() == k_of(ratio, (src != 0).sum())
        assert (src[changed] != 0).all()


@SETTINGS
@given(batch=batches(), seed=seeds, ratio=ratios)
def test_reorder_permutes_one_window(batch, seed, ratio):
    out = ops.reorder(batch, np.random.default_rng(seed), ratio)
    for src, got in zip(batch, out, strict=True):
        assert sorted(real(src)) == sorted(real(got))
        assert ((src != 0) == (got != 0)).all()
        diff = np.flatnonzero(src != got)
        if len(diff):
            assert diff[-1] - diff[0] + 1 <= k_of(ratio, (src != 0).sum())
            lo, hi = diff[0], diff[-1] + 1
            assert sorted(src[lo:hi]) == sorted(got[lo:hi])


@SETTINGS
@given(batch=batches(), seed=seeds, ratio=ratios)
def test_substitute_uses_neighbours(batch, seed, ratio):
    for table in (FULL_TABLE, SPARSE_TABLE):
        out = ops.substitute(batch, np.random.default_rng(seed), ratio, table)
        for src, got in zip(batch, out, strict=True):
            changed = np.flatnonzero(src != got)
            assert len(changed) <= k_of(ratio, (src != 0).sum())
            for c in changed:
                assert got[c] in table[src[c]] and got[c] != 0
        if table is FULL_TABLE:  # every item has a neighbour: exactly k changes
            counts = [(s != g).sum() for s, g in zip(batch, out, strict=True)]
            assert counts == [k_of(ratio, (s != 0).sum()) for s in batch]


@SETTINGS
@given(batch=batches(), seed=seeds, ratio=ratios)
def test_insert_grows_rows_and_keeps_the_newest(batch, seed, ratio):
    width = batch.shape[1]
    out = ops.insert(batch, np.random.default_rng(seed), ratio, FULL_TABLE)
    for src, got in zip(batch, out, strict=True):
        s, g = real(src), real(got)
        inserted = k_of(ratio, len(s))
        assert len(g) == min(width, len(s) + inserted)
        # dropping the inserted neighbours (ids > OFFSET) leaves the newest original items
        kept = [x for x in g if x <= OFFSET]
        assert kept == s[len(s) - len(kept) :]
        # each neighbour follows its own item (unless that item fell off the left)
        for i, x in enumerate(g):
            if x > OFFSET and i > 0:
                assert x % OFFSET == g[i - 1]
        assert sum(x > OFFSET for x in g) <= inserted


@SETTINGS
@given(batch=batches(), seed=seeds, ratio=ratios)
def test_insert_skips_items_without_neighbours(batch, seed, ratio):
    out = ops.insert(batch, np.random.default_rng(seed), ratio, SPARSE_TABLE)
    for src, got in zip(batch, out, strict=True):
        s, g = real(src), real(got)
        kept = [x for x in g if x <= OFFSET]
        assert kept == s[len(s) - len(kept) :]
        for i, x in enumerate(g):
            if x > OFFSET and i > 0:
                assert g[i - 1] == x - OFFSET and g[i - 1] % 2 == 1


@SETTINGS
@given(batch=batches(), seed=seeds, ratio=ratios)
def test_noise_draws_from_the_pool(batch, seed, ratio):
    out = ops.noise(batch, np.random.default_rng(seed), ratio, POOL)
    for src, got in zip(batch, out, strict=True):
        changed = src != got
        assert changed.sum() == k_of(ratio, (src != 0).sum())
        assert np.isin(got[changed], POOL).all()


def test_noise_probabilities_are_used():
    batch = np.arange(1, 201).reshape(4, 50)
    out = ops.noise(batch, np.random.default_rng(0), 1.0, np.array([7, 8]), np.array([1.0, 0.0]))
    assert (out == 7).all()
    with pytest.raises(ValueError, match="non-empty"):
        ops.noise(batch, np.random.default_rng(0), 0.5, np.array([], dtype=np.int64))


def test_zero_ratio_is_identity_and_full_crop_too():
    batch = np.array([[0, 0, 1, 2, 3], [4, 5, 6, 7, 8]])
    rng = np.random.default_rng(1)
    for out in (
        ops.mask(batch, rng, 0.0, token=TOKEN),
        ops.reorder(batch, rng, 0.0),
        ops.substitute(batch, rng, 0.0, FULL_TABLE),
        ops.noise(batch, rng, 0.0, POOL),
        ops.insert(batch, rng, 0.0, FULL_TABLE),
        ops.crop(batch, rng, 1.0),
    ):
        np.testing.assert_array_equal(out, batch)


def test_items_outside_the_table_are_kept():
    batch = np.array([[0, 150, 1], [0, 0, 500]])  # ids beyond the table (a mask token)
    out = ops.substitute(batch, np.random.default_rng(0), 1.0, FULL_TABLE)
    assert out[0, 1] == 150 and out[1].tolist() == [0, 0, 500]
    assert out[0, 2] in (1 + OFFSET, 1 + 2 * OFFSET)
    out = ops.insert(batch, np.random.default_rng(0), 1.0, FULL_TABLE)
    assert out[0, :2].tolist() == [150, 1] and out[1].tolist() == [0, 0, 500]
    assert out[0, 2] in (1 + OFFSET, 1 + 2 * OFFSET)


def test_other_integer_dtypes_are_kept():
    batch = np.array([[0, 1, 2, 3]], dtype=np.int32)
    for name in OPS:
        out = call(name, batch, np.random.default_rng(0), 0.5)
        assert out.dtype == np.int32


def test_bad_input_is_rejected():
    with pytest.raises(ValueError, match="2-D integer"):
        ops.crop(np.array([1, 2, 3]), np.random.default_rng(0))
    with pytest.raises(ValueError, match="2-D integer"):
        ops.mask(np.zeros((2, 3)), np.random.default_rng(0), token=1)


# --- hand-checked examples with a scripted random stream -----------------------------------


class ScriptedRNG:
    """Stands in for a Generator: ``random(size)`` returns the next scripted array."""

    def __init__(self, *draws):
        self.draws = [np.asarray(d, dtype=np.float64) for d in draws]

    def random(self, size=None):
        out = self.draws.pop(0)
        return out.reshape(size) if size is not None else out


BATCH = np.array([[0, 0, 1, 2, 3, 4, 5], [0, 0, 0, 0, 7, 8, 9]])


def test_crop_by_hand():
    # n = [5, 3], ratio 0.6 -> m = [3, 1]; starts floor(u * (n - m + 1)) = [1, 2]
    out = ops.crop(BATCH, ScriptedRNG([0.5, 0.99]), 0.6)
    assert out.tolist() == [[0, 0, 0, 0, 2, 3, 4], [0, 0, 0, 0, 0, 0, 9]]


def test_reorder_by_hand():
    # n = [5, 3], ratio 0.6 -> m = [3, 1]; row 0 window starts at its first item: [1, 2, 3];
    # keys [0.9, 0.1, 0.5] sort the window as slots [1, 2, 0] -> [2, 3, 1]; row 1 (m = 1) is
    # a no-op and draws no keys
    out = ops.reorder(BATCH, ScriptedRNG([0.0, 0.5], [[0.9, 0.1, 0.5]]), 0.6)
    assert out.tolist() == [[0, 0, 2, 3, 1, 4, 5], [0, 0, 0, 0, 7, 8, 9]]


def test_insert_by_hand():
    table = np.zeros((10, 2), dtype=np.int64)
    table[1] = [11, 0]
    table[3] = [13, 14]
    batch = np.array([[0, 0, 1, 2, 3], [1, 2, 3, 4, 5]])
    # ratio 1: every item chosen; neighbour draws u = 0.6 pick column floor(0.6 * n_cand):
    # item 1 -> 11, item 3 -> 14
    rng = ScriptedRNG(np.linspace(0, 0.4, 8), np.full(8, 0.6))
    out = ops.insert(batch, rng, 1.0, table)
    # row 0: [1, 11, 2, 3, 14]; row 1: [1, 11, 2, 3, 14, 4, 5] keeps the newest five
    assert out.tolist() == [[1, 11, 2, 3, 14], [2, 3, 14, 4, 5]]


def test_mask_by_hand():
    # ratio 0.4 of n = [5, 3] -> k = [2, 1]; keys rank positions within each row
    rng = ScriptedRNG([0.3, 0.9, 0.1, 0.7, 0.2, 0.8, 0.05, 0.5])
    out = ops.mask(BATCH, rng, 0.4, token=TOKEN)
    # row 0: smallest keys at offsets 2 (0.1) and 4 (0.2); row 1: offset 1 (0.05)
    assert out.tolist() == [[0, 0, 1, 2, TOKEN, 4, TOKEN], [0, 0, 0, 0, 7, TOKEN, 9]]


# --- expansion of sequences -------------------------------------------------------------------

rows_strategy = st.lists(st.lists(st.integers(1, 40), max_size=12), max_size=8)


def pad(row, width):
    row = row[-width:]
    return [0] * (width - len(row)) + row


@SETTINGS
@given(rows=rows_strategy, max_len=st.integers(1, 6), min_len=st.integers(1, 4))
def test_prefixes_match_python(rows, max_len, min_len):
    samples, source, end = ops.prefixes(Sequences.from_lists(rows), max_len, min_len)
    expected = [
        (r, e, pad(row[:e], max_len))
        for r, row in enumerate(rows)
        for e in range(min_len, len(row) + 1)
    ]
    assert source.tolist() == [r for r, _, _ in expected]
    assert end.tolist() == [e for _, e, _ in expected]
    assert samples.tolist() == [s for _, _, s in expected]
    assert samples.shape == (len(expected), max_len) and samples.dtype == np.int64


@SETTINGS
@given(rows=rows_strategy, max_len=st.integers(1, 6), stride=st.integers(1, 4))
def test_windows_match_python(rows, max_len, stride):
    samples, source, end = ops.windows(Sequences.from_lists(rows), max_len, stride)
    expected = []
    for r, row in enumerate(rows):
        if not row:
            continue
        e = len(row)
        while True:
            e_clip = max(e, min(len(row), max_len))
            expected.append((r, e_clip, pad(row[max(0, e_clip - max_len) : e_clip], max_len)))
            if e_clip <= max_len:
                break
            e -= stride
    assert source.tolist() == [r for r, _, _ in expected]
    assert end.tolist() == [e for _, e, _ in expected]
    assert samples.reshape(-1, max_len).tolist() == [s for _, _, s in expected]
    # with stride <= max_len, every item of every row is in some window
    for r, row in enumerate(rows if stride <= max_len else []):
        seen = [x for s, src in zip(samples, source, strict=True) if src == r for x in s if x]
        assert sorted(set(row)) == sorted(set(seen))


def test_prefixes_by_hand():
    s = Sequences.from_lists([[1, 2, 3, 4], [5], [6, 7]])
    samples, source, end = ops.prefixes(s, 3)
    assert samples.tolist() == [[0, 1, 2], [1, 2, 3], [2, 3, 4], [0, 6, 7]]
    assert source.tolist() == [0, 0, 0, 2] and end.tolist() == [2, 3, 4, 2]
    with pytest.raises(ValueError):
        ops.prefixes(s, 3, min_len=0)
