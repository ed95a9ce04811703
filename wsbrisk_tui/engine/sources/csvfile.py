"""The machinery shared by the CSV sources (:mod:`.positions_csv`, :mod:`.prices_csv`).

One job: turn a CSV file into located problems or clean cells, the same way for every reader.

* :func:`read_csv_text`: the file's text (UTF-8, a byte-order mark tolerated, ``\\r\\n`` and
  ``\\r`` turned into ``\\n``); a missing, unreadable or non-UTF-8 file is one
  :class:`~wsbrisk_tui.errors.InputError` (a bad byte is named with its line and 1-based offset).
* :func:`data_lines`: the numbered lines that carry data (blank lines and ``#`` comments skipped;
  numbers are physical lines, the first line is 1).
* :func:`split_cells`: one line into cells (``csv.reader``, strict quoting); a bad line is a problem.
* :func:`parse_number`: the strict number grammar. Plain digits with ``.`` as the decimal point
  (``1234.5``, ``-2``, ``1e3``). Thousands separators (``1,234.5``), currency signs (``$101``),
  percentages, NaN and infinity are rejected, because guessing what ``1,234`` means could move a
  book by 1000x.
* :class:`Problems`: collects every located problem in a file so that all are reported at once.
"""

from __future__ import annotations

import csv
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

from wsbrisk_tui.errors import InputError, located

#: At most this many problems are listed; the rest are counted in one last line.
MAX_PROBLEMS_LISTED = 50
NUMBER_FIX = "write a plain number such as 10, -2.5 or 0.25"

_NUMBER_RE = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


class FieldError(ValueError):
    """One bad value: ``what`` is wrong, ``fix`` says what to do. Located by the caller."""

    def __init__(self, what: str, fix: str | None = None) -> None:
        super().__init__(what)
        self.what = what
        self.fix = fix


@dataclass
class Problems:
    """The located problems found in the file at ``path``, in the order they were found."""

    path: Path
    problems: list[str] = field(default_factory=list)

    def bad(self, line: int | None, column: str | None, what: str, fix: str | None = None) -> None:
        """Record ``path:line: column 'c': what (fix)`` (see :func:`~wsbrisk_tui.errors.located`)."""
        self.problems.append(located(self.path, line, what, fix, column))

    def raise_if_any(self, summary: str) -> None:
        """Raise one :class:`InputError` when anything was recorded.

        A single problem is the whole message; several are listed under ``"{summary} (N problems):"``,
        at most :data:`MAX_PROBLEMS_LISTED` of them, the rest counted in a last line.
        """
        if not self.problems:
            return
        if len(self.problems) == 1:
            raise InputError(self.problems[0])
        listed = self.problems[:MAX_PROBLEMS_LISTED]
        if len(self.problems) > MAX_PROBLEMS_LISTED:
            listed.append(f"... and {len(self.problems) - MAX_PROBLEMS_LISTED} more problems")
        raise InputError(f"{summary} ({len(self.problems)} problems):", problems=listed)


def read_csv_text(path: Path, *, missing_fix: str = "check the path") -> str:
    """The text of the CSV at ``path`` with ``\\n`` line ends; :class:`InputError` when unreadable.

    ``missing_fix`` is the advice for a missing file (e.g. ``"check the --prices path"``). The bytes
    are decoded in one piece so that a bad byte's offset is the file's, not a read buffer's.
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputError(located(path, None, "no such file", missing_fix)) from None
    except IsADirectoryError:
        raise InputError(located(path, None, "is a directory, not a CSV file", "give the CSV file's path")) from None
    except PermissionError:
        raise InputError(located(path, None, "cannot be read (permission denied)",
                                 "check the file's permissions")) from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InputError(located(path, line, f"is not UTF-8 text (byte {exc.start + 1} of the file)",
                                 "save the file as UTF-8 CSV")) from None
    return text.replace("\r\n", "\n").replace("\r", "\n")


def data_lines(text: str) -> list[tuple[int, str]]:
    """``(line number, line)`` for every line that is neither blank nor a ``#`` comment."""
    return [(n, line) for n, line in enumerate(text.split("\n"), start=1)
            if line.strip() and not line.lstrip().startswith("#")]


def split_cells(problems: Problems, line: int, text: str) -> list[str] | None:
    """The cells of one CSV line, or ``None`` (with a problem recorded) when its quoting is broken."""
    try:
        return next(csv.reader([text], strict=True))
    except csv.Error as exc:
        problems.bad(line, None, f"cannot be read as CSV ({exc})", "check the quotes on this line")
        return None


def parse_number(text: str) -> float:
    """Parse a strict decimal number (see the module docstring); raise :class:`FieldError`."""
    t = text.strip()
    if not t:
        raise FieldError("is blank", NUMBER_FIX)
    if "," in t:
        raise FieldError(f"'{t}' has a thousands separator or a decimal comma",
                         "write plain digits with '.' as the decimal point, e.g. 1234.5")
    if any(sign in t for sign in "$€£¥"):
        raise FieldError(f"'{t}' has a currency sign", "write the number alone, e.g. 101.25")
    if t.endswith("%"):
        raise FieldError(f"'{t}' is a percentage", "write the number itself, e.g. 101.25")
    if t.lstrip("+-").lower() in ("nan", "inf", "infinity"):
        raise FieldError(f"'{t}' is not a finite number", NUMBER_FIX)
    if not _NUMBER_RE.match(t):
        raise FieldError(f"'{t}' is not a number", NUMBER_FIX)
    value = float(t)
    if not math.isfinite(value):
        raise FieldError(f"'{t}' is too large to be a finite number", NUMBER_FIX)
    return value
