"""History pane: sparklines of NAV, 99% VaR and 99% ES from the recorded snapshots.

Reads ``snapshot.sections["history"]``: ``{"nav": [[iso_time, value], ...], "var99": [...],
"es99": [...]}``. Without it the pane says "no history yet" and why: the snapshot's own reason,
else :attr:`HistoryPane.source_note` (set by the app from the session: no store yet, a daemon
records instead of this dashboard, attached to a daemon's store). With history, the source note
is shown under the sparklines.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widget import Widget
from textual.widgets import Sparkline, Static

from wsbrisk_tui import fmt
from wsbrisk_tui.engine.model import RiskSnapshot
from wsbrisk_tui.widgets.pane import SnapshotPane, ViewState, as_float, section

SERIES: tuple[tuple[str, str], ...] = (("nav", "NAV"), ("var99", "VaR 99% 1-day"), ("es99", "ES 99% 1-day"))


def recorded_backtest_line(bt: dict[str, Any]) -> str:
    """``recorded backtest, historical 99% 1-day: 3 exceptions in 77 days (0.8 expected),
    yellow; 2 trade days left out`` from the section's ``recorded_backtest``."""
    head = (f"recorded backtest, {bt.get('method')} "
            f"{fmt.confidence_label(float(bt.get('confidence') or 0.99))} 1-day")
    if bt.get("exceptions") is None:
        return f"{head}: {fmt.NA} ({bt.get('reason') or 'no reason given'})"
    text = (f"{head}: {bt['exceptions']} exceptions in {bt.get('observations')} days "
            f"({fmt.num(bt.get('expected'), 1)} expected), {bt.get('zone') or fmt.NA}")
    changed = bt.get("excluded_holdings_changed")
    if changed:
        text += f"; {changed} trade day(s) left out"
    return text + "  (wsbrisk-tui history backtest)"


def parse_series(raw: Any) -> tuple[list[str], list[float | None]] | None:
    """(times, values) from ``[[iso_time, value], ...]``; None if the shape is unexpected."""
    if not isinstance(raw, list):
        return None
    times, values = [], []
    for point in raw:
        if not isinstance(point, (list, tuple)) or len(point) != 2:
            return None
        times.append(str(point[0]))
        values.append(as_float(point[1]))
    return times, values


class HistoryPane(SnapshotPane):
    PANE = "history"
    LABEL = "History"

    DEFAULT_CSS = """
    HistoryPane .series-label { height: 1; margin-top: 1; }
    HistoryPane Sparkline { height: 3; }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        #: Where the history comes from, or why there is none (the session knows, not the snapshot).
        self.source_note: str | None = None

    def compose(self) -> ComposeResult:
        yield Static("History", classes="pane-title", markup=False)
        with VerticalScroll(can_focus=True, id=f"{self.id}-scroll" if self.id else None):
            for key, _label in SERIES:
                yield Static("", classes=f"series-label label-{key}", markup=False)
                yield Sparkline([], classes=f"spark-{key}")
        yield Static("", classes="pane-note", markup=False)

    def focus_target(self) -> Widget:
        return self.query_one(VerticalScroll)

    def render_snapshot(self, snapshot: RiskSnapshot, view: ViewState) -> None:
        p = view.palette
        note = self.query_one(".pane-note", Static)
        data, reason = section(snapshot, "history")
        if data is None and self.source_note and "history" not in snapshot.unavailable:
            reason = self.source_note
        scroll = self.query_one(VerticalScroll)
        if data is None or not isinstance(data, dict):
            scroll.display = False
            note.update(f"no history yet: {reason}" if data is None
                        else f"{fmt.NA}: the history section has an unexpected shape")
            note.display = True
            self.title_widget().update("History")
            return
        scroll.display = True
        ccy = snapshot.meta.base_currency
        notes = [self.source_note] if self.source_note else []
        points = 0
        for key, label in SERIES:
            lab = self.query_one(f".label-{key}", Static)
            spark = self.query_one(f".spark-{key}", Sparkline)
            parsed = parse_series(data.get(key))
            if parsed is None or not parsed[1]:
                lab.update(Text(f"{label}: {fmt.NA} ({'unexpected shape' if parsed is None and key in data else 'no points yet'})",
                                style=p.muted))
                spark.data = []
                spark.display = False
                continue
            times, values = parsed
            present = [v for v in values if v is not None]
            missing = len(values) - len(present)
            points = max(points, len(values))
            if not present:
                lab.update(Text(f"{label}: {fmt.NA} (every point missing)", style=p.muted))
                spark.display = False
                continue
            if len(present) < 2:
                lab.update(Text(f"{label:<14} {fmt.money(present[-1])} {ccy}   (one point: no trend yet)",
                                no_wrap=True, overflow="ellipsis"))
                spark.display = False
                continue
            change = present[-1] - present[0]
            text = Text(no_wrap=True, overflow="ellipsis")
            text.append(f"{label:<14}", p.strong)
            text.append(f" last {fmt.money(present[-1])} {ccy}   min {fmt.money(min(present))}   "
                        f"max {fmt.money(max(present))}   change ")
            text.append(f"{fmt.arrow(change)} {fmt.money(change, signed=True)}",
                        p.signed(change) if key == "nav" else p.signed(-change))
            text.append(f"   {times[0][:10]} .. {times[-1][:10]}", p.muted)
            lab.update(text)
            spark.display = True
            spark.data = present
            if missing:
                notes.append(f"{label}: {missing} missing point(s) not drawn")
        bt = data.get("recorded_backtest")
        if isinstance(bt, dict):
            notes.append(recorded_backtest_line(bt))
        self.title_widget().update(f"History  {points} points")
        note.update("\n".join(notes))
        note.display = bool(notes)
