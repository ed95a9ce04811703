"""Alerts pane: active alerts newest first, acknowledge with ``a``; limit utilisation gauges.

Reads ``snapshot.sections["alerts"]``::

    {"active": [{"id", "rule", "severity", "value", "limit", "first_seen", "last_seen",
                 "acknowledged", "message"}],
     "limits": [{"rule", "value", "limit", "utilisation"}]}

Acknowledging posts :class:`AcknowledgeAlert`; the app hands it to whoever stores alerts (the
history layer). Until a snapshot says the alert is acknowledged, the row shows ``ack sent``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widget import Widget
from textual.widgets import DataTable, Static

from wsbrisk_tui import fmt
from wsbrisk_tui.engine.model import RiskSnapshot
from wsbrisk_tui.widgets.detail import DetailScreen
from wsbrisk_tui.widgets.palette import Cell, Palette, left
from wsbrisk_tui.widgets.pane import TablePane, ViewState, as_float, section

GAUGE_WIDTH = 20
COLUMNS = (("time", "Last seen"), ("sev", "Severity"), ("rule", "Rule"), ("value", "Value"),
           ("limit", "Limit"), ("state", "State"), ("msg", "Message"))


class AcknowledgeAlert(Message):
    """The user acknowledged an alert (``a`` on its row)."""

    def __init__(self, alert_id: str) -> None:
        super().__init__()
        self.alert_id = alert_id


def general(value: float | None) -> str:
    """A number of unknown unit: thousands with separators, small values to 4 significant digits."""
    if value is None:
        return fmt.NA
    if abs(value) >= 1000:
        return fmt.money(value)
    return f"{value:.4g}"


def _when(text: Any) -> tuple[datetime | None, str]:
    if not isinstance(text, str):
        return None, fmt.NA
    try:
        t = datetime.fromisoformat(text)
    except ValueError:
        return None, text
    return t, t.strftime("%m-%d %H:%M")


def _alert_time(alert: dict[str, Any]) -> float:
    """Sort key, newest first: last seen, else first seen; undated alerts go last."""
    t = _when(alert.get("last_seen"))[0] or _when(alert.get("first_seen"))[0]
    return t.timestamp() if t is not None else float("-inf")


def gauge(palette: Palette, rule: str, value: float | None, limit: float | None,
          utilisation: float | None, width: int = GAUGE_WIDTH) -> Text:
    """``rule  [██████░░░░] 49%  value / limit``; over the limit ends in ``▶ OVER``."""
    text = Text(no_wrap=True, overflow="ellipsis")
    text.append(f"{rule:<24.24} ")
    if utilisation is None:
        text.append(f"[{' ' * width}] {fmt.NA}", palette.muted)
    else:
        filled = max(0, min(width, round(utilisation * width)))
        style = palette.loss if utilisation > 1 else palette.warn if utilisation >= 0.8 else palette.gain
        text.append("[")
        text.append("█" * filled, style)
        text.append("░" * (width - filled), palette.muted)
        text.append("▶" if utilisation > 1 else "]")
        text.append(f" {100 * utilisation:4.0f}%", style)
        if utilisation > 1:
            text.append(" OVER", palette.loss + palette.strong)
    text.append(f"  {general(value)} / {general(limit)}")
    return text


class AlertDetail(DetailScreen):
    """Every field of one alert, as the snapshot carries it."""

    def __init__(self, alert: dict[str, Any]) -> None:
        width = max((len(str(k)) for k in alert), default=8)
        lines = [f"{str(k):<{width}}  {v}" for k, v in alert.items()]
        super().__init__(f"Alert {alert.get('id')}: {alert.get('rule', '?')}", Text("\n".join(lines)))


class AlertsPane(TablePane):
    PANE = "alerts"
    LABEL = "Alerts"
    CURSOR_TYPE = "row"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "acknowledge", "Acknowledge", id="alerts.ack"),
    ]

    DEFAULT_CSS = """
    AlertsPane > RiskTable { height: 1fr; }
    AlertsPane > .gauges { height: auto; max-height: 10; }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        #: Alert ids acknowledged here whose acknowledgement no snapshot has confirmed yet.
        self.ack_sent: set[str] = set()
        self._alerts: dict[str, dict[str, Any]] = {}

    def compose_extras(self) -> Iterable[Widget]:
        return (Static("", classes="gauges", markup=False),)

    def render_snapshot(self, snapshot: RiskSnapshot, view: ViewState) -> None:
        p = view.palette
        gauges = self.query_one(".gauges", Static)
        data, reason = section(snapshot, "alerts")
        active = data.get("active") if isinstance(data, dict) else None
        if data is None or not isinstance(active, list):
            gauges.display = False
            self.show_message("Alerts", f"{fmt.NA}: {reason}" if data is None
                              else f"{fmt.NA}: the alerts section has an unexpected shape")
            return
        alerts = [a for a in active if isinstance(a, dict) and a.get("id") is not None]
        alerts.sort(key=_alert_time, reverse=True)
        self._alerts = {str(a["id"]): a for a in alerts}
        self.ack_sent = {i for i in self.ack_sent if i in self._alerts and not self._alerts[i].get("acknowledged")}
        table = self.table
        table.display = True
        table.set_columns(list(COLUMNS))
        rows = []
        for a in alerts:
            aid = str(a["id"])
            sev = str(a.get("severity", "?"))
            _, when = _when(a.get("last_seen") or a.get("first_seen"))
            if a.get("acknowledged") is True:
                state = Cell("acked", p.muted, justify="left")
            elif aid in self.ack_sent:
                state = Cell("ack sent", p.muted, justify="left")
            else:
                state = Cell("ACTIVE", p.severity(sev), justify="left")
            rows.append((aid, [
                left(when),
                left(sev.upper(), p.severity(sev)),
                left(str(a.get("rule", "?"))),
                Cell(general(as_float(a.get("value"))), sort=as_float(a.get("value"))),
                Cell(general(as_float(a.get("limit"))), sort=as_float(a.get("limit"))),
                state,
                left(str(a.get("message", ""))),
            ]))
        table.sync(rows)
        limits = data.get("limits") if isinstance(data.get("limits"), list) else []
        lines = [gauge(p, str(lim.get("rule", "?")), as_float(lim.get("value")), as_float(lim.get("limit")),
                       as_float(lim.get("utilisation")))
                 for lim in limits if isinstance(lim, dict)]
        gauges.update(Text("\n").join(lines) if lines else Text("no limits reported", style=p.muted))
        gauges.display = True
        unacked = sum(1 for a in alerts if a.get("acknowledged") is not True)
        self.title_widget().update(f"Alerts  {len(alerts)} active, {unacked} unacknowledged  (a: acknowledge)")
        self.set_note("" if alerts else "no active alerts")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # A replayed alert is history: acknowledging happens in live mode (None: shown, greyed).
        if action == "acknowledge" and getattr(self.app, "replaying", False):
            return None
        return True

    def action_acknowledge(self) -> None:
        table = self.table
        if not table.display or table.row_count == 0:
            return
        row_key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key
        alert_id = str(row_key.value)
        alert = self._alerts.get(alert_id)
        if alert is None or alert.get("acknowledged") is True:
            return
        self.ack_sent.add(alert_id)
        self.post_message(AcknowledgeAlert(alert_id))
        self.refresh_view(force=True)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        alert = self._alerts.get(str(event.row_key.value))
        if alert is not None:
            self.app.push_screen(AlertDetail(alert))
