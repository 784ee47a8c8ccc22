"""Reliability on loopback, bounded in time: load at a fixed rate, kill -9 while events are
being written, schema-driven fuzzing (no 5xx for any input), writes without the key."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import numpy as np
import pytest

from serving.conftest import LiveServer, free_port  # tests/ is on sys.path (rootdir import)

KEY = "test-key"


def test_load_at_fixed_rate_has_no_errors(live):
    from shopaug.serving._loadgen import drive

    rng = np.random.default_rng(0)
    users = rng.integers(1, 1501, size=400)
    out = drive(live.url, lambda i: ("GET", f"/recommend/{users[i]}?k=10", None),
                rate=100, seconds=3)
    print("load:", out)
    assert out["errors"] == 0 and out["dropped"] == 0 and out["sent"] == 300
    assert out["status"] == {"200": 300}
    assert 0 < out["p50_ms"] <= out["p99_ms"]


def test_kill9_loses_no_acknowledged_event_and_duplicates_none(run_copy):
    """Four writers send events (unique ids); the server is killed with SIGKILL part-way.
    After a restart every acknowledged event is stored exactly once, and retrying the
    unacknowledged ones (same ids) stores each of them once too."""
    from shopaug.serving._loadgen import kill_round

    out = kill_round(run_copy, free_port(), api_key=KEY, writers=4, after=100)
    print("kill -9:", out)
    assert out["acknowledged"] >= 100 and out["in_flight"] == 4
    assert out["lost"] == out["duplicated"] == 0


def test_schema_fuzzing_finds_no_server_error(live, tmp_path):
    """schemathesis generates valid and invalid requests from the OpenAPI spec for every
    operation (with and without the key); none may answer 5xx."""
    exe = Path(sys.executable).with_name("schemathesis")
    cmd = [str(exe), "run", f"{live.url}/openapi.json", "--checks", "not_a_server_error",
           "--max-examples", "25", "--seed", "1", "-H", f"X-API-Key: {KEY}",
           "--report-dir", str(tmp_path)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    print(out.stdout[-3000:])
    assert out.returncode == 0, out.stdout[-5000:] + out.stderr[-2000:]
    assert "No issues found" in out.stdout


def test_writes_without_a_configured_key_are_refused(run_copy):
    from shopaug.serving import Settings

    with LiveServer(Settings(run=run_copy, api_key=None)) as srv:
        ev = {"user_id": "3", "item_id": "1", "type": "view"}
        r = httpx.post(f"{srv.url}/events", json=ev, headers={"X-API-Key": ""})
        assert r.status_code == 403 and "SHOPAUG_API_KEY" in r.text
        assert httpx.post(f"{srv.url}/admin/reload").status_code == 403
        assert httpx.get(f"{srv.url}/health").json()["events"] == 0


@pytest.mark.parametrize("path", ["/recommend/%00", "/recommend/%20", "/items/%ff%fe/similar",
                                  "/search?q=%01", "/search?q=lipstick&user_id=%0a",
                                  "/explain/x/" + "9" * 5000, "/search?q=" + "a" * 5000])
def test_odd_paths_are_4xx(client, path):
    assert 400 <= client.get(path).status_code < 500
