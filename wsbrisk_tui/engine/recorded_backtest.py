"""The backtest of the VaR this program actually recorded, against the P&L that followed.

The VaR ladder's backtest (:mod:`wsbrisk_tui.engine.suite`) is *hypothetical*: today's holdings
on past returns, re-forecast day by day. This one reads the history instead. Each close's 1-day
VaR, as last recorded that day (``daily_var``), is paired with the book's day P&L at the next
weekday's close (``realised_pnl``, the change since the previous close on the positions held
then).

A pair is used only when the holdings behind the P&L are the ones behind the VaR. The store
keeps a hash of the holdings with each (``book_key``, ``realised_book_key``). A day on which the
bot traded measures another book's P&L against this book's VaR, so it is excluded and counted.
This is the "clean" P&L of the Basel backtesting framework (BCBS, 1996, "Supervisory framework
for the use of backtesting in conjunction with the internal models approach"), without intraday
trading, fees or carry. Days without a realised P&L (a missing weekday, a holiday, an n/a day
P&L) are gaps, never guesses.

The pairs then go through the same tests as every other backtest
(:func:`~wsbrisk_tui.engine.backtest.evaluate_backtest`): the exception count, Kupiec's
proportion of failures, Christoffersen's independence and conditional coverage, and the Basel
traffic light scaled to the number of days.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Any

import numpy as np

from wsbrisk_tui.engine.model import BacktestResult

SCHEME = ("recorded: each close's 1-day VaR against the next weekday's day P&L on unchanged "
          "holdings")


def recorded_backtest(store: Any, method: str, confidence: float = 0.99,
                      since: date | None = None, until: date | None = None) -> BacktestResult:
    """The backtest of ``method`` at ``confidence`` over the recorded days (module doc).
    ``until`` (replay) keeps what was known at that market date: later days, and realised P&L
    that came after it, are left out.

    ``details`` counts the recorded days, those with a realised P&L, and those excluded (no VaR
    that day, holdings changed, holdings unknown because recorded before the store kept them),
    with the first and last day used."""
    from wsbrisk_tui.engine.backtest import MIN_BACKTEST_OBS, evaluate_backtest

    rows = store.daily_var(method, confidence, since)
    if until is not None:
        cut = until.isoformat()
        rows = [r if r["realised_as_of"] is None or r["realised_as_of"] <= cut
                else {**r, "realised_pnl": None} for r in rows if r["as_of"] <= cut]
    realised = [r for r in rows if r["realised_pnl"] is not None]
    with_var = [r for r in realised if r["var"] is not None]
    unknown = [r for r in with_var if not r["book_key"] or not r["realised_book_key"]]
    changed = [r for r in with_var if r["book_key"] and r["realised_book_key"]
               and r["book_key"] != r["realised_book_key"]]
    clean = [r for r in with_var if r["book_key"] and r["book_key"] == r["realised_book_key"]]
    details: dict[str, Any] = {
        "scheme": SCHEME, "days_recorded": len(rows), "days_with_realised_pnl": len(realised),
        "excluded_var_na": len(realised) - len(with_var), "excluded_holdings_changed": len(changed),
        "excluded_holdings_unknown": len(unknown),
        "first_day": clean[0]["as_of"] if clean else None,
        "last_day": clean[-1]["as_of"] if clean else None}
    var = np.array([r["var"] for r in clean], dtype=float)
    pnl = np.array([r["realised_pnl"] for r in clean], dtype=float)
    result = evaluate_backtest(method, confidence, var, pnl, details=details)
    if result.status != "ok":
        result = replace(result, reason=(
            f"{len(clean)} clean recorded days (a close's VaR and the next day's P&L on the same "
            f"holdings); the backtest needs at least {MIN_BACKTEST_OBS}"))
    return result
