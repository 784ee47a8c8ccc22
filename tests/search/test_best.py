"""The `best` index end to end on a tiny catalogue: real Gemma, real fine-tuning, caching."""

import json

import numpy as np

from shopaug.search._catalog import Catalog
from shopaug.search._finetune import FinetuneConfig
from shopaug.search._index import SearchIndex
from shopaug.search._pipeline import AugmentConfig, BestConfig, build_best
from shopaug.search._queries import QueryFilter

TITLES = [
    "DEWALT 20-Volt Cordless Drill Kit", "BEHR Premium Red Exterior Paint 1 gal.",
    "Glacier Bay Bathroom Faucet in Chrome", "Husky 1/2 in. Drive Socket Set",
    "Ryobi Cordless Leaf Blower", "Red Brick Paver 8 in. x 4 in.",
    "Rheem 50 Gal. Water Heater", "Orbit Lawn Sprinkler Head",
]


def test_build_best_trains_once_then_reuses(tmp_path):
    cat = Catalog(ids=np.array([str(100 + i) for i in range(len(TITLES))], dtype=object),
                  titles=TITLES, descriptions=None, brands=None, categories=None, source="tiny")
    cfg = BestConfig(
        augment=AugmentConfig(template_per_product=2, gemma_products=3,
                              filter=QueryFilter(top_k=3)),
        finetune=FinetuneConfig(batch_size=4, epochs=2),
    )
    index, report = build_best(cat, config=cfg, cache_dir=tmp_path / "cache")
    rep = report["augment"]
    assert rep["gemma"]["products"] == 3 and rep["gemma"]["new_tokens"] > 0
    assert rep["kept"] > 0 and not report["model_reused"]
    meta = json.loads((tmp_path / "cache" / "search-models").glob("*/shopaug.json")
                      .__next__().read_text())
    assert meta["steps"] >= 2 and meta["perturbed_queries"] is True
    assert index.config.method == "hybrid" and index.spell is not None
    top, _ = index.search(["cordless drill"], 3)
    assert top[0, 0] == 0
    pairs = report.pop("pairs")
    assert len(pairs) == rep["kept"]
    index.save(tmp_path / "ix", record={"best": report})
    again = SearchIndex.load(tmp_path / "ix")
    assert (tmp_path / "ix" / "model" / "shopaug.json").is_file()
    np.testing.assert_array_equal(again.search(["water heatr"], 2)[0], index.search(
        ["water heatr"], 2)[0])
    # same pairs and settings: the cached model is reused, nothing is retrained
    _, second = build_best(cat, config=cfg, cache_dir=tmp_path / "cache")
    assert second["model_reused"] and second["model"] == report["model"]
