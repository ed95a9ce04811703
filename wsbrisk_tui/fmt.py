"""Number formatting shared by the text report and the TUI panes (no Rich, no Textual).

Every formatter turns ``None`` (a number that could not be computed) into ``n/a``: a blank or a
zero would look like a value.
"""

from __future__ import annotations

import math

NA = "n/a"


def _bad(x: float | None) -> bool:
    return x is None or (isinstance(x, float) and not math.isfinite(x))


def money(x: float | None, decimals: int = 0, signed: bool = False) -> str:
    """``1,234,567`` / ``-12,345`` / ``+1,234`` with ``signed``."""
    if _bad(x):
        return NA
    sign = "+" if signed else ""
    # "z": a value that rounds to zero prints 0, not -0 (a flat day P&L is not a loss)
    return f"{x:{sign}z,.{decimals}f}"


def compact_money(x: float | None) -> str:
    """Short money for narrow cells: ``1.23M``, ``-45.6k``, ``789``."""
    if _bad(x):
        return NA
    a = abs(x)
    for div, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if a >= div:
            return f"{x / div:.{2 if a / div < 10 else 1}f}{suffix}"
    return f"{x:z.0f}"


def pct(x: float | None, decimals: int = 2, signed: bool = False) -> str:
    """A fraction as a percentage: 0.0123 -> ``1.23%``."""
    if _bad(x):
        return NA
    sign = "+" if signed else ""
    return f"{100 * x:{sign}z.{decimals}f}%"


def num(x: float | None, decimals: int = 2) -> str:
    if _bad(x):
        return NA
    return f"{x:z,.{decimals}f}"


def qty(x: float | None) -> str:
    """Quantities keep their fractional part when they have one (never cast to int)."""
    if _bad(x):
        return NA
    if float(x).is_integer():
        return f"{x:,.0f}"
    return f"{x:,.6f}".rstrip("0").rstrip(".")


def arrow(x: float | None) -> str:
    """An arrow that carries the sign without colour: ▲ up, ▼ down, · flat or n/a."""
    if _bad(x) or x == 0:
        return "·"
    return "▲" if x > 0 else "▼"


def confidence_label(c: float) -> str:
    """0.95 -> ``95%``, 0.999 -> ``99.9%``."""
    return f"{100 * c:g}%"


_BLOCKS = "▁▂▃▄▅▆▇█"


def spark(values: list[float | None], lo: float | None = None, hi: float | None = None) -> str:
    """A one-line text sparkline (``▁`` lowest to ``█`` highest; a gap is a space). ``lo``/``hi``
    fix the scale (e.g. -1 and 1 for correlations); by default the data's own range."""
    finite = [v for v in values if not _bad(v)]
    if not finite:
        return ""
    low = min(finite) if lo is None else lo
    high = max(finite) if hi is None else hi
    span = high - low
    out = []
    for v in values:
        if _bad(v):
            out.append(" ")
            continue
        x = 0.5 if span <= 0 else min(max((v - low) / span, 0.0), 1.0)
        out.append(_BLOCKS[min(int(x * len(_BLOCKS)), len(_BLOCKS) - 1)])
    return "".join(out)
