"""Request and response bodies of the HTTP API (pydantic): the OpenAPI schema comes from here."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, Field


def printable(v: str) -> str:
    """Ids and queries: not blank, no control characters (they are never real ids)."""
    if not v.strip():
        raise ValueError("must not be blank")
    if any(ord(c) < 32 or ord(c) == 127 for c in v):
        raise ValueError("must not contain control characters")
    return v


def _seconds(v: float | str | None) -> float | None:
    """Unix seconds from a number or an ISO 8601 string (naive times are UTC)."""
    if v is None:
        return None
    if isinstance(v, str):
        try:
            t = datetime.fromisoformat(v)
        except ValueError:
            raise ValueError("expected unix seconds or an ISO 8601 date-time") from None
        v = (t if t.tzinfo else t.replace(tzinfo=UTC)).timestamp()
    if not 0 <= v <= 1e11:
        raise ValueError("expected a time between 1970 and the year 5000")
    return float(v)


def printable_or_none(v: str | None) -> str | None:
    return None if v is None else printable(v)


Id = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(printable)]


class Item(BaseModel):
    item_id: str
    title: str | None
    score: float


class Recommendations(BaseModel):
    user_id: str | None
    model: str
    version: str
    source: Literal["cache", "model", "ann", "popularity"] = Field(
        description="where the list came from: the cache, the model (exact scoring), ANN "
        "retrieval over item vectors, or popularity for a user without history")
    history_length: int
    items: list[Item]


class HistoryRequest(BaseModel):
    history: list[Id] = Field(max_length=500, description="external item ids, oldest first")
    k: int = Field(10, ge=1, le=100)


class SearchResults(BaseModel):
    query: str
    user_id: str | None
    personalised: bool
    version: str
    items: list[Item]


class Similar(BaseModel):
    item_id: str
    title: str | None
    model: str
    version: str
    method: str
    items: list[Item]


class Because(BaseModel):
    item_id: str
    title: str | None
    weight: float


class Explanation(BaseModel):
    user_id: str
    item_id: str
    title: str | None = None
    model: str | None = None
    version: str | None = None
    because: list[Because]
    text: str


class EventIn(BaseModel):
    user_id: Id
    item_id: Id
    type: Literal["view", "click", "cart", "purchase"]
    timestamp: Annotated[float | str | None, AfterValidator(_seconds)] = Field(
        None, description="unix seconds or ISO 8601 (e.g. 2026-11-22T10:00:00Z); none: the "
        "server stores when it was received")
    event_id: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")] \
        | None = Field(None, description="idempotency key: a retried event with the same id "
                       "is stored once")


class EventOut(BaseModel):
    event_id: str
    created: bool = Field(description="false when an event with this id was already stored")
    user_id: str
    history_length: int


class StoredEvent(BaseModel):
    seq: int = Field(description="global insert order of the store")
    event_id: str | None = Field(description="None for events that came with the data")
    user_id: str
    item_id: str | None
    type: str
    timestamp: float | None
    received: datetime | str | None
    source: str
    query: str | None = None


class UserEvents(BaseModel):
    user_id: str
    events: list[StoredEvent]


class EventPage(BaseModel):
    events: list[StoredEvent]
    last_seq: int


class Health(BaseModel):
    status: str
    model: str
    version: str
    items: int
    users: int
    events: int
    run: str
    store: str
    search: bool
    ann: bool
    cached_users: int


class Reloaded(BaseModel):
    previous: str
    version: str
    swapped: bool


class ItemInfo(BaseModel):
    item_id: str
    title: str | None
    attributes: dict | list | None = None


class Problem(BaseModel):
    detail: str | list
