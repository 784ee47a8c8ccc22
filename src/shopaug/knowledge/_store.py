"""The knowledge store: items, users, feedback events and logs of what was shown, in one
DuckDB file shared by search, recommendation and the web service."""

from __future__ import annotations

import json
import os
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from shopaug.columns import EVENT_TYPES
from shopaug.exceptions import ShopaugError

try:
    import duckdb
except ImportError as e:  # pragma: no cover - depends on the environment
    raise ImportError("shopaug.knowledge needs duckdb: pip install duckdb==2.0.0") from e

if TYPE_CHECKING:
    import pyarrow as pa

    from shopaug.data import Dataset


class StoreError(ShopaugError):
    """The knowledge store cannot be opened, or an operation on it is invalid."""


_V1 = """
CREATE TABLE IF NOT EXISTS meta(key VARCHAR PRIMARY KEY, value VARCHAR);
CREATE SEQUENCE event_seq;
CREATE SEQUENCE log_seq;
CREATE TABLE items(
    item_id VARCHAR PRIMARY KEY, title VARCHAR, attributes JSON, embedding_ref VARCHAR);
CREATE TABLE users(
    user_id VARCHAR PRIMARY KEY, profile VARCHAR, sequence VARCHAR[] NOT NULL DEFAULT [],
    updated TIMESTAMP);
CREATE TABLE events(
    seq BIGINT PRIMARY KEY DEFAULT nextval('event_seq'), event_id VARCHAR UNIQUE,
    user_id VARCHAR NOT NULL, item_id VARCHAR, type VARCHAR NOT NULL, query VARCHAR,
    timestamp DOUBLE, received TIMESTAMP, source VARCHAR NOT NULL);
CREATE TABLE recommendation_log(
    id BIGINT, shown TIMESTAMP, kind VARCHAR, user_id VARCHAR, query VARCHAR, items VARCHAR[],
    model VARCHAR, version VARCHAR);
CREATE TABLE search_log(
    id BIGINT, shown TIMESTAMP, kind VARCHAR, user_id VARCHAR, query VARCHAR, items VARCHAR[],
    model VARCHAR, version VARCHAR);
CREATE VIEW feedback AS SELECT * FROM events WHERE source = 'api';
"""

#: Schema migrations ``(version, sql)``, applied in order, each in one transaction.
#: Append new versions; never edit a released one.
MIGRATIONS: list[tuple[int, str]] = [(1, _V1)]

#: The schema version this code writes.
SCHEMA_VERSION: int = MIGRATIONS[-1][0]

EVENT_KINDS: tuple[str, ...] = (*EVENT_TYPES, "search")
_LOG_TABLES = {
    "recommend": "recommendation_log",
    "similar": "recommendation_log",
    "search": "search_log",
}
_EVENT_COLS = "event_id, user_id, item_id, type, timestamp, received, source, seq, query"
_LOG_COLS = "id, shown, kind, user_id, query, items, model, version"


def _now() -> datetime:
    """Naive UTC, the meaning of every TIMESTAMP column."""
    return datetime.now(UTC).replace(tzinfo=None)


class Store:
    """Items, users with their current sequences, feedback events and logs of what was
    shown, in one DuckDB file.

    DuckDB lets one process open a file read-write (any number of threads in it); other
    processes cannot open it at all meanwhile, not even read-only. Within the process,
    writes go through one connection under a lock, so ``events.seq`` grows in commit order
    and a consumer of ``events_after`` never misses an event; reads use their own cursor
    and never wait for writes.

    Args:
        path: the store file; created (empty, current schema) if missing.
        read_only: open without writing; the file must exist at the current schema.
        flush_every: log rows kept in memory before ``log_shown`` writes them.

    Example:
        >>> with Store.from_dataset("shop.duckdb", ds) as store:  # doctest: +SKIP
        ...     store.add_event("u1", "B00123", "click")
    """

    def __init__(
        self, path: str | Path, *, read_only: bool = False, flush_every: int = 256
    ) -> None:
        self.path = Path(path)
        self.read_only = read_only
        self.flush_every = flush_every
        self._lock = threading.Lock()  # one writer at a time
        self._log_lock = threading.Lock()  # guards the log buffer only
        self._log: list[tuple] = []
        if not read_only:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._con: duckdb.DuckDBPyConnection | None = _connect(self.path, read_only)
        self._w = self._con.cursor()
        try:
            self._migrate()
        except BaseException:
            self.close()
            raise

    # ---- lifecycle -----------------------------------------------------------------

    @classmethod
    def from_dataset(
        cls, path: str | Path, ds: Dataset, *, model_version: str | None = None
    ) -> Store:
        """Build a new store file from a dataset and open it.

        The file is written beside ``path`` under a temporary name and renamed into place,
        so ``path`` never holds a half-built store. Refuses an existing ``path``.

        Rows: every item (title = item text, NULL when empty); every user with their full
        sequence (external item ids, oldest first); one event per interaction with
        ``source='data'``, no ``event_id``, type from the data ('purchase' when it has no
        event column), ``timestamp`` from the data when it has real times (else NULL), and
        ``seq`` in data order, so a user's events come back in the dataset's order.
        """
        path = Path(path)
        if path.exists():
            raise StoreError(
                f"{path}: already exists; from_dataset builds a new store, so remove the "
                "file or choose another path"
            )
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
        try:
            with cls(tmp) as store:
                store._load(ds, model_version)
            _publish(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
            Path(f"{tmp}.wal").unlink(missing_ok=True)
        return cls(path)

    def close(self) -> None:
        """Flush buffered log rows and close the file. Safe to call twice; call it after the
        last request, since operations on a closed store raise StoreError."""
        if self._con is None:
            return
        try:
            if not self.read_only:
                self.flush()
        finally:
            self._w.close()
            self._con.close()  # checkpoints: folds the WAL into the file
            self._con = None

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        mode = "closed" if self._con is None else "read-only" if self.read_only else "read-write"
        return f"Store({str(self.path)!r}, {mode})"

    def schema_version(self) -> int:
        """The schema version recorded in the file."""
        row = self._rows("SELECT value FROM meta WHERE key = 'schema_version'")
        return int(row[0][0]) if row else 0

    def meta(self) -> dict[str, str]:
        """The ``meta`` table: schema version, dataset name and source, build time, and the
        model version given to ``from_dataset``."""
        return dict(self._rows("SELECT key, value FROM meta ORDER BY key"))

    # ---- items and users -------------------------------------------------------------

    def has_item(self, item_id: str) -> bool:
        return bool(self._rows("SELECT 1 FROM items WHERE item_id = ?", [item_id]))

    def item(self, item_id: str) -> dict[str, Any] | None:
        """``{"item_id", "title", "attributes", "embedding_ref"}``, or None if unknown."""
        rows = self._dicts(
            "SELECT item_id, title, attributes, embedding_ref FROM items WHERE item_id = ?",
            [item_id],
        )
        if not rows:
            return None
        row = rows[0]
        if row["attributes"] is not None:
            row["attributes"] = json.loads(row["attributes"])
        return row

    def titles(self) -> dict[str, str | None]:
        """Every item's title, by item id."""
        return dict(self._rows("SELECT item_id, title FROM items"))

    def sequences(self) -> dict[str, list[str]]:
        """Every user's current sequence (item ids, oldest first), by user id."""
        table = self._arrow("SELECT user_id, sequence FROM users")
        return dict(zip(table.column(0).to_pylist(), table.column(1).to_pylist(), strict=True))

    def sequence(self, user_id: str) -> list[str] | None:
        """The user's current sequence, oldest first; None for an unknown user."""
        rows = self._rows("SELECT sequence FROM users WHERE user_id = ?", [user_id])
        return rows[0][0] if rows else None

    def set_profile(self, user_id: str, profile: str) -> None:
        """Set the user's profile text, creating the user if new."""
        _need_id(user_id, "user_id")
        with self._write() as cur:
            cur.execute(
                "INSERT INTO users(user_id, profile, updated) VALUES (?, ?, ?) "
                "ON CONFLICT (user_id) DO UPDATE SET profile = excluded.profile, "
                "updated = excluded.updated",
                [user_id, profile, _now()],
            )

    def profile(self, user_id: str) -> str | None:
        rows = self._rows("SELECT profile FROM users WHERE user_id = ?", [user_id])
        return rows[0][0] if rows else None

    # ---- events ----------------------------------------------------------------------

    def add_event(
        self,
        user_id: str,
        item_id: str,
        type: str,
        *,
        timestamp: float | None = None,
        event_id: str | None = None,
        query: str | None = None,
    ) -> tuple[str, bool]:
        """Record one feedback event and append its item to the user's sequence.

        One transaction, committed (durable) when this returns. Thread-safe.

        Args:
            user_id: the user; created if new.
            item_id: an item in the store; may be ``""`` for a ``search`` event.
            type: one of ``view``, ``click``, ``cart``, ``purchase``, ``search``. Search
                events carry ``query`` and leave the sequence unchanged.
            timestamp: when the event happened, as the client says (seconds); NULL if not
                given. ``received`` always holds the server's time.
            event_id: the caller's id, so that retries are idempotent; a new uuid4 hex if
                None.
            query: the search query.

        Returns:
            ``(event_id, created)``; ``created`` is False when ``event_id`` was already
            recorded, in which case nothing changed.
        """
        if type not in EVENT_KINDS:
            raise StoreError(f"event type {type!r} is not one of {', '.join(EVENT_KINDS)}")
        _need_id(user_id, "user_id")
        search = type == "search"
        if not search:
            _need_id(item_id, f"item_id of a {type} event")
        event_id = event_id or uuid.uuid4().hex
        with self._write() as cur:
            if cur.execute("SELECT 1 FROM events WHERE event_id = ?", [event_id]).fetchall():
                return event_id, False
            if (
                item_id
                and not cur.execute("SELECT 1 FROM items WHERE item_id = ?", [item_id]).fetchall()
            ):
                raise StoreError(f"unknown item_id {item_id!r}: not in the store's items")
            now = _now()
            cur.execute(
                "INSERT INTO events(event_id, user_id, item_id, type, query, timestamp, "
                "received, source) VALUES (?, ?, ?, ?, ?, ?, ?, 'api')",
                [
                    event_id,
                    user_id,
                    item_id or None,
                    type,
                    query,
                    None if timestamp is None else float(timestamp),
                    now,
                ],
            )
            if search:
                cur.execute(
                    "INSERT INTO users(user_id, updated) VALUES (?, ?) ON CONFLICT DO NOTHING",
                    [user_id, now],
                )
            else:
                cur.execute(
                    "INSERT INTO users(user_id, sequence, updated) VALUES (?, [?], ?) "
                    "ON CONFLICT (user_id) DO UPDATE SET "
                    "sequence = list_append(users.sequence, ?), updated = excluded.updated",
                    [user_id, item_id, now, item_id],
                )
        return event_id, True

    def events(self, user_id: str, *, limit: int | None = None) -> list[dict[str, Any]]:
        """The user's events, oldest first; with ``limit``, only the newest ``limit``.

        Keys: event_id, user_id, item_id, type, timestamp, received, source, seq, query.
        """
        sql = f"SELECT {_EVENT_COLS} FROM events WHERE user_id = ?"
        if limit is None:
            return self._dicts(f"{sql} ORDER BY seq", [user_id])
        return self._dicts(
            f"SELECT * FROM ({sql} ORDER BY seq DESC LIMIT ?) ORDER BY seq", [user_id, limit]
        )

    def events_after(
        self, seq: int, *, source: str | None = "api", limit: int = 100000
    ) -> list[dict[str, Any]]:
        """Events with ``seq`` greater than ``seq``, oldest first (all sources if None)."""
        return self._dicts(
            f"SELECT {_EVENT_COLS} FROM events WHERE seq > ? AND (? IS NULL OR source = ?) "
            "ORDER BY seq LIMIT ?",
            [seq, source, source, limit],
        )

    def count_events(self, *, source: str | None = None) -> int:
        rows = self._rows(
            "SELECT count(*) FROM events WHERE ? IS NULL OR source = ?", [source, source]
        )
        return int(rows[0][0])

    # ---- logs of what was shown --------------------------------------------------------

    def log_shown(
        self,
        kind: str,
        *,
        user_id: str | None,
        items: list[str],
        model: str,
        version: str,
        query: str | None = None,
    ) -> None:
        """Log a list shown to a user: ``kind`` is recommend, similar (to
        ``recommendation_log``) or search (to ``search_log``).

        Rows wait in memory and are written in one transaction every ``flush_every`` rows,
        by ``flush()`` or by ``close()``: a commit per served request would cost more than
        the request. A crash loses at most one buffer of log rows (events are never
        buffered).
        """
        if kind not in _LOG_TABLES:
            raise StoreError(f"log kind {kind!r} is not one of {', '.join(_LOG_TABLES)}")
        self._writable()
        row = (_now(), kind, user_id, query, list(items), model, version)
        with self._log_lock:
            self._log.append(row)
            full = len(self._log) >= self.flush_every
        if full:
            self.flush()

    def flush(self) -> None:
        """Write buffered log rows, in the order they were logged."""
        if not self._log:
            return
        # The swap happens under the write lock, so ids follow logging order across flushes.
        with self._write() as cur:
            with self._log_lock:
                rows, self._log = self._log, []
            if not rows:
                return
            try:
                self._insert_log(cur, rows)
            except BaseException:
                with self._log_lock:
                    self._log[:0] = rows  # keep them for the next flush
                raise

    def shown(self, kind: str, *, limit: int = 100) -> list[dict[str, Any]]:
        """Flushed log rows of one kind, newest first.

        Keys: id, shown, kind, user_id, query, items, model, version.
        """
        if kind not in _LOG_TABLES:
            raise StoreError(f"log kind {kind!r} is not one of {', '.join(_LOG_TABLES)}")
        return self._dicts(
            f"SELECT {_LOG_COLS} FROM {_LOG_TABLES[kind]} WHERE kind = ? ORDER BY id DESC LIMIT ?",
            [kind, limit],
        )

    def stats(self) -> dict[str, int]:
        """Row counts: items, users, events, api_events, recommendation_log, search_log
        (log rows still in the buffer are not counted)."""
        names = ["items", "users", "events", "api_events", "recommendation_log", "search_log"]
        row = self._rows(
            "SELECT (SELECT count(*) FROM items), (SELECT count(*) FROM users), "
            "(SELECT count(*) FROM events), (SELECT count(*) FROM feedback), "
            "(SELECT count(*) FROM recommendation_log), (SELECT count(*) FROM search_log)"
        )[0]
        return dict(zip(names, map(int, row), strict=True))

    # ---- internals -------------------------------------------------------------------

    def _cursor(self) -> duckdb.DuckDBPyConnection:
        # A cursor is a connection of its own: reads see committed data and run beside a
        # write in another thread instead of queueing behind the write lock.
        if self._con is None:
            raise StoreError(f"{self.path}: the store is closed")
        return self._con.cursor()

    def _rows(self, sql: str, params: list | None = None) -> list[tuple]:
        with self._cursor() as cur:
            return cur.execute(sql, params or []).fetchall()

    def _dicts(self, sql: str, params: list | None = None) -> list[dict[str, Any]]:
        with self._cursor() as cur:
            cur.execute(sql, params or [])
            names = [d[0] for d in cur.description]
            return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

    def _arrow(self, sql: str) -> pa.Table:
        with self._cursor() as cur:
            return cur.sql(sql).to_arrow_table()

    def _writable(self) -> None:
        if self._con is None:
            raise StoreError(f"{self.path}: the store is closed")
        if self.read_only:
            raise StoreError(f"{self.path}: opened read_only; open it read-write to change it")

    @contextmanager
    def _write(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """One write transaction under the write lock; rolled back on any error.

        Read results on this cursor with ``fetchall``: DuckDB 2 refuses some later calls
        (``register``) while a result is only partly fetched.
        """
        self._writable()
        with self._lock:
            cur = self._w
            cur.execute("BEGIN TRANSACTION")
            try:
                yield cur
                # DuckDB appends the commit to the .wal file and fsyncs it before COMMIT
                # returns (fsync_mode STANDARD), so a returned write survives a crash.
                cur.execute("COMMIT")
            except BaseException:
                with suppress(duckdb.Error):
                    cur.execute("ROLLBACK")
                raise

    def _insert_log(self, cur: duckdb.DuckDBPyConnection, rows: list[tuple]) -> None:
        import pyarrow as pa

        # Reserve len(rows) consecutive ids: nobody else draws from log_seq meanwhile.
        last = cur.execute("SELECT max(nextval('log_seq')) FROM range(?)", [len(rows)]).fetchall()[
            0
        ][0]
        cols = list(zip(*rows, strict=True))
        types = [pa.timestamp("us"), *[pa.string()] * 3, pa.list_(pa.string()), *[pa.string()] * 2]
        names = _LOG_COLS.split(", ")[1:]
        table = pa.table(
            {
                "id": pa.array(range(last - len(rows) + 1, last + 1), pa.int64()),
                **{n: pa.array(c, t) for n, c, t in zip(names, cols, types, strict=True)},
            }
        )
        cur.register("_log_rows", table)
        try:
            for name in sorted(set(_LOG_TABLES.values())):
                kinds = [k for k, t in _LOG_TABLES.items() if t == name]
                cur.execute(
                    f"INSERT INTO {name} SELECT {_LOG_COLS} FROM _log_rows "
                    "WHERE list_contains(?, kind)",
                    [kinds],
                )
        finally:
            cur.unregister("_log_rows")

    def _migrate(self) -> None:
        cur = self._w
        have = _file_version(cur, self.path)
        target = MIGRATIONS[-1][0]  # read at call time, so tests can extend MIGRATIONS
        if have > target:
            raise StoreError(
                f"{self.path}: store schema version {have} is newer than this shopaug "
                f"supports (version {target}); upgrade shopaug to open it"
            )
        if have == target:
            return
        if self.read_only:
            raise StoreError(
                f"{self.path}: store schema version {have}, this shopaug needs version "
                f"{target}; open it once read-write to migrate it"
            )
        for version, sql in MIGRATIONS:
            if version <= have:
                continue
            try:
                with self._write() as w:
                    w.execute(sql)
                    w.execute(
                        "INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", [str(version)]
                    )
            except duckdb.Error as e:
                raise StoreError(
                    f"{self.path}: migration to schema version {version} failed "
                    f"(the file stays at version {have}): {e}"
                ) from None
            have = version

    def _load(self, ds: Dataset, model_version: str | None) -> None:
        """Bulk-insert a dataset into this (new, empty) store: arrow columns, no row loops."""
        import numpy as np
        import pyarrow as pa
        import pyarrow.compute as pc

        item_ids = pa.array(ds.items.external.astype(str), pa.string())
        user_ids = pa.array(ds.users.external.astype(str), pa.string())
        n = ds.n_interactions
        ev_items = item_ids.take(pa.array(ds.item - 1))
        if ds.item_text is None:
            titles = pa.nulls(ds.n_items, pa.string())
        else:
            texts = pa.array(ds.item_text[1:], pa.string())
            titles = pc.if_else(pc.equal(texts, ""), pa.scalar(None, pa.string()), texts)
        if ds.event is None:
            types = pa.array(np.full(n, "purchase"), pa.string())
        else:
            types = pa.array(EVENT_TYPES, pa.string()).take(pa.array(ds.event.astype(np.int64)))
        # Data rows are sorted by user, then time: slices of them are the sequences.
        indptr = np.concatenate([[0], np.cumsum(np.bincount(ds.user, minlength=ds.n_users))])
        tables = {
            "_items": pa.table({"item_id": item_ids, "title": titles}),
            "_users": pa.table(
                {
                    "user_id": user_ids,
                    "sequence": pa.LargeListArray.from_arrays(pa.array(indptr), ev_items),
                }
            ),
            "_events": pa.table(
                {
                    "seq": pa.array(np.arange(1, n + 1)),
                    "user_id": user_ids.take(pa.array(ds.user)),
                    "item_id": ev_items,
                    "type": types,
                    "timestamp": pa.array(ds.time.astype(np.float64))
                    if ds.has_time
                    else pa.nulls(n, pa.float64()),
                }
            ),
        }
        now = _now()
        meta = {"dataset": ds.name, "source": ds.source, "created": now.isoformat() + "Z"}
        if model_version is not None:
            meta["model_version"] = model_version
        with self._write() as cur:
            for name, table in tables.items():
                cur.register(name, table)
            cur.execute("INSERT INTO items SELECT item_id, title, NULL, NULL FROM _items")
            cur.execute("INSERT INTO users SELECT user_id, NULL, sequence, ? FROM _users", [now])
            cur.execute(
                "INSERT INTO events SELECT seq, NULL, user_id, item_id, type, NULL, timestamp, "
                "?, 'data' FROM _events",
                [now],
            )
            if n:
                cur.execute("SELECT setval('event_seq', ?)", [n])  # API events follow
            cur.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", list(meta.items()))
            for name in tables:
                cur.unregister(name)
        self._w.execute("CHECKPOINT")  # everything in the main file, no WAL beside it


def _connect(path: Path, read_only: bool) -> duckdb.DuckDBPyConnection:
    """Open the DuckDB file, turning DuckDB's errors into ones that say what to do."""
    try:
        return duckdb.connect(str(path), read_only=read_only)
    except duckdb.Error as e:
        msg = str(e)
        if "lock" in msg.lower():
            why = (
                "it is locked by another process. DuckDB allows one read-write process per "
                "file and no other process may open it meanwhile, not even read-only: stop "
                "that process, or send the work to it (e.g. through its web service)"
            )
        elif "not a valid DuckDB database" in msg:
            why = (
                "not a DuckDB database file; give the path of a store built by "
                "Store.from_dataset (or `shopaug` commands), or a new path for an empty store"
            )
        elif "does not exist" in msg:
            why = "no such store; build one with Store.from_dataset first"
        elif "different configuration" in msg:
            why = (
                f"already open in this process with read_only={not read_only}; use that "
                "Store, or close it first"
            )
        else:
            why = "cannot open it"
        raise StoreError(f"{path}: {why} (DuckDB: {msg})") from None


def _file_version(cur: duckdb.DuckDBPyConnection, path: Path) -> int:
    """The file's schema version: 0 for an empty database."""
    tables = {
        r[0]
        for r in cur.execute(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_catalog = current_database() AND table_schema = 'main'"
        ).fetchall()
    }
    if "meta" not in tables:
        if tables:
            raise StoreError(
                f"{path}: a DuckDB database but not a shopaug store (no 'meta' table; "
                f"tables: {', '.join(sorted(tables))})"
            )
        return 0
    rows = cur.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchall()
    return int(rows[0][0]) if rows else 0


def _publish(tmp: Path, path: Path) -> None:
    """Move the finished file into place without overwriting a file created meanwhile."""
    try:
        os.link(tmp, path)  # fails if path exists, unlike rename
    except FileExistsError:
        raise StoreError(f"{path}: already exists (created while the store was built)") from None
    except OSError:  # a file system without hard links
        if path.exists():
            raise StoreError(f"{path}: already exists") from None
        os.replace(tmp, path)


def _need_id(value: str, what: str) -> None:
    if not isinstance(value, str) or not value:
        raise StoreError(f"{what} must be a non-empty string, got {value!r}")
