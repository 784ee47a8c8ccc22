"""The knowledge store: building from a dataset, feedback events, migrations, logs."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time
from collections import Counter
from pathlib import Path

import duckdb
import numpy as np
import pytest

from shopaug.data import Dataset, IdVocab
from shopaug.knowledge import SCHEMA_VERSION, Store, StoreError, _store
from shopaug.testing._tiny import checkerboard

SRC = Path(__file__).resolve().parents[2] / "src"


def tiny() -> Dataset:
    """Three users, four items; rows given out of time order on purpose.

    alice: A (click, t=10), B (view, t=20), C (purchase, t=30)
    bob:   D (purchase, t=5), A (view, t=6)
    carol: C (cart, t=7)
    """
    return Dataset.from_arrays(
        name="tiny",
        source="test",
        users=IdVocab(["alice", "bob", "carol"]),
        items=IdVocab(["A", "B", "C", "D"], offset=1),
        user=np.array([0, 1, 0, 2, 0, 1]),
        item=np.array([2, 4, 1, 3, 3, 1]),
        time=np.array([20, 5, 10, 7, 30, 6]),
        event=np.array([0, 3, 1, 2, 3, 0]),
        item_text=np.array(["", "red lipstick", "", "blue shampoo", "gold perfume"], dtype=object),
    )


@pytest.fixture
def store(tmp_path: Path):
    with Store.from_dataset(tmp_path / "shop.duckdb", tiny()) as s:
        yield s


def run_python(code: str, **kwargs) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=SRC,
        text=True,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        **kwargs,
    )


# --- from_dataset ------------------------------------------------------------------------


def test_from_dataset_holds_the_data_in_order(tmp_path: Path) -> None:
    path = tmp_path / "shop.duckdb"
    with Store.from_dataset(path, tiny(), model_version="m-7") as s:
        assert s.path == path
        assert s.schema_version() == SCHEMA_VERSION
        assert s.meta()["model_version"] == "m-7"
        assert s.stats() == {
            "items": 4,
            "users": 3,
            "events": 6,
            "api_events": 0,
            "recommendation_log": 0,
            "search_log": 0,
        }
        assert s.sequences() == {"alice": ["A", "B", "C"], "bob": ["D", "A"], "carol": ["C"]}
        assert s.sequence("bob") == ["D", "A"]
        assert s.sequence("nobody") is None
        assert s.titles() == {
            "A": "red lipstick",
            "B": None,
            "C": "blue shampoo",
            "D": "gold perfume",
        }
        assert s.item("C") == {
            "item_id": "C",
            "title": "blue shampoo",
            "attributes": None,
            "embedding_ref": None,
        }
        assert s.item("Z") is None
        assert s.has_item("A") and not s.has_item("Z")
        ev = s.events("alice")
        assert [e["item_id"] for e in ev] == ["A", "B", "C"]
        assert [e["type"] for e in ev] == ["click", "view", "purchase"]
        assert [e["timestamp"] for e in ev] == [10.0, 20.0, 30.0]
        assert {e["source"] for e in ev} == {"data"} and {e["event_id"] for e in ev} == {None}
        assert [e["type"] for e in s.events("bob")] == ["purchase", "view"]
        assert s.count_events(source="data") == 6 and s.count_events(source="api") == 0
    # the temporary file was renamed into place; DuckDB left no WAL beside it
    assert sorted(p.name for p in tmp_path.iterdir()) == ["shop.duckdb"]


def test_from_dataset_without_events_or_times(tmp_path: Path) -> None:
    ds = checkerboard(n_users=6, n_items=20, length=4)
    with Store.from_dataset(tmp_path / "cb.duckdb", ds) as s:
        assert s.stats()["events"] == ds.n_interactions
        seqs = s.sequences()
        for u in range(ds.n_users):
            assert seqs[f"u{u}"] == list(ds.items.to_external(ds.sequences()[u]))
        ev = s.events("u3")
        assert {e["type"] for e in ev} == {"purchase"}
        assert {e["timestamp"] for e in ev} == {None}
        assert set(s.titles().values()) == {None}


def test_from_dataset_refuses_an_existing_path(tmp_path: Path) -> None:
    path = tmp_path / "shop.duckdb"
    path.write_text("keep me")
    with pytest.raises(StoreError, match="already exists") as info:
        Store.from_dataset(path, tiny())
    assert str(path) in str(info.value)
    assert path.read_text() == "keep me"
    assert [p.name for p in tmp_path.iterdir()] == ["shop.duckdb"]


def test_from_dataset_failure_leaves_no_file(tmp_path: Path, monkeypatch) -> None:
    def boom(self, ds, model_version):
        self.add_event("alice", "", "search", query="half written")
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(Store, "_load", boom)
    with pytest.raises(RuntimeError, match="disk on fire"):
        Store.from_dataset(tmp_path / "shop.duckdb", tiny())
    assert list(tmp_path.iterdir()) == []


# --- events ------------------------------------------------------------------------------


def test_add_event_appends_and_survives_reopen(store: Store) -> None:
    event_id, created = store.add_event("alice", "D", "cart", timestamp=40.5)
    assert created and len(event_id) == 32
    new_id, created = store.add_event("dave", "A", "view", event_id="client-1")
    assert (new_id, created) == ("client-1", True)
    assert store.sequence("alice") == ["A", "B", "C", "D"]
    store.close()
    with Store(store.path) as s:
        assert s.sequence("alice") == ["A", "B", "C", "D"]
        assert s.sequence("dave") == ["A"]
        last = s.events("alice")[-1]
        assert (last["event_id"], last["item_id"], last["type"], last["source"]) == (
            event_id,
            "D",
            "cart",
            "api",
        )
        assert last["timestamp"] == 40.5 and last["received"] is not None
        assert s.stats()["users"] == 4 and s.count_events(source="api") == 2


def test_add_event_is_durable_without_close(tmp_path: Path) -> None:
    path = tmp_path / "shop.duckdb"
    Store.from_dataset(path, tiny()).close()
    # a process that dies right after add_event returns: no close, no checkpoint
    proc = run_python(f"""
        import os
        from shopaug.knowledge import Store
        s = Store({str(path)!r})
        s.add_event("carol", "A", "click", event_id="e1")
        os._exit(0)
    """)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    with Store(path) as s:
        assert s.sequence("carol") == ["C", "A"]
        assert [e["event_id"] for e in s.events("carol")] == [None, "e1"]


def test_event_id_makes_retries_idempotent(store: Store) -> None:
    assert store.add_event("bob", "C", "purchase", event_id="r1") == ("r1", True)
    assert store.add_event("bob", "C", "purchase", event_id="r1") == ("r1", False)
    assert store.sequence("bob") == ["D", "A", "C"]
    assert [e["event_id"] for e in store.events("bob")].count("r1") == 1
    assert store.count_events(source="api") == 1


def test_bad_events_are_refused_and_change_nothing(store: Store) -> None:
    with pytest.raises(StoreError, match="'NOPE'"):
        store.add_event("alice", "NOPE", "click")
    with pytest.raises(StoreError, match=r"'like'.*view, click, cart, purchase, search"):
        store.add_event("alice", "A", "like")
    with pytest.raises(StoreError, match="item_id"):
        store.add_event("alice", "", "click")
    with pytest.raises(StoreError, match="user_id"):
        store.add_event("", "A", "click")
    assert store.sequence("alice") == ["A", "B", "C"]
    assert store.count_events() == 6
    # the write connection is usable after a rolled-back transaction
    assert store.add_event("alice", "A", "view")[1]


def test_search_event_keeps_the_sequence(store: Store) -> None:
    event_id, created = store.add_event("alice", "", "search", query="red lipstick")
    assert created
    store.add_event("erin", "", "search", query="perfume")
    assert store.sequence("alice") == ["A", "B", "C"]
    assert store.sequence("erin") == []  # known user, nothing bought or seen yet
    last = store.events("alice")[-1]
    assert (last["event_id"], last["type"], last["query"], last["item_id"]) == (
        event_id,
        "search",
        "red lipstick",
        None,
    )


def test_events_after_and_limit(store: Store) -> None:
    ids = [store.add_event("bob", item, "click")[0] for item in ("B", "C", "D")]
    api = store.events_after(0)
    assert [e["event_id"] for e in api] == ids
    assert api[0]["seq"] > 6  # after the six data events
    assert [e["event_id"] for e in store.events_after(api[0]["seq"])] == ids[1:]
    assert [e["event_id"] for e in store.events_after(0, limit=2)] == ids[:2]
    assert len(store.events_after(0, source=None)) == 9
    assert len(store.events_after(0, source="data")) == 6
    assert [e["item_id"] for e in store.events("bob", limit=2)] == ["C", "D"]


def test_concurrent_add_event(tmp_path: Path) -> None:
    ds = checkerboard(n_users=4, n_items=40, length=4)
    n_threads, n_events = 8, 50
    created_dup: list[bool] = []
    errors: list[BaseException] = []
    with Store.from_dataset(tmp_path / "cb.duckdb", ds) as s:
        start = threading.Barrier(n_threads)

        def work(t: int) -> None:
            try:
                start.wait()
                for k in range(n_events):
                    item = f"i{(t * n_events + k) % 40 + 1}"
                    s.add_event(f"c{t % 4}", item, "click", event_id=f"t{t}-{k}")
                    if k % 10 == 0:
                        assert isinstance(s.sequence(f"c{t % 4}"), list)  # reads meanwhile
                created_dup.append(s.add_event("c0", "i1", "view", event_id="dup")[1])
            except BaseException as e:  # surfaced below
                errors.append(e)

        threads = [threading.Thread(target=work, args=(t,)) for t in range(n_threads)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        assert errors == []
        assert sorted(created_dup) == [False] * (n_threads - 1) + [True]
        api = s.events_after(0)
        assert len(api) == n_threads * n_events + 1
        seqs = [e["seq"] for e in api]
        assert seqs == sorted(set(seqs))
        seq_of = s.sequences()
        for user in range(4):
            mine = [t for t in range(n_threads) if t % 4 == user]
            want = Counter(f"i{(t * n_events + k) % 40 + 1}" for t in mine for k in range(n_events))
            got = seq_of[f"c{user}"]
            if user == 0:
                want["i1"] += 1  # the one "dup" event
            assert Counter(got) == want
            for t in mine:  # each thread's events keep their order within the sequence
                events = [
                    e["item_id"] for e in s.events(f"c{user}") if e["event_id"].startswith(f"t{t}-")
                ]
                assert events == [f"i{(t * n_events + k) % 40 + 1}" for k in range(n_events)]


# --- opening, locking, migrations --------------------------------------------------------


@pytest.mark.parametrize("body", [b"item_id,title\nA,lipstick\n", b""])
def test_a_file_that_is_not_duckdb_is_refused(tmp_path: Path, body: bytes) -> None:
    path = tmp_path / "notes.duckdb"
    path.write_bytes(body)
    with pytest.raises(StoreError, match="not a DuckDB database") as info:
        Store(path)
    assert str(path) in str(info.value)
    assert path.read_bytes() == body


def test_a_duckdb_file_of_something_else_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE orders(id INT)")
    con.close()
    with pytest.raises(StoreError, match=r"not a shopaug store.*orders"):
        Store(path)


def test_a_locked_file_is_refused_with_advice(tmp_path: Path) -> None:
    path = tmp_path / "shop.duckdb"
    Store.from_dataset(path, tiny()).close()
    holder = run_python(f"""
        import sys
        from shopaug.knowledge import Store
        s = Store({str(path)!r})
        print("open", flush=True)
        sys.stdin.read()
    """)
    try:
        assert holder.stdout.readline().strip() == "open"
        for read_only in (False, True):
            with pytest.raises(StoreError, match="locked by another process") as info:
                Store(path, read_only=read_only)
            assert str(path) in str(info.value)
            assert "one read-write process" in str(info.value)
    finally:
        holder.communicate("", timeout=60)


def test_read_only(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="no such store"):
        Store(tmp_path / "missing.duckdb", read_only=True)
    path = tmp_path / "shop.duckdb"
    Store.from_dataset(path, tiny()).close()
    with Store(path, read_only=True) as s:
        assert s.sequence("alice") == ["A", "B", "C"]
        with pytest.raises(StoreError, match="read_only"):
            s.add_event("alice", "A", "view")
        with pytest.raises(StoreError, match="read_only"):
            s.log_shown("recommend", user_id="alice", items=["A"], model="pop", version="1")


def test_a_version_0_file_is_migrated(tmp_path: Path) -> None:
    path = tmp_path / "old.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE meta(key VARCHAR PRIMARY KEY, value VARCHAR)")
    con.execute("INSERT INTO meta VALUES ('schema_version', '0'), ('note', 'kept')")
    con.close()
    with Store(path) as s:
        assert s.schema_version() == SCHEMA_VERSION == 1
        assert s.meta()["note"] == "kept"
        assert s.stats()["events"] == 0


def test_migrations_forward_and_a_newer_file_is_refused(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "shop.duckdb"
    with Store.from_dataset(path, tiny()) as s:
        s.add_event("alice", "D", "view")
    v2 = (2, "ALTER TABLE items ADD COLUMN brand VARCHAR; UPDATE items SET brand = 'acme'")
    monkeypatch.setattr(_store, "MIGRATIONS", [*_store.MIGRATIONS, v2])
    with Store(path) as s:
        assert s.schema_version() == 2
        assert s._rows("SELECT DISTINCT brand FROM items") == [("acme",)]
        assert s.sequence("alice") == ["A", "B", "C", "D"]
    monkeypatch.undo()  # back to code that knows version 1 only
    with pytest.raises(StoreError, match=r"version 2 is newer.*version 1") as info:
        Store(path)
    assert str(path) in str(info.value)
    with pytest.raises(StoreError, match="version 2 is newer"):
        Store(path, read_only=True)


def test_a_failing_migration_leaves_the_file_as_it_was(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "shop.duckdb"
    Store.from_dataset(path, tiny()).close()
    bad = (2, "ALTER TABLE items ADD COLUMN brand VARCHAR; SELECT * FROM no_such_table")
    monkeypatch.setattr(_store, "MIGRATIONS", [*_store.MIGRATIONS, bad])
    with pytest.raises(StoreError, match=r"migration to schema version 2 failed.*version 1"):
        Store(path)
    monkeypatch.undo()
    with Store(path) as s:
        assert s.schema_version() == 1
        cols = s._rows(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'items'"
        )
        assert "brand" not in {c for (c,) in cols}


# --- logs of what was shown --------------------------------------------------------------


def test_log_shown_is_buffered_until_flush(store: Store) -> None:
    store.log_shown("recommend", user_id="alice", items=["D", "A"], model="pop", version="1")
    store.log_shown("search", user_id=None, items=["C"], model="bm25", version="2", query="shampoo")
    store.log_shown("similar", user_id=None, items=["B"], model="knn", version="1", query="A")
    store.log_shown("recommend", user_id="bob", items=[], model="pop", version="1")
    assert store.shown("recommend") == []
    assert store.stats()["recommendation_log"] == 0
    store.flush()
    rec = store.shown("recommend")
    assert [(r["user_id"], r["items"]) for r in rec] == [("bob", []), ("alice", ["D", "A"])]
    assert rec[0]["id"] > rec[1]["id"] and rec[0]["shown"] >= rec[1]["shown"]
    assert [(r["query"], r["items"], r["model"]) for r in store.shown("search")] == [
        ("shampoo", ["C"], "bm25")
    ]
    assert [r["query"] for r in store.shown("similar")] == ["A"]
    assert store.shown("recommend", limit=1)[0]["user_id"] == "bob"
    assert store.stats()["recommendation_log"] == 3 and store.stats()["search_log"] == 1
    with pytest.raises(StoreError, match="'browse'"):
        store.log_shown("browse", user_id=None, items=[], model="m", version="1")


def test_log_shown_flushes_every_n_rows_and_on_close(tmp_path: Path) -> None:
    path = tmp_path / "shop.duckdb"
    Store.from_dataset(path, tiny()).close()
    s = Store(path, flush_every=3)
    for k in range(7):
        s.log_shown("recommend", user_id=f"u{k}", items=["A"], model="pop", version="1")
    assert [r["user_id"] for r in s.shown("recommend")] == [f"u{k}" for k in (5, 4, 3, 2, 1, 0)]
    s.close()
    s.close()  # twice is fine
    with pytest.raises(StoreError, match="closed"):
        s.sequence("alice")
    with Store(path) as s:
        assert [r["user_id"] for r in s.shown("recommend", limit=2)] == ["u6", "u5"]


# --- real data ---------------------------------------------------------------------------


def test_bundled_beauty_builds(tmp_path: Path) -> None:
    from shopaug.data import load

    ds = load("bundled:amazon-beauty")
    started = time.perf_counter()
    with Store.from_dataset(tmp_path / "beauty.duckdb", ds) as s:
        built = time.perf_counter() - started
        assert s.stats() == {
            "items": ds.n_items,
            "users": ds.n_users,
            "events": ds.n_interactions,
            "api_events": 0,
            "recommendation_log": 0,
            "search_log": 0,
        }
        seqs = s.sequences()
        assert len(seqs) == ds.n_users
        for u in (0, ds.n_users // 2, ds.n_users - 1):
            want = list(ds.items.to_external(ds.sequences()[u]))
            assert seqs[ds.users.external[u]] == want
            assert [e["item_id"] for e in s.events(ds.users.external[u])] == want
    print(f"from_dataset(beauty): {built:.2f}s")
