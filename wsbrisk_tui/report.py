"""The risk report: a :class:`RiskSnapshot` as JSON-ready data or as plain text.

The JSON report is the snapshot's own dict with the later sections (``stress``, ``correlation``,
``exposures``, ...) lifted to the top level, so scripts read ``report["var"]`` or
``report["stress"]``. Keys are stable; the README documents them. The text report prints the same
numbers as readable tables, for chat and email. Neither computes anything.
"""

from __future__ import annotations

from typing import Any

from wsbrisk_tui import fmt
from wsbrisk_tui.engine.model import RiskSnapshot

REPORT_SCHEMA = "wsbrisk-report/1"


def report_dict(snapshot: RiskSnapshot) -> dict[str, Any]:
    """The JSON report (see the README, "Report schema")."""
    data = snapshot.to_dict()
    sections = data.pop("sections", {}) or {}
    out: dict[str, Any] = {"schema": REPORT_SCHEMA}
    out.update(data)
    for name, value in sections.items():
        out[name] = value
    return out


def _table(headers: list[str], rows: list[list[str]], align: str | None = None) -> list[str]:
    """A plain-text table; ``align`` is one char per column, 'l' or 'r' (default: first l, rest r)."""
    align = align or ("l" + "r" * (len(headers) - 1))
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]

    def line(cells: list[str]) -> str:
        parts = [c.ljust(w) if a == "l" else c.rjust(w) for c, w, a in zip(cells, widths, align)]
        return "  ".join(parts).rstrip()

    return [line(headers), line(["-" * w for w in widths]), *(line(r) for r in rows)]


def format_report_text(snapshot: RiskSnapshot, horizon_days: int = 1) -> str:
    """The text report: header, positions, VaR ladder, backtests, notes."""
    m = snapshot.meta
    lines: list[str] = []
    stale = f"  STALE: {m.stale_reason}" if m.stale else ""
    lines.append(f"wsbrisk-tui {m.version}  [{m.mode}]  book: {m.portfolio_source}  prices: {m.market_source}")
    lines.append(f"as of {m.as_of.isoformat() if m.as_of else fmt.NA}  computed {m.computed_at:%Y-%m-%d %H:%M:%S %Z}"
                 f" in {m.compute_seconds * 1000:.0f} ms{stale}")
    rf = fmt.NA if m.risk_free is None else fmt.pct(m.risk_free)
    rf_note = " (assumed)" if m.risk_free_assumed else ""
    lines.append(f"NAV {fmt.money(snapshot.nav)} {m.base_currency}   cash {fmt.money(snapshot.cash)}   "
                 f"gross {fmt.money(snapshot.gross_exposure)}   net {fmt.money(snapshot.net_exposure)}   "
                 f"day P&L {fmt.money(snapshot.day_pnl, signed=True)}   risk-free {rf}{rf_note}")
    lines.append("")
    lines.append("POSITIONS")
    rows = []
    for p in snapshot.positions:
        rows.append([p.symbol, p.kind, p.description if p.description != p.symbol else "",
                     fmt.qty(p.qty), fmt.num(p.price), fmt.money(p.market_value), fmt.pct(p.weight, 1),
                     (fmt.arrow(p.day_pnl) + " " + fmt.money(p.day_pnl, signed=True)) if p.day_pnl is not None else fmt.NA])
    lines += _table(["symbol", "type", "contract", "qty", "price", "mkt value", "weight", "day P&L"], rows,
                    "lllrrrrr")
    for p in snapshot.positions:
        if p.status != "ok" and p.reason:
            lines.append(f"  n/a {p.symbol}: {p.reason}")

    if snapshot.var:
        lines.append("")
        lines.append(f"VAR / EXPECTED SHORTFALL ({horizon_days}-day, {m.base_currency}; positive = loss)")
        confs = sorted({r.confidence for r in snapshot.var})
        methods = list(dict.fromkeys(r.method for r in snapshot.var))
        zones = {(b.method, b.confidence): b.zone for b in snapshot.backtest}
        headers = ["method"] + [f"VaR {fmt.confidence_label(c)}" for c in confs] + \
                  [f"ES {fmt.confidence_label(c)}" for c in confs] + ["zone 99%"]
        vrows, reasons = [], []
        for method in methods:
            cells_v, cells_e = [], []
            for c in confs:
                r = snapshot.var_for(method, c, horizon_days)
                cells_v.append(fmt.money(r.var) if r else fmt.NA)
                cells_e.append(fmt.money(r.es) if r else fmt.NA)
                if r is not None and r.status != "ok" and r.reason:
                    reasons.append(f"  n/a {method} {fmt.confidence_label(c)}: {r.reason}")
            vrows.append([method, *cells_v, *cells_e, zones.get((method, 0.99)) or fmt.NA])
        lines += _table(headers, vrows)
        lines += list(dict.fromkeys(reasons))
    elif "var" in snapshot.unavailable:
        lines.append("")
        lines.append(f"VaR: n/a ({snapshot.unavailable['var']})")

    if snapshot.backtest:
        lines.append("")
        lines.append("BACKTEST (1-day, out of sample)")
        brows = []
        for b in snapshot.backtest:
            brows.append([b.method, fmt.confidence_label(b.confidence), str(b.observations),
                          fmt.NA if b.exceptions is None else str(b.exceptions),
                          fmt.num(b.kupiec_p, 3), fmt.num(b.christoffersen_p, 3), fmt.num(b.cc_p, 3),
                          b.zone or fmt.NA])
        lines += _table(["method", "conf", "obs", "exceptions", "Kupiec p", "indep p", "cc p", "zone"], brows)

    alerts = snapshot.sections.get("alerts")
    if isinstance(alerts, dict):
        lines.append("")
        active = alerts.get("active") or []
        lines.append(f"ALERTS ({len(active)} active)")
        for a in active:
            lines.append(f"  {str(a.get('severity', '')).upper():<8} {a.get('rule')}: {a.get('message')}")
        limits = alerts.get("limits") or []
        if limits:
            lrows = [[str(x.get("rule")), fmt.num(x.get("value"), 4), fmt.num(x.get("limit"), 4),
                      fmt.pct(x.get("utilisation"), 0), str(x.get("origin") or "")] for x in limits]
            lines += ["  " + row for row in _table(["limit", "value", "limit", "used", "from"], lrows, "lrrrl")]

    lines += _ml_lines(snapshot.sections.get("ml"))
    for name, reason in snapshot.unavailable.items():
        if name != "var":
            lines.append(f"{name}: n/a ({reason})")
    if m.notes:
        lines.append("")
        lines.append("NOTES")
        lines += [f"  - {n}" for n in m.notes]
    if m.series_notes:
        lines.append("")
        lines.append("DATA")
        lines += [f"  {sym}: {note}" for sym, note in m.series_notes.items()]
    return "\n".join(lines) + "\n"


def _ml_lines(ml: Any) -> list[str]:
    """The ML section in a few lines: status, each horizon's verdict with the best model's
    forecast today, the regime; the full table is ``wsbrisk-tui ml evaluate``."""
    if not isinstance(ml, dict):
        return []
    lines = ["", f"ML ({ml.get('status')})"]
    if ml.get("trained_through"):
        lines.append(f"  trained through {ml['trained_through']} ({ml.get('source')})")
    if ml.get("stale"):
        lines.append(f"  STALE: {ml.get('stale_reason')}")
    now = ml.get("now") or {}
    for h, v in (now.get("volatility") or {}).items():
        best, sigma = v.get("best"), v.get("best_sigma_pct")
        lines.append(f"  {h}-day volatility: best recent {best} {fmt.num(sigma, 2)}%/day; "
                     f"{v.get('verdict')}")
    regime = now.get("regime")
    if regime:
        lines.append("  regime now: " + ", ".join(f"{k} {p:.0%}" for k, p in regime.items()))
    if ml.get("reason"):
        lines.append(f"  {ml['reason']}")
    return lines
