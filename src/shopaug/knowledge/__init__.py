"""The knowledge store shared by search, recommendation and the web service: items, users
with their current sequences, feedback events and logs of what was shown, in one DuckDB file.
"""

from __future__ import annotations

from shopaug.knowledge._store import SCHEMA_VERSION, Store, StoreError

__all__ = ["SCHEMA_VERSION", "Store", "StoreError"]
