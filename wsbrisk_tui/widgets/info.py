"""Info pane: provenance of the snapshot (sources, dates, risk-free rate, series notes), the
backtest table, and every section that is n/a with its reason."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widget import Widget
from textual.widgets import Static

from wsbrisk_tui import fmt
from wsbrisk_tui.engine.model import RiskSnapshot
from wsbrisk_tui.widgets.pane import SnapshotPane, ViewState


def info_lines(snapshot: RiskSnapshot) -> list[str]:
    m = snapshot.meta
    rf = fmt.NA if m.risk_free is None else fmt.pct(m.risk_free)
    rf_src = f" ({m.risk_free_source}{', assumed' if m.risk_free_assumed else ''})" if m.risk_free_source else ""
    lines = [
        f"mode          {m.mode}",
        f"book          {m.portfolio_source}",
        f"prices        {m.market_source}, last price date {m.as_of.isoformat() if m.as_of else fmt.NA}",
        f"computed      {m.computed_at:%Y-%m-%d %H:%M:%S %Z} in {m.compute_seconds * 1000:.0f} ms (refresh #{m.seq})",
        f"risk-free     {rf}{rf_src}",
        f"NAV           {fmt.money(snapshot.nav)} {m.base_currency}   cash {fmt.money(snapshot.cash)}",
        f"exposure      gross {fmt.money(snapshot.gross_exposure)}   net {fmt.money(snapshot.net_exposure)}",
        f"version       {m.version or fmt.NA}",
    ]
    if m.stale:
        lines.append(f"STALE         {m.stale_reason or 'no reason given'}")
    if snapshot.backtest:
        lines += ["", "BACKTEST (1-day VaR, out of sample)",
                  f"  {'method':<16}{'conf':>6}{'obs':>6}{'exc':>5}{'Kupiec p':>10}{'indep p':>9}{'cc p':>7}  zone"]
        for b in snapshot.backtest:
            exc = fmt.NA if b.exceptions is None else str(b.exceptions)
            lines.append(f"  {b.method:<16}{fmt.confidence_label(b.confidence):>6}{b.observations:>6}{exc:>5}"
                         f"{fmt.num(b.kupiec_p, 3):>10}{fmt.num(b.christoffersen_p, 3):>9}{fmt.num(b.cc_p, 3):>7}"
                         f"  {b.zone or fmt.NA}" + (f"  n/a: {b.reason}" if b.status != "ok" and b.reason else ""))
    if snapshot.unavailable:
        lines += ["", "NOT AVAILABLE"]
        lines += [f"  {name}: n/a: {reason}" for name, reason in snapshot.unavailable.items()]
    if m.notes:
        lines += ["", "NOTES"] + [f"  - {n}" for n in m.notes]
    if m.series_notes:
        lines += ["", "DATA SERIES"] + [f"  {sym}: {note}" for sym, note in m.series_notes.items()]
    return lines


class InfoPane(SnapshotPane):
    PANE = "info"
    LABEL = "Info"

    def compose(self) -> ComposeResult:
        yield Static("Info", classes="pane-title", markup=False)
        with VerticalScroll(can_focus=True):
            yield Static("", classes="info-body", markup=False)

    def focus_target(self) -> Widget:
        return self.query_one(VerticalScroll)

    def render_snapshot(self, snapshot: RiskSnapshot, view: ViewState) -> None:
        self.title_widget().update("Info: provenance, backtests, n/a sections")
        self.query_one(".info-body", Static).update(Text("\n".join(info_lines(snapshot))))
