"""Per-user item sequences in a compact CSR layout."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np


class Sequences:
    """Item-id sequences, one per row, stored as ``indptr`` + ``items`` (CSR without values).

    Row ``r`` is ``items[indptr[r]:indptr[r+1]]``, oldest item first.
    """

    def __init__(self, indptr: np.ndarray, items: np.ndarray) -> None:
        self.indptr = np.asarray(indptr, dtype=np.int64)
        self.items = np.asarray(items, dtype=np.int64)
        if self.indptr.ndim != 1 or self.indptr[0] != 0 or self.indptr[-1] != len(self.items):
            raise ValueError("indptr must start at 0 and end at len(items)")

    @classmethod
    def from_lists(cls, rows: list[list[int]] | list[np.ndarray]) -> Sequences:
        lengths = np.fromiter((len(r) for r in rows), dtype=np.int64, count=len(rows))
        indptr = np.concatenate([[0], np.cumsum(lengths)])
        items = np.concatenate([np.asarray(r, dtype=np.int64) for r in rows]) if rows else []
        return cls(indptr, np.asarray(items, dtype=np.int64))

    def __len__(self) -> int:
        return len(self.indptr) - 1

    def __getitem__(self, row: int) -> np.ndarray:
        return self.items[self.indptr[row] : self.indptr[row + 1]]

    def __iter__(self) -> Iterator[np.ndarray]:
        for r in range(len(self)):
            yield self[r]

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.indptr)

    @property
    def n_interactions(self) -> int:
        return len(self.items)

    def rows(self, rows: np.ndarray) -> Sequences:
        """A new Sequences holding the given rows, in that order."""
        rows = np.asarray(rows, dtype=np.int64)
        lengths = self.lengths[rows]
        indptr = np.concatenate([[0], np.cumsum(lengths)])
        # Gather all row slices at once: index of each output element in self.items.
        starts = np.repeat(self.indptr[rows], lengths)
        offsets = np.arange(indptr[-1]) - np.repeat(indptr[:-1], lengths)
        return Sequences(indptr, self.items[starts + offsets])

    @classmethod
    def from_padded(cls, batch: np.ndarray) -> Sequences:
        """The rows of a left-padded ``(B, L)`` id batch, padding (0) dropped."""
        real = batch != 0
        return cls(np.concatenate([[0], np.cumsum(real.sum(axis=1))]), batch[real])

    @classmethod
    def concat(cls, parts: list[Sequences]) -> Sequences:
        """The rows of ``parts`` one after another."""
        if not parts:
            return cls(np.zeros(1, np.int64), np.empty(0, np.int64))
        lengths = np.concatenate([p.lengths for p in parts])
        return cls(
            np.concatenate([[0], np.cumsum(lengths)]), np.concatenate([p.items for p in parts])
        )

    def keep(self, mask: np.ndarray) -> Sequences:
        """The same rows holding only the items where ``mask`` (one flag per item) is true."""
        row = np.repeat(np.arange(len(self)), self.lengths)
        lengths = np.bincount(row[mask], minlength=len(self))
        return Sequences(np.concatenate([[0], np.cumsum(lengths)]), self.items[mask])

    def rows_in(self, other: Sequences) -> np.ndarray:
        """One flag per row: a non-empty row equal, item for item, to some row of ``other``
        (exact copies of sequences)."""
        known = {r.tobytes() for r in other if len(r)}
        return np.fromiter((len(r) > 0 and r.tobytes() in known for r in self), dtype=bool,
                           count=len(self))

    def drop_last(self, n: int = 1) -> tuple[Sequences, np.ndarray]:
        """Split off the last ``n`` items of every row (rows must have at least ``n``).

        Returns the shortened sequences and an array (rows, n) of the removed items.
        """
        lengths = self.lengths
        if (lengths < n).any():
            raise ValueError(f"every row needs at least {n} items")
        ends = self.indptr[1:]
        tail = self.items[ends[:, None] - n + np.arange(n)[None, :]]
        keep = np.ones(len(self.items), dtype=bool)
        keep[(ends[:, None] - n + np.arange(n)[None, :]).ravel()] = False
        new_indptr = self.indptr - np.arange(len(self.indptr)) * n
        return Sequences(new_indptr, self.items[keep]), tail

    def append(self, items: np.ndarray) -> Sequences:
        """Append one item to every row."""
        items = np.asarray(items, dtype=np.int64)
        if len(items) != len(self):
            raise ValueError("need one item per row")
        lengths = self.lengths + 1
        indptr = np.concatenate([[0], np.cumsum(lengths)])
        out = np.empty(indptr[-1], dtype=np.int64)
        mask = np.ones(indptr[-1], dtype=bool)
        mask[indptr[1:] - 1] = False
        out[mask] = self.items
        out[indptr[1:] - 1] = items
        return Sequences(indptr, out)

    def padded(self, max_len: int, rows: np.ndarray | None = None) -> np.ndarray:
        """Left-padded (with 0) array (n_rows, max_len) of the last ``max_len`` items per row."""
        seqs = self if rows is None else self.rows(rows)
        lengths = np.minimum(seqs.lengths, max_len)
        out = np.zeros((len(seqs), max_len), dtype=np.int64)
        if len(seqs) == 0:
            return out
        row_idx = np.repeat(np.arange(len(seqs)), lengths)
        # position within the kept tail of each row, counted from the start of the tail
        pos = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        src = np.repeat(seqs.indptr[1:] - lengths, lengths) + pos
        out[row_idx, max_len - np.repeat(lengths, lengths) + pos] = seqs.items[src]
        return out

    def to_csr(self, n_cols: int, binary: bool = True):
        """A scipy CSR matrix (n_rows, n_cols) of item occurrences."""
        import scipy.sparse as sp

        data = np.ones(len(self.items), dtype=np.float32)
        m = sp.csr_matrix((data, self.items, self.indptr), shape=(len(self), n_cols))
        m.sum_duplicates()
        if binary:
            m.data[:] = 1.0
        return m

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Sequences)
            and np.array_equal(self.indptr, other.indptr)
            and np.array_equal(self.items, other.items)
        )

    __hash__ = None  # type: ignore[assignment]
