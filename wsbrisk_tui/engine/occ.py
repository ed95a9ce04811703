"""OCC option symbols: parse and format.

The OCC (Options Clearing Corporation) symbology, as used by Alpaca without padding::

    SPY260320C00600000
    └┬┘└─┬──┘│└──┬───┘
    root │   │  strike x 1000, 8 digits  (600.000)
         │   right: C (call) or P (put)
         expiry YYMMDD (2026-03-20)

The padded form pads the root with spaces to 6 characters (``"SPY   260320C00600000"``); both are
accepted. A root ending in a digit (``SPY1``, ``AAPL2``) is an *adjusted* contract after a corporate
action: its deliverable is not 100 plain shares, so it is flagged and the multiplier must be
checked by the user. Source: OCC, "Options Symbology Initiative", 2010.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

_OCC_RE = re.compile(r"^(?P<root>[A-Z][A-Z0-9.]{0,5}?)\s*(?P<date>\d{6})(?P<right>[CP])(?P<strike>\d{8})$")


@dataclass(frozen=True)
class OccParts:
    """The fields of an OCC symbol."""

    root: str
    expiry: date
    right: str  # "C" or "P"
    strike: float
    adjusted: bool  # root carries a digit suffix: non-standard deliverable


def parse_occ(symbol: str) -> OccParts:
    """Parse an OCC symbol (padded or not). Raises ``ValueError`` with the reason."""
    text = symbol.strip().upper()
    m = _OCC_RE.match(text)
    if m is None:
        raise ValueError(
            f"'{symbol}' is not an OCC option symbol (expected ROOT + YYMMDD + C/P + 8-digit strike x 1000, "
            "e.g. SPY260320C00600000)"
        )
    root = m.group("root").strip()
    ymd = m.group("date")
    try:
        expiry = date(2000 + int(ymd[:2]), int(ymd[2:4]), int(ymd[4:6]))
    except ValueError as exc:
        raise ValueError(f"'{symbol}': expiry '{ymd}' is not a valid YYMMDD date ({exc})") from None
    strike = int(m.group("strike")) / 1000.0
    if strike <= 0:
        raise ValueError(f"'{symbol}': strike must be positive")
    return OccParts(root=root, expiry=expiry, right=m.group("right"), strike=strike,
                    adjusted=root[-1].isdigit())


def looks_like_occ(symbol: str) -> bool:
    """True when ``symbol`` has the shape of an OCC symbol (cheap check, no date validation)."""
    return _OCC_RE.match(symbol.strip().upper()) is not None


def format_occ(root: str, expiry: date, right: str, strike: float, *, padded: bool = False) -> str:
    """Format the OCC symbol; ``padded`` pads the root to 6 characters with spaces."""
    right = right.upper()[0]
    if right not in "CP":
        raise ValueError(f"right must be C or P, not {right!r}")
    milli = round(strike * 1000)
    if milli <= 0 or milli >= 10**8:
        raise ValueError(f"strike {strike} does not fit the 8-digit OCC field")
    r = root.upper().ljust(6) if padded else root.upper()
    return f"{r}{expiry:%y%m%d}{right}{milli:08d}"
