"""Stress heatmap: scenarios x positions P&L, shaded by loss; Enter opens the scenario.

Reads ``snapshot.sections["stress"]``::

    {"scenarios": [{"name", "kind", "total_pnl", "total_pct", "positions": {symbol: pnl},
                    "shocks": {factor: value},
                    "replay": {"max_drawdown", "days_to_recover", "path": [...]} | None}],
     "worst": name}

Cells are shaded relative to the largest absolute position P&L in the table; the total column
relative to the largest absolute total. Anything of an unexpected shape is shown as n/a.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.widget import Widget
from textual.widgets import DataTable, Sparkline, Static

from wsbrisk_tui import fmt
from wsbrisk_tui.engine.model import RiskSnapshot
from wsbrisk_tui.widgets.detail import DetailScreen
from wsbrisk_tui.widgets.palette import Cell, left, na_cell
from wsbrisk_tui.widgets.pane import TablePane, ViewState, as_float, section
from wsbrisk_tui.widgets.positions import short_label

NOT_YET = "Stress testing is not computed yet"


def valid_scenarios(data: Any) -> list[dict[str, Any]] | None:
    """The scenario list if the section has the documented shape, else None."""
    if not isinstance(data, dict) or not isinstance(data.get("scenarios"), list):
        return None
    out = []
    for s in data["scenarios"]:
        if not isinstance(s, dict) or not isinstance(s.get("name"), str):
            return None
        out.append(s)
    return out


def pnl_text(value: float | None, signed: bool = True) -> str:
    if value is None:
        return fmt.NA
    return f"{fmt.arrow(value)} {fmt.money(value, signed=signed)}"


class StressDetail(DetailScreen):
    """One scenario: per-position P&L (worst first), the shocks, the replay drawdown path."""

    def __init__(self, scenario: dict[str, Any], labels: dict[str, str], currency: str) -> None:
        self.scenario = scenario
        self.labels = labels
        self.currency = currency
        name = scenario.get("name", "?")
        super().__init__(f"Stress scenario: {name} ({scenario.get('kind', '?')})")

    def body(self) -> list[Widget]:
        s = self.scenario
        lines = [f"total P&L  {pnl_text(as_float(s.get('total_pnl')))} {self.currency}   "
                 f"({fmt.pct(as_float(s.get('total_pct')), signed=True)} of NAV)", "", "P&L by position (worst first)"]
        positions = s.get("positions")
        if isinstance(positions, dict):
            items = [(str(k), as_float(v)) for k, v in positions.items()]
            items.sort(key=lambda kv: (kv[1] is None, kv[1] if kv[1] is not None else 0.0))
            width = max((len(self.labels.get(k, k)) for k, _ in items), default=6)
            lines += [f"  {self.labels.get(k, k):<{width}}  {pnl_text(v):>16}" for k, v in items]
        else:
            lines.append(f"  {fmt.NA}: no per-position P&L in this scenario")
        lines += ["", "shocks"]
        shocks = s.get("shocks")
        if isinstance(shocks, dict) and shocks:
            for k, v in shocks.items():
                x = as_float(v)
                shown = fmt.NA if x is None else (f"{x:+g}" if abs(x) >= 1 else fmt.pct(x, 1, signed=True))
                lines.append(f"  {k:<16} {shown}")
        else:
            lines.append(f"  {fmt.NA}: none listed")
        widgets: list[Widget] = [Static(Text("\n".join(lines)), markup=False)]
        replay = s.get("replay")
        if isinstance(replay, dict):
            dd = as_float(replay.get("max_drawdown"))
            days = replay.get("days_to_recover")
            days_text = f"{days} trading days" if isinstance(days, int) else "not recovered in the data"
            widgets.append(Static(Text(f"\nreplay: max drawdown {fmt.pct(dd, 1)}, recovery {days_text}"),
                                  markup=False))
            path = replay.get("path")
            values = [as_float(v) for v in path] if isinstance(path, list) else []
            if values and all(v is not None for v in values):
                widgets.append(Static(f"path ({len(values)} days), min {fmt.pct(min(values), 1)}:", markup=False))
                widgets.append(Sparkline(values, classes="replay-path"))
        elif replay is not None:
            widgets.append(Static(f"replay: {fmt.NA} (unexpected shape)", markup=False))
        return widgets


class StressPane(TablePane):
    PANE = "stress"
    LABEL = "Stress"
    CURSOR_TYPE = "row"

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._scenarios: list[dict[str, Any]] = []
        self._labels: dict[str, str] = {}

    def render_snapshot(self, snapshot: RiskSnapshot, view: ViewState) -> None:
        data, reason = section(snapshot, "stress")
        self._scenarios = []
        if data is None:
            self.show_message("Stress", f"{NOT_YET}: {reason}")
            return
        scenarios = valid_scenarios(data)
        if scenarios is None:
            self.show_message("Stress", f"{fmt.NA}: the stress section has an unexpected shape")
            return
        if not scenarios:
            self.show_message("Stress", f"{fmt.NA}: no scenarios in the library")
            return
        self._scenarios = scenarios
        p = view.palette
        # Columns: the book's positions in snapshot order, then any symbol only a scenario names.
        symbols = [r.symbol for r in snapshot.positions]
        for s in scenarios:
            pos = s.get("positions")
            if isinstance(pos, dict):
                symbols += [str(k) for k in pos if str(k) not in symbols]
        labels = {r.symbol: short_label(r) for r in snapshot.positions}
        self._labels = labels
        cols: list[tuple[str, str | Text]] = [("name", "Scenario"), ("total", "Total"), ("pct", "% NAV")]
        cols += [(f"p:{sym}", labels.get(sym, sym)) for sym in symbols]
        table = self.table
        table.display = True
        table.set_columns(cols)
        pos_values = [as_float(v) for s in scenarios if isinstance(s.get("positions"), dict)
                      for v in s["positions"].values()]
        scale_pos = max((abs(v) for v in pos_values if v is not None), default=0.0) or 1.0
        totals = [as_float(s.get("total_pnl")) for s in scenarios]
        scale_tot = max((abs(v) for v in totals if v is not None), default=0.0) or 1.0
        worst = data.get("worst") if isinstance(data, dict) else None
        rows = []
        for i, s in enumerate(scenarios):
            total = as_float(s.get("total_pnl"))
            pct = as_float(s.get("total_pct"))
            name = s["name"] + (" (worst)" if s["name"] == worst else "")
            cells: list[object] = [
                left(name, p.strong if s["name"] == worst else ""),
                Cell(pnl_text(total), p.heat(None if total is None else total / scale_tot), sort=total)
                if total is not None else na_cell(p),
                Cell(fmt.pct(pct, 1, signed=True), p.signed(pct), sort=pct) if pct is not None else na_cell(p),
            ]
            pos = s.get("positions") if isinstance(s.get("positions"), dict) else {}
            for sym in symbols:
                v = as_float(pos.get(sym)) if sym in pos else None
                if v is None:
                    cells.append(na_cell(p, fmt.NA if sym in pos else "-"))
                else:
                    cells.append(Cell(f"{fmt.compact_money(v) if v <= 0 else '+' + fmt.compact_money(v)}",
                                      p.heat(v / scale_pos), sort=v))
            rows.append((f"s{i}:{s['name']}", cells))
        table.sync(rows)
        self.title_widget().update(
            f"Stress  {len(scenarios)} scenarios x {len(symbols)} positions  ({snapshot.meta.base_currency} P&L; Enter: details)")
        self.set_note(f"worst: {worst}" if isinstance(worst, str) else "")

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        key = str(event.row_key.value)
        index = int(key[1:key.index(":")]) if key.startswith("s") and ":" in key else -1
        if 0 <= index < len(self._scenarios) and self.snapshot is not None:
            self.app.push_screen(StressDetail(self._scenarios[index], self._labels,
                                              self.snapshot.meta.base_currency))
