"""Serving: the HTTP service over a run (recommendations, search, similar items, feedback)
and its web UI. ``create_app(settings)`` builds the app; ``shopaug serve`` runs it."""

from __future__ import annotations

from shopaug.serving._app import create_app
from shopaug.serving._engine import Engine
from shopaug.serving._settings import Settings

__all__ = ["Engine", "Settings", "create_app"]
