"""Correlation (engine/correlation.py): estimators against loops, breakdown, tail dependence."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate
from scipy.stats import t as student_t

from wsbrisk_tui.engine.correlation import (
    average_pairwise,
    correlation_section,
    diversification_ratio,
    empirical_lower_tail,
    ewma_corr,
    ewma_cov,
    fit_t_copula,
    pairs_above,
    percentile_of,
    pseudo_observations,
    rolling_average_corr,
    sample_corr,
    t_copula_lambda,
)
from wsbrisk_tui.engine.inputs import linear_inputs
from wsbrisk_tui.engine.pipeline import align_history
from wsbrisk_tui.engine.volatility import FitCache


def _returns(n=300, k=4, seed=1):
    rng = np.random.default_rng(seed)
    common = rng.standard_normal((n, 1))
    return 0.01 * (0.6 * common + rng.standard_normal((n, k)))


def test_sample_equals_corrcoef():
    r = _returns()
    np.testing.assert_allclose(sample_corr(r), np.corrcoef(r.T), atol=1e-12)


def test_ewma_equals_the_riskmetrics_loop():
    r = _returns(n=252)
    lam = 0.94
    S = r.T @ r / r.shape[0]  # the documented start S_0
    for t in range(r.shape[0]):
        S = lam * S + (1 - lam) * np.outer(r[t], r[t])
    np.testing.assert_allclose(ewma_cov(r, lam), S, rtol=1e-12, atol=1e-18)
    d = np.sqrt(np.diag(S))
    np.testing.assert_allclose(ewma_corr(r, lam), S / np.outer(d, d), atol=1e-12)


def test_rolling_average_matches_corrcoef_per_window():
    r = _returns(n=120, k=3)
    got = rolling_average_corr(r, 63)
    want = [average_pairwise(np.corrcoef(r[i:i + 63].T)) for i in range(120 - 63 + 1)]
    np.testing.assert_allclose(got, want, atol=1e-10)


def test_small_helpers_by_hand():
    C = np.array([[1.0, 0.9, 0.2], [0.9, 1.0, 0.85], [0.2, 0.85, 1.0]])
    assert average_pairwise(C) == pytest.approx((0.9 + 0.2 + 0.85) / 3, abs=1e-15)
    assert pairs_above(C, ["A", "B", "C"], 0.8) == [{"a": "A", "b": "B", "corr": 0.9},
                                                    {"a": "B", "b": "C", "corr": 0.85}]
    assert percentile_of(0.5, np.array([0.1, 0.5, 0.7, 0.9])) == 50.0
    assert percentile_of(0.5, np.array([])) is None
    # two uncorrelated assets, equal vol and equal dollars: DR = 2 sigma / (sqrt(2) sigma) = sqrt(2)
    assert diversification_ratio(np.array([1.0, 1.0]), np.eye(2) * 4e-4) == pytest.approx(math.sqrt(2), abs=1e-12)
    # perfectly correlated: no benefit
    assert diversification_ratio(np.array([1.0, 2.0]), np.full((2, 2), 1e-4)) == pytest.approx(1.0, abs=1e-12)


def _t_copula_sample(rng, n, R, nu):
    z = rng.multivariate_normal(np.zeros(R.shape[0]), R, size=n)
    w = rng.chisquare(nu, size=(n, 1))
    return student_t.cdf(z / np.sqrt(w / nu), nu)


def _exact_joint_lower(u, rho, nu):
    """C(u, u) of a bivariate t copula by one-dimensional integration (X2 | X1 is a scaled t_{nu+1})."""
    q = student_t.ppf(u, nu)

    def integrand(x):
        scale = math.sqrt((nu + x * x) * (1 - rho * rho) / (nu + 1))
        return student_t.pdf(x, nu) * student_t.cdf((q - rho * x) / scale, nu + 1)

    return integrate.quad(integrand, -np.inf, q, epsabs=1e-14, epsrel=1e-10)[0]


@pytest.mark.parametrize("rho, nu", [(0.5, 4.0), (0.8, 3.0), (0.3, 8.0)])
def test_t_copula_coefficient_is_the_limit_of_the_exact_copula(rho, nu):
    # C(u, u) / u at u = 1e-9 approaches lambda at rate O(u^(2/nu)); tolerance 3e-3 absolute
    limit = _exact_joint_lower(1e-9, rho, nu) / 1e-9
    assert t_copula_lambda(rho, nu) == pytest.approx(limit, abs=3e-3)


def test_empirical_tail_dependence_on_a_simulated_t_copula():
    rho, nu, n = 0.5, 4.0, 60_000
    U = _t_copula_sample(np.random.default_rng(77), n, np.array([[1, rho], [rho, 1]]), nu)
    V = pseudo_observations(U)  # ranks: the estimator sees only ranks, like real returns
    for u in (0.05, 0.10):
        exact = _exact_joint_lower(u, rho, nu) / u
        se = math.sqrt(exact * u * (1 - exact * u) / n) / u  # binomial standard error of the estimate
        assert empirical_lower_tail(V[:, 0], V[:, 1], u) == pytest.approx(exact, abs=4 * se)
    # finite-u value exceeds the u -> 0 limit here (0.253): they answer different questions
    assert empirical_lower_tail(V[:, 0], V[:, 1], 0.05) > t_copula_lambda(rho, nu)


def test_fit_t_copula_recovers_nu_and_rho():
    R = np.array([[1.0, 0.6, 0.3], [0.6, 1.0, 0.4], [0.3, 0.4, 1.0]])
    U = _t_copula_sample(np.random.default_rng(8), 4000, R, 4.0)
    R_hat, nu_hat = fit_t_copula(student_t.ppf(U, 4.0) * 0.01)  # any monotone margins: ranks only
    assert 3.0 < nu_hat < 5.5
    np.testing.assert_allclose(R_hat, R, atol=0.04)


# ---------------------------------------------------------------------------------------------
# The section
# ---------------------------------------------------------------------------------------------


def _inputs_from(prices: np.ndarray, syms: list[str], values: list[float]):
    import pandas as pd

    from wsbrisk_tui.engine.model import MarketData

    idx = pd.bdate_range("2010-01-04", periods=prices.shape[0])
    market = MarketData(prices=pd.DataFrame(prices, index=idx, columns=syms), source="t", as_of=idx[-1].date())
    hist = align_history(market, syms)
    inputs = linear_inputs(hist.dates, syms, hist.prices, syms, np.diag(values), nav=float(sum(values)))
    return inputs, market


def test_breakdown_when_recent_correlation_is_the_highest_in_history():
    rng = np.random.default_rng(12)
    n, k = 700, 4
    r = 0.01 * rng.standard_normal((n, k))
    common = 0.01 * rng.standard_normal((63, 1))
    r[-63:] = 0.3 * r[-63:] + 3 * common  # the last 63 days move together
    prices = 100 * np.vstack([np.ones(k), np.cumprod(1 + r, axis=0)])
    inputs, market = _inputs_from(prices, ["A", "B", "C", "D"], [1.0, 1.0, 1.0, 1.0])
    sec = correlation_section(inputs, market, dcc=False)
    assert sec["breakdown"] is True and sec["average_percentile"] == 100.0
    assert sec["average_63d"] > 0.9
    assert sec["dcc"] is None and sec["dcc_reason"] == "DCC not requested"
    assert sec["methods_available"]["dcc"] is None


def test_no_breakdown_on_stationary_data_and_sample_method():
    r = _returns(n=700, k=3, seed=5)
    prices = 100 * np.vstack([np.ones(3), np.cumprod(1 + r, axis=0)])
    inputs, market = _inputs_from(prices, ["A", "B", "C"], [3.0, 2.0, 1.0])
    sec = correlation_section(inputs, market, method="sample", dcc=False, nu=5.0)
    assert sec["method"] == "sample"
    np.testing.assert_allclose(sec["matrix"], np.corrcoef(r[-252:].T), atol=1e-12)
    assert sec["breakdown"] is False
    assert sec["t_copula_nu"] == 5.0 and len(sec["tail_dependence"]) == 3


def test_demo_section_with_dcc(tmp_path):
    from wsbrisk_tui.engine.sources.demo import demo_market_data

    market = demo_market_data()
    syms = ["SPY", "QQQ", "TLT", "GLD"]
    hist = align_history(market, syms, max_rows=300)
    inputs = linear_inputs(hist.dates, syms, hist.prices, syms, np.diag([4e5, 2e5, 1e5, 1e5]), nav=8e5)
    cache = FitCache()
    sec = correlation_section(inputs, market, method="dcc", cache=cache)
    assert sec["method"] == "dcc" and sec["dcc"]["converged"] is True
    M = np.array(sec["matrix"])
    np.testing.assert_allclose(np.diag(M), 1.0, atol=1e-12)
    np.testing.assert_allclose(M, M.T, atol=1e-12)
    assert sec["symbols"] == syms
    assert set(sec["methods_available"]) == {"sample", "ewma", "dcc"}
    assert {"a", "b", "empirical_5pct", "t_copula"} <= set(sec["tail_dependence"][0])
    assert sec["diversification_ratio"] > 1.0
    again = correlation_section(inputs, market, method="dcc", cache=cache)
    assert again["matrix"] == sec["matrix"] and cache.stats["hits"] == 2  # DCC and history statistics


def test_pair_history_is_the_rolling_sample_correlation_of_each_pair():
    """Each point equals np.corrcoef of the 63 returns ending at that date (1e-3: values rounded)."""
    from wsbrisk_tui.engine.correlation import pair_history

    rng = np.random.default_rng(3)
    R = rng.standard_normal((400, 3)) @ np.array([[1.0, 0.6, 0.0], [0.0, 0.8, 0.3], [0.0, 0.0, 1.0]])
    dates = np.arange(np.datetime64("2020-01-01"), np.datetime64("2020-01-01") + 400)
    h = pair_history(R, dates, ["A", "B", "C"], rolling=63, points=10, days=300)
    assert set(h["pairs"]) == {"A|B", "A|C", "B|C"} and len(h["dates"]) == 10
    last = np.corrcoef(R[-63:], rowvar=False)
    assert h["pairs"]["A|B"][-1] == pytest.approx(last[0, 1], abs=1e-3)
    assert h["pairs"]["B|C"][-1] == pytest.approx(last[1, 2], abs=1e-3)
    assert h["dates"][-1] == str(dates[-1])
    first_end = 400 - 300
    assert h["pairs"]["A|C"][0] == pytest.approx(np.corrcoef(R[first_end - 63:first_end], rowvar=False)[0, 2], abs=1e-3)
