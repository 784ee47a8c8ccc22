"""Query perturbations (typo, swap, drop_char, synonym, drop_word, reorder) and the WordNet
they draw synonyms from, installed for real from Debian's pinned packages."""

import os
import subprocess
import sys
import threading

import nltk
import numpy as np
import pytest

from shopaug.exceptions import ShopaugError
from shopaug.search import _wordnet
from shopaug.search._perturb import (
    KEYBOARD_NEIGHBOURS,
    OPS,
    Perturber,
    drop_char,
    drop_word,
    perturbed_set,
    reorder,
    swap,
    synonym,
    typo,
)
from shopaug.search._wordnet import (
    LEXNAMES,
    WordNetDownloadError,
    WordNetError,
    download_debs,
    ensure_wordnet,
    install_wordnet,
    synonyms,
)

SEEDS = range(40)
QUERIES = [
    "wireless mouse",
    "usb c cable 2m",
    "1/2 in drill bit",
    "Leather Couch",
    "NIKE running shoes",
    "tv",
    "4k tv 55 inch",
    "iphone 15 pro max case",
]
CHAR_OPS = ("typo", "swap", "drop_char", "drop_word", "reorder")  # no WordNet needed


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


# --- character ops ----------------------------------------------------------------------------


def test_keyboard_neighbours_are_adjacent_keys():
    assert set(KEYBOARD_NEIGHBOURS["s"]) == set("adwezx")
    assert set(KEYBOARD_NEIGHBOURS["g"]) == set("fhtyvb")
    assert set(KEYBOARD_NEIGHBOURS["q"]) == set("wa")
    assert set(KEYBOARD_NEIGHBOURS["m"]) == set("njk")
    for key, near in KEYBOARD_NEIGHBOURS.items():  # adjacency is symmetric
        assert all(key in KEYBOARD_NEIGHBOURS[n] for n in near)


@pytest.mark.parametrize("text", ["sofa bed 2x4", "SOFA", "Grey Sofa"])
def test_typo_replaces_one_letter_by_a_keyboard_neighbour_keeping_case(text):
    for seed in SEEDS:
        out = typo(text, rng(seed))
        diff = [i for i, (a, b) in enumerate(zip(text, out, strict=True)) if a != b]
        assert len(diff) == 1, out
        before, after = text[diff[0]], out[diff[0]]
        assert before.isalpha() and after.lower() in KEYBOARD_NEIGHBOURS[before.lower()]
        assert after.isupper() == before.isupper()


def test_swap_transposes_two_adjacent_letters_of_a_word():
    text = "sofa 2x4 bed"
    seen = set()
    for seed in SEEDS:
        out = swap(text, rng(seed))
        i = next(i for i, (a, b) in enumerate(zip(text, out, strict=True)) if a != b)
        assert out == text[:i] + text[i + 1] + text[i] + text[i + 2 :]
        assert text[i].isalpha() and text[i + 1].isalpha()
        seen.add(out)
    assert len(seen) > 3  # not always the same pair
    assert swap("aa 11", rng()) == "aa 11"  # equal letters: swapping changes nothing


def test_drop_char_deletes_a_letter_of_a_long_word_only():
    text = "usb 1/2 in cable"
    for seed in SEEDS:
        out = drop_char(text, rng(seed))
        assert out.startswith("usb 1/2 in ") and len(out) == len(text) - 1
        assert out[len("usb 1/2 in ") :] in {"cable"[:i] + "cable"[i + 1 :] for i in range(5)}
    assert drop_char("usb 1/2 in", rng()) == "usb 1/2 in"  # no word of 4 letters


@pytest.mark.parametrize("op", [typo, swap, drop_char])
def test_character_ops_never_touch_digits(op):
    for seed in SEEDS:
        out = op("1/2 in 10mm bolts", rng(seed))
        assert [c for c in out if not c.isalpha()] == list("1/2  10 ")
    assert op("123 4/5", rng()) == "123 4/5"


def test_drop_word_removes_one_word_from_three_or_more():
    outs = {drop_word("red leather sofa", rng(seed)) for seed in SEEDS}
    assert outs == {"leather sofa", "red sofa", "red leather"}
    assert drop_word("leather sofa", rng()) == "leather sofa"


def test_reorder_shuffles_words_and_keeps_them():
    assert reorder("leather couch", rng()) == "couch leather"
    for seed in SEEDS:
        out = reorder("red  leather sofa 2m", rng(seed))
        assert out != "red  leather sofa 2m"
        assert sorted(out.split()) == sorted("red leather sofa 2m".split())
        assert "  " in out  # the gaps between words stay where they were
    assert reorder("sofa", rng()) == "sofa"
    assert reorder("tv tv", rng()) == "tv tv"


# --- Perturber --------------------------------------------------------------------------------


def test_same_seed_same_output_other_seed_other_output():
    perturb = Perturber(ops=CHAR_OPS, n_edits=2)
    first = perturb(QUERIES, rng(7))
    assert first == perturb(QUERIES, rng(7))
    assert first != perturb(QUERIES, rng(8))


def test_inapplicable_ops_are_never_chosen():
    perturb = Perturber(ops=("reorder", "drop_word"))
    for seed in SEEDS:  # one word: nothing applies; two words: only reorder does
        assert perturb(["sofa", "grey sofa"], rng(seed)) == ["sofa", "sofa grey"]
    assert Perturber(ops=("typo", "swap", "drop_char"))(["123", "4/5 6"], rng()) == [
        "123",
        "4/5 6",
    ]


@pytest.mark.parametrize("n_edits", [1, 2, 3])
def test_output_differs_whenever_an_op_applies(n_edits):
    perturb = Perturber(ops=CHAR_OPS, n_edits=n_edits)
    for seed in SEEDS:
        out = perturb(QUERIES, rng(seed))
        assert all(o != q for o, q in zip(out, QUERIES, strict=True))
    # the second swap of "ab" undoes the first: a third edit makes it differ again
    assert all(Perturber(ops=("swap",), n_edits=2)(["ab"], rng(s)) == ["ba"] for s in SEEDS)


def test_unknown_ops_and_bad_settings_are_refused():
    with pytest.raises(ValueError, match="'tpyo'") as e:
        Perturber(ops=("typo", "tpyo"))
    assert all(name in str(e.value) for name in OPS)
    with pytest.raises(ValueError, match="n_edits"):
        Perturber(n_edits=0)
    with pytest.raises(TypeError, match="one string"):
        Perturber(ops=CHAR_OPS)("sofa", rng())
    assert Perturber(ops=["swap", "typo"]).ops == ("swap", "typo")  # a list from a config


def test_perturbed_set_keeps_only_the_changed_queries():
    original, perturbed = perturbed_set(["tv", "4k tv", "123"], rng(), ops=["reorder"])
    assert (original, perturbed) == (["4k tv"], ["tv 4k"])


# --- WordNet ---------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def wordnet_root():
    """The real WordNet: the venv's copy, or a download into it on the first run."""
    return ensure_wordnet()


def test_synonyms_from_wordnet(wordnet_root):
    assert "sofa" in synonyms("couch")
    assert synonyms("couch")[0] == "sofa"  # the most frequent sense comes first
    assert "couch" not in synonyms("Couches")  # a base form is not a synonym
    assert "television" in synonyms("TV")
    assert all(s == s.lower() and "_" not in s for s in synonyms("tv"))
    assert synonyms("xqzzv") == [] and synonyms("") == []
    synonyms("couch").clear()  # callers get a copy, not the cached value
    assert "sofa" in synonyms("couch")
    with pytest.raises(ValueError, match="pos"):
        synonyms("couch", pos="x")


def test_synonym_op_replaces_a_word_by_a_wordnet_synonym(wordnet_root):
    for seed in range(10):
        first, second = synonym("leather couch", rng(seed)).split(" ", 1)
        assert first == "leather"  # WordNet knows no noun or adjective synonym of it
        assert second in synonyms("couch")
    assert synonym("LEATHER COUCH", rng()).split(" ", 1)[1].isupper()
    assert synonym("1/2 in", rng()) == "1/2 in"  # numbers and units are kept
    assert Perturber(ops=("synonym",))(["12 oz", "leather"], rng()) == ["12 oz", "leather"]


# --- installing WordNet from the Debian packages -----------------------------------------------


@pytest.fixture(scope="module")
def debs(tmp_path_factory):
    """The two pinned .deb files, downloaded for real (8 MB) once for this module; the
    Debian registry is a requirement of the install, so no network is a failure, not a skip."""
    return download_debs(tmp_path_factory.mktemp("debs"))


def test_install_unpacks_the_debs_and_nltk_reads_the_result(tmp_path, debs):
    root = tmp_path / "nltk_data"
    assert install_wordnet(root, debs=debs) == root
    corpus = root / "corpora" / "wordnet"
    lexnames = (corpus / "lexnames").read_text()
    assert lexnames == LEXNAMES and len(lexnames.splitlines()) == 45
    lines = lexnames.splitlines()
    assert lines[0] == "00\tadj.all\t3" and lines[-1] == "44\tadj.ppl\t3"
    assert lines[3] == "03\tnoun.Tops\t1" and lines[29] == "29\tverb.body\t2"
    assert lines[2] == "02\tadv.all\t4"
    assert "Princeton" in (corpus / "LICENSE").read_text()
    assert os.listdir(root / "corpora") == ["wordnet"]  # no temporary folder left
    # a fresh interpreter, so this test's nltk.data.path stays as it was
    code = (
        "from nltk.corpus import wordnet as wn; print(wn.root.path); print(wn.get_version()); "
        "print(' '.join(l.name() for l in wn.synsets('couch')[0].lemmas()))"
    )
    env = {**os.environ, "NLTK_DATA": str(root)}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    path, version, lemmas = done.stdout.splitlines()
    assert path == str(corpus) and version == "3.0" and "sofa" in lemmas.split()


def test_concurrent_installs_replace_an_incomplete_copy_with_one_whole_copy(tmp_path, debs):
    corpus = tmp_path / "corpora" / "wordnet"
    corpus.mkdir(parents=True)
    (corpus / "index.noun").write_text("copied by hand, no lexnames\n")
    start = threading.Barrier(3)
    errors = []

    def install():
        start.wait()
        try:
            install_wordnet(tmp_path, debs=debs[::-1])  # any order of the files
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=install) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert not _wordnet._missing(corpus)
    assert os.listdir(tmp_path / "corpora") == ["wordnet"]


def test_a_failed_install_leaves_no_folder(tmp_path, debs, monkeypatch):
    def unpack_then_fail(blob, into, *, where):
        (into / "data.noun").write_text("half")
        raise OSError("disk full")

    monkeypatch.setattr(_wordnet, "_unpack_deb", unpack_then_fail)
    with pytest.raises(OSError, match="disk full"):
        install_wordnet(tmp_path, debs=debs)
    assert os.listdir(tmp_path / "corpora") == []
    with pytest.raises(WordNetError, match="wordnet-sense-index"):
        install_wordnet(tmp_path, debs=debs[:1])  # one package is not enough


def test_download_failure_names_the_url_and_the_manual_install(tmp_path, monkeypatch):
    url = "http://127.0.0.1:9/wordnet-base_3.0-37_all.deb"  # nothing listens on port 9
    monkeypatch.setattr(_wordnet, "_DEBS", (_wordnet._Deb(url, "0" * 64),))
    with pytest.raises(WordNetDownloadError) as e:
        install_wordnet(tmp_path)
    assert isinstance(e.value, ShopaugError)
    assert url in str(e.value)
    assert "apt-get install wordnet-base wordnet-sense-index" in str(e.value)
    assert not (tmp_path / "corpora" / "wordnet").exists()


def test_ensure_wordnet_reuses_an_installed_copy(tmp_path, debs, monkeypatch, capsys):
    root = install_wordnet(tmp_path / "nltk_data", debs=debs)
    monkeypatch.setattr(nltk.data, "path", list(nltk.data.path))  # restored after the test

    def no_download(*args, **kwargs):
        raise AssertionError("downloaded although a copy exists")

    monkeypatch.setattr(_wordnet, "_download", no_download)
    assert ensure_wordnet(root) == root
    assert str(root) in nltk.data.path  # nltk reads corpora from its search path only
    assert _wordnet._main(["--dest", str(root)]) == 0
    assert capsys.readouterr().out.strip() == str(root)
