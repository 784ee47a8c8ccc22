"""Datasets shipped inside the package, so the demo and tests need no downloads."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from shopaug.exceptions import DataError

BUNDLED = {"amazon-beauty": "amazon_beauty", "homedepot-search": "homedepot_search"}


def bundled_path(name: str) -> Path:
    """Folder of a bundled dataset (see its README.md for provenance)."""
    if name not in BUNDLED:
        raise DataError(
            f"unknown bundled dataset {name!r}; expected one of {sorted(BUNDLED)}",
            file=f"bundled:{name}",
        )
    return Path(str(resources.files("shopaug.data") / "datasets" / BUNDLED[name]))


def resolve_file(spec: str | Path) -> Path:
    """A file path, with ``bundled:NAME/FILE`` naming a file of a bundled dataset."""
    text = str(spec)
    if text.startswith("bundled:"):
        name, _, rest = text[len("bundled:"):].partition("/")
        return bundled_path(name) / rest if rest else bundled_path(name)
    return Path(spec)
