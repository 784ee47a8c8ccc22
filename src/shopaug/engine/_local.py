"""The local engine: shards run one after another in this process."""

from __future__ import annotations

from collections.abc import Callable

import pyarrow as pa


class LocalEngine:
    name = "local"

    def map_blocks(
        self, fn: Callable[[pa.Table], pa.Table], blocks: list[pa.Table]
    ) -> list[pa.Table]:
        return [fn(b) for b in blocks]

    def close(self) -> None:
        pass
