"""``wsbrisk-tui snapshot``: render the dashboard headless and print or write it.

The app runs with a headless driver at the requested size, waits for the first snapshot from the
engine, switches to ``--pane`` and exports the screen as plain text, ANSI text or SVG.
"""

from __future__ import annotations

import argparse
import re
import sys
from typing import Any

from wsbrisk_tui.widgets import PANES

FORMATS = ("text", "svg", "ansi")


def add_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("snapshot", parents=[common], help="render the dashboard headless (text, SVG, ANSI)",
                       description="Render the dashboard without a terminal and print or write it.")
    p.add_argument("--format", choices=FORMATS, default="text", help="output format (default: text)")
    p.add_argument("--size", default="120x40", metavar="WxH", help="terminal size in columns x rows (default: 120x40)")
    p.add_argument("--pane", choices=PANES, default="positions", help="pane to show (default: positions)")
    p.add_argument("--output", metavar="FILE", help="write to FILE instead of standard output")
    p.add_argument("--attach", action="store_true", default=argparse.SUPPRESS,
                   help="render a running daemon's newest snapshot instead of computing")
    p.add_argument("--timeout", type=float, default=300.0, metavar="SECONDS",
                   help="give up if the first snapshot takes longer (default: 300)")


def parse_size(text: str) -> tuple[int, int]:
    """``"120x40"`` -> (120, 40); at least 40x12 (the layout needs it)."""
    from wsbrisk_tui.errors import InputError

    m = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", text)
    if not m:
        raise InputError(f"--size {text!r}: expected COLUMNSxROWS, for example 120x40")
    width, height = int(m.group(1)), int(m.group(2))
    if width < 40 or height < 12:
        raise InputError(f"--size {text!r}: at least 40x12 is needed")
    return width, height


async def render_headless(app: Any, size: tuple[int, int], pane: str, fmt_name: str,
                          timeout: float) -> tuple[str | None, str | None]:
    """(output, error): run ``app`` headless until its first snapshot, then export the screen."""
    import time

    from wsbrisk_tui.textexport import screen_ansi, screen_svg, screen_text

    async with app.run_test(size=size) as pilot:
        deadline = time.monotonic() + timeout
        while app.snapshot is None:
            if app.failure is not None:
                return None, f"the first refresh failed: {app.failure.error}"
            if time.monotonic() > deadline:
                return None, f"no snapshot after {timeout:g} s (raise --timeout for a large book)"
            await pilot.pause(0.05)
        app.action_show_pane(pane)
        await pilot.pause()
        await pilot.pause()
        if fmt_name == "svg":
            return screen_svg(app), None
        if fmt_name == "ansi":
            return screen_ansi(app), None
        return screen_text(app), None


def run(args: argparse.Namespace) -> int:
    import asyncio

    from wsbrisk_tui.commands.tui import open_session

    size = parse_size(args.size)
    # Never records: a snapshot for a chat message must not add a refresh to the history.
    session = open_session(args, record=False)
    try:
        from wsbrisk_tui.app import create_app

        app = create_app(session.runtime, config=session.config, initial_pane=args.pane,
                         history_note=session.history_note)
        output, error = asyncio.run(render_headless(app, size, args.pane, args.format, args.timeout))
    finally:
        session.close()
    if error is not None:
        print(f"wsbrisk-tui: snapshot: {error}", file=sys.stderr)
        return 1
    assert output is not None
    from wsbrisk_tui.commands._output import emit

    emit(output, args.output)
    return 0
