"""Backtesting 1-day VaR forecasts: Kupiec, Christoffersen and the Basel traffic light.

An EXCEPTION is a day whose realised loss exceeds the VaR forecast made before it, i.e.
``realised_pnl < -var`` (VaR is a positive loss). With hit indicators I_t and tail probability
p = 1 - confidence:

* Kupiec (1995) proportion of failures, "Techniques for verifying the accuracy of risk
  measurement models", J. Derivatives 3: x exceptions in n days,
  LR_pof = -2 ln[(1-p)^(n-x) p^x] + 2 ln[(1-x/n)^(n-x) (x/n)^x] ~ chi2(1).
* Christoffersen (1998) independence and conditional coverage, "Evaluating interval forecasts",
  Int. Economic Review 39: a first-order Markov chain on I_t with transition counts n_ij (i at t-1,
  j at t), pi_0 = n01/(n00+n01), pi_1 = n11/(n10+n11), pi = (n01+n11)/(n-1),
  LR_ind = -2 ln[(1-pi)^(n00+n10) pi^(n01+n11)] + 2 ln[(1-pi_0)^n00 pi_0^n01 (1-pi_1)^n10 pi_1^n11]
  ~ chi2(1), and LR_cc = LR_pof + LR_ind ~ chi2(2) (LR_pof over all n days, LR_ind over the n-1
  transitions, the usual practice).
* Basel Committee (1996), "Supervisory framework for the use of backtesting in conjunction with
  the internal models approach", Table 2: green while the binomial CDF P(X <= x) < 95%, yellow
  while < 99.99%, red otherwise.

Degenerate counts use the convention 0 x ln 0 = 0 (the limit), so x = 0, x = n, a chain that never
leaves state 0, or one with no exception before the last day all give finite statistics.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from wsbrisk_tui.engine.model import BacktestResult

#: Fewer valid forecast days than this and the coverage tests say nothing; the result is n/a.
MIN_BACKTEST_OBS = 50
GREEN_LIMIT = 0.95
YELLOW_LIMIT = 0.9999


def _xlogy(x: float, y: float) -> float:
    """x ln y with 0 ln 0 = 0 (and 0 ln anything = 0)."""
    return 0.0 if x == 0 else x * math.log(y)


def _check_p(p: float) -> float:
    p = float(p)
    if not 0.0 < p < 1.0:
        raise ValueError(f"tail probability p must be in (0, 1), got {p}")
    return p


def kupiec_pof(exceptions: int, n: int, p: float) -> tuple[float, float]:
    """Kupiec's proportion-of-failures LR and its chi2(1) p-value (see module doc)."""
    p = _check_p(p)
    x, n = int(exceptions), int(n)
    if n < 1 or not 0 <= x <= n:
        raise ValueError(f"need 0 <= exceptions <= n and n >= 1, got x={x}, n={n}")
    from scipy.stats import chi2

    phat = x / n
    lr = -2.0 * (_xlogy(n - x, 1 - p) + _xlogy(x, p)) + 2.0 * (_xlogy(n - x, 1 - phat)
                                                                + _xlogy(x, phat))
    lr = max(lr, 0.0)  # rounding can make a zero statistic -1e-15
    return lr, float(chi2.sf(lr, 1))


def transition_counts(hits: np.ndarray) -> tuple[int, int, int, int]:
    """(n00, n01, n10, n11): counts of (I_{t-1}, I_t) pairs in a hit sequence."""
    h = np.asarray(hits, dtype=bool)
    prev, cur = h[:-1], h[1:]
    return (int(np.count_nonzero(~prev & ~cur)), int(np.count_nonzero(~prev & cur)),
            int(np.count_nonzero(prev & ~cur)), int(np.count_nonzero(prev & cur)))


def christoffersen(hits: np.ndarray, p: float) -> tuple[float, float, float, float]:
    """Christoffersen's (LR_ind, p_ind, LR_cc, p_cc) for a boolean hit sequence (module doc)."""
    p = _check_p(p)
    h = np.asarray(hits, dtype=bool)
    if h.ndim != 1 or h.size < 2:
        raise ValueError("christoffersen needs a 1-D hit sequence of at least 2 days")
    from scipy.stats import chi2

    n00, n01, n10, n11 = transition_counts(h)
    n0, n1 = n00 + n01, n10 + n11
    pi = (n01 + n11) / (n0 + n1)
    pi0 = n01 / n0 if n0 else 0.0
    pi1 = n11 / n1 if n1 else 0.0
    ll_null = _xlogy(n00 + n10, 1 - pi) + _xlogy(n01 + n11, pi)
    ll_alt = (_xlogy(n00, 1 - pi0) + _xlogy(n01, pi0) + _xlogy(n10, 1 - pi1)
              + _xlogy(n11, pi1))
    lr_ind = max(-2.0 * (ll_null - ll_alt), 0.0)
    lr_pof, _ = kupiec_pof(int(h.sum()), int(h.size), p)
    lr_cc = lr_pof + lr_ind
    return lr_ind, float(chi2.sf(lr_ind, 1)), lr_cc, float(chi2.sf(lr_cc, 2))


def traffic_light(exceptions: int, n: int, confidence: float) -> str:
    """Basel zone of ``exceptions`` in ``n`` days for VaR at ``confidence``: green while
    P(X <= x) < 0.95, yellow while < 0.9999, red otherwise, X ~ Binomial(n, 1 - confidence).
    (n = 250, 99%: green 0-4, yellow 5-9, red 10+.)"""
    p = _check_p(1.0 - float(confidence))
    from scipy.stats import binom

    cdf = float(binom.cdf(int(exceptions), int(n), p))
    if cdf < GREEN_LIMIT:
        return "green"
    if cdf < YELLOW_LIMIT:
        return "yellow"
    return "red"


def evaluate_backtest(method: str, confidence: float, var_forecasts: Sequence[float] | np.ndarray,
                      realised_pnl: Sequence[float] | np.ndarray,
                      details: dict[str, Any] | None = None) -> BacktestResult:
    """Coverage tests of 1-day VaR forecasts against the P&L realised on the same days.

    ``var_forecasts[t]`` (positive loss) must have been made before day t; ``realised_pnl[t]`` is
    that day's P&L in the same unit. Days with a NaN forecast (a window where the method was n/a)
    are excluded and counted in ``details["excluded_nan"]``; a NaN realised P&L is an input error.
    Fewer than :data:`MIN_BACKTEST_OBS` valid days gives ``status="n/a"``.
    """
    var = np.asarray(var_forecasts, dtype=float)
    pnl = np.asarray(realised_pnl, dtype=float)
    if var.shape != pnl.shape or var.ndim != 1:
        raise ValueError(f"var_forecasts {var.shape} and realised_pnl {pnl.shape} must be the "
                         "same 1-D length")
    if not np.all(np.isfinite(pnl)):
        raise ValueError("realised_pnl has non-finite values; the backtest needs every day's P&L")
    p = _check_p(1.0 - float(confidence))
    valid = np.isfinite(var)
    n = int(valid.sum())
    info: dict[str, Any] = dict(details or {})
    info.update({"excluded_nan": int(var.size - n), "tail_prob": p, "expected_exceptions": n * p,
                 "test_days": int(var.size)})
    if n < MIN_BACKTEST_OBS:
        return BacktestResult(method=method, confidence=float(confidence), observations=n,
                              exceptions=None, status="n/a",
                              reason=f"{n} days with a forecast, the backtest needs at least "
                                     f"{MIN_BACKTEST_OBS}", details=info)
    hits = pnl[valid] < -var[valid]
    x = int(hits.sum())
    lr_pof, p_pof = kupiec_pof(x, n, p)
    lr_ind, p_ind, lr_cc, p_cc = christoffersen(hits, p)
    info["exception_rate"] = x / n
    info["exception_index"] = [int(i) for i in np.flatnonzero(valid)[hits]]
    if info["excluded_nan"]:
        info["note"] = ("days without a forecast were dropped, so the independence test links "
                        "the days on either side of each gap")
    return BacktestResult(method=method, confidence=float(confidence), observations=n,
                          exceptions=x, kupiec_lr=lr_pof, kupiec_p=p_pof,
                          christoffersen_lr=lr_ind, christoffersen_p=p_ind, cc_lr=lr_cc, cc_p=p_cc,
                          zone=traffic_light(x, n, confidence), details=info)
