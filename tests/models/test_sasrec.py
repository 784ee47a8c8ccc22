"""SASRec specifics: training windows and position handling."""

import numpy as np
import torch

from shopaug.data import Sequences
from shopaug.models.sasrec import (
    SASRecConfig,
    _Net,
    _prefix_samples,
    _prefix_windows,
    _windows,
)


def test_windows_make_every_item_but_the_first_a_target_once():
    s = Sequences.from_lists([list(range(1, 13)), [1], [20, 21, 22]])
    w = _windows(s, max_len=4)
    assert w.shape[1] == 5
    targets = sorted(int(x) for r in w for j, x in enumerate(r[1:]) if r[j] > 0)
    assert targets == [*range(2, 13), 21, 22]


def test_prefix_samples_cut_every_prefix_once():
    s = Sequences.from_lists([[1, 2, 3, 4, 5, 6], [7, 8], [9]])
    w = _windows(s, max_len=4)
    lengths = (w > 0).sum(1) - 1
    rows, cols = _prefix_samples(lengths, 4)
    assert len(rows) == lengths.sum()
    padded = np.pad(w, ((0, 0), (4, 0)))
    got = _prefix_windows(padded, rows, cols, 4, 4)
    # each sample: its prefix within its window (left-padded) followed by its target; the
    # first 6-item sequence's newest window is [2..6], its older one [1, 2]
    cut = {tuple(int(x) for x in r[r > 0]) for r in got}
    want = {(1, 2), (2, 3), (2, 3, 4), (2, 3, 4, 5), (2, 3, 4, 5, 6), (7, 8)}
    assert cut == want
    assert (got[:, -1] > 0).all()
    # a narrower cut keeps the newest inputs
    short = _prefix_windows(padded, rows, cols, 1, 4)
    assert {tuple(int(x) for x in r) for r in short} == {
        (1, 2), (2, 3), (3, 4), (4, 5), (5, 6), (7, 8)}


def test_start_positions_make_prefix_outputs_independent_of_padding():
    torch.manual_seed(0)
    net = _Net(30, SASRecConfig(dim=16, heads=2, dropout=0.0, positions="start")).eval()
    seq = torch.tensor([[0, 0, 3, 4, 5]])
    short = torch.tensor([[3, 4, 5]])
    with torch.no_grad():
        a = net(seq)[0, -1]
        b = net(short)[0, -1]
        # the output at position 3 of the full row sees only [3, 4]: same as scoring [3, 4]
        c = net(seq)[0, 3]
        d = net(torch.tensor([[3, 4]]))[0, -1]
    torch.testing.assert_close(a, b)
    torch.testing.assert_close(c, d)
    assert np.isfinite(net(seq).detach().numpy()).all()


def test_last_only_forward_matches_the_full_forward():
    torch.manual_seed(0)
    seq = torch.tensor([[0, 0, 3, 4, 5], [1, 2, 3, 4, 5], [0, 0, 0, 0, 7]])
    for norm_first in (True, False):
        cfg = SASRecConfig(dim=16, heads=2, layers=2, dropout=0.0, norm_first=norm_first)
        net = _Net(30, cfg).eval()
        with torch.no_grad():
            full = net(seq)[:, -1]
            last = net(seq, last=True)
        assert last.shape == (3, 1, 16)
        torch.testing.assert_close(last[:, 0], full)


def test_soft_labels_by_hand():
    import math

    import torch

    from shopaug.models.sasrec import _Views

    v = object.__new__(_Views)
    v.soft = 0.2
    # item 1's neighbours are items 2 and 3; item 2 has none
    v.neighbors = torch.tensor([[0, 0], [2, 3], [0, 0], [0, 0]])
    logits = torch.tensor([[0.0, 1.0, 2.0], [1.0, 0.0, 0.0]])  # columns = items 1..3
    got = float(v.soft_ce(logits, torch.tensor([1, 2])))
    z0 = math.log(1 + math.e + math.e**2)
    row0 = 0.8 * (z0 - 0.0) + 0.2 * ((z0 - 1.0) + (z0 - 2.0)) / 2
    z1 = math.log(math.e + 2)
    row1 = z1 - 0.0  # no neighbours: plain cross-entropy
    assert math.isclose(got, (row0 + row1) / 2, rel_tol=1e-6)
