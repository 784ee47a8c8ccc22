"""shopaug serve / shopaug update: run the HTTP service over a run; update its model from
feedback."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer


def serve(
    run: Annotated[Path, typer.Option(help="Run folder written by 'shopaug train' or the demo.")],
    store: Annotated[Path | None, typer.Option(
        help="Knowledge store file (default RUN/store.duckdb, created from the run's data).")]
    = None,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    model: Annotated[str | None, typer.Option(help="Which of the run's models to serve.")]
    = None,
    search_index: Annotated[Path | None, typer.Option(
        help="Search index folder from 'shopaug search index' (default BM25 over item text).")]
    = None,
    threads: Annotated[int, typer.Option(help="Torch threads per request.")] = 1,
    quantize: Annotated[str, typer.Option(
        help="none, or int8: int8 encoder weights and int8 item codes.")] = "none",
    warm_cache: Annotated[bool, typer.Option(
        help="Precompute every known user's top items after start-up (background).")] = True,
) -> None:
    """Serve recommendations, search, similar items, feedback and the web UI (uvicorn).

    Writes (POST /events) need the key set in the SHOPAUG_API_KEY environment variable, sent
    by clients in the X-API-Key header. OpenAPI docs are at /docs.
    """
    import uvicorn

    from shopaug.exceptions import ConfigError
    from shopaug.serving import Settings, create_app

    if quantize not in ("none", "int8"):
        raise ConfigError(f"--quantize must be none or int8, got {quantize!r}")
    settings = Settings.from_env(run, store=store, model=model, search_index=search_index,
                                 threads=threads, quantize=quantize, warm_cache=warm_cache)
    if not settings.api_key:
        typer.echo("note: SHOPAUG_API_KEY is not set; the service refuses every write", err=True)
    uvicorn.run(create_app(settings), host=host, port=port, log_level="warning",
                access_log=False)


def update(
    run: Annotated[Path, typer.Option(help="Run folder whose model to update.")],
    store: Annotated[Path | None, typer.Option(
        help="Store file to read new events from (when no server holds it).")] = None,
    server: Annotated[str | None, typer.Option(
        help="URL of a running 'shopaug serve': read events from it and make it reload.")]
    = None,
    epochs: Annotated[int, typer.Option(help="Fine-tuning epochs (warm start).")] = 3,
    lr_scale: Annotated[float, typer.Option(help="Learning rate relative to training.")] = 1.0,
    seed: Annotated[int, typer.Option(help="Seed of every random stream.")] = 0,
    progress: Annotated[bool, typer.Option(help="Show progress bars.")] = True,
) -> None:
    """Fine-tune the run's model on the feedback since the last update (warm start) and
    write the next version under RUN/updates/; with --server, the service swaps to it."""
    import json

    import httpx

    from shopaug.exceptions import ShopaugError
    from shopaug.serving._update import fetch_events, last_seq, update_run

    key = os.environ.get("SHOPAUG_API_KEY")
    after = last_seq(run)
    if server is not None:
        events = fetch_events(server, key, after)
    else:
        from shopaug.knowledge import Store

        with Store(store or run / "store.duckdb") as st:
            events = st.events_after(after)
    if not events:
        raise ShopaugError(f"no new events since sequence {after}; nothing to update")
    record = update_run(run, events, epochs=epochs, lr_scale=lr_scale, seed=seed,
                        progress=progress)
    if server is not None:
        r = httpx.post(f"{server}/admin/reload", headers={"X-API-Key": key or ""}, timeout=120)
        if r.status_code != 200:
            raise ShopaugError(f"{server}/admin/reload: HTTP {r.status_code}: {r.text[:200]}")
        record["reload"] = r.json()
    print(json.dumps(record, indent=2))
