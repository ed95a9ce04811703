"""Read a book from a positions CSV.

Format (UTF-8, a byte-order mark is tolerated; blank lines and lines starting with ``#`` are
skipped; header names are case-insensitive)::

    symbol,qty,avg_entry_price,price,asset_class,side,strategy
    AAPL,100,182.50,,,,core
    SPY260320C00600000,2,4.10,5.25,,,dip-buy
    TSLA,50,,,,short,
    BTC/USD,0.125,61000,,,,
    CASH,25000,,,,,

Columns:

* ``symbol`` and ``qty`` are required. ``qty`` is signed (negative = short) and may be fractional.
* ``avg_entry_price`` and ``price`` (per share, per unit; option premiums per share) are optional.
  A blank ``price`` means "value it from market data".
* ``lastday_price`` (optional, Alpaca's name): the previous close (or previous mark, per share for
  an option). It gives the day P&L ``qty x multiplier x (price - lastday_price)``; without it a
  stock's day P&L comes from its last two closes, and an option's is ``n/a`` (no previous mark).
* ``asset_class``: ``equity``/``stock``, ``etf``, ``option``, ``crypto`` (also Alpaca's
  ``us_equity``/``us_option``); blank infers it (:func:`wsbrisk_tui.engine.symbols.classify`).
* ``side``: ``long``/``buy`` or ``short``/``sell``. ``short`` with a positive qty makes the qty
  negative; ``long`` with a negative qty is an error (the row contradicts itself).
* ``strategy``: a free label, shown beside the position.
* Options: either an OCC symbol in ``symbol`` (multiplier 100), or the columns ``underlying``,
  ``expiry`` (YYYY-MM-DD), ``strike``, ``right`` (C/P/call/put) and optional ``multiplier``; the
  ``symbol`` may then be blank or any label, and the position's symbol becomes the OCC symbol.
  With an OCC symbol, ``underlying`` may name the symbol that drives the price (adjusted
  contracts) and ``multiplier`` overrides 100; an adjusted contract (root ending in a digit, e.g.
  ``SPY1``) must give its ``multiplier``: its deliverable is not 100 plain shares.
* Cash: a row whose symbol is ``CASH`` (or ``$CASH``) gives the cash balance in ``qty`` (negative for
  a margin debit). Without it the book's cash is unknown (``None``), never assumed to be zero.

Numbers are strict: plain digits with ``.`` as the decimal point (``1234.5``, ``-2``, ``1e3``).
Thousands separators (``1,234.5``), currency signs (``$101``), percentages, NaN and infinity are
rejected with a message, because guessing what ``1,234`` means could move the book by 1000x
(:func:`~wsbrisk_tui.engine.sources.csvfile.parse_number`, shared with the prices CSV).

Unknown columns are rejected with a "did you mean" hint: a typo such as ``qyt`` must not silently
drop the quantity. Every problem in the file is collected and reported at once, each naming the
file, the physical line (the header is line 1 when it is the first line), the column, what is
wrong and what to do.

Duplicates: rows with the same symbol are merged into one position when they agree on the asset
class (and option contract) and do not give different explicit prices. The quantities are summed;
``avg_entry_price`` is the qty-weighted mean over the rows that give one, computed only when every
row is on the same side (long and short rows together have no meaningful average entry); the
strategies are joined. A note in :attr:`Portfolio.notes` names the merged lines. Rows that conflict
(different asset classes, contracts or explicit prices), or that net to a zero quantity, are an
error naming both lines.
"""

from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from wsbrisk_tui.engine.model import AssetClass, OptionContract, Portfolio, Position
from wsbrisk_tui.engine.occ import OccParts, looks_like_occ, parse_occ
# FieldError, parse_number and MAX_PROBLEMS_LISTED are re-exported: callers import them from here.
from wsbrisk_tui.engine.sources.csvfile import MAX_PROBLEMS_LISTED  # noqa: F401
from wsbrisk_tui.engine.sources.csvfile import (FieldError, Problems, data_lines, parse_number,
                                                read_csv_text, split_cells)
from wsbrisk_tui.engine.symbols import classify, normalize_symbol
from wsbrisk_tui.errors import InputError, located

COLUMNS: tuple[str, ...] = (
    "symbol", "qty", "avg_entry_price", "price", "asset_class", "side", "strategy",
    "underlying", "expiry", "strike", "right", "multiplier", "lastday_price",
)
REQUIRED_COLUMNS: tuple[str, ...] = ("symbol", "qty")
OPTION_COLUMNS: tuple[str, ...] = ("underlying", "expiry", "strike", "right")
CASH_SYMBOLS: frozenset[str] = frozenset({"CASH", "$CASH"})

_EXPIRY_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TICKER_RE = re.compile(r"^[A-Z0-9][A-Z0-9.\-/]{0,14}$")
# Six digits in a row only occur in OCC symbols (YYMMDD): such a symbol is meant as an option.
_DATE_RUN_RE = re.compile(r"\d{6}")
_RIGHTS = {"C": "C", "CALL": "C", "P": "P", "PUT": "P"}
_SIDES = {"long": "long", "buy": "long", "short": "short", "sell": "short"}


def apply_side(qty: float, side: str | None) -> float:
    """The signed quantity given an explicit ``side`` ('long'/'short' or None for "from the sign").

    ``short`` with a positive qty negates it; ``long`` with a negative qty raises
    :class:`FieldError` (the record contradicts itself).
    """
    if side == "short":
        return -abs(qty)
    if side == "long" and qty < 0:
        raise FieldError(f"side 'long' conflicts with the negative qty {qty:g}",
                         "use side short, or a positive qty")
    return qty


def _format_qty(qty: float) -> str:
    return f"{qty:.10g}"


@dataclass
class _Row:
    """One parsed position row, before duplicates are merged."""

    line: int
    symbol: str
    qty: float
    asset_class: AssetClass
    price: float | None
    avg_entry_price: float | None
    strategy: str | None
    option: OptionContract | None
    lastday_price: float | None = None


@dataclass
class _Parse(Problems):
    """The file's problems, plus notes about rows merged on the way."""

    notes: list[str] = field(default_factory=list)


def read_positions_csv(path: str | Path) -> Portfolio:
    """Read the positions CSV at ``path`` into a :class:`Portfolio` (mode ``FILE``).

    Raises :class:`InputError` listing every problem in the file (see the module docstring).
    """
    p = Path(path)
    records = data_lines(read_csv_text(p, missing_fix="check the --positions path"))
    example = "symbol,qty,avg_entry_price,price"
    if not records:
        raise InputError(located(p, None, "the file is empty (no header, no positions)",
                                 f"start with a header line such as '{example}' and one row per position"))
    ctx = _Parse(p)
    header_line, header_text = records[0]
    columns = _parse_header(ctx, header_line, header_text)
    ctx.raise_if_any(f"{p}: the header has problems")

    rows: list[_Row] = []
    cash: float | None = None
    cash_line: int | None = None
    for line, line_text in records[1:]:
        values = _split_row(ctx, line, line_text, columns)
        if values is None:
            continue
        symbol = normalize_symbol(values.get("symbol", ""))
        if symbol in CASH_SYMBOLS:
            amount = _parse_cash_row(ctx, line, symbol, values)
            if cash_line is not None:
                ctx.bad(line, "symbol", f"a second {symbol} row (the first is on line {cash_line})",
                        "give the cash balance in one row")
            elif amount is not None:
                cash, cash_line = amount, line
            continue
        row = _parse_position_row(ctx, line, symbol, values)
        if row is not None:
            rows.append(row)

    if not rows and cash_line is None and not ctx.problems:
        ctx.bad(None, None, "the file has a header but no positions",
                "add one row per position, e.g. 'AAPL,100' under the header")
    positions = _merge_duplicates(ctx, rows)
    ctx.raise_if_any(f"{p}: the positions file has problems")
    return Portfolio(positions=tuple(positions), cash=cash, source=f"csv:{p}", mode="FILE",
                     notes=tuple(ctx.notes))


# --------------------------------------------------------------------------------------------
# Header and rows
# --------------------------------------------------------------------------------------------


def _parse_header(ctx: _Parse, line: int, text: str) -> list[str]:
    cells = split_cells(ctx, line, text)
    if cells is None:
        return []
    columns = [c.strip().lower() for c in cells]
    if not any(c in COLUMNS for c in columns):
        ctx.bad(line, None, f"the first line '{text.strip()}' is not a header (it names no known column)",
                "start the file with a header line such as 'symbol,qty,avg_entry_price,price'")
        return []
    seen: dict[str, int] = {}
    for index, name in enumerate(columns, start=1):
        if not name:
            continue  # a nameless column is allowed only while its cells stay blank (checked per row)
        if name in seen:
            ctx.bad(line, name, f"appears twice in the header (positions {seen[name]} and {index})",
                    "keep one")
            continue
        seen[name] = index
        if name not in COLUMNS:
            close = difflib.get_close_matches(name, COLUMNS, n=1, cutoff=0.6)
            hint = f"did you mean '{close[0]}'?" if close else f"known columns: {', '.join(COLUMNS)}"
            ctx.bad(line, name, "unknown column", hint)
    for required in REQUIRED_COLUMNS:
        if required not in seen:
            ctx.bad(line, None, f"the header has no '{required}' column",
                    f"the header needs at least 'symbol,qty'; found: {', '.join(c for c in columns if c) or 'nothing'}")
    return columns


def _split_row(ctx: _Parse, line: int, text: str, columns: list[str]) -> dict[str, str] | None:
    cells = split_cells(ctx, line, text)
    if cells is None:
        return None
    if len(cells) > len(columns):
        ctx.bad(line, None, f"has {len(cells)} values but the header has {len(columns)} columns",
                "remove the extra values or add their column to the header")
        return None
    values: dict[str, str] = {}
    for name, cell in zip(columns, cells):
        if not name:
            if cell.strip():
                ctx.bad(line, None, f"value '{cell.strip()}' sits under a column with no name in the header",
                        "name the column or remove the value")
            continue
        values[name] = cell.strip()
    # Fewer cells than columns: the trailing columns are blank (spreadsheets trim them).
    return values


# --------------------------------------------------------------------------------------------
# Rows
# --------------------------------------------------------------------------------------------


def _number(ctx: _Parse, line: int, values: dict[str, str], column: str, *,
            minimum: float | None = None, strictly_positive: bool = False) -> float | None:
    """The number in ``column``, ``None`` when blank; records a problem and returns None when bad."""
    text = values.get(column, "")
    if not text:
        return None
    try:
        value = parse_number(text)
    except FieldError as exc:
        ctx.bad(line, column, exc.what, exc.fix)
        return None
    if strictly_positive and value <= 0:
        ctx.bad(line, column, f"{value:g} must be greater than zero")
        return None
    if minimum is not None and value < minimum:
        ctx.bad(line, column, f"{value:g} is negative", f"{column} is a price per share: write it as a positive number")
        return None
    return value


def _parse_cash_row(ctx: _Parse, line: int, symbol: str, values: dict[str, str]) -> float | None:
    extra = [c for c, v in values.items() if v and c not in ("symbol", "qty")]
    if extra:
        ctx.bad(line, extra[0], f"a {symbol} row takes only qty (the cash balance)",
                f"remove the {', '.join(extra)} value(s) from this row")
    if not values.get("qty"):
        ctx.bad(line, "qty", f"the {symbol} row has no amount", "write the cash balance in qty, e.g. CASH,25000")
        return None
    return _number(ctx, line, values, "qty")


def _parse_position_row(ctx: _Parse, line: int, symbol: str, values: dict[str, str]) -> _Row | None:
    n_before = len(ctx.problems)

    qty: float | None = None
    if not values.get("qty"):
        ctx.bad(line, "qty", "is blank", "every position needs a quantity (negative for a short)")
    else:
        qty = _number(ctx, line, values, "qty")
        if qty == 0:
            ctx.bad(line, "qty", "is 0: a position of zero is meaningless", "delete the row or give the quantity held")
            qty = None

    side_text = values.get("side", "").lower()
    side: str | None = None
    if side_text:
        side = _SIDES.get(side_text)
        if side is None:
            ctx.bad(line, "side", f"'{values['side']}' is not long, short, buy or sell", "leave it blank to use the sign of qty")
    if qty is not None and side is not None:
        try:
            qty = apply_side(qty, side)
        except FieldError as exc:
            ctx.bad(line, "side", exc.what, exc.fix)

    hint = values.get("asset_class", "")
    explicit: AssetClass | None = None
    if hint:
        try:
            explicit = classify(symbol, hint)
        except ValueError as exc:
            ctx.bad(line, "asset_class", str(exc))

    price = _number(ctx, line, values, "price", minimum=0.0)
    avg_entry = _number(ctx, line, values, "avg_entry_price", minimum=0.0)
    lastday = _number(ctx, line, values, "lastday_price", minimum=0.0)
    strategy = values.get("strategy") or None

    option = _parse_option(ctx, line, symbol, values, explicit, hint)
    if option is not None:
        asset_class: AssetClass = "option"
        try:
            position_symbol = option.occ_symbol
        except ValueError as exc:
            ctx.bad(line, "strike", str(exc))
            return None
    elif explicit == "option" or _option_intended(symbol, values):
        return None  # _parse_option recorded why
    else:
        if "multiplier" in values and values["multiplier"]:
            ctx.bad(line, "multiplier", "applies to options only", "remove it, or give the option's contract")
        if not symbol:
            ctx.bad(line, "symbol", "is blank", "write the ticker, e.g. AAPL, or an OCC option symbol")
            return None
        if not _TICKER_RE.match(symbol):
            ctx.bad(line, "symbol", f"'{symbol}' is not a ticker symbol",
                    "use letters, digits, '.', '-' or '/' (e.g. BRK.B, BTC/USD); options as OCC symbols such as SPY260320C00600000")
            return None
        asset_class = explicit if explicit is not None else classify(symbol, None)
        position_symbol = symbol

    if len(ctx.problems) > n_before or qty is None:
        return None
    return _Row(line=line, symbol=position_symbol, qty=qty, asset_class=asset_class, price=price,
                avg_entry_price=avg_entry, strategy=strategy, option=option,
                lastday_price=lastday)


def _option_intended(symbol: str, values: dict[str, str]) -> bool:
    return (looks_like_occ(symbol) or bool(_DATE_RUN_RE.search(symbol))
            or any(values.get(c) for c in OPTION_COLUMNS))


def _parse_option(ctx: _Parse, line: int, symbol: str, values: dict[str, str],
                  explicit: AssetClass | None, hint: str) -> OptionContract | None:
    """The row's option contract, or None when the row is not an option (or is a bad one).

    Sources of each field, in order: its own column, then the OCC symbol in ``symbol``; when both
    are present they must agree.
    """
    if not (explicit == "option" or _option_intended(symbol, values)):
        return None
    if explicit is not None and explicit != "option":
        ctx.bad(line, "asset_class", f"'{hint}' conflicts with the option contract on this row",
                "write option, or leave asset_class blank")
        return None
    n_before = len(ctx.problems)

    by_columns = any(values.get(c) for c in OPTION_COLUMNS)
    # With contract columns the symbol may be any label; without them it must be the OCC symbol.
    occ: OccParts | None = None
    if symbol and (looks_like_occ(symbol) or (not by_columns and (bool(_DATE_RUN_RE.search(symbol))
                                                                 or explicit == "option"))):
        try:
            occ = parse_occ(symbol)
        except ValueError as exc:
            ctx.bad(line, "symbol", str(exc),
                    "or give the contract in the underlying, expiry, strike and right columns")
            return None
    if occ is None and not by_columns:
        ctx.bad(line, "asset_class", "an option needs a contract",
                "write an OCC symbol (e.g. SPY260320C00600000) or fill underlying, expiry, strike and right")
        return None

    underlying = normalize_symbol(values.get("underlying", ""))
    if underlying and not _TICKER_RE.match(underlying):
        ctx.bad(line, "underlying", f"'{underlying}' is not a ticker symbol", "e.g. SPY")

    expiry: date | None = None
    expiry_text = values.get("expiry", "")
    if expiry_text:
        if not _EXPIRY_RE.match(expiry_text):
            ctx.bad(line, "expiry", f"'{expiry_text}' is not a YYYY-MM-DD date", "write e.g. 2026-03-20")
        else:
            try:
                expiry = date.fromisoformat(expiry_text)
            except ValueError as exc:
                ctx.bad(line, "expiry", f"'{expiry_text}' is not a valid date ({exc})", "write e.g. 2026-03-20")

    strike = _number(ctx, line, values, "strike", strictly_positive=True)

    right: str | None = None
    right_text = values.get("right", "")
    if right_text:
        right = _RIGHTS.get(right_text.upper())
        if right is None:
            ctx.bad(line, "right", f"'{right_text}' is not C, P, call or put", "write C for a call, P for a put")

    multiplier = _number(ctx, line, values, "multiplier", strictly_positive=True)
    if len(ctx.problems) > n_before:
        return None

    if occ is not None:
        said = f"{occ.expiry.isoformat()} {occ.strike:g} {occ.right}"
        for column, mine, theirs in (("expiry", expiry, occ.expiry), ("strike", strike, occ.strike),
                                     ("right", right, occ.right)):
            if mine is not None and mine != theirs:
                ctx.bad(line, column, f"'{values[column]}' disagrees with the OCC symbol {symbol} ({said})",
                        f"fix the {column} or the symbol, or leave {column} blank")
        if len(ctx.problems) > n_before:
            return None
        if occ.adjusted and multiplier is None:
            ctx.bad(line, "multiplier",
                    f"{symbol} is an adjusted contract (root {occ.root} ends in a digit): its deliverable is not 100 plain shares",
                    "add a multiplier column with the contract's real multiplier (and underlying if it differs)")
            return None
        return OptionContract(underlying=underlying or occ.root.rstrip("0123456789"), expiry=occ.expiry,
                              right="C" if occ.right == "C" else "P", strike=occ.strike,
                              multiplier=100.0 if multiplier is None else multiplier,
                              root=occ.root, adjusted=occ.adjusted)

    for column, value in (("underlying", underlying), ("expiry", expiry), ("strike", strike), ("right", right)):
        if value is None or value == "":
            ctx.bad(line, column, "is blank",
                    "an option given by columns needs underlying, expiry, strike and right (or an OCC symbol)")
    if len(ctx.problems) > n_before:
        return None
    assert expiry is not None and strike is not None and right is not None  # checked just above
    return OptionContract(underlying=underlying, expiry=expiry, right="C" if right == "C" else "P",
                          strike=strike, multiplier=100.0 if multiplier is None else multiplier,
                          root=underlying, adjusted=False)


# --------------------------------------------------------------------------------------------
# Duplicates
# --------------------------------------------------------------------------------------------


def _merge_duplicates(ctx: _Parse, rows: list[_Row]) -> list[Position]:
    groups: dict[str, list[_Row]] = {}
    for row in rows:
        groups.setdefault(row.symbol, []).append(row)
    name = ctx.path.name
    positions: list[Position] = []
    for symbol, group in groups.items():
        first = group[0]
        if len(group) == 1:
            positions.append(Position(symbol=symbol, qty=first.qty, asset_class=first.asset_class,
                                      price=first.price, avg_entry_price=first.avg_entry_price,
                                      lastday_price=first.lastday_price,
                                      strategy=first.strategy, option=first.option,
                                      origin=f"{name}:{first.line}"))
            continue
        merged = _merge_group(ctx, symbol, group)
        if merged is not None:
            positions.append(merged)
    return positions


def _merge_group(ctx: _Parse, symbol: str, group: list[_Row]) -> Position | None:
    n_before = len(ctx.problems)
    first = group[0]
    fix = "keep one row, or make the rows agree"
    price_row = next((r for r in group if r.price is not None), None)
    lastday_row = next((r for r in group if r.lastday_price is not None), None)
    for row in group[1:]:
        if row.asset_class != first.asset_class:
            ctx.bad(row.line, "asset_class",
                    f"{symbol} is {row.asset_class} here but {first.asset_class} on line {first.line}", fix)
        elif row.option != first.option:
            ctx.bad(row.line, "multiplier",
                    f"{symbol} has a different contract (underlying or multiplier) than on line {first.line}", fix)
        if row.price is not None and price_row is not None and row.price != price_row.price:
            ctx.bad(row.line, "price",
                    f"{symbol} has price {row.price:g} here but {price_row.price:g} on line {price_row.line}", fix)
        if (row.lastday_price is not None and lastday_row is not None
                and row.lastday_price != lastday_row.lastday_price):
            ctx.bad(row.line, "lastday_price",
                    f"{symbol} has lastday_price {row.lastday_price:g} here but "
                    f"{lastday_row.lastday_price:g} on line {lastday_row.line}", fix)
    if len(ctx.problems) > n_before:
        return None

    lines = [r.line for r in group]
    line_list = ", ".join(str(n) for n in lines[:-1]) + f" and {lines[-1]}"
    qty = math.fsum(r.qty for r in group)
    if math.isclose(qty, 0.0, abs_tol=1e-9 * max(abs(r.qty) for r in group)):
        ctx.bad(group[-1].line, "qty", f"{symbol} rows on lines {line_list} net to a zero quantity",
                "delete the rows of a closed position")
        return None

    entry_note = ""
    avg_entry: float | None = None
    with_entry = [r for r in group if r.avg_entry_price is not None]
    same_side = all(r.qty > 0 for r in group) or all(r.qty < 0 for r in group)
    if with_entry and same_side:
        weight = math.fsum(r.qty for r in with_entry)
        avg_entry = math.fsum(r.qty * r.avg_entry_price for r in with_entry) / weight  # type: ignore[operator]
        entry_note = f", avg_entry_price {avg_entry:.6g} weighted by qty"
        if len(with_entry) < len(group):
            entry_note += " over lines " + ", ".join(str(r.line) for r in with_entry) + " (the others give none)"
    elif with_entry:
        entry_note = ", avg_entry_price left blank (long and short rows have no common entry price)"

    strategies = list(dict.fromkeys(r.strategy for r in group if r.strategy))
    ctx.notes.append(f"{ctx.path}: lines {line_list} hold {symbol}: merged into one position "
                     f"(qty {_format_qty(qty)}{entry_note})")
    return Position(symbol=symbol, qty=qty, asset_class=first.asset_class,
                    price=price_row.price if price_row is not None else None,
                    lastday_price=lastday_row.lastday_price if lastday_row is not None else None,
                    avg_entry_price=avg_entry, strategy=", ".join(strategies) or None,
                    option=first.option, origin=f"{ctx.path.name}:" + ",".join(str(n) for n in lines))

