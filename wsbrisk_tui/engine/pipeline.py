"""From sources to one :class:`~wsbrisk_tui.engine.model.RiskSnapshot`.

``build_snapshot`` is the only place where the pieces meet: valuation, the aligned return history,
the option analytics (full revaluation), the VaR/ES suite and the later sections. Every stage that
cannot run says why in ``snapshot.unavailable`` or in a result's ``reason``; nothing is filled in.

Alignment: the risk history is the set of dates on which *every* series the book needs has a
price. A date missing for one series is dropped for all (never zero-filled or forward-filled);
the count is reported in the snapshot notes. A series that starts late shortens the common
history for the whole book, and the note names it.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import Any

import numpy as np

from wsbrisk_tui import __version__
from wsbrisk_tui.engine.model import (
    MarketData,
    Portfolio,
    PositionRow,
    RiskSnapshot,
    SnapshotMeta,
    VarResult,
)
from wsbrisk_tui.engine.valuation import ValuedBook, value_book

#: The VIX column name used as the implied-volatility proxy in option revaluation.
VOL_FACTOR = "VIX"


@dataclass(frozen=True)
class PipelineSettings:
    """What the pipeline computes. ``risk`` is a :class:`wsbrisk_tui.engine.suite.RiskSettings`
    (``None`` skips the VaR suite, e.g. for a valuation-only report)."""

    risk: Any = None
    #: Minimum common daily observations before any VaR is attempted.
    min_observations: int = 60
    #: Extra sections to compute, by name, each a function (book context) -> dict.
    extra_sections: tuple[str, ...] = field(default=())


@dataclass(frozen=True)
class AlignedHistory:
    """Prices of the book's series on their common dates."""

    dates: np.ndarray
    symbols: tuple[str, ...]
    prices: np.ndarray  # (n, k)
    dropped_dates: int
    limited_by: str | None  # the series that starts latest, when it shortens the history


def risk_panel(market: MarketData) -> Any:
    """The price panel risk reads: ``market.prices`` plus the VIX level as a ``VIX`` column
    (the implied-volatility proxy for option revaluation), aligned on the price dates."""
    prices = market.prices
    if VOL_FACTOR not in prices.columns and market.vix is not None:
        prices = prices.assign(**{VOL_FACTOR: market.vix.reindex(prices.index)})
    return prices


def align_history(market: MarketData, symbols: list[str], max_rows: int | None = None) -> AlignedHistory:
    """Common-date prices for ``symbols`` (columns of :func:`risk_panel`)."""
    frame = risk_panel(market)[symbols]
    starts = {s: frame[s].first_valid_index() for s in symbols}
    start = max((v for v in starts.values() if v is not None), default=None)
    limited_by = None
    if start is not None:
        first_common = frame.index[0]
        if start > first_common:
            limited_by = max(starts, key=lambda s: starts[s] if starts[s] is not None else first_common)
        frame = frame.loc[start:]
    complete = frame.dropna(how="any")
    dropped = int(len(frame) - len(complete))
    if max_rows is not None and len(complete) > max_rows:
        complete = complete.iloc[-max_rows:]
    return AlignedHistory(
        dates=complete.index.to_numpy(dtype="datetime64[D]"),
        symbols=tuple(symbols),
        prices=complete.to_numpy(dtype=float),
        dropped_dates=dropped,
        limited_by=limited_by,
    )


def _risk_book(valued: ValuedBook, portfolio: Portfolio, market: MarketData
               ) -> tuple[list[int], list[str], list[str]]:
    """Indices of positions that enter the risk book, the assets they need, and exclusion notes."""
    included: list[int] = []
    excluded: list[str] = []
    assets: dict[str, None] = {}
    for i, (pos, row) in enumerate(zip(portfolio.positions, valued.rows)):
        if row.market_value is None:
            excluded.append(f"{pos.symbol} (not valued: {row.reason})")
            continue
        col = pos.underlying
        if col not in market.prices.columns or market.prices[col].dropna().empty:
            excluded.append(f"{pos.symbol} (no price history for {col})")
            continue
        included.append(i)
        assets.setdefault(col, None)
    return included, list(assets), excluded


def build_snapshot(portfolio: Portfolio, market: MarketData, settings: PipelineSettings, *,
                   seq: int = 0, rng: np.random.Generator | None = None, cache: Any = None,
                   clock: Callable[[], datetime] | None = None,
                   mode: str | None = None) -> RiskSnapshot:
    """Value the book and compute every section; never raises for bad data (n/a with reasons)."""
    started = time.perf_counter()
    now = (clock or (lambda: datetime.now(timezone.utc)))()
    rng = rng if rng is not None else np.random.default_rng(0)
    notes: list[str] = list(portfolio.notes) + list(market.notes)
    unavailable: dict[str, str] = {}
    sections: dict[str, Any] = {}

    option_context = None
    model_prices: dict[str, tuple[float, str]] = {}
    if any(p.option is not None for p in portfolio.positions):
        from wsbrisk_tui.engine import option_support

        option_context = option_support.analyse(portfolio, market, cache)
        model_prices = option_context.model_prices
    valued = value_book(portfolio, market, model_prices=model_prices)
    notes.extend(valued.notes)
    rows: tuple[PositionRow, ...] = valued.rows
    if option_context is not None:
        rows = option_context.decorate_rows(rows)
        sections["exposures"] = option_context.exposures
        if option_context.notes:
            notes.extend(option_context.notes)

    var_results: tuple[VarResult, ...] = ()
    contributions: tuple = ()
    backtest: tuple = ()
    if settings.risk is None:
        unavailable["var"] = "risk suite not requested"
    else:
        var_results, contributions, backtest, risk_notes, reason = _run_risk(
            portfolio, market, valued, settings, rng, cache, option_context)
        notes.extend(risk_notes)
        if reason:
            unavailable["var"] = reason
            var_results = _all_unavailable(settings.risk, reason)

    meta = SnapshotMeta(
        seq=seq,
        computed_at=now,
        compute_seconds=time.perf_counter() - started,
        mode=mode or portfolio.mode,
        portfolio_source=portfolio.source,
        market_source=market.source,
        as_of=market.as_of,
        stale=market.stale,
        stale_reason=market.stale_reason,
        base_currency=portfolio.base_currency,
        version=__version__,
        risk_free=market.risk_free.value if market.risk_free else None,
        risk_free_source=market.risk_free.source if market.risk_free else None,
        risk_free_assumed=bool(market.risk_free and market.risk_free.assumed),
        series_notes=dict(market.series_notes),
        notes=tuple(dict.fromkeys(notes)),  # de-duplicated, order kept
    )
    return RiskSnapshot(
        meta=meta,
        nav=valued.nav,
        cash=valued.cash,
        gross_exposure=valued.gross_exposure,
        net_exposure=valued.net_exposure,
        positions=rows,
        var=var_results,
        contributions=contributions,
        backtest=backtest,
        sections=sections,
        unavailable=unavailable,
        day_pnl=valued.day_pnl,
    )


def _all_unavailable(risk_settings: Any, reason: str) -> tuple[VarResult, ...]:
    return tuple(
        VarResult.unavailable(m, c, h, reason)
        for m in risk_settings.methods
        for h in risk_settings.horizons
        for c in risk_settings.confidences
    )


def _run_risk(portfolio: Portfolio, market: MarketData, valued: ValuedBook, settings: PipelineSettings,
              rng: np.random.Generator, cache: Any, option_context: Any):
    """Build RiskInputs and run the suite. Returns (var, contributions, backtest, notes, reason)."""
    from wsbrisk_tui.engine.inputs import RiskInputs
    from wsbrisk_tui.engine.suite import run_risk_suite

    notes: list[str] = []
    nav = valued.nav
    if nav is None or not math.isfinite(nav) or nav <= 0:
        return (), (), (), notes, "NAV is not positive: VaR as a fraction of NAV is undefined"
    included, assets, excluded = _risk_book(valued, portfolio, market)
    if not included:
        return (), (), (), notes, "no position has both a value and a price history"
    if excluded:
        notes.append("VaR covers %d of %d positions; excluded: %s"
                     % (len(included), len(portfolio.positions), "; ".join(excluded)))
    needs_vol = option_context is not None and any(portfolio.positions[i].option is not None for i in included)
    series = list(assets)
    if needs_vol and VOL_FACTOR in risk_panel(market).columns:
        series.append(VOL_FACTOR)
    elif needs_vol:
        notes.append("no VIX series: option revaluation holds implied volatility fixed")
    risk = settings.risk
    max_rows = risk.window + risk.backtest_days + max(risk.horizons) + 1
    hist = align_history(market, series, max_rows=max_rows)
    if hist.dropped_dates:
        notes.append(f"{hist.dropped_dates} dates dropped where a series had no price (gaps are never filled)")
    if hist.limited_by:
        notes.append(f"common history starts when {hist.limited_by} starts")
    n_returns = hist.prices.shape[0] - 1
    if n_returns < settings.min_observations:
        return (), (), (), notes, (f"only {max(n_returns, 0)} common daily returns for "
                                   f"{', '.join(series)}; need at least {settings.min_observations}")
    if not np.all(hist.prices > 0):
        return (), (), (), notes, "non-positive prices in the history: returns undefined"

    positions = [portfolio.positions[i] for i in included]
    rows = [valued.rows[i] for i in included]
    k = len(series)
    exposure = np.zeros((len(positions), k))
    for a, (pos, row) in enumerate(zip(positions, rows)):
        exposure[a, series.index(pos.underlying)] = float(row.market_value)
    if option_context is not None and any(p.option is not None for p in positions):
        revalue, exposure = option_context.revaluer(included, positions, rows, series)
        linear = False
    else:
        from wsbrisk_tui.engine.inputs import linear_revaluer

        revalue, linear = linear_revaluer(exposure), True
    values = np.array([float(r.market_value) for r in rows])
    inputs = RiskInputs(
        dates=hist.dates[1:],
        assets=tuple(series),
        asset_returns=hist.prices[1:] / hist.prices[:-1] - 1.0,
        asset_prices=hist.prices,
        positions=tuple(p.symbol for p in positions),
        values=values,
        exposure=exposure,
        nav=float(nav),
        linear=linear,
        revalue=revalue,
        notes=tuple(notes),
    )
    results = run_risk_suite(inputs, risk, rng, cache)
    return results.var, results.contributions, results.backtest, notes, None
