"""shopaug synth: synthetic behaviour logs from a dataset's training partition, and their
fidelity / utility / privacy report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(
    help="Synthetic behaviour logs (run with --data/--method/--out) and their report.",
    invoke_without_command=True,
)


@app.callback()
def synth(
    ctx: typer.Context,
    data: Annotated[str | None, typer.Option(
        help="Dataset folder, CSV/Parquet log or bundled:NAME.")] = None,
    method: Annotated[str | None, typer.Option(
        help="markov, dp-markov, sasrec, ctgan or tvae (side tables; sequences by markov).")]
    = None,
    out: Annotated[Path | None, typer.Option(help="Folder to write (same layout).")] = None,
    users: Annotated[int | None, typer.Option(
        help="Synthetic users (default: as many as the generator's members).")] = None,
    epsilon: Annotated[float | None, typer.Option(help="Privacy budget for dp-markov.")]
    = None,
    member_frac: Annotated[float, typer.Option(
        help="Share of users the generator is fitted on; the rest are non-members for the "
        "membership-inference attack of the report.")] = 0.5,
    seed: Annotated[int, typer.Option(help="Seed of every random stream.")] = 0,
    keep_copies: Annotated[bool, typer.Option(
        help="Keep synthetic sequences that copy a member's sequence exactly (by default "
        "they are redrawn; dp-markov output is never filtered).")] = False,
    param: Annotated[list[str] | None, typer.Option(
        help="Generator option KEY=VALUE (VALUE read as JSON, else as text); repeatable, "
        "e.g. --param transitions=1 --param text_prior=0.5 for dp-markov, --param "
        "min_users=10 for sasrec or markov (items fewer members bought are never drawn; "
        "default 5), min_pair_users=2 for sasrec (an item never follows another when only "
        "1 member row has the pair; default 1, off).")] = None,
) -> None:
    """Fit a generator on the TRAINING partition (leave-one-out) of --data and write
    synthetic users in the same folder layout, with synthetic.json (method, seed, members,
    privacy accounting). Every other command accepts the folder."""
    if ctx.invoked_subcommand is not None:
        return
    from shopaug.exceptions import ConfigError

    missing = [n for n, v in (("--data", data), ("--method", method), ("--out", out))
               if v is None]
    if missing:
        raise ConfigError(f"shopaug synth needs {', '.join(missing)} "
                          "(or the subcommand 'report')")
    from shopaug.augment.synthetic import synthesize

    summary = synthesize(data, method, users=users, seed=seed, epsilon=epsilon,
                         member_frac=member_frac, out=out, keep_copies=keep_copies,
                         params=_params(param or []))
    print(json.dumps(summary, indent=2, default=str))


def _params(pairs: list[str]) -> dict:
    from shopaug.exceptions import ConfigError

    out = {}
    for pair in pairs:
        key, eq, value = pair.partition("=")
        if not eq or not key.strip():
            raise ConfigError(f"--param {pair!r}: expected KEY=VALUE, e.g. transitions=1")
        try:
            out[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            out[key.strip()] = value
    return out


@app.command()
def report(
    syn: Annotated[Path, typer.Argument(help="Folder written by 'shopaug synth'.")],
    real: Annotated[str, typer.Option(help="The real dataset it was generated from.")],
    out: Annotated[Path | None, typer.Option(
        help="HTML report to write (default SYN/report.html).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    seed: Annotated[int, typer.Option(help="Seed of every random stream.")] = 0,
    epochs: Annotated[int | None, typer.Option(help="SASRec epochs of the TSTR models.")]
    = None,
    budget_minutes: Annotated[float | None, typer.Option(
        help="Time budget of each TSTR model (default: the sasrec preset's).")] = None,
    recipe: Annotated[str | None, typer.Option(
        help="Recipe of the TSTR models, e.g. text (MiniLM item text fused in).")] = None,
    progress: Annotated[bool, typer.Option(help="Show progress bars.")] = False,
) -> None:
    """Fidelity (distributions, transitions), utility (train on synthetic, test on real) and
    privacy (exact copies, copied runs of 5, distance to closest record, membership
    inference) of a synthetic folder; HTML with plots, or JSON with --json."""
    from shopaug.evaluation.synthetic import synth_report, write_synth_report

    log = None if as_json else (lambda msg: typer.echo(msg, err=True))
    result = synth_report(syn, real, seed=seed, epochs=epochs, budget_minutes=budget_minutes,
                          progress=progress, log=log, recipe=recipe)
    path = out or syn / "report.html"
    write_synth_report(result, path)
    shown = {k: v for k, v in result.items() if not k.startswith("_")}
    if as_json:
        print(json.dumps(shown))
    else:
        for key in ("tstr_ndcg10", "real_ndcg10", "real_plus_synthetic_ndcg10", "tstr_ratio",
                    "drawn_share", "real_members_ndcg10", "tstr_ratio_members",
                    "exact_copy_rate", "mia_auc", "tstr_recipe"):
            print(f"{key:28s} {shown[key]}")
        print(f"report: {path}")
