"""``wsbrisk-tui tui`` (and the bare ``wsbrisk-tui``): open the dashboard.

Where the numbers come from:

* default: the dashboard computes (:class:`~wsbrisk_tui.runtime.Runtime`), evaluates the alert
  rules and records each refresh in the history store (:class:`~wsbrisk_tui.attach.RecordingRuntime`),
  which also feeds the History pane. If a daemon already holds the store's writer lock, the
  dashboard still computes and shows history but does not record (one writer per store).
* ``--attach``: nothing is computed; the dashboard shows the newest snapshot the daemon recorded
  (:class:`~wsbrisk_tui.attach.AttachedRuntime`), marked stale when the daemon falls silent.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from dataclasses import dataclass, field
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


@dataclass
class Session:
    """A runtime for the dashboard, the config it runs with, and what to close afterwards."""

    runtime: Any
    config: Any
    notes: list[str] = field(default_factory=list)
    closers: list[Callable[[], None]] = field(default_factory=list)

    def close(self) -> None:
        for close in reversed(self.closers):
            close()


def open_session(args: Any, *, record: bool, quick_first: bool = False) -> Session:
    """Build the runtime for ``args``. ``record=False`` never writes the store (snapshots);
    ``quick_first`` publishes a fast partial snapshot before the first full one (interactive)."""
    from wsbrisk_tui.config import config_for_args

    cfg = config_for_args(args, os.environ)
    store_path = cfg.paths().history_db
    if getattr(args, "attach", False):
        from wsbrisk_tui.attach import AttachedRuntime
        from wsbrisk_tui.errors import InputError

        if not store_path.exists():
            raise InputError(f"{store_path}: no history store to attach to: start `wsbrisk-tui daemon` "
                             "first (or set history.path to the daemon's store)")
        runtime = AttachedRuntime(store_path)
        return Session(runtime, cfg, closers=[runtime.close])

    from wsbrisk_tui.attach import RecordingRuntime
    from wsbrisk_tui.engine.history import HistoryStore
    from wsbrisk_tui.engine.limits import AlertMonitor
    from wsbrisk_tui.engine.lock import StoreLock
    from wsbrisk_tui.runtime import Runtime

    base = Runtime.from_config(cfg)
    base.quick_first = quick_first
    session = Session(base, cfg)
    writing = False
    if record:
        lock = StoreLock(store_path)
        writing = lock.try_acquire()
        if writing:
            session.closers.append(lock.release)
        else:
            session.notes.append(f"a daemon is recording to {store_path}: this dashboard computes but "
                                 "does not record (watch the daemon with --attach)")
    if writing or store_path.exists():
        # Read-write even when not recording: acknowledging an alert writes to the store.
        store = HistoryStore.from_config(cfg, readonly=not (writing or record))
        session.closers.append(store.close)
    else:
        store = None
        session.notes.append("no history store yet: the History pane fills once refreshes are recorded")
    monitor = AlertMonitor(cfg.limits.effective(), cfg.alerts, store)
    session.runtime = RecordingRuntime(base, store, monitor, record=writing)
    return session


def run(args: argparse.Namespace) -> int:
    session = open_session(args, record=True, quick_first=True)
    try:
        from wsbrisk_tui.app import create_app

        app = create_app(session.runtime, config=session.config,
                         initial_pane=getattr(args, "pane", "positions"), notes=session.notes)
        app.run()
        return int(app.return_code or 0)
    finally:
        session.close()
