"""VaR ladder: methods x confidence levels, VaR and ES, for one horizon, with backtest zones.

Each row is a method; columns are VaR and ES at each confidence in the snapshot (95/99/99.9% by
default) for the selected horizon, then the 99% backtest zone (Basel traffic light) with its
exception count. Values are positive losses, in base currency or as % of NAV.

Model-risk mark: at each confidence, when the largest VaR across methods exceeds the smallest by
more than the configured factor (``risk.model_risk_factor``, default 2), both extreme cells get a
``!`` and a footnote names the pair. The ratio is a display diagnostic of numbers already in the
snapshot (no risk is computed here).
"""

from __future__ import annotations

import math

from rich.text import Text
from textual.widgets import DataTable

from wsbrisk_tui import fmt
from wsbrisk_tui.engine.model import BacktestResult, RiskSnapshot, VarResult
from wsbrisk_tui.widgets.detail import DetailScreen
from wsbrisk_tui.widgets.palette import Cell, left, na_cell
from wsbrisk_tui.widgets.pane import TablePane, ViewState

BACKTEST_CONFIDENCE = 0.99


def methods_of(snapshot: RiskSnapshot) -> list[str]:
    return list(dict.fromkeys(r.method for r in snapshot.var))


def confidences_of(snapshot: RiskSnapshot) -> list[float]:
    return sorted({r.confidence for r in snapshot.var})


def horizons_of(snapshot: RiskSnapshot) -> list[int]:
    return sorted({r.horizon_days for r in snapshot.var})


def model_risk_flags(snapshot: RiskSnapshot, horizon_days: int, factor: float
                     ) -> dict[float, tuple[str, str, float]]:
    """confidence -> (method with max VaR, method with min VaR, max/min) where the ratio > factor."""
    flags: dict[float, tuple[str, str, float]] = {}
    for c in confidences_of(snapshot):
        vals = [(r.var, r.method) for r in snapshot.var
                if math.isclose(r.confidence, c) and r.horizon_days == horizon_days
                and r.status == "ok" and r.var is not None and r.var > 0]
        if len(vals) < 2:
            continue
        hi, lo = max(vals), min(vals)
        ratio = hi[0] / lo[0]
        if ratio > factor:
            flags[c] = (hi[1], lo[1], ratio)
    return flags


def backtest_for(snapshot: RiskSnapshot, method: str) -> BacktestResult | None:
    for b in snapshot.backtest:
        if b.method == method and math.isclose(b.confidence, BACKTEST_CONFIDENCE):
            return b
    return None


def value_text(r: VarResult | None, which: str, units: str) -> str:
    if r is None or r.status != "ok":
        return fmt.NA
    if units == "pct":
        return fmt.pct(r.var_pct if which == "var" else r.es_pct)
    return fmt.compact_money(r.var if which == "var" else r.es)


class VarDetail(DetailScreen):
    """All horizons, confidence intervals and details of one method."""

    def __init__(self, snapshot: RiskSnapshot, method: str) -> None:
        ccy = snapshot.meta.base_currency
        lines = [f"{'conf':>6} {'h':>3} {'VaR':>14} {'ES':>14} {'VaR %NAV':>9} {'ES %NAV':>9}  CI (VaR)"]
        reasons = []
        for r in snapshot.var:
            if r.method != method:
                continue
            ci = f"[{fmt.money(r.ci[0])}, {fmt.money(r.ci[1])}]" if r.ci else "-"
            lines.append(f"{fmt.confidence_label(r.confidence):>6} {r.horizon_days:>3} {fmt.money(r.var):>14} "
                         f"{fmt.money(r.es):>14} {fmt.pct(r.var_pct):>9} {fmt.pct(r.es_pct):>9}  {ci}")
            if r.status != "ok":
                reasons.append(f"n/a {fmt.confidence_label(r.confidence)} {r.horizon_days}d: {r.reason}")
        details = next((r.details for r in snapshot.var if r.method == method and r.details), None)
        if details:
            lines.append("")
            lines.append("details: " + ", ".join(f"{k}={v}" for k, v in details.items()))
        bt = backtest_for(snapshot, method)
        if bt is not None:
            lines.append("")
            lines.append(f"backtest 99% 1-day: {bt.exceptions if bt.exceptions is not None else fmt.NA} "
                         f"exceptions in {bt.observations} days, zone {bt.zone or fmt.NA}, "
                         f"Kupiec p {fmt.num(bt.kupiec_p, 3)}, independence p {fmt.num(bt.christoffersen_p, 3)}, "
                         f"conditional coverage p {fmt.num(bt.cc_p, 3)}")
            if bt.status != "ok":
                lines.append(f"backtest n/a: {bt.reason}")
        lines += [""] + list(dict.fromkeys(reasons)) if reasons else []
        super().__init__(f"VaR / ES: {method} ({ccy}, positive = loss)", Text("\n".join(lines)))


class VarLadderPane(TablePane):
    PANE = "var"
    LABEL = "VaR"
    INITIAL_TITLE = "VaR ladder"
    CURSOR_TYPE = "row"
    HEADER_HEIGHT = 2

    def render_snapshot(self, snapshot: RiskSnapshot, view: ViewState) -> None:
        p = view.palette
        ccy = snapshot.meta.base_currency
        units = "% of NAV" if view.units == "pct" else ccy
        horizons = horizons_of(snapshot)
        h = view.horizon_days if view.horizon_days in horizons or not horizons else horizons[0]
        self.title_widget().update(
            f"VaR ladder  {h}-day  {units}  (positive = loss)"
            + (f"  ·  horizons {'/'.join(f'{x}d' for x in horizons)}: [ ]" if len(horizons) > 1 else ""))
        if not snapshot.var:
            self.table.set_columns([("msg", "VaR")])
            self.table.sync([("msg", [left(fmt.NA)])])
            self.set_note(f"VaR: n/a: {snapshot.unavailable.get('var', 'not in this snapshot')}")
            return
        confs = confidences_of(snapshot)
        flags = model_risk_flags(snapshot, h, view.model_risk_factor)
        columns: list[tuple[str, str | Text]] = [("method", "Method")]
        for which in ("VaR", "ES"):
            for c in confs:
                # Two-line headers keep the columns as narrow as their numbers (80x24).
                columns.append((f"{which.lower()}-{c:g}",
                                Text(f"{which}\n{fmt.confidence_label(c)}", justify="right")))
        columns.append(("bt", "Backtest\n99% 1d"))
        self.table.set_columns(columns)
        rows = []
        # reason -> the methods (or "method backtest") it explains, in order of appearance.
        reasons: dict[str, list[str]] = {}
        for method in methods_of(snapshot):
            cells: list[object] = [left(method, p.strong)]
            for which in ("var", "es"):
                for c in confs:
                    r = snapshot.var_for(method, c, h)
                    text = value_text(r, which, view.units)
                    if r is None or r.status != "ok":
                        cells.append(na_cell(p, fmt.NA + ("*" if r is not None and r.reason else "")))
                        if r is not None and r.reason:
                            reasons.setdefault(r.reason, [])
                            if method not in reasons[r.reason]:
                                reasons[r.reason].append(method)
                        continue
                    flagged = which == "var" and c in flags and method in flags[c][:2]
                    style = p.warn if flagged else ""
                    cells.append(Cell(text + ("!" if flagged else ""), style, sort=r.var))
            bt = backtest_for(snapshot, method)
            if bt is None:
                cells.append(na_cell(p))
            elif bt.status != "ok" or bt.zone is None:
                cells.append(na_cell(p, fmt.NA + "*"))
                if bt.reason:
                    reasons.setdefault(bt.reason, []).append(f"{method} backtest")
            else:
                exc = fmt.NA if bt.exceptions is None else str(bt.exceptions)
                cells.append(Cell(f"{bt.zone} {exc}", p.zone(bt.zone), sort=bt.exceptions, justify="left"))
            rows.append((method, cells))
        self.table.sync(rows)
        # n/a reasons first: they explain cells on screen; then model risk; then the legend.
        notes = [f"* {', '.join(names)}: n/a: {reason}" for reason, names in reasons.items()]
        notes += [f"! model risk {fmt.confidence_label(c)}: {hi} / {lo} = {ratio:.1f}x > {view.model_risk_factor:g}x"
                  for c, (hi, lo, ratio) in flags.items()]
        bt_obs = sorted({b.observations for b in snapshot.backtest if b.status == "ok"})
        if bt_obs:
            notes.append(f"backtest: zone and exceptions in {'/'.join(map(str, bt_obs))} days (Basel traffic light)")
        self.set_note("\n".join(notes))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if self.snapshot is not None and event.row_key.value in methods_of(self.snapshot):
            self.app.push_screen(VarDetail(self.snapshot, str(event.row_key.value)))
