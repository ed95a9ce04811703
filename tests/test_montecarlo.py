"""Monte Carlo VaR/ES (engine/montecarlo.py): normal and t copula."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
from scipy import stats

from wsbrisk_tui.engine.inputs import RiskInputs, linear_inputs
from wsbrisk_tui.engine.montecarlo import (
    COPULA_DF_GRID,
    fit_copula_model,
    fit_normal,
    fit_regimes,
    fit_t_copula,
    kendall_tau_matrix,
    monte_carlo_normal,
    monte_carlo_t_copula,
    nearest_correlation,
    pseudo_observations,
    simulated_var_es,
    t_copula_loglik,
)

CONF = (0.95, 0.99, 0.999)


def _book(k: int = 4, n: int = 600, seed: int = 3) -> RiskInputs:
    rng = np.random.default_rng(seed)
    load = rng.uniform(0.3, 0.8, (k, 1))
    corr = load @ load.T
    np.fill_diagonal(corr, 1.0)
    r = 0.0004 + 0.01 * rng.standard_t(5, size=(n, k)) @ np.linalg.cholesky(corr).T
    prices = 100.0 * np.cumprod(np.vstack([np.ones(k), 1.0 + r]), axis=0)
    exposure = np.diag(rng.uniform(1e4, 5e4, k))
    exposure[0, 0] *= -1  # a short
    names = [f"A{i}" for i in range(k)]
    return linear_inputs(np.arange(n + 1), names, prices, names, exposure, nav=2e5)


def _as_nonlinear(inp: RiskInputs) -> RiskInputs:
    """The same book through the generic revalue path (as an option book would go)."""
    return replace(inp, linear=False)


# ------------------------------------------------------------------------------ normal


def test_mc_normal_agrees_with_the_closed_form_within_three_standard_errors():
    inp = _book()
    fit = fit_normal(inp.asset_returns[-252:])
    e = inp.exposure.sum(axis=0)
    cov = np.cov(inp.asset_returns[-252:], rowvar=False)
    sims = monte_carlo_normal(inp, CONF, (1, 5, 10), 10_000, rng=np.random.default_rng(1))
    for sim in sims:
        h = sim["horizon_days"]
        dist = stats.norm(loc=h * fit.mean @ e, scale=math.sqrt(h * e @ cov @ e))
        for j, c in enumerate(CONF):
            closed = -dist.ppf(1 - c)
            se = sim["std_error"][j]
            assert 0.0 < se < 0.1 * closed
            assert abs(sim["var"][j] - closed) <= 3.0 * se
            es_closed = -dist.expect(lambda x: x, ub=-closed, conditional=True)
            assert abs(sim["es"][j] - es_closed) <= 3.0 * sim["es_std_error"][j]
            assert sim["es"][j] >= sim["var"][j]


def test_mc_standard_error_matches_the_normal_quantile_formula():
    # for normal P&L the asymptotic error is sqrt(a(1-a)/n) / pdf(q): the kernel density at the
    # quantile should reproduce the true density within 15% at n = 10,000
    inp = _book()
    sim = monte_carlo_normal(inp, CONF, (1,), 10_000, rng=np.random.default_rng(2))[0]
    sd = sim["pnl"].std()
    for j, c in enumerate(CONF[:2]):
        a = 1 - c
        expected = math.sqrt(a * (1 - a) / 10_000) / (stats.norm.pdf(stats.norm.ppf(a)) / sd)
        assert sim["std_error"][j] == pytest.approx(expected, rel=0.15)


def test_antithetic_mean_is_exactly_the_fitted_mean():
    inp = _book()
    fit = fit_normal(inp.asset_returns[-252:])
    e = inp.exposure.sum(axis=0)
    for sim in monte_carlo_normal(inp, CONF, (1, 10), 2_000, rng=np.random.default_rng(3)):
        h = sim["horizon_days"]
        assert sim["pnl"].mean() == pytest.approx(h * fit.mean @ e, rel=1e-9, abs=1e-9)
        assert sim["paths"] == 2_000 and sim["details"]["antithetic"] is True


def test_mc_is_deterministic_with_the_seed_and_linear_shortcut_is_exact():
    inp = _book()
    a = monte_carlo_normal(inp, CONF, (1, 5), 1_000, rng=np.random.default_rng(4))
    b = monte_carlo_normal(inp, CONF, (1, 5), 1_000, rng=np.random.default_rng(4))
    c = monte_carlo_normal(inp, CONF, (1, 5), 1_000, rng=np.random.default_rng(5))
    g = monte_carlo_normal(_as_nonlinear(inp), CONF, (1, 5), 1_000, rng=np.random.default_rng(4))
    for x, y, z, w in zip(a, b, c, g):
        np.testing.assert_array_equal(x["var"], y["var"])
        assert not np.allclose(x["var"], z["var"])
        # Z (F' e) and (Z F') e are the same number up to summation order
        np.testing.assert_allclose(x["pnl"], w["pnl"], rtol=1e-9, atol=1e-6)


def test_non_positive_definite_covariance_uses_the_eigen_factor_and_says_so():
    inp = _book(k=3)
    r = inp.asset_returns[-252:]
    dup = np.column_stack([r, r[:, 0]])  # a duplicated series: singular covariance
    fit = fit_normal(dup)
    assert fit.factor_method == "eigen (clipped)"
    assert "not positive definite" in fit.details()["note"]
    np.testing.assert_allclose(fit.factor @ fit.factor.T, np.cov(dup, rowvar=False), atol=1e-12)
    assert fit_normal(r).factor_method == "cholesky"


def test_n_paths_must_be_even():
    with pytest.raises(ValueError, match="even"):
        monte_carlo_normal(_book(), CONF, (1,), 1_001, rng=np.random.default_rng(0))


def test_simulated_var_es_uses_the_historical_convention():
    x = np.random.default_rng(0).standard_normal(1000)
    res = simulated_var_es(x, CONF)
    np.testing.assert_array_equal(res["var"], -np.quantile(x, 1 - np.array(CONF)))
    # weighted with equal weights: the same numbers
    resw = simulated_var_es(x, CONF, np.ones(1000))
    np.testing.assert_allclose(resw["var"], res["var"], rtol=1e-12)
    np.testing.assert_allclose(resw["std_error"], res["std_error"], rtol=1e-12)


# ------------------------------------------------------------------------------ t copula


def _t_copula_sample(df: float, k: int, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    load = rng.uniform(0.3, 0.8, (k, 1))
    corr = load @ load.T
    np.fill_diagonal(corr, 1.0)
    z = rng.standard_normal((n, k)) @ np.linalg.cholesky(corr).T
    t = z / np.sqrt(rng.chisquare(df, n) / df)[:, None]
    # normal margins on a t copula: the copula fit must see through the margins
    return stats.norm.ppf(stats.t.cdf(t, df)) * 0.01, corr


def test_kendall_matrix_is_scipys_tau_b_including_ties():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((80, 3))
    x[:, 2] = np.round(x[:, 2], 0)  # heavy ties
    tau = kendall_tau_matrix(x)
    for i in range(3):
        for j in range(3):
            assert tau[i, j] == pytest.approx(stats.kendalltau(x[:, i], x[:, j])[0], abs=1e-12)


@pytest.mark.parametrize("df", [5.0, 3.0])
def test_t_copula_recovers_the_degrees_of_freedom(df):
    # 2,000 days of 5 assets: the profile-likelihood df lands within 30% of the truth
    x, corr = _t_copula_sample(df, 5, 2000, int(df))
    fit = fit_t_copula(x)
    assert fit.df == pytest.approx(df, rel=0.3)
    assert np.abs(fit.corr - corr).max() < 0.08  # Kendall-implied correlation, n = 2,000
    assert fit.loglik == pytest.approx(t_copula_loglik(pseudo_observations(x), fit.corr, fit.df),
                                       rel=1e-10)
    assert COPULA_DF_GRID[0] <= fit.df <= COPULA_DF_GRID[-1]


def test_nearest_correlation_repairs_an_indefinite_matrix():
    bad = np.array([[1.0, 0.9, -0.9], [0.9, 1.0, 0.9], [-0.9, 0.9, 1.0]])
    fixed, min_eig = nearest_correlation(bad)
    assert min_eig is not None and min_eig < 0
    assert np.linalg.eigvalsh(fixed).min() > 0
    np.testing.assert_allclose(np.diag(fixed), 1.0)
    good, none = nearest_correlation(np.eye(3))
    assert none is None


def test_t_copula_monte_carlo_runs_deterministically_and_linear_shortcut_is_exact():
    inp = _book(k=4, n=600)
    a = monte_carlo_t_copula(inp, CONF, (1, 10), 2_000, rng=np.random.default_rng(1))
    b = monte_carlo_t_copula(inp, CONF, (1, 10), 2_000, rng=np.random.default_rng(1))
    g = monte_carlo_t_copula(_as_nonlinear(inp), CONF, (1, 10), 2_000, rng=np.random.default_rng(1))
    for x, y, w in zip(a, b, g):
        np.testing.assert_array_equal(x["var"], y["var"])
        np.testing.assert_allclose(x["pnl"], w["pnl"], rtol=1e-9, atol=1e-6)
        assert np.all(x["es"] >= x["var"]) and np.all(x["std_error"] > 0)
        assert x["details"]["marginals"] == "empirical"
    # empirical marginals never leave the historical range of each asset
    lo = inp.asset_returns[-252:].min(axis=0) @ np.maximum(inp.exposure.sum(axis=0), 0) + \
        inp.asset_returns[-252:].max(axis=0) @ np.minimum(inp.exposure.sum(axis=0), 0)
    assert a[0]["pnl"].min() >= lo - 1e-6


def test_t_copula_with_t_marginals():
    inp = _book(k=3, n=400)
    sim = monte_carlo_t_copula(inp, CONF, (1,), 2_000, rng=np.random.default_rng(2),
                               marginals="t")[0]
    assert len(sim["details"]["marginal_t_df"]) == 3
    assert np.all(sim["var"] > 0) and np.all(sim["es"] >= sim["var"])


def test_regimes_are_classified_and_transitions_estimated():
    rng = np.random.default_rng(3)
    labels = np.zeros(1000, dtype=int)
    labels[200:300] = 1
    labels[600:700] = 1
    x = np.where(labels == 1, 4.0, 1.0) * rng.standard_normal(1000)
    rm = fit_regimes(x)
    # persistent blocks with a 4x sd: the HMM's smoothed states recover > 95% of the days
    assert np.mean(rm.labels == labels) > 0.95
    assert rm.sds[1] == pytest.approx(4.0, rel=0.15) and rm.sds[0] == pytest.approx(1.0, rel=0.1)
    np.testing.assert_allclose(rm.transition.sum(axis=1), 1.0)
    # 4 switches in 1,000 days: both states are persistent
    assert rm.transition[0, 0] > 0.98 and rm.transition[1, 1] > 0.95
    assert rm.current == 0 and rm.today.sum() == pytest.approx(1.0)
    w1 = rm.horizon_weights(1)
    np.testing.assert_allclose(w1, rm.today @ rm.transition, rtol=1e-12)
    w3 = rm.horizon_weights(3)
    p = rm.today
    expected = sum(p @ np.linalg.matrix_power(rm.transition, j) for j in (1, 2, 3)) / 3
    np.testing.assert_allclose(w3, expected, rtol=1e-12)


def test_hmm_likelihood_matches_a_log_space_forward_pass():
    """The reported log-likelihood against the forward algorithm written in log space with
    scipy's logsumexp at the returned parameters."""
    from scipy.special import logsumexp

    rng = np.random.default_rng(8)
    x = rng.standard_normal(300) * np.where(np.arange(300) % 100 < 30, 3.0, 1.0)
    rm = fit_regimes(x, tol=1e-9)
    logb = stats.norm.logpdf(x[:, None], rm.means[None, :], rm.sds[None, :])
    logp = np.log(rm.transition)
    la = np.log(rm.initial) + logb[0]
    for t in range(1, x.size):
        la = logsumexp(la[:, None] + logp, axis=0) + logb[t]
    # the same parameters: the same likelihood and last-day filter, to rounding (1e-9 relative)
    assert rm.loglik == pytest.approx(float(logsumexp(la)), rel=1e-9)
    np.testing.assert_allclose(rm.today, np.exp(la - logsumexp(la)), rtol=1e-9)
    one_step = fit_regimes(x, max_iter=1)
    assert one_step.iterations == 1 and rm.loglik >= one_step.loglik  # EM never goes down


def test_two_regime_copula_weights_paths_and_reports_the_regimes():
    rng = np.random.default_rng(4)
    n, k = 800, 3
    stressed = np.zeros(n, dtype=bool)
    stressed[300:420] = True
    stressed[-40:] = True  # today is stressed
    r = 0.01 * rng.standard_t(5, size=(n, k)) * np.where(stressed, 3.5, 1.0)[:, None]
    prices = 100.0 * np.cumprod(np.vstack([np.ones(k), 1.0 + r]), axis=0)
    names = ["X", "Y", "Z"]
    inp = linear_inputs(np.arange(n + 1), names, prices, names, np.diag([1e4, 2e4, 3e4]), nav=1e5)
    two = monte_carlo_t_copula(inp, CONF, (1, 10), 4_000, rng=np.random.default_rng(5),
                               window=800, regimes=2)
    one = monte_carlo_t_copula(inp, CONF, (1, 10), 4_000, rng=np.random.default_rng(5),
                               window=800, regimes=1)
    assert two[0]["details"]["regime_current"] == "stressed"
    w = two[0]["details"]["regime_weights_horizon"]
    assert w[1] > 0.5 and sum(w) == pytest.approx(1.0)
    # weighted paths: Kish's effective sample size is below the 4,000 simulated
    assert 0 < two[0]["details"]["effective_paths"] < 4_000
    assert one[0]["details"]["effective_paths"] == pytest.approx(4_000)
    # starting in the stressed regime, the 99% 1-day VaR exceeds the unconditional one
    assert two[0]["var"][1] > one[0]["var"][1]


def test_regime_with_too_few_days_is_a_clear_error():
    rng = np.random.default_rng(6)
    r = 0.01 * rng.standard_normal((252, 2))
    r[100] *= 30.0  # one outlier day: the "stressed" component is a handful of days
    with pytest.raises(ValueError, match="regime has .* days .*needs 30"):
        fit_copula_model(r, r.sum(axis=1), regimes=2)


def test_constant_asset_is_a_clear_copula_error():
    r = np.random.default_rng(7).standard_normal((100, 3))
    r[:, 1] = 0.001
    with pytest.raises(ValueError, match="asset column 1 has constant returns"):
        fit_t_copula(r)
