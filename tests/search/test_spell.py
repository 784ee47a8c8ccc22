"""Query spelling correction against the catalogue vocabulary."""

from shopaug.search._spell import SpellCorrector, _distance

TITLES = [
    "Rheem Performance 50 Gal. Water Heater", "Rheem Tankless Water Heater",
    "Orbit Lawn Sprinkler", "Rain Bird Lawn Sprinkler Head", "BEHR DeckOver Coating",
    "Rain Barrel 50 gal.", "Rain Barrel Diverter", "Brass Chandelier 12-Light",
    "Crystal Chandelier",
]


def test_distance_counts_edits_and_transpositions():
    assert _distance("sprinkler", "sprinkler") == 0
    assert _distance("sprinkelr", "sprinkler") == 1  # one adjacent transposition
    assert _distance("sprkinler", "sprinkler") == 2  # the k moved two places
    assert _distance("rheum", "rheem") == 1
    assert _distance("chandilier", "chandelier") == 1
    assert _distance("abc", "") == 3


def test_corrects_unknown_words_only():
    sc = SpellCorrector().fit(TITLES)
    assert sc(["rheum water heater", "lawn sprkinler", "brass chandilier"]) == [
        "rheem water heater", "lawn sprinkler", "brass chandelier"]
    # known words, short words and numbers are left alone; case is folded
    assert sc(["Rain 50 gal zq"]) == ["rain 50 gal zq"]


def test_splits_run_together_words_and_knows_camel_case():
    sc = SpellCorrector().fit(TITLES)
    assert sc(["rainbarrel"]) == ["rain barrel"]
    assert sc(["deckover"]) == ["deckover"]  # "DeckOver" is a catalogue word


def test_json_round_trip():
    sc = SpellCorrector().fit(TITLES)
    again = SpellCorrector.from_json(sc.to_json())
    qs = ["rheum heater", "rainbarrel", "chandilier"]
    assert again(qs) == sc(qs)
