"""Volatility regimes: a Markov-switching model of daily returns and the ``regime_scaled`` VaR.

Model (Hamilton, 1989, "A new approach to the economic analysis of nonstationary time series and
the business cycle", Econometrica 57), k = 2 or 3 hidden states s_t following a Markov chain::

    r_t | s_t = j  ~  N(mu_j, sigma_j^2),    P(s_t = j | s_{t-1} = i) = P_ij

estimated by maximum likelihood with ``statsmodels.tsa.MarkovRegression(r, k_regimes=k,
trend="c", switching_variance=True).fit(maxiter=500)`` on returns in PERCENT; a fit whose
optimiser does not report convergence is flagged (``converged=False``) and gives no VaR. States are ordered by sigma and
labelled calm / crisis (k = 2) or calm / normal / crisis (k = 3). The current regime
probabilities are the FILTERED ones, P(s_T = j | r_1..r_T) (data up to today only); the smoothed
ones (using the whole sample) are kept for in-sample classification.

``regime_scaled`` VaR (:func:`regime_var_es`): the next days' state probabilities are propagated,
p_{T+i} = p_T P^i, and each day's return has the mixture mean and variance

    m_i = sum_j p_{T+i,j} mu_j,    v_i = sum_j p_{T+i,j} (sigma_j^2 + mu_j^2) - m_i^2,

the h-day return is taken as normal with mean M_h = sum_{i<=h} m_i and variance
V_h = sum_{i<=h} v_i (stated approximation: it ignores the serial dependence the shared regime
induces between days, and the mixture's fat tails), so

    VaR = -(M_h + sqrt(V_h) z_a),   ES = -M_h + sqrt(V_h) phi(z_a) / a,   a = 1 - c.

Backtest (:func:`regime_rolling_var`): re-estimated every ``refit_every`` days on the ``window``
returns before the refit day, the state probabilities filtered forward one day at a time with
fixed parameters in between (:func:`hamilton_step`).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

LABELS: dict[int, tuple[str, ...]] = {2: ("calm", "crisis"), 3: ("calm", "normal", "crisis")}
#: Fewer returns than this and the regime parameters are not identified well enough to sign.
MIN_REGIME_OBS = 250


@dataclass(frozen=True, eq=False)
class RegimeFit:
    """A fitted Markov-switching model, states ordered by volatility (percent units).

    ``transition[i, j]`` = P(s_t = j | s_{t-1} = i) (rows sum to 1); ``filtered`` and ``smoothed``
    are (n, k) state probabilities."""

    k: int
    labels: tuple[str, ...]
    mu: np.ndarray
    sigma: np.ndarray
    transition: np.ndarray
    filtered: np.ndarray
    smoothed: np.ndarray
    loglik: float
    converged: bool
    notes: tuple[str, ...] = field(default=())

    @property
    def current(self) -> dict[str, float]:
        """P(s_T = label | data up to T)."""
        return {lab: float(p) for lab, p in zip(self.labels, self.filtered[-1])}

    @property
    def current_label(self) -> str:
        return self.labels[int(np.argmax(self.filtered[-1]))]

    def next_probabilities(self, days: int = 1) -> np.ndarray:
        """p_{T+days} = p_T P^days."""
        return self.filtered[-1] @ np.linalg.matrix_power(self.transition, int(days))

    def to_dict(self) -> dict[str, Any]:
        return {"k": self.k, "labels": list(self.labels), "current": self.current,
                "current_label": self.current_label,
                "state_mu_pct": [float(x) for x in self.mu],
                "state_sigma_pct": [float(x) for x in self.sigma],
                "transition": self.transition.tolist(), "loglik": self.loglik,
                "converged": self.converged, "notes": list(self.notes)}


def fit_regimes(returns_pct: np.ndarray, k_regimes: int = 2) -> RegimeFit:
    """Maximum-likelihood Markov-switching fit (module doc). Raises ValueError on bad input."""
    r = np.asarray(returns_pct, dtype=float)
    k = int(k_regimes)
    if k not in LABELS:
        raise ValueError(f"k_regimes must be 2 or 3, got {k}")
    if r.ndim != 1 or not np.all(np.isfinite(r)):
        raise ValueError("returns_pct must be a 1-D series of finite numbers")
    if r.size < MIN_REGIME_OBS:
        raise ValueError(f"{r.size} returns: a regime model needs at least {MIN_REGIME_OBS}")
    from statsmodels.tools.sm_exceptions import ConvergenceWarning, EstimationWarning
    from statsmodels.tsa.regime_switching.markov_regression import MarkovRegression

    notes: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        # maxiter 500 (statsmodels' default 100 stops short on 3 states: measured on the demo
        # book, 100 iterations end unconverged, 500 converge in ~4 s)
        res = MarkovRegression(r, k_regimes=k, trend="c", switching_variance=True).fit(
            disp=False, maxiter=500)
    for w in caught:
        if issubclass(w.category, (ConvergenceWarning, EstimationWarning, RuntimeWarning)):
            notes.append(f"{w.category.__name__}: {str(w.message).splitlines()[0]}")
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    params = dict(zip(res.model.param_names, np.asarray(res.params, dtype=float)))
    mu = np.array([params[f"const[{j}]"] for j in range(k)])
    sigma = np.sqrt(np.array([params[f"sigma2[{j}]"] for j in range(k)]))
    # statsmodels: regime_transition[i, j] = P(s_t = i | s_{t-1} = j); transpose to rows = from
    trans = np.asarray(res.regime_transition, dtype=float)[:, :, 0].T
    order = np.argsort(sigma)
    filt = np.asarray(res.filtered_marginal_probabilities, dtype=float)[:, order]
    smooth = np.asarray(res.smoothed_marginal_probabilities, dtype=float)[:, order]
    converged = bool(res.mle_retvals.get("converged", False)) if res.mle_retvals else False
    if not converged:
        notes.append("the likelihood optimiser did not report convergence")
    return RegimeFit(k=k, labels=LABELS[k], mu=mu[order], sigma=sigma[order],
                     transition=trans[np.ix_(order, order)], filtered=filt, smoothed=smooth,
                     loglik=float(res.llf), converged=converged, notes=tuple(notes))


def hamilton_step(prob_prev: np.ndarray, r: float, mu: np.ndarray, sigma: np.ndarray,
                  transition: np.ndarray) -> np.ndarray:
    """One step of the Hamilton filter: p_t ∝ (p_{t-1} P) * phi((r_t - mu) / sigma) / sigma."""
    pred = prob_prev @ transition
    z = (r - mu) / sigma
    joint = pred * np.exp(-0.5 * z * z) / sigma
    total = float(joint.sum())
    if not total > 0.0:  # r so far out that every density underflows: keep the prediction
        return pred
    return joint / total


def mixture_moments(prob: np.ndarray, mu: np.ndarray, sigma: np.ndarray, transition: np.ndarray,
                    horizon_days: int) -> tuple[float, float]:
    """(M_h, V_h) of the h-day return from today's state probabilities ``prob`` (module doc)."""
    p = np.asarray(prob, dtype=float)
    m_sum = v_sum = 0.0
    for _ in range(int(horizon_days)):
        p = p @ transition
        m = float(p @ mu)
        m_sum += m
        v_sum += float(p @ (sigma ** 2 + mu ** 2)) - m * m
    return m_sum, v_sum


def regime_var_es(fit: RegimeFit, confidences: Sequence[float], horizons: Sequence[int],
                  prob: np.ndarray | None = None) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """``regime_scaled`` VaR and ES, percent of NAV, positive losses: ``{h: (var, es)}``, from
    today's state probabilities ``prob`` (default: the fit's last filtered ones; pass the ones
    filtered on over the days since the fit)."""
    from scipy.stats import norm

    c = np.asarray(confidences, dtype=float)
    a = 1.0 - c
    z = norm.ppf(a)
    out: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    for h in horizons:
        m, v = mixture_moments(fit.filtered[-1] if prob is None else prob, fit.mu, fit.sigma,
                               fit.transition, int(h))
        sd = math.sqrt(v)
        out[int(h)] = (-(m + sd * z), -m + sd * norm.pdf(z) / a)
    return out


@dataclass(frozen=True, eq=False)
class RollingRegime:
    """(n_test, c) out-of-sample 1-day ``regime_scaled`` VaR (percent of NAV); NaN rows where no
    usable fit covered the day (``failures`` says why)."""

    var_pct: np.ndarray
    refit_days: tuple[int, ...]
    failures: tuple[str, ...]
    window: int
    refit_every: int


def regime_rolling_var(returns_pct: np.ndarray, window: int, n_test: int,
                       confidences: Sequence[float], refit_every: int = 63,
                       k_regimes: int = 2) -> RollingRegime:
    """1-day ``regime_scaled`` VaR for each of the last ``n_test`` days from the returns before it
    (refit schedule in the module doc)."""
    from scipy.stats import norm

    r = np.asarray(returns_pct, dtype=float)
    window, n_test, refit_every = int(window), int(n_test), int(refit_every)
    if window < MIN_REGIME_OBS or n_test < 1 or refit_every < 1:
        raise ValueError(f"need window >= {MIN_REGIME_OBS}, n_test >= 1, refit_every >= 1")
    if r.size < window + n_test:
        raise ValueError(f"{r.size} returns: the rolling regime VaR needs window + n_test = "
                         f"{window + n_test}")
    z = norm.ppf(1.0 - np.asarray(confidences, dtype=float))
    out = np.full((n_test, z.size), np.nan)
    start = r.size - n_test
    refits: list[int] = []
    failures: list[str] = []
    fit: RegimeFit | None = None
    prob = np.empty(0)
    for j in range(n_test):
        t = start + j
        if j % refit_every == 0:
            refits.append(j)
            cand = fit_regimes(r[t - window:t], k_regimes)
            if cand.converged:
                fit, prob = cand, cand.filtered[-1]
            else:
                fit = None
                failures.append(f"test day {j}: the regime fit did not converge")
        elif fit is not None:
            prob = hamilton_step(prob, float(r[t - 1]), fit.mu, fit.sigma, fit.transition)
        if fit is None:
            continue
        m, v = mixture_moments(prob, fit.mu, fit.sigma, fit.transition, 1)
        out[j] = -(m + math.sqrt(v) * z)
    return RollingRegime(var_pct=out, refit_days=tuple(refits), failures=tuple(failures),
                         window=window, refit_every=refit_every)


def regime_backtest(returns_pct: np.ndarray, window: int, n_test: int,
                    confidences: Sequence[float], refit_every: int = 63,
                    k_regimes: int = 2) -> list[Any]:
    """Kupiec/Christoffersen backtests (:func:`wsbrisk_tui.engine.backtest.evaluate_backtest`) of
    :func:`regime_rolling_var` against the realised returns, one per confidence."""
    from wsbrisk_tui.engine.backtest import evaluate_backtest

    r = np.asarray(returns_pct, dtype=float)
    roll = regime_rolling_var(r, window, n_test, confidences, refit_every, k_regimes)
    realised = r[-int(n_test):]
    details = {"scheme": f"Markov-switching (k={k_regimes}) re-estimated every {refit_every} "
                         f"days on {window} days, probabilities filtered daily in between",
               "unit": "pct_nav", "failures": list(roll.failures)}
    return [evaluate_backtest("regime_scaled", float(c), roll.var_pct[:, j], realised,
                              details=details) for j, c in enumerate(confidences)]
