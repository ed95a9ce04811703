"""Help built from the live bindings (the posting habit): it cannot drift from the code.

The list is taken from the dashboard screen's active bindings at the moment help opens: the
focused pane's keys first, then the app's, each with the key as currently mapped (config keymap
applied).
"""

from __future__ import annotations

from rich.text import Text
from textual.app import App
from textual.binding import Binding
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Static

from wsbrisk_tui.widgets.detail import DetailScreen


def binding_rows(app: App, screen: Screen) -> list[tuple[str, str, str, str]]:
    """(section, keys, description, binding id) for every active, described binding of ``screen``."""
    by_binding: dict[tuple[str, str], tuple[str, list[str], Binding]] = {}
    for key, active in screen.active_bindings.items():
        b = active.binding
        if not b.description and not b.id:
            continue
        node = active.node
        section = "app" if isinstance(node, App) else "screen" if isinstance(node, Screen) else type(node).__name__
        ident = (section, b.id or b.action)
        entry = by_binding.setdefault(ident, (section, [], b))
        entry[1].append(app.get_key_display(b.with_key(key)))
    rows = []
    for (section, _), (_, keys, b) in by_binding.items():
        rows.append((section, ", ".join(dict.fromkeys(keys)), b.description or b.action, b.id or ""))
    order = {"app": 2, "screen": 1}
    rows.sort(key=lambda r: (order.get(r[0], 0), r[0]))
    return rows


def help_text(app: App, screen: Screen) -> Text:
    rows = binding_rows(app, screen)
    width = max((len(r[1]) for r in rows), default=4)
    text = Text()
    section = None
    for sec, keys, desc, ident in rows:
        if sec != section:
            if section is not None:
                text.append("\n")
            text.append(f"{sec}\n", style="bold underline")
            section = sec
        text.append(f"  {keys:<{width}}  ", style="bold")
        text.append(desc)
        if ident:
            text.append(f"   [{ident}]", style="dim")
        text.append("\n")
    text.append("\nRemap any key in the config file: [keymap] <id> = \"key,key\" (ids in brackets).\n",
                style="dim")
    return text


class HelpScreen(DetailScreen):
    """Keys of the focused pane and of the app, as currently mapped."""

    def __init__(self, app: App, screen: Screen) -> None:
        self._help = help_text(app, screen)
        super().__init__("Keys (live bindings)")

    def body(self) -> list[Widget]:
        return [Static(self._help, markup=False, id="help-body")]
