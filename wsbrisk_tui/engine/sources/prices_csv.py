"""Read daily adjusted closes from a prices CSV (``--prices FILE``).

Format (UTF-8, a byte-order mark is tolerated; blank lines and lines starting with ``#`` are
skipped)::

    date,SPY,AAPL,BRK.B
    2024-04-29,510.06,173.50,405.10
    2024-04-30,501.98,,401.66
    2024-05-01,500.35,169.30,403.90

* ``date`` (header case-insensitive): ISO ``YYYY-MM-DD``, one row per date. Rows may come in any
  order (they are sorted ascending); a date given twice is an error naming both lines.
* One column per symbol, named as the BOOK names it (``BRK.B``, ``BTC/USD``): the adjusted close
  (splits and dividends folded in) per share or unit. Prices are strict positive decimals
  (``101.25``, ``1e3``; the grammar of :func:`~wsbrisk_tui.engine.sources.csvfile.parse_number`,
  shared with the positions CSV); thousands separators, currency signs, percentages, ``NaN``,
  infinity, zero and negatives are rejected with a message.
* An empty cell is a gap (no observation that day) and stays ``NaN``: nothing is filled. Gaps are
  counted per symbol in :attr:`MarketData.notes`. A column with no price at all is an error.

Every problem is reported at once, each naming ``file:line``, the column, what is wrong and what
to do (:class:`~wsbrisk_tui.errors.InputError`).

Staleness: the data are stale when the last price is more than ``stale_after_days`` business days
(Monday to Friday, :func:`numpy.busday_count`, no holiday calendar) before ``today``.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Sequence
from datetime import date
from pathlib import Path

from wsbrisk_tui.engine.model import MarketData
from wsbrisk_tui.engine.sources.csvfile import MAX_PROBLEMS_LISTED  # noqa: F401  (re-exported)
from wsbrisk_tui.engine.sources.csvfile import (FieldError, Problems, data_lines, parse_number,
                                                read_csv_text, split_cells)
from wsbrisk_tui.errors import InputError, located

_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_PRICE_FIX = "write the adjusted close as a plain positive number such as 101.25, or leave the cell empty for a gap"


def business_days_old(last: date, today: date) -> int:
    """Business days (Mon-Fri) from ``last`` up to ``today``: ``numpy.busday_count(last, today)``.

    A close from the previous business day is 1 day old; a Friday close seen on Monday is 1 day
    old; a close dated ``today`` (or later) is 0.
    """
    import numpy as np

    if last >= today:
        return 0
    return int(np.busday_count(last, today))


def stale_reason(last: date, today: date, stale_after_days: int | None) -> str | None:
    """``"last price 2024-05-01 is 7 business days old"`` when older than ``stale_after_days``."""
    if stale_after_days is None:
        return None
    age = business_days_old(last, today)
    if age <= stale_after_days:
        return None
    unit = "business day" if age == 1 else "business days"
    return f"last price {last.isoformat()} is {age} {unit} old"


def read_prices_csv(path: str | Path, symbols: Sequence[str] | None = None, *,
                    stale_after_days: int | None = 3, today: date | None = None) -> MarketData:
    """Read the prices CSV at ``path`` (see the module docstring) into :class:`MarketData`.

    ``symbols``: the book's symbols; each must have a column (else an error lists the columns and
    suggests the closest). The frame then holds exactly those columns, in that order; other
    columns are left out and named in ``notes``. ``None`` keeps every column.

    ``today`` (default: the local date) and ``stale_after_days`` decide ``stale``
    (``None`` disables the check).
    """
    import numpy as np
    import pandas as pd

    p = Path(path)
    ctx = Problems(p)
    summary = f"{p}: the prices file has problems"
    records = data_lines(read_csv_text(p, missing_fix="check the --prices path"))
    if not records:
        raise InputError(located(p, None, "the file is empty (no header, no prices)",
                                 "start with a header such as 'date,SPY,AAPL'"))
    header_line, header_text = records[0]
    columns = _parse_header(ctx, header_line, header_text)
    ctx.raise_if_any(summary)
    date_index = next(i for i, c in enumerate(columns) if c.lower() == "date")
    price_columns = [(i, c) for i, c in enumerate(columns) if i != date_index]

    wanted = _select_columns(ctx, header_line, [c for _, c in price_columns], symbols)
    ctx.raise_if_any(summary)

    dates: list[date] = []
    first_line: dict[date, int] = {}
    values: list[list[float]] = []
    for line, text in records[1:]:
        cells = split_cells(ctx, line, text)
        if cells is None:
            continue
        if len(cells) != len(columns):
            ctx.bad(line, None, f"has {len(cells)} fields, the header has {len(columns)}",
                    "give one value per header column (leave a cell empty for a gap)")
            continue
        day = _parse_date(ctx, line, columns[date_index], cells[date_index])
        row: list[float] = []
        for i, name in price_columns:
            row.append(_parse_price(ctx, line, name, cells[i]))
        if day is None:
            continue
        if day in first_line:
            ctx.bad(line, columns[date_index], f"date {day.isoformat()} already appears on line {first_line[day]}",
                    "keep one row per date")
            continue
        first_line[day] = line
        dates.append(day)
        values.append(row)
    if not dates and not ctx.problems:
        ctx.bad(header_line, None, "the file has a header but no price rows", "add one row per date")
    ctx.raise_if_any(summary)

    names = [c for _, c in price_columns]
    frame = pd.DataFrame(np.asarray(values, dtype=float), columns=names,
                         index=pd.DatetimeIndex(pd.to_datetime([d.isoformat() for d in dates])).as_unit("ns"))
    frame.index.name = "date"
    frame = frame.sort_index()
    frame = frame[wanted]

    empty = [c for c in wanted if frame[c].isna().all()]
    for c in empty:
        ctx.bad(header_line, c, "has no price at all", "fill in the adjusted closes, or remove the column")
    ctx.raise_if_any(summary)

    notes: list[str] = []
    gaps = {c: int(frame[c].isna().sum()) for c in wanted}
    if any(gaps.values()):
        notes.append(f"{p}: gaps (empty cells, left as NaN): "
                     + ", ".join(f"{c} {n}" for c, n in gaps.items() if n))
    ignored = [c for c in names if c not in wanted]
    if ignored:
        notes.append(f"{p}: columns not in the book, not used: {', '.join(ignored)}")

    has_any = frame.notna().any(axis=1)
    as_of = frame.index[has_any.to_numpy()][-1].date()
    reason = stale_reason(as_of, today or date.today(), stale_after_days)
    return MarketData(
        prices=frame, source=f"csv:{p}", as_of=as_of, stale=reason is not None, stale_reason=reason,
        series_notes={c: f"file {p}" for c in wanted}, notes=tuple(notes),
    )


def _parse_header(ctx: Problems, line: int, text: str) -> list[str]:
    cells = split_cells(ctx, line, text)
    if cells is None:
        return []
    columns = [c.strip() for c in cells]
    date_columns = [i for i, c in enumerate(columns) if c.lower() == "date"]
    if not date_columns:
        ctx.bad(line, None, f"the header '{text.strip()}' has no 'date' column",
                "start the file with a header such as 'date,SPY,AAPL'")
    elif len(date_columns) > 1:
        ctx.bad(line, "date", "appears more than once in the header", "keep one date column")
    seen: dict[str, int] = {}
    for position, name in enumerate(columns, start=1):
        if not name:
            ctx.bad(line, None, f"column {position} has no name", "name every column after a symbol")
            continue
        if name.lower() == "date":
            continue
        if name in seen:
            ctx.bad(line, name, f"appears twice in the header (columns {seen[name]} and {position})",
                    "keep one column per symbol")
            continue
        seen[name] = position
    if date_columns and len(columns) < 2:
        ctx.bad(line, None, "the header names no symbol column", "add one column per symbol, e.g. 'date,SPY'")
    return columns


def _select_columns(ctx: Problems, line: int, names: list[str], symbols: Sequence[str] | None) -> list[str]:
    if symbols is None:
        return list(names)
    wanted: list[str] = []
    for sym in dict.fromkeys(symbols):
        if sym in names:
            wanted.append(sym)
            continue
        folded = {n.upper(): n for n in names}
        close = [folded[sym.upper()]] if sym.upper() in folded else \
            difflib.get_close_matches(sym, names, n=1, cutoff=0.6)
        hint = f"did you mean '{close[0]}'? " if close else ""
        ctx.bad(line, None, f"no column for the book's symbol '{sym}'",
                f"{hint}columns in the file: {', '.join(names)}; name the column exactly as the book does")
    return wanted


def _parse_date(ctx: Problems, line: int, column: str, text: str) -> date | None:
    t = text.strip()
    if not t:
        ctx.bad(line, column, "is empty", "give the date as YYYY-MM-DD")
        return None
    if _DATE_RE.match(t):
        try:
            return date.fromisoformat(t)
        except ValueError:
            ctx.bad(line, column, f"'{t}' is not a calendar date", "give a real date as YYYY-MM-DD")
            return None
    ctx.bad(line, column, f"'{t}' is not an ISO date", "write the date as YYYY-MM-DD, e.g. 2024-05-01")
    return None


def _parse_price(ctx: Problems, line: int, column: str, text: str) -> float:
    """The price in one cell; ``NaN`` for an empty cell (a gap) or, with a problem recorded, a bad one."""
    t = text.strip()
    if not t:
        return math.nan
    try:
        value = parse_number(t)
    except FieldError as exc:
        ctx.bad(line, column, exc.what, _PRICE_FIX)
        return math.nan
    if value <= 0:
        ctx.bad(line, column, f"price {t} is not positive", _PRICE_FIX)
        return math.nan
    return value
