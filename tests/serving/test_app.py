"""The HTTP API end to end: a live uvicorn server over a small trained run."""

from __future__ import annotations

import threading
import time

import numpy as np

KEY = {"X-API-Key": "test-key"}  # the key conftest's live server runs with


def _history(client, user):
    ev = client.get(f"/users/{user}/events", headers=KEY).json()["events"]
    return [e["item_id"] for e in ev]


def test_health_and_openapi(client):
    h = client.get("/health").json()
    assert h["status"] == "ok" and h["model"] == "sasrec" and h["version"] == "sasrec@v0"
    assert h["users"] == 1500 and h["items"] > 1000 and h["events"] == 0
    spec = client.get("/openapi.json").json()
    for path in ("/recommend/{user_id}", "/recommend", "/search", "/items/{item_id}/similar",
                 "/events", "/users/{user_id}/events", "/explain/{user_id}/{item_id}",
                 "/health", "/metrics"):
        assert path in spec["paths"], path
    assert client.get("/docs").status_code == 200


def test_recommend_excludes_history_and_is_cached(client):
    r = client.get("/recommend/3", params={"k": 7})
    assert r.status_code == 200
    body = r.json()
    ids = [it["item_id"] for it in body["items"]]
    assert len(ids) == 7 == len(set(ids))
    assert not set(ids) & set(_history(client, "3"))
    assert body["source"] == "model" and body["history_length"] == len(_history(client, "3"))
    scores = [it["score"] for it in body["items"]]
    assert scores == sorted(scores, reverse=True)
    assert all(it["title"] for it in body["items"])
    again = client.get("/recommend/3", params={"k": 5}).json()
    assert again["source"] == "cache" and [it["item_id"] for it in again["items"]] == ids[:5]


def test_unknown_user_gets_popular_items_and_bad_k_is_422(client):
    body = client.get("/recommend/no-such-user").json()
    assert body["source"] == "popularity" and len(body["items"]) == 10
    for k in (0, 101, "x"):
        r = client.get("/recommend/3", params={"k": k})
        assert r.status_code == 422 and "k" in r.text


def test_adhoc_history(client):
    hist = _history(client, "5")[:3]
    body = client.post("/recommend", json={"history": hist, "k": 5}).json()
    assert body["user_id"] is None and body["history_length"] == 3
    assert not {it["item_id"] for it in body["items"]} & set(hist)
    r = client.post("/recommend", json={"history": [hist[0], "no-such-item"]})
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "history[1]"]
    assert "no-such-item" in r.text


def test_event_needs_the_key(client):
    ev = {"user_id": "3", "item_id": "1", "type": "click"}
    assert client.post("/events", json=ev).status_code == 401
    assert client.post("/events", json=ev, headers={"X-API-Key": "wrong"}).status_code == 401
    assert client.get("/users/3/events").status_code == 401
    assert client.get("/health").json()["events"] == 0  # nothing was stored


def test_feedback_changes_the_next_recommendations_at_once(client):
    before = client.get("/recommend/3", params={"k": 10}).json()
    top = before["items"][0]["item_id"]
    r = client.post("/events", json={"user_id": "3", "item_id": top, "type": "purchase"},
                    headers=KEY)
    assert r.status_code == 201 and r.json()["created"]
    after = client.get("/recommend/3", params={"k": 10}).json()
    assert after["source"] == "model"  # the cached list was invalidated
    assert after["history_length"] == before["history_length"] + 1
    assert top not in [it["item_id"] for it in after["items"]]
    assert _history(client, "3")[-1] == top
    stored = client.get("/users/3/events", headers=KEY).json()["events"][-1]
    assert stored["source"] == "api" and stored["type"] == "purchase"


def test_event_retry_is_stored_once_and_bad_events_are_422(client):
    ev = {"user_id": "new-user", "item_id": "2", "type": "view", "event_id": "e-1",
          "timestamp": "2026-11-22T10:00:00Z"}
    first = client.post("/events", json=ev, headers=KEY).json()
    second = client.post("/events", json=ev, headers=KEY).json()
    assert first["created"] and not second["created"]
    assert _history(client, "new-user") == ["2"]
    assert client.get("/recommend/new-user").json()["history_length"] == 1
    for bad, field in [({**ev, "item_id": "nope", "event_id": "e-2"}, "item_id"),
                       ({**ev, "type": "like"}, "type"),
                       ({**ev, "user_id": ""}, "user_id"),
                       ({**ev, "timestamp": -5}, "timestamp"),
                       ({"user_id": "3", "type": "view"}, "item_id")]:
        r = client.post("/events", json=bad, headers=KEY)
        assert r.status_code == 422 and field in r.text, (bad, r.text)


def test_search_similar_explain(client):
    body = client.get("/search", params={"q": "nail polish", "k": 5}).json()
    assert len(body["items"]) == 5 and not body["personalised"]
    assert all("nail" in it["title"] or "polish" in it["title"] for it in body["items"])
    mine = client.get("/search", params={"q": "nail polish", "user_id": "3"}).json()
    assert mine["personalised"]
    assert client.get("/search", params={"q": ""}).status_code == 422
    item = body["items"][0]["item_id"]
    sim = client.get(f"/items/{item}/similar", params={"k": 6}).json()
    ids = [it["item_id"] for it in sim["items"]]
    assert len(ids) == 6 and item not in ids
    assert client.get("/items/nope/similar").status_code == 404
    rec = client.get("/recommend/3").json()["items"][0]["item_id"]
    ex = client.get(f"/explain/3/{rec}").json()
    hist = set(_history(client, "3"))
    assert ex["because"] and all(b["item_id"] in hist for b in ex["because"])
    assert ex["text"].startswith("Because you bought")
    assert client.get(f"/explain/nobody/{rec}").status_code == 404


def test_metrics_count_requests_by_route(client):
    client.get("/recommend/4")
    client.get("/recommend/5")
    text = client.get("/metrics").text
    line = [x for x in text.splitlines()
            if x.startswith("shopaug_requests_total") and "/recommend/{user_id}" in x]
    assert line and float(line[0].split()[-1]) >= 2
    assert "shopaug_request_seconds_bucket" in text and "shopaug_model_info" in text


def test_update_then_reload_swaps_without_failed_requests(client, live):
    from shopaug.serving._update import update_run

    for i, item in enumerate(["10", "11", "12"]):
        client.post("/events", json={"user_id": "7", "item_id": item, "type": "view",
                                     "event_id": f"u{i}"}, headers=KEY)
    events = client.get("/events", headers=KEY).json()["events"]
    assert [e["item_id"] for e in events] == ["10", "11", "12"]
    run = live.server.config.app.state.engine.settings.run
    record = update_run(run, events, epochs=1, progress=False)
    assert record["version"] == 1 and record["events"] == 3 and record["warm_start"]
    codes: list[int] = []
    stop = threading.Event()

    def hammer() -> None:
        import httpx

        with httpx.Client(base_url=live.url, timeout=30) as c:
            while not stop.is_set():
                codes.append(c.get(f"/recommend/{len(codes) % 50 + 1}").status_code)

    t = threading.Thread(target=hammer)
    t.start()
    while len(codes) < 5:
        time.sleep(0.01)
    r = client.post("/admin/reload", headers=KEY)
    n = len(codes)
    while len(codes) < n + 5:
        time.sleep(0.01)
    stop.set()
    t.join()
    assert r.status_code == 200 and r.json() == {"previous": "sasrec@v0",
                                                 "version": "sasrec@v1", "swapped": True}
    assert codes and set(codes) == {200}
    assert client.get("/recommend/7").json()["version"] == "sasrec@v1"
    assert client.post("/admin/reload").status_code == 401


def test_warm_start_continues_from_the_saved_weights(tiny_run):
    """An update starts from the served weights: after 0 learning rate it is unchanged."""
    from shopaug.experiment import load_run
    from shopaug.training import TrainOptions

    _, sp, model, _ = load_run(tiny_run)
    before = model.item_vectors()
    import dataclasses

    model.config = dataclasses.replace(model.config, lr=1e-12, dropout=0.0)
    model.fit(sp.train, TrainOptions(epochs=1, progress=False, warm_start=True))
    np.testing.assert_allclose(model.item_vectors(), before, atol=1e-6)


def test_fast_path_and_warm_cache_match_the_model(run_copy):
    """The engine's vector fast path and the batch warm-up give the model's own top items."""
    from shopaug.data import Sequences
    from shopaug.serving import Engine, Settings

    eng = Engine(Settings(run=run_copy, warm_cache=False))
    try:
        users = [str(u) for u in range(1, 41)]
        model = eng.bundle.model
        hists = [eng.history(u) for u in users]
        want, _ = model.recommend(np.full(len(users), -1), Sequences.from_lists(hists), 20)
        for u, w in zip(users, want, strict=True):
            got, _, path = eng._top(u, eng.history(u), 20, eng.bundle)
            assert path == "model" and list(got) == list(w)
        assert eng.warm() == 1500
        for u, w in zip(users, want, strict=True):
            r = eng.recommend(u, 20)
            assert r["source"] == "cache"
            assert [it["item_id"] for it in r["items"]] == [str(x) for x in
                                                            eng.ds.items.to_external(w)]
        # an event makes the warm entry stale: the next answer is recomputed
        eng.add_event("1", str(eng.ds.items.to_external([w[0]])[0]), "click", timestamp=None,
                      event_id=None)
        assert eng.recommend("1", 20)["source"] == "model"
    finally:
        eng.close()


def _overlap(a, b) -> float:
    return len(set(map(int, a)) & set(map(int, b))) / len(a)


def test_ann_and_int8_paths_agree_with_exact_scoring(run_copy):
    """HNSW retrieval (forced by ann_threshold=0) and the int8 path return nearly the exact
    top-20, never a history item, and the int8 scores stay close to float32."""
    from shopaug.serving import Engine, Settings

    exact = Engine(Settings(run=run_copy, warm_cache=False, log_shown=False))
    try:
        users = [str(u) for u in range(1, 101)]
        want = {u: exact._top(u, exact.history(u), 20, exact.bundle)[0] for u in users}
    finally:
        exact.close()
    for kind, settings, floor in [
        ("ann", Settings(run=run_copy, warm_cache=False, ann_threshold=0), 0.9),
        ("int8", Settings(run=run_copy, warm_cache=False, quantize="int8"), 0.8),
    ]:
        eng = Engine(settings)
        try:
            assert eng.bundle.ann is not None
            # K_MAX items, as a request computes them (HNSW's result depends on k)
            got = {u: eng._top(u, eng.history(u), 100, eng.bundle) for u in users}
            got = {u: (g[0][:20], g[1][:20], g[2]) for u, g in got.items()}
            assert all(g[2] == "ann" for g in got.values())
            assert all(not set(map(int, g[0])) & set(map(int, eng.history(u)))
                       for u, g in got.items())
            mean = np.mean([_overlap(want[u], got[u][0]) for u in users])
            assert mean >= floor, (kind, mean)
            assert eng.warm() == 1500  # batch warm-up takes the same path
            r = eng.recommend("1", 20)
            cached = eng.ds.items.to_internal([i["item_id"] for i in r["items"]])
            assert r["source"] == "cache"
            if kind == "ann":
                assert list(cached) == list(got["1"][0]), kind
            else:
                # int8 activations are quantised per batch, so a batch of users and one user
                # alone get slightly different query vectors
                assert _overlap(cached, got["1"][0]) >= 0.8
        finally:
            eng.close()
