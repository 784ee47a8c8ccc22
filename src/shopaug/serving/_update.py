"""Incremental model updates from feedback: warm-start fine-tuning on the grown data.

``update_run`` reads the events accepted since the last update (from the store file, or from
a running server's ``GET /events`` when the server holds the store), appends them to the
users' sequences, re-applies the run's augmentation recipe to the grown data, continues
training the served model from its current weights for a few epochs, and writes the result as
the run's next version ``RUN/updates/vNNNN/`` (model + ``update.json``). A server picks it up
with ``POST /admin/reload`` (``shopaug update --server`` sends it) and swaps without downtime.

The grown training data is every user's full known sequence (the run's dataset) plus the new
events: after deployment nothing is held out any more, which is why an update reports its
training loss and the events it learnt from, not test metrics (the benchmark measures the
gain on a split where the new events are the validation items).
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from shopaug._fs import write_dir_atomic
from shopaug.data import Sequences, TrainSet
from shopaug.exceptions import ShopaugError
from shopaug.serving._engine import versions


def grown_train(ds: Any, events: Iterable[tuple[str, str]]) -> tuple[TrainSet, dict[str, int]]:
    """The dataset's sequences with ``(user_id, item_id)`` events appended in order; users
    the dataset does not know become new rows. Unknown items are skipped (and counted)."""
    seqs = [list(r) for r in ds.sequences()]
    rows: dict[str, int] = {}
    counts = {"events": 0, "skipped_items": 0, "new_users": 0}
    for user, item in events:
        i = ds.items.get(item)
        if i is None:
            counts["skipped_items"] += 1
            continue
        u = ds.users.get(user)
        if u is None:
            u = rows.get(user)
            if u is None:
                u = rows[user] = len(seqs)
                seqs.append([])
                counts["new_users"] += 1
        seqs[int(u)].append(int(i))
        counts["events"] += 1
    train = TrainSet(Sequences.from_lists([np.asarray(s, np.int64) for s in seqs]), ds.n_items,
                     item_text=ds.item_text, item_attrs=ds.item_attrs)
    return train, counts


def warm_update(
    model: Any, train: TrainSet, recipe: Any = None, *, epochs: int = 3,
    lr_scale: float = 1.0, seed: int = 0, progress: bool = True,
) -> float:
    """Continue training ``model`` on ``train`` from its current weights for ``epochs`` at
    ``lr_scale`` times its learning rate (models without weights to keep refit). Returns
    the seconds spent; the model's saved config keeps its own learning rate."""
    from shopaug.training import TrainOptions

    scaled = "lr" in dataclasses.asdict(model.config)
    if scaled:
        model.config = dataclasses.replace(model.config, lr=model.config.lr * lr_scale)
    t0 = time.perf_counter()
    try:
        model.fit(train, TrainOptions(seed=seed, epochs=epochs, progress=progress,
                                      recipe=recipe, warm_start=True))
    finally:
        if scaled:
            model.config = dataclasses.replace(model.config, lr=model.config.lr / lr_scale)
    return time.perf_counter() - t0


def fetch_events(server: str, api_key: str | None, after: int) -> list[dict]:
    """Feedback events after sequence number ``after`` from a running server."""
    import httpx

    out: list[dict] = []
    with httpx.Client(base_url=server, timeout=60) as client:
        while True:
            r = client.get("/events", params={"after": after, "limit": 10000},
                           headers={"X-API-Key": api_key or ""})
            if r.status_code != 200:
                raise ShopaugError(f"{server}/events: HTTP {r.status_code}: {r.text[:200]}")
            page = r.json()
            out += page["events"]
            if not page["events"]:
                return out
            after = page["last_seq"]


def last_seq(run: Path) -> int:
    """The event sequence number the newest version learnt up to (0: none)."""
    ups = versions(run)
    if not ups:
        return 0
    meta = json.loads((ups[-1][1].parent / "update.json").read_text())
    return int(meta["events_upto_seq"])


def update_run(
    run: str | Path,
    events: list[dict],
    *,
    epochs: int = 3,
    lr_scale: float = 1.0,
    seed: int = 0,
    progress: bool = True,
) -> dict[str, Any]:
    """Fine-tune the run's newest model on its data plus ``events`` (dicts with ``user_id``,
    ``item_id``, ``seq``; feedback as the store returns it) and write the next version."""
    from shopaug.experiment import apply_recipe, load_run, read_run
    from shopaug.models import load_model

    run = Path(run)
    meta = read_run(run)
    ds, _, base, name = load_run(run)
    ups = versions(run)
    model = load_model(ups[-1][1]) if ups else base
    number = (ups[-1][0] if ups else 0) + 1
    upto = max([int(e["seq"]) for e in events], default=last_seq(run))
    train, counts = grown_train(ds, ((str(e["user_id"]), str(e["item_id"])) for e in events))
    rc = meta.get("run_config") or {}
    before = train.sequences.n_interactions
    # the run's own augmentation, re-run on the grown data (offline: more rows; online or
    # contrastive: applied to every batch inside fit)
    train, recipe = apply_recipe(rc.get("recipe"), train, seed, progress=progress)
    # a network (or an ensemble's networks) to continue from
    warm = getattr(model, "net_", None) is not None or bool(getattr(model, "members_", ()))
    seconds = warm_update(model, train, recipe, epochs=epochs, lr_scale=lr_scale, seed=seed,
                          progress=progress)
    record = {
        "version": number, "model": name, "base": str(ups[-1][1] if ups else meta["models"][name]),
        "warm_start": warm, "epochs": epochs, "lr_scale": lr_scale, "seed": seed,
        "events_upto_seq": upto, **counts, "users": train.n_users,
        "recipe": None if recipe is None else recipe.name,
        "recipe_mode": None if recipe is None else recipe.mode,
        "augmented_interactions": int(train.sequences.n_interactions - before),
        "interactions": int(train.sequences.n_interactions), "fit_seconds": round(seconds, 2),
        "loss": [h.get("loss") for h in model.history_],
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }

    def fill(tmp: Path) -> None:
        model.save(tmp / "model")
        (tmp / "update.json").write_text(json.dumps(record, indent=2))

    write_dir_atomic(run / "updates" / f"v{number:04d}", fill)
    return record
