"""shopaug evaluate: full-ranking metrics of a saved run."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from shopaug.cli._common import AddressOpt, EngineOpt


def evaluate(
    run_dir: Annotated[Path, typer.Argument(help="Folder written by 'shopaug train' or demo.")],
    split: Annotated[str, typer.Option(help="test or valid.")] = "test",
    history: Annotated[str, typer.Option(help="exclude, zero or keep.")] = "exclude",
    model: Annotated[str | None, typer.Option(help="Model of a multi-model run.")] = None,
    json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    engine: EngineOpt = "local",
    address: AddressOpt = None,
) -> None:
    """Evaluate RUN_DIR's model, ranking the whole catalogue for every user."""
    from shopaug.cli._common import engine_scope, print_json
    from shopaug.experiment import evaluate_run

    with engine_scope(engine, address) as eng:
        out = evaluate_run(run_dir, which=split, history=history, model=model, engine=eng)
    if json:
        print_json(out)
        return
    print(f"{out['model']}  split={out['split']}  history={out['history']}  "
          f"cases={out['n_cases']}  protocol={out['protocol']}, full ranking")
    for k, v in out.items():
        if isinstance(v, float):
            print(f"  {k:<14}{v:.4f}")
