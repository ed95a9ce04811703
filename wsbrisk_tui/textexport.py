"""The current screen of a running app as plain text, ANSI text or SVG.

Textual has a public SVG export (``App.export_screenshot``) but no public plain-text one. The one
private access needed (the screen's compositor render) is confined to :func:`_record_screen`;
everything else uses public Rich APIs. If a Textual upgrade breaks it, only that function changes.
"""

from __future__ import annotations

import io
import re

from rich.console import Console
from textual.app import App

ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")


def _record_screen(app: App, *, color_system: str | None) -> Console:
    """Render the app's current screen (with any modal over it) into a recording Console."""
    width, height = app.size
    console = Console(width=width, height=height, file=io.StringIO(), force_terminal=color_system is not None,
                      color_system=color_system, record=True, legacy_windows=False, safe_box=False)  # type: ignore[arg-type]
    # Private: the same call App.export_screenshot makes (textual 8.2, app.py). No public API
    # returns the composed screen as segments.
    update = app.screen._compositor.render_update(full=True, screen_stack=app._background_screens)
    console.print(update)
    return console


def screen_text(app: App) -> str:
    """The screen as plain text: one line per terminal row, trailing blanks stripped, no escapes."""
    console = _record_screen(app, color_system=None)
    text = console.export_text(styles=False)
    # The compositor positions lines with cursor moves; drop any control sequence that survived.
    text = ANSI_ESCAPE.sub("", text)
    lines = [line.rstrip() for line in text.splitlines()]
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines) + "\n"


def screen_ansi(app: App) -> str:
    """The screen as text with ANSI colour codes (for ``cat`` in a terminal, or ``less -R``)."""
    console = _record_screen(app, color_system="truecolor")
    return console.export_text(styles=True)


def screen_svg(app: App, title: str | None = None) -> str:
    return app.export_screenshot(title=title)
