"""Small helpers shared by subcommands."""

from __future__ import annotations

import json
import sys
from typing import Any


def print_json(obj: Any) -> None:
    from shopaug.experiment import _json_default

    sys.stdout.write(json.dumps(obj, indent=2, default=_json_default) + "\n")


def epoch_logger(name: str):
    """Print one line per epoch to stderr (progress bars show the steps)."""

    def log(record: dict) -> None:
        parts = [f"{name} epoch {record['epoch']}", f"loss {record['loss']:.4f}"]
        if "valid" in record:
            parts.append(f"valid NDCG@10 {record['valid']:.4f}")
        parts.append(f"{record['seconds']:.1f}s")
        print("  ".join(parts), file=sys.stderr, flush=True)

    return log
