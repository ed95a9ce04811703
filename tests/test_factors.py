"""Factor betas and risk decomposition (engine/factors.py) against statsmodels and by hand."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from wsbrisk_tui.engine.factors import (
    concentration,
    effective_bets,
    estimate_betas,
    euler_contributions,
    factor_panel,
    factor_risk_section,
)
from wsbrisk_tui.engine.inputs import linear_inputs
from wsbrisk_tui.engine.model import MarketData
from wsbrisk_tui.engine.pipeline import align_history


def synthetic_market(n: int = 900, seed: int = 21) -> MarketData:
    rng = np.random.default_rng(seed)
    mkt = rng.normal(0.0003, 0.01, n)
    rets = {
        "SPY": mkt, "QQQ": 1.1 * mkt + rng.normal(0, 0.004, n), "IWM": 1.2 * mkt + rng.normal(0, 0.005, n),
        "TLT": -0.2 * mkt + rng.normal(0, 0.008, n), "GLD": rng.normal(0, 0.009, n),
        "AAA": 1.3 * mkt + rng.normal(0, 0.012, n), "BBB": 0.7 * mkt + rng.normal(0, 0.015, n),
    }
    idx = pd.bdate_range("2015-01-02", periods=n + 1)
    frame = pd.DataFrame({k: 100.0 * np.concatenate([[1.0], np.cumprod(1 + v)]) for k, v in rets.items()},
                         index=idx)
    return MarketData(prices=frame, source="test", as_of=idx[-1].date())


def test_betas_match_statsmodels_and_the_shrinkage_formula():
    market = synthetic_market()
    panel = factor_panel(market.prices)
    assert panel.names == ("equity", "tech", "small_caps", "rates", "gold")
    assert panel.unavailable == {"credit": "no HYG prices in the market data",
                                 "oil": "no USO prices in the market data",
                                 "crypto": "no BTC-USD prices in the market data"}
    Y = panel.asset_returns(["AAA", "BBB"])
    betas = estimate_betas(Y, panel.returns, assets=["AAA", "BBB"], factors=panel.names, window=756,
                           prior_obs=250)
    X = panel.returns[-756:]
    w = 756 / (756 + 250)
    prior = np.array([1.0, 0, 0, 0, 0])
    for a in range(2):
        ols = sm.OLS(Y[-756:, a], sm.add_constant(X)).fit()
        np.testing.assert_allclose(betas.beta_ols[a], ols.params[1:], atol=1e-10)
        np.testing.assert_allclose(betas.beta[a], w * ols.params[1:] + (1 - w) * prior, atol=1e-10)
        assert betas.r2[a] == pytest.approx(ols.rsquared, abs=1e-10)
    assert betas.n_obs.tolist() == [756, 756]
    # AAA was built with market beta 1.3: the shrunk estimate sits between it and the prior 1
    assert 1.0 < betas.beta[0, 0] < 1.35


def test_too_short_history_is_not_estimated():
    X = np.random.default_rng(1).standard_normal((100, 2))
    Y = X @ np.array([[1.0], [0.5]])
    b = estimate_betas(Y, X, assets=["A"], factors=["equity", "tech"], min_obs=126)
    assert not b.estimated("A") and np.isnan(b.beta).all()
    assert b.reasons["A"] == "only 100 daily returns in common with the factor proxies (need 126)"
    assert b.to_dict() == {"A": {}}


def test_euler_contributions_sum_to_total_vol():
    rng = np.random.default_rng(5)
    A = rng.standard_normal((4, 4))
    F = A @ A.T * 1e-4
    b = rng.normal(0, 1e5, 4)
    spec = 2.5e6
    c, c_spec, sigma = euler_contributions(b, F, spec)
    assert sigma == pytest.approx(math.sqrt(b @ F @ b + spec), rel=1e-15)
    assert c.sum() + c_spec == pytest.approx(sigma, rel=1e-9)
    # each contribution is the exposure times the marginal d sigma / d b_f
    h = 1e-3
    for f in range(4):
        bp = b.copy()
        bp[f] += h
        marginal = (math.sqrt(bp @ F @ bp + spec) - sigma) / h
        assert c[f] == pytest.approx(b[f] * marginal, rel=1e-5)


def test_concentration_by_hand():
    out = concentration(np.array([50.0, -30.0, 20.0]))
    # weights 0.5, 0.3, 0.2: HHI = 0.25 + 0.09 + 0.04 = 0.38
    assert out["hhi"] == pytest.approx(0.38, abs=1e-15)
    assert out["effective_positions"] == pytest.approx(1 / 0.38, abs=1e-12)
    assert out["top5_share"] == pytest.approx(1.0, abs=1e-15)
    six = concentration(np.array([1.0] * 6))
    assert six["hhi"] == pytest.approx(1 / 6) and six["top5_share"] == pytest.approx(5 / 6)
    assert effective_bets(np.array([3.0, 1.0])) == pytest.approx(1 / (0.75 ** 2 + 0.25 ** 2), abs=1e-12)
    assert effective_bets(np.array([2.0, 2.0, 2.0, 2.0])) == pytest.approx(4.0, abs=1e-12)


def _inputs(market: MarketData, values: dict[str, float]):
    syms = list(values)
    hist = align_history(market, syms, max_rows=300)
    return linear_inputs(hist.dates, syms, hist.prices, syms, np.diag(list(values.values())),
                         nav=float(sum(abs(v) for v in values.values())))


def test_section_decomposition_matches_an_independent_computation():
    market = synthetic_market()
    values = {"AAA": 60_000.0, "BBB": 30_000.0, "SPY": -20_000.0, "GLD": 10_000.0}
    inputs = _inputs(market, values)
    sec = factor_risk_section(inputs, market, confidence=0.99)
    # independent: statsmodels OLS on the last 756 dates, factor covariance and residual variance
    # on the last 252, sigma^2 = b_p' F b_p + sum w^2 s2
    panel = factor_panel(market.prices)
    X = panel.returns
    B, s2 = [], []
    for sym in values:
        y = panel.asset_returns([sym])[:, 0]
        fit = sm.OLS(y[-756:], sm.add_constant(X[-756:])).fit()
        B.append(fit.params[1:])
        s2.append(np.var(y[-252:] - fit.params[0] - X[-252:] @ fit.params[1:], ddof=1))
    B, w = np.array(B), np.array(list(values.values()))
    F = np.cov(X[-252:], rowvar=False)
    b_p = B.T @ w
    sigma = math.sqrt(b_p @ F @ b_p + np.sum(w * w * np.array(s2)))
    assert sec["total_vol"] == pytest.approx(sigma, rel=1e-9)
    assert sum(sec["vol_contributions"].values()) == pytest.approx(sec["total_vol"], rel=1e-9)
    z99 = 2.3263478740408408
    assert sum(sec["var_contributions"].values()) == pytest.approx(z99 * sigma, rel=1e-9)
    for f, x in zip(panel.names, b_p):
        assert sec["portfolio_exposure"][f] == pytest.approx(x, rel=1e-9, abs=1e-6)
    assert sec["exposures"]["AAA"]["r2"] == pytest.approx(
        sm.OLS(panel.asset_returns(["AAA"])[-756:, 0], sm.add_constant(X[-756:])).fit().rsquared, abs=1e-10)
    assert sec["concentration"]["hhi"] == pytest.approx(sum((v / 120_000) ** 2 for v in values.values()))
    assert "factor oil unavailable: no USO prices in the market data" in sec["warnings"]


def test_dominant_factor_warning():
    market = synthetic_market()
    sec = factor_risk_section(_inputs(market, {"SPY": 100_000.0}), market, dominance=0.6)
    share = sec["vol_contributions"]["equity"] / sec["total_vol"]
    assert share == pytest.approx(1.0, abs=1e-9)  # SPY is all equity factor, no specific risk
    assert "factor equity is 100% of portfolio volatility (threshold 60%)" in sec["warnings"]
    assert sec["concentration"]["effective_bets"] == pytest.approx(1.0, abs=1e-9)


def test_user_factors_are_added_and_duplicates_of_the_etf_factors_skipped():
    market = synthetic_market()
    rng = np.random.default_rng(3)
    ff = pd.DataFrame({"Mkt-RF": rng.normal(0, 0.01, 901), "SMB": rng.normal(0, 0.005, 901),
                       "HML": rng.normal(0, 0.005, 901)}, index=market.prices.index)
    sec = factor_risk_section(_inputs(market, {"AAA": 1.0e5}), market, extra_factors=ff)
    assert sec["factors"] == ["equity", "tech", "small_caps", "rates", "gold", "HML"]
    assert "HML" in sec["exposures"]["AAA"]
