"""Peaks over threshold with a GPD tail (engine/evt.py) against scipy.stats.genpareto."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate, stats

from wsbrisk_tui.engine.evt import (
    MIN_EXCEEDANCES,
    MIN_OBS,
    THRESHOLD_LEVELS,
    XI_TOLERANCE,
    GpdTail,
    evt_gpd,
    fit_gpd,
    fit_gpd_tail,
    fit_gpd_tails,
    gpd_loglik,
    gpd_var_es,
)

CONF = (0.95, 0.99, 0.999)


def _tail(xi: float, beta: float = 2.0, u: float = 10.0, n: int = 1000, n_exceed: int = 100) -> GpdTail:
    return GpdTail(threshold=u, xi=xi, beta=beta, n=n, n_exceed=n_exceed, level=0.9, rule="test",
                   candidates=())


@pytest.mark.parametrize("xi_true,size", [(0.3, 35), (0.3, 400), (0.0, 200), (-0.2, 200), (0.8, 100)])
def test_gpd_mle_matches_scipy_genpareto_fit(xi_true, size):
    rng = np.random.default_rng(int(100 * xi_true) + size)
    y = stats.genpareto.rvs(xi_true, scale=2.0, size=size, random_state=rng)
    xi, beta, ll = fit_gpd(y)
    c, loc, scale = stats.genpareto.fit(y, floc=0)
    assert loc == 0
    ll_scipy = stats.genpareto.logpdf(y, c, scale=scale).sum()
    assert ll[0] == pytest.approx(gpd_loglik(y, xi[0], beta[0]), rel=1e-12)
    assert ll[0] >= ll_scipy - 1e-6  # at least scipy's maximum (both maximise the same function)
    assert xi[0] == pytest.approx(c, abs=1e-3)
    assert beta[0] == pytest.approx(scale, rel=1e-3)


def test_gpd_loglik_is_scipys_logpdf():
    y = np.array([0.1, 0.5, 2.0, 3.5])
    for xi in (0.3, -0.2, 0.0):
        assert gpd_loglik(y, xi, 1.5) == pytest.approx(
            stats.genpareto.logpdf(y, xi, scale=1.5).sum(), rel=1e-12)


def test_xi_recovered_on_pareto_tailed_losses():
    # GPD(0.25) losses: every threshold sees the same shape (threshold stability), so the rule's
    # threshold (0.85 quantile, ~3,000 exceedances, sd of xi ~ 1.25/sqrt(3000) = 0.023) recovers
    # xi within 0.08 (3.5 sd)
    rng = np.random.default_rng(0)
    losses = stats.genpareto.rvs(0.25, scale=1.0, size=20_000, random_state=rng)
    tail = fit_gpd_tail(losses)
    assert tail.xi == pytest.approx(0.25, abs=0.08)
    assert tail.n_exceed >= MIN_EXCEEDANCES
    assert len(tail.candidates) == len(THRESHOLD_LEVELS)


def test_xi_of_student_t4_losses_from_a_high_threshold():
    # t with 4 df has tail index 1/4; at the 0.995 quantile of 200,000 draws (1,000 exceedances:
    # sd ~ 0.04, second-order bias ~ -0.03) the estimate lies within 0.1
    rng = np.random.default_rng(1)
    losses = -rng.standard_t(4, size=200_000)
    tail = fit_gpd_tail(losses, threshold_rule=0.995)
    assert tail.n_exceed == 1000
    assert tail.xi == pytest.approx(0.25, abs=0.1)


def test_var_es_closed_form_against_scipy_genpareto():
    for xi in (0.3, -0.2, 1e-7):
        tail = _tail(xi)
        var, es = gpd_var_es(tail, CONF)
        for j, c in enumerate(CONF):
            a = 1 - c
            # P(L > x) = (N_u/n) S_gpd(x - u)  =>  VaR = u + genpareto.ppf(1 - a n / N_u)
            p = 1 - a * tail.n / tail.n_exceed
            v = tail.threshold + stats.genpareto.ppf(p, xi, scale=tail.beta)
            assert var[j] == pytest.approx(v, rel=1e-10)
            # ES = average VaR over the tail, integrated numerically (1e-8 relative)
            integral, _ = integrate.quad(
                lambda s: tail.threshold + stats.genpareto.ppf(1 - s * tail.n / tail.n_exceed, xi,
                                                               scale=tail.beta),
                0.0, a, limit=200, epsabs=0.0, epsrel=1e-11)
            assert es[j] == pytest.approx(integral / a, rel=1e-8)
            assert es[j] >= var[j]


def test_xi_zero_limit_is_continuous():
    v0, e0 = gpd_var_es(_tail(0.0), CONF)
    v1, e1 = gpd_var_es(_tail(1e-9), CONF)
    a = 1 - np.array(CONF)
    np.testing.assert_allclose(v0, 10.0 - 2.0 * np.log(a * 1000 / 100), rtol=1e-14)
    np.testing.assert_allclose(e0, v0 + 2.0, rtol=1e-14)  # exponential: mean excess = beta
    np.testing.assert_allclose(v1, v0, rtol=1e-8)
    np.testing.assert_allclose(e1, e0, rtol=1e-8)


def test_es_is_nan_for_an_infinite_mean_and_var_nan_inside_the_body():
    var, es = gpd_var_es(_tail(1.2), CONF)
    assert np.all(np.isfinite(var)) and np.all(np.isnan(es))
    # 100 exceedances of 1,000: the tail starts at the 90% level, so 80% is not in it
    var, es = gpd_var_es(_tail(0.2), [0.8, 0.95])
    assert np.isnan(var[0]) and np.isfinite(var[1])


def test_threshold_rule_picks_the_lowest_stable_candidate():
    rng = np.random.default_rng(5)
    losses = stats.genpareto.rvs(0.2, size=5_000, random_state=rng)
    tail = fit_gpd_tail(losses)
    table = tail.candidates
    i = [row[0] for row in table].index(tail.level)
    assert tail.rule.startswith("lowest stable threshold")
    for row in table[i + 1:i + 4]:
        assert abs(row[3] - tail.xi) <= XI_TOLERANCE
    assert tail.threshold == pytest.approx(np.quantile(losses, tail.level), rel=1e-12)
    assert tail.n_exceed == int(np.sum(losses > tail.threshold))


def test_too_few_observations_is_a_clear_error():
    assert MIN_OBS == 200
    with pytest.raises(ValueError, match="at least 200"):
        evt_gpd(np.random.default_rng(0).standard_normal(150), CONF)
    with pytest.raises(ValueError, match="exceedances"):
        fit_gpd_tail(np.arange(100.0), threshold_rule=0.9)
    assert isinstance(fit_gpd_tails(np.arange(120.0)[None, :])[0], str)


def test_evt_gpd_windows_and_sqrt_time():
    rng = np.random.default_rng(7)
    windows = 100.0 * rng.standard_t(4, size=(3, 252))
    var1, es1, tails = evt_gpd(windows, CONF)
    var10, es10, _ = evt_gpd(windows, CONF, horizon_days=10)
    np.testing.assert_allclose(var10, var1 * math.sqrt(10), rtol=1e-14)
    np.testing.assert_allclose(es10, es1 * math.sqrt(10), rtol=1e-14)
    for i, t in enumerate(tails):
        assert isinstance(t, GpdTail)
        v, e = gpd_var_es(fit_gpd_tail(-windows[i]), CONF)
        np.testing.assert_allclose(var1[i], v, rtol=1e-12)
        assert np.all(es1[i] >= var1[i])
