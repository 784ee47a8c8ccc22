"""Presets and config files resolve into validated run configurations."""

import json

import pytest

from shopaug.exceptions import ConfigError
from shopaug.experiment import presets, resolve


def test_required_presets_exist_and_validate():
    names = presets()
    assert {"sasrec", "best", "popularity", "itemknn", "bpr"} <= set(names)
    for name in names:
        rc = resolve(preset=name)
        assert rc.model and rc.preset == name


def test_config_file_overrides_preset(tmp_path):
    for suffix, text in [
        (".toml", "[config]\ndim = 32\n[train]\npatience = 2\n"),
        (".yaml", "config:\n  dim: 32\ntrain:\n  patience: 2\n"),
        (".json", json.dumps({"config": {"dim": 32}, "train": {"patience": 2}})),
    ]:
        f = tmp_path / f"c{suffix}"
        f.write_text(text)
        rc = resolve(preset="sasrec", config_file=f)
        assert rc.config["dim"] == 32 and rc.config["dropout"] == 0.5
        assert rc.train["patience"] == 2


def test_switching_model_drops_the_preset_config(tmp_path):
    f = tmp_path / "c.toml"
    f.write_text('model = "itemknn"\n')
    rc = resolve(preset="sasrec", config_file=f)
    assert rc.model == "itemknn" and rc.config == {}


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("[config]\ndimension = 3\n", "dimension"),
        ("[train]\npatient = 3\n", "patient"),
        ("[config]\ndropout = 1.5\n", "dropout"),
        ("colour = 1\n", "colour"),
        ("[config\n", "cannot parse"),
    ],
)
def test_bad_config_names_file_and_key(tmp_path, text, match):
    f = tmp_path / "bad.toml"
    f.write_text(text)
    with pytest.raises(ConfigError, match=match) as e:
        resolve(preset="sasrec", config_file=f)
    assert "bad.toml" in str(e.value)


def test_model_or_preset_exactly_one():
    with pytest.raises(ConfigError, match="exactly one"):
        resolve()
    with pytest.raises(ConfigError, match="exactly one"):
        resolve(model="sasrec", preset="sasrec")
    with pytest.raises(ConfigError, match="unknown preset"):
        resolve(preset="fastest")


def test_best_preset_holds_text_knowledge_and_augmented_does_not():
    best, aug = resolve(preset="best"), resolve(preset="augmented")
    assert best.recipe["train"]["text"] == "fuse" and "text" not in aug.recipe["train"]
    assert best.config.pop("text_blend") == "auto"
    assert best.config.pop("cooc_blend") == "auto"
    assert best.config.pop("attributes") is True
    assert best.config.pop("members") == 2
    # best trains the sasrec preset's per-prefix samples; augmented still makes one pass
    # over all positions (docs/benchmarks.md) and differs only in how it cuts samples
    plain = resolve(preset="sasrec").config
    assert best.config == plain
    assert {k for k in plain if plain[k] != aug.config.get(k)} == {
        "samples", "batch_size", "epochs"}


def test_make_split_names_the_cold_protocol():
    import numpy as np

    from shopaug.experiment import make_split
    from shopaug.testing import planted

    ds, _ = planted()
    sp = make_split(ds, "cold")
    assert sp.protocol == "cold-items" and len(sp.cold) == round(0.1 * ds.n_items)
    assert not np.isin(sp.train.sequences.items, sp.cold).any()
    with pytest.raises(ConfigError, match="cold"):
        make_split(ds, "warm")
