"""File-system helpers: nothing a user sees is ever half-written."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from shopaug.exceptions import ConfigError


def write_dir_atomic(out: str | Path, fill: Callable[[Path], None]) -> Path:
    """Build a folder with ``fill(tmp)`` in a temporary sibling, then move it into place.

    An existing ``out`` is replaced only after ``fill`` succeeded; on any error the temporary
    folder is removed and ``out`` is left as it was.
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        fill(tmp)
        tmp.chmod(0o755)  # mkdtemp makes it owner-only
        for f in tmp.rglob("*"):
            if f.is_file() and f.stat().st_mode & 0o777 == 0o600:
                f.chmod(0o644)  # so does safetensors' save_file
        if out.exists():
            old = out.with_name(f".{out.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(out, old)
            os.replace(tmp, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def write_file_atomic(path: str | Path, fill: Callable[[Path], None]) -> Path:
    """Write a file with ``fill(tmp)`` to a temporary sibling, then rename it into place:
    readers see the old file or the whole new one, never half of it. World-readable."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        fill(Path(tmp))
        os.chmod(tmp, 0o644)  # mkstemp makes it owner-only
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def read_mapping(path: str | Path, what: str = "config") -> dict[str, Any]:
    """Parse a TOML, YAML or JSON file into a dict, naming the file on every error."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: {what} file not found")
    text = path.read_text(encoding="utf-8")
    try:
        if path.suffix == ".toml":
            data = tomllib.loads(text)
        elif path.suffix in (".yaml", ".yml"):
            import yaml

            try:
                data = yaml.safe_load(text) or {}
            except yaml.YAMLError as e:
                raise ConfigError(f"{path}: cannot parse: {e}") from None
        elif path.suffix == ".json":
            data = json.loads(text)
        else:
            raise ConfigError(f"{path}: expected a .toml, .yaml or .json {what} file")
    except (tomllib.TOMLDecodeError, json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: cannot parse: {e}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a table/mapping at the top level")
    return data
