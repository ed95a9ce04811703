"""Glue between the pipeline and the options engine (pricing, Greeks, full revaluation).

The pipeline calls :func:`analyse` once per refresh when the book holds options. The returned
:class:`OptionContext` supplies:

* model prices for options without a mark (labelled, e.g. "model BSM (VIX proxy vol)");
* the ``option`` dict of each option row (decoded contract, IV and Greeks; units in the README);
* the ``exposures`` section (per underlying and total: delta, beta-weighted delta, gamma, vega,
  theta, DTE buckets, structures and expiry flags);
* the full-revaluation :data:`~wsbrisk_tui.engine.inputs.Revaluer` for the VaR suite.

Spots: an underlying's spot is the price the valuation used for it when the book holds it as a
linear position (a broker mark is newer than the close), else its last close.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from wsbrisk_tui.engine.model import MarketData, Portfolio, PositionRow, Rate
from wsbrisk_tui.engine.option_book import OptionBook, analyse_options
from wsbrisk_tui.engine.revaluation import book_revaluer, build_reval_positions


def _last_close(market: MarketData, symbol: str) -> float | None:
    if symbol not in market.prices.columns:
        return None
    s = market.prices[symbol].dropna()
    return float(s.iloc[-1]) if not s.empty else None


def _last_vix(market: MarketData) -> float | None:
    if market.vix is not None:
        s = market.vix.dropna()
        if not s.empty:
            return float(s.iloc[-1])
    if "VIX" in market.prices.columns:
        return _last_close(market, "VIX")
    return None


@dataclass
class OptionContext:
    """The options analytics of one refresh (see the module docstring)."""

    portfolio: Portfolio
    book: OptionBook
    spots: dict[str, float]
    rate: Rate
    vix: float | None
    model_prices: dict[str, tuple[float, str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def exposures(self) -> dict[str, Any]:
        d = self.book.to_dict()
        d.pop("options", None)
        return d

    def decorate_rows(self, rows: tuple[PositionRow, ...]) -> tuple[PositionRow, ...]:
        """Attach each option's analytics dict to its row (by position order)."""
        out = []
        for index, row in enumerate(rows):
            a = self.book.for_position(index)
            out.append(dataclasses.replace(row, option=a.to_dict()) if a is not None else row)
        return tuple(out)

    def revaluer(self, indices: list[int], positions: list, rows: list[PositionRow],
                 series: list[str]) -> tuple[Any, np.ndarray]:
        """Full-revaluation revaluer for the book's positions ``indices`` (their ``positions`` and
        valued ``rows``, in that order) over the asset columns ``series``.

        Returns the revaluer and the delta-equivalent exposure matrix (explain columns only).
        """
        sub = dataclasses.replace(self.portfolio, positions=tuple(positions))
        # Linear positions revalue at the price the valuation used, options at their spot.
        spots = dict(self.spots)
        for pos, row in zip(positions, rows):
            if pos.option is None and row.price is not None:
                spots[pos.symbol] = float(row.price)
        # Re-index the option analytics (by book position index) to the sub-book's order.
        index_map = {i: j for j, i in enumerate(indices)}
        options = tuple(dataclasses.replace(a, position_index=index_map[a.position_index])
                        for a in self.book.options if a.position_index in index_map)
        sub_book = dataclasses.replace(self.book, options=options)
        specs, _ = build_reval_positions(sub, spots, sub_book, strict=True)
        vol_level = self.vix if "VIX" in series else None
        reval = book_revaluer(specs, series, self.book.as_of, self.rate,
                              vol_asset="VIX" if "VIX" in series else None, vol_level=vol_level)
        self.notes.extend(n for n in reval.notes if n not in self.notes)
        return reval, reval.delta_exposure()


BETA_WINDOW_DAYS = 252
BETA_BENCHMARK = "SPY"


def betas_to_benchmark(market: MarketData, symbols: list[str], window: int = BETA_WINDOW_DAYS,
                       benchmark: str = BETA_BENCHMARK) -> dict[str, float]:
    """OLS beta of each symbol's daily simple returns on the benchmark's, over the last ``window``
    common days: ``beta = cov(r_i, r_b) / var(r_b)``. Symbols without enough common history (60
    days) are left out (the options analytics then assume 1.0 and say so)."""
    prices = market.prices
    if benchmark not in prices.columns:
        return {}
    out: dict[str, float] = {}
    for sym in symbols:
        if sym not in prices.columns:
            continue
        if sym == benchmark:
            out[sym] = 1.0
            continue
        pair = prices[[sym, benchmark]].dropna().iloc[-(window + 1):].to_numpy(dtype=float)
        if pair.shape[0] < 61:
            continue
        r = pair[1:] / pair[:-1] - 1.0
        var_b = float(np.var(r[:, 1], ddof=1))
        if var_b > 0:
            out[sym] = float(np.cov(r[:, 0], r[:, 1], ddof=1)[0, 1] / var_b)
    return out


def analyse(portfolio: Portfolio, market: MarketData, cache: Any = None) -> OptionContext:
    """Price the book's options against ``market`` (see the module docstring).

    With a ``cache`` (anything with ``get_or_compute(key, fn)``, e.g. the engine's FitCache) the
    analytics are reused while the book, spots, rate and VIX are unchanged: the CRR implied-vol
    solve is the slow part and a refresh on unchanged inputs must not redo it.
    """
    if cache is not None:
        key = ("option_support.analyse", market.as_of, market.source,
               tuple((p.symbol, p.qty, p.price) for p in portfolio.positions),
               _last_vix(market), market.risk_free)
        return cache.get_or_compute(key, lambda: _analyse(portfolio, market))
    return _analyse(portfolio, market)


def _analyse(portfolio: Portfolio, market: MarketData) -> OptionContext:
    notes: list[str] = []
    spots: dict[str, float] = {}
    for pos in portfolio.positions:
        und = pos.underlying
        if und in spots:
            continue
        close = _last_close(market, und)
        if close is not None:
            spots[und] = close
    for pos in portfolio.positions:  # a broker mark on the underlying itself wins
        if pos.option is None and pos.price is not None:
            spots[pos.symbol] = float(pos.price)
    rate = market.risk_free
    if rate is None:
        rate = Rate(0.0, "no risk-free rate available: 0% assumed", assumed=True)
        notes.append("no risk-free rate: option pricing assumes 0%")
    vix = _last_vix(market)
    betas = betas_to_benchmark(market, list(spots))
    book = analyse_options(portfolio, spots, market.as_of, rate, vix, betas=betas)
    model_prices: dict[str, tuple[float, str]] = {}
    for a in book.options:
        pos = portfolio.positions[a.position_index]
        if pos.price is None and a.ok and a.price_model is not None:
            model_prices[pos.symbol] = (float(a.price_model), f"model {a.model} ({a.iv_source})")
    notes.extend(book.notes)
    return OptionContext(portfolio=portfolio, book=book, spots=spots, rate=rate, vix=vix,
                         model_prices=model_prices, notes=notes)
