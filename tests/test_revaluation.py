"""Full revaluation of a mixed book under return scenarios."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pytest
from scipy.stats import norm

from wsbrisk_tui.engine.model import OptionContract, Portfolio, Position, Rate
from wsbrisk_tui.engine.option_book import analyse_options
from wsbrisk_tui.engine.options import T_FLOOR_YEARS, bsm_price, crr_price
from wsbrisk_tui.engine.revaluation import (
    RevalPosition,
    book_revaluer,
    build_reval_positions,
    delta_gamma_vega_pnl,
)

AS_OF = date(2026, 3, 2)
R_FRAC = 0.04


def put(K: float, qty: float, T0: float, iv0: float, **kw) -> RevalPosition:
    return RevalPosition(symbol=f"SPY{K}P", underlying="SPY", qty=qty, kind="option", multiplier=100.0,
                         spot0=600.0, strike=K, right=-1.0, T0=T0, iv0=iv0, **kw)


def call(K: float, qty: float, T0: float, iv0: float, underlying: str = "SPY", spot0: float = 600.0) -> RevalPosition:
    return RevalPosition(symbol=f"{underlying}{K}C", underlying=underlying, qty=qty, kind="option",
                         multiplier=100.0, spot0=spot0, strike=K, right=1.0, T0=T0, iv0=iv0)


def stock(symbol: str, qty: float, price: float) -> RevalPosition:
    return RevalPosition(symbol=symbol, underlying=symbol, qty=qty, kind="linear", value0=qty * price, spot0=price)


def test_zero_shock_pnl_is_the_pricers_time_decay_only():
    positions = [put(590, -2, 30 / 365, 0.2), call(620, 3, 10 / 365, 0.15), stock("SPY", 100, 600.0)]
    rv = book_revaluer(positions, ["SPY", "VIX"], AS_OF, Rate(R_FRAC, "test"), vol_level=18.0)
    for h in (1, 5, 10):
        pnl = rv(np.zeros((1, 2)), h)[0]
        # expected: BSM at T0 - h/252 minus BSM at T0 (the h trading days = h x 365/252 calendar days)
        for j, p in enumerate(positions[:2]):
            decay = (bsm_price(600, p.strike, p.T0 - h / 252, R_FRAC, 0, p.iv0, p.right)
                     - bsm_price(600, p.strike, p.T0, R_FRAC, 0, p.iv0, p.right)) * p.qty * 100
            assert pnl[j] == pytest.approx(float(decay), rel=1e-12, abs=1e-9)
        assert pnl[2] == 0.0
    # time decay is a cost to the long call and an income to the short put
    one_day = rv(np.zeros((1, 2)), 1)[0]
    assert one_day[0] > 0 > one_day[1]


def test_linear_positions_are_value_times_return():
    rv = book_revaluer([stock("SPY", 100, 600.0), stock("BTC", -0.5, 60_000.0)], ["SPY", "BTC"], AS_OF, 0.04)
    R = np.array([[0.01, -0.02], [-0.05, 0.10]])
    np.testing.assert_allclose(rv(R, 1), [[600.0, 600.0], [-3000.0, -3000.0]], rtol=1e-14)
    np.testing.assert_allclose(rv.values0, [60_000.0, -30_000.0])


def test_spot_and_vix_shocks_reprice_in_full():
    p = call(600, 1, 30 / 365, 0.18)
    rv = book_revaluer([p], ["SPY", "VIX"], AS_OF, R_FRAC, vol_level=20.0)
    R = np.array([[-0.10, 0.50], [0.05, -0.90]])
    pnl = rv(R, 1)[:, 0]
    T1 = 30 / 365 - 1 / 252
    v0 = bsm_price(600, 600, 30 / 365, R_FRAC, 0, 0.18, "C")
    # VIX 20 -> 30: sigma + 0.10; VIX 20 -> 2: sigma - 0.18, floored at 0.01
    expect = [bsm_price(540, 600, T1, R_FRAC, 0, 0.28, "C") - v0, bsm_price(630, 600, T1, R_FRAC, 0, 0.01, "C") - v0]
    np.testing.assert_allclose(pnl, np.array(expect) * 100, rtol=1e-12)


def test_without_a_vix_column_vols_are_held_and_noted():
    rv = book_revaluer([call(600, 1, 30 / 365, 0.18)], ["SPY"], AS_OF, R_FRAC, vol_asset="VIX")
    assert rv.notes == ["no VIX scenario column: implied vols held constant"]
    pnl = rv(np.array([[0.02]]), 1)[0, 0]
    expected = (bsm_price(612, 600, 30 / 365 - 1 / 252, R_FRAC, 0, 0.18, "C")
                - bsm_price(600, 600, 30 / 365, R_FRAC, 0, 0.18, "C")) * 100
    assert pnl == pytest.approx(float(expected), rel=1e-12)


def test_vix_column_without_a_level_is_an_error():
    with pytest.raises(ValueError, match="no current level was given"):
        book_revaluer([call(600, 1, 0.1, 0.2)], ["SPY", "VIX"], AS_OF, R_FRAC)


def test_option_expiring_inside_the_horizon_is_worth_intrinsic():
    p = put(600, -1, 3 / 365, 0.25)  # 3 calendar days; h = 5 trading days is ~7.2 calendar days
    rv = book_revaluer([p], ["SPY"], AS_OF, R_FRAC)
    R = np.array([[-0.05], [0.05]])
    v0 = float(bsm_price(600, 600, 3 / 365, R_FRAC, 0, 0.25, "P"))
    np.testing.assert_allclose(rv(R, 5)[:, 0], [-(30.0 - v0) * 100 * 1, -(0.0 - v0) * 100], rtol=1e-12)


def test_zero_dte_option_from_the_book_expires_at_intrinsic_after_one_day():
    c = OptionContract("SPY", AS_OF, "C", 600.0, 100.0, "SPY")
    pf = Portfolio((Position(c.occ_symbol, -3, "option", price=1.2, option=c),), cash=None, source="t", mode="FILE")
    book = analyse_options(pf, {"SPY": 600.0}, AS_OF, Rate(R_FRAC, "t"), vix=18.0)
    specs, excluded = build_reval_positions(pf, {"SPY": 600.0}, book)
    assert excluded == [] and specs[0].T0 == T_FLOOR_YEARS
    rv = book_revaluer(specs, ["SPY"], AS_OF, R_FRAC)
    pnl = rv(np.array([[0.0], [0.01]]), 1)[:, 0]
    # V0 is the model price at the implied vol, i.e. the mark; after a day only intrinsic is left
    np.testing.assert_allclose(pnl, [1.2 * 300, 1.2 * 300 - 6.0 * 300], rtol=1e-8)


def test_option_on_an_asset_missing_from_the_scenarios_is_a_clear_error():
    with pytest.raises(ValueError) as err:
        book_revaluer([call(200, 1, 0.1, 0.3, underlying="AAPL", spot0=199.0)], ["SPY", "VIX"], AS_OF, R_FRAC,
                      vol_level=18.0)
    assert str(err.value) == ("no scenario returns for: AAPL200C (underlying AAPL); the scenario columns are "
                              "['SPY', 'VIX']: add the underlying's price history")


def test_scenario_shape_is_checked():
    rv = book_revaluer([stock("SPY", 1, 600.0)], ["SPY", "VIX"], AS_OF, R_FRAC)
    with pytest.raises(ValueError, match=r"must be \(s, 2\)"):
        rv(np.zeros((3, 1)), 1)


def test_short_put_full_revaluation_var_exceeds_delta_normal_var():
    # fat-tailed daily SPY returns: Student t with 3 df scaled to 1.2% sd (seeded)
    rng = np.random.default_rng(20260302)
    R = (rng.standard_t(3, size=20_000) / np.sqrt(3.0) * 0.012)[:, None]
    rv = book_revaluer([put(600, -10, 30 / 365, 0.18)], ["SPY"], AS_OF, R_FRAC)
    pnl = rv(R, 1)[:, 0]
    var_full = -np.quantile(pnl, 0.01)
    delta_usd = rv.delta_exposure()[0, 0]
    var_delta_normal = norm.ppf(0.99) * np.std(R[:, 0], ddof=1) * abs(delta_usd)
    # short gamma plus fat tails: full revaluation sees the loss the linear normal model misses
    assert var_full > 1.2 * var_delta_normal


def test_american_book_values_at_the_tree_price_with_a_constant_premium():
    c = OptionContract("SPY", AS_OF + timedelta(days=60), "P", 640.0, 100.0, "SPY")
    pf = Portfolio((Position(c.occ_symbol, 2, "option", price=45.0, option=c), Position("SPY", 50, "etf")),
                   cash=None, source="t", mode="FILE")
    book = analyse_options(pf, {"SPY": 600.0}, AS_OF, Rate(0.05, "t"), vix=18.0)
    a = book.options[0]
    specs, _ = build_reval_positions(pf, {"SPY": 600.0}, book)
    assert specs[0].american and specs[0].eep == pytest.approx(a.price_model - a.price_bsm, abs=1e-12)
    rv = book_revaluer(specs, ["SPY"], AS_OF, 0.05)
    # V0 is the CRR price, which the IV was solved to match the mark
    np.testing.assert_allclose(rv.values0, [45.0 * 200, 50 * 600.0], rtol=1e-9)
    # a crash: the American put is worth at least its intrinsic value
    pnl = rv(np.array([[-0.3]]), 1)[0, 0]
    assert pnl >= (640.0 - 420.0 - 45.0) * 200 - 1e-9
    # and in a mild scenario: BSM at T1 plus the constant premium
    T1 = 60 / 365 - 1 / 252
    expected = (bsm_price(606.0, 640, T1, 0.05, 0, a.iv, "P") + specs[0].eep - 45.0) * 200
    assert rv(np.array([[0.01]]), 1)[0, 0] == pytest.approx(float(expected), rel=1e-9)
    # the approximation stays close to a tree repriced in the scenario (within 1% of the premium)
    tree = (crr_price(606.0, 640, T1, 0.05, 0, a.iv, "P") - 45.0) * 200
    assert rv(np.array([[0.01]]), 1)[0, 0] == pytest.approx(float(tree), abs=0.01 * 45.0 * 200)


def test_explain_pnl_matches_full_revaluation_for_small_moves_only():
    p = put(600, -5, 30 / 365, 0.2)
    rv = book_revaluer([p, stock("SPY", 100, 600.0)], ["SPY", "VIX"], AS_OF, R_FRAC, vol_level=18.0)
    small = np.array([[0.001, 0.01]])
    full, approx = rv(small, 1), delta_gamma_vega_pnl(rv, small, 1)
    # second-order expansion: the error (dS^3, cross and dt^2 terms, theta's drift over 1.45 calendar
    # days) is about 2% of a 0.1% move's P&L; asserted within 3%
    assert approx[0, 0] == pytest.approx(full[0, 0], rel=3e-2)
    assert approx[0, 1] == full[0, 1]
    crash = np.array([[-0.15, 1.0]])
    full, approx = rv(crash, 1), delta_gamma_vega_pnl(rv, crash, 1)
    # for a crash the Taylor expansion misses a large part of the loss (more than 10% off)
    assert abs(approx[0, 0] - full[0, 0]) > 0.1 * abs(full[0, 0])


def test_build_reval_positions_excludes_or_raises_for_unpriced_options():
    c = OptionContract("TSLA", AS_OF + timedelta(days=30), "C", 260.0, 100.0, "TSLA")
    pf = Portfolio((Position("SPY", 10, "etf"), Position(c.occ_symbol, 1, "option", option=c)), cash=None,
                   source="t", mode="FILE")
    book = analyse_options(pf, {"SPY": 600.0, "TSLA": 250.0}, AS_OF, Rate(R_FRAC, "t"), vix=None)
    with pytest.raises(ValueError, match="cannot revalue: TSLA260401C00260000: no mark and no VIX level"):
        build_reval_positions(pf, {"SPY": 600.0, "TSLA": 250.0}, book)
    specs, excluded = build_reval_positions(pf, {"SPY": 600.0, "TSLA": 250.0}, book, strict=False)
    assert [s.symbol for s in specs] == ["SPY"]
    assert excluded == [("TSLA260401C00260000", "no mark and no VIX level for a proxy vol")]


def test_delta_exposure_is_delta_dollars_in_the_underlying_column():
    rv = book_revaluer([call(600, 2, 30 / 365, 0.2), stock("QQQ", 10, 500.0)], ["QQQ", "SPY"], AS_OF, R_FRAC)
    from wsbrisk_tui.engine.options import bsm_greeks

    delta = float(bsm_greeks(600, 600, 30 / 365, R_FRAC, 0, 0.2, "C")["delta"])
    np.testing.assert_allclose(rv.delta_exposure(), [[0.0, delta * 200 * 600], [5000.0, 0.0]], rtol=1e-12)
