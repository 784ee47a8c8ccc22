"""SASRec's attribute embeddings (``attributes = true``): each item's representation adds the
mean of its attributes' learned embeddings, so items share what they learn with their brand
and category; saved with the model."""

import warnings

import numpy as np
import pytest
import torch

from shopaug.data import Sequences, TrainSet
from shopaug.models import SASRec, load_model
from shopaug.training import TrainOptions

SMALL = dict(dim=16, heads=2, layers=1, max_len=8, batch_size=16, dropout=0.1)


def brands(attrs: bool = True) -> TrainSet:
    """Items 1-10 are brand 100, items 11-20 brand 200 (plus a category per parity); users buy
    within one brand only; item 20 is never bought."""
    rng = np.random.default_rng(0)
    rows = []
    for u in range(80):
        pool = np.arange(1, 11) if u % 2 else np.arange(11, 20)
        rows.append(list(rng.choice(pool, size=5, replace=False)))
    brand = [100 if i <= 10 else 200 for i in range(21)]
    item_attrs = [np.array([], np.int64)] + [
        np.array([brand[i], 7 + i % 2, brand[i]]) for i in range(1, 21)
    ]
    return TrainSet(Sequences.from_lists(rows), n_items=20,
                    item_attrs=item_attrs if attrs else None)


def test_table_adds_the_mean_of_each_items_attribute_embeddings():
    m = SASRec(attributes=True, **SMALL).fit(brands(), TrainOptions(seed=0, epochs=1,
                                                                      progress=False))
    net = m.net_
    with torch.no_grad():
        table = net.table()
        emb = net.attr.weight
    # renumbered ids: 7 -> 0, 8 -> 1, 100 -> 2, 200 -> 3; a repeated attribute counts once
    for item, want in ((3, [1, 2]), (4, [0, 2]), (15, [1, 3]), (20, [0, 3])):
        expect = net.item.weight[item] + emb[want].mean(0)
        torch.testing.assert_close(table[item], expect.detach())
    torch.testing.assert_close(table[0], torch.zeros(16))  # padding row stays empty


def test_an_item_never_bought_follows_its_brand():
    data = brands()
    opts = TrainOptions(seed=0, epochs=30, progress=False)
    hist = Sequences.from_lists([[11, 12, 13], [1, 2, 3]])  # a brand-200 and a brand-100 user
    lift = {}
    for attrs in (True, False):
        s = SASRec(attributes=attrs, **SMALL).fit(data, opts).score(np.arange(2), hist)
        lift[attrs] = s[0, 20] - s[1, 20]  # item 20 for its own brand's user vs the other's
    # only the attributes tell the model that item 20 belongs with items 11-19
    assert lift[True] > 1.0
    assert abs(lift[False]) < 0.5


def test_saved_and_loaded_with_its_attribute_map(tmp_path):
    m = SASRec(attributes=True, **SMALL).fit(brands(), TrainOptions(seed=0, epochs=2,
                                                                      progress=False))
    m.save(tmp_path / "m")
    back = load_model(tmp_path / "m")
    hist = Sequences.from_lists([[1, 2], [15]])
    np.testing.assert_allclose(back.score(np.arange(2), hist), m.score(np.arange(2), hist),
                               rtol=1e-5, atol=1e-6)
    assert back.net_.attr is not None


def test_data_without_attributes_warns_and_trains_on_ids():
    opts = TrainOptions(seed=0, epochs=2, progress=False)
    with pytest.warns(UserWarning, match="no item attributes"):
        m = SASRec(attributes=True, **SMALL).fit(brands(attrs=False), opts)
    assert m.net_.attr is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        plain = SASRec(**SMALL).fit(brands(attrs=False), opts)
    hist = Sequences.from_lists([[1, 2]])
    np.testing.assert_allclose(m.score(np.arange(1), hist), plain.score(np.arange(1), hist))
