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
    from shopaug.cli import data, demo, evaluate, presets, train

    app.command("demo")(demo.demo)
    app.command("train")(train.train)
    app.command("evaluate")(evaluate.evaluate)
    app.command("presets")(presets.presets)
    app.add_typer(data.app, name="data")


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
    except Exception as e:  # click usage errors carry their own exit code
        import click

        if isinstance(e, click.exceptions.ClickException):
            e.show()
            sys.exit(e.exit_code)
        if isinstance(e, click.exceptions.Exit):
            sys.exit(e.exit_code)
        if isinstance(e, click.exceptions.Abort):
            sys.exit(1)
        raise
