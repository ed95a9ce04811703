"""GARCH(1,1) volatility: fits, VaR/ES forecasts, filtered historical simulation, rolling forecasts.

Everything here works on the book's daily returns in PERCENT of NAV
(``returns_pct = 100 * pnl / nav``): the optimiser in :mod:`arch` is well conditioned on that scale
(a fraction-of-NAV series has variances of order 1e-4). Every VaR/ES this module returns is in the
same unit, percent of NAV, as a POSITIVE loss; the caller divides by 100 for a fraction of NAV and
multiplies by NAV for currency.

Model (Bollerslev, 1986, "Generalized autoregressive conditional heteroskedasticity",
J. Econometrics 31)::

    r_t = mu + eps_t,   eps_t = sigma_t z_t,   z_t i.i.d., E z = 0, Var z = 1
    sigma^2_t = omega + alpha eps^2_{t-1} + beta sigma^2_{t-1}

with z standard normal (``dist="normal"``) or a standardized Student t with nu degrees of freedom
(``dist="t"``, Bollerslev 1987). Parameters are estimated by maximum likelihood with
``arch.arch_model(..., mean="Constant", vol="GARCH", p=1, q=1, rescale=False)``; the recursion is
started from arch's backcast (an exponentially weighted mean, weights 0.94^i, of the first 75
squared deviations from the sample mean), and :func:`refilter_garch` uses the same start so it reproduces arch exactly.

A fit that did not converge, or whose persistence alpha + beta sits at the stationarity bound, is
returned with ``converged=False`` and a ``reason``; every forecast function refuses such a fit
(``ValueError``) so the caller shows ``n/a`` rather than a number.
"""

from __future__ import annotations

import hashlib
import math
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal, TypeVar

import numpy as np

GarchDist = Literal["normal", "t"]

#: Fewer observations than this and GARCH(1,1) persistence is too poorly identified to sign.
MIN_GARCH_OBS = 250
#: arch's SLSQP enforces alpha + beta <= 1 only to its tolerance; an estimate this close to 1 (or
#: above) is the optimiser resting on the bound (IGARCH / explosive data), not an estimate.
PERSISTENCE_LIMIT = 1.0 - 1e-6
#: arch's backcast: weights 0.94**i over the first min(75, n) squared residuals.
_BACKCAST_LAGS = 75
_BACKCAST_DECAY = 0.94
#: Default number of bootstrap paths for multi-day filtered historical simulation.
FHS_DEFAULT_SIMS = 10_000

T = TypeVar("T")


# --------------------------------------------------------------------------------------------
# Fingerprints
# --------------------------------------------------------------------------------------------


def fingerprint(values: np.ndarray, labels: np.ndarray | None = None) -> str:
    """A short identity of a data series: length, last label and a BLAKE2b hash of the values.

    Two series with the same fingerprint hold the same float64 values (up to a 64-bit hash
    collision) and end on the same label; it is what :class:`FitCache` keys fits by.
    """
    arr = np.ascontiguousarray(np.asarray(values, dtype=np.float64))
    digest = hashlib.blake2b(arr.tobytes(), digest_size=8)
    if labels is not None and len(labels):
        lab = np.asarray(labels)
        if lab.dtype.kind in "OUS":  # hash the text, never object pointers
            digest.update("\x1f".join(map(str, lab.tolist())).encode())
        else:
            digest.update(np.ascontiguousarray(lab).tobytes())
        last = str(lab[-1])
    else:
        last = str(arr.shape[0] - 1) if arr.shape[0] else "-"
    return f"n={arr.shape[0]};last={last};h={digest.hexdigest()}"


# --------------------------------------------------------------------------------------------
# The fit
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class GarchFit:
    """A GARCH(1,1) fit and the filtered state at the end of its data (all in percent of NAV).

    ``last_variance`` is sigma^2_T and ``last_resid`` eps_T = r_T - mu at the last observation T;
    ``std_resid`` are z_t = eps_t / sigma_t over the sample (filtered historical simulation draws
    from them). ``fitted_on`` is the :func:`fingerprint` of the data the state was filtered on.
    ``refiltered`` is True when the parameters were estimated on an earlier sample ending at
    ``params_as_of`` and only the variance recursion was re-run over this data
    (:func:`refilter_garch`, the :class:`FitCache` policy); ``loglik`` is always the
    log-likelihood of ``fitted_on`` at these parameters.
    """

    dist: GarchDist
    mu: float
    omega: float
    alpha: float
    beta: float
    nu: float | None
    loglik: float
    nobs: int
    converged: bool
    last_variance: float
    last_resid: float
    persistence: float
    fitted_on: str
    std_resid: np.ndarray
    reason: str | None = None
    params_as_of: str = ""
    refiltered: bool = False

    @property
    def next_variance(self) -> float:
        """One-step forecast sigma^2_{T+1} = omega + alpha eps_T^2 + beta sigma^2_T."""
        return self.omega + self.alpha * self.last_resid ** 2 + self.beta * self.last_variance

    @property
    def unconditional_variance(self) -> float:
        """sigma_bar^2 = omega / (1 - alpha - beta) (finite only below the stationarity bound)."""
        return self.omega / (1.0 - self.persistence) if self.persistence < 1.0 else math.inf

    @property
    def params(self) -> dict[str, float | None]:
        return {"mu": self.mu, "omega": self.omega, "alpha": self.alpha, "beta": self.beta,
                "nu": self.nu}

    def details(self) -> dict[str, Any]:
        """JSON-ready parameters and state for a :class:`VarResult`'s ``details``."""
        return {"garch_mu_pct": self.mu, "garch_omega": self.omega, "garch_alpha": self.alpha,
                "garch_beta": self.beta, "garch_nu": self.nu, "garch_persistence": self.persistence,
                "garch_loglik": self.loglik, "garch_nobs": self.nobs, "garch_dist": self.dist,
                "garch_sigma_next_pct": math.sqrt(self.next_variance) if self.converged else None,
                "garch_params_as_of": self.params_as_of, "garch_refiltered": self.refiltered}

    @classmethod
    def failed(cls, dist: GarchDist, reason: str, nobs: int, fitted_on: str, *,
               mu: float = math.nan, omega: float = math.nan, alpha: float = math.nan,
               beta: float = math.nan, nu: float | None = None, loglik: float = math.nan,
               persistence: float = math.nan) -> "GarchFit":
        """A fit that cannot be used (``converged=False``); known estimates are kept for display."""
        return cls(dist=dist, mu=mu, omega=omega, alpha=alpha, beta=beta, nu=nu, loglik=loglik,
                   nobs=nobs, converged=False, last_variance=math.nan, last_resid=math.nan,
                   persistence=persistence, fitted_on=fitted_on, std_resid=np.empty(0),
                   reason=reason)


def _check_returns(returns_pct: np.ndarray) -> np.ndarray:
    r = np.asarray(returns_pct, dtype=np.float64)
    if r.ndim != 1:
        raise ValueError(f"returns_pct must be one-dimensional, got shape {r.shape}")
    if not np.all(np.isfinite(r)):
        bad = int(np.flatnonzero(~np.isfinite(r))[0])
        raise ValueError(f"returns_pct has a non-finite value at position {bad}; align and drop "
                         "gaps before fitting (gaps are never filled)")
    return r


def _backcast(resid: np.ndarray) -> float:
    """arch's starting value for the recursion: EWMA (0.94) of the first 75 squared residuals."""
    tau = min(_BACKCAST_LAGS, resid.shape[0])
    w = _BACKCAST_DECAY ** np.arange(tau)
    return float(np.sum(resid[:tau] ** 2 * (w / w.sum())))


def _variance_recursion(resid: np.ndarray, omega: float, alpha: float, beta: float,
                        sigma2_start: float, eps_start: float) -> np.ndarray:
    """sigma^2_t = omega + alpha eps^2_{t-1} + beta sigma^2_{t-1}, given (sigma^2, eps) before t=0.

    A plain loop: n is at most a few thousand and the loop is ~0.2 us per step, cheaper than
    importing scipy.signal for lfilter.
    """
    n = resid.shape[0]
    out = np.empty(n)
    s2, e = float(sigma2_start), float(eps_start)
    eps = resid.tolist()
    for t in range(n):
        s2 = omega + alpha * e * e + beta * s2
        out[t] = s2
        e = eps[t]
    return out


def _loglik(resid: np.ndarray, sigma2: np.ndarray, dist: GarchDist, nu: float | None) -> float:
    """Gaussian or standardized-t log-likelihood (arch's formulas) of resid given sigma^2."""
    if dist == "normal":
        return float(-0.5 * np.sum(np.log(2 * np.pi) + np.log(sigma2) + resid ** 2 / sigma2))
    from scipy.special import gammaln

    assert nu is not None
    lls = (gammaln((nu + 1) / 2) - gammaln(nu / 2) - 0.5 * np.log(np.pi * (nu - 2))
           - 0.5 * np.log(sigma2) - (nu + 1) / 2 * np.log1p(resid ** 2 / (sigma2 * (nu - 2))))
    return float(np.sum(lls))


def _stationarity_reason(alpha: float, beta: float) -> str | None:
    persistence = alpha + beta
    if not math.isfinite(persistence):
        return "GARCH parameters are not finite"
    if persistence >= PERSISTENCE_LIMIT:
        return (f"GARCH persistence alpha+beta = {persistence:.6f} is at or above 1 "
                "(integrated or explosive variance): no finite long-run variance to forecast with")
    return None


def fit_garch(returns_pct: np.ndarray, dist: GarchDist = "normal", *,
              labels: np.ndarray | None = None,
              starting_values: Sequence[float] | None = None) -> GarchFit:
    """Fit a constant-mean GARCH(1,1) with normal or standardized-t innovations (see module doc).

    ``returns_pct``: daily returns in percent of NAV, oldest first, all finite. ``labels``
    (optional, e.g. the dates) only feed the fingerprint and ``params_as_of``.
    ``starting_values`` (mu, omega, alpha, beta[, nu]) warm-start the optimiser, which the rolling
    forecasts use between adjacent windows; they change the optimum only within its tolerance.

    Returns ``converged=False`` with a reason when: fewer than :data:`MIN_GARCH_OBS` returns, a
    constant series, an optimiser status other than success, non-finite parameters or
    log-likelihood, or persistence at the stationarity bound (:data:`PERSISTENCE_LIMIT`).
    """
    if dist not in ("normal", "t"):
        raise ValueError(f"dist must be 'normal' or 't', got {dist!r}")
    r = _check_returns(returns_pct)
    fp = fingerprint(r, labels)
    as_of = str(np.asarray(labels)[-1]) if labels is not None and len(labels) else str(r.shape[0] - 1)
    n = int(r.shape[0])
    if n < MIN_GARCH_OBS:
        return GarchFit.failed(dist, f"{n} returns, GARCH(1,1) needs at least {MIN_GARCH_OBS}",
                               n, fp)
    if float(np.std(r)) == 0.0:
        return GarchFit.failed(dist, "returns are constant (zero variance): nothing to fit", n, fp)

    from arch import arch_model

    model = arch_model(r, mean="Constant", vol="GARCH", p=1, q=1, dist=dist, rescale=False)
    # numpy warnings from trial points of the optimiser are noise; the outcome is checked below.
    with np.errstate(all="ignore"):
        res = model.fit(disp="off", show_warning=False,
                        starting_values=None if starting_values is None
                        else np.asarray(starting_values, dtype=float))
    p = res.params.to_numpy(dtype=float)
    mu, omega, alpha, beta = (float(x) for x in p[:4])
    nu = float(p[4]) if dist == "t" else None
    loglik = float(res.loglikelihood)
    known: dict[str, Any] = {"mu": mu, "omega": omega, "alpha": alpha, "beta": beta, "nu": nu,
                             "loglik": loglik, "persistence": alpha + beta}
    if res.convergence_flag != 0:
        return GarchFit.failed(dist, "GARCH optimiser did not converge: "
                               f"{res.optimization_result.message}", n, fp, **known)
    if not (np.all(np.isfinite(p)) and math.isfinite(loglik)):
        return GarchFit.failed(dist, "GARCH fit produced non-finite parameters or likelihood",
                               n, fp, **known)
    reason = _stationarity_reason(alpha, beta)
    if reason is not None:
        return GarchFit.failed(dist, reason, n, fp, **known)
    resid = np.asarray(res.resid, dtype=float)
    sigma2 = np.asarray(res.conditional_volatility, dtype=float) ** 2
    return GarchFit(dist=dist, mu=mu, omega=omega, alpha=alpha, beta=beta, nu=nu, loglik=loglik,
                    nobs=n, converged=True, last_variance=float(sigma2[-1]),
                    last_resid=float(resid[-1]), persistence=alpha + beta, fitted_on=fp,
                    std_resid=resid / np.sqrt(sigma2), params_as_of=as_of)


def refilter_garch(fit: GarchFit, returns_pct: np.ndarray, *,
                   labels: np.ndarray | None = None) -> GarchFit:
    """Re-run the variance recursion with ``fit``'s parameters over new data (no estimation).

    The recursion starts from arch's backcast on the new data, exactly as a fit would, so
    refiltering the data a fit was estimated on reproduces that fit's state and log-likelihood.
    """
    _require_converged(fit)
    r = _check_returns(returns_pct)
    if r.shape[0] < 2:
        raise ValueError("refilter_garch needs at least 2 returns")
    resid = r - fit.mu
    # arch backcasts from the residuals at its starting values, i.e. about the sample mean
    bc = _backcast(r - r.mean())
    sigma2 = _variance_recursion(resid, fit.omega, fit.alpha, fit.beta, bc, math.sqrt(bc))
    return replace(fit, nobs=int(r.shape[0]), loglik=_loglik(resid, sigma2, fit.dist, fit.nu),
                   last_variance=float(sigma2[-1]), last_resid=float(resid[-1]),
                   fitted_on=fingerprint(r, labels), std_resid=resid / np.sqrt(sigma2),
                   refiltered=True)


def _require_converged(fit: GarchFit) -> None:
    if not fit.converged:
        raise ValueError(f"GARCH fit is not usable: {fit.reason}")


# --------------------------------------------------------------------------------------------
# Parametric GARCH VaR / ES
# --------------------------------------------------------------------------------------------


def variance_path(fit: GarchFit, horizon_days: int) -> np.ndarray:
    """E[sigma^2_{T+i}], i = 1..h (percent^2), the GARCH(1,1) closed form::

        E[sigma^2_{T+i}] = sigma_bar^2 + (alpha + beta)^(i-1) (sigma^2_{T+1} - sigma_bar^2)

    (e.g. Tsay, "Analysis of Financial Time Series", 3rd ed., sec. 3.5); the same numbers as
    ``arch``'s ``res.forecast(horizon=h).variance``.
    """
    _require_converged(fit)
    if horizon_days < 1:
        raise ValueError("horizon_days must be >= 1")
    s_bar = fit.unconditional_variance
    return s_bar + fit.persistence ** np.arange(horizon_days) * (fit.next_variance - s_bar)


def _std_quantile_es(fit: GarchFit, tail_prob: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lower-tail quantile q_a (< 0) and tail mean -E[z | z <= q_a] of the unit-variance z.

    Normal: q = Phi^-1(a), ES = phi(q) / a.
    Standardized t (scale s = sqrt((nu-2)/nu)): q = s t_nu^-1(a),
    ES = s f_nu(t_a) (nu + t_a^2) / ((nu - 1) a)  (McNeil, Frey & Embrechts, "Quantitative Risk
    Management", 2015, Example 2.15).
    """
    from scipy import stats

    if fit.dist == "normal":
        q = stats.norm.ppf(tail_prob)
        return q, stats.norm.pdf(q) / tail_prob
    nu = float(fit.nu)  # type: ignore[arg-type]
    scale = math.sqrt((nu - 2.0) / nu)
    t_a = stats.t.ppf(tail_prob, nu)
    es = stats.t.pdf(t_a, nu) * (nu + t_a ** 2) / ((nu - 1.0) * tail_prob)
    return scale * t_a, scale * es


def _check_confidences(confidences: Sequence[float]) -> np.ndarray:
    c = np.atleast_1d(np.asarray(confidences, dtype=float))
    if c.ndim != 1 or c.size == 0 or np.any((c <= 0.0) | (c >= 1.0)):
        raise ValueError(f"confidences must be in (0, 1), got {list(np.ravel(c))}")
    return c


def garch_var_es(fit: GarchFit, confidences: Sequence[float],
                 horizons: Sequence[int]) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """GARCH VaR and ES in percent of NAV (positive losses): ``{h: (var_pct, es_pct)}``, each (c,).

    1 day: mean mu, variance sigma^2_{T+1}. h days: mean mu h, variance
    V_h = sum_{i=1..h} E[sigma^2_{T+i}] (:func:`variance_path`), i.e. the variance of the sum of
    the next h returns given today's information.

        VaR = -(mu h + sqrt(V_h) q_a),   ES = -mu h + sqrt(V_h) ES_z(a),   a = 1 - c

    with q_a and ES_z of the unit-variance innovation (:func:`_std_quantile_es`). Approximation,
    stated: the true h-day GARCH return is a variance mixture that is neither normal nor t (fatter
    tails than its innovations); the same family with the aggregated variance is used for h > 1.
    """
    _require_converged(fit)
    c = _check_confidences(confidences)
    q, es_z = _std_quantile_es(fit, 1.0 - c)
    if not horizons or min(int(h) for h in horizons) < 1:
        raise ValueError(f"horizons must be >= 1, got {list(horizons)}")
    max_h = max(int(h) for h in horizons)
    cum_var = np.cumsum(variance_path(fit, max_h))
    out: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    for h in horizons:
        h = int(h)
        sd = math.sqrt(cum_var[h - 1])
        out[h] = (-(fit.mu * h + sd * q), -fit.mu * h + sd * es_z)
    return out


# --------------------------------------------------------------------------------------------
# Filtered historical simulation
# --------------------------------------------------------------------------------------------


def _historical_1d(sample: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Historical VaR/ES (c,) of one sample, the project's convention
    (:func:`wsbrisk_tui.engine.var.historical`: linear interpolation, ES at or below -VaR)."""
    from wsbrisk_tui.engine.var import historical

    var, es = historical(sample, c)
    return var[0], es[0]


def filtered_historical(fit: GarchFit, confidences: Sequence[float], horizons: Sequence[int],
                        rng: np.random.Generator | None = None,
                        n_sims: int | None = None) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Filtered historical simulation (Barone-Adesi, Giannopoulos & Vosper, 1999, "VaR without
    correlations for portfolios of derivative securities", J. Futures Markets 19), percent of NAV.

    The standardized residuals z_t = eps_t / sigma_t of the fit carry the empirical shape of the
    innovations, rescaled to today's volatility.

    * 1 day (exact, deterministic): scenarios r_t = mu + sigma_{T+1} z_t for every t in the sample;
      VaR/ES by :func:`wsbrisk_tui.engine.var.historical` (linear interpolation; ES the mean at
      or below -VaR).
    * h > 1 with ``rng`` given: ``n_sims`` (default 10,000) bootstrap paths through the GARCH
      recursion: each day draws z uniformly with replacement from the sample,
      eps = sigma z, sigma^2_next = omega + alpha eps^2 + beta sigma^2, starting from sigma_{T+1};
      the h-day scenario is the sum of the h daily returns. All horizons share the same paths;
      results are deterministic given the generator's seed (10 x 10,000 steps: under 5 ms).
    * h > 1 without ``rng`` (deterministic scaling): r_h = mu h + sqrt(V_h) z_t with V_h the
      aggregated GARCH variance of :func:`garch_var_es`, i.e. the 1-day standardized shape is kept
      at h days (stated approximation: it ignores that sums of h innovations are closer to normal
      and the volatility feedback the recursion captures).
    """
    _require_converged(fit)
    c = _check_confidences(confidences)
    z = fit.std_resid
    if z.size < 2:
        raise ValueError("fit has no standardized residuals to filter")
    s1 = fit.next_variance
    out: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    hs = sorted({int(h) for h in horizons})
    if hs and hs[0] < 1:
        raise ValueError("horizons must be >= 1")
    if 1 in hs:
        out[1] = _historical_1d(fit.mu + math.sqrt(s1) * z, c)
    multi = [h for h in hs if h > 1]
    if not multi:
        return out
    if rng is None:
        cum_var = np.cumsum(variance_path(fit, multi[-1]))
        for h in multi:
            out[h] = _historical_1d(fit.mu * h + math.sqrt(cum_var[h - 1]) * z, c)
        return out
    n = FHS_DEFAULT_SIMS if n_sims is None else int(n_sims)
    if n < 100:
        raise ValueError("n_sims must be at least 100")
    draws = rng.integers(0, z.size, size=(multi[-1], n))
    sigma2 = np.full(n, s1)
    total = np.zeros(n)
    for day in range(1, multi[-1] + 1):
        eps = np.sqrt(sigma2) * z[draws[day - 1]]
        total += fit.mu + eps
        sigma2 = fit.omega + fit.alpha * eps * eps + fit.beta * sigma2
        if day in multi:
            out[day] = _historical_1d(total, c)
    return out


# --------------------------------------------------------------------------------------------
# Rolling out-of-sample forecasts (for the backtest)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class RollingGarch:
    """Out-of-sample 1-day forecasts for the last ``n_test`` days, percent of NAV.

    Arrays are (n_test, c) (``sigma_pct`` is (n_test,)); a row is NaN where no usable fit covered
    that day (``failures`` says why). ``refit_days`` are the test-day indices where a fit was run.
    """

    confidences: np.ndarray
    var_pct: np.ndarray
    es_pct: np.ndarray
    fhs_var_pct: np.ndarray
    fhs_es_pct: np.ndarray
    sigma_pct: np.ndarray
    refit_days: tuple[int, ...]
    failures: tuple[str, ...]
    dist: GarchDist
    window: int
    refit_every: int


def garch_rolling_forecasts(returns_pct: np.ndarray, window: int, n_test: int,
                            confidences: Sequence[float], dist: GarchDist = "normal",
                            refit_every: int = 20) -> RollingGarch:
    """1-day GARCH and FHS VaR/ES forecasts for each of the last ``n_test`` days, using only data
    before that day.

    Day t (t = N - n_test, ..., N - 1) is forecast from the returns before t. Every
    ``refit_every`` test days (starting with the first) the model is re-ESTIMATED on the
    ``window`` returns ending the day before, warm-started from the previous estimate. In between
    the parameters stay fixed and the variance is FILTERED forward one day at a time,
    sigma^2_{t} = omega + alpha eps^2_{t-1} + beta sigma^2_{t-1} with eps = r - mu, so 250 test
    days with refit_every=20 cost 13 fits. Forecasts: VaR = -(mu + sigma_t q_a) and the closed-form
    ES of :func:`garch_var_es`; FHS VaR/ES from the last ``window`` standardized residuals seen
    before t (the fit's plus the filtered ones), scaled by sigma_t. A failed estimate leaves NaN
    rows until the next successful refit (excluded and counted by the backtest).
    """
    r = _check_returns(returns_pct)
    c = _check_confidences(confidences)
    window, n_test, refit_every = int(window), int(n_test), int(refit_every)
    if window < MIN_GARCH_OBS:
        raise ValueError(f"window must be at least {MIN_GARCH_OBS} returns, got {window}")
    if n_test < 1 or refit_every < 1:
        raise ValueError("n_test and refit_every must be >= 1")
    if r.shape[0] < window + n_test:
        raise ValueError(f"{r.shape[0]} returns: rolling GARCH needs window + n_test = "
                         f"{window + n_test}")
    start = r.shape[0] - n_test
    nan_block = np.full((n_test, c.size), np.nan)
    var, es, fvar, fes = (nan_block.copy() for _ in range(4))
    sigma = np.full(n_test, np.nan)
    mu_used = np.full(n_test, np.nan)
    z_windows = np.full((n_test, window), np.nan)
    a = 1.0 - c
    refits: list[int] = []
    failures: list[str] = []
    fit: GarchFit | None = None
    warm: list[float] | None = None
    s2 = e = 0.0
    z_hist: list[float] = []
    q_z = es_z = np.empty(0)
    for k in range(n_test):
        t = start + k
        if k % refit_every == 0:
            refits.append(k)
            cand = fit_garch(r[t - window:t], dist, starting_values=warm)
            if cand.converged:
                fit = cand
                warm = [cand.mu, cand.omega, cand.alpha, cand.beta] + (
                    [cand.nu] if cand.nu is not None else [])
                s2, e = cand.last_variance, cand.last_resid
                z_hist = cand.std_resid.tolist()
                q_z, es_z = _std_quantile_es(cand, a)
            else:
                fit = None
                failures.append(f"test day {k}: {cand.reason}")
        if fit is None:
            continue
        s2 = fit.omega + fit.alpha * e * e + fit.beta * s2
        sd = math.sqrt(s2)
        sigma[k] = sd
        var[k] = -(fit.mu + sd * q_z)
        es[k] = -fit.mu + sd * es_z
        mu_used[k] = fit.mu
        z_windows[k] = z_hist[-window:]
        e = float(r[t]) - fit.mu  # day t is used only after its forecast is made
        z_hist.append(e / sd)
    ok = np.isfinite(sigma)
    if ok.any():
        from wsbrisk_tui.engine.var import historical

        zv, ze = historical(z_windows[ok], c)
        # quantiles and tail means commute with the positive affine map z -> mu + sigma z
        fvar[ok] = -mu_used[ok, None] + sigma[ok, None] * zv
        fes[ok] = -mu_used[ok, None] + sigma[ok, None] * ze
    return RollingGarch(confidences=c, var_pct=var, es_pct=es, fhs_var_pct=fvar, fhs_es_pct=fes,
                        sigma_pct=sigma, refit_days=tuple(refits), failures=tuple(failures),
                        dist=dist, window=window, refit_every=refit_every)


def garch_rolling_var(returns_pct: np.ndarray, window: int, n_test: int,
                      confidences: Sequence[float], dist: GarchDist = "normal",
                      refit_every: int = 20) -> np.ndarray:
    """(n_test, c) out-of-sample 1-day GARCH VaR in percent of NAV; see
    :func:`garch_rolling_forecasts` (refit every ``refit_every`` days, filter in between)."""
    return garch_rolling_forecasts(returns_pct, window, n_test, confidences, dist,
                                   refit_every).var_pct


# --------------------------------------------------------------------------------------------
# Cache of heavy fits
# --------------------------------------------------------------------------------------------


@dataclass
class _GarchBase:
    fit: GarchFit
    labels: np.ndarray
    values: np.ndarray


class FitCache:
    """A tiny cache for heavy fits (GARCH, t, EVT, copulas), one per engine thread (no locking).

    * :meth:`get_or_compute` (generic): memo on an exact key, e.g.
      ``("evt", dist_params, fingerprint(x))``; least-recently-used entries beyond ``max_entries``
      are dropped. Put the data fingerprint and every parameter in the key.
    * :meth:`garch` (policy for GARCH): the parameters are re-ESTIMATED only when the data changed
      AND at least ``refit_days`` new observations (labels after the last estimation label) have
      arrived, or when the new data is not the estimated series extended (a changed book gives a
      different return series: then always refit). Otherwise the cached parameters are
      RE-FILTERED over the new data (:func:`refilter_garch`, ~1 ms), so a price tick costs no
      optimisation. Identical data returns the cached fit.
    """

    def __init__(self, refit_days: int = 20, max_entries: int = 128) -> None:
        if refit_days < 1 or max_entries < 1:
            raise ValueError("refit_days and max_entries must be >= 1")
        self.refit_days = int(refit_days)
        self.max_entries = int(max_entries)
        self._memo: OrderedDict[Hashable, Any] = OrderedDict()
        self._garch_base: dict[Hashable, _GarchBase] = {}
        self.stats = {"hits": 0, "computes": 0, "refits": 0, "refilters": 0}

    def __len__(self) -> int:
        return len(self._memo)

    def clear(self, keep_garch_params: bool = False) -> None:
        """Forget every cached value; with ``keep_garch_params`` the last GARCH estimates stay,
        so the next :meth:`garch` call on new data refilters instead of refitting."""
        self._memo.clear()
        if not keep_garch_params:
            self._garch_base.clear()

    def get_or_compute(self, key: Hashable, compute: Callable[[], T]) -> T:
        """Return the value cached under ``key``, computing and storing it on a miss."""
        if key in self._memo:
            self._memo.move_to_end(key)
            self.stats["hits"] += 1
            return self._memo[key]
        value = compute()
        self.stats["computes"] += 1
        self._memo[key] = value
        if len(self._memo) > self.max_entries:
            self._memo.popitem(last=False)
        return value

    # Alias for callers that think of it as a fit.
    get_or_fit = get_or_compute

    def garch(self, returns_pct: np.ndarray, dist: GarchDist, labels: np.ndarray | None = None,
              series: Hashable = "book") -> GarchFit:
        """The GARCH fit of ``returns_pct`` under the policy above; ``series`` names the series
        (several books or assets can share one cache). Without ``labels`` any change refits."""
        r = _check_returns(returns_pct)
        key = ("garch", series, dist, fingerprint(r, labels))
        if key in self._memo:
            return self.get_or_compute(key, lambda: None)  # type: ignore[return-value]
        base = self._garch_base.get((series, dist))
        fit: GarchFit
        if base is not None and labels is not None and self._may_refilter(base, r, labels):
            fit = refilter_garch(base.fit, r, labels=labels)
            self.stats["refilters"] += 1
        else:
            fit = fit_garch(r, dist, labels=labels)
            self.stats["refits"] += 1
            if fit.converged and labels is not None:
                self._garch_base[(series, dist)] = _GarchBase(fit, np.asarray(labels).copy(),
                                                              r.copy())
            else:
                self._garch_base.pop((series, dist), None)
        return self.get_or_compute(key, lambda: fit)

    def _may_refilter(self, base: _GarchBase, r: np.ndarray, labels: np.ndarray) -> bool:
        lab = np.asarray(labels)
        if lab.shape[0] != r.shape[0] or lab.shape[0] < MIN_GARCH_OBS:
            return False
        new_obs = int(np.count_nonzero(lab > base.labels[-1]))
        if new_obs >= self.refit_days:
            return False
        # Same series extended? Labels of the overlap must coincide, and the values too, except
        # the base's last observation (a live bar that was still moving when it was fitted).
        first = int(np.searchsorted(base.labels, lab[0]))
        overlap = base.labels.shape[0] - first
        if first >= base.labels.shape[0] or overlap > lab.shape[0] or overlap < MIN_GARCH_OBS:
            return False
        if not np.array_equal(base.labels[first:], lab[:overlap]):
            return False
        return bool(np.allclose(base.values[first:-1], r[:overlap - 1], rtol=1e-12, atol=0.0))
