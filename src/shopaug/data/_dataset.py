"""The in-memory Dataset: interactions with dense ids plus optional item side information."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from shopaug.columns import EVENT_TYPES
from shopaug.data._sequences import Sequences
from shopaug.data._vocab import IdVocab


@dataclass(frozen=True, eq=False)
class Dataset:
    """Interactions of users with items, sorted by user then time.

    Internal user ids are ``0..n_users-1``; internal item ids are ``1..n_items`` (0 pads
    sequences). Arrays are read-only views; transformations return new Datasets.

    Attributes:
        name: a short name for reports.
        source: where the data came from (a path or ``bundled:NAME``).
        users: external <-> internal user ids.
        items: external <-> internal item ids.
        user: internal user id per interaction.
        item: internal item id per interaction.
        time: timestamp per interaction (or the position in the user's sequence when the
            data has no timestamps; see ``has_time``).
        event: index into ``EVENT_TYPES`` per interaction, or None.
        item_text: text per internal item id (index 0 unused), or None.
        item_attrs: attribute ids per internal item id (index 0 unused), or None.
        has_time: whether ``time`` holds real timestamps.
    """

    name: str
    source: str
    users: IdVocab
    items: IdVocab
    user: np.ndarray
    item: np.ndarray
    time: np.ndarray
    event: np.ndarray | None = None
    item_text: np.ndarray | None = None
    item_attrs: list[np.ndarray] | None = None
    has_time: bool = False
    _seq_cache: dict = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        n = len(self.user)
        if not (len(self.item) == n == len(self.time)):
            raise ValueError("user, item and time must have the same length")
        if self.event is not None and len(self.event) != n:
            raise ValueError("event must have one entry per interaction")
        if n:
            if self.user.min() < 0 or self.user.max() >= len(self.users):
                raise ValueError("user ids out of range")
            if self.item.min() < 1 or self.item.max() > len(self.items):
                raise ValueError("item ids out of range")
        order_ok = n < 2 or bool(
            np.all(
                (np.diff(self.user) > 0)
                | ((np.diff(self.user) == 0) & (np.diff(self.time) >= 0))
            )
        )
        if not order_ok:
            raise ValueError("interactions must be sorted by user, then time")
        for arr in (self.user, self.item, self.time):
            arr.setflags(write=False)

    @classmethod
    def from_arrays(
        cls,
        *,
        name: str,
        source: str,
        users: IdVocab,
        items: IdVocab,
        user: np.ndarray,
        item: np.ndarray,
        time: np.ndarray | None = None,
        event: np.ndarray | None = None,
        item_text: np.ndarray | None = None,
        item_attrs: list[np.ndarray] | None = None,
    ) -> Dataset:
        """Build a Dataset from unsorted arrays; sorts stably by (user, time)."""
        user = np.asarray(user, dtype=np.int64)
        item = np.asarray(item, dtype=np.int64)
        has_time = time is not None
        if time is None:
            # Position within the user's rows keeps the file order as time order.
            order = np.argsort(user, kind="stable")
            counts = np.bincount(user, minlength=len(users))
            starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
            time = np.empty(len(user), dtype=np.int64)
            time[order] = np.arange(len(user)) - np.repeat(starts, counts)
        time = np.asarray(time, dtype=np.int64)
        order = np.lexsort((time, user))
        return cls(
            name=name,
            source=source,
            users=users,
            items=items,
            user=user[order],
            item=item[order],
            time=time[order],
            event=None if event is None else np.asarray(event, dtype=np.int8)[order],
            item_text=item_text,
            item_attrs=item_attrs,
            has_time=has_time,
        )

    @property
    def n_users(self) -> int:
        return len(self.users)

    @property
    def n_items(self) -> int:
        return len(self.items)

    @property
    def n_interactions(self) -> int:
        return len(self.user)

    def sequences(self) -> Sequences:
        """Items per user in time order; row ``u`` is internal user ``u``."""
        if "seq" not in self._seq_cache:
            counts = np.bincount(self.user, minlength=self.n_users)
            indptr = np.concatenate([[0], np.cumsum(counts)])
            self._seq_cache["seq"] = Sequences(indptr, self.item)
        return self._seq_cache["seq"]

    def item_counts(self) -> np.ndarray:
        """Interactions per internal item id (index 0 is 0)."""
        return np.bincount(self.item, minlength=self.n_items + 1)

    def head(self, n_users: int) -> Dataset:
        """The first ``n_users`` users (internal order) with the whole item catalogue."""
        keep = self.user < n_users
        return Dataset(
            name=f"{self.name}[:{n_users}]",
            source=self.source,
            users=IdVocab(self.users.external[:n_users], offset=self.users.offset),
            items=self.items,
            user=self.user[keep],
            item=self.item[keep],
            time=self.time[keep],
            event=None if self.event is None else self.event[keep],
            item_text=self.item_text,
            item_attrs=self.item_attrs,
            has_time=self.has_time,
        )

    def stats(self) -> dict[str, float | int | str]:
        """Summary statistics, as printed by ``shopaug data check``."""
        lengths = self.sequences().lengths
        counts = self.item_counts()[1:]
        n = self.n_interactions
        out: dict[str, float | int | str] = {
            "name": self.name,
            "source": self.source,
            "users": self.n_users,
            "items": self.n_items,
            "interactions": n,
            "density": n / max(1, self.n_users * self.n_items),
            "seq_len_mean": float(lengths.mean()) if len(lengths) else 0.0,
            "seq_len_min": int(lengths.min()) if len(lengths) else 0,
            "seq_len_max": int(lengths.max()) if len(lengths) else 0,
            "items_without_interactions": int((counts == 0).sum()),
            "tail_items_le5": int((counts <= 5).sum()),
            "has_time": self.has_time,
            "has_text": self.item_text is not None,
            "has_attributes": self.item_attrs is not None,
        }
        if self.event is not None:
            for code, name in enumerate(EVENT_TYPES):
                out[f"events_{name}"] = int((self.event == code).sum())
        return out


@dataclass(frozen=True, eq=False)
class TrainSet:
    """What a model may learn from: the training partition only, plus item side information.

    Built by a split, never from the full Dataset, so a model's ``fit`` cannot see
    validation or test targets.

    Attributes:
        sequences: training items per internal user (row = user id; rows may be empty).
        n_items: size of the item catalogue (internal ids ``1..n_items``).
        item_text: text per internal item id, or None.
        item_attrs: attribute ids per internal item id, or None.
    """

    sequences: Sequences
    n_items: int
    item_text: np.ndarray | None = None
    item_attrs: list[np.ndarray] | None = None

    @property
    def n_users(self) -> int:
        return len(self.sequences)

    def item_counts(self) -> np.ndarray:
        """Training interactions per internal item id (index 0 is 0)."""
        return np.bincount(self.sequences.items, minlength=self.n_items + 1)
