"""The HTTP service: ``create_app(settings)`` builds a FastAPI app whose lifespan loads the
run, its model and the knowledge store, so every test and every server builds its own.

Endpoints are thin: they validate input (pydantic), call the :class:`Engine` and shape the
answer. Writes need the ``X-API-Key`` header to match the server's key. Known failures map to
4xx with a message naming the field; anything else is a bug and is counted in ``/metrics``.
"""

from __future__ import annotations

import hmac
import json
import time
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, HTTPException, Path, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from pydantic import AfterValidator
from starlette.concurrency import run_in_threadpool

from shopaug.exceptions import ShopaugError
from shopaug.serving import _schemas as s
from shopaug.serving._engine import BadInput, Engine, NotFound
from shopaug.serving._settings import Settings

IdPath = Annotated[str, Path(min_length=1, max_length=200), AfterValidator(s.printable)]
K = Annotated[int, Query(ge=1, le=100, description="how many items")]


def _engine(request: Request) -> Engine:
    return request.app.state.engine


# module level: with postponed annotations FastAPI resolves these names in module globals
Eng = Annotated[Engine, Depends(_engine)]


class _Metrics:
    """Prometheus counters and latency histograms in a registry of this app alone."""

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.registry = CollectorRegistry()
        self.requests = Counter("shopaug_requests", "HTTP requests", ["route", "status"],
                                registry=self.registry)
        self.latency = Histogram(
            "shopaug_request_seconds", "request latency", ["route"], registry=self.registry,
            buckets=(.0005, .001, .002, .005, .01, .02, .05, .1, .25, .5, 1, 2.5))
        self.events = Counter("shopaug_events", "accepted events", ["type"],
                              registry=self.registry)
        self.cache = Gauge("shopaug_cache", "recommendation cache lookups", ["result"],
                           registry=self.registry)
        self.model = Gauge("shopaug_model_info", "served model version", ["version"],
                           registry=self.registry)


class _Timing:
    """Pure ASGI middleware (cheaper than BaseHTTPMiddleware): counts and times requests
    by route template, so ``/recommend/{user_id}`` is one series, not one per user."""

    def __init__(self, app: Any, metrics: _Metrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        t0 = time.perf_counter()
        status = {"code": 500}

        async def send_status(message: dict) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = scope.get("route")
            name = getattr(route, "path", "other")
            self.metrics.latency.labels(name).observe(time.perf_counter() - t0)
            self.metrics.requests.labels(name, str(status["code"])).inc()


def create_app(settings: Settings, *, engine: Engine | None = None) -> FastAPI:
    """The service for ``settings.run``. ``engine`` lets a caller share one loaded engine."""
    metrics = _Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        own = engine is None
        app.state.engine = engine or await run_in_threadpool(Engine, settings)
        if own:
            app.state.engine.warm_in_background()
        try:
            yield
        finally:
            if own:
                app.state.engine.close()

    from fastapi_offline import FastAPIOffline

    # the docs pages (Swagger UI, ReDoc) from files in the package, not a CDN: shops run
    # services on networks without internet access
    app = FastAPIOffline(
        static_url="/static/docs",
        title="shopaug",
        summary="Recommendations, search, similar items and feedback from a shopaug run.",
        version="1",
        lifespan=lifespan,
        responses={422: {"model": s.Problem}},
    )
    app.state.metrics = metrics
    app.add_middleware(_Timing, metrics=metrics)

    def key(x_api_key: Annotated[str | None, Header()] = None) -> None:
        want = settings.api_key
        if not want:
            raise HTTPException(403, "writes are disabled: the server has no API key; start it "
                                     "with SHOPAUG_API_KEY set")
        if x_api_key is None or not hmac.compare_digest(x_api_key.encode(), want.encode()):
            raise HTTPException(401, "missing or wrong X-API-Key header")

    Key = Depends(key)

    @app.exception_handler(NotFound)
    async def _not_found(request: Request, e: NotFound) -> JSONResponse:
        return JSONResponse({"detail": str(e)}, status_code=404)

    @app.exception_handler(BadInput)
    async def _bad(request: Request, e: BadInput) -> JSONResponse:
        return JSONResponse({"detail": [{"loc": ["body", e.field], "msg": e.message}]}, 422)

    @app.exception_handler(ShopaugError)
    async def _shopaug(request: Request, e: ShopaugError) -> JSONResponse:
        return JSONResponse({"detail": str(e)}, status_code=422)

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/ui")

    @app.get("/health", response_model=s.Health, tags=["service"])
    def health(e: Eng) -> dict:
        return e.health()

    @app.get("/metrics", response_class=PlainTextResponse, tags=["service"])
    def prometheus(e: Eng) -> PlainTextResponse:
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        metrics.cache.labels("hit").set(e.cache_hits)
        metrics.cache.labels("miss").set(e.cache_misses)
        metrics.model.clear()
        metrics.model.labels(e.bundle.version).set(1)
        return PlainTextResponse(generate_latest(metrics.registry),
                                 media_type=CONTENT_TYPE_LATEST)

    @app.get("/recommend/{user_id}", response_model=s.Recommendations, tags=["recommend"])
    async def recommend(user_id: IdPath, e: Eng, k: K = 10) -> Response:
        """Top-k items for a user (external id), from their stored sequence including every
        accepted event. A user without history gets popular items."""
        # async and pre-serialised: the hot path (a cache hit) takes microseconds, less than
        # a hop to the thread pool or a second validation of our own output would
        return Response(json.dumps(e.recommend(user_id, k)), media_type="application/json")

    @app.post("/recommend", response_model=s.Recommendations, tags=["recommend"])
    def recommend_history(body: s.HistoryRequest, e: Eng) -> dict:
        """Top-k items for an anonymous visitor's ad-hoc history."""
        return e.recommend_history(list(body.history), body.k)

    @app.get("/search", response_model=s.SearchResults, tags=["search"])
    def search(
        e: Eng,
        q: Annotated[str, Query(min_length=1, max_length=300), AfterValidator(s.printable)],
        user_id: Annotated[str | None, Query(min_length=1, max_length=200),
                           AfterValidator(s.printable_or_none)] = None,
        k: K = 10,
    ) -> dict:
        """Products for a query; with ``user_id``, re-ranked by that user's recommendation
        scores."""
        return e.search_items(q, k, user_id)

    @app.get("/items/{item_id}", response_model=s.ItemInfo, tags=["items"])
    def item(item_id: IdPath, e: Eng) -> dict:
        found = e.store.item(item_id)
        if found is None:
            raise NotFound(f"item_id: unknown item {item_id!r}")
        return found

    @app.get("/items/{item_id}/similar", response_model=s.Similar, tags=["items"])
    def similar(item_id: IdPath, e: Eng, k: K = 10) -> dict:
        return e.similar(item_id, k)

    @app.get("/explain/{user_id}/{item_id}", response_model=s.Explanation, tags=["recommend"])
    def explain(user_id: IdPath, item_id: IdPath, e: Eng) -> dict:
        """Why the model would recommend ``item_id`` to ``user_id``: the history items that
        point to it most."""
        return e.explain(user_id, item_id)

    @app.post("/events", response_model=s.EventOut, status_code=201, tags=["feedback"],
              dependencies=[Key], responses={401: {"model": s.Problem},
                                             403: {"model": s.Problem}})
    def add_event(body: s.EventIn, e: Eng) -> dict:
        """Feedback. Committed to the store before the answer; the user's next
        recommendation reads the grown sequence. Retries with the same ``event_id`` are
        stored once (the answer then says ``created: false``)."""
        out = e.add_event(body.user_id, body.item_id, body.type, timestamp=body.timestamp,
                          event_id=body.event_id)
        if out["created"]:
            metrics.events.labels(body.type).inc()
        return out

    @app.get("/users/{user_id}/events", response_model=s.UserEvents, tags=["feedback"],
             dependencies=[Key], responses={401: {"model": s.Problem},
                                            403: {"model": s.Problem}})
    def user_events(user_id: IdPath, e: Eng,
                    limit: Annotated[int, Query(ge=1, le=10000)] = 1000) -> dict:
        """The user's stored events, oldest first (from the data and from feedback)."""
        return {"user_id": user_id, "events": e.store.events(user_id, limit=limit)}

    @app.get("/events", response_model=s.EventPage, tags=["feedback"], dependencies=[Key],
             responses={401: {"model": s.Problem}, 403: {"model": s.Problem}})
    def events_after(e: Eng, after: Annotated[int, Query(ge=0)] = 0,
                     limit: Annotated[int, Query(ge=1, le=100000)] = 10000) -> dict:
        """Feedback events stored after sequence number ``after`` (for ``shopaug update``)."""
        rows = e.store.events_after(after, limit=limit)
        return {"events": rows, "last_seq": rows[-1]["seq"] if rows else after}

    @app.post("/admin/reload", response_model=s.Reloaded, tags=["service"],
              dependencies=[Key], responses={401: {"model": s.Problem},
                                             403: {"model": s.Problem}})
    def reload(e: Eng) -> dict:
        """Swap to the newest model version of the run (written by ``shopaug update``)."""
        return e.reload()

    from shopaug.serving._ui import mount_ui

    mount_ui(app, settings)
    return app
