"""Valuation rules (engine/valuation.py): prices, market values, NAV, weights and day P&L by hand."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from wsbrisk_tui.engine.model import MarketData, OptionContract, Portfolio, Position
from wsbrisk_tui.engine.pipeline import PipelineSettings, align_history, build_snapshot
from wsbrisk_tui.engine.valuation import value_book


def _market(prices: dict[str, list[float]], start="2024-01-01") -> MarketData:
    n = len(next(iter(prices.values())))
    idx = pd.bdate_range(start, periods=n)
    frame = pd.DataFrame(prices, index=idx, dtype=float)
    return MarketData(prices=frame, source="test", as_of=idx[-1].date())


def test_linear_positions_use_last_close_and_previous_close_for_day_pnl():
    market = _market({"AAA": [100.0, 101.0, 102.0], "BBB": [50.0, 49.0, 48.5]})
    book = Portfolio(positions=(Position("AAA", 10, "equity"), Position("BBB", -20, "equity")),
                     cash=1000.0, source="t", mode="FILE")
    v = value_book(book, market)
    a, b = v.rows
    assert a.price == 102.0 and a.market_value == pytest.approx(1020.0)
    assert b.market_value == pytest.approx(-970.0)
    # NAV = cash + sum of market values = 1000 + 1020 - 970
    assert v.nav == pytest.approx(1050.0)
    assert v.nav_basis == "cash + positions"
    assert a.weight == pytest.approx(1020.0 / 1050.0)
    assert b.weight == pytest.approx(-970.0 / 1050.0)
    # day P&L: 10 x (102 - 101) + (-20) x (48.5 - 49) = 10 + 10
    assert v.day_pnl == pytest.approx(20.0)
    assert v.gross_exposure == pytest.approx(1990.0)
    assert v.net_exposure == pytest.approx(50.0)


def test_option_market_value_uses_multiplier_and_source_mark():
    market = _market({"SPY": [400.0, 401.0]})
    opt = OptionContract("SPY", date(2024, 2, 16), "C", 410.0)
    book = Portfolio(positions=(Position("SPY240216C00410000", -2, "option", price=3.5, option=opt),),
                     cash=10_000.0, source="t", mode="FILE")
    v = value_book(book, market)
    row = v.rows[0]
    assert row.market_value == pytest.approx(-2 * 3.5 * 100)
    assert row.price_source == "source mark"
    assert row.description == "SPY 2024-02-16 410 C"
    # no previous mark for the option: day P&L is n/a, never zero
    assert row.day_pnl is None and v.day_pnl is None


def test_broker_equity_wins_and_unknown_cash_is_said():
    market = _market({"AAA": [10.0, 10.0]})
    pos = (Position("AAA", 5, "equity"),)
    with_equity = value_book(Portfolio(pos, cash=1.0, equity=500.0, source="t", mode="FILE"), market)
    assert with_equity.nav == 500.0 and with_equity.nav_basis == "broker equity"
    no_cash = value_book(Portfolio(pos, cash=None, source="t", mode="FILE"), market)
    assert no_cash.nav == pytest.approx(50.0)
    assert any("cash unknown" in n for n in no_cash.notes)


def test_missing_price_is_na_with_reason_not_zero():
    market = _market({"AAA": [10.0, 11.0]})
    book = Portfolio((Position("AAA", 1, "equity"), Position("ZZZ", 3, "equity")), cash=0.0,
                     source="t", mode="FILE")
    v = value_book(book, market)
    z = v.rows[1]
    assert z.status == "n/a" and z.market_value is None and z.weight is None
    assert "no price for ZZZ" in z.reason
    assert v.nav == pytest.approx(11.0)
    assert any("ZZZ" in n for n in v.notes)


def test_align_history_drops_gap_dates_and_names_late_starter():
    idx = pd.bdate_range("2024-01-01", periods=6)
    frame = pd.DataFrame({"A": [1, 2, 3, 4, 5, 6], "B": [np.nan, np.nan, 3, np.nan, 5, 6]},
                         index=idx, dtype=float)
    market = MarketData(prices=frame, source="t", as_of=idx[-1].date())
    h = align_history(market, ["A", "B"])
    # B starts on day 3; day 4 is a gap for B: dropped for both, never filled
    assert h.prices[:, 0].tolist() == [3.0, 5.0, 6.0]
    assert h.dropped_dates == 1
    assert h.limited_by == "B"


def test_snapshot_without_risk_says_why_var_is_missing():
    market = _market({"AAA": [10.0, 11.0]})
    book = Portfolio((Position("AAA", 1, "equity"),), cash=0.0, source="t", mode="FILE")
    snap = build_snapshot(book, market, PipelineSettings(risk=None), seq=7)
    assert snap.meta.seq == 7 and snap.nav == pytest.approx(11.0)
    assert snap.var == () and "var" in snap.unavailable
    again = snap.from_dict(snap.to_dict())
    assert again == snap
