"""Every key binding id of the dashboard, without importing Textual.

``[keymap]`` in the config remaps bindings by these ids; ``wsbrisk-tui config check`` validates
the ids against :data:`BINDING_IDS` (the config module must not import Textual). The dashboard
refuses a keymap with an id not listed here, and a test asserts that this tuple equals
:func:`wsbrisk_tui.app.binding_ids` (the ids read from the live binding classes), so the two
cannot drift apart. Order: the app's bindings, then the Positions, Alerts and Stress panes', the
what-if box's, the tables', the detail screens'.
"""

from __future__ import annotations

from wsbrisk_tui.widgets import PANES

#: App-wide bindings (``RiskDeskApp.BINDINGS``), pane switches included.
APP_BINDING_IDS: tuple[str, ...] = (
    "quit", "help", "pause", "refresh", "save", "theme", "interval.up", "interval.down",
    "horizon.next", "horizon.previous", "units", "pane.next", "pane.previous",
    *(f"pane.{name}" for name in PANES),
    "replay", "replay.previous", "replay.next", "replay.first", "replay.last", "replay.exit",
)

#: Every remappable binding id, in the order :func:`wsbrisk_tui.app.binding_ids` lists them.
BINDING_IDS: tuple[str, ...] = (
    *APP_BINDING_IDS,
    "positions.sort",
    "alerts.ack",
    "stress.what_if",
    "what_if.close",
    "table.left", "table.down", "table.up", "table.right", "table.open",
    "detail.close", "detail.close_q",
)
