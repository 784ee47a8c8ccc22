"""shopaug runs: the runs tracked in MLflow (train, ablate, tune, tune-augment, finetune)."""

from __future__ import annotations

from typing import Annotated

import typer

app = typer.Typer(help="Runs tracked in MLflow.", no_args_is_help=True)


@app.command("list")
def list_(
    json: Annotated[bool, typer.Option("--json", help="Print one JSON array.")] = False,
    kind: Annotated[str | None, typer.Option(
        help="Only this kind: train, ablate, tune, tune-augment or search-finetune.")] = None,
    limit: Annotated[int, typer.Option(help="Newest runs to show.")] = 50,
    uri: Annotated[str | None, typer.Option(
        help="MLflow tracking URI (default: $SHOPAUG_TRACKING_URI, $MLFLOW_TRACKING_URI, "
             "or the workspace's sqlite store).")] = None,
) -> None:
    """Tracked runs, newest first: id, kind, name, start time, status, data, model, seed
    and validation/test NDCG@10."""
    from shopaug.cli._common import print_json
    from shopaug.tracking import list_runs, tracking_uri

    runs = list_runs(uri, kind=kind, limit=limit)
    if json:
        print_json(runs)
        return
    if not runs:
        print(f"no runs tracked in {uri or tracking_uri()}")
        return
    print(format_runs(runs))


def format_runs(runs: list[dict]) -> str:
    """A plain-text table of ``list_runs`` rows."""
    head = ["run", "kind", "name", "started (UTC)", "status", "model", "seed", "valid NDCG@10",
            "test NDCG@10", "data"]

    def num(v: float | None) -> str:
        return "-" if v is None else f"{v:.4f}"

    rows = [[r["run_id"][:8], r["kind"] or "-", r["name"] or "-",
             (r["start_time"] or "-").replace("T", " ").rstrip("Z"), r["status"],
             r["model"] or "-", r["seed"] or "-", num(r["valid_ndcg10"]),
             num(r["test_ndcg10"]), _short(r["data"])] for r in runs]
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows, strict=True)]
    lines = ["  ".join(str(x).ljust(w) for x, w in zip(row, widths, strict=True)).rstrip()
             for row in [head, *rows]]
    return "\n".join(lines)


def _short(path: str | None, width: int = 40) -> str:
    if not path:
        return "-"
    return path if len(path) <= width else "..." + path[-(width - 3):]
