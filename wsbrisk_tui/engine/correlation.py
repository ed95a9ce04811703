"""Correlation of the book's instruments: sample, EWMA and DCC matrices, breakdown, tail dependence.

Estimators (daily simple returns, oldest first)
-----------------------------------------------
* ``sample``: Pearson correlation of the last ``window`` (252) returns (``np.corrcoef``).
* ``ewma``: RiskMetrics (J.P. Morgan 1996, lambda = 0.94 for daily data), zero-mean::

      S_t = lambda S_{t-1} + (1 - lambda) r_t r_t',   corr = diag(S_T)^-1/2 S_T diag(S_T)^-1/2

  started from S_0 = (1/n) sum r_t r_t' over the same window (weight lambda^n, 1.6e-7 at n = 252).
* ``dcc``: DCC-GARCH(1,1) one-step-ahead R_{T+1} (:mod:`wsbrisk_tui.engine.dcc`) on the last
  1,260 returns (at least 250), cached by data fingerprint.

Breakdown detection
-------------------
The average pairwise correlation (mean of the off-diagonal entries) of the last 63 returns is
ranked against the same statistic on every rolling 63-day window of the history (percentile =
100 x share of historical windows at or below the current value). ``breakdown`` is True when that
percentile is >= 95: correlations are as high as in the top 5% of the book's own history, when
diversification tends to fail. Pairs with correlation >= ``threshold`` (0.8) under the reported
method are listed. Diversification ratio (Choueifaty & Coignard 2008), with dollar exposures w and
the sample covariance of the window: DR = sum |w_i| sigma_i / sqrt(w' Sigma w) (1 = no benefit).

Tail dependence
---------------
Empirical lower-tail dependence at u (0.05 and 0.10) from pseudo-observations U = rank / (n + 1)::

    lambda_L(u) = P(U_1 <= u, U_2 <= u) / u

and the Student-t copula's coefficient (Embrechts, McNeil & Straumann 2002)::

    lambda = 2 t_{nu+1}( -sqrt((nu + 1)(1 - rho) / (1 + rho)) )

with rho = sin(pi tau / 2) from Kendall's tau per pair and one nu for the book fitted by maximum
likelihood of the t copula density on the pseudo-observations (Demarta & McNeil 2005), nu in
[2.05, 200]. The empirical number at u = 5% is a finite-u estimate, not the limit u -> 0 the t
copula formula gives: the two answer different questions and are shown side by side.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from wsbrisk_tui.engine.inputs import RiskInputs
    from wsbrisk_tui.engine.model import MarketData

EWMA_LAMBDA = 0.94
WINDOW_DAYS = 252
ROLLING_DAYS = 63
DCC_DAYS = 1260
DCC_MIN_DAYS = 250
TAIL_DAYS = 1260
THRESHOLD = 0.80
BREAKDOWN_PERCENTILE = 95.0
NU_BOUNDS = (2.05, 200.0)
METHODS = ("ewma", "sample", "dcc")


def cov_to_corr(S: np.ndarray) -> np.ndarray:
    d = np.sqrt(np.diag(S))
    C = S / np.outer(d, d)
    np.fill_diagonal(C, 1.0)
    return C


def sample_corr(returns: np.ndarray) -> np.ndarray:
    """Pearson correlation of the columns of (n, k) returns."""
    return np.atleast_2d(np.corrcoef(np.asarray(returns, dtype=float), rowvar=False))


def ewma_cov(returns: np.ndarray, lam: float = EWMA_LAMBDA, S0: np.ndarray | None = None) -> np.ndarray:
    """RiskMetrics S_T (module docstring), in closed form: lam^n S_0 + (1-lam) sum lam^(n-t) r_t r_t'."""
    r = np.asarray(returns, dtype=float)
    n = r.shape[0]
    if not 0.0 < lam < 1.0:
        raise ValueError("lambda must be in (0, 1)")
    S0 = r.T @ r / n if S0 is None else np.asarray(S0, dtype=float)
    w = (1.0 - lam) * lam ** np.arange(n - 1, -1, -1, dtype=float)
    return lam ** n * S0 + (r * w[:, None]).T @ r


def ewma_corr(returns: np.ndarray, lam: float = EWMA_LAMBDA) -> np.ndarray:
    return cov_to_corr(ewma_cov(returns, lam))


def average_pairwise(C: np.ndarray) -> float:
    """Mean of the off-diagonal entries of a correlation matrix."""
    k = C.shape[0]
    if k < 2:
        return math.nan
    iu = np.triu_indices(k, 1)
    return float(np.mean(C[iu]))


def rolling_average_corr(returns: np.ndarray, window: int = ROLLING_DAYS) -> np.ndarray:
    """Average pairwise sample correlation of every rolling ``window`` of (n, k) returns, (n-w+1,).

    Window moments from cumulative sums of r_i and r_i r_j over the pairs i <= j (vectorised; the
    same numbers as np.corrcoef on each window).
    """
    r = np.asarray(returns, dtype=float)
    n, k = r.shape
    if n < window or k < 2:
        return np.empty(0)
    r = r - r.mean(axis=0)  # centring changes no correlation and keeps the running sums accurate
    iu = np.triu_indices(k, 1)
    zero = np.zeros((1, k))
    c1 = np.concatenate([zero, np.cumsum(r, axis=0)])
    c_sq = np.concatenate([zero, np.cumsum(r * r, axis=0)])
    c_x = np.concatenate([np.zeros((1, iu[0].size)), np.cumsum(r[:, iu[0]] * r[:, iu[1]], axis=0)])
    s1 = c1[window:] - c1[:-window]
    var = (c_sq[window:] - c_sq[:-window]) - s1 * s1 / window
    cov = (c_x[window:] - c_x[:-window]) - s1[:, iu[0]] * s1[:, iu[1]] / window
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = cov / np.sqrt(var[:, iu[0]] * var[:, iu[1]])
    return corr.mean(axis=1)


def percentile_of(value: float, history: np.ndarray) -> float | None:
    """100 x share of ``history`` at or below ``value`` (None for an empty history)."""
    h = np.asarray(history, dtype=float)
    h = h[np.isfinite(h)]
    if h.size == 0 or not math.isfinite(value):
        return None
    return 100.0 * float(np.count_nonzero(h <= value + 1e-12)) / h.size


def pairs_above(C: np.ndarray, symbols: Sequence[str], threshold: float) -> list[dict[str, Any]]:
    """Pairs with correlation >= threshold, highest first."""
    iu = np.triu_indices(C.shape[0], 1)
    vals = C[iu]
    order = np.argsort(-vals, kind="stable")
    return [{"a": symbols[iu[0][o]], "b": symbols[iu[1][o]], "corr": float(vals[o])}
            for o in order if vals[o] >= threshold]


def diversification_ratio(exposure: np.ndarray, cov: np.ndarray) -> float | None:
    """sum |w_i| sigma_i / sqrt(w' Sigma w) for dollar exposures w (None when undefined)."""
    w = np.asarray(exposure, dtype=float)
    var_p = float(w @ cov @ w)
    if not var_p > 0:
        return None
    return float(np.abs(w) @ np.sqrt(np.diag(cov))) / math.sqrt(var_p)


# --------------------------------------------------------------------------------------------
# Tail dependence
# --------------------------------------------------------------------------------------------


def pseudo_observations(returns: np.ndarray) -> np.ndarray:
    """Column ranks / (n + 1): the empirical copula's uniforms (ties: average rank)."""
    from scipy.stats import rankdata

    r = np.asarray(returns, dtype=float)
    return rankdata(r, axis=0) / (r.shape[0] + 1.0)


def empirical_lower_tail(u1: np.ndarray, u2: np.ndarray, q: float) -> float:
    """P(U1 <= q, U2 <= q) / q from pseudo-observations."""
    return float(np.count_nonzero((u1 <= q) & (u2 <= q))) / (u1.shape[0] * q)


def t_copula_lambda(rho: float | np.ndarray, nu: float) -> float | np.ndarray:
    """Tail dependence of a t copula: 2 t_{nu+1}(-sqrt((nu+1)(1-rho)/(1+rho)))."""
    from scipy.stats import t as student_t

    rho = np.asarray(rho, dtype=float)
    with np.errstate(divide="ignore"):
        arg = -np.sqrt((nu + 1.0) * (1.0 - rho) / (1.0 + rho))
    out = 2.0 * student_t.cdf(arg, nu + 1.0)
    return float(out) if out.ndim == 0 else out


def kendall_corr(returns: np.ndarray) -> np.ndarray:
    """rho_ij = sin(pi tau_ij / 2) from Kendall's tau (exact for elliptical copulas)."""
    from scipy.stats import kendalltau

    r = np.asarray(returns, dtype=float)
    k = r.shape[1]
    C = np.eye(k)
    for i in range(k):
        for j in range(i + 1, k):
            tau = kendalltau(r[:, i], r[:, j]).statistic
            C[i, j] = C[j, i] = math.sin(math.pi * tau / 2.0)
    return nearest_correlation(C)


def nearest_correlation(C: np.ndarray, floor: float = 1e-6) -> np.ndarray:
    """Clip eigenvalues at ``floor`` and rescale to unit diagonal (a pairwise matrix may not be PD)."""
    vals, vecs = np.linalg.eigh((C + C.T) / 2.0)
    if vals.min() >= floor:
        return C
    fixed = (vecs * np.maximum(vals, floor)) @ vecs.T
    return cov_to_corr(fixed)


def t_copula_loglik(U: np.ndarray, R: np.ndarray, nu: float) -> float:
    """Log-likelihood of a t copula with correlation R and nu degrees of freedom at uniforms U."""
    from scipy.special import gammaln
    from scipy.stats import t as student_t

    n, k = U.shape
    x = student_t.ppf(U, nu)
    L = np.linalg.cholesky(R)
    y = np.linalg.solve(L, x.T)
    quad = np.sum(y * y, axis=0)
    logdet = 2.0 * np.sum(np.log(np.diag(L)))
    joint = (gammaln((nu + k) / 2.0) - gammaln(nu / 2.0) - 0.5 * k * math.log(nu * math.pi)
             - 0.5 * logdet - (nu + k) / 2.0 * np.log1p(quad / nu))
    margins = student_t.logpdf(x, nu).sum(axis=1)
    return float(np.sum(joint - margins))


def fit_t_copula(returns: np.ndarray) -> tuple[np.ndarray, float]:
    """(R from Kendall's tau, nu by maximum likelihood in NU_BOUNDS) of a t copula."""
    from scipy.optimize import minimize_scalar

    U = pseudo_observations(returns)
    R = kendall_corr(returns)
    lo, hi = math.log(NU_BOUNDS[0]), math.log(NU_BOUNDS[1])
    res = minimize_scalar(lambda s: -t_copula_loglik(U, R, math.exp(s)), bounds=(lo, hi),
                          method="bounded", options={"xatol": 1e-3})
    return R, float(math.exp(res.x))


def tail_dependence(returns: np.ndarray, symbols: Sequence[str], nu: float | None = None
                    ) -> tuple[list[dict[str, Any]], float, np.ndarray]:
    """Per pair: empirical lambda_L at 5% and 10% and the t-copula coefficient (module docstring).

    ``nu`` given: used as is (R from Kendall's tau); else fitted with :func:`fit_t_copula`.
    """
    r = np.asarray(returns, dtype=float)
    U = pseudo_observations(r)
    if nu is None:
        R, nu = fit_t_copula(r)
    else:
        R = kendall_corr(r)
    lam = t_copula_lambda(R, nu)
    out = []
    k = r.shape[1]
    for i in range(k):
        for j in range(i + 1, k):
            out.append({"a": symbols[i], "b": symbols[j],
                        "empirical_5pct": empirical_lower_tail(U[:, i], U[:, j], 0.05),
                        "empirical_10pct": empirical_lower_tail(U[:, i], U[:, j], 0.10),
                        "t_copula": float(lam[i, j]), "rho_kendall": float(R[i, j])})
    out.sort(key=lambda d: -d["empirical_5pct"])
    return out, nu, R


# --------------------------------------------------------------------------------------------
# The section
# --------------------------------------------------------------------------------------------


def book_returns(inputs: "RiskInputs", market: "MarketData") -> tuple[list[str], np.ndarray, np.ndarray, list[str]]:
    """(symbols, dates, (n, k) returns, notes) of the book's instruments over their common history.

    Same rule as :func:`wsbrisk_tui.engine.pipeline.align_history`: the history starts when the
    latest series starts, and a date missing for one series is dropped for all (never filled).
    """
    from wsbrisk_tui.engine.factors import VOL_FACTOR

    symbols = [a for a in inputs.assets if a != VOL_FACTOR and a in market.prices.columns]
    notes: list[str] = []
    if not symbols:
        return symbols, np.empty(0, dtype="datetime64[D]"), np.empty((0, 0)), notes
    values = market.prices[symbols].to_numpy(dtype=float)
    dates = market.prices.index.to_numpy(dtype="datetime64[D]")
    finite = np.isfinite(values)
    starts = np.array([np.argmax(finite[:, j]) if finite[:, j].any() else values.shape[0]
                       for j in range(len(symbols))])
    start = int(starts.max())
    if start > 0 and start < values.shape[0]:
        notes.append(f"correlation history starts when {symbols[int(starts.argmax())]} starts "
                     f"({dates[start]})")
    keep = np.all(finite[start:], axis=1)
    dropped = int(np.count_nonzero(~keep))
    if dropped:
        notes.append(f"{dropped} dates dropped where a series had no price")
    prices = values[start:][keep]
    d = dates[start:][keep]
    returns = prices[1:] / prices[:-1] - 1.0 if prices.shape[0] > 1 else np.empty((0, len(symbols)))
    return symbols, d[1:], returns, notes


#: Points of each pair's rolling-correlation history kept in the section (for the pair sparkline),
#: spread evenly over the last PAIR_HISTORY_DAYS; rounded to 3 decimals to keep snapshots small.
PAIR_HISTORY_POINTS = 40
PAIR_HISTORY_DAYS = 1_000


def pair_history(R_all: np.ndarray, dates: np.ndarray, symbols: Sequence[str],
                 rolling: int = ROLLING_DAYS, points: int = PAIR_HISTORY_POINTS,
                 days: int = PAIR_HISTORY_DAYS) -> dict[str, Any]:
    """Rolling ``rolling``-day sample correlation of every pair at ``points`` window ends spread
    evenly over the last ``days`` returns: ``{"window", "dates", "pairs": {"A|B": [...]}}``.

    Each value is the Pearson correlation of the ``rolling`` returns ending at that date (the same
    statistic as ``average_63d``, per pair), so the pair drill-down shows how the pair moved."""
    n = R_all.shape[0]
    if n < rolling or len(symbols) < 2:
        return {"window": rolling, "dates": [], "pairs": {}}
    first_end = max(rolling, n - days)
    ends = np.unique(np.linspace(first_end, n, num=min(points, n - first_end + 1)).astype(int))
    iu = np.triu_indices(len(symbols), 1)
    series = np.array([sample_corr(R_all[e - rolling:e])[iu] for e in ends])  # (points, pairs)
    pairs = {f"{symbols[i]}|{symbols[j]}": [round(float(v), 3) for v in series[:, c]]
             for c, (i, j) in enumerate(zip(*iu))}
    return {"window": rolling, "dates": [str(dates[e - 1]) for e in ends], "pairs": pairs}


def history_statistics(R_all: np.ndarray, symbols: Sequence[str], rolling: int = ROLLING_DAYS,
                       nu: float | None = None, cache: Any = None) -> dict[str, Any]:
    """The data-only part of the section (rolling averages, tail dependence, t-copula fit), cached
    by a fingerprint of the returns when ``cache`` is given."""

    def compute() -> dict[str, Any]:
        tails, nu_fit, _ = tail_dependence(R_all[-TAIL_DAYS:], symbols, nu=nu)
        return {"rolling": rolling_average_corr(R_all, rolling), "tails": tails, "nu": nu_fit}

    if cache is None:
        return compute()
    from wsbrisk_tui.engine.volatility import fingerprint

    key = ("corr_history", tuple(symbols), rolling, nu, R_all.shape, fingerprint(R_all.reshape(-1)))
    return cache.get_or_compute(key, compute)


def correlation_section(inputs: "RiskInputs", market: "MarketData", *, method: str = "ewma",
                        lam: float = EWMA_LAMBDA, window: int = WINDOW_DAYS,
                        threshold: float = THRESHOLD, rolling: int = ROLLING_DAYS,
                        breakdown_percentile: float = BREAKDOWN_PERCENTILE, dcc: bool = True,
                        nu: float | None = None, cache: Any = None) -> dict[str, Any]:
    """The ``correlation`` snapshot section (keys documented in the README).

    ``method`` picks the reported ``matrix`` ("ewma", "sample" or "dcc"); all three are in
    ``methods_available`` (``dcc`` null with ``dcc_reason`` when it cannot be fitted). Requesting
    "dcc" when the fit is unavailable raises nothing: ``method`` falls back to "ewma" and
    ``notes`` says so.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}")
    symbols, dates, R_all, notes = book_returns(inputs, market)
    base: dict[str, Any] = {"method": method, "symbols": symbols, "matrix": None, "average": None,
                            "average_63d": None, "average_percentile": None, "breakdown": None,
                            "breakdown_percentile": breakdown_percentile, "threshold": threshold,
                            "top_pairs": [], "diversification_ratio": None, "tail_dependence": [],
                            "t_copula_nu": None, "methods_available": {"sample": None, "ewma": None,
                                                                       "dcc": None},
                            "dcc": None, "dcc_reason": None, "window": window, "ewma_lambda": lam,
                            "dates": None, "notes": notes}
    if len(symbols) < 2:
        base["reason"] = "correlation needs at least two instruments with price history"
        return base
    n = R_all.shape[0]
    if n < max(rolling, 30):
        base["reason"] = f"only {n} common daily returns"
        return base
    R = R_all[-window:]
    sample = sample_corr(R)
    ewma = ewma_corr(R, lam)
    available: dict[str, Any] = {"sample": sample, "ewma": ewma, "dcc": None}
    dcc_fit = None
    if dcc:
        from wsbrisk_tui.engine.dcc import fit_dcc

        R_dcc = R_all[-DCC_DAYS:]
        if R_dcc.shape[0] < DCC_MIN_DAYS:
            base["dcc_reason"] = f"only {R_dcc.shape[0]} returns; DCC needs {DCC_MIN_DAYS}"
        else:
            dcc_fit = fit_dcc(R_dcc, symbols, cache=cache)
            if dcc_fit.converged:
                available["dcc"] = dcc_fit.correlation
            else:
                base["dcc_reason"] = dcc_fit.reason
    else:
        base["dcc_reason"] = "DCC not requested"
    chosen = method
    if available[chosen] is None:
        chosen = "ewma"
        notes.append(f"{method} correlation unavailable ({base['dcc_reason']}): showing ewma")
    C = available[chosen]
    stats = history_statistics(R_all, symbols, rolling, nu, cache)
    history = stats["rolling"]
    current = float(history[-1]) if history.size else math.nan
    pct = percentile_of(current, history)
    # value-weighted exposure per instrument (delta-equivalent for options)
    exposure = np.asarray(inputs.exposure, dtype=float)
    w = np.array([exposure[:, inputs.assets.index(s)].sum() for s in symbols])
    cov = np.atleast_2d(np.cov(R, rowvar=False, ddof=1))
    tails, nu_fit = stats["tails"], stats["nu"]
    base.update(
        pair_history=pair_history(R_all, dates, symbols, rolling),
        method=chosen, matrix=C, average=average_pairwise(C), average_63d=current,
        average_percentile=pct, breakdown=None if pct is None else pct >= breakdown_percentile,
        top_pairs=pairs_above(C, symbols, threshold), diversification_ratio=diversification_ratio(w, cov),
        tail_dependence=tails, t_copula_nu=nu_fit, methods_available=available,
        dcc=dcc_fit.to_dict() if dcc_fit is not None else None,
        dates=[str(dates[-R.shape[0]]), str(dates[-1])],
        history_windows=int(history.size),
    )
    base["matrix"] = C.tolist()
    base["methods_available"] = {k: (v.tolist() if v is not None else None) for k, v in available.items()}
    return base
