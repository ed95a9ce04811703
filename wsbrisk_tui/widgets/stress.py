"""Stress heatmap: scenarios x positions P&L, shaded by loss; Enter opens the scenario.

Reads ``snapshot.sections["stress"]`` (the engine's section, :func:`wsbrisk_tui.engine.stress.stress_section`)::

    {"scenarios": [{"id", "name", "kind", "description", "total_pnl", "total_pct",
                    "positions": {symbol: pnl | null}, "shocks": {factor or SYMBOL: value},
                    "notes": [...], "explain": {option symbol: delta-gamma-vega-theta P&L},
                    "replay": {"window", "base_date", "pnl", "pnl_pct", "max_drawdown" (currency),
                               "max_drawdown_pct" (fraction of the peak), "trough_date",
                               "days_to_recover", "recovery_note", "path": [[iso_date, pnl], ...],
                               "missing": [...]} | null}],
     "worst": scenario id, "worst_name": its name,
     "limit": {"stress_loss_pct", "worst_loss_pct", "breached"}}

Cells are shaded relative to the largest absolute position P&L in the table; the total column
relative to the largest absolute total. Anything of an unexpected shape is shown as n/a. The
"explain" P&L is shown beside the full revaluation in the scenario detail, never instead of it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

from rich.style import Style
from rich.text import Text
from textual.binding import Binding, BindingType
from textual.widget import Widget
from textual.widgets import DataTable, Sparkline, Static

from wsbrisk_tui import fmt
from wsbrisk_tui.engine.model import RiskSnapshot
from wsbrisk_tui.widgets.detail import DetailScreen
from wsbrisk_tui.widgets.history import parse_series
from wsbrisk_tui.widgets.palette import Cell, Palette, left, na_cell
from wsbrisk_tui.widgets.pane import TablePane, ViewState, as_float, section
from wsbrisk_tui.widgets.positions import short_label
from wsbrisk_tui.widgets.whatif import WhatIfBox

NOT_YET = "Stress testing is not computed yet"
#: Said under the per-position P&L when a scenario has an explain column.
EXPLAIN_LEGEND = "Greeks explain: delta-gamma-vega-theta estimate, never in totals"
#: Display names of shock keys that carry their unit in the key.
SHOCK_NAMES = {"vix_points": "VIX", "rates_bp": "rates", "credit_bp": "credit"}


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


def shock_text(key: str, value: Any) -> str:
    """A shock in its unit: ``rates +50bp``, ``VIX +15 pts``, ``equity -7.0%``, ``NVDA -30.0%``."""
    x = as_float(value)
    if x is None:
        return fmt.NA
    if key.endswith("_bp"):
        return f"{x:+g}bp"
    if key == "vix_points":
        return f"{x:+g} pts"
    return fmt.pct(x, 1, signed=True)


def is_worst(scenario: dict[str, Any], worst: Any) -> bool:
    """``worst`` is a scenario id (the section's contract)."""
    return isinstance(worst, str) and scenario.get("id") == worst


def worst_line(data: dict[str, Any], scenarios: list[dict[str, Any]], currency: str, p: Palette) -> Text:
    """``worst: Equity -50%  ▼ -468,863 USD (-46.9% of NAV)  ·  stress-loss limit 25.0% of NAV: BREACHED``."""
    worst = data.get("worst")
    text = Text()
    if not isinstance(worst, str):
        text.append(f"worst: {fmt.NA} (no scenario has a total P&L)")
    else:
        s = next((s for s in scenarios if is_worst(s, worst)), None)
        name = data.get("worst_name") if isinstance(data.get("worst_name"), str) else worst
        text.append("worst: ")
        text.append(name, p.strong)
        if s is not None:
            total, pct = as_float(s.get("total_pnl")), as_float(s.get("total_pct"))
            text.append(f"  {pnl_text(total)} {currency}", p.signed(total))
            text.append(f" ({fmt.pct(pct, 1, signed=True)} of NAV)")
    limit = data.get("limit")
    if isinstance(limit, dict):
        cap = as_float(limit.get("stress_loss_pct"))
        text.append("  ·  ")
        if cap is None:
            text.append("no stress-loss limit set (limits.stress_loss_pct)", p.muted)
        else:
            breached = limit.get("breached")
            state = "BREACHED" if breached is True else "within" if breached is False else fmt.NA
            text.append(f"stress-loss limit {fmt.pct(cap, 1)} of NAV: ")
            text.append(state, p.loss + p.strong if breached is True else Style())
    return text


class StressDetail(DetailScreen):
    """One scenario: per-position P&L (worst first) with the options' explain column, the shocks,
    notes, and for a historical replay its drawdown, recovery and P&L path."""

    DEFAULT_CSS = """
    StressDetail .replay-path { height: 3; margin-top: 1; }
    """

    def __init__(self, scenario: dict[str, Any], labels: dict[str, str], currency: str,
                 options: Iterable[str] = ()) -> None:
        self.scenario = scenario
        self.labels = labels
        self.currency = currency
        self.options = frozenset(options)
        name = scenario.get("name", "?")
        super().__init__(f"Stress scenario: {name} ({scenario.get('kind', '?')})")

    def _position_lines(self) -> list[str]:
        s = self.scenario
        positions = s.get("positions")
        if not isinstance(positions, dict):
            return [f"  {fmt.NA}: no per-position P&L in this scenario"]
        explain = s.get("explain") if isinstance(s.get("explain"), dict) else {}
        items = [(str(k), as_float(v)) for k, v in positions.items()]
        items.sort(key=lambda kv: (kv[1] is None, kv[1] if kv[1] is not None else 0.0))
        width = max([len(self.labels.get(k, k)) for k, _ in items] + [8])
        with_explain = bool(explain) or any(k in self.options for k, _ in items)
        header = f"  {'position':<{width}}  {'full reval':>14}"
        if with_explain:
            header += f"  {'Greeks explain':>14}"
        lines = ["P&L by position, worst first", header]
        for k, v in items:
            line = f"  {self.labels.get(k, k):<{width}}  {pnl_text(v):>14}"
            if with_explain and (k in explain or k in self.options):
                line += f"  {pnl_text(as_float(explain.get(k))):>14}"
            lines.append(line.rstrip())
        if with_explain:
            lines.append(EXPLAIN_LEGEND)
        return lines

    def body(self) -> list[Widget]:
        s = self.scenario
        lines = [f"total P&L  {pnl_text(as_float(s.get('total_pnl')))} {self.currency}   "
                 f"({fmt.pct(as_float(s.get('total_pct')), 2, signed=True)} of NAV)"]
        if isinstance(s.get("description"), str) and s["description"]:
            lines.append(s["description"])
        lines += ["", *self._position_lines(), "", "shocks applied"]
        shocks = s.get("shocks")
        if isinstance(shocks, dict) and shocks:
            lines += [f"  {SHOCK_NAMES.get(str(k), str(k)):<12} {shock_text(str(k), v):>10}" for k, v in shocks.items()]
        else:
            lines.append(f"  {fmt.NA}: none listed")
        notes = s.get("notes")
        if isinstance(notes, list) and notes:
            lines += ["", "notes"] + [f"  - {n}" for n in notes]
        widgets: list[Widget] = [Static(Text("\n".join(lines)), markup=False)]
        replay = s.get("replay")
        if isinstance(replay, dict):
            widgets += self._replay(replay)
        elif replay is not None:
            widgets.append(Static(f"\nhistorical replay: {fmt.NA} (unexpected shape)", markup=False))
        return widgets

    def _replay(self, replay: dict[str, Any]) -> list[Widget]:
        window = replay.get("window")
        span = (f"{window[0]} to {window[1]}" if isinstance(window, list) and len(window) == 2
                else fmt.NA)
        dd, dd_pct = as_float(replay.get("max_drawdown")), as_float(replay.get("max_drawdown_pct"))
        days = replay.get("days_to_recover")
        if isinstance(days, int) and not isinstance(days, bool):
            recovery = f"recovered {days} trading days later"
        else:
            note = replay.get("recovery_note")
            recovery = note if isinstance(note, str) and note else f"recovery {fmt.NA}"
        lines = ["", f"historical replay {span} (base close {replay.get('base_date', fmt.NA)})",
                 f"  P&L at the end   {pnl_text(as_float(replay.get('pnl')))} {self.currency} "
                 f"({fmt.pct(as_float(replay.get('pnl_pct')), 1, signed=True)} of NAV)",
                 f"  max drawdown     {fmt.money(dd)} {self.currency} ({fmt.pct(dd_pct, 1)} of the peak)",
                 f"  trough           {replay.get('trough_date', fmt.NA)}, {recovery}"]
        missing = replay.get("missing")
        if isinstance(missing, list) and missing:
            lines.append(f"  left out (no prices): {', '.join(str(m) for m in missing)}")
        widgets: list[Widget] = [Static(Text("\n".join(lines)), markup=False)]
        parsed = parse_series(replay.get("path"))
        if parsed is None or not parsed[1] or any(v is None for v in parsed[1]):
            widgets.append(Static(f"  P&L path: {fmt.NA} (missing or unexpected shape)", markup=False))
            return widgets
        dates, values = parsed
        pnl = [v for v in values if v is not None]
        widgets.append(Sparkline(pnl, summary_function=min, classes="replay-path"))
        widgets.append(Static(f"  P&L path {dates[0]}..{dates[-1]}, {len(pnl)} days, "
                              f"low {fmt.money(min(pnl), signed=True)}, high {fmt.money(max(pnl), signed=True)}",
                              markup=False))
        return widgets


class StressPane(TablePane):
    PANE = "stress"
    LABEL = "Stress"
    CURSOR_TYPE = "row"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("w", "what_if", "What-if", id="stress.what_if"),
    ]

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._scenarios: list[dict[str, Any]] = []
        self._labels: dict[str, str] = {}
        self._options: set[str] = set()

    def compose_extras(self) -> Iterable[Widget]:
        yield WhatIfBox(id=f"{self.id}-whatif" if self.id else None)

    @property
    def what_if_box(self) -> WhatIfBox:
        return self.query_one(WhatIfBox)

    def action_what_if(self) -> None:
        self.what_if_box.open()

    def render_snapshot(self, snapshot: RiskSnapshot, view: ViewState) -> None:
        self._labels = {r.symbol: short_label(r) for r in snapshot.positions}
        self._options = {r.symbol for r in snapshot.positions if r.kind == "option"}
        self.what_if_box.set_context(self._labels, snapshot.meta.base_currency, view.palette)
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
        labels = self._labels
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
        worst = data.get("worst")
        rows = []
        for i, s in enumerate(scenarios):
            total = as_float(s.get("total_pnl"))
            pct = as_float(s.get("total_pct"))
            mark = is_worst(s, worst)
            cells: list[object] = [
                left(s["name"] + (" (worst)" if mark else ""), p.strong if mark else ""),
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
            f"Stress  {len(scenarios)} scenarios x {len(symbols)} positions  "
            f"({snapshot.meta.base_currency} P&L; Enter: details)")
        self.set_note(worst_line(data, scenarios, snapshot.meta.base_currency, p))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        key = str(event.row_key.value)
        index = int(key[1:key.index(":")]) if key.startswith("s") and ":" in key else -1
        if 0 <= index < len(self._scenarios) and self.snapshot is not None:
            self.app.push_screen(StressDetail(self._scenarios[index], self._labels,
                                              self.snapshot.meta.base_currency, self._options))
