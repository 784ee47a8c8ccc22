"""Full-ranking protocol: history conventions, tie handling and evaluate()."""

import numpy as np
import pytest
import torch

from shopaug.data import Sequences
from shopaug.evaluation import (
    apply_history,
    evaluate,
    leave_one_out,
    target_ranks,
    top_k,
)
from shopaug.testing import checkerboard


def test_conventions_by_hand():
    # item:         0(pad) 1     2     3     4
    base = np.array([[0.0, 0.5, -1.0, 2.0, -0.5]], dtype=np.float32)
    hist = Sequences.from_lists([[3]])
    target = np.array([1])
    ranks = {}
    for conv in ("exclude", "zero", "keep"):
        s = torch.tensor(base)
        apply_history(s, hist, conv)
        ranks[conv] = int(target_ranks(s, target)[0])
        assert s[0, 0] == -torch.inf  # padding never ranks
    assert ranks == {"exclude": 0, "zero": 0, "keep": 1}
    # under 'zero', history item 3 scores 0: above item 4 (-0.5) but below item 1 (0.5)
    s = torch.tensor(base)
    apply_history(s, hist, "zero")
    assert int(target_ranks(s, np.array([4]))[0]) == 2
    s = torch.tensor(base)
    apply_history(s, hist, "exclude")
    assert int(target_ranks(s, np.array([4]))[0]) == 1


def test_ties_go_to_lower_ids():
    s = torch.tensor([[-np.inf, 1.0, 1.0, 1.0]])
    assert target_ranks(s, np.array([1])).tolist() == [0]
    assert target_ranks(s, np.array([3])).tolist() == [2]


def test_top_k_best_first():
    s = torch.tensor([[-np.inf, 0.1, 0.9, 0.5, 0.7]])
    assert top_k(s, 3).tolist() == [[2, 4, 3]]


def test_bad_convention_rejected():
    with pytest.raises(ValueError, match="history must be one of"):
        apply_history(torch.zeros(1, 3), Sequences.from_lists([[1]]), "drop")


class Oracle:
    """Scores the true target highest: evaluate() must give perfect accuracy."""

    def __init__(self, targets):
        self.targets = targets

    def score(self, users, histories):
        out = np.zeros((len(users), self.n_cols), dtype=np.float32)
        out[np.arange(len(users)), self.targets[users]] = 1.0
        return out


def test_evaluate_perfect_and_worst():
    ds = checkerboard()
    split = leave_one_out(ds)
    oracle = Oracle(np.zeros(ds.n_users, dtype=np.int64))
    oracle.n_cols = ds.n_items + 1
    oracle.targets[split.test.users] = split.test.target
    r = evaluate(oracle, split, "test")
    assert r["HR@5"] == r["NDCG@10"] == r["MRR@10"] == 1.0
    assert r["split"] == "test" and r["history"] == "exclude"
    assert r["n_cases"] == len(split.test)
    assert r["slices"]["tail"]["n_cases"] + r["slices"]["head"]["n_cases"] == len(split.test)


def test_evaluate_catches_a_leaked_target():
    """A model that saw the test targets during training would score them highest; the
    protocol must report that as perfect accuracy, so a leak shows up in the figures, and
    the training partition must not contain any test or validation target."""
    ds = checkerboard()
    split = leave_one_out(ds)
    for u, t_valid, t_test in zip(split.test.users, split.valid.target, split.test.target,
                                  strict=True):
        assert t_valid not in split.train.sequences[u]
        assert t_test not in split.train.sequences[u]
