"""Markov-switching regimes and the regime_scaled VaR (issue 8). Offline and seeded."""

from __future__ import annotations

import math

import numpy as np
import pytest

from wsbrisk_tui.engine import regime

SIGMA = np.array([0.6, 2.0])
TRANSITION = np.array([[0.98, 0.02], [0.05, 0.95]])


def simulate_two_regimes(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Returns (percent) and the true states of a 2-state Markov chain, N(0, sigma_s^2)."""
    s = np.empty(n, dtype=int)
    s[0] = 0
    u = rng.random(n)
    for t in range(1, n):
        s[t] = int(u[t] < TRANSITION[s[t - 1], 1])
    return rng.standard_normal(n) * SIGMA[s], s


@pytest.fixture(scope="module")
def sim() -> tuple[np.ndarray, np.ndarray]:
    return simulate_two_regimes(1500, np.random.default_rng(7))


@pytest.fixture(scope="module")
def fit2(sim: tuple[np.ndarray, np.ndarray]) -> regime.RegimeFit:
    return regime.fit_regimes(sim[0], 2)


def test_recovers_simulated_regimes(sim: tuple[np.ndarray, np.ndarray], fit2: regime.RegimeFit) -> None:
    r, states = sim
    assert fit2.converged and fit2.labels == ("calm", "crisis")
    # in-sample classification by the smoothed probabilities: above 90% right
    accuracy = float(np.mean((fit2.smoothed[:, 1] > 0.5) == states))
    assert accuracy > 0.90
    # real-time (filtered) probabilities do nearly as well
    assert float(np.mean((fit2.filtered[:, 1] > 0.5) == states)) > 0.88
    # parameters: state sigmas within 10% (about 3 standard errors with ~350 crisis days)
    np.testing.assert_allclose(fit2.sigma, SIGMA, rtol=0.10)
    np.testing.assert_allclose(np.diag(fit2.transition), np.diag(TRANSITION), atol=0.03)
    np.testing.assert_allclose(fit2.transition.sum(axis=1), 1.0, atol=1e-12)
    cur = fit2.current
    assert set(cur) == {"calm", "crisis"} and sum(cur.values()) == pytest.approx(1.0)
    assert fit2.current_label == max(cur, key=cur.get)


def test_hamilton_step_reproduces_statsmodels_filter(sim: tuple[np.ndarray, np.ndarray],
                                                     fit2: regime.RegimeFit) -> None:
    """Our one-step filter, fed statsmodels' filtered probability at t-1 and our (reordered,
    transposed) parameters, gives statsmodels' filtered probability at t: an independent check of
    the transition convention and the state ordering."""
    r = sim[0]
    for t in (1, 200, 900, 1499):
        p = regime.hamilton_step(fit2.filtered[t - 1], float(r[t]), fit2.mu, fit2.sigma,
                                 fit2.transition)
        np.testing.assert_allclose(p, fit2.filtered[t], atol=1e-8)


def test_three_states_ordered_by_volatility(sim: tuple[np.ndarray, np.ndarray]) -> None:
    f3 = regime.fit_regimes(sim[0], 3)
    assert f3.labels == ("calm", "normal", "crisis")
    assert np.all(np.diff(f3.sigma) > 0)
    assert f3.filtered.shape == (1500, 3)
    np.testing.assert_allclose(f3.filtered.sum(axis=1), 1.0, atol=1e-9)


def _manual_fit(prob: list[float], mu: list[float], sigma: list[float],
                transition: np.ndarray) -> regime.RegimeFit:
    p = np.array([prob])
    return regime.RegimeFit(k=2, labels=("calm", "crisis"), mu=np.array(mu), sigma=np.array(sigma),
                            transition=transition, filtered=p, smoothed=p, loglik=0.0,
                            converged=True)


def test_regime_var_closed_forms() -> None:
    from scipy.stats import norm

    # certain calm state that never leaves: plain normal VaR of that state, sqrt(h) scaling
    f = _manual_fit([1.0, 0.0], [0.05, -0.2], [0.8, 2.5], np.eye(2))
    out = regime.regime_var_es(f, [0.99], [1, 10])
    z = norm.ppf(0.01)
    assert out[1][0][0] == pytest.approx(-(0.05 + 0.8 * z), rel=1e-12)
    assert out[1][1][0] == pytest.approx(-0.05 + 0.8 * norm.pdf(z) / 0.01, rel=1e-12)
    assert out[10][0][0] == pytest.approx(-(0.5 + math.sqrt(10) * 0.8 * z), rel=1e-12)
    # 50/50 mixture, absorbing states: v = 0.5 (s1^2 + m1^2) + 0.5 (s2^2 + m2^2) - m^2
    f = _manual_fit([0.5, 0.5], [0.1, -0.3], [1.0, 3.0], np.eye(2))
    m = 0.5 * 0.1 + 0.5 * -0.3
    v = 0.5 * (1.0 + 0.01) + 0.5 * (9.0 + 0.09) - m * m
    assert regime.regime_var_es(f, [0.95], [1])[1][0][0] == pytest.approx(
        -(m + math.sqrt(v) * norm.ppf(0.05)), rel=1e-12)
    # propagation through the chain: from calm, tomorrow is crisis with probability 0.02
    f = _manual_fit([1.0, 0.0], [0.0, 0.0], [0.6, 2.0], TRANSITION)
    np.testing.assert_allclose(f.next_probabilities(1), [0.98, 0.02], atol=1e-15)
    v1 = 0.98 * 0.36 + 0.02 * 4.0
    assert regime.regime_var_es(f, [0.99], [1])[1][0][0] == pytest.approx(
        -math.sqrt(v1) * z, rel=1e-12)


def test_rolling_regime_var_no_look_ahead_and_coverage(sim: tuple[np.ndarray, np.ndarray]) -> None:
    r = sim[0]
    bt = regime.regime_backtest(r, window=750, n_test=750, confidences=[0.95, 0.99],
                                refit_every=250)
    for b in bt:
        assert b.method == "regime_scaled" and b.observations == 750
        assert b.kupiec_p > 0.05, (b.confidence, b.exceptions)
    # forecasts for test days up to j use returns before them only
    j = 400
    r2 = r.copy()
    r2[750 + j:] *= 3.0
    a = regime.regime_rolling_var(r, 750, 750, [0.99], refit_every=250)
    b2 = regime.regime_rolling_var(r2, 750, 750, [0.99], refit_every=250)
    np.testing.assert_array_equal(a.var_pct[:j + 1], b2.var_pct[:j + 1])
    assert not np.allclose(a.var_pct[j + 1:], b2.var_pct[j + 1:])


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="k_regimes"):
        regime.fit_regimes(np.zeros(300), 4)
    with pytest.raises(ValueError, match="at least 250"):
        regime.fit_regimes(np.ones(100), 2)
    with pytest.raises(ValueError, match="finite"):
        regime.fit_regimes(np.r_[np.ones(299), np.nan], 2)
