"""Command-line interface: thin commands over the library (one module per subcommand)."""

from __future__ import annotations

import sys

import typer

from shopaug.exceptions import ShopaugError

app = typer.Typer(
    name="shopaug",
    help="Sample augmentation for e-commerce recommendation and search.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _register() -> None:
    from shopaug.cli import (
        ablate,
        augment,
        data,
        demo,
        evaluate,
        knowledge,
        negatives,
        presets,
        runs,
        search,
        serve,
        synth,
        train,
        tune,
    )

    app.command("demo")(demo.demo)
    app.command("train")(train.train)
    app.command("evaluate")(evaluate.evaluate)
    app.command("presets")(presets.presets)
    app.command("augment")(augment.augment)
    app.command("negatives")(negatives.negatives)
    app.command("knowledge")(knowledge.knowledge)
    app.command("ablate")(ablate.ablate)
    app.command("tune-augment")(tune.tune_augment)
    app.command("tune")(tune.tune)
    app.command("serve")(serve.serve)
    app.command("update")(serve.update)
    app.add_typer(data.app, name="data")
    app.add_typer(search.app, name="search")
    app.add_typer(synth.app, name="synth")
    app.add_typer(runs.app, name="runs")


_register()


def main() -> None:
    """Entry point: shopaug's own errors become one line on stderr and exit code 2."""
    try:
        app(standalone_mode=False)
    except ShopaugError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    except SystemExit:
        raise
    except typer.Exit as e:
        sys.exit(e.exit_code)
    except typer.Abort:
        sys.exit(1)
    except typer.TyperException as e:  # usage errors carry their own message and exit code
        show = getattr(e, "show", None)
        if show is not None:
            show()
        else:
            print(f"error: {e.format_message()}", file=sys.stderr)
        sys.exit(e.exit_code)
