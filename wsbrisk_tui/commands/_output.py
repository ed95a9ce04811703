"""Where a command's text goes: standard output, or ``--output FILE`` (with a note on stderr)."""

from __future__ import annotations

import sys
from pathlib import Path


def emit(text: str, output: str | None) -> None:
    """Print ``text``, or write it to ``output`` (UTF-8) and say so on standard error."""
    if output:
        try:
            Path(output).write_text(text, encoding="utf-8")
        except OSError as exc:
            from wsbrisk_tui.errors import InputError

            raise InputError(f"{output}: cannot write ({exc.strerror}); check the folder exists "
                             "and is writable") from None
        print(f"wrote {output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
