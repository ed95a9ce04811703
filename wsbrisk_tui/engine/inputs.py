"""Risk inputs: the book's current exposures and the aligned history every risk method reads.

A risk method never sees a :class:`~wsbrisk_tui.engine.model.Portfolio`; it sees a
:class:`RiskInputs`:

* ``asset_returns`` (n x k): simple daily returns ``P_t / P_{t-1} - 1`` of the k risk-factor series
  (the book's underlyings, plus factors such as VIX when a revaluer needs them), over the common
  dates where every series has a price. Gaps are never filled: a date missing for one asset is
  dropped for all, and the number of dropped dates is reported.
* ``values`` (p,): signed market value of each of the p positions today.
* ``revalue(R, h)``: position P&L (s x p) for s scenarios of *h-day simple returns* ``R`` (s x k).
  For a linear book this is ``R @ exposure.T`` (P&L = market value x return). Options replace it by
  full revaluation (issue 7); the risk methods do not care which.

h-day historical scenarios are overlapping h-day returns ``P_{t+h}/P_t - 1`` (see
:func:`overlapping_returns`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

Revaluer = Callable[[np.ndarray, int], np.ndarray]


@dataclass(frozen=True)
class RiskInputs:
    """Aligned history and current exposures of a book.

    Attributes
    ----------
    dates : (n,) ``datetime64[D]`` dates of the *end* of each daily return.
    assets : k risk-factor names (columns of ``asset_returns``).
    asset_returns : (n, k) simple daily returns, no NaN.
    asset_prices : (n + 1, k) prices the returns come from (first row is the base price).
    positions : p position symbols.
    values : (p,) signed market values today.
    exposure : (p, k) linear value exposure of each position to each asset; for a linear book
        ``values == exposure.sum(axis=1)``. For non-linear positions it is the delta-equivalent
        exposure and is used only for explain columns, never for the P&L itself.
    nav : net asset value (positive) used for ``*_pct`` figures.
    linear : True when every position is linear in its asset, so ``revalue`` is exact as
        ``R @ exposure.T``.
    revalue : maps (s, k) h-day returns and h to (s, p) position P&L.
    """

    dates: np.ndarray
    assets: tuple[str, ...]
    asset_returns: np.ndarray
    asset_prices: np.ndarray
    positions: tuple[str, ...]
    values: np.ndarray
    exposure: np.ndarray
    nav: float
    linear: bool
    revalue: Revaluer
    notes: tuple[str, ...] = field(default=())

    @property
    def n_obs(self) -> int:
        return int(self.asset_returns.shape[0])

    def position_pnl(self, horizon_days: int = 1, window: int | None = None) -> np.ndarray:
        """Historical P&L of today's positions, (m, p), from overlapping h-day returns.

        ``window`` keeps only the last ``window`` daily returns before building h-day returns.
        """
        prices = self.asset_prices if window is None else self.asset_prices[-(window + 1):]
        r_h = overlapping_returns(prices, horizon_days)
        return self.revalue(r_h, horizon_days)

    def portfolio_pnl(self, horizon_days: int = 1, window: int | None = None) -> np.ndarray:
        """Historical P&L of the whole book, (m,): the row sums of :meth:`position_pnl`."""
        return self.position_pnl(horizon_days, window).sum(axis=1)


def overlapping_returns(prices: np.ndarray, horizon_days: int) -> np.ndarray:
    """Overlapping h-day simple returns ``P_{t+h} / P_t - 1`` of a (n+1, k) price array.

    With h = 1 these are the daily returns. The (n + 1 - h) rows overlap, so they are not
    independent; methods that need independence must say so.
    """
    if horizon_days < 1:
        raise ValueError("horizon_days must be >= 1")
    prices = np.asarray(prices, dtype=float)
    if prices.shape[0] <= horizon_days:
        return np.empty((0, prices.shape[1]))
    return prices[horizon_days:] / prices[:-horizon_days] - 1.0


def linear_revaluer(exposure: np.ndarray) -> Revaluer:
    """The revaluer of a linear book: position P&L = exposure x asset return (any horizon)."""
    exposure_t = np.ascontiguousarray(np.asarray(exposure, dtype=float).T)

    def revalue(returns: np.ndarray, horizon_days: int) -> np.ndarray:  # noqa: ARG001 - linear in h
        return np.asarray(returns, dtype=float) @ exposure_t

    return revalue


def linear_inputs(dates: np.ndarray, assets: list[str], prices: np.ndarray, positions: list[str],
                  exposure: np.ndarray, nav: float, notes: tuple[str, ...] = ()) -> RiskInputs:
    """Build :class:`RiskInputs` for a linear book from an aligned (n+1, k) price array."""
    prices = np.asarray(prices, dtype=float)
    if prices.ndim != 2 or prices.shape[1] != len(assets):
        raise ValueError("prices must be (n+1, k) with one column per asset")
    if not np.all(np.isfinite(prices)) or np.any(prices <= 0):
        raise ValueError("prices must be finite and positive (align and drop gaps first)")
    exposure = np.asarray(exposure, dtype=float)
    returns = prices[1:] / prices[:-1] - 1.0
    return RiskInputs(
        dates=np.asarray(dates)[1:] if len(dates) == prices.shape[0] else np.asarray(dates),
        assets=tuple(assets),
        asset_returns=returns,
        asset_prices=prices,
        positions=tuple(positions),
        values=exposure.sum(axis=1),
        exposure=exposure,
        nav=float(nav),
        linear=True,
        revalue=linear_revaluer(exposure),
        notes=notes,
    )
