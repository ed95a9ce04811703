"""Factor exposures (betas) of the book's assets and factor risk decomposition.

Factors and their proxies (columns of :attr:`MarketData.prices`, see :data:`DEFAULT_PROXIES`)
--------------------------------------------------------------------------------------------------
The regressors are daily simple returns of ETF proxies, with tech and small caps taken in EXCESS of
the broad market so the equity beta keeps its usual meaning::

    equity      r_SPY
    tech        r_QQQ - r_SPY           (growth/tech excess over the market)
    small_caps  r_IWM - r_SPY           (size: small caps excess over the market)
    rates       r_TLT                   (20+ year Treasuries; a rate rise is a negative TLT return)
    credit      r_HYG                   (high-yield bonds)
    oil         r_USO, gold r_GLD, crypto r_BTC-USD

A proxy absent from the data (or with fewer than ``min_obs`` returns in the window) makes its
factor *unavailable*: it is listed with a reason and no asset gets a beta to it (never a silent 0).
Tech and small caps also need the equity proxy. Optional user factors (e.g. Fama-French HML, UMD)
come as a DataFrame of daily returns in FRACTIONS (Kenneth French's files are in percent: divide by
100) indexed by date; every column becomes a factor, except ``Mkt-RF``, ``SMB`` and ``RF`` which
duplicate the ETF market and size factors.

Betas (:func:`estimate_betas`)
------------------------------
Per asset a, multivariate OLS with an intercept on the most recent ``window`` (default 756, three
years) dates on which the asset and every available factor have a return (gaps are dropped, never
filled)::

    r_a,t = alpha_a + sum_f beta_a,f x_f,t + e_a,t

then Bayesian shrinkage toward a prior (1 for equity, 0 for the other factors)::

    beta_adj = w beta_ols + (1 - w) beta_prior,   w = n / (n + k0)

which is the posterior mean under Zellner's g-prior with g = n / k0 (Zellner 1986): the prior is
worth ``k0`` observations (``prior_obs``, default 250 for stress; 0 = plain OLS). With n = 756 and
k0 = 250, w = 0.75, close to Blume's (1971) 2/3 adjustment toward 1. ``r2`` is the OLS R-squared
(1 - SSR/SST) of the unshrunk fit; fewer than ``min_obs`` (126) rows: not estimated, with a reason.

Factor risk (:func:`factor_risk_section`)
-----------------------------------------
With asset dollar exposures w (k,) (delta-equivalent for options: a parametric view), betas B
(k, f), factor covariance F (f, f) and specific variances D = diag(s2_a)::

    b_p = B' w (dollars per unit factor return),  sigma_p^2 = b_p' F b_p + w' D w
    c_f = b_p,f (F b_p)_f / sigma_p,  c_specific = w' D w / sigma_p,  sum c = sigma_p  (Euler)

F is the sample covariance (ddof = 1) of the regressors over the last ``cov_window`` (252) common
dates; s2_a the variance (ddof = 1) of a's residuals over the same dates, computed with the betas
estimated on ``window``. VaR contributions are z_c x c (zero-mean normal 1-day VaR at confidence
c, z = Phi^-1(c)), so they sum to the parametric factor VaR z_c sigma_p.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

    from wsbrisk_tui.engine.inputs import RiskInputs
    from wsbrisk_tui.engine.model import MarketData

FACTOR_NAMES: tuple[str, ...] = ("equity", "tech", "small_caps", "rates", "credit", "oil", "gold", "crypto")
DEFAULT_PROXIES: dict[str, str] = {
    "equity": "SPY", "tech": "QQQ", "small_caps": "IWM", "rates": "TLT", "credit": "HYG",
    "oil": "USO", "gold": "GLD", "crypto": "BTC-USD",
}
#: Factors regressed in excess of the equity factor.
EXCESS_OVER_EQUITY = frozenset({"tech", "small_caps"})
#: Price columns the factor model and stress need besides the book (VIX for the vol shock).
FACTOR_PROXY_SYMBOLS: tuple[str, ...] = (*DEFAULT_PROXIES.values(), "VIX")
#: The VIX column of an options book's risk inputs: a volatility factor, never regressed.
VOL_FACTOR = "VIX"
#: Fama-French columns skipped because the ETF proxies already carry market and size.
SKIPPED_EXTRA = frozenset({"Mkt-RF", "SMB", "RF"})

BETA_WINDOW_DAYS = 756
COV_WINDOW_DAYS = 252
MIN_OBS = 126
PRIOR_OBS_STRESS = 250
DOMINANCE_THRESHOLD = 0.60


def prior_for(factors: Sequence[str]) -> np.ndarray:
    """Shrinkage target: 1 for the equity beta, 0 for every other factor."""
    return np.array([1.0 if f == "equity" else 0.0 for f in factors])


# --------------------------------------------------------------------------------------------
# The factor panel
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FactorPanel:
    """Daily regressor returns of the available factors on the market data's dates.

    ``returns[t]`` is the return from ``dates[t-1]`` to ``dates[t]`` (row 0 is NaN); NaN where a
    proxy has no price on either day. ``price_values``/``columns`` are the market prices the panel
    came from, kept so asset returns are taken on the same dates.
    """

    dates: np.ndarray
    names: tuple[str, ...]
    returns: np.ndarray
    proxies: dict[str, str]
    unavailable: dict[str, str]
    #: the market prices the panel came from, as (n, m) floats with their column names
    price_values: np.ndarray = field(repr=False, default_factory=lambda: np.empty((0, 0)))
    columns: tuple[str, ...] = ()

    def has(self, symbol: str) -> bool:
        return symbol in self.columns

    def asset_returns(self, symbols: Sequence[str]) -> np.ndarray:
        """(n, k) simple daily returns of ``symbols`` on the panel's dates (NaN across gaps)."""
        index = {c: j for j, c in enumerate(self.columns)}
        values = self.price_values[:, [index[s] for s in symbols]]
        return _returns(values)


def _returns(values: np.ndarray) -> np.ndarray:
    out = np.full(values.shape, np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        out[1:] = values[1:] / values[:-1] - 1.0
    return out


def factor_panel(prices: "pd.DataFrame", proxies: Mapping[str, str] | None = None, *,
                 window: int = BETA_WINDOW_DAYS, min_obs: int = MIN_OBS,
                 extra: "pd.DataFrame | None" = None) -> FactorPanel:
    """Regressor returns of every factor whose proxy has at least ``min_obs`` returns in the last
    ``window`` dates; the others are listed in ``unavailable`` with the reason."""
    proxies = dict(DEFAULT_PROXIES if proxies is None else proxies)
    columns = tuple(str(c) for c in prices.columns)
    values = prices.to_numpy(dtype=float)
    col = {c: j for j, c in enumerate(columns)}
    names: list[str] = []
    cols: list[np.ndarray] = []
    unavailable: dict[str, str] = {}
    raw: dict[str, np.ndarray] = {}
    for f in FACTOR_NAMES:
        sym = proxies.get(f)
        if sym is None:
            unavailable[f] = "no proxy configured"
            continue
        if sym not in col:
            unavailable[f] = f"no {sym} prices in the market data"
            continue
        r = _returns(values[:, col[sym]])
        n_recent = int(np.count_nonzero(np.isfinite(r[-window:])))
        if n_recent < min_obs:
            unavailable[f] = f"only {n_recent} {sym} returns in the last {window} dates (need {min_obs})"
            continue
        raw[f] = r
    for f in FACTOR_NAMES:
        if f not in raw:
            continue
        r = raw[f]
        if f in EXCESS_OVER_EQUITY:
            if "equity" not in raw:
                unavailable[f] = f"needs the equity proxy ({proxies.get('equity')}) too: {unavailable['equity']}"
                continue
            r = r - raw["equity"]
        names.append(f)
        cols.append(r)
    if extra is not None:
        aligned = extra.reindex(prices.index)
        for col in aligned.columns:
            if str(col) in SKIPPED_EXTRA:
                continue
            name = str(col)
            if name in names or name in FACTOR_NAMES:
                from wsbrisk_tui.errors import InputError

                raise InputError(f"extra factors: column '{name}' clashes with a built-in factor name "
                                 "(rename it)")
            r = aligned[col].to_numpy(dtype=float)
            n_recent = int(np.count_nonzero(np.isfinite(r[-window:])))
            if n_recent < min_obs:
                unavailable[name] = f"only {n_recent} returns on the market data's dates (need {min_obs})"
                continue
            names.append(name)
            cols.append(r)
    returns = np.column_stack(cols) if cols else np.empty((len(prices.index), 0))
    return FactorPanel(dates=prices.index.to_numpy(dtype="datetime64[D]"), names=tuple(names),
                       returns=returns, proxies={f: proxies[f] for f in names if f in proxies},
                       unavailable=unavailable, price_values=values, columns=columns)


# --------------------------------------------------------------------------------------------
# Betas
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Betas:
    """Estimated factor betas of k assets (see the module docstring for the regression).

    ``beta[a, f]`` is NaN where not estimated (``reasons[asset]`` says why). ``rows[a]`` are the
    row indices (into the input arrays) the regression used, oldest first.
    """

    assets: tuple[str, ...]
    factors: tuple[str, ...]
    beta: np.ndarray
    beta_ols: np.ndarray
    alpha: np.ndarray
    r2: np.ndarray
    n_obs: np.ndarray
    shrink_weight: np.ndarray
    rows: tuple[np.ndarray, ...]
    reasons: dict[str, str]
    prior: np.ndarray
    prior_obs: float

    def estimated(self, asset: str) -> bool:
        return asset not in self.reasons

    def to_dict(self) -> dict[str, dict[str, float | None]]:
        """``{asset: {factor: beta, "r2": r2}}``; an asset not estimated has an empty dict."""
        out: dict[str, dict[str, float | None]] = {}
        for a, name in enumerate(self.assets):
            if name in self.reasons:
                out[name] = {}
                continue
            d: dict[str, float | None] = {f: float(self.beta[a, j]) for j, f in enumerate(self.factors)}
            d["r2"] = float(self.r2[a])
            out[name] = d
        return out


def estimate_betas(asset_returns: np.ndarray, factor_returns: np.ndarray, *,
                   assets: Sequence[str], factors: Sequence[str], window: int = BETA_WINDOW_DAYS,
                   prior: np.ndarray | None = None, prior_obs: float = PRIOR_OBS_STRESS,
                   min_obs: int = MIN_OBS) -> Betas:
    """Multivariate OLS of each asset on the factors, shrunk toward ``prior`` (module docstring).

    ``asset_returns`` (n, k) and ``factor_returns`` (n, f) share rows (dates); NaN marks a missing
    return. Each asset uses the last ``window`` rows where it and every factor are finite.
    """
    Y = np.asarray(asset_returns, dtype=float)
    X = np.asarray(factor_returns, dtype=float)
    if Y.ndim != 2 or X.ndim != 2 or Y.shape[0] != X.shape[0]:
        raise ValueError("asset_returns (n, k) and factor_returns (n, f) must share n rows")
    k, f = Y.shape[1], X.shape[1]
    if len(assets) != k or len(factors) != f:
        raise ValueError("names must match the array columns")
    if prior_obs < 0:
        raise ValueError("prior_obs must be >= 0")
    prior = prior_for(factors) if prior is None else np.asarray(prior, dtype=float)
    beta = np.full((k, f), np.nan)
    beta_ols = np.full((k, f), np.nan)
    alpha = np.full(k, np.nan)
    r2 = np.full(k, np.nan)
    n_obs = np.zeros(k, dtype=int)
    weight = np.full(k, np.nan)
    rows: list[np.ndarray] = []
    reasons: dict[str, str] = {}
    x_ok = np.all(np.isfinite(X), axis=1)
    for a in range(k):
        ok = x_ok & np.isfinite(Y[:, a])
        idx = np.flatnonzero(ok)[-window:]
        rows.append(idx)
        n = idx.shape[0]
        n_obs[a] = n
        if n < max(min_obs, f + 2):
            reasons[assets[a]] = (f"only {n} daily returns in common with the factor proxies "
                                  f"(need {max(min_obs, f + 2)})")
            continue
        y = Y[idx, a]
        design = np.column_stack([np.ones(n), X[idx]])
        coef, *_ = np.linalg.lstsq(design, y, rcond=None)
        resid = y - design @ coef
        sst = float(np.sum((y - y.mean()) ** 2))
        w = n / (n + prior_obs)
        b = coef[1:]
        beta_ols[a] = b
        beta[a] = w * b + (1.0 - w) * prior
        # the intercept that keeps the shrunk fit centred on the sample means
        alpha[a] = float(y.mean() - X[idx].mean(axis=0) @ beta[a])
        r2[a] = 1.0 - float(resid @ resid) / sst if sst > 0 else math.nan
        weight[a] = w
    return Betas(assets=tuple(assets), factors=tuple(factors), beta=beta, beta_ols=beta_ols,
                 alpha=alpha, r2=r2, n_obs=n_obs, shrink_weight=weight, rows=tuple(rows),
                 reasons=reasons, prior=prior, prior_obs=float(prior_obs))


# --------------------------------------------------------------------------------------------
# Risk decomposition
# --------------------------------------------------------------------------------------------


def euler_contributions(b_p: np.ndarray, F: np.ndarray, specific_var: float) -> tuple[np.ndarray, float, float]:
    """Euler contributions ``(c_f (f,), c_specific, sigma_p)`` with sum c = sigma_p (module doc)."""
    b_p = np.asarray(b_p, dtype=float)
    Fb = np.asarray(F, dtype=float) @ b_p
    var_p = float(b_p @ Fb) + float(specific_var)
    if not var_p > 0:
        raise ValueError("portfolio variance is not positive: nothing to decompose")
    sigma = math.sqrt(var_p)
    return b_p * Fb / sigma, float(specific_var) / sigma, sigma


def concentration(values: np.ndarray, top: int = 5) -> dict[str, float | None]:
    """HHI of |value| weights, effective number of positions 1/HHI, and the top-``top`` share.

    ``w_i = |v_i| / sum_j |v_j|``; ``HHI = sum w_i^2`` (1/p for p equal positions, 1 for one).
    """
    v = np.abs(np.asarray(values, dtype=float))
    total = float(v.sum())
    if not total > 0:
        return {"hhi": None, "effective_positions": None, "top5_share": None}
    w = v / total
    hhi = float(np.sum(w * w))
    return {"hhi": hhi, "effective_positions": 1.0 / hhi,
            "top5_share": float(np.sort(w)[::-1][:top].sum())}


def effective_bets(contributions: np.ndarray) -> float | None:
    """``1 / sum p_j^2`` with ``p_j = |c_j| / sum |c|`` over the factor and specific contributions."""
    c = np.abs(np.asarray(contributions, dtype=float))
    total = float(c.sum())
    if not total > 0:
        return None
    p = c / total
    return 1.0 / float(np.sum(p * p))


def _z(confidence: float) -> float:
    from scipy.stats import norm

    return float(norm.ppf(confidence))


def factor_risk_section(inputs: "RiskInputs", market: "MarketData", *, window: int = BETA_WINDOW_DAYS,
                        cov_window: int = COV_WINDOW_DAYS, confidence: float = 0.99,
                        dominance: float = DOMINANCE_THRESHOLD, min_obs: int = MIN_OBS,
                        proxies: Mapping[str, str] | None = None,
                        extra_factors: "pd.DataFrame | None" = None,
                        panel: FactorPanel | None = None) -> dict[str, Any]:
    """The ``factors`` snapshot section (keys documented in the README).

    Betas are plain OLS (``prior_obs = 0``) so the variance decomposition matches the data. Assets
    whose betas cannot be estimated are left out of the decomposition with a warning; the VIX
    column of an options book is a volatility factor, not an instrument, and is not regressed.
    """
    warnings: list[str] = []
    if panel is None:
        panel = factor_panel(market.prices, proxies, window=window, min_obs=min_obs, extra=extra_factors)
    assets = [a for a in inputs.assets if a != VOL_FACTOR]
    exposure = np.asarray(inputs.exposure, dtype=float)
    w_all = np.array([exposure[:, inputs.assets.index(a)].sum() for a in assets])
    conc = concentration(inputs.values)
    for f, why in panel.unavailable.items():
        warnings.append(f"factor {f} unavailable: {why}")
    in_data = [a for a in assets if panel.has(a)]
    for a in assets:
        if not panel.has(a):
            warnings.append(f"{a}: no price history in the market data: left out of the factor model")
    result: dict[str, Any] = {
        "factors": list(panel.names), "exposures": {}, "portfolio_exposure": {},
        "vol_contributions": {}, "var_contributions": {}, "total_vol": None, "total_vol_pct": None,
        "confidence": confidence, "window": window, "cov_window": cov_window,
        "concentration": {**conc, "effective_bets": None}, "warnings": warnings,
    }
    if not panel.names or not in_data:
        warnings.append("no factor proxy or no asset history: factor risk not computed")
        return result
    Y = panel.asset_returns(in_data)
    X = panel.returns
    betas = estimate_betas(Y, X, assets=in_data, factors=panel.names, window=window,
                           prior_obs=0.0, min_obs=min_obs)
    result["exposures"] = betas.to_dict()
    for a, why in betas.reasons.items():
        warnings.append(f"{a}: betas not estimated ({why}): left out of the factor model")
    used = [i for i, a in enumerate(in_data) if betas.estimated(a)]
    if not used:
        warnings.append("no asset has estimated betas: factor risk not computed")
        return result
    # covariance window: the last cov_window dates where every factor and every used asset is finite
    ok = np.all(np.isfinite(X), axis=1) & np.all(np.isfinite(Y[:, used]), axis=1)
    rows = np.flatnonzero(ok)[-cov_window:]
    if rows.shape[0] < min(min_obs, cov_window):
        warnings.append(f"only {rows.shape[0]} common dates for the factor covariance: not computed")
        return result
    F = np.atleast_2d(np.cov(X[rows], rowvar=False, ddof=1))
    B = betas.beta[used]
    resid = Y[np.ix_(rows, used)] - betas.alpha[used] - X[rows] @ B.T
    spec_var = resid.var(axis=0, ddof=1)
    w = np.array([w_all[assets.index(in_data[i])] for i in used])
    b_p = B.T @ w
    c_f, c_spec, sigma = euler_contributions(b_p, F, float(np.sum(w * w * spec_var)))
    z = _z(confidence)
    names = list(panel.names)
    vol = {f: float(c) for f, c in zip(names, c_f)}
    vol["specific"] = c_spec
    result.update(
        portfolio_exposure={f: float(x) for f, x in zip(names, b_p)},
        vol_contributions=vol,
        var_contributions={k: z * v for k, v in vol.items()},
        total_vol=sigma,
        total_vol_pct=sigma / inputs.nav if inputs.nav > 0 else None,
        factor_var=z * sigma,
        cov_dates=[str(panel.dates[rows[0]]), str(panel.dates[rows[-1]])],
    )
    result["concentration"]["effective_bets"] = effective_bets(np.append(c_f, c_spec))
    for f, c in vol.items():
        share = c / sigma
        if share > dominance:
            warnings.append(f"{'specific risk' if f == 'specific' else f'factor {f}'} is {share:.0%} of "
                            f"portfolio volatility (threshold {dominance:.0%})")
    return result
