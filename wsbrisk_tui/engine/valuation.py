"""Value a book against market data: prices, market values, weights, NAV and day P&L.

Rules (the README repeats them):

* **Price.** A linear position (stock, ETF, crypto) takes the source's mark when the source gives
  one (a broker's ``current_price`` is newer than yesterday's close), otherwise the last adjusted
  close of its series. An option takes the source's mark (per share); without one it is ``n/a``
  until a model price is available (the options analytics fill it in, marked as a model price).
* **Market value** = ``qty x price x multiplier`` (:meth:`Position.market_value_at`).
* **NAV.** The broker's account equity when known; else cash + sum of market values when cash is
  known; else the sum of market values, with a note that cash is unknown.
* **Weight** = market value / NAV (signed: a short has a negative weight).
* **Day P&L** = ``qty x multiplier x (price - previous close)``, with the previous close from the
  source (``lastday_price``) or, for a position priced at the last close, the close before it.
  Otherwise ``None`` (``n/a``), never zero.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from datetime import date

from wsbrisk_tui.engine.model import MarketData, Portfolio, Position, PositionRow


@dataclass(frozen=True)
class ValuedBook:
    """The valued positions and book totals."""

    rows: tuple[PositionRow, ...]
    nav: float | None
    nav_basis: str  # "broker equity" | "cash + positions" | "positions only (cash unknown)"
    cash: float | None
    gross_exposure: float | None
    net_exposure: float | None
    day_pnl: float | None
    notes: tuple[str, ...] = ()


def describe(position: Position) -> str:
    """A short human description: the decoded contract for options, the symbol otherwise."""
    opt = position.option
    if opt is None:
        return position.symbol
    strike = f"{opt.strike:g}"
    return f"{opt.underlying} {opt.expiry.isoformat()} {strike} {opt.right}"


def _last_two_closes(market: MarketData, symbol: str) -> tuple[float | None, float | None, date | None]:
    """Last valid close, the valid close before it, and the date of the last one."""
    if symbol not in market.prices.columns:
        return None, None, None
    series = market.prices[symbol].dropna()
    if series.empty:
        return None, None, None
    last = float(series.iloc[-1])
    prev = float(series.iloc[-2]) if len(series) >= 2 else None
    return last, prev, series.index[-1].date()


def value_book(portfolio: Portfolio, market: MarketData,
               model_prices: dict[str, tuple[float, str]] | None = None) -> ValuedBook:
    """Value every position; see the module docstring for the rules.

    ``model_prices`` maps a position symbol to ``(price, label)`` for options without a mark
    (e.g. a Black-Scholes price from the options analytics).
    """
    model_prices = model_prices or {}
    rows: list[PositionRow] = []
    notes: list[str] = []
    for pos in portfolio.positions:
        price: float | None = None
        price_source = ""
        reason: str | None = None
        prev_close: float | None = pos.lastday_price
        if pos.price is not None:
            price, price_source = pos.price, "source mark"
        elif pos.option is not None:
            if pos.symbol in model_prices:
                price, price_source = model_prices[pos.symbol]
            else:
                reason = "no mark for this option in the positions source and no model price"
        else:
            last, prev, last_date = _last_two_closes(market, pos.underlying)
            if last is None:
                reason = f"no price for {pos.underlying} in {market.source}"
            else:
                price, price_source = last, f"close {last_date.isoformat() if last_date else ''}".strip()
                if prev_close is None:
                    prev_close = prev
        mv = pos.market_value_at(price) if price is not None else None
        day_pnl = None
        if price is not None and prev_close is not None:
            day_pnl = pos.qty * pos.multiplier * (price - prev_close)
        unrealized = None
        if price is not None and pos.avg_entry_price is not None:
            unrealized = pos.qty * pos.multiplier * (price - pos.avg_entry_price)
        rows.append(PositionRow(
            symbol=pos.symbol,
            kind=pos.asset_class,
            description=describe(pos),
            qty=pos.qty,
            price=price,
            price_source=price_source,
            market_value=mv,
            weight=None,
            day_pnl=day_pnl,
            status="ok" if price is not None else "n/a",
            reason=reason,
            strategy=pos.strategy,
            avg_entry_price=pos.avg_entry_price,
            unrealized_pnl=unrealized,
            underlying=pos.underlying,
            origin=pos.origin,
        ))

    valued = [r.market_value for r in rows if r.market_value is not None]
    missing = [r.symbol for r in rows if r.market_value is None]
    positions_value = math.fsum(valued)
    if missing:
        notes.append("not valued (n/a): " + ", ".join(missing))
    if portfolio.equity is not None:
        nav, basis = portfolio.equity, "broker equity"
    elif portfolio.cash is not None:
        nav, basis = portfolio.cash + positions_value, "cash + positions"
    else:
        nav, basis = positions_value, "positions only (cash unknown)"
        notes.append("cash unknown: NAV is the sum of position market values")
    if missing and portfolio.equity is None:
        notes.append("NAV excludes positions that could not be valued")
    if nav is not None and nav <= 0:
        notes.append(f"NAV {nav:,.2f} is not positive: weights and % of NAV are n/a")
    nav_ok = nav is not None and nav > 0

    final_rows = []
    for r in rows:
        weight = r.market_value / nav if (nav_ok and r.market_value is not None) else None
        final_rows.append(dataclasses.replace(r, weight=weight))
    day = [r.day_pnl for r in rows]
    day_pnl = math.fsum(d for d in day if d is not None) if all(d is not None for d in day) and day else None
    return ValuedBook(
        rows=tuple(final_rows),
        nav=nav,
        nav_basis=basis,
        cash=portfolio.cash,
        gross_exposure=math.fsum(abs(v) for v in valued) if valued else None,
        net_exposure=positions_value if valued else None,
        day_pnl=day_pnl,
        notes=tuple(notes),
    )
