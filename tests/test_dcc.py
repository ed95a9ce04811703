"""DCC-GARCH(1,1) (engine/dcc.py): recursion and likelihood against loops, parameter recovery."""

from __future__ import annotations

import numpy as np
import pytest

from wsbrisk_tui.engine.dcc import (
    dcc_filter,
    dcc_loglik_composite,
    dcc_loglik_full,
    fit_dcc,
    simulate_dcc,
)
from wsbrisk_tui.engine.volatility import FitCache


def _qbar(n: int, rho: float) -> np.ndarray:
    q = np.full((n, n), rho)
    np.fill_diagonal(q, 1.0)
    return q


def _loop_filter(z, a, b, qbar):
    T = z.shape[0]
    Q = [qbar.copy()]
    for t in range(T):
        Q.append((1 - a - b) * qbar + a * np.outer(z[t], z[t]) + b * Q[-1])
    return np.array(Q)


def test_filter_matches_the_engle_recursion():
    rng = np.random.default_rng(3)
    z = rng.standard_normal((200, 4))
    qbar = z.T @ z / 200
    # lfilter vs the plain recursion Q_{t+1} = (1-a-b) Qbar + a z_t z_t' + b Q_t: same floats to 1e-12
    np.testing.assert_allclose(dcc_filter(z, 0.05, 0.9, qbar), _loop_filter(z, 0.05, 0.9, qbar), atol=1e-12)


def test_full_and_composite_likelihoods_match_loops():
    rng = np.random.default_rng(4)
    z = rng.standard_normal((150, 3))
    qbar = z.T @ z / 150
    a, b = 0.04, 0.93
    Q = _loop_filter(z, a, b, qbar)[:-1]
    full = 0.0
    pairs = 0.0
    for t in range(150):
        d = np.sqrt(np.diag(Q[t]))
        R = Q[t] / np.outer(d, d)
        full += -0.5 * (np.log(np.linalg.det(R)) + z[t] @ np.linalg.inv(R) @ z[t] - z[t] @ z[t])
        for i in range(2):
            rho = R[i, i + 1]
            x, y = z[t, i], z[t, i + 1]
            pairs += -0.5 * (np.log(1 - rho ** 2) + (x * x + y * y - 2 * rho * x * y) / (1 - rho ** 2) - x * x - y * y)
    assert dcc_loglik_full((a, b), z, qbar) == pytest.approx(full, rel=1e-10)
    assert dcc_loglik_composite((a, b), z, qbar) == pytest.approx(pairs, rel=1e-10)


@pytest.mark.parametrize("composite", [False, True])
def test_dcc_recovers_known_parameters(composite):
    # 4 assets x 2,500 days simulated from a Gaussian DCC(0.05, 0.90) with GARCH(0.05, 0.08, 0.90)
    # margins. Tolerances: |a - 0.05| < 0.02 and |b - 0.90| < 0.04 (the QMLE's sampling spread at
    # this size is about 0.008 for a and 0.02 for b).
    r = simulate_dcc(np.random.default_rng(2024), 2500, _qbar(4, 0.4), 0.05, 0.90) / 100.0
    fit = fit_dcc(r, ["A", "B", "C", "D"], composite=composite)
    assert fit.converged, fit.reason
    assert abs(fit.a - 0.05) < 0.02 and abs(fit.b - 0.90) < 0.04
    assert fit.likelihood == ("composite (contiguous pairs)" if composite else "full")
    R = fit.correlation
    np.testing.assert_allclose(np.diag(R), 1.0, atol=1e-12)
    np.testing.assert_allclose(R, R.T, atol=1e-12)
    assert np.linalg.eigvalsh(R).min() > 0
    assert set(fit.garch) == {"A", "B", "C", "D"}
    assert fit.garch["A"]["alpha"] == pytest.approx(0.08, abs=0.04)


def test_constant_correlation_gives_small_a():
    # z i.i.d. with constant correlation 0.5: a is near 0 (no dynamics to find)
    r = simulate_dcc(np.random.default_rng(9), 2000, _qbar(3, 0.5), 0.0, 0.0) / 100.0
    fit = fit_dcc(r, ["A", "B", "C"])
    assert fit.converged and fit.a < 0.02
    np.testing.assert_allclose(fit.correlation[np.triu_indices(3, 1)], 0.5, atol=0.08)


def test_fit_is_cached_by_data_fingerprint():
    r = simulate_dcc(np.random.default_rng(5), 600, _qbar(3, 0.3), 0.05, 0.9) / 100.0
    cache = FitCache()
    first = fit_dcc(r, ["A", "B", "C"], cache=cache)
    second = fit_dcc(r, ["A", "B", "C"], cache=cache)
    assert second is first and cache.stats == {"hits": 1, "computes": 1, "refits": 0, "refilters": 0}
    changed = r.copy()
    changed[-1, 0] += 1e-4
    assert fit_dcc(changed, ["A", "B", "C"], cache=cache) is not first


def test_a_failed_univariate_fit_names_the_asset():
    r = simulate_dcc(np.random.default_rng(6), 400, _qbar(2, 0.3), 0.05, 0.9) / 100.0
    r[:, 1] = 0.001
    fit = fit_dcc(r, ["A", "FLAT"])
    assert not fit.converged and fit.correlation is None
    assert fit.reason == "GARCH(1,1) for FLAT failed: returns are constant"
