"""Augmentation recipes: an augmenter tree plus how the trainer should use it, in one file.

A recipe file (TOML, YAML or JSON) has a ``name``, a ``description``, a ``[train]`` table
read by the trainer and an ``[augment]`` tree read by :func:`~shopaug.augment.build`::

    name = "recommended"
    description = "..."
    [train]
    mode = "online"
    [augment]
    op = "one_of"
    p = 0.5
    [[augment.children]]
    op = "crop"
    ratio = 0.8

Recipes shipped with shopaug are loaded by name (``load_recipe("crop-mask-reorder")``);
``recipes()`` lists them.
"""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from shopaug._fs import read_mapping, write_file_atomic
from shopaug.augment.augmenters import Augmenter, build
from shopaug.exceptions import ConfigError

__all__ = [
    "MODES",
    "TRAIN_OPTIONS",
    "Recipe",
    "load_recipe",
    "read_recipe",
    "recipes",
    "write_recipe",
]

#: How the trainer uses the augmenter: on each batch ("online"), to grow the training set
#: before fitting ("offline"), or as two views for a contrastive loss ("contrastive").
MODES: tuple[str, ...] = ("online", "offline", "contrastive")

#: Known ``[train]`` options and what each must be.
TRAIN_OPTIONS: dict[str, str] = {
    "mode": f"one of {list(MODES)}",
    "copies": "an integer >= 1 (augmented copies per sequence, offline mode)",
    "cl_weight": "a number >= 0 (weight of the contrastive loss)",
    "cl_temperature": "a number > 0 (softmax temperature of the contrastive loss)",
    "cl_similarity": "'dot' or 'cos' (similarity of the contrastive loss)",
    "soft_labels": "a number in [0, 1) (label augmentation: share of each target's weight "
    "moved to its co-occurrence neighbours in the training data; full-softmax loss only)",
    "resample": "a table with 'op' naming a resampler (shopaug.augment.resample.RESAMPLERS) "
    "and its options: over/under-sampling of training sequences before training",
    "supervised": "true or false (DuoRec: contrast each sequence with another training "
    "sequence that has the same next item, instead of two augmented views)",
    "enrich": "true or false (item texts shorter than four words are enriched by Gemma "
    "3 270M with keyphrases, category and use before training; cached)",
    "text": "'none', 'fuse' or 'init' (item text knowledge from the MiniLM encoder: fused "
    "with or initialising the ID embeddings of models that read text, see SASRecConfig.text)",
}

_TOP_KEYS = ("name", "description", "train", "augment")


def _check_train(train: Any, where: str) -> dict[str, Any]:
    if not isinstance(train, dict):
        raise ConfigError(f"{where}: 'train' must be a table/mapping, got {train!r}")
    unknown = sorted(set(train) - set(TRAIN_OPTIONS))
    if unknown:
        raise ConfigError(
            f"{where}: unknown train option(s) {unknown}; known: {sorted(TRAIN_OPTIONS)}"
        )
    out = dict(train)
    out.setdefault("mode", "online")

    def bad(key: str) -> ConfigError:
        return ConfigError(
            f"{where}: train option '{key}' must be {TRAIN_OPTIONS[key]}, got {out[key]!r}"
        )

    if out["mode"] not in MODES:
        raise bad("mode")
    if "copies" in out:
        v = out["copies"]
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise bad("copies")
    for key, positive in (("cl_weight", False), ("cl_temperature", True)):
        if key in out:
            v = out[key]
            if isinstance(v, bool) or not isinstance(v, int | float):
                raise bad(key)
            if v < 0 or (positive and v == 0):
                raise bad(key)
            out[key] = float(v)
    for key in ("supervised", "enrich"):
        if key in out and not isinstance(out[key], bool):
            raise bad(key)
    if "soft_labels" in out:
        v = out["soft_labels"]
        if isinstance(v, bool) or not isinstance(v, int | float) or not 0 <= v < 1:
            raise bad("soft_labels")
        out["soft_labels"] = float(v)
    if "cl_similarity" in out and out["cl_similarity"] not in ("dot", "cos"):
        raise bad("cl_similarity")
    if "text" in out and out["text"] not in ("none", "fuse", "init"):
        raise bad("text")
    if "resample" in out:
        from shopaug.augment.resample import build as build_resampler

        spec = out["resample"]
        if not isinstance(spec, dict):
            raise bad("resample")
        if "op" in spec:  # recipes name operators with "op"; resamplers call it "name"
            spec = {"name": spec["op"], **{k: v for k, v in spec.items() if k != "op"}}
        try:
            out["resample"] = build_resampler(spec).to_config()
        except (ConfigError, ValueError, TypeError, KeyError) as e:
            raise ConfigError(f"{where}: train option 'resample': {e}") from None
    return out


@dataclass(frozen=True)
class Recipe:
    """A named augmentation recipe.

    Attributes:
        name: short name (a shipped recipe's file stem).
        description: one line for reports.
        augment: the augmenter config tree, normalised by ``build(...).to_config()`` (every
            option explicit), so a recipe compares equal to its written-and-read copy.
        train: options the trainer reads: ``mode`` (see ``MODES``), and optionally
            ``copies``, ``cl_weight``, ``cl_temperature``, ``supervised``.
    """

    name: str
    description: str = ""
    augment: dict[str, Any] = field(default_factory=lambda: {"op": "identity", "p": 1.0})
    train: dict[str, Any] = field(default_factory=lambda: {"mode": "online"})

    @classmethod
    def from_dict(
        cls, data: dict[str, Any], *, where: str = "recipe", name: str | None = None
    ) -> Recipe:
        """Validate a recipe mapping; ``where`` (the file) prefixes error messages and
        ``name`` is used when the mapping has none."""
        if not isinstance(data, dict):
            raise ConfigError(f"{where}: expected a table/mapping at the top level")
        unknown = sorted(set(data) - set(_TOP_KEYS))
        if unknown:
            raise ConfigError(f"{where}: unknown key(s) {unknown}; expected {', '.join(_TOP_KEYS)}")
        name = data.get("name", name)
        if not isinstance(name, str) or not name:
            raise ConfigError(f"{where}: 'name' must be a non-empty string, got {name!r}")
        description = data.get("description", "")
        if not isinstance(description, str):
            raise ConfigError(f"{where}: 'description' must be a string")
        if "augment" not in data:
            raise ConfigError(f"{where}: missing the 'augment' table (the augmenter tree)")
        augment = build(data["augment"], where=f"{where}: augment").to_config()
        train = _check_train(data.get("train", {}), where)
        return cls(name=name, description=description, augment=augment, train=train)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "train": dict(self.train),
            "augment": self.augment,
        }

    def build(self) -> Augmenter:
        """A fresh (unfitted) augmenter tree."""
        return build(self.augment, where=f"recipe {self.name}: augment")

    @property
    def mode(self) -> str:
        return self.train["mode"]


# --- files ---------------------------------------------------------------------------------


def read_recipe(path: str | Path) -> Recipe:
    """Read a ``.toml``, ``.yaml``/``.yml`` or ``.json`` recipe; errors name the file."""
    path = Path(path)
    return Recipe.from_dict(read_mapping(path, "recipe"), where=str(path), name=path.stem)


def write_recipe(recipe: Recipe, path: str | Path) -> Path:
    """Write a recipe as TOML, YAML or JSON (by suffix), atomically (temp file + rename)."""
    path = Path(path)
    data = recipe.to_dict()
    if path.suffix == ".toml":
        text = dumps_toml(data)
    elif path.suffix in (".yaml", ".yml"):
        import yaml

        text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    elif path.suffix == ".json":
        text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    else:
        raise ConfigError(f"{path}: expected a .toml, .yaml or .json recipe file")
    return write_file_atomic(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def _shipped() -> dict[str, Any]:
    folder = resources.files("shopaug") / "recipes"
    return {Path(str(p)).stem: p for p in folder.iterdir() if str(p).endswith(".toml")}


def recipes() -> list[str]:
    """Names of the recipes shipped with shopaug."""
    return sorted(_shipped())


def load_recipe(name_or_path: str | Path) -> Recipe:
    """A shipped recipe by name, or a recipe file by path."""
    spec = str(name_or_path)
    shipped = _shipped()
    if isinstance(name_or_path, str) and spec in shipped:
        data = tomllib.loads(shipped[spec].read_text(encoding="utf-8"))
        return Recipe.from_dict(data, where=f"recipe {spec}", name=spec)
    path = Path(spec)
    if path.suffix in (".toml", ".yaml", ".yml", ".json") or path.exists():
        return read_recipe(path)
    raise ConfigError(f"unknown recipe {spec!r}; shipped: {sorted(shipped)}, or give a file path")


# --- a small TOML writer for recipe-shaped data --------------------------------------------

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def _key(k: str) -> str:
    return k if _BARE_KEY.match(k) else json.dumps(k)


def _scalar(v: Any, where: str) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if v != v:
            return "nan"
        if v in (float("inf"), float("-inf")):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)  # a valid TOML basic string
    if isinstance(v, list | tuple) and not any(isinstance(x, dict) for x in v):
        return "[" + ", ".join(_scalar(x, where) for x in v) + "]"
    raise ConfigError(f"{where}: cannot write {v!r} to TOML")


def _is_table_list(v: Any) -> bool:
    return isinstance(v, list) and bool(v) and all(isinstance(x, dict) for x in v)


def _table(data: dict[str, Any], prefix: str, lines: list[str]) -> None:
    """Scalars of ``data`` first, then sub-tables and arrays of tables, depth first."""
    for k, v in data.items():
        if not isinstance(v, dict) and not _is_table_list(v):
            lines.append(f"{_key(k)} = {_scalar(v, prefix + k)}")
    for k, v in data.items():
        name = f"{prefix}{_key(k)}"
        if isinstance(v, dict):
            lines += ["", f"[{name}]"]
            _table(v, name + ".", lines)
        elif _is_table_list(v):
            for item in v:
                lines += ["", f"[[{name}]]"]
                _table(item, name + ".", lines)


def dumps_toml(data: dict[str, Any]) -> str:
    """TOML text for nested tables, arrays of tables and scalar (or scalar-list) values,
    the shapes a recipe has. ``tomllib.loads(dumps_toml(d)) == d`` for such ``d``."""
    lines: list[str] = []
    _table(data, "", lines)
    return "\n".join(lines).lstrip("\n") + "\n"
