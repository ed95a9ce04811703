"""Features and targets for the volatility and quantile models (issue 8), with no look-ahead.

Input: a daily return series ``r`` in PERCENT (the book's ``100 * pnl / nav`` or an asset's) and,
optionally, VIX closing levels aligned to the same dates (NaN where VIX has no close that day).

Features at date t use r_0..r_t (and VIX up to t) only:

* ``rv_5``, ``rv_22``, ``rv_66``: lagged realised volatility sqrt(mean(r_{t-w+1..t}^2)) over the
  last w = 5, 22, 66 days (the HAR windows of Corsi, 2009, "A simple approximate long-memory
  model of realized volatility", J. Financial Econometrics 7), percent;
* ``abs_r_1`` .. ``abs_r_5``: |r_t|, |r_{t-1}|, ..., |r_{t-4}| (``abs_r_1`` is the latest day);
* with VIX: ``vix`` the level at t and ``vix_chg_5`` = VIX_t - VIX_{t-5} (points);
* with rates (TLT closes): ``rates_chg_5`` = -(10^4 / D) ln(TLT_t / TLT_{t-5}), the 5-day change
  of the long Treasury yield in basis points implied by the 20+ year Treasury ETF at modified
  duration D = 17 years (first order: dP/P = -D dy; the same duration the stress engine uses,
  :data:`wsbrisk_tui.engine.stress.RATES_DURATION_YEARS`). A price proxy, not a yield series:
  every source we read carries closing prices, and TLT is among the factor proxies fetched with
  every book (and in the demo).

Not built: a range feature (Parkinson's high-low variance). Every price source this program
reads (Yahoo adjusted closes through the cache, the prices CSV, the demo) keeps daily closes
only, so no high or low is ever available to it.

Targets (the quantity forecast at t, observed only at t + h):

* realised volatility over the next h days, sqrt(mean(r_{t+1..t+h}^2)) (percent; h = 1 gives
  |r_{t+1}|); models are fitted to and judged on its square, the realised variance, which is an
  unbiased (if noisy) proxy of the conditional variance when the mean return is negligible;
* the next day's return r_{t+1} (for the quantile models).

Rows whose features cannot be computed (the first 65 days, a missing VIX close) are marked
invalid in :attr:`FeatureSet.valid` and never used; nothing is filled.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

RV_WINDOWS: tuple[int, ...] = (5, 22, 66)
ABS_LAGS = 5
BASE_FEATURES: tuple[str, ...] = tuple(f"rv_{w}" for w in RV_WINDOWS) + tuple(
    f"abs_r_{k}" for k in range(1, ABS_LAGS + 1))
VIX_FEATURES: tuple[str, ...] = ("vix", "vix_chg_5")
VIX_CHANGE_DAYS = 5
RATES_FEATURES: tuple[str, ...] = ("rates_chg_5",)
RATES_CHANGE_DAYS = 5
#: Modified duration of TLT (years); kept equal to the stress engine's (a test checks).
TLT_DURATION_YEARS = 17.0


@dataclass(frozen=True, eq=False)
class FeatureSet:
    """(n, f) features ``X`` for each date of the return series; ``valid[t]`` is True when every
    feature at t is a finite number computed from data up to t."""

    names: tuple[str, ...]
    X: np.ndarray
    valid: np.ndarray

    @property
    def n_invalid(self) -> int:
        return int(self.X.shape[0] - self.valid.sum())


def _check_series(values: np.ndarray, what: str) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"{what} must be one-dimensional, got shape {arr.shape}")
    return arr


def _trailing_rms(r: np.ndarray, window: int) -> np.ndarray:
    """sqrt(mean(r_{t-w+1..t}^2)) at each t (NaN for t < w - 1), each from its own window only,
    so a value never depends on data after t (no running sums shared across dates)."""
    from numpy.lib.stride_tricks import sliding_window_view

    out = np.full(r.shape[0], np.nan)
    if r.shape[0] >= window:
        out[window - 1:] = np.sqrt(np.mean(sliding_window_view(r * r, window), axis=1))
    return out


def build_features(returns_pct: np.ndarray, vix: np.ndarray | None = None,
                   tlt: np.ndarray | None = None) -> FeatureSet:
    """Features of every date (module doc). ``vix`` (VIX closes) and ``tlt`` (TLT closes), each
    (n,), must be aligned to ``returns_pct`` (NaN where there is no close)."""
    r = _check_series(returns_pct, "returns_pct")
    if not np.all(np.isfinite(r)):
        bad = int(np.flatnonzero(~np.isfinite(r))[0])
        raise ValueError(f"returns_pct has a non-finite value at position {bad}; gaps are never "
                         "filled, align and drop them first")
    n = r.shape[0]
    cols = [_trailing_rms(r, w) for w in RV_WINDOWS]
    a = np.abs(r)
    for k in range(ABS_LAGS):
        lag = np.full(n, np.nan)
        lag[k:] = a[:n - k] if k else a
        cols.append(lag)
    names = BASE_FEATURES
    if vix is not None:
        v = _check_series(vix, "vix")
        if v.shape[0] != n:
            raise ValueError(f"vix has {v.shape[0]} values for {n} returns; align it to the dates")
        chg = np.full(n, np.nan)
        chg[VIX_CHANGE_DAYS:] = v[VIX_CHANGE_DAYS:] - v[:-VIX_CHANGE_DAYS]
        cols += [v, chg]
        names = names + VIX_FEATURES
    if tlt is not None:
        p = _check_series(tlt, "tlt")
        if p.shape[0] != n:
            raise ValueError(f"tlt has {p.shape[0]} values for {n} returns; align it to the dates")
        if np.any(p[np.isfinite(p)] <= 0):
            raise ValueError("tlt closes must be positive prices")
        k = RATES_CHANGE_DAYS
        rates = np.full(n, np.nan)
        rates[k:] = -1e4 / TLT_DURATION_YEARS * np.log(p[k:] / p[:-k])
        cols.append(rates)
        names = names + RATES_FEATURES
    X = np.column_stack(cols)
    return FeatureSet(names=names, X=X, valid=np.all(np.isfinite(X), axis=1))


def realised_vol_target(returns_pct: np.ndarray, horizon_days: int) -> np.ndarray:
    """y_t = sqrt(mean(r_{t+1..t+h}^2)) (percent), NaN for the last h dates (not yet observed)."""
    r = _check_series(returns_pct, "returns_pct")
    h = int(horizon_days)
    if h < 1:
        raise ValueError("horizon_days must be >= 1")
    rms = _trailing_rms(r, h)  # rms[s] covers r_{s-h+1..s}
    out = np.full(r.shape[0], np.nan)
    if r.shape[0] > h:
        out[:-h] = rms[h:]
    return out


def next_return_target(returns_pct: np.ndarray) -> np.ndarray:
    """y_t = r_{t+1}, NaN on the last date."""
    r = _check_series(returns_pct, "returns_pct")
    out = np.full(r.shape[0], np.nan)
    out[:-1] = r[1:]
    return out


def align_vix(dates: np.ndarray, vix: object) -> np.ndarray:
    """Closes on ``dates`` (datetime64[D]) from a pandas Series indexed by date (VIX, TLT); NaN on
    a date without a close (that row is then invalid, never filled)."""
    import pandas as pd

    if not isinstance(vix, pd.Series):
        raise TypeError("a market series (VIX, TLT) must be a pandas Series indexed by date")
    # by day with NumPy (a sorted search: ~0.1 ms against ~2 ms for pandas' reindex, and this
    # runs in the per-refresh inference); the last close of a day wins, as in the cache
    days = pd.DatetimeIndex(vix.index).to_numpy().astype("datetime64[D]")
    values = np.asarray(vix, dtype=float)
    order = np.argsort(days, kind="stable")
    days, values = days[order], values[order]
    last = np.r_[days[1:] != days[:-1], True]
    days, values = days[last], values[last]
    want = np.asarray(dates, dtype="datetime64[D]")
    out = np.full(want.shape[0], np.nan)
    if days.size:
        pos = np.minimum(np.searchsorted(days, want), days.size - 1)
        hit = days[pos] == want
        out[hit] = values[pos[hit]]
    return out
