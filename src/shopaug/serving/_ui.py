"""The web UI: a few server-built HTML pages over the JSON API, plus ``GET /samples``.

Pages are plain HTML with a nav bar; small vanilla scripts in ``serving/ui/`` call the JSON
API from the browser, so the UI shows exactly what API clients get. Nothing is fetched from
the internet: the dashboard's plots are the report's own PNGs (``evaluation.report``),
embedded as data URIs. Expensive parts (the plots, the split and the fitted augmenter) are
built on first use, once per app, and reuse the engine's loaded dataset.
"""

from __future__ import annotations

import html
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import numpy as np
from fastapi import FastAPI, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field

from shopaug.serving._settings import Settings

if TYPE_CHECKING:
    from shopaug.augment import Augmenter, Recipe
    from shopaug.evaluation import Split
    from shopaug.serving._engine import Engine

ASSETS = Path(__file__).parent / "ui"
DEFAULT_RECIPE = "recommended"
TRAIN_ONLY = "training partition only"
NO_SYNTHETIC = ("no synthetic samples in this run: synthetic data generation (issue 7) is not "
                "built yet")
MAX_LEN = 50  # newest items an augmenter sees, as in offline expansion
NAV = (("/ui", "Dashboard"), ("/ui/recommend", "Recommend"), ("/ui/search", "Search"),
       ("/ui/samples", "Samples"), ("/ui/report", "Report"), ("/docs", "API docs"),
       ("/metrics", "Metrics"))
MODE_NOTES = {
    "online": "the trainer applies it to each training batch",
    "offline": "the training set is grown with augmented copies before fitting",
    "contrastive": "each training sequence yields two such views per step, tied by a "
                   "contrastive loss",
}


# --- schemas of GET /samples -----------------------------------------------------------------


class SampleItem(BaseModel):
    item_id: str | None = Field(description="external item id; null for the mask token")
    title: str | None
    masked: bool = Field(False, description="the mask token of the 'mask' op")


class SampleVersion(BaseModel):
    index: int = Field(description="1..copies")
    ops: list[str] = Field(description="labels of the ops that made this version, e.g. "
                           "'crop(ratio=0.6)'; empty when the recipe's p left it unchanged")
    changed: bool
    items: list[SampleItem]


class Sample(BaseModel):
    user_id: str
    source: Literal["training partition only"] = TRAIN_ONLY
    original: list[SampleItem] = Field(description="the user's training sequence, oldest first")
    augmented: list[SampleVersion]


class Samples(BaseModel):
    recipe: str
    description: str
    mode: str
    mode_note: str = Field(description="how training uses the recipe's augmenter")
    recipe_from: Literal["run", "shipped"] = Field(
        description="'run': the recipe in run.json; 'shipped': the shipped default recipe, "
        "used when the run has none")
    recipe_note: str | None = None
    augment: dict[str, Any] = Field(description="the recipe's augmenter tree")
    seed: int
    n: int
    copies: int
    split: str
    source: Literal["training partition only"] = TRAIN_ONLY
    synthetic_note: str = NO_SYNTHETIC
    problem: str | None = Field(None, description="why no augmented versions could be made")
    samples: list[Sample]


# --- lazily built, per app ---------------------------------------------------------------------


class _Lazy:
    """What the pages build once per app, each under its own lock: the dashboard body
    (matplotlib takes a second or two), the fitted recipe and an example user."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.locks = {k: threading.Lock() for k in ("dashboard", "fitted", "user")}
        self.built: dict[str, Any] = {}

    def _once(self, name: str, make: Callable[[], Any]) -> Any:
        with self.locks[name]:
            if name not in self.built:
                self.built[name] = make()
            return self.built[name]

    def dashboard(self, e: Engine) -> str:
        return self._once("dashboard", lambda: _dashboard(self.settings.run, e.meta))

    def fitted(self, e: Engine) -> _Fitted:
        return self._once("fitted", lambda: _fit_recipe(e))

    def user(self, e: Engine) -> str:
        return self._once("user", lambda: _example_user(e))


@dataclass(frozen=True)
class _Fitted:
    """The run's split and recipe, its augmenter fitted on the training partition (None,
    with ``problem`` saying why, when it cannot be fitted here)."""

    split: Split
    recipe: Recipe
    origin: Literal["run", "shipped"]
    note: str | None
    aug: Augmenter | None
    problem: str | None


def _run_recipe(meta: dict[str, Any]) -> tuple[Recipe, Literal["run", "shipped"], str | None]:
    """The run's recipe, where it came from and a note when it is the shipped default."""
    from shopaug.augment import Recipe, load_recipe

    rc = meta.get("run_config")
    if isinstance(rc, dict) and isinstance(rc.get("recipe"), dict):
        return Recipe.from_dict(rc["recipe"], where="run.json: run_config.recipe"), "run", None
    why = ("this run was trained without augmentation (run_config.recipe is none)"
           if isinstance(rc, dict) else "run.json has no run_config (a multi-model demo run)")
    return load_recipe(DEFAULT_RECIPE), "shipped", \
        f"{why}; showing the shipped '{DEFAULT_RECIPE}' recipe instead"


def _fit_recipe(e: Engine) -> _Fitted:
    from shopaug.exceptions import ShopaugError
    from shopaug.experiment import make_split

    split = make_split(e.ds, e.meta["split"])  # the engine's dataset: no second load
    recipe, origin, note = _run_recipe(e.meta)
    try:
        aug, problem = recipe.build().fit(split.train), None
    except (ImportError, OSError, ShopaugError) as err:  # e.g. a text op without the LM extra
        aug, problem = None, f"the recipe's augmenter could not be fitted here: {err}"
    return _Fitted(split, recipe, origin, note, aug, problem)


def samples(e: Engine, lazy: _Lazy, n: int, seed: int, copies: int) -> dict[str, Any]:
    """``n`` training users drawn with ``seed``, each with ``copies`` augmented versions made
    by the run's recipe from that user's training sequence (never the held-out items)."""
    from shopaug.augment import expand
    from shopaug.data import TrainSet

    f = lazy.fitted(e)
    train = f.split.train
    rng = np.random.default_rng(seed)
    pool = np.flatnonzero(train.sequences.lengths >= 2)
    users = rng.choice(pool, size=min(n, len(pool)), replace=False)

    def items(ids: list[int]) -> list[dict[str, Any]]:
        ids_ = np.asarray(ids, dtype=np.int64)
        real = (ids_ >= 1) & (ids_ <= train.n_items)  # anything else is the mask op's token
        ext = np.full(len(ids_), None, dtype=object)
        ext[real] = e.ds.items.to_external(ids_[real])
        return [{"item_id": None, "title": "[mask]", "masked": True} if x is None else
                {"item_id": str(x), "title": e.titles.get(str(x)), "masked": False}
                for x in ext]

    versions: dict[int, list[dict[str, Any]]] = {r: [] for r in range(len(users))}
    if f.aug is not None and len(users):
        sub = TrainSet(train.sequences.rows(users), train.n_items)
        table = expand(sub, f.aug, rng, copies=copies, max_len=MAX_LEN).to_pydict()
        for src, copy, row, ops in zip(table["source"], table["copy"], table["items"],
                                       table["ops"], strict=True):
            if copy:
                orig = train.sequences[users[src]][-MAX_LEN:].tolist()
                versions[src].append({"index": copy, "ops": [o for o in ops.split("|") if o],
                                      "changed": row != orig, "items": items(row)})
    out = []
    for k, (r, u) in enumerate(zip(users, e.ds.users.to_external(users), strict=True)):
        out.append({"user_id": str(u), "original": items(train.sequences[r].tolist()),
                    "augmented": versions[k]})
    r = f.recipe
    return {"recipe": r.name, "description": r.description, "mode": r.mode,
            "mode_note": MODE_NOTES.get(r.mode, ""),
            "recipe_from": f.origin, "recipe_note": f.note, "augment": r.augment, "seed": seed,
            "n": n, "copies": copies, "split": f.split.protocol, "problem": f.problem,
            "samples": out}


# --- HTML ------------------------------------------------------------------------------------


def _e(x: Any) -> str:
    return html.escape(str(x), quote=True)


def page(title: str, path: str, body: str, script: str | None = None,
         data: dict[str, Any] | None = None) -> HTMLResponse:
    """A full page: nav bar, ``body`` (trusted HTML), page data as JSON and its script."""
    nav = "".join(f'<a href="{href}"{" class=active" if href == path else ""}>{name}</a>'
                  for href, name in NAV)
    # "<" escaped so no string in the data can close the script element
    blob = json.dumps(data or {}).replace("<", "\\u003c")
    tail = f'<script src="/ui/static/common.js"></script>' \
           f'<script src="/ui/static/{script}"></script>' if script else ""
    return HTMLResponse(
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<title>{_e(title)} · shopaug</title><link rel="icon" href="data:,">'
        '<link rel="stylesheet" href="/ui/static/ui.css"></head><body>'
        f'<nav><span class="brand">shopaug</span>{nav}</nav><main>{body}</main>'
        f'<script type="application/json" id="page-data">{blob}</script>{tail}'
        "</body></html>")


def _dashboard(run: Path, meta: dict[str, Any]) -> str:
    """The run's evaluation: the report's model table and plots (its own functions)."""
    from shopaug.evaluation import report

    path = Path(run) / "results.json"
    if not path.is_file():
        return f"<p>No results.json in {_e(run)}: this run has no evaluation to show.</p>"
    results = json.loads(path.read_text(encoding="utf-8"))
    rc = meta.get("run_config")
    recipe = (rc or {}).get("recipe") if isinstance(rc, dict) else None
    facts = [("data", meta.get("data")), ("split", meta.get("split")),
             ("seed", meta.get("seed")), ("models", ", ".join(meta.get("models", {}))),
             ("primary", meta.get("primary")), ("created", results.get("created")),
             ("augmentation", recipe["name"] if isinstance(recipe, dict) else
              "none recorded" if rc is None else "none")]
    dl = "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in facts if v is not None)
    return (f'<dl class="facts">{dl}</dl>'
            f'<h2>Models</h2><div class="scroll">{report._main_table(results)}</div>'
            f'<h2>Plots</h2><div class="plots">{"".join(report._plots(results))}</div>'
            + "".join(report._ablation(results)))


def _example_user(e: Engine) -> str:
    """A real user with some history, to prefill the forms."""
    for user, seq in list(e.seqs.items()):  # a copy: events may add users meanwhile
        if len(seq) >= 5:
            return user
    return next(iter(e.seqs), "")


def mount_ui(app: FastAPI, settings: Settings) -> None:
    """Add the UI pages (``/ui...``), their assets and ``GET /samples`` to ``app``."""
    lazy = _Lazy(settings)
    app.mount("/ui/static", StaticFiles(directory=ASSETS), name="ui-static")

    def eng(request: Request) -> Engine:
        return request.app.state.engine

    @app.get("/ui", include_in_schema=False)
    def dashboard(request: Request) -> HTMLResponse:
        e = eng(request)
        links = ('<p class="links"><a href="/ui/report">Full report</a> · '
                 '<a href="/docs">API docs (OpenAPI)</a> · <a href="/openapi.json">'
                 'openapi.json</a> · <a href="/metrics">Prometheus metrics</a></p>')
        health = ('<section class="card"><h2>Service</h2><dl class="facts" id="health">'
                  "<dt>status</dt><dd>loading…</dd></dl></section>")
        body = (f"<h1>Run “{_e(Path(settings.run).name)}”</h1>{links}{health}"
                + lazy.dashboard(e))
        return page("Dashboard", "/ui", body, "dashboard.js")

    @app.get("/ui/report", include_in_schema=False, response_model=None)
    def full_report() -> FileResponse | HTMLResponse:
        path = Path(settings.run) / "report.html"
        if not path.is_file():
            return page("Report", "/ui/report",
                        f"<p>This run has no report.html ({_e(path)}).</p>")
        return FileResponse(path, media_type="text/html")

    @app.get("/ui/recommend", include_in_schema=False)
    def recommend_page(request: Request) -> HTMLResponse:
        return page("Recommend", "/ui/recommend", _RECOMMEND, "recommend.js",
                    {"user": lazy.user(eng(request))})

    @app.get("/ui/search", include_in_schema=False)
    def search_page(request: Request) -> HTMLResponse:
        return page("Search", "/ui/search", _SEARCH, "search.js",
                    {"user": lazy.user(eng(request))})

    @app.get("/ui/samples", include_in_schema=False)
    def samples_page() -> HTMLResponse:
        return page("Samples", "/ui/samples", _SAMPLES, "samples.js")

    @app.get("/ui/titles", include_in_schema=False)
    def titles(request: Request, ids: Annotated[list[str], Query()]) -> JSONResponse:
        """Titles of up to 500 items, for lists the API gives as bare ids (events)."""
        t = eng(request).titles
        return JSONResponse({i: t.get(i) for i in ids[:500]})

    @app.get("/samples", response_model=Samples, tags=["augment"])
    def augmented_samples(
        request: Request,
        n: Annotated[int, Query(ge=1, le=50, description="training users to show")] = 8,
        seed: Annotated[int, Query(ge=0, le=2**32 - 1, description="draws users and "
                                   "augmentations; the same seed gives the same samples")] = 0,
        copies: Annotated[int, Query(ge=1, le=10, description="augmented versions per user")]
        = 3,
    ) -> dict[str, Any]:
        """Augmented training samples with their provenance: the run's recipe (or the shipped
        default when the run has none) applied to training sequences of ``n`` users. Only the
        training partition is read; synthetic samples do not exist yet."""
        return samples(eng(request), lazy, n, seed, copies)


_RECOMMEND = """
<h1>Recommendations</h1>
<form id="rec-form" class="row">
  <label>User id <input id="user" name="user" required autocomplete="off"></label>
  <label>k <input id="k" name="k" type="number" min="1" max="100" value="10"></label>
  <button type="submit">Recommend</button>
  <label class="key">API key <input id="api-key" type="password" autocomplete="off"
    placeholder="for feedback and history"></label>
</form>
<p id="status" class="status" role="status"></p>
<div class="cols">
  <section><h2>Top items</h2><p id="rec-meta" class="meta"></p><ol id="recs" class="items"></ol>
  </section>
  <section><h2>History <span id="history-count" class="meta"></span></h2>
    <p id="history-note" class="meta"></p><ol id="history" class="items small"></ol></section>
</div>
"""

_SEARCH = """
<h1>Search</h1>
<form id="search-form" class="row">
  <label>Query <input id="q" name="q" required placeholder="e.g. shampoo" autocomplete="off">
  </label>
  <label>User id (optional) <input id="user" name="user_id" autocomplete="off"
    placeholder="personalise"></label>
  <label>k <input id="k" name="k" type="number" min="1" max="100" value="10"></label>
  <button type="submit">Search</button>
</form>
<p id="status" class="status" role="status"></p>
<div class="cols">
  <section><h2>Results</h2><p id="search-meta" class="meta"></p><ol id="results" class="items">
  </ol></section>
  <section><h2>Similar items</h2><p id="similar-meta" class="meta">Pick “similar” on a result.
  </p><ol id="similar" class="items"></ol></section>
</div>
"""

_SAMPLES = """
<h1>Augmented samples</h1>
<form id="samples-form" class="row" action="/ui/samples">
  <label>Seed <input id="seed" name="seed" type="number" min="0" value="0"></label>
  <label>Users <input id="n" name="n" type="number" min="1" max="50" value="8"></label>
  <label>Versions per user <input id="copies" name="copies" type="number" min="1" max="10"
    value="3"></label>
  <button type="submit">Show</button> <a id="json-link" href="/samples">as JSON</a>
</form>
<p id="status" class="status" role="status"></p>
<section id="provenance" class="card"></section>
<div id="samples"></div>
"""
