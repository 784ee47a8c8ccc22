"""Synthetic logs: no held-out item is ever generated, determinism, known answers, DP noise
of the stated scale, greedy decoding, folder round trip and provenance."""

import json
import math
import sys
from itertools import pairwise

import numpy as np
import pytest

from shopaug.augment import (
    GENERATORS,
    DPMarkov,
    Markov,
    SASRecSampler,
    TabularSynth,
    item_table,
    synthesize,
    user_table,
    write_synthetic,
)
from shopaug.augment.synthetic import create_generator
from shopaug.data import Sequences, TrainSet, load
from shopaug.evaluation import leave_one_out
from shopaug.exceptions import ConfigError
from shopaug.experiment import fingerprint
from shopaug.testing import planted

TINY_SASREC = {"dim": 16, "epochs": 1, "layers": 1, "heads": 1, "max_len": 10}
# every true count survives the noise and ~1e-9 noise-only cells are expected: a canary in
# the output could only come from a leak, not from the privacy noise
DP_EXACT = {"epsilon": 1e4, "spurious": 1e-9, "max_len": 10}
# 200 users with the same 10-item chain: 9 transition cells of count 200
CHAIN = TrainSet(Sequences.from_lists([list(range(1, 11))] * 200), n_items=10)
CELLS = (np.arange(1, 10), np.arange(2, 11))


@pytest.fixture(scope="module")
def split():
    ds, canaries = planted(n_users=30, n_items=80)
    train = leave_one_out(ds).train
    canary = np.array(sorted(canaries))
    assert not np.isin(train.sequences.items, canary).any()  # held out, yet in the catalogue
    assert canary.max() <= train.n_items
    return ds, train, canary


@pytest.fixture(scope="module")
def sasrec(split):
    return SASRecSampler(model=TINY_SASREC).fit(split[1], rng=0)


def fitted(name, train, sasrec):
    if name == "sasrec":
        return sasrec
    if name == "dp-markov":
        return DPMarkov(**DP_EXACT).fit(train, rng=0)
    return Markov().fit(train)


# --- leakage and determinism -----------------------------------------------------------------


@pytest.mark.parametrize("name", ["markov", "dp-markov", "sasrec"])
def test_no_held_out_item_is_ever_generated(name, split, sasrec):
    _, train, canary = split
    gen = fitted(name, train, sasrec)
    outs = [gen.sample(300, rng=1)]
    if name == "sasrec":  # a flat softmax over the whole catalogue would reach the canaries
        outs.append(gen.sample(300, rng=1, temperature=10.0, top_p=1.0))
    if name == "markov":  # popularity alone
        outs.append(Markov(smoothing=1.0).fit(train).sample(300, rng=1))
    seen = np.flatnonzero(train.item_counts() > 0)
    for out in outs:
        assert len(out) == 300 and out.n_interactions > 600
        assert not np.isin(out.items, canary).any()
        assert np.isin(out.items, seen).all()


def test_dp_counts_come_from_the_training_partition_only(split):
    _, train, canary = split
    gen = DPMarkov(**DP_EXACT).fit(train, rng=0)
    n = train.n_items
    cells = gen.raw_["cells"]
    assert not np.isin(np.concatenate([cells // n + 1, cells % n + 1]), canary).any()
    assert gen.raw_["first_items"][canary - 1].sum() == 0
    assert gen.raw_["transitions"].sum() == train.sequences.n_interactions - train.n_users


@pytest.mark.parametrize("name", ["markov", "dp-markov", "sasrec"])
def test_same_seed_same_output_other_seed_other_output(name, split, sasrec):
    gen = fitted(name, split[1], sasrec)
    a = gen.sample(50, rng=3)
    assert a == gen.sample(50, rng=np.random.default_rng(3))
    assert a != gen.sample(50, rng=4)


def test_fitting_is_deterministic_under_a_seed(split, sasrec):
    train = split[1]
    a = DPMarkov(epsilon=1.0).fit(CHAIN, rng=5).transitions_
    b = DPMarkov(epsilon=1.0).fit(CHAIN, rng=5).transitions_
    c = DPMarkov(epsilon=1.0).fit(CHAIN, rng=6).transitions_
    assert (a != b).nnz == 0 and (a != c).nnz > 0
    again = SASRecSampler(model=TINY_SASREC).fit(train, rng=0)
    assert again.sample(20, rng=1) == sasrec.sample(20, rng=1)


# --- Markov known answers --------------------------------------------------------------------


def test_markov_reproduces_a_deterministic_chain():
    train = TrainSet(Sequences.from_lists([[1, 2, 3, 4]] * 10), n_items=6)
    out = Markov(smoothing=0.0).fit(train).sample(25, rng=0)
    assert out == Sequences.from_lists([[1, 2, 3, 4]] * 25)


def test_markov_step_distributions():
    # 1 -> 2 seven times, 1 -> 3 three times; popularity 1: 10/20, 2: 7/20, 3: 3/20
    train = TrainSet(Sequences.from_lists([[1, 2]] * 7 + [[1, 3]] * 3), n_items=5)
    out = Markov(smoothing=0.0, min_users=1).fit(train).sample(20000, rng=0)
    assert (out.lengths == 2).all() and (out.items[0::2] == 1).all()
    assert (out.items[1::2] == 2).mean() == pytest.approx(0.7, abs=0.02)
    # half popularity: first item 1 w.p. .5 + .5 * .5; then 2 | 1 w.p. .5 * .7 + .5 * .35,
    # and item 2 has no outgoing transition, so 2 | 2 follows popularity alone (.35)
    out = Markov(smoothing=0.5, min_users=1).fit(train).sample(20000, rng=0)
    first, second = out.items[0::2], out.items[1::2]
    assert (first == 1).mean() == pytest.approx(0.75, abs=0.02)
    assert (second[first == 1] == 2).mean() == pytest.approx(0.525, abs=0.02)
    assert (second[first == 2] == 2).mean() == pytest.approx(0.35, abs=0.03)
    assert not np.isin(out.items, [0, 4, 5]).any()  # never padding or an unseen item
    # min_users 4: item 3 (3 rows) is never drawn, as a step or through popularity
    out = Markov(smoothing=0.5, min_users=4).fit(train).sample(20000, rng=0)
    assert set(out.items.tolist()) == {1, 2}
    first, second = out.items[0::2], out.items[1::2]
    # popularity over the allowed items: 1: 10/17, 2: 7/17; 1 -> 2 is the only transition
    assert (first == 1).mean() == pytest.approx(0.5 + 0.5 * 10 / 17, abs=0.02)
    assert (second[first == 1] == 2).mean() == pytest.approx(0.5 + 0.5 * 7 / 17, abs=0.02)
    with pytest.raises(ConfigError, match="min_users"):
        Markov(min_users=0)
    with pytest.raises(ConfigError, match="min_users = 11"):  # item 1 is in 10 rows
        Markov(min_users=11).fit(train)


def test_lengths_follow_training():
    train = TrainSet(Sequences.from_lists([[1, 2]] * 3 + [[3, 1, 2, 3, 1]]), n_items=3)
    out = Markov(min_users=1).fit(train).sample(8000, rng=0)
    assert set(out.lengths.tolist()) == {2, 5}
    assert (out.lengths == 5).mean() == pytest.approx(0.25, abs=0.02)


# --- differential privacy --------------------------------------------------------------------


def released(epsilon, seeds, **kw):
    """The released counts of the 9 chain cells over fits with the given seeds."""
    out = []
    for s in seeds:
        gen = DPMarkov(epsilon=epsilon, max_len=10, **kw).fit(CHAIN, rng=s)
        out.append(gen.transitions_.toarray()[CELLS])
    return np.array(out), gen.accounting()


def test_dp_noise_has_the_stated_scale():
    vals, acc = released(2.0, range(300))
    b = acc["parts"]["transitions"]["noise_scale"]
    assert b == pytest.approx(9 / (2.0 * 0.7))
    noise = vals.ravel() - 200  # far above the threshold: nothing is clipped
    assert noise.std() == pytest.approx(math.sqrt(2) * b, rel=0.1)
    assert abs(noise.mean()) < 1.0
    big, acc_big = released(8.0, range(300))
    assert acc_big["parts"]["transitions"]["noise_scale"] == pytest.approx(b / 4)
    assert (big.ravel() - 200).std() < noise.std() / 3


def test_dp_noise_only_cells_match_spurious():
    # threshold b * ln(100 / 4): each of the 91 zero cells is released w.p. 1/50
    k = []
    for s in range(1000):
        gen = DPMarkov(epsilon=2.0, max_len=10, spurious=2.0).fit(CHAIN, rng=s)
        acc = gen.accounting()["parts"]["transitions"]
        t = gen.transitions_.toarray()[1:, 1:]
        assert (t > 0).sum() == acc["released_cells"]
        off = t.copy()
        off[CELLS[0] - 1, CELLS[1] - 1] = 0  # the chain's own cells
        assert (off[off > 0] > acc["threshold"]).all()
        k.append((off > 0).sum())
    assert acc["noise_only_cells_expected_max"] == pytest.approx(2.0)
    assert np.mean(k) == pytest.approx(91 / 50, abs=0.2)  # standard error 0.04


def test_dp_accounting():
    gen = DPMarkov(epsilon=3.0, max_len=4, split=(1, 1, 2)).fit(CHAIN, rng=0)
    acc = gen.accounting()
    parts = acc["parts"]
    assert acc["mechanism"] == "laplace" and acc["delta"] == 0 and acc["epsilon"] == 3.0
    assert sum(p["epsilon"] for p in parts.values()) == pytest.approx(3.0)
    assert [p["epsilon"] for p in parts.values()] == pytest.approx([0.75, 0.75, 1.5])
    assert [p["sensitivity"] for p in parts.values()] == [1, 1, 3]
    for p in parts.values():
        assert p["noise_scale"] == pytest.approx(p["sensitivity"] / p["epsilon"])
    assert "3-differentially private" in acc["guarantee"] and "first 4 items" in acc["guarantee"]
    # the contribution bound: every user cut to 4 items, so 3 transitions of count 200 each
    assert gen.raw_["transitions"].tolist() == [200, 200, 200]
    assert gen.raw_["lengths"].tolist() == [0, 0, 0, 200]
    bigger = DPMarkov(epsilon=30.0, max_len=4, split=(1, 1, 2)).fit(CHAIN, rng=0).accounting()
    assert all(bigger["parts"][k]["noise_scale"] < parts[k]["noise_scale"] for k in parts)


def test_dp_transition_bound_counts_k_random_pairs_per_user():
    gen = DPMarkov(epsilon=4.0, max_len=10, transitions=2).fit(CHAIN, rng=0)
    acc = gen.accounting()
    assert acc["transitions_per_user"] == 2
    assert acc["parts"]["transitions"]["sensitivity"] == 2
    assert acc["parts"]["transitions"]["noise_scale"] == pytest.approx(2 / (4.0 * 0.7))
    assert "at most 2 (drawn at random)" in acc["guarantee"]
    raw = gen.raw_["transitions"]
    assert raw.sum() == 400  # 2 of the 9 pairs of each of the 200 users
    assert len(raw) == 9 and raw.min() > 20  # the pairs are drawn at random, not the first 2
    assert (gen.raw_["lengths"][-1], gen.raw_["lengths"].sum()) == (200, 200)  # lengths kept
    again = DPMarkov(epsilon=4.0, max_len=10, transitions=2).fit(CHAIN, rng=0)
    assert (again.raw_["transitions"] == raw).all()  # the draw follows the seed
    # a bound at or above max_len - 1 is the default: every pair counts
    full = DPMarkov(epsilon=4.0, max_len=10, transitions=50).fit(CHAIN, rng=0)
    assert full.raw_["transitions"].tolist() == [200] * 9
    assert full.accounting()["parts"]["transitions"]["sensitivity"] == 9


TEXTS = ["", "red matte lipstick", "pink matte lipstick", "garden hose 50 ft",
         "expandable garden water hose", "red matte lipsticks", "vanilla scented candle"]


def test_dp_text_prior_walks_to_text_neighbours_among_released_items():
    # released: 1 -> 3 and 2 -> 4. Item 5 (nearly 1's own text) is never trained on and 6 is
    # seen once, below the release threshold: the prior must reach neither
    rows = [[1, 3]] * 40 + [[2, 4]] * 40 + [[6]]
    train = TrainSet(Sequences.from_lists(rows), n_items=6,
                     item_text=np.array(TEXTS, dtype=object))
    opts = dict(epsilon=50.0, max_len=2, spurious=1e-9, smoothing=0.0)

    def pairs(gen):
        out = gen.sample(400, rng=1)
        assert not np.isin(out.items, [5, 6]).any()
        return {(int(r[0]), int(r[1])) for r in (out[i] for i in range(400)) if len(r) == 2}

    gen = DPMarkov(text_prior=1.0, text_k=1, **opts).fit(train, rng=0)
    assert (gen.popularity_[1:5] > 0).all() and gen.popularity_[[5, 6]].tolist() == [0, 0]
    assert gen.prior_[1:5, 0].tolist() == [2, 1, 4, 3]  # lipstick <-> lipstick, hose <-> hose
    assert pairs(gen) == {(1, 2), (2, 1)}  # every step follows the text prior
    assert "costs nothing" in gen.accounting()["guarantee"]
    assert pairs(DPMarkov(**opts).fit(train, rng=0)) == {(1, 3), (2, 4)}  # transitions only
    assert pairs(DPMarkov(text_prior=0.5, text_k=1, **opts).fit(train, rng=0)) == {
        (1, 2), (2, 1), (1, 3), (2, 4)}


def test_dp_needs_an_explicit_rng_and_a_valid_config():
    with pytest.raises(ValueError, match="rng"):
        DPMarkov().fit(CHAIN)
    for bad in ({"epsilon": 0}, {"max_len": 1}, {"split": (1, 0, 1)}, {"spurious": 0},
                {"transitions": 0}, {"transitions": 1.5}, {"text_prior": 1.5},
                {"text_k": 0}):
        with pytest.raises(ConfigError):
            DPMarkov(**bad)


# --- SASRec sampler --------------------------------------------------------------------------


def test_sasrec_cold_and_narrow_decoding_is_the_argmax_continuation(split, sasrec):
    train = split[1]
    greedy = sasrec.sample(40, rng=2, temperature=0.0)
    assert greedy == sasrec.sample(40, rng=2, temperature=1e-8)
    assert greedy == sasrec.sample(40, rng=2, temperature=1.0, top_p=1e-9)
    assert greedy != sasrec.sample(40, rng=2, temperature=1.0, top_p=1.0)
    # every item after the first is the model's best training item for its prefix
    prefixes = [row[:s] for row in greedy for s in range(1, len(row))]
    targets = [row[s] for row in greedy for s in range(1, len(row))]
    scores = sasrec.model_.score(np.full(len(prefixes), -1), Sequences.from_lists(prefixes))
    # the default min_users (5): only items at least 5 training rows contain are drawn
    rows_per_item = np.bincount(np.concatenate([np.unique(r) for r in train.sequences]),
                                minlength=train.n_items + 1)
    scores[:, rows_per_item < 5] = -np.inf
    assert (rows_per_item[1:] < 5).any() and (rows_per_item[1:] >= 5).sum() > 5
    assert sasrec.exclude_seen_  # "auto": the planted rows never repeat an item
    for r, p in enumerate(prefixes):
        scores[r, p] = -np.inf
    assert len(targets) > 40
    np.testing.assert_array_equal(scores.argmax(1), targets)


class FixedScores:
    """A model that gives every history the same next-item probabilities."""

    n_items_ = 4
    probs = np.array([0.5, 0.3, 0.15, 0.05])

    def score(self, users, histories):
        logits = np.concatenate([[0.0], np.log(self.probs)])  # column 0 (padding) never drawn
        return np.tile(logits, (len(histories), 1)).astype(np.float32)


def test_temperature_and_nucleus_known_answers():
    train = TrainSet(Sequences.from_lists([[1, 2], [3, 4]]), 4)
    gen = SASRecSampler(FixedScores(), exclude_seen=False, min_users=1).fit(train)

    def second(**kw):
        out = gen.sample(20000, rng=0, **kw)
        assert (out.lengths == 2).all()
        return out.items[1::2], out.items[0::2]

    nxt, _ = second(top_p=1.0)
    assert np.bincount(nxt, minlength=5)[1:] / len(nxt) == pytest.approx(FixedScores.probs,
                                                                         abs=0.015)
    nxt, _ = second(top_p=0.75)  # 0.5 < 0.75 <= 0.5 + 0.3: items 1 and 2
    assert set(nxt.tolist()) == {1, 2} and (nxt == 1).mean() == pytest.approx(0.625, abs=0.02)
    nxt, _ = second(top_p=0.5)  # the first item alone reaches 0.5
    assert (nxt == 1).all()
    nxt, _ = second(temperature=2.0, top_p=1.0)  # p ** (1 / 2), renormalised
    flat = np.sqrt(FixedScores.probs) / np.sqrt(FixedScores.probs).sum()
    assert np.bincount(nxt, minlength=5)[1:] / len(nxt) == pytest.approx(flat, abs=0.015)
    once = SASRecSampler(FixedScores(), exclude_seen=True, min_users=1).fit(train)
    pairs = once.sample(5000, rng=0).items.reshape(-1, 2)
    assert (pairs[:, 0] != pairs[:, 1]).all()
    assert (pairs[pairs[:, 0] == 1, 1] == 2).mean() == pytest.approx(0.6, abs=0.03)  # .3 / .5


class FixedProbabilities(FixedScores):
    """The same model scoring with probabilities, as a SASRec ensemble or a SASRec with a
    co-occurrence mixture does."""

    probability_scores = True

    def score(self, users, histories):
        return np.exp(super().score(users, histories)) * (np.arange(5) > 0)


def test_a_model_scoring_probabilities_samples_as_its_logits_do():
    train = TrainSet(Sequences.from_lists([[1, 2], [3, 4]]), 4)
    draws = [SASRecSampler(m(), exclude_seen=False, min_users=1).fit(train)
             .sample(3000, rng=0, top_p=1.0) for m in (FixedScores, FixedProbabilities)]
    assert draws[0] == draws[1]
    nxt = draws[1].items[1::2]
    assert np.bincount(nxt, minlength=5)[1:] / len(nxt) == pytest.approx(FixedScores.probs,
                                                                         abs=0.03)


def test_sasrec_exclude_seen_and_given_model(split, sasrec):
    train = split[1]
    gen = SASRecSampler(sasrec.model_, exclude_seen=True).fit(train)
    out = gen.sample(60, rng=0, temperature=5.0, top_p=1.0)
    assert all(len(set(row.tolist())) == len(row) for row in out)
    other = TrainSet(train.sequences, train.n_items + 1)
    with pytest.raises(ValueError, match="items"):
        SASRecSampler(sasrec.model_).fit(other)
    for bad in ({"top_p": 0}, {"temperature": -1}, {"batch_size": 0}, {"exclude_seen": "x"}):
        with pytest.raises(ConfigError):
            SASRecSampler(**bad)


# --- side tables -----------------------------------------------------------------------------


def test_side_tables_known_answer():
    attrs = [np.zeros(0, np.int64), np.array([5, 6]), np.array([6]), np.zeros(0, np.int64)]
    text = np.array(["", "red nail polish", "lipstick", ""], dtype=object)
    train = TrainSet(Sequences.from_lists([[1, 2, 1], [3], []]), 3, item_text=text,
                     item_attrs=attrs)
    items = item_table(train)
    assert {k: v.tolist() for k, v in items.items()} == {
        "popularity": [2, 1, 1], "n_attrs": [2, 1, 0], "text_words": [3, 1, 0],
        "first_attr": [5, 6, -1]}
    users = user_table(train)
    assert users["seq_len"].tolist() == [3, 1]
    assert users["mean_item_pop"] == pytest.approx([5 / 3, 1.0])
    assert users["n_distinct_attrs"].tolist() == [2, 0]


def test_tabular_synth_samples_the_table_columns():
    pytest.importorskip("ctgan")
    rng = np.random.default_rng(0)
    table = {
        "seq_len": rng.integers(3, 30, 80),
        "mean_item_pop": rng.gamma(2.0, 10.0, 80),
        "first_attr": rng.integers(0, 4, 80),
    }
    for kind in ("tvae", "ctgan"):
        synth = TabularSynth(kind=kind, epochs=2, batch_size=40).fit(table, rng=0)
        df = synth.sample(25, rng=1)
        assert list(df.columns) == list(table) and len(df) == 25
        assert df["seq_len"].between(3, 29).all() and df["seq_len"].dtype == np.int64
        assert set(df["first_attr"]) <= {0, 1, 2, 3}
        assert df.equals(synth.sample(25, rng=1))


def test_tabular_names_the_pip_line_when_ctgan_is_missing(monkeypatch):
    monkeypatch.setitem(sys.modules, "ctgan", None)
    with pytest.raises(ImportError, match=r"pip install ctgan==0\.12\.1"):
        TabularSynth().fit({"a": np.arange(5)}, rng=0)


# --- registry --------------------------------------------------------------------------------


def test_registry_and_config_round_trip():
    assert set(GENERATORS) == {"markov", "dp-markov", "sasrec"}
    for gen in (Markov(smoothing=0.2), DPMarkov(epsilon=2.0, split=[1, 1, 2]),
                SASRecSampler(model={"dim": 8}, top_p=0.5)):
        assert create_generator(**gen.to_config()).to_config() == gen.to_config()
    with pytest.raises(ConfigError):
        Markov(smoothing=1.5)


# --- writing and the pipeline ----------------------------------------------------------------


def test_write_synthetic_reads_back(split, tmp_path):
    ds, train, _ = split
    seqs = Markov().fit(train).sample(12, rng=0)
    members = ds.users.external[:5]
    out = write_synthetic(tmp_path / "syn", seqs, ds, method="markov", seed=7,
                          params={"smoothing": 0.05}, members=members)
    back = load(out)
    np.testing.assert_array_equal(back.items.external, ds.items.external)
    assert back.sequences() == seqs and back.n_users == 12
    meta = json.loads((out / "synthetic.json").read_text())
    assert meta["members"] == [str(m) for m in members]
    assert meta["method"] == "markov" and meta["seed"] == 7 and meta["accounting"] is None
    assert meta["fingerprint"] == fingerprint(ds) and meta["source"] == ds.source


def planted_folder(path, ds):
    path.mkdir()
    seqs = ds.sequences()
    ext = ds.items.external
    (path / "sequences.txt").write_text("".join(
        f"{ds.users.external[u]} {' '.join(ext[row - 1])}\n" for u, row in enumerate(seqs)))
    (path / "items.tsv").write_text("item_id\tasin\ttext\n" + "".join(
        f"{e}\tB{e}\titem number {e}\n" for e in ext))
    (path / "item_attributes.json").write_text(json.dumps({e: [int(e) % 3] for e in ext}))
    return path


def test_synthesize_fits_on_members_training_rows_only(split, tmp_path):
    ds, train, canary = split
    src = planted_folder(tmp_path / "src", ds)
    res = synthesize(src, "markov", out=tmp_path / "m", users=40, seed=3, member_frac=0.5)
    assert res["users"] == 40 and res["members"] == 15 and res["non_members"] == 15
    meta = json.loads((tmp_path / "m" / "synthetic.json").read_text())
    members = ds.users.to_internal(meta["members"])
    member_items = train.sequences.rows(members).items
    back = load(tmp_path / "m")
    np.testing.assert_array_equal(back.items.external, ds.items.external)
    assert np.isin(back.item, member_items).all()  # not even non-members' training items
    copied = {r.tobytes() for r in train.sequences.rows(members)}
    assert not any(r.tobytes() in copied for r in back.sequences())  # copies were redrawn
    assert res["copies_redrawn"]["dropped"] == 0  # redraw_copies is tested by hand below
    assert (tmp_path / "m" / "items.tsv").read_bytes() == (src / "items.tsv").read_bytes()
    assert back.item_attrs is not None
    again = synthesize(src, "markov", out=tmp_path / "m2", users=40, seed=3, member_frac=0.5)
    assert load(tmp_path / "m2").sequences() == back.sequences() and again["members"] == 15

    res = synthesize(src, "dp-markov", out=tmp_path / "dp", seed=3, epsilon=1e4,
                     params={"max_len": 10, "spurious": 1e-9})
    assert res["accounting"]["epsilon"] == 1e4 and res["members"] == 30
    assert res["copies_redrawn"] is None  # a filter would void the DP guarantee
    meta = json.loads((tmp_path / "dp" / "synthetic.json").read_text())
    assert meta["accounting"]["parts"]["transitions"]["sensitivity"] == 9
    assert not np.isin(load(tmp_path / "dp").item, canary).any()
    with pytest.raises(ConfigError, match="epsilon"):
        synthesize(src, "markov", out=tmp_path / "x", epsilon=1.0)


def test_drawn_share_and_a_recipe_for_the_tstr_models(tmp_path):
    from shopaug.evaluation.synthetic import synth_report

    rng = np.random.default_rng(0)  # 80 users of 6 distinct items out of 40
    src = tmp_path / "src"
    src.mkdir()
    (src / "sequences.txt").write_text("".join(
        f"{u + 1} {' '.join(map(str, rng.choice(np.arange(1, 41), 6, replace=False)))}\n"
        for u in range(80)))
    (src / "items.tsv").write_text("item_id\tasin\ttext\n" + "".join(
        f"{i}\tB{i}\titem {i}\n" for i in range(1, 41)))
    # min_users 5 (the default): only some items are drawn, so some test targets are not
    synthesize(src, "markov", out=tmp_path / "m", seed=3, member_frac=0.5)
    rep = synth_report(tmp_path / "m", src, epochs=1, real_plus=False)
    gains = rep["_real_gains"]
    assert gains.mean() == pytest.approx(rep["real_ndcg10"], abs=1e-5)
    real, syn = load(src), load(tmp_path / "m")
    target = leave_one_out(real).targets("test").target
    drawn = np.isin(target, real.items.to_internal(syn.items.to_external(syn.item)))
    assert 0 < drawn.sum() < len(drawn)  # some targets the output never contains
    assert rep["drawn_share"] == round(gains[drawn].sum() / gains.sum(), 4)
    # a later report of the same data reuses train-on-real and its gains instead of training
    again = synth_report(tmp_path / "m", src, epochs=1, real_plus=False,
                         train_on_real=rep["train_on_real"], real_gains=gains,
                         train_on_members=rep["train_on_real_members"])
    assert again["drawn_share"] == rep["drawn_share"] and again["_real_gains"] is gains
    assert synth_report(tmp_path / "m", src, epochs=1, real_plus=False,
                        train_on_real=rep["train_on_real"],
                        train_on_members=rep["train_on_real_members"])["drawn_share"] is None
    # TSTR models with the catalogue's MiniLM text fused in (real encoder, 40 short texts)
    text = synth_report(tmp_path / "m", src, epochs=1, real_plus=False, recipe="text")
    assert rep["tstr_recipe"] is None and text["tstr_recipe"] == "text"
    assert text["tstr_ndcg10"] != rep["tstr_ndcg10"]
    with pytest.raises(ConfigError, match="nope"):
        synth_report(tmp_path / "m", src, recipe="nope")


def test_sampler_holdout_by_hand():
    from shopaug.augment.synthetic import _holdout

    train = TrainSet(Sequences.from_lists([[1, 2, 3], [4, 5], [6, 7, 8, 9], [2, 3, 4]]),
                     n_items=9)
    fit_on, validate = _holdout(train, 2, np.random.default_rng(0))
    rows = [r for r in range(4) if len(fit_on.sequences[r]) < len(train.sequences[r])]
    assert len(rows) == 2 and 1 not in rows  # only rows of >= 3 items lose their last one
    for r in range(4):
        cut = 1 if r in rows else 0
        np.testing.assert_array_equal(fit_on.sequences[r],
                                      train.sequences[r][: len(train.sequences[r]) - cut])

    class Known:  # after any history: item 3 has logit log 2, every other item logit 0
        def score(self, users, histories):
            s = np.zeros((len(histories), 10))
            s[:, 3] = math.log(2)
            return s

    # the allowed items are the training partition's (items 1..9); item 3 counts twice
    z = 9 + 1
    targets = [int(train.sequences[r][-1]) for r in rows]
    want = np.mean([math.log((2 if t == 3 else 1) / z) for t in targets])
    assert math.isclose(validate(Known()), want, rel_tol=1e-9)
    assert _holdout(train, 0, np.random.default_rng(0)) == (train, None)


def test_sampler_model_stops_on_the_held_out_items(split):
    gen = SASRecSampler(model={**TINY_SASREC, "epochs": 4}, holdout=10, patience=1)
    gen.fit(split[1], rng=0)
    hist = gen.model_.history_
    scores = [h["valid"] for h in hist if "valid" in h]
    assert scores and len(scores) <= 4
    with pytest.raises(ConfigError, match="holdout"):
        SASRecSampler(holdout=-1)


def test_min_users_draws_only_items_enough_rows_contain():
    # item 1: 3 rows (one of them twice), item 2: 2 rows, item 3: 1 row, item 4: 1 row
    train = TrainSet(Sequences.from_lists([[1, 2, 1], [1, 3], [2, 1], [4, 2]]), 4)
    gen = SASRecSampler(FixedScores(), exclude_seen=False, min_users=2).fit(train)
    out = gen.sample(3000, rng=0, top_p=1.0)
    firsts = out.items[out.indptr[:-1]]
    assert set(out.items.tolist()) == {1, 2}
    # first items follow the training first items among the allowed: 1, 1, 2 (4 is blocked)
    assert (firsts == 1).mean() == pytest.approx(2 / 3, abs=0.03)
    assert set(SASRecSampler(FixedScores(), exclude_seen=False, min_users=1).fit(train).sample(
        3000, rng=0, top_p=1.0).items.tolist()) == {1, 2, 3, 4}
    with pytest.raises(ConfigError, match="min_users"):
        SASRecSampler(FixedScores(), min_users=4).fit(train)
    with pytest.raises(ConfigError, match="min_users"):
        SASRecSampler(min_users=0)


def test_exclude_seen_auto_follows_the_training_rows():
    from shopaug.augment.synthetic import _repeat_share

    assert _repeat_share(Sequences.from_lists([[1, 2, 1], [3, 4], [], [5, 5]])) == 2 / 3
    assert _repeat_share(Sequences.from_lists([[1, 2], [2, 1]])) == 0.0
    repeats = TrainSet(Sequences.from_lists([[1, 2, 1, 2]] * 3 + [[3, 4]]), 4)
    assert not SASRecSampler(FixedScores(), min_users=1).fit(repeats).exclude_seen_
    assert SASRecSampler(FixedScores(), min_users=1).fit(TrainSet(Sequences.from_lists([[1, 2]]), 4)
                                            ).exclude_seen_


def test_redraw_copies_replaces_exact_copies_only():
    from shopaug.augment import redraw_copies

    real = Sequences.from_lists([[1, 2, 3], [4, 5]])
    gen = Markov().fit(TrainSet(Sequences.from_lists([[1, 2, 3], [1, 2]] * 5), n_items=5))
    # the chain can only make [1, 2, 3] (a copy) or [1, 2] (new) from 3- and 2-item lengths
    syn = Sequences.from_lists([[1, 2, 3], [1, 2], [4, 5], [5, 4]])
    out, counts = redraw_copies(gen, syn, real, rng=0)
    assert counts["copies"] == 2 and counts["draws"] >= 2
    rows = [r.tolist() for r in out]
    assert [1, 2, 3] not in rows and [4, 5] not in rows
    assert [1, 2] in rows and [5, 4] in rows  # untouched
    assert len(rows) == 4 - counts["dropped"]
    again, _ = redraw_copies(gen, syn, real, rng=0)
    assert again == out


def _steps(seqs: Sequences) -> set[tuple[int, int]]:
    return {(int(a), int(b)) for row in seqs for a, b in pairwise(row)}


def test_min_pair_users_blocks_pairs_few_rows_contain():
    # 1 -> 2 in two rows, 1 -> 3 and 2 -> 4 in one row each; 1 -> 4 in none
    train = TrainSet(Sequences.from_lists([[1, 2], [1, 2], [1, 3], [2, 4]]), 4)
    gen = SASRecSampler(FixedScores(), exclude_seen=False, min_users=1,
                        min_pair_users=2).fit(train)
    pairs = _steps(gen.sample(4000, rng=0, top_p=1.0))
    assert (1, 3) not in pairs and (2, 4) not in pairs
    assert {(1, 2), (1, 4), (2, 1), (2, 3)} <= pairs  # shared and new pairs stay
    free = SASRecSampler(FixedScores(), exclude_seen=False, min_users=1).fit(train)
    assert {(1, 3), (2, 4)} <= _steps(free.sample(4000, rng=0, top_p=1.0))  # off by default
    # every pair after 1 is rare: the row may still go on, to any item
    only = TrainSet(Sequences.from_lists([[1, 1], [1, 2], [1, 3], [1, 4]]), 4)
    gen = SASRecSampler(FixedScores(), exclude_seen=False, min_users=1,
                        min_pair_users=2).fit(only)
    assert gen.rare_pairs_[1].indices.tolist() == [1, 2, 3, 4]
    got = gen._pick(FixedScores().score(None, [0] * 500), np.ones((500, 1), np.int64),
                    np.random.default_rng(0), 1.0, 1.0)
    assert set(got.tolist()) == {1, 2, 3, 4}
    # rows are counted, not occurrences: 3 -> 1 twice in one row and once in another
    from shopaug.augment.synthetic import _rare_pairs

    rare = _rare_pairs(Sequences.from_lists([[3, 1, 3, 1], [3, 1], [1, 3], []]), 4, 3)
    assert {tuple(map(int, rc)) for rc in zip(*rare.nonzero(), strict=True)} == {(3, 1), (1, 3)}
    assert _rare_pairs(Sequences.from_lists([[3, 1, 3, 1], [3, 1]]), 4, 2).nnz == 1  # 1 -> 3
    with pytest.raises(ConfigError, match="min_pair_users"):
        SASRecSampler(min_pair_users=0)
