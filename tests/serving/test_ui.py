"""The web UI: its pages and ``GET /samples`` over HTTP, then end to end in headless Chromium
(dashboard plots, feedback that changes the recommendations, search, augmented samples)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from shopaug.serving._ui import NO_SYNTHETIC, TRAIN_ONLY, Samples

API_KEY = "test-key"  # the key conftest's live server runs with
CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
PAGES = ("/ui", "/ui/recommend", "/ui/search", "/ui/samples")
# ops whose output may hold training items from outside the user's own sequence
VOCAB_OPS = ("substitute", "insert", "noise")


def _shots() -> Path:
    env = os.environ.get("SHOPAUG_SCREENSHOTS")
    root = Path(__file__).resolve().parents[2]
    out = Path(env) if env else root / "test-artifacts" / "screenshots"
    out.mkdir(parents=True, exist_ok=True)
    return out


@pytest.fixture(scope="session")
def chromium() -> Path:
    """Debian's Chromium; session-scoped so a missing browser skips before the run is built."""
    if not CHROMIUM.exists():
        msg = f"{CHROMIUM} not found: the UI test needs Debian's Chromium (apt-get install -y " \
              "chromium); never 'playwright install'"
        if os.environ.get("CI"):
            pytest.fail(msg)
        pytest.skip(msg)
    return CHROMIUM


# --- HTTP, no browser ----------------------------------------------------------------------


def test_pages_are_html_with_local_assets_only(client, run_copy):
    for path in PAGES:
        r = client.get(path)
        assert r.status_code == 200, path
        assert r.headers["content-type"].startswith("text/html")
        assert '<a href="/ui/samples"' in r.text  # the nav bar
        assert not re.search(r'(src|href)="(https?:)?//', r.text), f"{path} loads from outside"
        for asset in re.findall(r'(?:src|href)="(/ui/static/[^"]+)"', r.text):
            a = client.get(asset)
            assert a.status_code == 200, asset
            assert "http://" not in a.text and "https://" not in a.text, asset
    assert client.get("/ui").text.count('<img src="data:image/png;base64,') >= 3
    report = client.get("/ui/report")
    assert report.status_code == 200 and report.headers["content-type"].startswith("text/html")
    assert report.content == (run_copy / "report.html").read_bytes()


def _leaks(body: dict, ds, split) -> list[str]:
    """Items of the samples that do not come from the user's training sequence (or, for ops
    drawing neighbours or noise, from the training vocabulary); held-out targets named."""
    import numpy as np

    vocab = set(ds.items.to_external(np.flatnonzero(split.train.item_counts() > 0)))
    held = {}
    for t in (split.valid, split.test):
        for u, i in zip(t.users, t.target, strict=True):
            held.setdefault(int(u), set()).add(str(ds.items.to_external([i])[0]))
    out = []
    for s in body["samples"]:
        u = ds.users.get(s["user_id"])
        train = [str(i) for i in ds.items.to_external(split.train.sequences[u])]
        if [it["item_id"] for it in s["original"]] != train:
            out.append(f"user {s['user_id']}: original is not the training sequence")
        for v in s["augmented"]:
            wide = any(op.startswith(VOCAB_OPS) for op in v["ops"])
            allowed = (vocab if wide else set()) | set(train)
            for it in v["items"]:
                i = it["item_id"]
                if it["masked"] and i is None:
                    continue
                if i not in allowed:
                    kind = "held-out target" if i in held.get(u, ()) else "foreign item"
                    out.append(f"user {s['user_id']} version {v['index']}: {kind} {i}")
    return out


def test_samples_json_provenance_and_training_only(client, run_copy):
    from shopaug.augment import build, load_recipe
    from shopaug.experiment import load_run

    r = client.get("/samples", params={"n": 8, "seed": 0})
    assert r.status_code == 200
    body = r.json()
    assert Samples.model_validate(body).model_dump(mode="json") == body
    assert client.get("/samples", params={"n": 8, "seed": 0}).json() == body  # seeded
    assert client.get("/samples", params={"n": 8, "seed": 1}).json() != body
    for bad in ({"n": 0}, {"n": 51}, {"seed": -1}):
        assert client.get("/samples", params=bad).status_code == 422

    # the tiny run trained without augmentation: the page says so and shows `recommended`
    assert body["recipe"] == "recommended" and body["recipe_from"] == "shipped"
    assert "without augmentation" in body["recipe_note"]
    assert body["augment"] == load_recipe("recommended").augment
    assert body["source"] == TRAIN_ONLY and body["synthetic_note"] == NO_SYNTHETIC
    assert body["problem"] is None and len(body["samples"]) == 8
    labels = set(build(body["augment"]).labels())
    versions = [v for s in body["samples"] for v in s["augmented"]]
    assert len(versions) == 8 * 3
    assert all(set(v["ops"]) <= labels and v["ops"] for v in versions)  # p = 1: one op each
    assert any(v["changed"] for v in versions)
    assert all(s["source"] == TRAIN_ONLY for s in body["samples"])

    ds, split, _, _ = load_run(run_copy)
    assert _leaks(body, ds, split) == []
    # plant a held-out target in a copy: the check must catch it
    for s in body["samples"]:
        u = ds.users.get(s["user_id"])
        rows = split.test.users == u
        target = str(ds.items.to_external(split.test.target[rows])[0]) if rows.any() else None
        if target and target not in {it["item_id"] for it in s["original"]}:
            s["augmented"][0]["items"].append({"item_id": target, "title": None, "masked": False})
            break
    else:
        pytest.fail("no sampled user has a test target outside their training sequence")
    assert any("held-out target" in m for m in _leaks(body, ds, split))


# --- headless Chromium ---------------------------------------------------------------------


def test_ui_in_browser(chromium, live, client):
    from playwright.sync_api import sync_playwright

    shots = _shots()
    errors: list[str] = []
    outside: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(chromium), args=ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.set_default_timeout(20_000)
            page.on("console", lambda m: errors.append(f"console: {m.text} ({m.location})")
                    if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(f"page error: {e}"))
            page.on("request", lambda q: None if q.url.startswith((live.url, "data:"))
                    else outside.append(q.url))

            # dashboard: the report's plots render, health comes from /health
            page.goto(live.url + "/ui")
            page.wait_for_selector("#health-version")
            page.wait_for_function("[...document.images].every(i => i.complete)")
            widths = page.eval_on_selector_all("figure img", "a => a.map(i => i.naturalWidth)")
            assert len(widths) >= 3 and all(w > 0 for w in widths), widths
            health = client.get("/health").json()
            assert page.inner_text("#health-version") == health["version"]
            for href in ("/ui/report", "/docs", "/metrics"):
                assert page.locator(f'main a[href="{href}"]').count() == 1
            page.screenshot(path=shots / "dashboard.png", full_page=True)

            # recommend: purchase the first item; it leaves the list, the history grows
            page.goto(live.url + "/ui/recommend")
            user = page.input_value("#user")
            assert user
            page.wait_for_selector("#recs li[data-item]")
            first = page.locator("#recs li[data-item]").first
            item, title = first.get_attribute("data-item"), first.locator(".title").inner_text()
            length = int(page.get_attribute("#rec-meta", "data-history-length"))
            page.fill("#api-key", API_KEY)
            page.wait_for_selector("#history-count[data-count]")
            stored = int(page.get_attribute("#history-count", "data-count"))
            first.locator(".explain-link").click()
            first.locator(".explain").wait_for(state="visible")
            assert first.locator(".explain").inner_text().startswith(("Because", "Popular"))
            first.locator("button[data-type=purchase]").click()
            page.wait_for_function(
                "n => document.getElementById('rec-meta').dataset.historyLength == n",
                arg=str(length + 1))
            page.wait_for_function(
                "n => document.getElementById('history-count').dataset.count == n",
                arg=str(stored + 1))
            shown = page.eval_on_selector_all("#recs li[data-item]",
                                              "a => a.map(l => l.dataset.item)")
            assert item not in shown and len(shown) == 10
            newest = page.locator("#history li").first
            assert newest.get_attribute("data-item") == item
            assert newest.get_attribute("data-type") == "purchase"
            assert page.evaluate("localStorage.getItem('shopaug.apiKey')") == API_KEY
            events = client.get(f"/users/{user}/events", headers={"X-API-Key": API_KEY}).json()
            last = events["events"][-1]
            assert (last["item_id"], last["type"], last["source"]) == (item, "purchase", "api")
            page.screenshot(path=shots / "recommend.png", full_page=True)

            # search (personalised), then similar items of the first result
            page.goto(live.url + "/ui/search")
            page.fill("#q", title)
            page.fill("#user", user)
            page.click("#search-form button[type=submit]")
            page.wait_for_selector("#results li[data-item]")
            assert "personalised" in page.inner_text("#search-meta")
            titles = page.locator("#results li[data-item] .title").all_inner_texts()
            words = set(title.lower().split())
            assert any(words & set(t.lower().split()) for t in titles), titles
            page.locator("#results li[data-item] .similar-link").first.click()
            page.wait_for_selector("#similar li[data-item]")
            page.screenshot(path=shots / "search.png", full_page=True)

            # augmented samples with provenance
            page.goto(live.url + "/ui/samples?seed=0&n=4")
            page.wait_for_selector(".sample .version")
            assert page.locator(".sample").count() == 4
            ops = page.locator(".version .op").all_inner_texts()
            assert any(re.match(r"(crop|mask|reorder)\(", o) for o in ops), ops
            assert page.inner_text("#source") == TRAIN_ONLY
            assert "recommended" in page.inner_text("#recipe")
            assert "without augmentation" in page.inner_text("#recipe-note")
            assert "no synthetic samples" in page.inner_text("#synthetic")
            assert "source: training partition only" in page.inner_text(".version .prov >> nth=0")
            page.screenshot(path=shots / "samples.png", full_page=True)

            # OpenAPI docs render from the package's own Swagger UI files (no CDN)
            page.goto(live.url + "/docs")
            page.wait_for_selector(".swagger-ui .opblock-summary-path")
            paths = page.locator(".opblock-summary-path").all_inner_texts()
            assert any("/recommend/{user_id}" in p for p in paths), paths
            page.screenshot(path=shots / "docs.png", full_page=True)
        finally:
            browser.close()
    assert errors == []
    assert outside == []
