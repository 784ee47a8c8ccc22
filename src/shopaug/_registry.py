"""Named registries of pluggable classes and validated config dataclasses.

Augmenters, negative samplers and resamplers are looked up by a short name (or a dotted path
to a user's own subclass) and rebuilt from plain mappings, so recipes and configs stay data.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from shopaug.exceptions import ConfigError

T = TypeVar("T")
C = TypeVar("C", bound=type)


def config_from_dict(cls: type, values: dict[str, Any], *, where: str) -> Any:
    """Build a config dataclass, rejecting unknown keys with the list of known ones."""
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - names)
    if unknown:
        raise ConfigError(f"{where}: unknown option(s) {unknown}; known: {sorted(names)}")
    try:
        return cls(**values)
    except ConfigError:
        raise  # already says where and what
    except (TypeError, ValueError) as e:
        raise ConfigError(f"{where}: {e}") from None


def resolve_config(cls: type, config: Any, params: dict[str, Any], *, where: str) -> Any:
    """A plugin's config: built from ``params``, or ``config`` (an instance of ``cls``)
    with ``params`` on top; anything else is refused naming ``where``."""
    if config is None:
        return config_from_dict(cls, params, where=where)
    if not isinstance(config, cls):
        raise ConfigError(f"{where}: config must be a {cls.__qualname__}")
    if params:
        return config_from_dict(cls, {**config_fields(config), **params}, where=where)
    return config


def config_fields(config: Any) -> dict[str, Any]:
    """A config dataclass as a flat dict (no deep copy, unlike ``dataclasses.asdict``)."""
    return {f.name: getattr(config, f.name) for f in dataclasses.fields(config)}


class Registry(Generic[T]):
    """Classes derived from ``base`` by name; ``table`` is the plain dict of them.

    Args:
        kind: what the classes are, for messages ("sampler", "resampler", ...).
        base: the base class every entry (and every dotted-path class) must derive from.
    """

    def __init__(self, kind: str, base: type[T]) -> None:
        self.kind = kind
        self.base = base
        self.table: dict[str, type[T]] = {}

    def register(self, name: str) -> Callable[[C], C]:
        """Class decorator: available by ``name``; sets ``cls.name``."""

        def deco(cls: C) -> C:
            if self.table.get(name, cls) is not cls:
                raise ValueError(
                    f"{self.kind} name {name!r} is already taken by {self.table[name]}"
                )
            cls.name = name
            self.table[name] = cls
            return cls

        return deco

    def resolve(self, name: Any) -> type[T]:
        """The class registered as ``name``, or a dotted path such as ``pkg.mod.MyClass``."""
        if not isinstance(name, str):
            raise ConfigError(f"{self.kind} name must be a string, got {name!r}")
        if name in self.table:
            return self.table[name]
        base = self.base.__name__
        if "." in name:
            module, _, attr = name.rpartition(".")
            try:
                cls = getattr(importlib.import_module(module), attr)
            except (ImportError, AttributeError) as e:
                raise ConfigError(f"{self.kind} {name!r}: cannot import it ({e})") from None
            if isinstance(cls, type) and issubclass(cls, self.base):
                return cls
            raise ConfigError(f"{self.kind} {name!r}: {cls!r} is not a {base} subclass")
        raise ConfigError(
            f"unknown {self.kind} {name!r}; available: {sorted(self.table)} "
            f"or a dotted path to a {base} subclass"
        )
