"""Hand-built RiskSnapshots for the history, alerts and daemon tests (no engine, no random draws).

``sample_snapshot`` builds a demo-sized book: 17 positions, 11 methods x 3 confidences x 3
horizons of VaR/ES, a backtest per method, a 10-scenario stress section and a correlation
matrix. Every number is a closed form of the arguments, so tests can predict what is stored.
It imports only the engine model (fast enough for child processes started 50 times).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Any

from wsbrisk_tui.engine.model import BacktestResult, PositionRow, RiskSnapshot, SnapshotMeta, VarResult

T0 = datetime(2025, 1, 15, 15, 30, 0, tzinfo=timezone.utc)
METHODS = ("parametric_normal", "cornish_fisher", "student_t", "garch_normal", "garch_t", "historical",
           "historical_weighted", "filtered_historical", "monte_carlo", "monte_carlo_t_copula", "evt_gpd")
CONFIDENCES = (0.95, 0.99, 0.999)
HORIZONS = (1, 5, 10)
SYMBOLS = ("AAPL", "MSFT", "NVDA", "AMZN", "GOOGL", "META", "TSLA", "JPM", "XOM", "SPY", "QQQ", "IWM",
           "TLT", "GLD", "BTC/USD", "ETH/USD", "SPY250321C00600000")


def positions(nav: float, weights: dict[str, float] | None = None) -> tuple[PositionRow, ...]:
    """17 positions; default weight 2% of NAV each unless ``weights`` says otherwise."""
    rows = []
    for i, sym in enumerate(SYMBOLS):
        w = (weights or {}).get(sym, 0.02)
        mv = w * nav
        price = 100.0 + i
        rows.append(PositionRow(symbol=sym, kind="equity", description=sym, qty=mv / price, price=price,
                                price_source="market data", market_value=mv, weight=w,
                                day_pnl=0.001 * mv, underlying=sym))
    return tuple(rows)


def var_results(nav: float, var99_pct: float, es_ratio: float = 1.2,
                na_methods: tuple[str, ...] = ()) -> tuple[VarResult, ...]:
    """VaR(c, h) = var99_pct x NAV x scale(c) x sqrt(h), the same for every method; ES = 1.2 x VaR."""
    scale = {0.95: 0.7, 0.99: 1.0, 0.999: 1.4}
    out = []
    for m in METHODS:
        for c in CONFIDENCES:
            for h in HORIZONS:
                if m in na_methods:
                    out.append(VarResult.unavailable(m, c, h, "test: method n/a"))
                    continue
                var = var99_pct * nav * scale[c] * h ** 0.5
                out.append(VarResult(method=m, confidence=c, horizon_days=h, var=var, es=var * es_ratio,
                                     var_pct=var / nav, es_pct=var * es_ratio / nav,
                                     details={"window": 252}))
    return tuple(out)


def stress_section(nav: float, worst_pct: float = -0.10) -> dict[str, Any]:
    scen = []
    for i in range(10):
        pct = worst_pct * (i + 1) / 10
        scen.append({"id": f"s{i}", "name": f"Scenario {i}", "kind": "hypothetical",
                     "total_pnl": pct * nav, "total_pct": pct,
                     "positions": {s: pct * nav / len(SYMBOLS) for s in SYMBOLS}})
    return {"scenarios": scen, "worst": "Scenario 9"}


def correlation_section(max_corr: float = 0.6, breakdown: bool = False) -> dict[str, Any]:
    syms = list(SYMBOLS[:14])
    n = len(syms)
    mat = [[1.0 if i == j else (max_corr if (i, j) in ((0, 1), (1, 0)) else 0.1) for j in range(n)]
           for i in range(n)]
    return {"method": "pearson, 252d", "symbols": syms, "matrix": mat, "average": 0.12,
            "breakdown": breakdown}


def sample_snapshot(seq: int = 1, computed_at: datetime = T0, *, nav: float = 1_000_000.0,
                    var99_pct: float = 0.02, day_pnl: float = 1_000.0, as_of: date | None = None,
                    weights: dict[str, float] | None = None, stale: bool = False,
                    stale_reason: str | None = None, stress_worst_pct: float | None = -0.10,
                    max_corr: float = 0.6, breakdown: bool = False, zone: str = "green",
                    na_methods: tuple[str, ...] = (), mode: str = "DEMO") -> RiskSnapshot:
    rows = positions(nav, weights)
    gross = sum(abs(r.market_value or 0.0) for r in rows)
    meta = SnapshotMeta(seq=seq, computed_at=computed_at, compute_seconds=0.25, mode=mode,
                        portfolio_source="test book", market_source="test prices",
                        as_of=as_of or (computed_at.date() - timedelta(days=1)), stale=stale,
                        stale_reason=stale_reason, version="0.1.0", risk_free=0.04,
                        risk_free_source="test", series_notes={"SPY": "test"}, notes=("hand-built",))
    exceptions = {"green": 2, "yellow": 6, "red": 11}[zone]
    bt = tuple(BacktestResult(method=m, confidence=0.99, observations=250, exceptions=exceptions, zone=zone)
               for m in METHODS)
    sections: dict[str, Any] = {"correlation": correlation_section(max_corr, breakdown)}
    unavailable: dict[str, str] = {}
    if stress_worst_pct is not None:
        sections["stress"] = stress_section(nav, stress_worst_pct)
    else:
        unavailable["stress"] = "test: no scenarios"
    return RiskSnapshot(meta=meta, nav=nav, cash=nav - gross, gross_exposure=gross, net_exposure=gross,
                        positions=rows, var=var_results(nav, var99_pct, na_methods=na_methods), backtest=bt,
                        sections=sections, unavailable=unavailable, day_pnl=day_pnl)
