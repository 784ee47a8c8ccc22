"""Search shares knowledge with recommendation: Beauty items, one vector cache, user boost."""

import numpy as np
import pytest

from shopaug.augment.knowledge import item_embeddings
from shopaug.data import load
from shopaug.evaluation import leave_one_out
from shopaug.lm import TextEncoder
from shopaug.models import ItemKNN
from shopaug.search._index import IndexConfig, SearchIndex
from shopaug.search._personal import catalog_from_dataset, user_scores


@pytest.fixture(scope="module")
def beauty():
    ds = load("bundled:amazon-beauty").head(60)
    split = leave_one_out(ds)
    model = ItemKNN().fit(split.train)
    cat = catalog_from_dataset(ds)
    enc = TextEncoder()
    index = SearchIndex.build(cat, IndexConfig(method="hybrid", candidates=50), encoder=enc)
    return ds, split, model, cat, index, enc


def test_catalog_of_a_recommendation_dataset(beauty):
    ds, _, _, cat, _, _ = beauty
    assert 0 < len(cat) <= ds.n_items
    i = ds.items.get(str(cat.ids[0]))
    assert cat.titles[0] == ds.item_text[i]


def test_search_and_recommendation_share_item_vectors(beauty):
    ds, split, _, cat, index, enc = beauty
    rec_vectors = item_embeddings(split.train, enc)  # what text-aware SASRec reads
    internal = ds.items.to_internal(np.array([str(i) for i in cat.ids], dtype=object))
    np.testing.assert_allclose(index.vectors, rec_vectors[internal], atol=1e-6)
    assert enc.encoded_ == len(set(cat.titles))  # encoded once, the second use hit the cache


def test_user_state_reranks_search_results(beauty):
    ds, split, model, cat, index, _ = beauty
    seqs = split.train.sequences
    user = max(range(len(seqs)), key=lambda u: len(seqs[u]))
    history = [str(x) for x in ds.items.to_external(seqs[user])]
    # a query built from item text: the first three words of one of the user's items
    words = ds.item_text[seqs[user][-1]].split()[:3]
    query = " ".join(words)
    boost = user_scores(model, ds, history, cat)
    assert boost.shape == (len(cat),) and np.isfinite(boost).all()
    plain, _ = index.search([query], 10)
    mine, _ = index.search([query], 10, boost=boost, boost_weight=1.0)
    assert set(plain[0]) != set(mine[0]) or plain[0].tolist() != mine[0].tolist()
    # the user's recommendation state lifts the results it scores higher
    assert boost[mine[0]].mean() > boost[plain[0]].mean()
    top_rec = max(mine[0], key=lambda p: boost[p])
    strong, _ = index.search([query], 10, boost=boost, boost_weight=50.0)
    assert strong[0, 0] == top_rec
