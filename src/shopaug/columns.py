"""The one vocabulary of column names used by readers, datasets and outputs."""

from __future__ import annotations


class Columns:
    """Column names of interaction logs and item catalogues."""

    User = "user_id"
    Item = "item_id"
    Time = "timestamp"
    Event = "event"
    Text = "text"
    Title = "title"
    Score = "score"
    Rank = "rank"


#: Event types an interaction log may carry, weakest signal first.
EVENT_TYPES: tuple[str, ...] = ("view", "click", "cart", "purchase")
