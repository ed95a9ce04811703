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
from datetime import datetime, timezone
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


#: Sections computed from the risk inputs besides VaR, in order.
SECTIONS: tuple[str, ...] = ("stress", "correlation", "factors")


@dataclass(frozen=True)
class PipelineSettings:
    """What the pipeline computes.

    ``risk`` is a :class:`wsbrisk_tui.engine.suite.RiskSettings` (``None`` skips the VaR suite);
    ``sections`` names the other sections to compute (see :data:`SECTIONS`).
    """

    risk: Any = None
    #: Minimum common daily observations before any risk number is attempted.
    min_observations: int = 60
    sections: tuple[str, ...] = SECTIONS
    #: Rows of aligned history kept when no VaR settings say how many are needed.
    history_rows: int = 1_300
    #: User stress scenarios (config ``[[scenarios]]``) and the stress-loss limit (fraction of NAV).
    user_scenarios: tuple[Any, ...] = field(default=())
    stress_loss_limit_pct: float | None = None
    correlation_threshold: float = 0.8
    correlation_method: str = "ewma"
    #: Per-symbol stress betas that replace the estimated ones (config ``[betas]``).
    beta_overrides: Any = field(default_factory=dict)


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


@dataclass(frozen=True)
class PreparedBook:
    """The valued book and its risk inputs (``inputs`` is None with ``reason`` when impossible)."""

    valued: ValuedBook
    rows: tuple[PositionRow, ...]
    option_context: Any
    inputs: Any
    notes: tuple[str, ...]
    reason: str | None


def prepare_book(portfolio: Portfolio, market: MarketData, settings: PipelineSettings,
                 cache: Any = None) -> PreparedBook:
    """Option analytics, valuation and the aligned risk inputs: what every section reads."""
    option_context = None
    model_prices: dict[str, tuple[float, str]] = {}
    if any(p.option is not None for p in portfolio.positions):
        from wsbrisk_tui.engine import option_support

        option_context = option_support.analyse(portfolio, market, cache)
        model_prices = option_context.model_prices
    valued = value_book(portfolio, market, model_prices=model_prices)
    rows = valued.rows if option_context is None else option_context.decorate_rows(valued.rows)
    inputs, input_notes, reason = build_risk_inputs(portfolio, market, valued, option_context,
                                                    max_rows=_history_rows(settings),
                                                    min_observations=settings.min_observations)
    return PreparedBook(valued=valued, rows=rows, option_context=option_context, inputs=inputs,
                        notes=tuple(valued.notes) + tuple(input_notes), reason=reason)


def build_snapshot(portfolio: Portfolio, market: MarketData, settings: PipelineSettings, *,
                   seq: int = 0, rng: np.random.Generator | None = None, cache: Any = None,
                   clock: Callable[[], datetime] | None = None,
                   mode: str | None = None, ml: Any = None) -> RiskSnapshot:
    """Value the book and compute every section; never raises for bad data (n/a with reasons).

    ``ml`` (a :class:`~wsbrisk_tui.engine.ml_service.MlService`) adds the ``ml`` section and the
    ``regime_scaled``/``ml_quantile`` ladder rows with their backtests; without it those rows
    (when ``settings.risk.methods`` names them) are n/a."""
    started = time.perf_counter()
    now = (clock or (lambda: datetime.now(timezone.utc)))()
    rng = rng if rng is not None else np.random.default_rng(0)
    notes: list[str] = list(portfolio.notes) + list(market.notes)
    unavailable: dict[str, str] = {}
    sections: dict[str, Any] = {}

    prepared = prepare_book(portfolio, market, settings, cache)
    option_context, valued, inputs, reason = (prepared.option_context, prepared.valued,
                                              prepared.inputs, prepared.reason)
    notes.extend(prepared.notes)
    rows = prepared.rows
    if option_context is not None:
        sections["exposures"] = option_context.exposures

    var_results: tuple[VarResult, ...] = ()
    contributions: tuple = ()
    backtest: tuple = ()
    if settings.risk is None:
        unavailable["var"] = "risk suite not requested"
    elif inputs is None:
        unavailable["var"] = reason
        var_results = _all_unavailable(settings.risk, reason)
    else:
        from wsbrisk_tui.engine.suite import run_risk_suite

        results = run_risk_suite(inputs, settings.risk, rng, cache)
        var_results, contributions, backtest = results.var, results.contributions, results.backtest
        var_results, backtest = _with_ml(var_results, backtest, ml, portfolio, market, inputs,
                                         settings.risk, sections, unavailable)
    for name in settings.sections:
        if inputs is None:
            unavailable[name] = reason
            continue
        try:
            sections[name] = _SECTION_BUILDERS[name](inputs, market, settings, cache)
        except (ArithmeticError, ValueError, np.linalg.LinAlgError) as exc:
            # A section that fails says why on its pane; the rest of the snapshot stands.
            unavailable[name] = f"{type(exc).__name__}: {exc}"
    if option_context is not None:
        notes.extend(option_context.notes)  # de-duplicated with the rest below

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


def _with_ml(var_results: tuple[VarResult, ...], backtest: tuple, ml: Any, portfolio: Portfolio,
             market: MarketData, inputs: Any, risk: Any, sections: dict[str, Any],
             unavailable: dict[str, str]) -> tuple[tuple[VarResult, ...], tuple]:
    """Append the ML service's ladder rows and backtests, and put its section in place."""
    from wsbrisk_tui.engine.suite import ML_METHODS

    def not_available(reason: str) -> tuple[tuple[VarResult, ...], tuple]:
        unavailable["ml"] = reason
        return var_results + tuple(VarResult.unavailable(m, c, h, reason)
                                   for m in ML_METHODS if m in risk.methods
                                   for h in risk.horizons for c in risk.confidences), backtest

    if ml is None:
        return not_available("no ML service in this computation")
    try:
        parts = ml.snapshot_parts(portfolio, market, inputs, risk)
    except (ArithmeticError, ValueError, np.linalg.LinAlgError) as exc:
        # ML that fails says why on its pane and rows; the rest of the snapshot stands.
        return not_available(f"ML n/a: {type(exc).__name__}: {exc}")
    if parts.section is not None:
        sections["ml"] = parts.section
    else:
        unavailable["ml"] = parts.reason or "n/a"
    return var_results + parts.var, tuple(backtest) + parts.backtest


def _all_unavailable(risk_settings: Any, reason: str) -> tuple[VarResult, ...]:
    return tuple(
        VarResult.unavailable(m, c, h, reason)
        for m in risk_settings.methods
        for h in risk_settings.horizons
        for c in risk_settings.confidences
    )


def _history_rows(settings: PipelineSettings) -> int:
    risk = settings.risk
    if risk is None:
        return settings.history_rows
    longest = max(risk.window, getattr(risk, "garch_window", 0))
    return max(settings.history_rows, longest + risk.backtest_days + max(risk.horizons) + 1)


def build_risk_inputs(portfolio: Portfolio, market: MarketData, valued: ValuedBook, option_context: Any,
                      *, max_rows: int, min_observations: int = 60
                      ) -> tuple[Any, list[str], str | None]:
    """The :class:`RiskInputs` of the book: ``(inputs, notes, None)`` or ``(None, notes, reason)``.

    Positions enter when they have a value and a price history; the others are named in a note.
    Options are revalued in full (with VIX as the vol proxy when its history is there).
    """
    from wsbrisk_tui.engine.inputs import RiskInputs, linear_revaluer

    notes: list[str] = []
    nav = valued.nav
    if nav is None or not math.isfinite(nav) or nav <= 0:
        return None, notes, "NAV is not positive: risk as a fraction of NAV is undefined"
    included, assets, excluded = _risk_book(valued, portfolio, market)
    if not included:
        return None, notes, "no position has both a value and a price history"
    if excluded:
        notes.append("risk covers %d of %d positions; excluded: %s"
                     % (len(included), len(portfolio.positions), "; ".join(excluded)))
    positions = [portfolio.positions[i] for i in included]
    rows = [valued.rows[i] for i in included]
    has_options = option_context is not None and any(p.option is not None for p in positions)
    series = list(assets)
    if has_options and VOL_FACTOR in risk_panel(market).columns:
        series.append(VOL_FACTOR)
    elif has_options:
        notes.append("no VIX series: option revaluation holds implied volatility fixed")
    hist = align_history(market, series, max_rows=max_rows)
    if hist.dropped_dates:
        notes.append(f"{hist.dropped_dates} dates dropped where a series had no price (gaps are never filled)")
    if hist.limited_by:
        notes.append(f"common history starts when {hist.limited_by} starts")
    n_returns = hist.prices.shape[0] - 1
    if n_returns < min_observations:
        return None, notes, (f"only {max(n_returns, 0)} common daily returns for {', '.join(series)}; "
                             f"need at least {min_observations}")
    if not np.all(hist.prices > 0):
        return None, notes, "non-positive prices in the history: returns undefined"

    if has_options:
        revalue, exposure = option_context.revaluer(included, positions, rows, series)
        linear = False
    else:
        exposure = np.zeros((len(positions), len(series)))
        for a, (pos, row) in enumerate(zip(positions, rows)):
            exposure[a, series.index(pos.underlying)] = float(row.market_value)
        revalue, linear = linear_revaluer(exposure), True
    inputs = RiskInputs(
        dates=hist.dates[1:],
        assets=tuple(series),
        asset_returns=hist.prices[1:] / hist.prices[:-1] - 1.0,
        asset_prices=hist.prices,
        positions=tuple(p.symbol for p in positions),
        values=np.array([float(r.market_value) for r in rows]),
        exposure=exposure,
        nav=float(nav),
        linear=linear,
        revalue=revalue,
        notes=tuple(notes),
    )
    return inputs, notes, None


def _stress(inputs: Any, market: MarketData, settings: PipelineSettings, cache: Any) -> dict[str, Any]:
    from wsbrisk_tui.engine.stress import StressSettings, build_stress_model, stress_section

    overrides = {sym: dict(b) for sym, b in dict(settings.beta_overrides).items()}
    model = build_stress_model(inputs, market, StressSettings(overrides=overrides))
    return stress_section(inputs, market, user_scenarios=settings.user_scenarios,
                          limit_pct=settings.stress_loss_limit_pct, model=model)


def _correlation(inputs: Any, market: MarketData, settings: PipelineSettings, cache: Any) -> dict[str, Any]:
    from wsbrisk_tui.engine.correlation import correlation_section

    return correlation_section(inputs, market, method=settings.correlation_method,
                               threshold=settings.correlation_threshold, cache=cache)


def _factors(inputs: Any, market: MarketData, settings: PipelineSettings, cache: Any) -> dict[str, Any]:
    from wsbrisk_tui.engine.factors import factor_risk_section

    return factor_risk_section(inputs, market)


_SECTION_BUILDERS: dict[str, Callable[..., dict[str, Any]]] = {
    "stress": _stress,
    "correlation": _correlation,
    "factors": _factors,
}
