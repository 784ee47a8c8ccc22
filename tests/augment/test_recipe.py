"""Recipe files: shipped recipes, round trips through every format, errors that say where."""

import os
import tomllib

import numpy as np
import pytest

from shopaug.augment import (
    MODES,
    Crop,
    Mask,
    OneOf,
    Recipe,
    build,
    load_recipe,
    read_recipe,
    recipes,
    write_recipe,
)
from shopaug.augment.recipe import dumps_toml
from shopaug.data import Sequences, TrainSet
from shopaug.exceptions import ConfigError

TRAIN = TrainSet(Sequences.from_lists([[1, 2, 3, 4], [2, 3, 5], [5, 6, 1, 2, 3]]), 8)

CML = """\
name = "cml"
description = "test"

[train]
mode = "contrastive"
cl_weight = 0.2

[augment]
op = "one_of"
p = 0.5
weights = [1, 2]

[[augment.children]]
op = "compose"

[[augment.children.children]]
op = "crop"
ratio = 0.8

[[augment.children.children]]
op = "mask"
ratio = 0.2

[[augment.children]]
op = "reorder"
"""


def test_shipped_recipes_load_build_and_run():
    assert {"crop-mask-reorder", "recommended"} <= set(recipes())
    for name in recipes():
        r = load_recipe(name)
        assert r.name == name and r.description
        aug = r.build().fit(TRAIN)
        out = aug(TRAIN.sequences.padded(5), 0)
        assert out.shape == (3, 5)


def test_cl4srec_recipe_content():
    r = load_recipe("crop-mask-reorder")
    assert r.train["mode"] == "contrastive" and r.train["cl_weight"] == 0.1
    assert r.augment["op"] == "one_of"
    assert [(c["op"], c["ratio"]) for c in r.augment["children"]] == [
        ("crop", 0.6),
        ("mask", 0.3),
        ("reorder", 0.3),
    ]


@pytest.mark.parametrize("name", ["recommended", "crop-mask-reorder", "online-mix",
                                  "soft-labels"])
def test_shipped_recipes_build_and_round_trip(name, tmp_path):
    rec = load_recipe(name)
    assert rec.name == name and rec.mode in MODES
    build(rec.augment)  # every shipped tree builds
    assert read_recipe(write_recipe(rec, tmp_path / f"{name}.toml")) == rec


@pytest.mark.parametrize("suffix", [".toml", ".yaml", ".json"])
def test_round_trip_file_objects_config_file(tmp_path, suffix):
    src = tmp_path / "cml.toml"
    src.write_text(CML)
    first = read_recipe(src)
    aug = build(first.augment)  # file -> Recipe -> objects
    again = Recipe(first.name, first.description, aug.to_config(), first.train)  # -> config
    out = write_recipe(again, tmp_path / f"copy{suffix}")  # -> file
    assert read_recipe(out) == first  # -> Recipe
    assert sorted(os.listdir(tmp_path)) == sorted(["cml.toml", f"copy{suffix}"])  # no temp files


def test_recipe_from_objects_round_trips(tmp_path):
    aug = OneOf([Crop(ratio=0.7), Mask(ratio=0.25, token=9)], p=0.3, weights=[0.5, 0.5])
    r = Recipe(
        "mine",
        'quotes " and ü',
        aug.to_config(),
        {"mode": "offline", "copies": 3, "supervised": True},
    )
    for suffix in (".toml", ".yml", ".json"):
        path = write_recipe(r, tmp_path / f"mine{suffix}")
        assert read_recipe(path) == r
        assert load_recipe(path) == r and load_recipe(str(path)) == r
    assert build(read_recipe(tmp_path / "mine.toml").augment).to_config() == aug.to_config()


def test_files_are_normalised_and_name_defaults_to_the_stem(tmp_path):
    path = tmp_path / "short.json"
    path.write_text('{"augment": [{"op": "crop"}]}')
    r = read_recipe(path)
    assert r.name == "short" and r.train == {"mode": "online"}
    assert r.augment == {
        "op": "compose",
        "p": 1.0,
        "children": [{"op": "crop", "p": 1.0, "ratio": 0.6}],
    }


def test_toml_writer_round_trips_with_tomllib():
    data = {
        "a": 1,
        "b": 2.5,
        "c": 'x"y\n',
        "d": True,
        "e": [1.0, 2.0],
        "f": [],
        "t": {"k": "v", "u": {"deep": 1}},
        "arr": [{"x": 1, "kids": [{"y": 2}, {"y": 3}]}, {"x": 4}],
        "odd key": 1,
        "inf": float("inf"),
    }
    assert tomllib.loads(dumps_toml(data)) == data


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('name = "x"\ncolour = 1\n[augment]\nop = "crop"\n', "unknown key(s) ['colour']"),
        ('[train]\nmode = "sometimes"\n[augment]\nop = "crop"\n', "train option 'mode' must be"),
        ('[train]\nbatch = 3\n[augment]\nop = "crop"\n', "unknown train option(s) ['batch']"),
        ('[train]\ncopies = 0\n[augment]\nop = "crop"\n', "train option 'copies'"),
        ('[train]\ncl_temperature = 0\n[augment]\nop = "crop"\n', "'cl_temperature'"),
        ('[train]\nsupervised = "yes"\n[augment]\nop = "crop"\n', "'supervised'"),
        ('[augment]\nop = "crop"\nratio = 7\n', "augment: augmenter 'crop': 'ratio'"),
        ('[augment]\nop = "blur"\n', "unknown augmenter 'blur'"),
        ('name = "x"\n', "missing the 'augment' table"),
        ("name = \n", "cannot parse"),
    ],
)
def test_errors_name_the_file_and_key(tmp_path, text, message):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as e:
        read_recipe(path)
    assert str(path) in str(e.value) and message in str(e.value)


def test_missing_and_unknown_recipes(tmp_path):
    with pytest.raises(ConfigError, match="unknown recipe 'nope'; shipped"):
        load_recipe("nope")
    with pytest.raises(ConfigError, match="not found"):
        load_recipe(tmp_path / "missing.toml")
    with pytest.raises(ConfigError, match=r"expected a \.toml"):
        write_recipe(load_recipe("recommended"), tmp_path / "r.txt")


def test_write_replaces_atomically(tmp_path):
    path = tmp_path / "r.toml"
    write_recipe(load_recipe("recommended"), path)
    write_recipe(load_recipe("crop-mask-reorder"), path)
    assert read_recipe(path).name == "crop-mask-reorder"
    assert os.listdir(tmp_path) == ["r.toml"]
    # applied on real data, the read recipe behaves like the shipped one
    a = read_recipe(path).build().fit(TRAIN)
    b = load_recipe("crop-mask-reorder").build().fit(TRAIN)
    batch = TRAIN.sequences.padded(5)
    np.testing.assert_array_equal(a(batch, 4), b(batch, 4))
