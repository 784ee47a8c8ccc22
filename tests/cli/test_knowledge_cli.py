"""shopaug knowledge: real MiniLM on a small catalogue; files, cache, training-only profiles."""

import json

import numpy as np
import pytest
from safetensors.numpy import load_file
from test_cli import run  # tests/cli is on sys.path (pytest's prepend mode)

PRODUCTS = ["nail polish", "lipstick", "shampoo", "face cream", "eyeliner", "hair dryer"]
COLORS = ["red", "blue", "green", "black", "white", "gold"]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """36 items with titles, 30 users of 6 items (a dataset folder in Beauty's layout)."""
    d = tmp_path_factory.mktemp("shop")
    rng = np.random.default_rng(0)
    rows = [[u + 1, *rng.choice(np.arange(1, 37), 6, replace=False)] for u in range(30)]
    (d / "sequences.txt").write_text("\n".join(" ".join(map(str, r)) for r in rows) + "\n")
    titles = [f"{c} {p}" for p in PRODUCTS for c in COLORS]
    (d / "items.tsv").write_text(
        "item_id\tasin\ttext\n" + "".join(f"{i}\tA{i}\t{t}\n" for i, t in enumerate(titles, 1))
    )
    return d, rows


@pytest.fixture(scope="module")
def first(folder, tmp_path_factory):
    out = tmp_path_factory.mktemp("knowledge") / "k"
    p = run("knowledge", "--data", folder[0], "--out", out, "--no-progress")
    return out, p


def test_knowledge_writes_vectors_neighbours_and_training_profiles(folder, first):
    _, rows = folder
    out, p = first
    assert "36 items, 30 user profiles" in p.stdout
    k = load_file(str(out / "knowledge.safetensors"))
    vec, nb, prof = k["item_vectors"], k["text_neighbors"], k["user_profiles"]
    assert vec.shape == (37, 384) and nb.shape == (37, 10) and prof.shape == (30, 384)
    np.testing.assert_allclose(np.linalg.norm(vec[1:], axis=1), 1, atol=1e-5)
    # "red nail polish" (1): its nearest titles are other nail polishes or red items
    assert set(nb[1, :3]) <= {2, 3, 4, 5, 6, 7, 13, 19, 25, 31}
    # profiles pool the TRAINING history only: the last two items are held out
    from shopaug.augment.knowledge import profile_embeddings
    from shopaug.data import Sequences

    manifest = json.loads((out / "manifest.json").read_text())
    # other tests of the session may have cached some of these titles already
    assert manifest["split"] == "loo" and 0 <= manifest["encoder"]["encoded"] <= 36
    items = (out / "items.tsv").read_text().splitlines()
    ext_to_int = {ln.split("\t")[0]: i for i, ln in enumerate(items[1:], 1)}
    train = Sequences.from_lists([[ext_to_int[str(x)] for x in r[1:-2]] for r in rows])
    np.testing.assert_allclose(profile_embeddings(train, vec), prof, atol=1e-5)


def test_second_run_is_served_from_the_cache(folder, first, tmp_path):
    run("knowledge", "--data", folder[0], "--out", tmp_path / "b", "--no-progress")
    m = json.loads((tmp_path / "b" / "manifest.json").read_text())
    assert m["encoder"]["encoded"] == 0
    a = load_file(str(first[0] / "knowledge.safetensors"))
    b = load_file(str(tmp_path / "b" / "knowledge.safetensors"))
    np.testing.assert_array_equal(a["item_vectors"], b["item_vectors"])


def test_bad_option_exits_with_a_message(folder, tmp_path):
    data, _ = folder
    p = run("knowledge", "--data", data, "--out", tmp_path / "k", "--neighbors", "0",
            check=False)
    assert p.returncode != 0 and "--neighbors" in p.stderr
    assert not (tmp_path / "k").exists()


def test_best_preset_end_to_end_on_other_data(folder, tmp_path):
    """The command issue 4's figures come from, on a dataset that is not Beauty: real MiniLM
    text fusion, then both late-fusion weights chosen on validation and recorded."""
    data, _ = folder
    cfg = tmp_path / "small.toml"
    cfg.write_text("[config]\ndim = 16\nheads = 1\nbatch_size = 32\n")
    out = tmp_path / "run"
    run("train", "--data", data, "--preset", "best", "--config", cfg, "--epochs", "2",
        "--out", out, "--no-progress")
    rec = json.loads((out / "results.json").read_text())["models"]["sasrec"]
    # two members, two epochs each
    assert rec["recipe"]["train"]["text"] == "fuse" and rec["epochs_run"] == 4
    chosen = [(h["member"], k, h) for h in rec["history"]
              for k in ("text_blend", "cooc_blend") if k in h]
    assert [(i, k) for i, k, _ in chosen] == [
        (0, "text_blend"), (0, "cooc_blend"), (1, "text_blend"), (1, "cooc_blend")]
    for _, name, h in chosen:
        # the weight kept is the one with the best validation figure of its grid
        grid = {float(w): v for w, v in h[name].items()}
        assert h["chosen"] == max(grid, key=lambda w: (grid[w], -w))
    assert 0 <= rec["test"]["exclude"]["NDCG@10"] <= 1
    # the saved run reloads and scores the same
    p = run("evaluate", out, "--json")
    assert json.loads(p.stdout)["NDCG@10"] == pytest.approx(rec["test"]["exclude"]["NDCG@10"])
