"""InfoNCE against hand-computed values, and DuoRec's same-target grouping."""

import math

import torch

from shopaug.training.contrastive import info_nce


def test_info_nce_two_samples_by_hand():
    a = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    b = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    # z = [e1, e2, e1, e2]; row 0's logits over columns 1..3 are [0, 1, 0], positive = col 2
    expected = -math.log(math.e / (1 + math.e + 1))
    got = info_nce(a, b, temperature=1.0)
    assert math.isclose(float(got), expected, rel_tol=1e-6)


def test_info_nce_temperature_and_cosine():
    a = torch.tensor([[2.0, 0.0], [0.0, 3.0]])
    b = torch.tensor([[4.0, 0.0], [0.0, 5.0]])
    t = 0.5
    # cosine: same as unit vectors; positives have similarity 1 / t = 2, others 0
    expected = -math.log(math.exp(2) / (1 + math.exp(2) + 1))
    got = info_nce(a, b, temperature=t, similarity="cos")
    assert math.isclose(float(got), expected, rel_tol=1e-6)


def test_groups_remove_same_target_negatives():
    a = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    b = a.clone()
    plain = info_nce(a, b)
    grouped = info_nce(a, b, groups=torch.tensor([7, 7, 9]))
    # rows 0 and 1 share target 7: they no longer push each other apart, so the loss drops
    assert float(grouped) < float(plain)
    # with every sample in its own group the grouping changes nothing
    same = info_nce(a, b, groups=torch.tensor([1, 2, 3]))
    assert math.isclose(float(same), float(plain), rel_tol=1e-6)
