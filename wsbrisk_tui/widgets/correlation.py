"""Correlation matrix: symbols on both axes, cells shaded by correlation; Enter shows the pair.

Reads ``snapshot.sections["correlation"]``::

    {"method", "symbols": [...], "matrix": [[...]], "average", "breakdown": bool,
     "top_pairs": [{"a", "b", "corr"}]}

Positive correlation shades towards the loss colour (it concentrates risk), negative towards the
gain colour (it hedges); the sign is always printed, so the meaning survives without colour.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.widgets import DataTable

from wsbrisk_tui import fmt
from wsbrisk_tui.engine.model import RiskSnapshot
from wsbrisk_tui.widgets.detail import DetailScreen
from wsbrisk_tui.widgets.palette import Cell, na_cell
from wsbrisk_tui.widgets.pane import TablePane, ViewState, as_float, section


def valid_matrix(data: Any) -> tuple[list[str], list[list[float | None]]] | None:
    """(symbols, square matrix) if the section has the documented shape, else None."""
    if not isinstance(data, dict):
        return None
    symbols, matrix = data.get("symbols"), data.get("matrix")
    if not isinstance(symbols, list) or not isinstance(matrix, list) or len(matrix) != len(symbols):
        return None
    rows = []
    for row in matrix:
        if not isinstance(row, list) or len(row) != len(symbols):
            return None
        rows.append([as_float(v) for v in row])
    return [str(s) for s in symbols], rows


class PairDetail(DetailScreen):
    def __init__(self, a: str, b: str, corr: float | None, method: str, data: dict[str, Any]) -> None:
        lines = [f"{a} x {b}", "", f"correlation  {fmt.num(corr, 3)}  ({method})"]
        by_method = data.get("methods_available")
        symbols = data.get("symbols")
        if isinstance(by_method, dict) and isinstance(symbols, list) and a in symbols and b in symbols:
            i, j = symbols.index(a), symbols.index(b)
            parts = []
            for name in ("sample", "ewma", "dcc"):
                m = by_method.get(name)
                value = as_float(m[i][j]) if isinstance(m, list) and len(m) > max(i, j) else None
                parts.append(f"{name} {fmt.num(value, 3)}")
            lines.append("by method    " + "   ".join(parts))
        history = data.get("pair_history")
        series = None
        if isinstance(history, dict) and isinstance(history.get("pairs"), dict):
            series = history["pairs"].get(f"{a}|{b}") or history["pairs"].get(f"{b}|{a}")
        if isinstance(series, list) and series:
            dates = history.get("dates") or []
            values = [as_float(v) for v in series]
            lines += ["", f"rolling {history.get('window')}-day correlation (scale -1 .. +1)",
                      f"  {fmt.spark(values, -1.0, 1.0)}",
                      f"  {dates[0] if dates else ''} .. {dates[-1] if dates else ''}   "
                      f"min {fmt.num(min(v for v in values if v is not None), 2)}  "
                      f"max {fmt.num(max(v for v in values if v is not None), 2)}"]
        tails = data.get("tail_dependence")
        if isinstance(tails, list):
            for t in tails:
                if isinstance(t, dict) and {t.get("a"), t.get("b")} == {a, b}:
                    lines.append(f"lower-tail dependence  empirical 5% {fmt.num(as_float(t.get('empirical_5pct')), 2)}"
                                 f"   t copula {fmt.num(as_float(t.get('t_copula')), 2)}")
        avg = as_float(data.get("average"))
        lines.append(f"book average {fmt.num(avg, 3)}")
        if data.get("breakdown") is True:
            lines.append("BREAKDOWN: correlations have shifted from their long-run level")
        super().__init__(f"Correlation: {a} x {b}", Text("\n".join(lines)))


class CorrelationPane(TablePane):
    PANE = "correlation"
    LABEL = "Correlation"

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._symbols: list[str] = []
        self._matrix: list[list[float | None]] = []
        self._data: dict[str, Any] = {}

    def render_snapshot(self, snapshot: RiskSnapshot, view: ViewState) -> None:
        data, reason = section(snapshot, "correlation")
        parsed = valid_matrix(data) if data is not None else None
        if parsed is None:
            self.show_message("Correlation", f"{fmt.NA}: {reason}" if data is None
                              else f"{fmt.NA}: the correlation section has an unexpected shape")
            self._symbols, self._matrix = [], []
            return
        symbols, matrix = parsed
        self._symbols, self._matrix, self._data = symbols, matrix, data
        p = view.palette
        method = str(data.get("method", "?"))
        table = self.table
        table.display = True
        table.show_row_labels = True
        table.set_columns([(f"c:{s}", s) for s in symbols])
        rows = []
        for sym, row in zip(symbols, matrix):
            cells: list[object] = []
            for other, v in zip(symbols, row):
                if v is None:
                    cells.append(na_cell(p))
                elif other == sym:
                    cells.append(Cell(f"{v:+.2f}", p.muted, sort=v))
                else:
                    # High positive correlation concentrates risk: shade it like a loss.
                    cells.append(Cell(f"{v:+.2f}", p.heat(-v), sort=v))
            rows.append((f"r:{sym}", cells))
        table.sync(rows, labels={f"r:{s}": s for s in symbols})
        avg = as_float(data.get("average"))
        breakdown = "  ·  BREAKDOWN" if data.get("breakdown") is True else ""
        self.title_widget().update(f"Correlation  {method}  ·  average {fmt.num(avg, 2)}{breakdown}  (Enter: pair)")
        top = data.get("top_pairs")
        pairs = [f"{t.get('a')}/{t.get('b')} {fmt.num(as_float(t.get('corr')), 2)}"
                 for t in top if isinstance(t, dict)] if isinstance(top, list) else []
        self.set_note(("top pairs: " + ", ".join(pairs)) if pairs else "")

    def on_data_table_cell_selected(self, event: DataTable.CellSelected) -> None:
        event.stop()
        row = event.coordinate.row
        col = event.coordinate.column
        if not (0 <= row < len(self._symbols) and 0 <= col < len(self._symbols)):
            return
        a = str(event.cell_key.row_key.value)[2:]
        b = str(event.cell_key.column_key.value)[2:]
        i, j = self._symbols.index(a), self._symbols.index(b)
        self.app.push_screen(PairDetail(a, b, self._matrix[i][j], str(self._data.get("method", "?")),
                                        self._data))
