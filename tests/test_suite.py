"""The VaR/ES suite (engine/suite.py): every method x confidence x horizon, contributions,
backtests, degenerate inputs, isolation of failures, the fit cache."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
from scipy import stats

from wsbrisk_tui.engine import suite as suite_mod
from wsbrisk_tui.engine.inputs import RiskInputs, linear_inputs
from wsbrisk_tui.engine.suite import METHODS, RiskResults, RiskSettings, run_risk_suite
from wsbrisk_tui.engine.volatility import FitCache

SETTINGS = RiskSettings(backtest_days=60, bootstrap_replicates=200, mc_paths=2_000)


def _book(k: int = 3, n: int = 400, seed: int = 11, prices: np.ndarray | None = None) -> RiskInputs:
    rng = np.random.default_rng(seed)
    if prices is None:
        vol = np.empty(n)
        s2 = 1e-4
        z = rng.standard_t(6, size=(n, k)) / math.sqrt(1.5)
        load = np.linspace(0.4, 0.8, k)[:, None]
        corr = load @ load.T
        np.fill_diagonal(corr, 1.0)
        z = z @ np.linalg.cholesky(corr).T
        for t in range(n):  # GARCH-like volatility so the GARCH fits have something to find
            vol[t] = math.sqrt(s2)
            s2 = 2e-6 + 0.08 * (z[t, 0] * vol[t]) ** 2 + 0.9 * s2
        r = 0.0003 + z * vol[:, None]
        prices = 100.0 * np.cumprod(np.vstack([np.ones(k), 1.0 + r]), axis=0)
    k = prices.shape[1]
    dates = np.arange(np.datetime64("2020-01-01"), np.datetime64("2020-01-01") + prices.shape[0])
    exposure = np.diag(np.linspace(2e4, 5e4, k))
    if k > 1:
        exposure[1, 1] *= -1  # a short
    names = [f"S{i}" for i in range(k)]
    return linear_inputs(dates, names, prices, names, exposure, nav=1.5e5)


@pytest.fixture(scope="module")
def book() -> RiskInputs:
    return _book()


@pytest.fixture(scope="module")
def run(book) -> tuple[RiskResults, FitCache]:
    cache = FitCache(refit_days=SETTINGS.garch_refit_days)
    return run_risk_suite(book, SETTINGS, np.random.default_rng(5), cache), cache


def _book_pnl(inp: RiskInputs, h: int = 1, window: int = 252) -> np.ndarray:
    """Independent recomputation: today's exposure times the window's (overlapping) returns."""
    p = inp.asset_prices[-(window + 1):]
    return (p[h:] / p[:-h] - 1.0) @ inp.exposure.sum(axis=0)


# ------------------------------------------------------------------------------ shape and values


def test_every_method_confidence_and_horizon_in_order(run):
    res, _ = run
    keys = [(r.method, r.horizon_days, r.confidence) for r in res.var]
    assert keys == [(m, h, c) for m in METHODS for h in SETTINGS.horizons
                    for c in SETTINGS.confidences]
    assert set(res.timings) >= set(METHODS) | {"contributions", "total"}


def test_every_result_is_signed_and_consistent(run, book):
    res, _ = run
    for r in res.var:
        assert r.status == "ok", (r.method, r.reason)
        assert r.var is not None and r.var > 0
        assert r.var_pct == pytest.approx(r.var / book.nav, rel=1e-12)
        assert r.es is not None and r.es >= r.var * (1 - 1e-12), r.method
        assert r.es_pct == pytest.approx(r.es / book.nav, rel=1e-12)
        assert r.details["window"] == 252
    for m in METHODS:  # VaR grows with confidence for every method and horizon
        for h in SETTINGS.horizons:
            v = [r.var for r in res.var if r.method == m and r.horizon_days == h]
            assert v == sorted(v), m


def test_parametric_normal_is_an_independent_recomputation(run, book):
    res, _ = run
    for h in SETTINGS.horizons:
        x = _book_pnl(book, 1)
        dist = stats.norm(x.mean() * h, x.std(ddof=1) * math.sqrt(h))
        for c in SETTINGS.confidences:
            r = next(r for r in res.var if (r.method, r.horizon_days, r.confidence)
                     == ("parametric_normal", h, c))
            assert r.var == pytest.approx(-dist.ppf(1 - c), rel=1e-10)


def test_historical_uses_overlapping_h_day_pnl_and_carries_bootstrap_intervals(run, book):
    res, _ = run
    for h in SETTINGS.horizons:
        x = _book_pnl(book, h)
        for c in SETTINGS.confidences:
            r = next(r for r in res.var if (r.method, r.horizon_days, r.confidence)
                     == ("historical", h, c))
            assert r.var == pytest.approx(-np.quantile(x, 1 - c), rel=1e-12)
            assert r.details["n_obs"] == 253 - h
            lo, hi = r.ci
            assert lo <= r.var <= hi
            e_lo, e_hi = r.details["es_ci"]
            assert e_lo <= r.es <= e_hi and r.details["ci_level"] == 0.90


def test_method_details_carry_their_parameters(run):
    res, _ = run
    first = {r.method: r for r in res.var if r.horizon_days == 1 and r.confidence == 0.99}
    assert first["student_t"].details["df"] > 2
    assert first["cornish_fisher"].details["moment_estimators"].startswith("bias-corrected")
    assert first["monte_carlo"].details["std_error"] > 0
    assert first["monte_carlo"].details["covariance_factor"] == "cholesky"
    assert first["monte_carlo_t_copula"].details["copula_df"] > 0
    assert first["evt_gpd"].details["n_exceed"] >= 30
    assert "threshold" in first["evt_gpd"].details
    assert first["garch_t"].details["garch_nu"] > 2
    assert first["historical_weighted"].details["lam"] == SETTINGS.hs_lambda


# ------------------------------------------------------------------------------ contributions


def test_contributions_add_up_and_cover_every_position(run, book):
    res, _ = run
    for c in SETTINGS.confidences:
        rows = [x for x in res.contributions if x.method == "parametric_normal" and x.confidence == c]
        assert [x.symbol for x in rows] == list(book.positions)
        total = next(r.var for r in res.var if (r.method, r.horizon_days, r.confidence)
                     == ("parametric_normal", 1, c))
        assert sum(x.component for x in rows) == pytest.approx(total, rel=1e-9)
        for x, v in zip(rows, book.values):
            assert x.marginal == pytest.approx(x.component / v, rel=1e-12)
        hs = [x for x in res.contributions if x.method == "historical" and x.confidence == c]
        assert len(hs) == len(book.positions) and all(x.incremental is not None for x in hs)


# ------------------------------------------------------------------------------ backtests


def test_backtests_for_every_method_on_hypothetical_pnl(run, book):
    res, _ = run
    assert [(b.method, b.confidence) for b in res.backtest] == [
        (m, c) for m in METHODS for c in SETTINGS.confidences]
    for b in res.backtest:
        assert b.status == "ok", (b.method, b.reason)
        assert b.details["realised"].startswith("hypothetical")
        assert b.details["scheme"]
        assert b.observations + b.details["excluded_nan"] == 60
    # historical: recount the exceptions by hand from the 252 days before each test day
    full = book.asset_returns @ book.exposure.sum(axis=0)
    for c in SETTINGS.confidences:
        hits = sum(full[t] < np.quantile(full[t - 252:t], 1 - c) for t in range(full.size - 60, full.size))
        b = next(b for b in res.backtest if (b.method, b.confidence) == ("historical", c))
        assert b.exceptions == hits


def test_monte_carlo_backtest_of_a_linear_book_is_its_analytic_limit(run):
    res, _ = run
    for c in SETTINGS.confidences:
        mc = next(b for b in res.backtest if (b.method, b.confidence) == ("monte_carlo", c))
        pn = next(b for b in res.backtest if (b.method, b.confidence) == ("parametric_normal", c))
        assert mc.exceptions == pn.exceptions and "analytic" in mc.details["forecast"]


# ------------------------------------------------------------------------------ cache and seeds


def test_cached_rerun_repeats_the_numbers_and_reuses_fits(run, book):
    res, cache = run
    hits = cache.stats["hits"]
    again = run_risk_suite(book, SETTINGS, np.random.default_rng(5), cache)
    assert cache.stats["hits"] > hits
    fresh = run_risk_suite(book, SETTINGS, np.random.default_rng(5), None)
    for a, b, f in zip(res.var, again.var, fresh.var):
        assert (a.var, a.es, a.ci) == (b.var, b.es, b.ci) == (f.var, f.es, f.ci), a.method
    assert [b.exceptions for b in again.backtest] == [b.exceptions for b in res.backtest]


def test_another_seed_moves_only_the_simulated_numbers(run, book):
    res, cache = run
    other = run_risk_suite(book, SETTINGS, np.random.default_rng(6), cache)
    for a, b in zip(res.var, other.var):
        if a.method in ("monte_carlo", "monte_carlo_t_copula") or (
                a.method == "filtered_historical" and a.horizon_days > 1):
            assert a.var != b.var
        else:
            assert a.var == b.var, a.method
        if a.method == "historical":
            assert a.ci != b.ci


# ------------------------------------------------------------------------------ degenerate input


def _reasons(res: RiskResults) -> set[str | None]:
    return {r.reason for r in res.var}


def test_too_short_a_history_is_na_with_a_reason():
    res = run_risk_suite(_book(n=20), SETTINGS, np.random.default_rng(0))
    assert all(r.status == "n/a" and r.var is None for r in res.var)
    assert _reasons(res) == {"only 20 daily returns; VaR needs at least 30"}
    assert all(b.status == "n/a" for b in res.backtest)


def test_constant_book_is_na_with_a_reason():
    prices = np.full((300, 2), 50.0)
    res = run_risk_suite(_book(prices=prices), SETTINGS, np.random.default_rng(0))
    assert all(r.status == "n/a" for r in res.var)
    (reason,) = _reasons(res)
    assert "constant" in reason and "sd = 0" in reason


def test_nan_in_the_history_is_na_naming_asset_and_date(book):
    prices = book.asset_prices.copy()
    prices[100, 2] = np.nan
    bad = replace(book, asset_prices=prices, asset_returns=prices[1:] / prices[:-1] - 1.0)
    res = run_risk_suite(bad, SETTINGS, np.random.default_rng(0))
    (reason,) = _reasons(res)
    assert "S2" in reason and str(book.dates[99]) in reason and "never filled" in reason


def test_a_single_position_works(book):
    one = _book(k=1, n=400)
    res = run_risk_suite(one, SETTINGS, np.random.default_rng(0))
    assert all(r.status == "ok" for r in res.var), {r.method: r.reason for r in res.var
                                                    if r.status != "ok"}
    pn = [x for x in res.contributions if x.method == "parametric_normal"]
    assert len(pn) == 3
    for x in pn:
        total = next(r.var for r in res.var if (r.method, r.horizon_days, r.confidence)
                     == ("parametric_normal", 1, x.confidence))
        assert x.component == pytest.approx(total, rel=1e-12)
        assert x.incremental == pytest.approx(total, rel=1e-12)


def test_short_window_makes_only_the_hungry_methods_na():
    # 200 days: GARCH (which reads up to garch_window days) has fewer than the 250 it needs,
    # EVT's 120-day window fewer than its 200
    settings = replace(SETTINGS, window=120)
    res = run_risk_suite(_book(n=200), settings, np.random.default_rng(0))
    status = {r.method: (r.status, r.reason) for r in res.var if r.horizon_days == 1}
    assert status["garch_normal"][0] == "n/a" and "250" in status["garch_normal"][1]
    assert status["filtered_historical"][0] == "n/a"
    assert status["evt_gpd"][0] == "n/a" and "200" in status["evt_gpd"][1]
    for m in ("parametric_normal", "historical", "student_t", "monte_carlo", "monte_carlo_t_copula"):
        assert status[m][0] == "ok", m


def test_one_failing_method_is_isolated(book, monkeypatch):
    def boom(ctx):
        raise RuntimeError("boom in the t fit")

    monkeypatch.setitem(suite_mod._TODAY, "student_t", boom)
    res = run_risk_suite(book, SETTINGS, np.random.default_rng(0))
    for r in res.var:
        if r.method == "student_t":
            assert r.status == "n/a" and "RuntimeError: boom in the t fit" in r.reason
        else:
            assert r.status == "ok", r.method


def test_two_regime_copula_without_a_stressed_regime_is_na_with_a_reason():
    rng = np.random.default_rng(2)
    r = 0.01 * rng.standard_normal((400, 2))
    r[150, :] = 0.3  # one extreme day: the stressed regime is that day alone
    prices = 100.0 * np.cumprod(np.vstack([np.ones(2), 1.0 + r]), axis=0)
    settings = replace(SETTINGS, t_copula_regimes=2, methods=("monte_carlo_t_copula",),
                       backtest_refit_days=20)
    res = run_risk_suite(_book(prices=prices), settings, np.random.default_rng(0))
    assert all(x.status == "n/a" and "regime has" in x.reason for x in res.var)
    # every backtest refit window holds that day too: no forecast, each failure reported
    for b in res.backtest:
        assert b.status == "n/a" and b.details["excluded_nan"] == 60
        assert len(b.details["fit_failures"]) == 3 and "regime has" in b.details["fit_failures"][0]


def test_settings_are_validated():
    with pytest.raises(ValueError, match="confidences"):
        RiskSettings(confidences=(0.99, 1.2))
    with pytest.raises(ValueError, match="unknown methods"):
        RiskSettings(methods=("historical", "magic"))
    with pytest.raises(ValueError, match="mc_paths"):
        RiskSettings(mc_paths=1001)
    assert RiskSettings().methods == METHODS


def test_non_linear_book_goes_through_revalue_and_simulates_the_mc_backtest(book, run):
    res, _ = run
    settings = replace(SETTINGS, methods=("monte_carlo", "monte_carlo_t_copula"))
    nonlin = run_risk_suite(replace(book, linear=False), settings, np.random.default_rng(5))
    linear = [r for r in res.var if r.method in settings.methods]
    # same paths, revalued position by position instead of through the summed exposure
    for a, b in zip(linear, nonlin.var):
        assert (a.method, a.horizon_days, a.confidence) == (b.method, b.horizon_days, b.confidence)
        assert b.var == pytest.approx(a.var, rel=1e-9)
    mc = [b for b in nonlin.backtest if b.method == "monte_carlo"]
    for b in mc:
        assert b.status == "ok" and b.details["paths"] == 2_000 and "forecast" not in b.details
        # 2,000 simulated normal paths vs the analytic limit: the exception counts stay close
        pn = next(x for x in res.backtest if (x.method, x.confidence) == ("parametric_normal",
                                                                          b.confidence))
        assert abs(b.exceptions - pn.exceptions) <= 3
