"""Sample augmentation for sequential recommendation.

Layers, bottom up:

* ``ops``: the functional core, vectorized numpy ops on left-padded id batches that take an
  explicit ``np.random.Generator`` (``crop``, ``mask``, ``reorder``, ``substitute``,
  ``insert``, ``noise``; ``prefixes`` and ``windows`` expand sequences into samples).
* ``neighbors``: item co-occurrence neighbours from the training sequences.
* ``augmenters``: small classes over validated configs (``Crop``, ``Mask``, ...), composed by
  ``Compose`` / ``OneOf``, registered by name in ``AUGMENTERS`` and rebuilt by ``build``.
* ``recipe``: an augmenter tree plus training options in one TOML/YAML/JSON file.
* ``knowledge``: language-model knowledge as arrays (item text vectors, text neighbours,
  user profile vectors); ``pseudo``: LLMRec-style pseudo-interactions for sparse users.
* ``expand``: offline expansion of a training set, with the provenance of every sample.
* ``synthetic``: synthetic behaviour logs fitted on the training partition (Markov chain,
  its differentially private release, SASRec decoding, CTGAN/TVAE side tables).

Example:
    >>> import numpy as np
    >>> from shopaug.augment import Crop
    >>> batch = np.array([[0, 0, 3, 4, 5, 6, 7]])
    >>> Crop(ratio=0.6)(batch, rng=0).shape
    (1, 7)
"""

from shopaug.augment import ops
from shopaug.augment.augmenters import (
    AUGMENTERS,
    Augmented,
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
from shopaug.augment.expand import EXPANDED_COLUMNS, expand, read_expanded, write_expanded
from shopaug.augment.neighbors import cooccurrence_neighbors
from shopaug.augment.pseudo import Pseudo
from shopaug.augment.recipe import (
    MODES,
    TRAIN_OPTIONS,
    Recipe,
    load_recipe,
    read_recipe,
    recipes,
    write_recipe,
)
from shopaug.augment.synthetic import (
    GENERATORS,
    DPMarkov,
    Markov,
    SASRecSampler,
    SequenceGenerator,
    TabularSynth,
    item_table,
    redraw_copies,
    synthesize,
    user_table,
    write_synthetic,
)

__all__ = [
    "AUGMENTERS",
    "EXPANDED_COLUMNS",
    "GENERATORS",
    "MODES",
    "TRAIN_OPTIONS",
    "Augmented",
    "Augmenter",
    "Compose",
    "Crop",
    "DPMarkov",
    "Identity",
    "Insert",
    "Markov",
    "Mask",
    "Noise",
    "NotFittedError",
    "OneOf",
    "Pseudo",
    "Recipe",
    "Reorder",
    "SASRecSampler",
    "SequenceGenerator",
    "Substitute",
    "TabularSynth",
    "build",
    "cooccurrence_neighbors",
    "expand",
    "item_table",
    "load_recipe",
    "ops",
    "read_expanded",
    "read_recipe",
    "recipes",
    "redraw_copies",
    "register",
    "synthesize",
    "user_table",
    "write_expanded",
    "write_recipe",
    "write_synthetic",
]
