"""An open-loop load driver: requests leave at a fixed rate whatever the server's speed (a
closed loop would slow down with the server and hide its queueing), with a bound on requests
in flight so a stalled server cannot make the client grow without limit."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

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
    """Send ``rate`` requests per second for ``seconds`` to ``url``; ``request(i)`` gives the
    i-th request as ``(method, path, json_body)``. Returns latency percentiles (ms, measured
    from each request's scheduled start, so client-side queueing counts against the server),
    the achieved rate, errors (non-2xx or failed) and requests dropped because
    ``max_in_flight`` were pending."""
    return asyncio.run(_drive(url, request, rate, seconds, max_in_flight, headers, timeout))


async def _drive(url, request, rate, seconds, max_in_flight, headers, timeout) -> dict[str, Any]:
    import httpx

    n = int(rate * seconds)
    lat = np.full(n, np.nan)
    status: dict[str, int] = {}
    dropped = 0
    sem = asyncio.Semaphore(max_in_flight)
    limits = httpx.Limits(max_connections=max_in_flight, max_keepalive_connections=max_in_flight)
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=timeout,
                                 limits=limits) as client:

        async def one(i: int, due: float) -> None:
            method, path, body = request(i)
            try:
                r = await client.request(method, path, json=body)
                key = str(r.status_code)
            except httpx.HTTPError as e:
                key = type(e).__name__
            finally:
                sem.release()
            lat[i] = (time.perf_counter() - due) * 1000
            status[key] = status.get(key, 0) + 1

        tasks = []
        start = time.perf_counter()
        for i in range(n):
            due = start + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            if sem.locked():
                dropped += 1
                continue
            await sem.acquire()
            tasks.append(asyncio.create_task(one(i, due)))
        await asyncio.gather(*tasks)
        wall = time.perf_counter() - start
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
