"""Full revaluation of a mixed book (stocks, ETFs, crypto, options) under return scenarios.

:func:`book_revaluer` returns a :data:`~wsbrisk_tui.engine.inputs.Revaluer`: ``revalue(R, h)`` maps
(s, k) h-day simple returns of the k assets to (s, p) position P&L. Every VaR method calls it the
same way, so options are revalued in full, never by delta.

Conventions
-----------
* Linear positions: ``P&L = value0 x R[:, j]``.
* Options, per scenario: spot ``S1 = S0 (1 + R[:, j_underlying])`` (floored at 0);
  implied vol **sticky-strike with a parallel absolute shift** from VIX: when ``vol_asset`` is a
  column of R, ``VIX1 = VIX0 (1 + R[:, j_vix])`` and ``sigma1 = max(sigma0 + (VIX1 - VIX0) / 100,
  floor)`` with floor ``min(0.01, sigma0)`` (so a zero shock never moves a sub-1% vol); without a VIX
  column the vol is unchanged (noted). Time: h trading days are ``h x 365 / 252`` calendar days, so
  ``T1 = T0 - h / 252`` years (ACT/365); an option with ``T1 <= 0`` expired inside the horizon and
  is worth its intrinsic value at ``S1``.
* ``P&L = (V1 - V0) x qty x multiplier`` where ``V0`` is today's *model* price at the position's IV
  (not the mark), so a zero shock gives only time decay, never mark-versus-model noise.
* American contracts: scenarios are priced by BSM plus a constant early-exercise premium
  ``EEP = CRR(t0) - BSM(t0)`` at today's IV (an approximation that keeps revaluation one vectorised
  BSM call; the premium is not re-solved per scenario), floored at intrinsic (an American option is
  never worth less than immediate exercise). So ``V0`` is the CRR price.

:func:`delta_gamma_vega_pnl` is the *explain* approximation
``delta dS + 1/2 gamma dS^2 + vega dsigma + theta dt`` beside full revaluation, never instead of it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Literal

import numpy as np

from wsbrisk_tui.engine.model import Portfolio, Rate
from wsbrisk_tui.engine.option_book import OptionBook
from wsbrisk_tui.engine.options import bsm_greeks, bsm_value_unchecked

TRADING_DAYS_PER_YEAR: float = 252.0
#: Scenario vol floor (fraction); a position whose IV is already lower keeps its own as the floor.
SIGMA_FLOOR: float = 0.01


@dataclass(frozen=True)
class RevalPosition:
    """One position as the revaluer sees it.

    ``kind="linear"``: ``value0`` is the signed market value ($) and the option fields are unused.
    ``kind="option"``: per-share inputs; ``T0`` years (ACT/365), ``iv0`` fraction, ``q`` continuous
    yield, ``right`` +1 call / -1 put, ``eep`` the constant early-exercise premium per share
    (CRR - BSM at t0; 0 for European or where early exercise cannot matter).
    """

    symbol: str
    underlying: str
    qty: float
    kind: Literal["linear", "option"]
    value0: float = 0.0
    multiplier: float = 1.0
    spot0: float = float("nan")
    strike: float = float("nan")
    right: float = 1.0
    T0: float = 0.0
    iv0: float = float("nan")
    q: float = 0.0
    american: bool = False
    eep: float = 0.0


class BookRevaluer:
    """Callable ``revalue(R, h) -> (s, p)`` P&L of a mixed book (see the module docstring)."""

    def __init__(self, positions: Sequence[RevalPosition], assets: Sequence[str], as_of: date | None,
                 rate: Rate | float, vol_asset: str | None = "VIX", vol_level: float | None = None) -> None:
        self.positions = tuple(positions)
        self.assets = tuple(assets)
        self.as_of = as_of
        self.rate = float(rate.value if isinstance(rate, Rate) else rate)
        col = {a: j for j, a in enumerate(self.assets)}
        missing = [f"{p.symbol} (underlying {p.underlying})" for p in self.positions if p.underlying not in col]
        if missing:
            raise ValueError(
                "no scenario returns for: " + ", ".join(missing)
                + f"; the scenario columns are {list(self.assets)}: add the underlying's price history")
        for p in self.positions:
            if p.kind == "option" and not (np.isfinite(p.spot0) and p.spot0 > 0 and np.isfinite(p.iv0)
                                           and p.iv0 > 0 and np.isfinite(p.strike)):
                raise ValueError(f"option {p.symbol}: spot0, strike and iv0 must be finite and positive")
        self.notes: list[str] = []
        self.vol_col: int | None = None
        has_options = any(p.kind == "option" for p in self.positions)
        if vol_asset is not None and vol_asset in col and has_options:
            if vol_level is None or not np.isfinite(vol_level) or vol_level <= 0:
                raise ValueError(f"'{vol_asset}' is a scenario column but no current level was given "
                                 "(vol_level): the absolute vol shift needs it")
            self.vol_col = col[vol_asset]
        elif has_options:
            self.notes.append(f"no {vol_asset or 'vol'} scenario column: implied vols held constant")
        self.vol_level = vol_level

        lin = [i for i, p in enumerate(self.positions) if p.kind == "linear"]
        opt = [i for i, p in enumerate(self.positions) if p.kind == "option"]
        self._lin = np.array(lin, dtype=int)
        self._lin_col = np.array([col[self.positions[i].underlying] for i in lin], dtype=int)
        self._lin_value = np.array([self.positions[i].value0 for i in lin], dtype=float)
        self._opt = np.array(opt, dtype=int)
        self._opt_col = np.array([col[self.positions[i].underlying] for i in opt], dtype=int)
        ops = [self.positions[i] for i in opt]
        arr = lambda f: np.array([getattr(p, f) for p in ops], dtype=float)  # noqa: E731
        self._S0, self._K, self._w = arr("spot0"), arr("strike"), arr("right")
        self._T0, self._iv0, self._q = arr("T0"), arr("iv0"), arr("q")
        self._eep = arr("eep")
        self._american = np.array([p.american for p in ops], dtype=bool)
        self._scale = arr("qty") * arr("multiplier")
        self._sigma_floor = np.minimum(SIGMA_FLOOR, self._iv0)
        self._V0 = self._value(self._S0, self._T0, self._iv0)

    # -- pricing -------------------------------------------------------------------------------

    def _value(self, S: np.ndarray, T: np.ndarray, sigma: np.ndarray) -> np.ndarray:
        """Per-share value: BSM, plus the constant early-exercise premium while alive (American)."""
        v = bsm_value_unchecked(S, self._K, T, self.rate, self._q, sigma, self._w)
        # American and still alive at T: BSM + constant premium, floored at intrinsic (per column)
        cols = np.flatnonzero(self._american & (T > 0))
        if cols.size:
            S_a = S[..., cols]
            intrinsic = np.maximum(self._w[cols] * (S_a - self._K[cols]), 0.0)
            v[..., cols] = np.maximum(v[..., cols] + self._eep[cols], intrinsic)
        return v

    @property
    def values0(self) -> np.ndarray:
        """(p,) today's value of each position: market value (linear), model value (options)."""
        out = np.zeros(len(self.positions))
        out[self._lin] = self._lin_value
        out[self._opt] = self._V0 * self._scale
        return out

    def delta_exposure(self) -> np.ndarray:
        """(p, k) delta-equivalent $ exposure to each asset (explain columns, never the P&L)."""
        out = np.zeros((len(self.positions), len(self.assets)))
        out[self._lin, self._lin_col] = self._lin_value
        if self._opt.size:
            g = bsm_greeks(self._S0, self._K, self._T0, self.rate, self._q, self._iv0, self._w)
            out[self._opt, self._opt_col] = np.asarray(g["delta"]) * self._scale * self._S0
        return out

    def _check(self, returns: np.ndarray, horizon_days: int) -> np.ndarray:
        R = np.asarray(returns, dtype=float)
        if R.ndim != 2 or R.shape[1] != len(self.assets):
            raise ValueError(f"scenario returns must be (s, {len(self.assets)}) with columns {list(self.assets)}, "
                             f"got shape {R.shape}")
        if horizon_days < 1:
            raise ValueError("horizon_days must be >= 1")
        return R

    def _scenario_state(self, R: np.ndarray, horizon_days: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        S1 = self._S0 * np.maximum(1.0 + R[:, self._opt_col], 0.0)
        if self.vol_col is None:
            sigma1 = np.broadcast_to(self._iv0, S1.shape)
        else:
            shift = (self.vol_level * R[:, self.vol_col] / 100.0)[:, None]
            sigma1 = np.maximum(self._iv0 + shift, self._sigma_floor)
        T1 = self._T0 - horizon_days / TRADING_DAYS_PER_YEAR
        return S1, sigma1, T1

    # -- Revaluer ------------------------------------------------------------------------------

    def __call__(self, returns: np.ndarray, horizon_days: int) -> np.ndarray:
        """(s, p) P&L in $ of each position under (s, k) h-day simple returns."""
        R = self._check(returns, horizon_days)
        pnl = np.empty((R.shape[0], len(self.positions)))
        if self._lin.size:
            pnl[:, self._lin] = R[:, self._lin_col] * self._lin_value
        if self._opt.size:
            S1, sigma1, T1 = self._scenario_state(R, horizon_days)
            pnl[:, self._opt] = (self._value(S1, T1, sigma1) - self._V0) * self._scale
        return pnl

    def explain(self, returns: np.ndarray, horizon_days: int) -> np.ndarray:
        """(s, p) delta-gamma-vega-theta P&L (see :func:`delta_gamma_vega_pnl`)."""
        R = self._check(returns, horizon_days)
        pnl = np.empty((R.shape[0], len(self.positions)))
        if self._lin.size:
            pnl[:, self._lin] = R[:, self._lin_col] * self._lin_value
        if self._opt.size:
            g = bsm_greeks(self._S0, self._K, self._T0, self.rate, self._q, self._iv0, self._w)
            S1, sigma1, _ = self._scenario_state(R, horizon_days)
            dS = S1 - self._S0
            dvol_points = (sigma1 - self._iv0) * 100.0
            dt_days = horizon_days * 365.0 / TRADING_DAYS_PER_YEAR
            per_share = (np.asarray(g["delta"]) * dS + 0.5 * np.asarray(g["gamma"]) * dS ** 2
                         + np.asarray(g["vega"]) * dvol_points + np.asarray(g["theta"]) * dt_days)
            pnl[:, self._opt] = per_share * self._scale
        return pnl


def book_revaluer(positions: Sequence[RevalPosition], assets: Sequence[str], as_of: date | None,
                  rate: Rate | float, vol_asset: str | None = "VIX",
                  vol_level: float | None = None) -> BookRevaluer:
    """The full-revaluation :data:`Revaluer` of a mixed book.

    ``assets`` names the columns of the scenario returns; every position's ``underlying`` must be
    one of them (else ``ValueError`` naming it). ``vol_level`` is today's VIX (index points), needed
    when ``vol_asset`` is a column. ``rate`` is the continuously compounded risk-free fraction.
    """
    return BookRevaluer(positions, assets, as_of, rate, vol_asset=vol_asset, vol_level=vol_level)


def delta_gamma_vega_pnl(revaluer: BookRevaluer, returns: np.ndarray, horizon_days: int) -> np.ndarray:
    """Explain P&L (s, p): ``delta dS + 1/2 gamma dS^2 + vega dsigma + theta dt`` per option.

    BSM Greeks at today's IV (per share, scaled by qty x multiplier); ``dS`` in $, ``dsigma`` in vol
    points from the same VIX shift as full revaluation, ``dt = h x 365/252`` calendar days. Linear
    positions are exact (value x return). A second-order Taylor expansion: it misses the higher
    terms that full revaluation keeps (large moves, expiry inside the horizon).
    """
    return revaluer.explain(returns, horizon_days)


def build_reval_positions(portfolio: Portfolio, spots: dict[str, float], book: OptionBook,
                          strict: bool = True) -> tuple[list[RevalPosition], list[tuple[str, str]]]:
    """Revaluation specs of the portfolio's positions, in portfolio order.

    Linear positions are valued at ``spots[symbol]`` (else their own mark); options take spot, T,
    IV, yield and the early-exercise premium from ``book``. Positions that cannot be revalued
    (option n/a, no price) are returned as ``(symbol, reason)``; with ``strict`` they raise one
    ``ValueError`` listing all of them instead.
    """
    specs: list[RevalPosition] = []
    excluded: list[tuple[str, str]] = []
    for index, pos in enumerate(portfolio.positions):
        if pos.option is None:
            price = spots.get(pos.symbol, pos.price)
            if price is None or not np.isfinite(price):
                excluded.append((pos.symbol, f"no price for {pos.symbol}"))
                continue
            specs.append(RevalPosition(symbol=pos.symbol, underlying=pos.symbol, qty=float(pos.qty),
                                       kind="linear", value0=pos.market_value_at(float(price)),
                                       spot0=float(price)))
            continue
        a = book.for_position(index)
        if a is None or not a.ok or a.iv is None or a.T_years is None or a.spot is None:
            excluded.append((pos.symbol, a.reason if a is not None and a.reason else "option not analysed"))
            continue
        american = a.model is not None and a.model != "BSM"
        eep = (a.price_model - a.price_bsm) if american and a.price_model is not None and a.price_bsm is not None \
            else 0.0
        specs.append(RevalPosition(
            symbol=pos.symbol, underlying=a.underlying, qty=a.qty, kind="option",
            multiplier=a.contract.multiplier, spot0=a.spot, strike=a.contract.strike,
            right=1.0 if a.contract.right == "C" else -1.0, T0=a.T_years, iv0=a.iv, q=a.q,
            american=american, eep=max(eep, 0.0)))
    if strict and excluded:
        raise ValueError("cannot revalue: " + "; ".join(f"{s}: {r}" for s, r in excluded))
    return specs, excluded
