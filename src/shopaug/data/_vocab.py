"""Mapping between external ids (strings, as in the user's files) and dense internal ids."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np


class IdVocab:
    """Dense internal ids for external string ids.

    Internal ids start at ``offset``: users use 0, items use 1 so that 0 can pad sequences.

    Args:
        external: the external ids, in internal-id order.
        offset: the internal id of ``external[0]``.
    """

    def __init__(self, external: Sequence[str], *, offset: int = 0) -> None:
        self.external = np.asarray(list(external), dtype=object)
        self.offset = offset
        self._index = {e: i + offset for i, e in enumerate(self.external)}
        if len(self._index) != len(self.external):
            raise ValueError("external ids must be unique")

    def __len__(self) -> int:
        return len(self.external)

    def __contains__(self, ext: object) -> bool:
        return ext in self._index

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, IdVocab)
            and self.offset == other.offset
            and np.array_equal(self.external, other.external)
        )

    __hash__ = None  # type: ignore[assignment]

    @classmethod
    def from_values(cls, values: Iterable[str], *, offset: int = 0) -> IdVocab:
        """Build a vocabulary in order of first appearance."""
        return cls(list(dict.fromkeys(values)), offset=offset)

    def to_internal(self, ext: Iterable[str] | np.ndarray) -> np.ndarray:
        """Internal ids for external ids; raises KeyError naming the first unknown id."""
        out = []
        for e in ext:
            try:
                out.append(self._index[e])
            except KeyError:
                raise KeyError(f"unknown id {e!r}") from None
        return np.asarray(out, dtype=np.int64)

    def get(self, ext: str) -> int | None:
        """Internal id of one external id, or None if unknown."""
        return self._index.get(ext)

    def to_external(self, internal: np.ndarray | Sequence[int]) -> np.ndarray:
        """External ids for internal ids."""
        idx = np.asarray(internal, dtype=np.int64) - self.offset
        if idx.size and (idx.min() < 0 or idx.max() >= len(self.external)):
            raise KeyError("internal id out of range")
        return self.external[idx]
