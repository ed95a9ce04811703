"""The key hint line at the bottom: the shown bindings of the focused widget and the app.

A one-line Static instead of Textual's ``Footer``: the Footer recomposes a widget per key on every
focus change, which measured 40-110 ms per pane switch on a shared 2-core box (and twice that
while the engine thread competes for the GIL); this line costs one text update (5-20 ms per switch
measured the same way). Keys come from the live bindings, so a remapped key shows as remapped.
"""

from __future__ import annotations

from rich.style import Style
from rich.text import Text
from textual.screen import Screen
from textual.widgets import Static


def key_hints(screen: Screen) -> Text:
    text = Text(" ", no_wrap=True, overflow="ellipsis", end="")
    seen: set[str] = set()
    app = screen.app
    for key, active in screen.active_bindings.items():
        b = active.binding
        ident = b.id or b.action
        if (not b.show and b.action != "command_palette") or ident in seen:
            continue
        seen.add(ident)
        text.append(app.get_key_display(b.with_key(key)), Style(bold=True, reverse=True))
        text.append(f" {b.description}  ", Style(dim=not active.enabled))
    return text


class KeyBar(Static):
    DEFAULT_CSS = """
    KeyBar { dock: bottom; height: 1; background: $panel; }
    """

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)
        self.update(key_hints(self.screen))

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def _bindings_changed(self, screen: Screen) -> None:
        if self.is_attached and screen is self.screen:
            self.update(key_hints(screen))
