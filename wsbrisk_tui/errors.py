"""Errors that reach the user.

:class:`InputError` is the one exception the command line turns into a single clear line and exit
code 2 (bad input or config). Everything else is an internal error (exit code 1).

Messages follow one shape: *where* (file:line, row, column or key), *what* was wrong, and *what to
do*. Build them with :func:`located` so every source speaks the same way.
"""

from __future__ import annotations

from pathlib import Path


class InputError(Exception):
    """Bad input from the user: a file, a config key, a symbol. Exit code 2, no traceback."""

    exit_code = 2

    def __init__(self, message: str, *, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        #: Every problem found, when a validator collects several before failing.
        self.problems: list[str] = list(problems) if problems else [message]

    def __str__(self) -> str:
        if len(self.problems) <= 1:
            return self.message
        return self.message + "\n" + "\n".join(f"  - {p}" for p in self.problems)


def located(path: str | Path | None, line: int | None, what: str, fix: str | None = None,
            column: str | None = None) -> str:
    """Format ``file:line: [column 'c':] what (fix)``, the one message shape used everywhere."""
    where = str(path) if path is not None else "<input>"
    if line is not None:
        where += f":{line}"
    text = f"{where}: "
    if column:
        text += f"column '{column}': "
    text += what
    if fix:
        text += f" ({fix})"
    return text
