"""Errors users see. Each names where the problem is and what was expected."""

from __future__ import annotations

from pathlib import Path


class ShopaugError(Exception):
    """Base class of shopaug's own errors; the CLI turns them into a message and exit code 2."""


class DataError(ShopaugError, ValueError):
    """Bad input data, located as precisely as possible.

    Args:
        message: what is wrong and what was expected.
        file: the file that holds the problem.
        line: 1-based line number in that file (the header is line 1 for CSV files).
        column: the column or field name.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | Path | None = None,
        line: int | None = None,
        column: str | None = None,
    ) -> None:
        self.file = str(file) if file is not None else None
        self.line = line
        self.column = column
        self.reason = message
        where = []
        if self.file is not None:
            where.append(self.file)
        if line is not None:
            where.append(f"line {line}")
        if column is not None:
            where.append(f"column '{column}'")
        prefix = ", ".join(where)
        super().__init__(f"{prefix}: {message}" if prefix else message)


class ConfigError(ShopaugError, ValueError):
    """A configuration file or option is invalid."""
