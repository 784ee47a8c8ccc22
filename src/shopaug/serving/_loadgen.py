"""An open-loop load driver: requests leave at a fixed rate whatever the server's speed (a
closed loop would slow down with the server and hide its queueing), with a bound on requests
in flight so a stalled server cannot make the client grow without limit."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np


def drive(
    url: str,
    request: Callable[[int], tuple[str, str, dict | None]],
    *,
    rate: float,
    seconds: float,
    max_in_flight: int = 64,
    headers: dict[str, str] | None = None,
    timeout: float = 10.0,
) -> dict[str, Any]:
    """Send ``rate`` requests per second for ``seconds`` to ``url`` (``http://host:port``);
    ``request(i)`` gives the i-th request as ``(method, path, json_body)``. Returns latency
    percentiles (ms, measured from each request's scheduled start, so client-side queueing
    counts against the server), the achieved rate, errors (non-2xx or failed) and requests
    dropped because ``max_in_flight`` were pending.

    The client is a bare HTTP/1.1 keep-alive client on asyncio streams: on a 2-core machine
    it shares the CPU with the server, and a full client library would spend more time per
    request than the server does."""
    return asyncio.run(_drive(url, request, rate, seconds, max_in_flight, headers or {},
                              timeout))


class _Conn:
    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def call(self, raw: bytes) -> int:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        try:
            self.writer.write(raw)
            head = await self.reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            status = int(lines[0].split()[1])
            length = 0
            for line in lines[1:]:
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value)
            if length:
                await self.reader.readexactly(length)
            return status
        except Exception:
            self.close()
            raise

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


def _raw(method: str, path: str, body: dict | None, host: str, headers: dict[str, str]) -> bytes:
    data = b"" if body is None else json.dumps(body).encode()
    head = [f"{method} {path} HTTP/1.1", f"Host: {host}", f"Content-Length: {len(data)}"]
    if body is not None:
        head.append("Content-Type: application/json")
    head += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + data


async def _drive(url, request, rate, seconds, max_in_flight, headers, timeout) -> dict[str, Any]:
    u = urlsplit(url)
    host, port = u.hostname or "127.0.0.1", u.port or 80
    n = int(rate * seconds)
    lat = np.full(n, np.nan)
    status: dict[str, int] = {}
    dropped = 0
    idle: asyncio.Queue[_Conn] = asyncio.Queue()
    for _ in range(max_in_flight):
        idle.put_nowait(_Conn(host, port))

    async def one(i: int, due: float, conn: _Conn) -> None:
        method, path, body = request(i)
        try:
            code = await asyncio.wait_for(
                conn.call(_raw(method, path, body, f"{host}:{port}", headers)), timeout)
            key = str(code)
        except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError) as e:
            conn.close()
            key = type(e).__name__
        lat[i] = (time.perf_counter() - due) * 1000
        status[key] = status.get(key, 0) + 1
        idle.put_nowait(conn)

    tasks = []
    start = time.perf_counter()
    for i in range(n):
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        if idle.empty():
            dropped += 1
            continue
        tasks.append(asyncio.create_task(one(i, due, idle.get_nowait())))
    await asyncio.gather(*tasks)
    wall = time.perf_counter() - start
    while not idle.empty():
        idle.get_nowait().close()
    done = lat[~np.isnan(lat)]
    ok = sum(v for k, v in status.items() if k.startswith("2"))
    pct = (lambda q: float(np.percentile(done, q))) if len(done) else (lambda q: float("nan"))
    return {
        "target_rate": rate, "seconds": seconds, "sent": len(tasks),
        "achieved_rate": round(len(tasks) / wall, 1), "ok": ok,
        "errors": len(tasks) - ok, "dropped": dropped, "status": status,
        "p50_ms": round(pct(50), 3), "p90_ms": round(pct(90), 3), "p99_ms": round(pct(99), 3),
        "max_ms": round(float(done.max()), 3) if len(done) else float("nan"),
    }


def start_server(run: str | Path, port: int, *, api_key: str, extra: list[str] | None = None,
                 timeout: float = 180) -> subprocess.Popen:
    """``shopaug serve`` in a child process, returned once ``/health`` answers."""
    import httpx

    env = {**os.environ, "SHOPAUG_API_KEY": api_key}
    proc = subprocess.Popen(
        [sys.executable, "-m", "shopaug.cli", "serve", "--run", str(run), "--port", str(port),
         *(extra or [])],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {proc.stdout.read().decode()[-2000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise TimeoutError(f"server on port {port} did not start in {timeout:.0f} s")


def kill_round(
    run: str | Path, port: int, *, api_key: str, writers: int = 4, after: int = 100,
    prefix: str = "dur", items: list[str] | None = None, extra: list[str] | None = None,
) -> dict[str, Any]:
    """One durability round: ``writers`` threads send events with unique ids to a fresh
    server until it is killed with SIGKILL once ``after`` events were acknowledged; then a
    restarted server must hold every acknowledged event exactly once, and a retry of each
    unacknowledged event (same id) must store it exactly once. Returns the counts; raises
    AssertionError on any loss or duplicate."""
    import httpx

    items = items or [str(i) for i in range(1, 501)]
    url = f"http://127.0.0.1:{port}"
    proc = start_server(run, port, api_key=api_key, extra=extra)
    acked: list[str] = []
    pending: list[dict] = []
    lock = threading.Lock()
    head = {"X-API-Key": api_key}

    def writer(w: int) -> None:
        with httpx.Client(base_url=url, timeout=10, headers=head) as c:
            for n in range(1_000_000):
                ev = {"user_id": f"{prefix}-{w}", "item_id": items[n % len(items)],
                      "type": "view", "event_id": f"{prefix}-{w}-{n}"}
                try:
                    r = c.post("/events", json=ev)
                except httpx.HTTPError:
                    with lock:
                        pending.append(ev)
                    return
                if r.status_code != 201:
                    raise AssertionError(f"event refused: {r.status_code} {r.text}")
                with lock:
                    acked.append(ev["event_id"])

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(writers)]
    for t in threads:
        t.start()
    while len(acked) < after and any(t.is_alive() for t in threads):
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    for t in threads:
        t.join(30)
    proc = start_server(run, port, api_key=api_key, extra=extra)
    try:
        with httpx.Client(base_url=url, timeout=30, headers=head) as c:
            def stored() -> list[str]:
                ids = []
                for w in range(writers):
                    ev = c.get(f"/users/{prefix}-{w}/events", params={"limit": 10000}).json()
                    ids += [e["event_id"] for e in ev["events"]]
                return ids

            ids = stored()
            if len(ids) != len(set(ids)):
                raise AssertionError("an event was stored twice")
            lost = set(acked) - set(ids)
            if lost:
                raise AssertionError(f"{len(lost)} acknowledged events lost")
            in_flight_stored = len(set(ids) - set(acked))
            for ev in pending:  # the client retries what it never saw acknowledged
                r = c.post("/events", json=ev)
                if r.status_code != 201:
                    raise AssertionError(f"retry refused: {r.status_code} {r.text}")
            after_ids = stored()
            if not len(after_ids) == len(set(after_ids)) == len(set(acked)) + len(pending):
                raise AssertionError("retries of unacknowledged events were duplicated or lost")
            history = c.get(f"/recommend/{prefix}-0").json()["history_length"]
            if history != sum(1 for i in after_ids if i.startswith(f"{prefix}-0-")):
                raise AssertionError("the restarted server's sequence misses stored events")
    finally:
        proc.terminate()
        proc.wait(30)
    return {"acknowledged": len(acked), "in_flight": len(pending),
            "in_flight_stored_before_retry": in_flight_stored, "lost": 0, "duplicated": 0}
