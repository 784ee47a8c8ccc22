"""Cold-item protocol and the cold-start fallback chain, on hand-made data and 3-d vectors."""

import numpy as np
import pytest

from shopaug.data import Dataset, IdVocab, Sequences, TrainSet
from shopaug.evaluation import cold_items, cold_metrics, evaluate, leave_one_out
from shopaug.models import ItemKNN, Popularity, Recommender
from shopaug.models.coldstart import Fallback, TextProfile, _place_new
from shopaug.testing import checkerboard, planted


def small() -> Dataset:
    return Dataset.from_arrays(
        name="t", source="t",
        users=IdVocab(["a", "b", "c"]), items=IdVocab([str(i) for i in range(1, 8)], offset=1),
        user=np.array([0, 0, 0, 0, 1, 1, 2, 2, 2]),
        item=np.array([1, 2, 3, 4, 5, 6, 7, 1, 2]),
    )


def test_cold_items_by_hand():
    ds = small()
    sp = cold_items(ds, frac=3 / 7, seed=0)
    # default_rng(0).choice(1..7, 3, replace=False), sorted
    assert sp.protocol == "cold-items"
    assert sp.cold.tolist() == [4, 5, 7]
    # leave-one-out training is a:[1, 2], b:[5, 6], c:[7]; cold items go, rows stay
    assert [r.tolist() for r in sp.train.sequences] == [[1, 2], [6], []]
    loo = leave_one_out(ds)
    for which in ("valid", "test"):
        got, want = sp.targets(which), loo.targets(which)
        assert got.users.tolist() == want.users.tolist()
        assert got.target.tolist() == want.target.tolist()
        assert got.history == want.history
    assert sp.test.target.tolist() == [4, 2]  # user a's test target is cold
    assert sp.test.history[1].tolist() == [7, 1]  # cold item 7 stays in c's history
    assert sp.train.item_text is ds.item_text


def test_cold_items_never_reach_training():
    ds, _ = planted(n_users=20, n_items=60)
    sp = cold_items(ds, frac=0.3, seed=3)
    assert len(sp.cold) == 18
    assert not np.isin(sp.cold, sp.train.sequences.items).any()
    assert sp.train.item_counts()[sp.cold].sum() == 0
    # everything else of leave-one-out training survives
    loo = leave_one_out(ds).train.sequences
    assert sp.train.sequences == loo.keep(~np.isin(loo.items, sp.cold))
    with pytest.raises(ValueError, match="frac"):
        cold_items(ds, frac=1.0)


class ColdOracle:
    """Ranks the cold items first, in id order."""

    def __init__(self, n_items, cold):
        self.row = np.zeros(n_items + 1, np.float32)
        self.row[cold] = 1.0 + np.arange(len(cold))[::-1]

    def score(self, users, histories):
        return np.tile(self.row, (len(histories), 1))


def test_evaluate_reports_cold_slice():
    sp = cold_items(small(), frac=3 / 7, seed=0)
    pop = Popularity().fit(sp.train)
    out = evaluate(pop, sp)
    cold = out["slices"]["cold"]
    assert cold["n_cases"] == 1
    # counts: 1, 2 once, 6 once, the rest 0; ties by id. User a (history 1 2 3 excluded)
    # ranks 6 first, then 4 (its target) among the zeros: rank 1.
    assert cold["Recall@20"] == cold["HR@20"] == 1.0
    assert cold["NDCG@20"] == pytest.approx(1 / np.log2(3))
    assert cold_metrics(pop, sp) == cold
    assert evaluate(pop, sp, beyond=False)["slices"] == {"cold": cold}
    assert cold_metrics(ColdOracle(7, sp.cold), sp)["NDCG@20"] == 1.0
    assert "slices" not in evaluate(pop, leave_one_out(small()), beyond=False)
    with pytest.raises(ValueError, match="cold_items"):
        cold_metrics(pop, leave_one_out(small()))


# Fallback ------------------------------------------------------------------------------------
# items:          1        2        3             4        5 (new: no training interactions)
EMB = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [1, 1, 0], [0, 0, 1], [0.6, 0.8, 0]], np.float32)
COUNTS = np.array([0, 5, 3, 4, 1, 0])
ATTRS = [np.array([], np.int64), np.array([0]), np.array([1]), np.array([0, 1]),
         np.array([1]), np.array([0])]
MODEL = np.array([0, 0.1, 0.2, 0.5, 0.3, 0.9], np.float32)  # 0.9 on item 5: untrained noise


class FakeModel:
    def __init__(self):
        self.seen = []

    def score(self, users, histories):
        self.seen.append(np.asarray(users).tolist())
        return np.broadcast_to(MODEL, (len(histories), len(MODEL)))


def chain(**kw):
    model = FakeModel()
    return Fallback(model, item_emb=EMB, popularity=COUNTS, item_attrs=ATTRS, **kw), model


def test_fallback_paths_by_hand():
    fb, model = chain()
    hist = Sequences.from_lists([[], [], [2], [1, 2, 4], [5]])
    ids, _ = fb.recommend(np.arange(5), hist, k=4, categories=np.array([-1, 1, 0, 1, 1]))
    assert fb.last_paths_.tolist() == ["popularity", "popularity", "text", "model", "text"]
    assert model.seen == [[2, 3]]  # the model scored only rows that use it
    assert ids[0].tolist() == [1, 3, 2, 4]  # global popularity
    assert ids[1].tolist() == [3, 2, 4, 1]  # attribute 1 first (3, 2, 4), then the rest
    # text, history [2], fused with the model (k=20, 1-based ranks):
    #   text ranks   2, 5 (0.8), 3 (0.707), 0, 1, 4 (cosine 0, ties by id)
    #   model ranks  3 (0.5), 5 (placed just above 4's 0.3: text ranks only item 2 above it),
    #                4 (0.3), 2, 1, 0
    # 3: 1/21+1/23 = .0911, 5: 2/22 = .0909, 4: 1/23+1/26 = .0819, 1: 2/25 = .08
    ids2, _ = chain()[0].recommend(np.arange(1), Sequences.from_lists([[2]]), k=4)
    assert ids[2].tolist() == ids2[0].tolist() == [3, 5, 4, 1]
    assert ids[3, :2].tolist() == [3, 5]  # the rest is history, never recommended
    # text, history [5] (only a new item, still usable by text): 3 (0.99), 2 (0.8), 1 (0.6)
    assert ids[4].tolist() == [3, 2, 1, 4]


def test_place_new_by_text_rank():
    warm = np.array([[3.0, 2.0, 1.0], [10.0, 20.0, 30.0]], np.float32)
    warm_text = np.array([[0.1, 0.5, 0.9], [-1.0, 0.0, 1.0]], np.float32)
    new_text = np.array([[1.0, 0.3, 0.0], [0.5, -1.0, 1.0]], np.float32)
    got = _place_new(warm, warm_text, new_text)
    up, down = np.float32(np.inf), np.float32(-np.inf)
    # row 0: above 0, 2 and 3 warm items by text -> just above the 1st, 3rd; below the last
    # row 1: 1, 2 (a tie is not above) and 0 warm items above -> 20, 10 and 30 from above
    want = [[np.nextafter(np.float32(3), up), np.nextafter(np.float32(1), up),
             np.nextafter(np.float32(1), down)],
            [np.nextafter(np.float32(20), up), np.nextafter(np.float32(10), up),
             np.nextafter(np.float32(30), up)]]
    np.testing.assert_array_equal(got, np.array(want, np.float32))


def test_fallback_model_path_places_new_items():
    fb, _ = chain()
    s = fb.score(np.array([7]), Sequences.from_lists([[1, 2, 4]]))
    # profile .81 e1 + .9 e2 + e4: only item 3 (1.209) beats new item 5 (1.206) by text,
    # so 5 lands just above the model's 2nd best trained score (0.3, item 4)
    assert s[0, 5] == np.nextafter(np.float32(0.3), np.float32(1))
    np.testing.assert_allclose(s[0, :5], MODEL[:5])
    fb, _ = chain(transfer=False)
    assert fb.score(np.array([7]), Sequences.from_lists([[1, 2, 4]]))[0, 5] == pytest.approx(0.9)


def test_text_path_profile_by_hand():
    fb, _ = chain(fusion_k=None)
    s = fb.score(np.array([0]), Sequences.from_lists([[1, 2]]))  # 2 known items < 3: text
    assert fb.last_paths_.tolist() == ["text"]
    prof = np.array([0.9, 1.0, 0.0]) / np.hypot(0.9, 1.0)  # newest item weighs 1, older 0.9
    unit = EMB / np.maximum(np.linalg.norm(EMB, axis=1, keepdims=True), 1e-12)
    want = unit @ prof + 1e-6 * COUNTS / 6
    np.testing.assert_allclose(s[0], want, atol=1e-6)
    np.testing.assert_allclose(
        TextProfile(EMB).score(np.array([0]), Sequences.from_lists([[1, 2]]))[0], unit @ prof,
        atol=1e-6,
    )


def test_route_counts_known_items_only():
    fb, _ = chain(min_history=2)
    hist = Sequences.from_lists([[5, 5, 5], [1, 5], [1, 2], [5]])
    assert fb.route(hist).tolist() == [1, 1, 2, 1]  # text, text, model, text
    no_text = Fallback(FakeModel(), item_emb=np.zeros_like(EMB), popularity=COUNTS)
    # nothing has text: known items go to the model, unknown ones to popularity
    assert no_text.route(Sequences.from_lists([[1], [5], []])).tolist() == [2, 0, 0]
    # no item_attrs: categories are ignored
    ids, _ = no_text.recommend(np.arange(1), Sequences.from_lists([[]]), k=2,
                               categories=np.array([1]))
    assert ids.tolist() == [[1, 3]]


def test_fallback_for_train_fit_and_protocol():
    train = TrainSet(Sequences.from_lists([[1, 2, 3], [3, 4, 1]]), 5, item_attrs=ATTRS)
    fb = Fallback.for_train(Popularity().fit(train), train, item_emb=EMB)
    assert fb.known_.tolist() == [False, True, True, True, True, False]
    fb2 = Fallback(Popularity(), item_emb=EMB, popularity=np.zeros(6)).fit(train)
    np.testing.assert_array_equal(fb2.pop_, fb.pop_)
    assert isinstance(fb, Recommender)
    with pytest.raises(NotImplementedError, match="runtime composition"):
        fb.save("x")
    with pytest.raises(ValueError, match="popularity"):
        Fallback(FakeModel(), item_emb=EMB, popularity=COUNTS[:3])


def test_fallback_ranks_cold_targets_in_evaluate():
    # checkerboard: item i is followed by i + 2 within its parity. Text vectors put each
    # parity on its own circle arc, neighbours close, so text can find unseen items.
    ds = checkerboard(n_users=30, n_items=40, length=6)
    sp = cold_items(ds, frac=0.2, seed=1)
    ids = np.arange(41)
    angle = ids * 0.05
    emb = np.stack([np.cos(angle) * (ids % 2), np.cos(angle) * (1 - ids % 2), np.sin(angle)], 1)
    emb[0] = 0
    knn = ItemKNN().fit(sp.train)
    fb = Fallback.for_train(knn, sp.train, item_emb=emb)
    base = evaluate(knn, sp, beyond=False)["slices"]["cold"]
    ours = evaluate(fb, sp, beyond=False)["slices"]["cold"]
    assert ours["n_cases"] == base["n_cases"] == 4
    # ItemKNN puts never-seen items below every trained one; the text placement finds them
    assert base["Recall@20"] == 0.0
    assert ours["Recall@20"] == 1.0
