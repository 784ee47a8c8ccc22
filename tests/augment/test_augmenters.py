"""Augmenter classes: a contract every registered op passes, configs, composition."""

import json
from dataclasses import dataclass

import numpy as np
import pytest

from shopaug.augment import (
    AUGMENTERS,
    Augmenter,
    Compose,
    Crop,
    Identity,
    Insert,
    Mask,
    Noise,
    NotFittedError,
    OneOf,
    Reorder,
    Substitute,
    build,
    register,
)
from shopaug.data import Sequences, TrainSet
from shopaug.exceptions import ConfigError

N_ITEMS = 20
TRAIN = TrainSet(
    Sequences.from_lists(
        [
            [1, 2, 3, 4, 5, 6],
            [2, 3, 4],
            [],
            [7, 8, 9, 10, 11, 12, 13, 14],
            [1, 3, 5, 7, 9],
            [15, 16],
            [4, 5, 6, 7],
        ]
    ),
    N_ITEMS,
    # catalogue text, so the text-knowledge ops (pseudo) have something to read
    item_text=np.array(["", *(f"{c} {p}" for p in ("lipstick", "drill", "shampoo", "rake")
                               for c in ("red", "blue", "green", "black", "white"))],
                       dtype=object),
)
BATCH = TRAIN.sequences.padded(6)
NEEDS_FIT = {"mask", "substitute", "insert", "noise", "pseudo"}


def make(name: str, p: float = 1.0) -> Augmenter:
    """One instance of every registered augmenter (trees get two children)."""
    cls = AUGMENTERS[name]
    if name == "compose":
        return cls([Crop(ratio=0.7), Mask(ratio=0.4)], p=p)
    if name == "one_of":
        return cls([Reorder(ratio=0.5), Substitute(ratio=0.5), Identity()], p=p, weights=[2, 1, 1])
    if name == "pseudo":
        return cls(p=p, max_len=6, filter="none")
    return cls(p=p, ratio=0.5) if name != "identity" else cls(p=p)


@pytest.fixture(params=sorted(AUGMENTERS))
def name(request):
    return request.param


def test_every_augmenter_is_registered():
    assert set(AUGMENTERS) >= {
        "crop",
        "mask",
        "reorder",
        "substitute",
        "insert",
        "noise",
        "identity",
        "compose",
        "one_of",
    }


def test_contract(name):
    for p in (1.0, 0.6):
        aug = make(name, p).fit(TRAIN)
        before = BATCH.copy()
        first = aug.apply(BATCH, np.random.default_rng(3))
        np.testing.assert_array_equal(BATCH, before)  # input untouched
        out = first.items
        assert out.shape == BATCH.shape and out.dtype == BATCH.dtype
        assert not ((out[:, :-1] != 0) & (out[:, 1:] == 0)).any()  # left-padded
        assert (out[(BATCH != 0).sum(1) == 0] == 0).all()
        # determinism; __call__ draws the same numbers as apply
        np.testing.assert_array_equal(aug.apply(BATCH, np.random.default_rng(3)).items, out)
        np.testing.assert_array_equal(aug(BATCH, np.random.default_rng(3)), out)
        np.testing.assert_array_equal(aug(BATCH, 3), out)  # an int seed is a Generator
        # provenance
        assert first.ops == aug.labels()
        assert first.applied.shape == (len(BATCH), len(first.ops))
        assert first.applied.dtype == bool
        untouched = ~first.applied.any(axis=1)
        np.testing.assert_array_equal(out[untouched], BATCH[untouched])
        labels = first.row_labels()
        assert len(labels) == len(BATCH)
        assert all((lab == "") == u for lab, u in zip(labels, untouched, strict=True))
        # config round trip, also through JSON
        cfg = aug.to_config()
        assert cfg["op"] == name and cfg["p"] == p
        assert build(cfg).to_config() == cfg
        assert build(json.loads(json.dumps(cfg))).to_config() == cfg
        # a rebuilt and refitted op gives the same samples
        rebuilt = build(cfg).fit(TRAIN)
        np.testing.assert_array_equal(rebuilt(BATCH, 3), out)


def test_p_zero_changes_nothing(name):
    aug = make(name, 0.0).fit(TRAIN)
    res = aug.apply(BATCH, 0)
    np.testing.assert_array_equal(res.items, BATCH)
    assert not res.applied.any()


def test_empty_batch(name):
    aug = make(name).fit(TRAIN)
    empty = np.zeros((0, 6), dtype=np.int64)
    assert aug(empty, 0).shape == (0, 6)
    assert aug.apply(empty, 0).applied.shape == (0, len(aug.labels()))


def test_unfitted_ops_say_so(name):
    aug = make(name)
    if name in NEEDS_FIT or name in ("compose", "one_of"):
        with pytest.raises(NotFittedError, match="fit"):
            aug(BATCH, 0)
    else:
        aug(BATCH, 0)  # needs no data


def test_bad_batches_are_rejected():
    with pytest.raises(ValueError, match="left-padded"):
        Crop()(np.array([[1, 0, 2]]), 0)
    with pytest.raises(ValueError, match="2-D integer"):
        Crop()(np.array([1, 2]), 0)


# --- specific ops ----------------------------------------------------------------------------


def test_mask_token_from_training_set_or_given():
    assert Mask().fit(TRAIN).token_ == N_ITEMS + 1
    m = Mask(ratio=1.0, token=77)
    assert (m(BATCH, 0)[BATCH != 0] == 77).all()  # no fit needed with a token
    assert m.fit(TRAIN).token_ == 77


def test_noise_draws_only_training_items():
    seen = set(TRAIN.sequences.items.tolist())
    for alpha in (None, 1.0):
        aug = Noise(ratio=1.0, alpha=alpha).fit(TRAIN)
        out = aug(BATCH, 0)
        assert set(out[out != 0].tolist()) <= seen
    assert Noise(alpha=1.0).fit(TRAIN).probs_.sum() == pytest.approx(1.0)


def test_neighbour_ops_build_their_table_from_training():
    for cls in (Substitute, Insert):
        aug = cls(k=3, window=2).fit(TRAIN)
        assert aug.table_.shape == (N_ITEMS + 1, 3)
        assert (aug.table_[17:] == 0).all()  # never seen in training


def test_one_of_gives_each_row_exactly_one_child():
    aug = make("one_of").fit(TRAIN)
    res = aug.apply(np.repeat(BATCH, 20, axis=0), 0)
    assert (res.applied.sum(axis=1) == 1).all()
    assert res.applied.any(axis=0).all()  # every child used somewhere
    only_first = OneOf([Crop(), Reorder()], weights=[1, 0]).apply(BATCH, 0)
    assert only_first.applied[:, 0].all() and not only_first.applied[:, 1].any()


def test_compose_applies_children_in_order():
    aug = Compose([Mask(ratio=1.0, token=50), Crop(ratio=0.5)])
    res = aug.apply(BATCH, 0)
    n = (BATCH != 0).sum(1)
    assert ((res.items == 50).sum(1) == np.where(n > 0, np.maximum(1, n // 2), 0)).all()
    assert res.applied.all() and res.ops == ("mask(ratio=1.0, token=50)", "crop(ratio=0.5)")


def test_nested_trees_and_labels():
    aug = OneOf([Compose([Crop(), Mask(token=30)], p=0.5), Identity()], p=0.8)
    res = aug.apply(np.repeat(BATCH, 10, axis=0), 1)
    assert res.ops == ("crop(ratio=0.6)", "mask(ratio=0.3, token=30)", "identity()")
    crop_mask = res.applied[:, :2]
    assert (crop_mask[:, 0] == crop_mask[:, 1]).all()  # compose: both or neither
    assert not (res.applied[:, :2].any(1) & res.applied[:, 2]).any()
    assert set(res.row_labels()) <= {"", "identity()", "crop(ratio=0.6)|mask(ratio=0.3, token=30)"}
    cfg = aug.to_config()
    assert build(cfg).to_config() == cfg


def test_list_config_is_a_compose():
    aug = build([{"op": "crop"}, {"op": "reorder", "ratio": 0.5}])
    assert isinstance(aug, Compose)
    assert aug.to_config() == {
        "op": "compose",
        "p": 1.0,
        "children": [
            {"op": "crop", "p": 1.0, "ratio": 0.6},
            {"op": "reorder", "p": 1.0, "ratio": 0.5},
        ],
    }


# --- config validation ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make_bad", "message"),
    [
        (lambda: Crop(ratio=0), "'crop': 'ratio' must be a number in (0.0, 1.0]"),
        (lambda: Crop(ratio=1.5), "'crop': 'ratio'"),
        (lambda: Mask(ratio="x"), "'mask': 'ratio'"),
        (lambda: Mask(token=0), "'mask': 'token' must be an integer >= 1"),
        (lambda: Reorder(ratio=True), "'reorder': 'ratio'"),
        (lambda: Substitute(k=0), "'substitute': 'k' must be an integer >= 1"),
        (lambda: Insert(window=1.5), "'insert': 'window'"),
        (lambda: Noise(alpha=-1), "'noise': 'alpha'"),
        (lambda: Crop(p=2), "'crop': 'p'"),
        (lambda: Crop(size=3), "'crop': unknown option(s) ['size']"),
        (lambda: OneOf([Crop()], weights=[1, 2]), "one entry per child"),
        (lambda: OneOf([Crop()], weights=[0]), "'one_of': 'weights'"),
        (lambda: Compose([]), "non-empty list"),
    ],
)
def test_bad_configs_name_the_op_and_field(make_bad, message):
    with pytest.raises(ConfigError) as e:
        make_bad()
    assert message in str(e.value)


def test_build_errors_say_where():
    with pytest.raises(ConfigError, match="unknown augmenter 'blur'; available"):
        build({"op": "blur"})
    with pytest.raises(ConfigError, match=r"augment.children\[1\]: .*'mask': 'ratio'"):
        build({"op": "one_of", "children": [{"op": "crop"}, {"op": "mask", "ratio": 3}]})
    with pytest.raises(ConfigError, match="needs 'children'"):
        build({"op": "one_of"})
    with pytest.raises(ConfigError, match="'op' must be"):
        build({"ratio": 0.5})
    with pytest.raises(ConfigError, match="not an importable"):
        build({"op": "no.such.module:Thing"})


def test_ratios_are_normalised_to_float():
    assert Crop(ratio=1).to_config() == {"op": "crop", "p": 1.0, "ratio": 1.0}
    assert OneOf([Crop()], weights=[3]).to_config()["weights"] == [3.0]


# --- user extensions -----------------------------------------------------------------------


class Keep(Augmenter):
    """Not registered: reached through its dotted path."""

    name = "keep"

    @dataclass(frozen=True)
    class Config:
        keep_last: bool = False

    def _apply(self, batch, rng):
        return batch.copy()


def test_dotted_path_fallback_round_trips():
    aug = Keep(keep_last=True)
    cfg = aug.to_config()
    assert cfg["op"] == f"{__name__}:Keep"
    again = build(cfg)
    assert isinstance(again, Keep) and again.to_config() == cfg
    assert isinstance(build({"op": "shopaug.augment.augmenters:Crop"}), Crop)


def test_register_refuses_a_taken_name():
    with pytest.raises(ValueError, match="already taken"):
        register("crop")(type("Other", (Augmenter,), {}))
    assert AUGMENTERS["crop"] is Crop
