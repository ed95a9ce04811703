"""DCC-GARCH(1,1) conditional correlation (Engle 2002), fitted by two-step quasi maximum likelihood.

Model (Engle, R. 2002, "Dynamic conditional correlation", J. Business & Economic Statistics 20)::

    r_i,t = mu_i + sigma_i,t z_i,t,  sigma^2_i,t = omega_i + alpha_i eps^2_i,t-1 + beta_i sigma^2_i,t-1
    Q_t = (1 - a - b) Qbar + a z_{t-1} z_{t-1}' + b Q_{t-1},   Q_1 = Qbar = (1/T) sum_t z_t z_t'
    R_t = diag(Q_t)^(-1/2) Q_t diag(Q_t)^(-1/2)

Step 1: a constant-mean normal GARCH(1,1) per asset by maximum likelihood through :mod:`arch`
(returns in percent), giving standardised residuals z = eps / sigma. A fit whose persistence sits
at 1 (IGARCH) is kept: z is still well defined; it is flagged ``integrated`` in ``garch``. Step 2: (a, b) maximise the correlation part of the Gaussian quasi log-likelihood::

    L2(a, b) = -1/2 sum_t [ log|R_t| + z_t' R_t^-1 z_t - z_t' z_t ]

subject to a >= 0, b >= 0, a + b < 1 (SLSQP, started from the best point of a small grid).
For more than :data:`FULL_QL_MAX_ASSETS` assets the full L2 is replaced by the composite
likelihood of contiguous pairs (Engle, Shephard & Sheppard 2008, "Fitting vast dimensional
time-varying covariance models"): the sum of the bivariate L2 of pairs (i, i+1). It is consistent
for the same (a, b), avoids the downward bias of the full QL in large cross-sections, and costs
O(T N) instead of O(T N^3) per evaluation. The recursion is a first-order linear filter in every
element of Q, so it runs through :func:`scipy.signal.lfilter` (vectorised over elements).

The reported matrix is the one-step-ahead conditional correlation R_{T+1}, known at the close of
day T (the "current" correlation). Fits are cached by a fingerprint of the returns when a cache
with ``get_or_compute(key, fn)`` (:class:`~wsbrisk_tui.engine.volatility.FitCache`) is passed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: Above this many assets the composite (contiguous pairs) likelihood replaces the full QL.
FULL_QL_MAX_ASSETS = 20
#: a + b must stay below this (the stationarity bound, with a margin for the optimiser).
PERSISTENCE_MAX = 0.999
_START_A = (0.01, 0.03, 0.08)
_START_B = (0.80, 0.90, 0.96)


@dataclass(frozen=True, eq=False)
class DccFit:
    """A fitted DCC(1,1): parameters, the current correlation and the univariate fits' summary."""

    assets: tuple[str, ...]
    a: float | None
    b: float | None
    converged: bool
    loglik: float | None
    n_obs: int
    likelihood: str  # "full" | "composite (contiguous pairs)"
    correlation: np.ndarray | None  # R_{T+1}, (N, N)
    qbar: np.ndarray | None = None
    garch: dict[str, dict[str, Any]] = field(default_factory=dict)
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"a": self.a, "b": self.b, "converged": self.converged, "loglik": self.loglik,
                "n_obs": self.n_obs, "likelihood": self.likelihood, "reason": self.reason}


def dcc_filter(z: np.ndarray, a: float, b: float, qbar: np.ndarray) -> np.ndarray:
    """Q_1..Q_{T+1} as a (T+1, N, N) array for standardised residuals z (T, N)."""
    from scipy.signal import lfilter

    T, N = z.shape
    outer = (z[:, :, None] * z[:, None, :]).reshape(T, N * N)
    q0 = qbar.reshape(N * N)
    # Q_{t+1} = c + a x_t + b Q_t with c = (1-a-b) Qbar, x_t = z_t z_t', Q_1 = Qbar
    u = (1.0 - a - b) * q0 + a * outer
    rest, _ = lfilter([1.0], [1.0, -b], u, axis=0, zi=(b * q0)[None, :])
    return np.concatenate([q0[None, :], rest]).reshape(T + 1, N, N)


def _corr_stack(Q: np.ndarray) -> np.ndarray:
    d = np.sqrt(np.einsum("tii->ti", Q))
    return Q / (d[:, :, None] * d[:, None, :])


def dcc_loglik_full(params: Sequence[float], z: np.ndarray, qbar: np.ndarray) -> float:
    """The correlation part L2 of the Gaussian quasi log-likelihood (module docstring)."""
    a, b = float(params[0]), float(params[1])
    R = _corr_stack(dcc_filter(z, a, b, qbar)[:-1])
    L = np.linalg.cholesky(R)
    logdet = 2.0 * np.log(np.einsum("tii->ti", L)).sum(axis=1)
    y = np.linalg.solve(L, z[:, :, None])[:, :, 0]
    quad = np.einsum("ti,ti->t", y, y)
    return float(-0.5 * np.sum(logdet + quad - np.einsum("ti,ti->t", z, z)))


def dcc_loglik_composite(params: Sequence[float], z: np.ndarray, qbar: np.ndarray) -> float:
    """Sum over contiguous pairs (i, i+1) of the bivariate L2 (Engle, Shephard & Sheppard 2008)."""
    from scipy.signal import lfilter

    a, b = float(params[0]), float(params[1])
    T, N = z.shape
    x = np.concatenate([z * z, z[:, :-1] * z[:, 1:]], axis=1)  # (T, 2N-1): q_ii then q_i,i+1
    q0 = np.concatenate([np.diag(qbar), np.diag(qbar, 1)])
    u = (1.0 - a - b) * q0 + a * x
    rest, _ = lfilter([1.0], [1.0, -b], u[:-1], axis=0, zi=(b * q0)[None, :])
    q = np.concatenate([q0[None, :], rest])  # Q_1..Q_T elements
    qii, qij = q[:, :N], q[:, N:]
    rho = qij / np.sqrt(qii[:, :-1] * qii[:, 1:])
    one_m = 1.0 - rho * rho
    z1, z2 = z[:, :-1], z[:, 1:]
    ll = np.log(one_m) + (z1 * z1 + z2 * z2 - 2.0 * rho * z1 * z2) / one_m - (z1 * z1 + z2 * z2)
    return float(-0.5 * np.sum(ll))


def estimate_dcc_params(z: np.ndarray, composite: bool | None = None) -> tuple[float, float, bool, float, str]:
    """(a, b, converged, loglik, likelihood name) maximising L2 over a >= 0, b >= 0, a + b < 1."""
    from scipy.optimize import minimize

    N = z.shape[1]
    composite = N > FULL_QL_MAX_ASSETS if composite is None else composite
    ll = dcc_loglik_composite if composite else dcc_loglik_full
    name = "composite (contiguous pairs)" if composite else "full"
    qbar = z.T @ z / z.shape[0]

    def objective(p: np.ndarray) -> float:
        if p[0] < 0 or p[1] < 0 or p[0] + p[1] >= PERSISTENCE_MAX:
            return 1e12
        with np.errstate(all="ignore"):
            v = -ll(p, z, qbar)
        return v if math.isfinite(v) else 1e12

    starts = [(sa, sb) for sa in _START_A for sb in _START_B if sa + sb < PERSISTENCE_MAX]
    best = min(starts, key=lambda p: objective(np.asarray(p)))
    res = minimize(objective, np.asarray(best), method="SLSQP",
                   bounds=[(0.0, PERSISTENCE_MAX), (0.0, PERSISTENCE_MAX)],
                   constraints=[{"type": "ineq", "fun": lambda p: PERSISTENCE_MAX - 1e-6 - p[0] - p[1]}],
                   options={"ftol": 1e-10, "maxiter": 200})
    a, b = float(res.x[0]), float(res.x[1])
    converged = bool(res.success) and a >= 0 and b >= 0 and a + b < PERSISTENCE_MAX
    return a, b, converged, -float(res.fun), name


def fit_dcc(returns: np.ndarray, assets: Sequence[str], *, cache: Any = None,
            composite: bool | None = None) -> DccFit:
    """Two-step DCC-GARCH(1,1) of (T, N) daily simple returns (fractions), oldest first.

    Returns ``converged=False`` with a reason when a univariate GARCH fails (named) or the
    second-stage optimiser does not converge; the caller shows ``n/a``.
    """
    r = np.asarray(returns, dtype=float)
    if r.ndim != 2 or r.shape[1] != len(assets) or r.shape[1] < 2:
        raise ValueError("returns must be (T, N) with N >= 2 and one name per column")
    if cache is not None:
        from wsbrisk_tui.engine.volatility import fingerprint

        key = ("dcc", tuple(assets), composite, fingerprint(r.reshape(-1)), r.shape)
        return cache.get_or_compute(key, lambda: _fit_dcc(r, tuple(assets), composite))
    return _fit_dcc(r, tuple(assets), composite)


def garch_standardize(r_pct: np.ndarray) -> tuple[np.ndarray | None, dict[str, Any], str | None]:
    """Constant-mean normal GARCH(1,1) by arch; ``(z, params, reason)``, z None on failure.

    Persistence at the stationarity bound (IGARCH) is accepted here: the standardised residuals
    eps_t / sigma_t are well defined, only long-run variance forecasts are not (flagged).
    """
    from arch import arch_model

    from wsbrisk_tui.engine.volatility import MIN_GARCH_OBS

    if r_pct.shape[0] < MIN_GARCH_OBS:
        return None, {}, f"{r_pct.shape[0]} returns, GARCH(1,1) needs at least {MIN_GARCH_OBS}"
    if float(np.std(r_pct)) == 0.0:
        return None, {}, "returns are constant"
    with np.errstate(all="ignore"):
        res = arch_model(r_pct, mean="Constant", vol="GARCH", p=1, q=1, dist="normal",
                         rescale=False).fit(disp="off", show_warning=False)
    p = res.params.to_numpy(dtype=float)
    if res.convergence_flag != 0 or not np.all(np.isfinite(p)):
        return None, {}, f"optimiser did not converge ({res.optimization_result.message})"
    sigma = np.asarray(res.conditional_volatility, dtype=float)
    z = np.asarray(res.resid, dtype=float) / sigma
    if not np.all(np.isfinite(z)):
        return None, {}, "non-finite standardised residuals"
    params = {"mu_pct": float(p[0]), "omega": float(p[1]), "alpha": float(p[2]), "beta": float(p[3]),
              "integrated": bool(p[2] + p[3] >= 1.0 - 1e-6)}
    return z, params, None


def _fit_dcc(r: np.ndarray, assets: tuple[str, ...], composite: bool | None) -> DccFit:
    T, N = r.shape
    z = np.empty((T, N))
    garch: dict[str, dict[str, Any]] = {}
    for i, name in enumerate(assets):
        zi, params, reason = garch_standardize(100.0 * r[:, i])
        if zi is None:
            return DccFit(assets=assets, a=None, b=None, converged=False, loglik=None, n_obs=T,
                          likelihood="", correlation=None,
                          reason=f"GARCH(1,1) for {name} failed: {reason}")
        z[:, i] = zi
        garch[name] = params
    a, b, converged, loglik, name = estimate_dcc_params(z, composite)
    qbar = z.T @ z / T
    if not converged:
        return DccFit(assets=assets, a=a, b=b, converged=False, loglik=loglik, n_obs=T,
                      likelihood=name, correlation=None, qbar=qbar, garch=garch,
                      reason="DCC second stage did not converge")
    # Q_{T+1} = (1-a-b) Qbar + a z_T z_T' + b Q_T: the filter's last element at the optimum
    q_next = dcc_filter(z, a, b, qbar)[-1]
    d = np.sqrt(np.diag(q_next))
    R = q_next / np.outer(d, d)
    np.fill_diagonal(R, 1.0)
    return DccFit(assets=assets, a=a, b=b, converged=True, loglik=loglik, n_obs=T, likelihood=name,
                  correlation=R, qbar=qbar, garch=garch)


def simulate_dcc(rng: np.random.Generator, n_obs: int, qbar: np.ndarray, a: float, b: float,
                 omega: np.ndarray | None = None, alpha: np.ndarray | None = None,
                 beta: np.ndarray | None = None, burn: int = 500) -> np.ndarray:
    """Simulate (n_obs, N) returns in PERCENT from a Gaussian DCC-GARCH(1,1) (tests, benchmarks).

    ``qbar`` is the unconditional correlation of the standardised residuals; GARCH parameters
    default to omega = 0.05, alpha = 0.08, beta = 0.90 for every asset.
    """
    qbar = np.asarray(qbar, dtype=float)
    N = qbar.shape[0]
    omega = np.full(N, 0.05) if omega is None else np.asarray(omega, dtype=float)
    alpha = np.full(N, 0.08) if alpha is None else np.asarray(alpha, dtype=float)
    beta = np.full(N, 0.90) if beta is None else np.asarray(beta, dtype=float)
    total = n_obs + burn
    Q = qbar.copy()
    s2 = omega / (1.0 - alpha - beta)
    eps_prev = np.zeros(N)
    z_prev = np.zeros(N)
    out = np.empty((total, N))
    shocks = rng.standard_normal((total, N))
    for t in range(total):
        if t > 0:
            Q = (1.0 - a - b) * qbar + a * np.outer(z_prev, z_prev) + b * Q
            s2 = omega + alpha * eps_prev ** 2 + beta * s2
        d = np.sqrt(np.diag(Q))
        R = Q / np.outer(d, d)
        z = np.linalg.cholesky(R) @ shocks[t]
        eps = np.sqrt(s2) * z
        out[t] = eps
        eps_prev, z_prev = eps, z
    return out[burn:]
