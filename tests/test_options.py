"""Option pricing, Greeks and implied vol against textbook values and independent checks.

Published values: J. Hull, *Options, Futures, and Other Derivatives* (BSM example, the Greeks
example of the Greek-letters chapter, the American put trees of the numerical-procedures chapter).
"""

from __future__ import annotations

import itertools
import math
from datetime import date

import numpy as np
import pytest

from wsbrisk_tui.engine.options import (
    T_FLOOR_YEARS,
    bsm_greeks,
    bsm_price,
    crr_greeks,
    crr_price,
    early_exercise_matters,
    implied_vol,
    price_option,
    right_sign,
    year_fraction,
)


# -- Black-Scholes-Merton against Hull ---------------------------------------------------------


def test_bsm_matches_hull_example_call_4_76_put_0_81():
    # Hull: S=42, K=40, r=10%, sigma=20%, T=0.5 -> c = 4.76, p = 0.81 (published to 2 dp)
    call = bsm_price(42, 40, 0.5, 0.10, 0.0, 0.20, "C")
    put = bsm_price(42, 40, 0.5, 0.10, 0.0, 0.20, "P")
    assert call == pytest.approx(4.76, abs=0.005)
    assert put == pytest.approx(0.81, abs=0.005)


def test_bsm_greeks_match_hull_greek_letters_example():
    # Hull: S=49, K=50, r=5%, sigma=20%, T=20 weeks=0.3846: delta 0.522, gamma 0.066,
    # vega 12.1 per 100% (0.121 per vol point), theta -4.31 per year, rho 8.91 per 100%.
    g = bsm_greeks(49, 50, 0.3846, 0.05, 0.0, 0.20, "C")
    assert g["delta"] == pytest.approx(0.522, abs=5e-4)
    assert g["gamma"] == pytest.approx(0.066, abs=5e-4)
    assert g["vega"] == pytest.approx(0.121, abs=5e-4)  # $ per vol point
    assert g["theta"] * 365 == pytest.approx(-4.31, abs=5e-3)  # theta is per calendar day
    assert g["theta"] == pytest.approx(-4.31 / 365, abs=2e-5)
    assert g["rho"] == pytest.approx(0.0891, abs=5e-4)  # $ per 1% rate


GRID = list(itertools.product([80.0, 100.0, 125.0], [0.05, 0.5, 2.0], [0.0, 0.05], [0.0, 0.03], [0.1, 0.45]))


@pytest.mark.parametrize("S,T,r,q,sigma", GRID)
def test_put_call_parity_holds_to_1e_10(S, T, r, q, sigma):
    K = 100.0
    c = bsm_price(S, K, T, r, q, sigma, "C")
    p = bsm_price(S, K, T, r, q, sigma, "P")
    # c - p = S e^{-qT} - K e^{-rT}, exact in the model; tolerance for floating point only
    assert c - p == pytest.approx(S * math.exp(-q * T) - K * math.exp(-r * T), abs=1e-10)


def test_bsm_limits_intrinsic_at_expiry_and_forward_intrinsic_at_zero_vol():
    S = np.array([90.0, 110.0, 90.0, 110.0])
    right = np.array([1, 1, -1, -1])
    # T <= 0: plain intrinsic value
    np.testing.assert_allclose(bsm_price(S, 100, 0.0, 0.05, 0.0, 0.3, right), [0, 10, 10, 0], atol=0)
    np.testing.assert_allclose(bsm_price(S, 100, -0.1, 0.05, 0.0, 0.3, right), [0, 10, 10, 0], atol=0)
    # sigma = 0: discounted intrinsic of the forward, max(w (S e^{-qT} - K e^{-rT}), 0)
    T, r, q = 0.5, 0.05, 0.02
    fwd = S * math.exp(-q * T) - 100 * math.exp(-r * T)
    np.testing.assert_allclose(bsm_price(S, 100, T, r, q, 0.0, right), np.maximum(right * fwd, 0), atol=1e-12)
    # and it is the limit of small vols (1e-6 leaves only exponentially small time value)
    np.testing.assert_allclose(bsm_price(S, 100, T, r, q, 1e-6, right), np.maximum(right * fwd, 0), atol=1e-9)


def test_bsm_broadcasts_over_arrays_and_accepts_string_rights():
    out = bsm_price(np.array([[42.0], [49.0]]), np.array([40.0, 50.0]), 0.5, 0.1, 0.0, 0.2, ["C", "P"])
    assert out.shape == (2, 2)
    assert out[0, 0] == pytest.approx(float(bsm_price(42, 40, 0.5, 0.1, 0, 0.2, 1)), abs=1e-14)
    assert out[1, 1] == pytest.approx(float(bsm_price(49, 50, 0.5, 0.1, 0, 0.2, -1)), abs=1e-14)


def test_right_sign_rejects_unknown_rights():
    np.testing.assert_array_equal(right_sign(["c", "P", "call", "put"]), [1, -1, 1, -1])
    with pytest.raises(ValueError, match="'C' or 'P'"):
        right_sign("X")
    with pytest.raises(ValueError, match=r"\+1"):
        right_sign(2)


@pytest.mark.parametrize("right", ["C", "P"])
@pytest.mark.parametrize("S,K,T,r,q,sigma", [(100, 100, 0.5, 0.05, 0.02, 0.25), (80, 100, 0.1, 0.03, 0.0, 0.6),
                                              (130, 100, 2.0, 0.01, 0.04, 0.15), (100, 95, 0.02, 0.05, 0.0, 0.3)])
def test_greeks_match_central_finite_differences(right, S, K, T, r, q, sigma):
    g = bsm_greeks(S, K, T, r, q, sigma, right)
    f = lambda **kw: float(bsm_price(**{**dict(S=S, K=K, T=T, r=r, q=q, sigma=sigma, right=right), **kw}))  # noqa: E731
    hs, ht, hv, hr = 1e-4 * S, 1e-6, 1e-5, 1e-6
    fd = {
        "delta": (f(S=S + hs) - f(S=S - hs)) / (2 * hs),
        "gamma": (f(S=S + hs) - 2 * f() + f(S=S - hs)) / hs ** 2,
        "vega": (f(sigma=sigma + hv) - f(sigma=sigma - hv)) / (2 * hv) * 0.01,
        # theta: value change as calendar time passes = -dV/dT, per day
        "theta": -(f(T=T + ht) - f(T=T - ht)) / (2 * ht) / 365,
        "rho": (f(r=r + hr) - f(r=r - hr)) / (2 * hr) * 0.01,
    }
    for name, value in fd.items():
        # central differences are O(h^2): rel 1e-5 covers truncation and rounding at these steps
        assert g[name] == pytest.approx(value, rel=1e-5, abs=1e-9), name
    assert g["price"] == pytest.approx(f(), abs=1e-12)


def test_greeks_at_expiry_are_the_intrinsic_slope_and_zero():
    g = bsm_greeks([110.0, 90.0], 100.0, 0.0, 0.05, 0.0, 0.2, ["C", "C"])
    np.testing.assert_array_equal(g["delta"], [1.0, 0.0])
    for name in ("gamma", "vega", "theta", "rho"):
        np.testing.assert_array_equal(g[name], [0.0, 0.0])


# -- Binomial tree ------------------------------------------------------------------------------


def test_crr_american_put_matches_hull_trees():
    # Hull: S=50, K=50, r=10%, sigma=40%, T=5 months. 5-step tree 4.49 (2 dp); 30, 50, 100 and 500
    # steps 4.263, 4.272, 4.278, 4.283 (3 dp); the converged value is about 4.28.
    args = (50.0, 50.0, 5 / 12, 0.10, 0.0, 0.40, "P")
    assert crr_price(*args, steps=5) == pytest.approx(4.49, abs=0.005)
    for steps, published in ((30, 4.263), (50, 4.272), (100, 4.278), (500, 4.283)):
        assert crr_price(*args, steps=steps) == pytest.approx(published, abs=6e-4), steps


def test_crr_known_cash_dividend_matches_hull_escrowed_tree():
    # Hull: S=52, K=50, r=10%, sigma=40%, T=5 months, dividend 2.06 at 3.5 months, 5 steps -> 4.44
    value = crr_price(52.0, 50.0, 5 / 12, 0.10, 0.0, 0.40, "P", steps=5, div_amount=2.06, div_time=3.5 / 12)
    assert value == pytest.approx(4.44, abs=0.005)


def test_crr_european_call_converges_to_bsm():
    for S, K, T, sigma in ((50, 50, 5 / 12, 0.4), (42, 40, 0.5, 0.2), (100, 120, 1.0, 0.3)):
        tree = crr_price(S, K, T, 0.05, 0.0, sigma, "C", steps=500, american=False)
        # CRR error is O(1/steps) with oscillation; 1e-2 at 500 steps
        assert tree == pytest.approx(float(bsm_price(S, K, T, 0.05, 0.0, sigma, "C")), abs=1e-2)


def test_american_call_without_dividends_equals_european():
    S = np.array([80.0, 100.0, 120.0])
    american = crr_price(S, 100.0, 1.0, 0.05, 0.0, 0.3, "C", steps=300, american=True)
    european = crr_price(S, 100.0, 1.0, 0.05, 0.0, 0.3, "C", steps=300, american=False)
    # never optimal to exercise early (Merton 1973): same tree, identical up to rounding
    np.testing.assert_allclose(american, european, atol=1e-3)
    np.testing.assert_allclose(american, bsm_price(S, 100.0, 1.0, 0.05, 0.0, 0.3, "C"), atol=1e-2)


@pytest.mark.parametrize("right,q", [("P", 0.0), ("P", 0.03), ("C", 0.03), ("C", 0.08)])
def test_american_is_worth_at_least_european(right, q):
    S = np.array([60.0, 90.0, 100.0, 110.0, 150.0])
    american = crr_price(S, 100.0, 1.0, 0.06, q, 0.25, right, steps=200)
    european = crr_price(S, 100.0, 1.0, 0.06, q, 0.25, right, steps=200, american=False)
    assert np.all(american >= european - 1e-12)
    assert np.all(american >= np.maximum(right_sign(right) * (S - 100.0), 0.0) - 1e-12)
    # early exercise has value somewhere on the grid (deep in the money)
    assert np.max(american - european) > 0.01


def test_crr_zero_vol_is_the_deterministic_forward_value():
    # p leaves [0, 1]: deterministic path; an American put is exercised at once when deep ITM
    assert crr_price(50.0, 100.0, 1.0, 0.05, 0.0, 0.0, "P") == pytest.approx(50.0, abs=1e-12)
    european = crr_price(120.0, 100.0, 1.0, 0.05, 0.0, 0.0, "C", american=False)
    assert european == pytest.approx(120.0 - 100.0 * math.exp(-0.05), abs=1e-12)


def test_crr_greeks_match_bsm_for_a_call_without_dividends():
    tree = crr_greeks(49, 50, 0.3846, 0.05, 0.0, 0.2, "C", steps=500)
    bsm = bsm_greeks(49, 50, 0.3846, 0.05, 0.0, 0.2, "C")
    # tree discretisation: delta to 1e-3 absolute, the others to 1% (tree noise at 500 steps)
    assert tree["delta"] == pytest.approx(bsm["delta"], abs=1e-3)
    for name in ("price", "gamma", "vega", "theta", "rho"):
        assert tree[name] == pytest.approx(bsm[name], rel=1e-2), name


def test_crr_greeks_of_deep_itm_american_put_are_stock_like():
    g = crr_greeks(30.0, 50.0, 5 / 12, 0.10, 0.0, 0.40, "P")
    assert g["price"] == pytest.approx(20.0, abs=1e-12)  # exercised now
    assert g["delta"] == pytest.approx(-1.0, abs=1e-12)
    assert g["gamma"] == pytest.approx(0.0, abs=1e-12)


def test_price_option_uses_the_tree_only_where_early_exercise_matters():
    price, model = price_option([50, 50, 50, 50], 50, 5 / 12, 0.10, [0.0, 0.0, 0.03, 0.0], 0.40,
                                ["C", "P", "C", "C"], div_amount=[0, 0, 0, 1.0], div_time=[np.inf, np.inf, np.inf, 0.2])
    assert list(model) == ["BSM", "CRR-American-200", "CRR-American-200", "CRR-American-200"]
    assert price[0] == pytest.approx(float(bsm_price(50, 50, 5 / 12, 0.10, 0.0, 0.40, "C")), abs=1e-14)
    assert price[1] == pytest.approx(float(crr_price(50, 50, 5 / 12, 0.10, 0.0, 0.40, "P")), abs=1e-14)
    _, eur = price_option(50, 50, 5 / 12, 0.10, 0.0, 0.4, "P", style="european")
    assert str(eur) == "BSM"
    np.testing.assert_array_equal(early_exercise_matters([0.05, 0.0], 0.0, ["P", "P"]), [True, False])


def test_year_fraction_is_act_365_with_a_one_hour_floor():
    assert year_fraction(date(2026, 1, 1), date(2027, 1, 1)) == pytest.approx(1.0)
    assert year_fraction(date(2026, 3, 20), date(2026, 3, 20)) == T_FLOOR_YEARS == pytest.approx(1 / 8760)
    with pytest.raises(ValueError, match="expired on 2026-03-19"):
        year_fraction(date(2026, 3, 20), date(2026, 3, 19))


# -- Implied volatility -------------------------------------------------------------------------


def test_implied_vol_round_trip_over_a_grid_with_deep_itm_and_otm():
    K = np.array([40.0, 70.0, 90.0, 100.0, 110.0, 130.0, 200.0])
    T = np.array([1 / 365, 0.1, 1.0, 3.0])
    sig = np.array([0.05, 0.2, 0.8, 2.0])
    Kg, Tg, sg, wg = (a.ravel() for a in np.meshgrid(K, T, sig, [1.0, -1.0], indexing="ij"))
    S, r, q = 100.0, 0.04, 0.01
    price = bsm_price(S, Kg, Tg, r, q, sg, wg)
    iv, reasons = implied_vol(price, S, Kg, Tg, r, q, wg)
    fwd_intrinsic = np.maximum(wg * (S * np.exp(-q * Tg) - Kg * np.exp(-r * Tg)), 0.0)
    has_time_value = price - fwd_intrinsic > 1e-9
    # every option with time value gets an IV, and repricing at it gives the price to 1e-8
    assert np.all(np.isfinite(iv[has_time_value])), [reasons[i] for i in np.flatnonzero(~np.isfinite(iv))]
    ok = np.isfinite(iv)
    np.testing.assert_allclose(bsm_price(S, Kg[ok], Tg[ok], r, q, iv[ok], wg[ok]), price[ok], atol=1e-8)
    # where vega is not negligible the vol itself comes back (to 1e-6)
    vega = bsm_greeks(S, Kg, Tg, r, q, sg, wg)["vega"]
    sensitive = ok & (vega > 1e-3)
    np.testing.assert_allclose(iv[sensitive], sg[sensitive], atol=1e-6)
    assert sensitive.sum() > 60


def test_implied_vol_round_trip_with_the_american_tree():
    S, K = 100.0, np.array([80.0, 95.0, 100.0, 105.0, 130.0])
    marks = crr_price(S, K, 0.25, 0.05, 0.0, 0.35, "P")
    iv, reasons = implied_vol(marks, S, K, 0.25, 0.05, 0.0, "P", model="CRR")
    assert reasons == [None] * 5
    np.testing.assert_allclose(crr_price(S, K, 0.25, 0.05, 0.0, iv, "P"), marks, atol=1e-8)
    np.testing.assert_allclose(iv, 0.35, atol=1e-6)


def test_implied_vol_below_intrinsic_is_nan_with_the_reason():
    # forward intrinsic of the call: 42 - 40 e^{-0.05} = 3.95
    iv, reasons = implied_vol(1.23, 42.0, 40.0, 0.5, 0.10, 0.0, "C")
    assert math.isnan(iv)
    assert reasons == ["mark 1.23 below intrinsic 3.95 (no-arbitrage bound)"]


def test_implied_vol_above_the_upper_bound_is_nan_with_the_reason():
    iv, reasons = implied_vol([50.0, 45.0], 42.0, 40.0, 0.5, 0.10, 0.0, ["C", "P"])
    assert np.all(np.isnan(iv))
    assert reasons[0] == "mark 50.00 above S e^{-qT} = 42.00 (no-arbitrage bound)"
    assert reasons[1] == f"mark 45.00 above K e^{{-rT}} = {40 * math.exp(-0.05):.2f} (no-arbitrage bound)"


def test_implied_vol_american_bounds_use_immediate_exercise():
    # an American put is worth at least K - S = 20; a mark of 19 is below that bound
    iv, reasons = implied_vol(19.0, 30.0, 50.0, 5 / 12, 0.10, 0.0, "P", model="CRR")
    assert math.isnan(iv)
    assert reasons == ["mark 19.00 below intrinsic 20.00 (no-arbitrage bound)"]


def test_implied_vol_zero_dte_uses_the_one_hour_floor_and_expired_is_nan():
    price = bsm_price(100.0, 100.0, T_FLOOR_YEARS, 0.05, 0.0, 0.3, "C")
    iv, reasons = implied_vol(price, 100.0, 100.0, 0.0, 0.05, 0.0, "C")  # T=0 -> one hour
    assert iv == pytest.approx(0.3, abs=1e-8) and reasons == [None]
    iv, reasons = implied_vol(1.0, 100.0, 100.0, -1 / 365, 0.05, 0.0, "C")
    assert math.isnan(iv) and reasons == ["option expired: no implied volatility"]


def test_implied_vol_without_time_value_is_nan_with_the_reason():
    # a put mark of 0 (worthless far OTM): the zero-vol value, so no vol can be implied
    iv, reasons = implied_vol(0.0, 100.0, 50.0, 0.1, 0.05, 0.0, "P")
    assert math.isnan(iv)
    assert "no time value, implied vol undefined" in reasons[0]
