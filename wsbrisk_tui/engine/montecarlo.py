"""Monte Carlo VaR/ES: multivariate normal, and a Student-t copula with optional regimes.

Both simulate ASSET returns and value them through ``RiskInputs.revalue(R, h)`` (exact for a
linear book, full revaluation for options), then read VaR and ES off the simulated book P&L with
the project's historical convention (:func:`wsbrisk_tui.engine.var.historical`, or its weighted
form for the regime mixture).

Monte Carlo standard errors (reported, never hidden in the number):

* VaR: the asymptotic variance of a sample quantile, sqrt(a (1 - a) / n) / f(q), a = 1 - c, with
  f the Gaussian-kernel density of the simulated P&L at the quantile (Silverman's bandwidth);
  antithetic pairs are treated as independent paths, which overstates the error (the pair of a
  tail path lies in the other tail), so the figure is conservative;
* ES: the CTE estimator's asymptotic variance [Var(L | L >= VaR) + c (ES - VaR)^2] / (n a)
  (Manistre & Hancock, 2005, "Variance of the CTE estimator", North American Actuarial J. 9).

With weighted paths (regime mixture) n is Kish's effective sample size (sum w)^2 / sum w^2.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from wsbrisk_tui.engine.inputs import RiskInputs
from wsbrisk_tui.engine.var import fit_student_t, historical, tail_probabilities, weighted_var_es

#: Eigenvalue floor when a correlation or covariance matrix must be repaired.
EIGEN_FLOOR = 1e-10
#: t-copula degrees of freedom: profile grid and bounds (beyond 200 it is a Gaussian copula).
COPULA_DF_GRID: tuple[float, ...] = (1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0, 13.0,
                                     17.0, 23.0, 30.0, 40.0, 60.0, 100.0, 200.0)
#: Fewer days than this in a regime and its copula is not estimable.
MIN_REGIME_DAYS = 30

Marginals = Literal["empirical", "t"]


# --------------------------------------------------------------------------------------------
# VaR / ES and their Monte Carlo errors from simulated P&L
# --------------------------------------------------------------------------------------------


def _kde_at(x: np.ndarray, w: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Gaussian kernel density of the weighted sample at ``points`` (Silverman's rule of thumb,
    h = 0.9 min(sd, IQR/1.34) n_eff^(-1/5))."""
    mean = float(np.sum(w * x))
    sd = math.sqrt(max(float(np.sum(w * (x - mean) ** 2)), 0.0))
    q25, q75 = np.quantile(x, [0.25, 0.75])
    spread = min(sd, (q75 - q25) / 1.34) if q75 > q25 else sd
    n_eff = 1.0 / float(np.sum(w * w))
    bw = 0.9 * spread * n_eff ** -0.2
    if not bw > 0.0:
        return np.full(points.shape, np.nan)
    z = (x[None, :] - points[:, None]) / bw
    return (np.exp(-0.5 * z * z) @ w) / (bw * math.sqrt(2.0 * math.pi))


def simulated_var_es(pnl: np.ndarray, confidences: Sequence[float],
                     weights: np.ndarray | None = None) -> dict[str, np.ndarray | float]:
    """VaR, ES (c,) of simulated P&L with their Monte Carlo standard errors (module docstring).

    Equal weights use :func:`historical`; weights use :func:`weighted_var_es`.
    """
    x = np.asarray(pnl, dtype=float).reshape(-1)
    a = tail_probabilities(confidences)
    if weights is None:
        var, es = historical(x, confidences)
        w = np.full(x.size, 1.0 / x.size)
    else:
        w = np.asarray(weights, dtype=float)
        w = w / w.sum()
        var, es = weighted_var_es(x, w, confidences)
    var, es = var[0], es[0]
    n_eff = 1.0 / float(np.sum(w * w))
    dens = _kde_at(x, w, -var)
    with np.errstate(divide="ignore", invalid="ignore"):
        se = np.sqrt(a * (1.0 - a) / n_eff) / dens
    es_se = np.empty_like(es)
    for j in range(a.size):
        tail = x <= -var[j]
        tw = w[tail] / w[tail].sum()
        tail_var = float(np.sum(tw * (x[tail] + es[j]) ** 2))
        es_se[j] = math.sqrt((tail_var + (1.0 - a[j]) * (es[j] - var[j]) ** 2) / (n_eff * a[j]))
    return {"var": var, "es": es, "std_error": se, "es_std_error": es_se, "n_eff": n_eff}


# --------------------------------------------------------------------------------------------
# Multivariate normal
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class NormalFit:
    """Mean (k,) and a factor F (k, k) with F F' = covariance (ddof = 1) of daily asset returns.

    ``factor_method`` is ``"cholesky"``, or ``"eigen (clipped)"`` when the covariance is not
    positive definite (fewer days than assets, a constant or duplicated series; numerically: the
    Cholesky factorisation fails or a pivot is below 1e-7 of the largest sd): F = V sqrt(max(L, 0))
    from its eigen decomposition, the nearest positive semi-definite covariance.
    """

    mean: np.ndarray
    factor: np.ndarray
    factor_method: str
    n_obs: int
    min_eigenvalue: float | None = None

    def details(self) -> dict[str, Any]:
        out: dict[str, Any] = {"covariance_factor": self.factor_method, "n_obs": self.n_obs}
        if self.min_eigenvalue is not None:
            out["covariance_min_eigenvalue"] = self.min_eigenvalue
            out["note"] = ("covariance not positive definite: simulated with its eigen "
                           "decomposition, negative eigenvalues set to 0")
        return out


def fit_normal(returns: np.ndarray) -> NormalFit:
    """Sample mean and covariance (ddof = 1) of (n, k) daily returns, with a simulation factor."""
    r = np.asarray(returns, dtype=float)
    if r.ndim != 2 or r.shape[0] < 2:
        raise ValueError(f"returns must be (n >= 2, k), got shape {r.shape}")
    if not np.all(np.isfinite(r)):
        raise ValueError("returns must be finite")
    mean = r.mean(axis=0)
    cov = np.atleast_2d(np.cov(r, rowvar=False))
    try:
        chol: np.ndarray | None = np.linalg.cholesky(cov)
    except np.linalg.LinAlgError:  # not positive definite: the eigen factor below
        chol = None
    # a pivot at rounding level means a singular matrix that factorised by luck
    if chol is not None and np.min(np.diag(chol)) > 1e-7 * math.sqrt(float(np.max(np.diag(cov)))):
        return NormalFit(mean, chol, "cholesky", r.shape[0])
    vals, vecs = np.linalg.eigh(cov)
    return NormalFit(mean, vecs * np.sqrt(np.clip(vals, 0.0, None))[None, :],
                     "eigen (clipped)", r.shape[0], float(vals.min()))


def _check_paths(n_paths: int) -> int:
    if int(n_paths) != n_paths or n_paths < 100 or n_paths % 2:
        raise ValueError(f"n_paths must be an even integer >= 100 (antithetic pairs), got {n_paths}")
    return int(n_paths)


def book_pnl(inputs: RiskInputs, returns: np.ndarray, horizon_days: int) -> np.ndarray:
    """Book P&L (s,) of (s, k) h-day asset return scenarios: ``revalue`` summed over positions.

    For a linear book (``inputs.linear``) this is R @ (sum of the exposure rows), the same number
    without forming the (s, p) position P&L.
    """
    if inputs.linear:
        return np.asarray(returns, dtype=float) @ np.asarray(inputs.exposure, dtype=float).sum(axis=0)
    return np.asarray(inputs.revalue(returns, horizon_days)).sum(axis=1)


def _mc_dict(h: int, pnl: np.ndarray, confidences: Sequence[float], n: int,
             details: dict[str, Any], weights: np.ndarray | None = None) -> dict[str, Any]:
    res = simulated_var_es(pnl, confidences, weights)
    return {"horizon_days": h, "var": res["var"], "es": res["es"], "std_error": res["std_error"],
            "es_std_error": res["es_std_error"], "paths": n, "pnl": pnl,
            "details": {**details, "paths": n, "effective_paths": res["n_eff"]}}


def monte_carlo_normal(inputs: RiskInputs, confidences: Sequence[float], horizons: Sequence[int],
                       n_paths: int = 10_000, *, rng: np.random.Generator, window: int = 252,
                       fit: NormalFit | None = None) -> list[dict[str, Any]]:
    """Multivariate-normal Monte Carlo VaR/ES for each horizon.

    Model: daily asset returns over the last ``window`` days are i.i.d. N(mu, Sigma) (sample mean,
    covariance with ddof = 1); h-day returns are N(mu h, Sigma h) (i.i.d. aggregation of simple
    returns, the same approximation as the parametric sqrt-time rule). Paths: n_paths / 2
    standard normal draws Z and their antithetic twins -Z, R = mu h + sqrt(h) (Z F'), so the
    simulated mean return is exactly mu h; the same Z serve every horizon (common random numbers:
    the term structure is smooth). Book P&L = ``inputs.revalue(R, h)`` summed over positions
    (:func:`book_pnl`; for a linear book the product is taken in the cheaper order
    Z (F' e), e the book's exposure per asset, which is the same number).

    Returns one dict per horizon: ``horizon_days``, ``var``, ``es``, ``std_error``,
    ``es_std_error`` (c,) in currency, ``paths`` (n_paths), ``pnl`` (the simulated book P&L) and
    ``details``. ``fit`` reuses a cached :func:`fit_normal` of the same window.
    """
    n = _check_paths(n_paths)
    if fit is None:
        fit = fit_normal(inputs.asset_returns[-window:])
    z = rng.standard_normal((n // 2, fit.mean.size))
    details = {**fit.details(), "antithetic": True,
               "std_error_method": "asymptotic quantile variance with a kernel density at the "
                                   "quantile"}
    out: list[dict[str, Any]] = []
    if inputs.linear:
        e = np.asarray(inputs.exposure, dtype=float).sum(axis=0)
        half = z @ (fit.factor.T @ e)
        shock_pnl = np.concatenate([half, -half])
        drift = float(fit.mean @ e)
        for h in horizons:
            h = int(h)
            out.append(_mc_dict(h, drift * h + math.sqrt(h) * shock_pnl, confidences, n, details))
        return out
    shock = z @ fit.factor.T
    shock = np.concatenate([shock, -shock])
    for h in horizons:
        h = int(h)
        pnl = book_pnl(inputs, fit.mean * h + math.sqrt(h) * shock, h)
        out.append(_mc_dict(h, pnl, confidences, n, details))
    return out


# --------------------------------------------------------------------------------------------
# Student-t copula
# --------------------------------------------------------------------------------------------


def pseudo_observations(returns: np.ndarray) -> np.ndarray:
    """Average ranks / (n + 1) of each column of (n, k) returns, in (0, 1)."""
    from scipy.stats import rankdata

    r = np.asarray(returns, dtype=float)
    return rankdata(r, axis=0, method="average") / (r.shape[0] + 1.0)


def kendall_tau_matrix(returns: np.ndarray, block_rows: int = 1 << 15) -> np.ndarray:
    """Kendall's tau-b (k, k) of the columns of (n, k) returns, for all pairs at once.

    With S the (n(n-1)/2, k) matrix of sign(x_i - x_j) over pairs i > j, the Gram matrix G = S'S
    holds concordant minus discordant counts and its diagonal the untied pair counts, so
    tau_b = G_ab / sqrt(G_aa G_bb) (the definition ``scipy.stats.kendalltau`` computes). S is
    built lag by lag in float32 blocks (exact: entries are -1, 0, 1 and sums stay below 2^24)
    and G accumulated by matrix products: O(n^2 k^2) flops but in BLAS. Constant columns give NaN.
    """
    from scipy.stats import rankdata

    x = np.asarray(returns, dtype=float)
    n, k = x.shape
    if n > 5000:
        raise ValueError(f"{n} observations: the pairwise Kendall computation is sized for <= 5000")
    ranks = rankdata(x, axis=0, method="average").astype(np.float32)  # multiples of 0.5: exact
    gram = np.zeros((k, k))
    buf = np.empty((block_rows + n, k), dtype=np.float32)
    lag = 1
    while lag < n:
        rows = 0
        while lag < n and rows < block_rows:
            np.subtract(ranks[lag:], ranks[:-lag], out=buf[rows:rows + n - lag])
            rows += n - lag
            lag += 1
        block = buf[:rows]
        np.sign(block, out=block)
        gram += block.T @ block
    d = np.sqrt(np.diag(gram))
    with np.errstate(divide="ignore", invalid="ignore"):
        return gram / np.outer(d, d)


def nearest_correlation(corr: np.ndarray) -> tuple[np.ndarray, float | None]:
    """A positive definite correlation matrix near ``corr``: eigenvalues below
    :data:`EIGEN_FLOOR` are raised to it and the result rescaled to a unit diagonal (Rousseeuw &
    Molenberghs, 1993). Returns (matrix, smallest eigenvalue before repair or None if none was
    needed)."""
    c = 0.5 * (corr + corr.T)
    vals, vecs = np.linalg.eigh(c)
    if vals.min() > EIGEN_FLOOR:
        return c, None
    fixed = (vecs * np.maximum(vals, EIGEN_FLOOR)) @ vecs.T
    d = np.sqrt(np.diag(fixed))
    fixed = fixed / np.outer(d, d)
    np.fill_diagonal(fixed, 1.0)
    return fixed, float(vals.min())


@dataclass(frozen=True, eq=False)
class TCopulaFit:
    """A fitted t copula: correlation (k, k), df, profile log-likelihood at df, and whether the
    Kendall-implied correlation needed a positive-definite repair."""

    corr: np.ndarray
    df: float
    loglik: float
    n_obs: int
    repaired_min_eigenvalue: float | None = None
    df_at_bound: bool = False

    def details(self) -> dict[str, Any]:
        out: dict[str, Any] = {"copula_df": self.df, "copula_loglik": self.loglik,
                               "copula_n_obs": self.n_obs}
        if self.repaired_min_eigenvalue is not None:
            out["copula_corr_repaired_min_eigenvalue"] = self.repaired_min_eigenvalue
        if self.df_at_bound:
            out["copula_df_note"] = (f"df at the grid bound {self.df:g}: at the upper bound the "
                                     "copula is indistinguishable from the Gaussian")
        return out


def t_copula_loglik(u: np.ndarray, corr: np.ndarray, df: float) -> float:
    """Log-likelihood of pseudo-observations u (n, k) under the t copula C(corr, df)::

        ln c = lnG((v+k)/2) + (k-1) lnG(v/2) - k lnG((v+1)/2) - ln|R|/2
               - (v+k)/2 ln(1 + x'R^-1 x / v) + (v+1)/2 sum_j ln(1 + x_j^2 / v),  x_j = t_v^-1(u_j)

    (Demarta & McNeil, 2005, "The t copula and related copulas", Int. Statistical Review 73).
    """
    from scipy.special import stdtrit

    chol = np.linalg.cholesky(corr)
    return _copula_ll_from_x(stdtrit(df, u), chol, df)


def _copula_ll_from_x(x: np.ndarray, chol: np.ndarray, df: float) -> float:
    """The t-copula log-likelihood of t_df quantiles x (n, k), given the Cholesky factor of R."""
    from scipy.linalg import solve_triangular
    from scipy.special import gammaln

    n, k = x.shape
    logdet = 2.0 * float(np.sum(np.log(np.diag(chol))))
    y = solve_triangular(chol, x.T, lower=True, check_finite=False)  # L^-1 x, (k, n)
    quad = np.einsum("ij,ij->j", y, y)
    const = gammaln((df + k) / 2.0) + (k - 1) * gammaln(df / 2.0) - k * gammaln((df + 1.0) / 2.0)
    return float(n * (const - 0.5 * logdet) - 0.5 * (df + k) * np.log1p(quad / df).sum()
                 + 0.5 * (df + 1.0) * np.log1p(x * x / df).sum())


def fit_t_copula(returns: np.ndarray) -> TCopulaFit:
    """Fit a t copula to (n, k) daily returns by the semi-parametric method of Demarta & McNeil
    (2005) / Mashal & Zeevi (2002):

    1. pseudo-observations u = ranks / (n + 1) (:func:`pseudo_observations`);
    2. correlation R = sin(pi tau / 2) from Kendall's tau (:func:`kendall_tau_matrix`; the relation
       holds for every elliptical copula, so R does not depend on df), repaired to positive
       definite if needed (:func:`nearest_correlation`);
    3. df maximising the copula log-likelihood with R fixed (profile likelihood): the grid
       :data:`COPULA_DF_GRID`, then golden-section refinement in ln(df) between the neighbours of
       the best grid point. The pseudo-observations take at most 2n distinct values (ranks are
       multiples of 1/2), so t_df^-1 is evaluated on those values only.
    """
    from scipy.special import stdtrit
    from scipy.stats import rankdata

    r = np.asarray(returns, dtype=float)
    n, k = r.shape
    if n < MIN_REGIME_DAYS:
        raise ValueError(f"{n} days; the t copula needs at least {MIN_REGIME_DAYS}")
    if k < 1:
        raise ValueError("no assets")
    if np.any(np.ptp(r, axis=0) == 0.0):
        bad = int(np.flatnonzero(np.ptp(r, axis=0) == 0.0)[0])
        raise ValueError(f"asset column {bad} has constant returns in the window: its copula "
                         "margin is undefined")
    half_ranks = np.rint(2.0 * rankdata(r, axis=0, method="average")).astype(np.int64)
    used, where = np.unique(half_ranks, return_inverse=True)
    levels = used / (2.0 * (n + 1.0))  # pseudo-observation of half-rank j: j / 2 / (n + 1)
    where = where.reshape(half_ranks.shape)
    if k == 1:
        corr, repaired = np.ones((1, 1)), None
    else:
        tau = kendall_tau_matrix(r)
        corr, repaired = nearest_correlation(np.sin(0.5 * math.pi * tau))
    chol = np.linalg.cholesky(corr)

    def profile(df: float) -> float:
        return _copula_ll_from_x(stdtrit(df, levels)[where], chol, df)

    grid = np.asarray(COPULA_DF_GRID)
    lls = np.array([profile(float(v)) for v in grid])
    j = int(np.argmax(lls))
    best_df, best_ll = float(grid[j]), float(lls[j])
    if 0 < j < grid.size - 1:
        lo, hi = math.log(grid[j - 1]), math.log(grid[j + 1])
        g = (math.sqrt(5.0) - 1.0) / 2.0
        c, d = hi - g * (hi - lo), lo + g * (hi - lo)
        fc, fd = profile(math.exp(c)), profile(math.exp(d))
        for _ in range(14):  # bracket shrinks to 0.618^14 ~ 1e-3 of its width in ln(df)
            if fc >= fd:
                hi, d, fd = d, c, fc
                c = hi - g * (hi - lo)
                fc = profile(math.exp(c))
            else:
                lo, c, fc = c, d, fd
                d = lo + g * (hi - lo)
                fd = profile(math.exp(d))
        x_best, f_best = (c, fc) if fc >= fd else (d, fd)
        if f_best > best_ll:
            best_df, best_ll = math.exp(x_best), f_best
    return TCopulaFit(corr=corr, df=best_df, loglik=best_ll, n_obs=n,
                      repaired_min_eigenvalue=repaired,
                      df_at_bound=j in (0, grid.size - 1) and best_df in (grid[0], grid[-1]))


# --------------------------------------------------------------------------------------------
# Regimes
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class RegimeModel:
    """Two regimes of the book's daily P&L: a two-state Gaussian hidden Markov model
    (Hamilton, 1989, "A new approach to the economic analysis of nonstationary time series and the
    business cycle", Econometrica 57) fitted by the Baum-Welch EM algorithm (Baum, Petrie, Soules &
    Weiss, 1970), started from a two-component Gaussian mixture.

    State 0 is calm (smaller sd), 1 stressed. ``transition[i, j]`` = P(s_t+1 = j | s_t = i);
    ``labels`` are the days' most likely states given the whole window (smoothed probabilities
    > 1/2), which decide the days each regime's copula is fitted on; ``today`` is the FILTERED
    state probability of the last day (what is known today) and ``current`` its likelier state.
    ``initial`` is the first day's state distribution and ``loglik`` the log-likelihood of the
    last E-step (within the stopping tolerance of the returned parameters').
    """

    means: np.ndarray
    sds: np.ndarray
    transition: np.ndarray
    labels: np.ndarray
    today: np.ndarray
    initial: np.ndarray
    iterations: int
    loglik: float

    @property
    def current(self) -> int:
        return int(np.argmax(self.today))

    def horizon_weights(self, horizon_days: int) -> np.ndarray:
        """Average state probabilities over the next h days, (1/h) sum_{j=1..h} p_today P^j."""
        p = self.today.copy()
        acc = np.zeros(2)
        for _ in range(int(horizon_days)):
            p = p @ self.transition
            acc += p
        return acc / int(horizon_days)

    def details(self) -> dict[str, Any]:
        return {"regime_model": "2-state Gaussian HMM on daily book P&L (Baum-Welch)",
                "regime_current": ("calm", "stressed")[self.current],
                "regime_prob_today": self.today.tolist(),
                "regime_days": [int(np.sum(self.labels == 0)), int(np.sum(self.labels == 1))],
                "regime_sd": self.sds.tolist(), "regime_mean": self.means.tolist(),
                "regime_transition": self.transition.tolist(),
                "regime_em_iterations": self.iterations}


def _mixture_start(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Means, sds and weights of a two-component Gaussian mixture (EM, 50 steps) started from a
    split at the 80th percentile of |x - median|: the HMM's starting point."""
    from scipy.special import expit

    dev = np.abs(x - np.median(x))
    resp = (dev > np.quantile(dev, 0.8)).astype(float)
    floor = 1e-6 * float(x.std())
    for _ in range(50):
        r = np.stack([1.0 - resp, resp])
        nk = np.maximum(r.sum(axis=1), 1e-12)
        mu = (r @ x) / nk
        sd = np.maximum(np.sqrt(np.sum(r * (x[None, :] - mu[:, None]) ** 2, axis=1) / nk), floor)
        w = nk / x.size
        logp = np.log(w)[:, None] - np.log(sd)[:, None] - 0.5 * ((x[None, :] - mu[:, None])
                                                                 / sd[:, None]) ** 2
        resp = expit(logp[1] - logp[0])
    return mu, sd, w


def _hmm_e_step(x: np.ndarray, mu: np.ndarray, sd: np.ndarray, trans: np.ndarray,
                init: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Scaled forward-backward pass of the 2-state Gaussian HMM (Rabiner, 1989, "A tutorial on
    hidden Markov models", Proc. IEEE 77): filtered probabilities alpha (n, 2), smoothed gamma
    (n, 2), expected transition counts (2, 2) and the log-likelihood. Plain float loops: two
    states make numpy's per-call overhead the dominant cost."""
    n = x.size
    dens = np.exp(-0.5 * ((x[:, None] - mu[None, :]) / sd[None, :]) ** 2) / sd[None, :]
    dens = np.maximum(dens, 1e-300)
    b0, b1 = dens[:, 0].tolist(), dens[:, 1].tolist()
    a00, a01, a10, a11 = (float(v) for v in trans.ravel())
    f0, f1 = float(init[0]) * b0[0], float(init[1]) * b1[0]
    c = f0 + f1
    f0, f1 = f0 / c, f1 / c
    fw0, fw1, scale = [f0], [f1], [c]
    for t in range(1, n):
        f0, f1 = (f0 * a00 + f1 * a10) * b0[t], (f0 * a01 + f1 * a11) * b1[t]
        c = f0 + f1
        f0, f1 = f0 / c, f1 / c
        fw0.append(f0)
        fw1.append(f1)
        scale.append(c)
    g0, g1 = 1.0, 1.0
    bw0, bw1 = [1.0] * n, [1.0] * n
    x00 = x01 = x10 = x11 = 0.0
    for t in range(n - 2, -1, -1):
        e0, e1 = b0[t + 1] * g0 / scale[t + 1], b1[t + 1] * g1 / scale[t + 1]
        x00 += fw0[t] * a00 * e0
        x01 += fw0[t] * a01 * e1
        x10 += fw1[t] * a10 * e0
        x11 += fw1[t] * a11 * e1
        g0, g1 = a00 * e0 + a01 * e1, a10 * e0 + a11 * e1
        bw0[t], bw1[t] = g0, g1
    alpha = np.column_stack([fw0, fw1])
    gamma = alpha * np.column_stack([bw0, bw1])
    gamma /= gamma.sum(axis=1, keepdims=True)
    ll = float(np.sum(np.log(scale))) - n * 0.5 * math.log(2.0 * math.pi)
    return alpha, gamma, np.array([[x00, x01], [x10, x11]]), ll


def fit_regimes(pnl: np.ndarray, *, max_iter: int = 200, tol: float = 1e-9) -> RegimeModel:
    """Fit the two-state Gaussian HMM of :class:`RegimeModel` to daily book P&L.

    Baum-Welch: E-step :func:`_hmm_e_step`; M-step means, sds (floored at 1e-6 of the sample sd),
    transition matrix (expected counts normalised by row) and initial distribution. Stops when
    the log-likelihood gains less than ``tol`` x n; the returned parameters are those of the last
    E-step, so ``labels``, ``today`` and ``loglik`` belong to them.
    """
    x = np.asarray(pnl, dtype=float).reshape(-1)
    n = x.size
    if n < 2 * MIN_REGIME_DAYS or not float(x.std()) > 0.0:
        raise ValueError(f"the regime model needs at least {2 * MIN_REGIME_DAYS} non-constant days")
    mu, sd, init = _mixture_start(x)
    floor = 1e-6 * float(x.std())
    trans = np.array([[0.95, 0.05], [0.05, 0.95]])
    prev = -np.inf
    iterations = 0
    for iterations in range(1, max_iter + 1):
        alpha, gamma, counts, ll = _hmm_e_step(x, mu, sd, trans, init)
        if ll - prev < tol * n or iterations == max_iter:
            break
        prev = ll
        trans = counts / counts.sum(axis=1, keepdims=True)
        init = gamma[0].copy()
        nk = np.maximum(gamma.sum(axis=0), 1e-12)
        mu = (gamma.T @ x) / nk
        sd = np.maximum(np.sqrt(np.sum(gamma * (x[:, None] - mu[None, :]) ** 2, axis=0) / nk), floor)
    order = np.argsort(sd)  # 0 calm, 1 stressed
    labels = (gamma[:, order[1]] > 0.5).astype(np.int64)
    return RegimeModel(means=mu[order], sds=sd[order], transition=trans[np.ix_(order, order)],
                       labels=labels, today=alpha[-1, order], initial=init[order],
                       iterations=iterations, loglik=ll)


# --------------------------------------------------------------------------------------------
# t-copula Monte Carlo
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class _RegimeDraws:
    """What a regime needs to simulate: its copula, its marginals and its mean return."""

    copula: TCopulaFit
    sorted_returns: np.ndarray | None  # empirical marginals (n_r, k)
    t_params: tuple[np.ndarray, np.ndarray, np.ndarray] | None  # t marginals (loc, scale, df)
    mean: np.ndarray
    n_days: int


@dataclass(frozen=True, eq=False)
class CopulaModel:
    """A fitted t-copula model: one or two regimes (:class:`RegimeModel`), the marginals."""

    regimes: tuple[_RegimeDraws, ...]
    regime_model: RegimeModel | None
    marginals: str
    window: int
    details: dict[str, Any] = field(default_factory=dict)


def fit_copula_model(returns: np.ndarray, book_pnl: np.ndarray, *, regimes: int = 1,
                     marginals: Marginals = "empirical") -> CopulaModel:
    """Fit the t-copula model on (n, k) daily asset returns; ``book_pnl`` (n,) classifies the
    regimes when ``regimes == 2``. Marginals: ``"empirical"`` (the regime's daily returns of each
    asset, quantile with linear interpolation: simulated returns never leave the historical range)
    or ``"t"`` (a maximum-likelihood Student t per asset, :func:`~wsbrisk_tui.engine.var.fit_student_t`).
    Raises ``ValueError`` with the reason when a regime has fewer than :data:`MIN_REGIME_DAYS` days.
    """
    r = np.asarray(returns, dtype=float)
    if regimes not in (1, 2):
        raise ValueError(f"regimes must be 1 or 2, got {regimes}")
    if marginals not in ("empirical", "t"):
        raise ValueError(f"marginals must be 'empirical' or 't', got {marginals!r}")
    if regimes == 2:
        rm: RegimeModel | None = fit_regimes(book_pnl)
        groups = [np.flatnonzero(rm.labels == s) for s in (0, 1)]
        for s, g in enumerate(groups):
            if g.size < MIN_REGIME_DAYS:
                raise ValueError(f"the {('calm', 'stressed')[s]} regime has {g.size} of {r.shape[0]} "
                                 f"days (needs {MIN_REGIME_DAYS}); use t_copula_regimes = 1 or a "
                                 "longer window")
    else:
        rm = None
        groups = [np.arange(r.shape[0])]
    draws = []
    for g in groups:
        sub = r[g]
        cop = fit_t_copula(sub)
        if marginals == "empirical":
            sorted_r, tp = np.sort(sub, axis=0), None
        else:
            tf = fit_student_t(sub.T)
            sorted_r, tp = None, (tf.loc, tf.scale, tf.df)
        draws.append(_RegimeDraws(cop, sorted_r, tp, sub.mean(axis=0), int(g.size)))
    details: dict[str, Any] = {"marginals": marginals, "regimes": regimes, "window": r.shape[0]}
    for s, d in enumerate(draws):
        prefix = "" if regimes == 1 else ("calm_", "stressed_")[s]
        details.update({prefix + key: val for key, val in d.copula.details().items()})
        if d.t_params is not None:
            details[prefix + "marginal_t_df"] = d.t_params[2].tolist()
    if rm is not None:
        details.update(rm.details())
    return CopulaModel(tuple(draws), rm, marginals, r.shape[0], details)


def simulate_copula_uniforms(model: CopulaModel, n_paths: int,
                             rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """t-copula uniforms (n_paths / regimes, k) for each regime of ``model``:
    Z = G L' with G i.i.d. N(0, 1) and L L' = R, W ~ chi2(df) / df, U = t_df(Z / sqrt(W))
    (Demarta & McNeil, 2005). They depend only on the copula and the generator, so a caller may
    keep them with the fit."""
    from scipy.special import stdtr

    n = _check_paths(n_paths)
    per = n // len(model.regimes)
    out = []
    for d in model.regimes:
        df = d.copula.df
        z = rng.standard_normal((per, d.mean.size)) @ np.linalg.cholesky(d.copula.corr).T
        w = rng.chisquare(df, size=per) / df
        out.append(stdtr(df, z / np.sqrt(w)[:, None]))
    return tuple(out)


def _marginal_returns(d: _RegimeDraws, u: np.ndarray) -> np.ndarray:
    """(paths, k) daily asset returns: the regime's marginal quantile functions at u."""
    from scipy.special import stdtrit

    if d.sorted_returns is not None:
        s = d.sorted_returns
        pos = u * (s.shape[0] - 1)
        lo = np.clip(np.floor(pos).astype(np.int64), 0, s.shape[0] - 2)
        frac = pos - lo
        cols = np.arange(s.shape[1])[None, :]
        low = s[lo, cols]
        return low + frac * (s[lo + 1, cols] - low)
    loc, scale, tdf = d.t_params  # type: ignore[misc]
    return loc[None, :] + scale[None, :] * stdtrit(tdf[None, :], u)


def monte_carlo_t_copula(inputs: RiskInputs, confidences: Sequence[float],
                         horizons: Sequence[int], n_paths: int = 10_000, *,
                         rng: np.random.Generator, window: int = 252,
                         marginals: Marginals = "empirical", regimes: int = 1,
                         model: CopulaModel | None = None,
                         uniforms: Sequence[np.ndarray] | None = None) -> list[dict[str, Any]]:
    """Student-t copula Monte Carlo VaR/ES for each horizon (same dicts as
    :func:`monte_carlo_normal`, plus the copula in ``details``).

    Daily asset returns: t-copula uniforms (:func:`simulate_copula_uniforms`, or ``uniforms``
    simulated earlier for the same ``model``) through the marginals (:func:`fit_copula_model`).
    h days: square-root-of-time scaling of the simulated daily returns about the regime's mean
    daily return m, R_h = m h + sqrt(h)(R_1 - m) (stated choice: summing h daily copula draws
    costs h times more; the scaling keeps the daily dependence and marginal shape). The book P&L
    is ``inputs.revalue(R_h, h)`` (:func:`book_pnl`).

    Two regimes: half of the paths come from each regime's copula and marginals, and a path of
    regime s has weight w_h[s] / (n_paths / 2), with w_h = (1/h) sum_{j=1..h} e_today P^j the
    average regime probabilities over the horizon from today's regime under the fitted transition
    matrix P (:class:`RegimeModel`); VaR/ES come from the weighted sample
    (:func:`~wsbrisk_tui.engine.var.weighted_var_es`). Oversampling the rarer regime this way also
    sharpens the tail estimate.
    """
    n = _check_paths(n_paths)
    if model is None:
        r = inputs.asset_returns[-window:]
        model = fit_copula_model(r, book_pnl(inputs, r, 1), regimes=regimes, marginals=marginals)
    if uniforms is None:
        uniforms = simulate_copula_uniforms(model, n, rng)
    per = n // len(model.regimes)
    daily = [_marginal_returns(d, u) for d, u in zip(model.regimes, uniforms)]
    details = {**model.details, "horizon_scaling": "sqrt-time on simulated daily returns"}
    if inputs.linear:
        e = np.asarray(inputs.exposure, dtype=float).sum(axis=0)
        base = [(float(d.mean @ e), x @ e) for d, x in zip(model.regimes, daily)]
    out: list[dict[str, Any]] = []
    for h in horizons:
        h = int(h)
        root = math.sqrt(h)
        if inputs.linear:
            pnl = np.concatenate([m * h + root * (x - m) for m, x in base])
        else:
            pnl = book_pnl(inputs, np.concatenate([d.mean * h + root * (x - d.mean)
                                                   for d, x in zip(model.regimes, daily)]), h)
        weights = None
        extra: dict[str, Any] = {}
        if model.regime_model is not None:
            wh = model.regime_model.horizon_weights(h)
            weights = np.repeat(wh / per, per)
            extra["regime_weights_horizon"] = wh.tolist()
        out.append(_mc_dict(h, pnl, confidences, n, {**details, **extra}, weights))
    return out
