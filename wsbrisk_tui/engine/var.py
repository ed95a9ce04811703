"""Value-at-Risk and expected shortfall of P&L samples: parametric, Cornish-Fisher, Student t,
historical (plain, bootstrap, age-weighted).

Every function is vectorised over WINDOWS: ``windows`` is an (m, n) array of P&L in currency, one
row per estimation window, oldest observation first (a 1-D array is one window). The same
function serves today's estimate (m = 1) and the rolling backtest (m = 250). Results are (m, c)
arrays, one column per confidence, as POSITIVE losses in the P&L's currency; NaN marks a window
where the method is not defined (the caller says why).

Conventions (README, "Conventions for the numbers"):

* historical VaR_c = -Q(1 - c), Q the sample quantile with linear interpolation (NumPy's default,
  Hyndman & Fan type 7); ES_c = -mean of the P&L at or below -VaR_c;
* parametric methods estimate the DAILY distribution and scale to h days by mean x h and
  scale x sqrt(h) (i.i.d. returns); the historical functions take windows that already hold h-day
  P&L and never scale.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

#: Bounds of the fitted Student-t degrees of freedom. The upper one stands for "normal": on 252
#: normal observations the log-likelihood still gained beyond 1e6 is of order 1e-5. Below df = 1
#: the mean (and ES) does not exist; such a fit is kept (VaR only) rather than bounded away.
T_DF_BOUNDS = (0.2, 1e6)
#: A fitted t scale below this fraction of the sample sd has collapsed onto repeated values.
SCALE_COLLAPSE = 1e-6


# --------------------------------------------------------------------------------------------
# Shared helpers
# --------------------------------------------------------------------------------------------


def as_windows(windows: np.ndarray | Sequence[float]) -> np.ndarray:
    """``windows`` as a float (m, n) array (a 1-D sample becomes one window)."""
    x = np.asarray(windows, dtype=float)
    if x.ndim == 1:
        x = x[None, :]
    if x.ndim != 2 or x.shape[1] < 2:
        raise ValueError(f"windows must be (m, n) with n >= 2 observations, got shape {x.shape}")
    return x


def tail_probabilities(confidences: Sequence[float] | float) -> np.ndarray:
    """Tail probabilities ``1 - c`` (c,) of confidences strictly inside (0, 1)."""
    c = np.atleast_1d(np.asarray(confidences, dtype=float))
    if c.ndim != 1 or c.size == 0 or np.any(~((c > 0.0) & (c < 1.0))):
        raise ValueError(f"confidences must be in (0, 1), got {np.ravel(c).tolist()}")
    return 1.0 - c


def _check_horizon(horizon_days: int) -> float:
    if int(horizon_days) != horizon_days or horizon_days < 1:
        raise ValueError(f"horizon_days must be a positive integer, got {horizon_days!r}")
    return float(horizon_days)


def tail_mean(windows: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """Mean of each window's values at or below each threshold: (m, n), (m, c) -> (m, c).

    Every threshold must be >= the window's minimum (true of any sample quantile), so the tail is
    never empty.
    """
    mask = windows[:, :, None] <= thresholds[:, None, :]
    return np.einsum("mn,mnc->mc", windows, mask) / mask.sum(axis=1)


# --------------------------------------------------------------------------------------------
# Parametric normal
# --------------------------------------------------------------------------------------------


def parametric_normal(windows: np.ndarray, confidences: Sequence[float],
                      horizon_days: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Normal VaR/ES, (m, c) each.

    mu and sd are the window's mean and sample standard deviation (ddof = 1); at h days the mean is
    mu h and the sd is sd sqrt(h). With z = Phi^-1(1 - c) and phi the normal density::

        VaR = -(mu h + z sd sqrt(h)),    ES = -(mu h - sd sqrt(h) phi(z) / (1 - c))

    (e.g. McNeil, Frey & Embrechts, "Quantitative Risk Management", 2015, Example 2.14).
    """
    from scipy.special import ndtri

    x = as_windows(windows)
    a = tail_probabilities(confidences)
    h = _check_horizon(horizon_days)
    mu = x.mean(axis=1)[:, None] * h
    sd = x.std(axis=1, ddof=1)[:, None] * math.sqrt(h)
    z = ndtri(a)[None, :]
    pdf = np.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)
    return -(mu + z * sd), -(mu - sd * pdf / a[None, :])


# --------------------------------------------------------------------------------------------
# Cornish-Fisher
# --------------------------------------------------------------------------------------------


def sample_moments(windows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Mean, sd (ddof = 1), skewness G1 and excess kurtosis G2 of each window, (m,) each.

    G1 and G2 are the bias-corrected (adjusted Fisher-Pearson) estimators, as in
    ``scipy.stats.skew(bias=False)`` / ``kurtosis(bias=False)`` and Excel's SKEW/KURT
    (Joanes & Gill, 1998, "Comparing measures of sample skewness and kurtosis", The Statistician
    47)::

        g1 = m3 / m2^1.5,   G1 = g1 sqrt(n (n - 1)) / (n - 2)
        g2 = m4 / m2^2 - 3, G2 = (n - 1) / ((n - 2)(n - 3)) ((n + 1) g2 + 6)

    with m_k the central moments with divisor n. Needs n >= 4; a constant window gives NaN.
    """
    x = as_windows(windows)
    n = x.shape[1]
    if n < 4:
        raise ValueError(f"skewness and kurtosis need at least 4 observations, got {n}")
    mean = x.mean(axis=1)
    d = x - mean[:, None]
    d2 = d * d
    m2 = d2.mean(axis=1)
    m3 = (d2 * d).mean(axis=1)
    m4 = (d2 * d2).mean(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        g1 = m3 / m2 ** 1.5
        g2 = m4 / (m2 * m2) - 3.0
    skew = g1 * math.sqrt(n * (n - 1.0)) / (n - 2.0)
    kurt = (n - 1.0) / ((n - 2.0) * (n - 3.0)) * ((n + 1.0) * g2 + 6.0)
    sd = np.sqrt(m2 * n / (n - 1.0))
    return mean, sd, skew, kurt


def cornish_fisher_coefficients(skew: np.ndarray, kurt: np.ndarray) -> np.ndarray:
    """Coefficients (a0, a1, a2, a3), shape (..., 4), of z_cf = a0 + a1 z + a2 z^2 + a3 z^3.

    Expanding z_cf = z + (z^2 - 1) S/6 + (z^3 - 3z) K/24 - (2z^3 - 5z) S^2/36::

        a0 = -S/6,  a1 = 1 - K/8 + 5 S^2/36,  a2 = S/6,  a3 = K/24 - S^2/18
    """
    s = np.asarray(skew, dtype=float)
    k = np.asarray(kurt, dtype=float)
    return np.stack([-s / 6.0, 1.0 - k / 8.0 + 5.0 * s * s / 36.0, s / 6.0,
                     k / 24.0 - s * s / 18.0], axis=-1)


def cornish_fisher_monotone(skew: np.ndarray, kurt: np.ndarray) -> np.ndarray:
    """True where the Cornish-Fisher quantile z_cf(z) is increasing on the whole real line.

    dz_cf/dz = a1 + 2 a2 z + 3 a3 z^2 > 0 for all z iff a3 >= 0, a1 > 0 and a2^2 <= 3 a1 a3, i.e.
    S^2/9 - 4 (K/8 - S^2/6)(1 - K/8 + 5 S^2/36) <= 0: the domain of validity of Maillard (2012),
    "A user's guide to the Cornish Fisher expansion", SSRN 1997178 (S = 0 needs 0 <= K <= 8).
    Outside it the expansion is not the quantile function of any distribution. A tolerance of
    1e-12 on a3 and on the discriminant lets S = K = 0 up to rounding (the normal) through; what it
    admits is non-monotone only beyond |z| ~ 1e6, where no probability lives.
    """
    a = cornish_fisher_coefficients(skew, kurt)
    a1, a2, a3 = a[..., 1], a[..., 2], a[..., 3]
    tol = 1e-12
    with np.errstate(invalid="ignore"):
        return (a1 > 0.0) & (a3 > -tol) & (a2 * a2 <= 3.0 * a1 * np.maximum(a3, 0.0) + tol)


def _normal_partial_moments(z: np.ndarray) -> np.ndarray:
    """E[Z^k 1{Z <= z}] for k = 0..3 and standard normal Z, shape (..., 4)::

        M0 = Phi(z), M1 = -phi(z), M2 = Phi(z) - z phi(z), M3 = -(z^2 + 2) phi(z)
    """
    from scipy.special import ndtr

    pdf = np.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)
    cdf = ndtr(z)
    return np.stack([cdf, -pdf, cdf - z * pdf, -(z * z + 2.0) * pdf], axis=-1)


def cornish_fisher(windows: np.ndarray, confidences: Sequence[float],
                   horizon_days: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Cornish-Fisher (modified) VaR/ES, (m, c) each; NaN where the expansion is not monotone.

    With the window's mean mu, sd (ddof = 1), skewness S and excess kurtosis K
    (:func:`sample_moments`, bias-corrected G1/G2) and z = Phi^-1(1 - c)::

        z_cf = z + (z^2 - 1) S/6 + (z^3 - 3z) K/24 - (2z^3 - 5z) S^2/36
        VaR  = -(mu h + sd sqrt(h) z_cf)

    (Zangari, 1996, RiskMetrics Monitor Q4; Favre & Galeano, 2002, J. Alternative Investments).
    ES is the exact tail average of the same quantile function,
    ES = -(mu h + sd sqrt(h) (1/(1-c)) int_0^{1-c} z_cf(Phi^-1(u)) du); substituting u = Phi(z)
    turns the integral into a cubic's normal partial moments (:func:`_normal_partial_moments`),
    so no quadrature error enters (the tests check it against numerical integration).

    h days: mean mu h and sd sqrt(h) with the DAILY S and K kept (stated assumption; under i.i.d.
    aggregation skewness would shrink as 1/sqrt(h) and excess kurtosis as 1/h, so this is the
    more conservative choice for fat-tailed, negatively skewed P&L).

    Windows outside the domain of validity (:func:`cornish_fisher_monotone`), and constant
    windows, give NaN: call :func:`sample_moments` and :func:`cornish_fisher_monotone` to say why.
    """
    from scipy.special import ndtri

    x = as_windows(windows)
    a = tail_probabilities(confidences)
    h = _check_horizon(horizon_days)
    mean, sd, skew, kurt = sample_moments(x)
    coef = cornish_fisher_coefficients(skew, kurt)  # (m, 4)
    z = ndtri(a)  # (c,)
    powers = z[:, None] ** np.arange(4)[None, :]  # (c, 4)
    z_cf = coef @ powers.T  # (m, c)
    tail = coef @ _normal_partial_moments(z).T / a[None, :]  # E[z_cf | Z <= z]
    mu_h = (mean * h)[:, None]
    sd_h = (sd * math.sqrt(h))[:, None]
    var = -(mu_h + sd_h * z_cf)
    es = -(mu_h + sd_h * tail)
    bad = ~cornish_fisher_monotone(skew, kurt) | ~(sd > 0.0)
    var[bad] = np.nan
    es[bad] = np.nan
    return var, es


# --------------------------------------------------------------------------------------------
# Student t by maximum likelihood
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class StudentTFit:
    """Maximum-likelihood location-scale Student t per window, arrays of shape (m,).

    ``variance`` = scale^2 df / (df - 2) (infinite for df <= 2). NaN parameters mark a window
    that cannot be fitted (zero spread or non-finite data).
    """

    loc: np.ndarray
    scale: np.ndarray
    df: np.ndarray
    loglik: np.ndarray
    iterations: int
    converged: np.ndarray

    @property
    def variance(self) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(self.df > 2.0, self.scale ** 2 * self.df / (self.df - 2.0), np.inf)


def student_t_loglik(windows: np.ndarray, loc: np.ndarray, scale: np.ndarray,
                     df: np.ndarray) -> np.ndarray:
    """Log-likelihood (m,) of each window under t(loc, scale, df)::

        l = n [lnG((v+1)/2) - lnG(v/2) - ln(v pi)/2 - ln s] - (v+1)/2 sum ln(1 + ((x-mu)/s)^2 / v)
    """
    from scipy.special import gammaln

    x = as_windows(windows)
    loc, scale, df = (np.asarray(v, dtype=float).reshape(-1) for v in (loc, scale, df))
    n = x.shape[1]
    q = ((x - loc[:, None]) / scale[:, None]) ** 2
    const = gammaln((df + 1.0) / 2.0) - gammaln(df / 2.0) - 0.5 * np.log(df * math.pi) - np.log(scale)
    return n * const - 0.5 * (df + 1.0) * np.log1p(q / df[:, None]).sum(axis=1)


def _t_score_and_hessian(x: np.ndarray, mu: np.ndarray, log_s: np.ndarray,
                         log_v: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Log-likelihood, gradient (m, 3) and observed Hessian (m, 3, 3) in theta = (mu, ln s, ln v).

    Per observation, with r = (x - mu)/s, q = r^2, D = v + q::

        dl/dmu = (v+1) r / (s D)                 dl/dln s = -1 + (v+1) q / D
        dl/dv  = [psi((v+1)/2) - psi(v/2) - 1/v]/2 - ln(1 + q/v)/2 + (v+1) q / (2 v D)
        d2l/dmu2 = -(v+1)(v-q)/(s^2 D^2)         d2l/dln s2 = -2 v (v+1) q / D^2
        d2l/dmu dln s = -2 v (v+1) r / (s D^2)   d2l/dmu dv = r (q-1) / (s D^2)
        d2l/dln s dv = q (q-1) / D^2
        d2l/dv2 = [psi'((v+1)/2) - psi'(v/2)]/4 + 1/(2 v^2) + q (q (v-1) - 2v) / (2 v^2 D^2)

    and the chain rule for ln v (d/dln v = v d/dv, d2/dln v2 = v^2 d2/dv2 + v d/dv).
    """
    from scipy.special import digamma, gammaln, polygamma

    n = x.shape[1]
    s = np.exp(log_s)
    v = np.exp(log_v)
    r = (x - mu[:, None]) / s[:, None]
    q = r * r
    vc = v[:, None]
    d = vc + q
    inv_d = 1.0 / d
    log1p_q = np.log1p(q / vc)
    ll = n * (gammaln((v + 1.0) / 2.0) - gammaln(v / 2.0) - 0.5 * np.log(v * math.pi) - log_s) \
        - 0.5 * (v + 1.0) * log1p_q.sum(axis=1)

    # ratios q/D and r/D stay bounded however far an observation lies (no q^2 overflow)
    qd = q * inv_d
    rd = r * inv_d
    s_q_d = qd.sum(axis=1)
    g_mu = (v + 1.0) / s * rd.sum(axis=1)
    g_a = -n + (v + 1.0) * s_q_d
    dig = 0.5 * (digamma((v + 1.0) / 2.0) - digamma(v / 2.0) - 1.0 / v)
    g_v = n * dig - 0.5 * log1p_q.sum(axis=1) + (v + 1.0) / (2.0 * v) * s_q_d

    h_mumu = -(v + 1.0) / s ** 2 * ((vc - q) * inv_d * inv_d).sum(axis=1)
    h_aa = -2.0 * v * (v + 1.0) * (qd * inv_d).sum(axis=1)
    h_mua = -2.0 * v * (v + 1.0) / s * (rd * inv_d).sum(axis=1)
    h_muv = (rd * (q - 1.0) * inv_d).sum(axis=1) / s
    h_av = (qd * (q - 1.0) * inv_d).sum(axis=1)
    trig = 0.25 * (polygamma(1, (v + 1.0) / 2.0) - polygamma(1, v / 2.0)) + 0.5 / v ** 2
    h_vv = n * trig + (qd * (q * (vc - 1.0) - 2.0 * vc) * inv_d).sum(axis=1) / (2.0 * v ** 2)

    grad = np.stack([g_mu, g_a, v * g_v], axis=1)
    hess = np.empty((x.shape[0], 3, 3))
    hess[:, 0, 0] = h_mumu
    hess[:, 1, 1] = h_aa
    hess[:, 2, 2] = v * v * h_vv + v * g_v
    hess[:, 0, 1] = hess[:, 1, 0] = h_mua
    hess[:, 0, 2] = hess[:, 2, 0] = v * h_muv
    hess[:, 1, 2] = hess[:, 2, 1] = v * h_av
    return ll, grad, hess


def _t_fisher_information(n: int, log_s: np.ndarray, log_v: np.ndarray) -> np.ndarray:
    """Expected information (m, 3, 3) in (mu, ln s, ln v) of n t observations (Lange, Little &
    Taylor, 1989, "Robust statistical modeling using the t distribution", JASA 84)::

        I_mumu = (v+1)/((v+3) s^2)   I_lns,lns = 2v/(v+3)   I_lns,lnv = -2v/((v+3)(v+1))
        I_lnv,lnv = v^2 {[psi'(v/2) - psi'((v+1)/2)]/4 - (v+5)/(2 v (v+1)(v+3))},  I_mu,. = 0
    """
    from scipy.special import polygamma

    s = np.exp(log_s)
    v = np.exp(log_v)
    info = np.zeros((log_s.shape[0], 3, 3))
    info[:, 0, 0] = n * (v + 1.0) / ((v + 3.0) * s * s)
    info[:, 1, 1] = n * 2.0 * v / (v + 3.0)
    info[:, 1, 2] = info[:, 2, 1] = -n * 2.0 * v / ((v + 3.0) * (v + 1.0))
    i_vv = 0.25 * (polygamma(1, v / 2.0) - polygamma(1, (v + 1.0) / 2.0)) \
        - (v + 5.0) / (2.0 * v * (v + 1.0) * (v + 3.0))
    # the two terms cancel to O(v^-4) for large v; the floor keeps the matrix positive definite
    info[:, 2, 2] = n * np.maximum(v * v * i_vv, 1e-12)
    return info


def fit_student_t(windows: np.ndarray, *, max_iter: int = 200, tol: float = 1e-10) -> StudentTFit:
    """Maximum-likelihood Student t (location, scale, df) of every window at once.

    Newton's method on theta = (mu, ln s, ln v) for all windows together, with the observed
    Hessian when it is negative definite and Fisher scoring (expected information,
    :func:`_t_fisher_information`) otherwise, a step cap (|d ln s|, |d ln v| <= 1) and step halving
    until the log-likelihood does not decrease. v is kept in :data:`T_DF_BOUNDS` (a window whose
    likelihood keeps rising towards v = 1e6 is normal for every practical purpose: its df is
    reported as 1e6). Start: median, 1.4826 x MAD, v = 4 + 6/K from the excess kurtosis K.
    Converged when the largest step is below ``tol`` (relative to the scale for mu). A window
    whose scale collapses below :data:`SCALE_COLLAPSE` x its sd (the t likelihood is unbounded when
    a large share of the observations are identical, e.g. a stale price) is ``converged=False``.
    250 windows of 252 observations take ~0.1 s; the tests check the log-likelihood against
    ``scipy.stats.t.fit``.
    """
    x = as_windows(windows)
    m, n = x.shape
    lo_v, hi_v = math.log(T_DF_BOUNDS[0]), math.log(T_DF_BOUNDS[1])
    finite = np.all(np.isfinite(x), axis=1)
    xs = np.where(finite[:, None], x, 0.0)
    med = np.median(xs, axis=1)
    mad = 1.4826 * np.median(np.abs(xs - med[:, None]), axis=1)
    sd = xs.std(axis=1, ddof=1)
    s0 = np.where(mad > 0.0, mad, sd)
    ok = finite & (sd > 0.0)
    _, _, _, kurt = sample_moments(xs)
    v0 = np.where(kurt > 0.0, 4.0 + 6.0 / np.maximum(kurt, 1e-6), 30.0)
    v0 = np.clip(v0, 2.5, 100.0)

    idx = np.flatnonzero(ok)
    mu, la, lv = med[idx].copy(), np.log(s0[idx]), np.log(v0[idx])
    xa = xs[idx]
    converged = np.zeros(idx.size, dtype=bool)
    ll = student_t_loglik(xa, mu, np.exp(la), np.exp(lv))
    iterations = 0
    active = np.arange(idx.size)
    for iterations in range(1, max_iter + 1):
        if active.size == 0:
            break
        xw, mw, aw, vw = xa[active], mu[active], la[active], lv[active]
        llw, grad, hess = _t_score_and_hessian(xw, mw, aw, vw)
        # Newton where -H is positive definite, Fisher scoring elsewhere
        neg = -hess
        pd = np.all(np.linalg.eigvalsh(neg) > 0.0, axis=1)
        mat = np.where(pd[:, None, None], neg, _t_fisher_information(n, aw, vw))
        # at a df bound with the gradient pointing outside: optimise (mu, ln s) only
        at_hi = (vw >= hi_v - 1e-12) & (grad[:, 2] > 0.0)
        at_lo = (vw <= lo_v + 1e-12) & (grad[:, 2] < 0.0)
        pinned = at_hi | at_lo
        if np.any(pinned):
            mat[pinned, 2, :] = 0.0
            mat[pinned, :, 2] = 0.0
            mat[pinned, 2, 2] = 1.0
            grad[pinned, 2] = 0.0
        step = np.linalg.solve(mat, grad[:, :, None])[:, :, 0]
        s_w = np.exp(aw)
        cap = np.maximum.reduce([np.abs(step[:, 0]) / (2.0 * s_w), np.abs(step[:, 1]),
                                 np.abs(step[:, 2]), np.ones(active.size)])
        step /= cap[:, None]
        t = np.ones(active.size)
        new_ll = np.full(active.size, -np.inf)
        pending = np.arange(active.size)
        for _ in range(40):
            cand_mu = mw[pending] + t[pending] * step[pending, 0]
            cand_a = aw[pending] + t[pending] * step[pending, 1]
            cand_v = np.clip(vw[pending] + t[pending] * step[pending, 2], lo_v, hi_v)
            cand_ll = student_t_loglik(xw[pending], cand_mu, np.exp(cand_a), np.exp(cand_v))
            good = np.isfinite(cand_ll) & (cand_ll >= llw[pending] - 1e-12 * np.abs(llw[pending]))
            new_ll[pending[good]] = cand_ll[good]
            pending = pending[~good]
            if pending.size == 0:
                break
            t[pending] *= 0.5
        moved = np.isfinite(new_ll)
        t = np.where(moved, t, 0.0)
        mu[active] = mw + t * step[:, 0]
        la[active] = aw + t * step[:, 1]
        lv[active] = np.clip(vw + t * step[:, 2], lo_v, hi_v)
        ll[active] = np.where(moved, new_ll, llw)
        size = np.max(np.abs(t[:, None] * step) / np.stack([s_w, np.ones_like(s_w), np.ones_like(s_w)],
                                                           axis=1), axis=1)
        # no non-decreasing step after 40 halvings: the maximum to machine precision
        done = (size < tol) | ~moved
        converged[active[done]] = True
        active = active[~done]

    def full(values: np.ndarray) -> np.ndarray:
        out = np.full(m, np.nan)
        out[idx] = values
        return out

    conv = np.zeros(m, dtype=bool)
    # the likelihood is unbounded when many observations coincide (stale prices): the scale
    # collapses onto them; such a fit is not an estimate
    conv[idx] = converged & (np.exp(la) > SCALE_COLLAPSE * sd[idx])
    return StudentTFit(loc=full(mu), scale=full(np.exp(la)), df=full(np.exp(lv)), loglik=full(ll),
                       iterations=iterations, converged=conv)


def student_t_var_es(fit: StudentTFit, confidences: Sequence[float],
                     horizon_days: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """VaR/ES (m, c) of fitted t distributions; h days by loc x h and scale x sqrt(h), df kept.

    With t_q = t_v^-1(1 - c) and g the standard t density (McNeil, Frey & Embrechts, QRM 2015,
    eq. 2.23, mirrored to the lower tail of the P&L)::

        VaR = -(mu h + s sqrt(h) t_q)
        ES  = -mu h + s sqrt(h) g(t_q) (v + t_q^2) / ((v - 1)(1 - c))      (v > 1; NaN otherwise)

    The sqrt(h) scaling keeps the daily df: a sum of h i.i.d. t variables is not t (its tails are
    thinner), so this is conservative at h > 1 and stated as such.
    """
    from scipy.special import gammaln, stdtrit

    a = tail_probabilities(confidences)
    h = _check_horizon(horizon_days)
    v = fit.df[:, None]
    t_q = stdtrit(v, a[None, :])
    log_g = (gammaln((v + 1.0) / 2.0) - gammaln(v / 2.0) - 0.5 * np.log(v * math.pi)
             - 0.5 * (v + 1.0) * np.log1p(t_q * t_q / v))
    mu_h = fit.loc[:, None] * h
    s_h = fit.scale[:, None] * math.sqrt(h)
    var = -(mu_h + s_h * t_q)
    with np.errstate(divide="ignore", invalid="ignore"):
        es = -mu_h + s_h * np.exp(log_g) * (v + t_q * t_q) / ((v - 1.0) * a[None, :])
    es = np.where(v > 1.0, es, np.nan)
    return var, es


def student_t(windows: np.ndarray, confidences: Sequence[float],
              horizon_days: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Student-t VaR/ES (m, c) and the fitted df (m,): :func:`fit_student_t` (maximum likelihood
    of location, scale and df per window) then :func:`student_t_var_es`."""
    fit = fit_student_t(windows)
    var, es = student_t_var_es(fit, confidences, horizon_days)
    return var, es, fit.df


# --------------------------------------------------------------------------------------------
# Historical simulation
# --------------------------------------------------------------------------------------------


def historical(windows: np.ndarray, confidences: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """Historical VaR/ES (m, c): VaR = -np.quantile(window, 1 - c) (linear interpolation),
    ES = -mean of the window's P&L at or below -VaR. No scaling: for h-day VaR pass windows of
    (overlapping) h-day P&L."""
    x = as_windows(windows)
    a = tail_probabilities(confidences)
    q = np.quantile(x, a, axis=1).T  # (m, c)
    return -q, -tail_mean(x, q)


def _lerp(lo: np.ndarray, hi: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Linear interpolation written as NumPy's quantile does it (so results match bit for bit)."""
    diff = hi - lo
    return np.where(t >= 0.5, hi - diff * (1.0 - t), lo + diff * t)


def historical_bootstrap(pnl: np.ndarray, confidences: Sequence[float], rng: np.random.Generator,
                         replicates: int = 1000) -> tuple[np.ndarray, np.ndarray]:
    """Bootstrap replicates (replicates, c) of historical VaR and ES of one P&L sample.

    One (replicates, n) draw of indices with replacement (Efron, 1979) shared by every
    confidence; each replicate's VaR/ES is :func:`historical` of the resample, computed without
    sorting it: with the sample sorted once, a resample is described by how many copies of each
    sorted value it holds, so its j-th order statistic is the first sorted value whose running
    count exceeds j and its tail sum is a running sum, all O(replicates x n).

    The i.i.d. bootstrap ignores serial dependence, and overlapping h-day P&L is serially
    dependent by construction, so its intervals are narrower than the true sampling uncertainty
    at h > 1 (stated).
    """
    x = np.asarray(pnl, dtype=float).reshape(-1)
    a = tail_probabilities(confidences)
    n = x.size
    if n < 2:
        raise ValueError("the bootstrap needs at least 2 observations")
    if replicates < 2:
        raise ValueError(f"replicates must be >= 2, got {replicates}")
    b = int(replicates)
    idx = rng.integers(0, n, size=(b, n))
    order = np.argsort(x, kind="stable")
    xs = x[order]
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n)
    ranks = rank[idx]
    rows = np.arange(b)
    pos = (n - 1) * a
    j = np.floor(pos).astype(np.int64)
    frac = pos - j
    need = int(j.max()) + 2  # order statistics up to j + 1 are read
    # only the lowest sorted values matter: count copies of the first `width` of them (a
    # resample holds ~width of those, far more than `need`), or of all n if that falls short
    width = min(n, 4 * need + 64)
    count = total = None
    if width < n:
        low = ranks < width
        hits = np.bincount(np.repeat(rows, low.sum(axis=1)) * width + ranks[low],
                           minlength=b * width).reshape(b, width)
        count = np.cumsum(hits, axis=1)
        if np.all(count[:, -1] >= need):
            total = np.cumsum(hits * xs[:width], axis=1)
    if total is None:
        width = n
        hits = np.bincount((ranks + (n * rows)[:, None]).ravel(), minlength=b * n).reshape(b, n)
        count = np.cumsum(hits, axis=1)  # resample values <= xs[i]
        total = np.cumsum(hits * xs, axis=1)
    # rows laid end to end, each shifted above the previous one's counts: one searchsorted
    shift = (n + 1) * rows
    flat = (count + shift[:, None]).ravel()
    var = np.empty((b, a.size))
    es = np.empty((b, a.size))
    for c in range(a.size):
        lo = np.searchsorted(flat, j[c] + shift, side="right") - width * rows
        hi = np.searchsorted(flat, min(j[c] + 1, n - 1) + shift, side="right") - width * rows
        q = _lerp(xs[lo], xs[hi], np.full(b, frac[c]))
        last = np.searchsorted(xs[:width], q, side="right") - 1  # tail: resample values <= q
        var[:, c] = -q
        es[:, c] = -total[rows, last] / count[rows, last]
    return var, es


def percentile_interval(replicates: np.ndarray, level: float = 0.90) -> np.ndarray:
    """Percentile bootstrap interval (2, c): the (1-level)/2 and 1-(1-level)/2 quantiles of
    replicates (B, c) with linear interpolation."""
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level}")
    lo = (1.0 - level) / 2.0
    return np.quantile(np.asarray(replicates, dtype=float), [lo, 1.0 - lo], axis=0)


def historical_bootstrap_ci(pnl: np.ndarray, confidence: float, rng: np.random.Generator,
                            replicates: int = 1000, level: float = 0.90
                            ) -> tuple[tuple[float, float], tuple[float, float]]:
    """Percentile bootstrap confidence intervals ``((var_lo, var_hi), (es_lo, es_hi))`` of the
    historical VaR and ES at one confidence (see :func:`historical_bootstrap`)."""
    boot_var, boot_es = historical_bootstrap(pnl, [confidence], rng, replicates)
    v = percentile_interval(boot_var, level)[:, 0]
    e = percentile_interval(boot_es, level)[:, 0]
    return (float(v[0]), float(v[1])), (float(e[0]), float(e[1]))


# --------------------------------------------------------------------------------------------
# Age-weighted historical simulation (Boudoukh, Richardson & Whitelaw, 1998)
# --------------------------------------------------------------------------------------------


def brw_weights(n: int, lam: float) -> np.ndarray:
    """Age weights (n,), oldest first: w = lam^age (1 - lam) / (1 - lam^n), newest age 0.

    ``lam = 1`` is the equal-weight limit 1/n. Boudoukh, Richardson & Whitelaw (1998), "The best
    of both worlds", Risk 11(5).
    """
    if not 0.0 < lam <= 1.0:
        raise ValueError(f"lam must be in (0, 1], got {lam}")
    if lam == 1.0:
        return np.full(n, 1.0 / n)
    age = np.arange(n - 1, -1, -1, dtype=float)
    return lam ** age * (1.0 - lam) / (1.0 - lam ** n)


def weighted_var_es(windows: np.ndarray, weights: np.ndarray,
                    confidences: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """VaR/ES (m, c) of weighted samples: windows (m, n), positive weights (n,) or (m, n)
    (normalised to sum to 1 per window).

    Quantile rule (stated; it is NumPy's linear rule when the weights are equal): sort a window,
    with w_(k) the weight of the k-th smallest value and W_(k) the total weight sorted BELOW it,
    and place the k-th order statistic at probability

        p_k = W_(k) / (1 - w_(k))       (p_0 = 0, p_{n-1} = 1; non-decreasing)

    i.e. the share of the OTHER observations' weight lying below it; with w = 1/n this is
    k/(n - 1), NumPy's default. Q(1 - c) interpolates linearly between the bracketing p_k, and
    VaR = -Q(1 - c).

    ES = -(sum of w x over the observations at or below -VaR) / (their total weight): each
    observation in the tail counts with its full weight and the one straddling the VaR level
    (above it) not at all, the equal-weight convention, so equal weights give historical ES.
    """
    x = as_windows(windows)
    a = tail_probabilities(confidences)
    m, n = x.shape
    w = np.broadcast_to(np.asarray(weights, dtype=float), (m, n))
    if np.any(~(w > 0.0)):
        raise ValueError("weights must be positive")
    w = w / w.sum(axis=1, keepdims=True)
    order = np.argsort(x, axis=1, kind="stable")
    xs = np.take_along_axis(x, order, axis=1)
    ws = np.take_along_axis(w, order, axis=1)
    below = np.cumsum(ws, axis=1) - ws
    p = below / (1.0 - ws)
    p[:, 0] = 0.0
    p[:, -1] = 1.0
    # last k with p_k <= a, for every window and tail probability
    k = np.clip((p[:, :, None] <= a[None, None, :]).sum(axis=1) - 1, 0, n - 2)  # (m, c)
    p_lo = np.take_along_axis(p, k, axis=1)
    p_hi = np.take_along_axis(p, k + 1, axis=1)
    x_lo = np.take_along_axis(xs, k, axis=1)
    x_hi = np.take_along_axis(xs, k + 1, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        frac = np.clip(np.nan_to_num((a[None, :] - p_lo) / (p_hi - p_lo)), 0.0, 1.0)
    q = x_lo + frac * (x_hi - x_lo)
    mask = x[:, :, None] <= q[:, None, :]
    es = -np.einsum("mn,mnc->mc", x * w, mask) / np.einsum("mn,mnc->mc", w, mask)
    return -q, es


def historical_weighted(windows: np.ndarray, confidences: Sequence[float],
                        lam: float = 0.98) -> tuple[np.ndarray, np.ndarray]:
    """Age-weighted historical VaR/ES (m, c): :func:`weighted_var_es` with the weights of
    :func:`brw_weights` (newest observation age 0). No scaling: pass h-day P&L for h-day VaR."""
    x = as_windows(windows)
    return weighted_var_es(x, brw_weights(x.shape[1], lam), confidences)
