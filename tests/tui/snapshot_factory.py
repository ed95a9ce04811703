"""Hand-built, deterministic RiskSnapshots for the dashboard tests.

Every number is typed in by hand (no random draws, no engine): the panes only format, so the
tests check that what is in the snapshot is what reaches the screen. The book:

====  =======  ======  ========  =========  ======  ========
sym   kind     qty     price     mkt value  weight  day P&L
====  =======  ======  ========  =========  ======  ========
SPY   etf      800     500.00    400,000    40.0%   +2,400
AAPL  equity   1,000   190.00    190,000    19.0%   -1,900
TLT   etf      -1,500  92.00     -138,000   -13.8%  +690
SPY   option   10      12.50     12,500     1.25%   -350
====  =======  ======  ========  =========  ======  ========

NAV 1,000,000 (cash 535,500). The frozen clock is 2025-01-15 15:30:00 UTC; the snapshot was
computed at 15:29:58 (so "age 2s" with the frozen clock).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import replace
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

from wsbrisk_tui.engine.model import (
    BacktestResult,
    Contribution,
    PositionRow,
    RiskSnapshot,
    SnapshotMeta,
    VarResult,
)

FROZEN_NOW = datetime(2025, 1, 15, 15, 30, 0, tzinfo=timezone.utc)
COMPUTED_AT = datetime(2025, 1, 15, 15, 29, 58, tzinfo=timezone.utc)
NAV = 1_000_000.0
OPTION_SYMBOL = "SPY250321C00600000"

METHODS = ("historical", "parametric", "cornish_fisher", "filtered_hs", "evt", "monte_carlo")
CONFIDENCES = (0.95, 0.99, 0.999)
HORIZONS = (1, 5, 10)

#: 1-day 99% VaR by method (USD). evt / monte_carlo = 2.525 triggers the model-risk mark at 99%
#: and 99.9% (factor 2.0); at 95% monte_carlo is overridden to 11,000 so the ratio is
#: 21,210 / 11,000 = 1.93 and 95% is NOT flagged.
VAR99_1D = {"historical": 21_000.0, "parametric": 18_500.0, "cornish_fisher": 22_800.0,
            "filtered_hs": 24_100.0, "evt": 30_300.0, "monte_carlo": 12_000.0}
#: Ratio VaR(c) / VaR(99%) for each confidence; ES is VaR x 1.18 (invented, monotone).
CONF_SCALE = {0.95: 0.70, 0.99: 1.0, 0.999: 1.40}
ES_RATIO = 1.18
#: (method, confidence) -> 1-day VaR overriding the scaled value.
OVERRIDE_1D = {("monte_carlo", 0.95): 11_000.0}


def frozen_clock() -> datetime:
    return FROZEN_NOW


def positions() -> tuple[PositionRow, ...]:
    return (
        PositionRow(symbol="SPY", kind="etf", description="SPY", qty=800, price=500.0,
                    price_source="market data 2025-01-14", market_value=400_000.0, weight=0.40,
                    day_pnl=2_400.0, underlying="SPY"),
        PositionRow(symbol="AAPL", kind="equity", description="AAPL", qty=1000, price=190.0,
                    price_source="market data 2025-01-14", market_value=190_000.0, weight=0.19,
                    day_pnl=-1_900.0, underlying="AAPL"),
        PositionRow(symbol="TLT", kind="etf", description="TLT", qty=-1500, price=92.0,
                    price_source="market data 2025-01-14", market_value=-138_000.0, weight=-0.138,
                    day_pnl=690.0, underlying="TLT"),
        PositionRow(symbol=OPTION_SYMBOL, kind="option", description="SPY 2025-03-21 600 C", qty=10,
                    price=12.5, price_source="broker mark", market_value=12_500.0, weight=0.0125,
                    day_pnl=-350.0, underlying="SPY",
                    option=option_dict()),
    )


def option_dict() -> dict[str, Any]:
    """``PositionRow.option`` as the engine writes it (units in wsbrisk_tui.engine.option_book):
    Greeks per share, position figures x qty 10 x multiplier 100 (delta_dollars at spot 500)."""
    return {"underlying": "SPY", "expiry": "2025-03-21", "strike": 600.0, "right": "C", "multiplier": 100.0,
            "dte": 65, "iv": 0.1812, "iv_source": "implied from mark", "delta": 0.42, "gamma": 0.0065,
            "vega": 0.95, "theta": -0.21, "rho": 0.30, "model": "BSM", "status": "ok", "reason": None,
            "iv_note": None, "style": "american", "spot": 500.0, "delta_shares": 420.0,
            "delta_dollars": 210_000.0, "dollar_gamma_1pct": 16_250.0, "vega_usd": 950.0,
            "theta_usd": -210.0, "rho_usd": 300.0, "premium_usd": 12_500.0, "adjusted": False}


def exposures_section() -> dict[str, Any]:
    """The option book's structures and flags (the engine's ``exposures`` section, trimmed)."""
    return {
        "as_of": "2025-01-14", "rate": 0.0432, "rate_source": "demo",
        "exposures": {"by_underlying": [], "total": {}, "dte_buckets": []},
        "structures": [{"underlying": "SPY", "expiry": "2025-03-21", "kind": "single leg",
                        "description": "long call", "legs": [OPTION_SYMBOL], "net_premium_usd": 12_500.0,
                        "max_loss_usd": 12_500.0, "risk": "defined", "note": None}],
        "flags": [],
        "notes": [],
    }


def var_results(na_method: str | None = None, na_reason: str = "") -> tuple[VarResult, ...]:
    out: list[VarResult] = []
    for method in METHODS:
        for c in CONFIDENCES:
            for h in HORIZONS:
                if method == na_method:
                    out.append(VarResult.unavailable(method, c, h, na_reason))
                    continue
                var = OVERRIDE_1D.get((method, c), VAR99_1D[method] * CONF_SCALE[c]) * h ** 0.5
                es = var * ES_RATIO
                out.append(VarResult(method=method, confidence=c, horizon_days=h, var=var, es=es,
                                     var_pct=var / NAV, es_pct=es / NAV))
    return tuple(out)


def contributions() -> tuple[Contribution, ...]:
    comps = {"SPY": 15_000.0, "AAPL": 7_800.0, "TLT": -2_900.0, OPTION_SYMBOL: 1_100.0}
    return tuple(Contribution(symbol=s, method="historical", confidence=0.99, marginal=None,
                              component=v, incremental=None) for s, v in comps.items())


def backtests() -> tuple[BacktestResult, ...]:
    zones = {"historical": ("green", 3), "parametric": ("yellow", 6), "cornish_fisher": ("green", 2),
             "filtered_hs": ("green", 4), "evt": ("green", 1), "monte_carlo": ("red", 11)}
    return tuple(BacktestResult(method=m, confidence=0.99, observations=250, exceptions=e, zone=z)
                 for m, (z, e) in zones.items())


def stress_section() -> dict[str, Any]:
    """The engine's shape (:func:`wsbrisk_tui.engine.stress.stress_section`): ``worst`` is an id,
    replay ``max_drawdown`` is currency and ``max_drawdown_pct`` a fraction of the peak, the path
    is ``[[iso_date, pnl], ...]``, ``explain`` holds the option's Greeks approximation."""
    return {
        "scenarios": [
            {"id": "gfc_2008", "name": "2008 GFC", "kind": "historical", "description": "Lehman and after",
             "total_pnl": -182_400.0, "total_pct": -0.1824,
             "positions": {"SPY": -160_000.0, "AAPL": -57_000.0, "TLT": 47_100.0, OPTION_SYMBOL: -12_500.0},
             "shocks": {"equity": -0.40, "rates_bp": -180.0, "vix_points": 33.0, "AAPL": -0.30},
             "notes": ["replay revalues options instantly at each date (today's expiry, no decay)"],
             "explain": {OPTION_SYMBOL: -11_900.0},
             "replay": {"window": ["2007-10-09", "2009-03-09"], "base_date": "2007-10-09",
                        "pnl": -171_000.0, "pnl_pct": -0.171, "max_drawdown": 210_000.0,
                        "max_drawdown_pct": 0.21, "trough_date": "2008-11-20", "days_to_recover": 412,
                        "recovery_note": None,
                        "path": [["2007-10-09", 0.0], ["2007-10-10", -50_000.0], ["2008-01-15", -120_000.0],
                                 ["2008-11-20", -210_000.0], ["2009-03-09", -171_000.0]],
                        "missing": []}},
            {"id": "rates_up_100", "name": "Rates +100bp", "kind": "hypothetical", "total_pnl": 14_200.0,
             "total_pct": 0.0142,
             "positions": {"SPY": -8_000.0, "AAPL": -3_800.0, "TLT": 26_500.0, OPTION_SYMBOL: -500.0},
             "shocks": {"rates_bp": 100.0}, "notes": [], "explain": {OPTION_SYMBOL: -480.0}, "replay": None},
            {"id": "tech_down_15", "name": "Tech -15%", "kind": "hypothetical", "total_pnl": -41_700.0,
             "total_pct": -0.0417,
             "positions": {"SPY": -12_000.0, "AAPL": -28_500.0, "TLT": 0.0, OPTION_SYMBOL: -1_200.0},
             "shocks": {"tech": -0.15, "equity": -0.03}, "notes": [], "explain": {OPTION_SYMBOL: -1_150.0},
             "replay": None},
        ],
        "worst": "gfc_2008",
        "worst_name": "2008 GFC",
        "limit": {"stress_loss_pct": 0.15, "worst_loss_pct": 0.1824, "breached": True},
        "notes": [],
    }


def correlation_section() -> dict[str, Any]:
    return {
        "method": "pearson, 252d",
        "symbols": ["SPY", "AAPL", "TLT"],
        "matrix": [[1.0, 0.78, -0.35], [0.78, 1.0, -0.22], [-0.35, -0.22, 1.0]],
        "average": 0.07,
        "breakdown": False,
        "top_pairs": [{"a": "SPY", "b": "AAPL", "corr": 0.78}],
    }


def alerts_section() -> dict[str, Any]:
    return {
        "active": [
            {"id": "a-1", "rule": "max_position_weight", "severity": "warning", "value": 0.40,
             "limit": 0.20, "first_seen": "2025-01-15T14:00:00+00:00",
             "last_seen": "2025-01-15T15:10:00+00:00", "acknowledged": False,
             "message": "SPY is 40.0% of NAV (limit 20.0%)"},
            {"id": "a-2", "rule": "var99_1d_pct", "severity": "critical", "value": 0.0241,
             "limit": 0.02, "first_seen": "2025-01-15T15:00:00+00:00",
             "last_seen": "2025-01-15T15:29:58+00:00", "acknowledged": False,
             "message": "1-day 99% VaR 2.41% of NAV (limit 2.00%)"},
        ],
        "limits": [
            {"rule": "max_position_weight", "value": 0.40, "limit": 0.20, "utilisation": 2.0},
            {"rule": "var99_1d_pct", "value": 0.0241, "limit": 0.02, "utilisation": 1.205},
            {"rule": "gross_exposure", "value": 0.74, "limit": 1.5, "utilisation": 0.493},
        ],
    }


def history_section() -> dict[str, Any]:
    times = [f"2025-01-{d:02d}T21:00:00+00:00" for d in range(2, 15)]
    navs = [980_000, 984_000, 979_500, 990_000, 995_500, 993_000, 1_001_000, 998_000, 1_004_000,
            1_002_500, 999_000, 997_600, 1_000_000]
    var99 = [19_000 + 150 * i for i in range(13)]
    es99 = [v * ES_RATIO for v in var99]
    return {"nav": [[t, float(v)] for t, v in zip(times, navs)],
            "var99": [[t, float(v)] for t, v in zip(times, var99)],
            "es99": [[t, float(v)] for t, v in zip(times, es99)]}


#: The engine's ML section after a finished training (``status: ready``): a real run of the
#: engine on a 4-asset book (1,299 daily returns 2015-11-04 .. 2020-12-31), saved as JSON.
ML_READY_PATH = Path(__file__).parent / "fixtures" / "ml_section_ready.json"
#: Why the ML models are not there yet (the engine's text for ``status: not_trained``).
ML_NOT_TRAINED = ("ML models not trained yet: the dashboard and the daemon train them in the background "
                  "(about 30 s), or run `wsbrisk-tui ml evaluate`")


def ml_section_ready() -> dict[str, Any]:
    """A fresh copy of the ready section (tests may change it)."""
    return json.loads(ML_READY_PATH.read_text(encoding="utf-8"))


def ml_section_training() -> dict[str, Any]:
    """Retraining at step 4 of 16 while the models trained at 14:02 stay on screen."""
    data = ml_section_ready()
    data["status"] = "training"
    data["training"] = {"running": True, "step": 4, "steps": 16, "label": "random_forest (1-day), 33 fits",
                        "started_at": "2026-11-24T14:01:50+00:00", "elapsed_s": 9.0}
    return data


def ml_section_empty(status: str, **fields: Any) -> dict[str, Any]:
    """A section with nothing trained to show (first training, not trained, failed, disabled)."""
    data: dict[str, Any] = {"status": status, "stale": False, "stale_reason": None, "training": None,
                            "error": None, "trained_at": None, "trained_through": None,
                            "train_seconds": None, "source": None, "next_training": None,
                            "book": None, "now": None, "assets": None}
    data.update(copy.deepcopy(fields))
    return data


def ml_section_first_training() -> dict[str, Any]:
    return ml_section_empty("not_trained", training={
        "running": True, "step": 1, "steps": 16, "label": "ewma (1-day)",
        "started_at": "2026-11-24T14:01:50+00:00", "elapsed_s": 0.4})


def make_snapshot(seq: int = 1, *, full: bool = True, na_method: str | None = None,
                  na_reason: str = "", stale: bool = False, stale_reason: str | None = None,
                  computed_at: datetime = COMPUTED_AT, day_pnl: float = 840.0,
                  price_bump: float = 0.0, ml: Any = None) -> RiskSnapshot:
    """The book above. ``full`` adds stress, correlation, alerts and history sections;
    otherwise they are unavailable with reasons. ``price_bump`` shifts SPY's price (for in-place
    update tests). ``ml`` adds the ML section (a dict) or the reason it is unavailable (a str);
    by default the snapshot has neither, as before the ML pane existed."""
    rows = positions()
    if price_bump:
        spy = rows[0]
        rows = (replace(spy, price=spy.price + price_bump,
                        market_value=spy.qty * (spy.price + price_bump)),) + rows[1:]
    meta = SnapshotMeta(seq=seq, computed_at=computed_at, compute_seconds=0.412, mode="DEMO",
                        portfolio_source="demo book", market_source="demo history",
                        as_of=date(2025, 1, 14), stale=stale, stale_reason=stale_reason,
                        version="0.1.0", risk_free=0.0432, risk_free_source="demo",
                        series_notes={"SPY": "real: S&P 500", "AAPL": "generated: demo"},
                        notes=("option revaluation holds implied volatility fixed",))
    sections: dict[str, Any] = {}
    unavailable: dict[str, str] = {}
    if full:
        sections = {"stress": stress_section(), "exposures": exposures_section(),
                    "correlation": correlation_section(),
                    "alerts": alerts_section(), "history": history_section()}
    else:
        unavailable = {"stress": "scenario library not loaded", "correlation": "fewer than 60 common days",
                       "alerts": "no limits configured", "history": "no history store"}
    if isinstance(ml, str):
        unavailable["ml"] = ml
    elif ml is not None:  # a dict, or anything else to test the pane's shape checks
        sections["ml"] = ml
    return RiskSnapshot(meta=meta, nav=NAV, cash=535_500.0, gross_exposure=740_500.0,
                        net_exposure=464_500.0, positions=rows, var=var_results(na_method, na_reason),
                        contributions=contributions(), backtest=backtests(), sections=sections,
                        unavailable=unavailable, day_pnl=day_pnl)


def counting_compute(factory: Callable[[int], RiskSnapshot] | None = None) -> Callable[[int], RiskSnapshot]:
    """A fake ``compute(seq)`` that returns the factory snapshot with ``meta.seq = seq``."""
    build = factory or (lambda seq: make_snapshot(seq))

    def compute(seq: int) -> RiskSnapshot:
        return build(seq)

    return compute
