"""Serving fixtures: a small trained run (first 1,500 Beauty users, SASRec dim 32, 2 epochs)
and a live uvicorn server on a free loopback port."""

from __future__ import annotations

import dataclasses
import socket
import threading
import time
from pathlib import Path

import httpx
import pytest

API_KEY = "test-key"


def _small_beauty(out: Path, users: int = 1500) -> Path:
    from shopaug.data._bundled import bundled_path

    src = bundled_path("amazon-beauty")
    out.mkdir(parents=True)
    lines = (src / "sequences.txt").read_text().splitlines()[:users]
    (out / "sequences.txt").write_text("\n".join(lines) + "\n")
    (out / "items.tsv").write_text((src / "items.tsv").read_text())
    return out


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory) -> Path:
    """A run folder as ``shopaug train`` writes it (read-only: copy it to write a store)."""
    from shopaug.experiment import resolve, train_run

    root = tmp_path_factory.mktemp("serving")
    data = _small_beauty(root / "data")
    rc = resolve(preset="sasrec")
    rc = dataclasses.replace(rc, config={**rc.config, "dim": 32, "epochs": 2})
    train_run(data, rc, root / "run", epochs=2, progress=False)
    return root / "run"


@pytest.fixture
def run_copy(tiny_run, tmp_path) -> Path:
    """A private copy of the run: tests that write events or updates get their own."""
    import shutil

    dst = tmp_path / "run"
    shutil.copytree(tiny_run, dst)
    return dst


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    """uvicorn serving ``create_app(settings)`` in a thread of this process."""

    def __init__(self, settings) -> None:
        import uvicorn

        from shopaug.serving import create_app

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=self.port,
                                log_level="warning", access_log=False)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.server.started:
                return self
            if not self.thread.is_alive():
                raise RuntimeError("the server thread died during start-up")
            time.sleep(0.05)
        raise TimeoutError("server did not start in 120 s")

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(30)


@pytest.fixture
def live(run_copy):
    """A live server over a private copy of the tiny run, with API key ``test-key``."""
    from shopaug.serving import Settings

    # no background cache warm-up: tests see the model path first, then the cache
    with LiveServer(Settings(run=run_copy, api_key=API_KEY, warm_cache=False)) as srv:
        yield srv


@pytest.fixture
def client(live):
    with httpx.Client(base_url=live.url, timeout=30) as c:
        yield c
