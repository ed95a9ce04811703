"""``wsbrisk-tui tui`` (and the bare ``wsbrisk-tui``): open the dashboard."""

from __future__ import annotations

import argparse
from typing import Any

from wsbrisk_tui.widgets import PANES


def add_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("tui", parents=[common], help="open the dashboard (the default command)",
                       description="Open the risk dashboard. Keys: ? for help, q to quit.")
    # SUPPRESS: `wsbrisk-tui --attach tui` keeps the top-level flag instead of resetting it to False.
    p.add_argument("--attach", action="store_true", default=argparse.SUPPRESS,
                   help="watch a running daemon's store instead of computing")
    p.add_argument("--pane", choices=PANES, default=argparse.SUPPRESS,
                   help="pane to open on (default: positions)")


def check_display_flags(args: Any) -> tuple[str | None, float | None]:
    """(theme, refresh seconds) from ``--theme``/``--refresh``, validated; None when absent."""
    from wsbrisk_tui.errors import InputError
    from wsbrisk_tui.themes.builtin import CONFIG_NAMES

    theme = getattr(args, "theme", None)
    if theme is not None and theme not in CONFIG_NAMES:
        raise InputError(f"--theme {theme!r}: not a theme (use one of: {', '.join(CONFIG_NAMES)})")
    refresh = getattr(args, "refresh", None)
    if refresh is not None and not refresh >= 1:
        raise InputError(f"--refresh {refresh:g}: the refresh interval must be at least 1 second")
    return theme, refresh


def run(args: argparse.Namespace) -> int:
    theme, refresh = check_display_flags(args)
    from wsbrisk_tui.runtime import Runtime

    runtime = Runtime.from_args(args)
    from wsbrisk_tui.app import create_app

    app = create_app(runtime, theme=theme, refresh_seconds=refresh,
                     initial_pane=getattr(args, "pane", "positions"))
    app.run()
    return int(app.return_code or 0)
