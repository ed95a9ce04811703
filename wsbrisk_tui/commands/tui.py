"""``wsbrisk-tui tui`` (and the bare ``wsbrisk-tui``): open the dashboard.

Where the numbers come from:

* default: the dashboard computes (:class:`~wsbrisk_tui.runtime.Runtime`), evaluates the alert
  rules and records each refresh in the history store (:class:`~wsbrisk_tui.attach.RecordingRuntime`),
  which also feeds the History pane.
* a daemon (or another dashboard) already records to the store (it holds the writer lock): the
  dashboard attaches to it automatically, as with ``--attach``, and says so. Several SSH sessions
  then share one engine, and acknowledgements go to the store that knows the alert ids.
* ``--attach``: nothing is computed; the dashboard shows the newest snapshot the daemon recorded
  (:class:`~wsbrisk_tui.attach.AttachedRuntime`), marked stale when the daemon falls silent.
* ``--replay [first|last|ISO-TIME]``: open replaying the store's recorded snapshots
  (:class:`~wsbrisk_tui.attach.ReplaySource`); nothing is computed until the user goes back to
  live (Escape). ``R`` in the dashboard enters and leaves replay at any time.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from wsbrisk_tui.widgets import PANES

#: How long a dashboard waits for a store whose writer lock is held but whose file does not exist
#: yet (a daemon that has just started), before saying so.
STORE_WAIT_S = 2.0


def add_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("tui", parents=[common], help="open the dashboard (the default command)",
                       description="Open the risk dashboard. Keys: ? for help, q to quit.")
    # SUPPRESS: `wsbrisk-tui --attach tui` keeps the top-level flag instead of resetting it to False.
    p.add_argument("--attach", action="store_true", default=argparse.SUPPRESS,
                   help="watch a running daemon's store instead of computing")
    p.add_argument("--pane", choices=PANES, default=argparse.SUPPRESS,
                   help="pane to open on (default: positions)")
    p.add_argument("--replay", nargs="?", const="last", default=argparse.SUPPRESS, metavar="WHEN",
                   help="open replaying the recorded history at WHEN: first, last (the default) or "
                        "an ISO time such as 2025-01-15T15:30 (UTC unless it has an offset)")


def parse_replay_at(text: str) -> str | datetime:
    """``--replay`` value: ``"first"``, ``"last"`` or an aware datetime (naive means UTC, the
    time zone the history shows)."""
    from wsbrisk_tui.errors import InputError

    word = text.strip()
    if word.lower() in ("first", "last"):
        return word.lower()
    try:
        when = datetime.fromisoformat(word)
    except ValueError:
        raise InputError(f"--replay {text!r}: expected first, last or an ISO time such as "
                         "2025-01-15T15:30 (UTC unless it has an offset, e.g. +02:00)") from None
    return when if when.tzinfo is not None else when.replace(tzinfo=timezone.utc)


@dataclass
class Session:
    """A runtime for the dashboard, the config it runs with, and what to close afterwards."""

    runtime: Any
    config: Any
    notes: list[str] = field(default_factory=list)
    closers: list[Callable[[], None]] = field(default_factory=list)
    #: The history store the runtime reads (None without one): replay reads it too.
    store: Any = None
    #: For the History pane: where its history comes from, or why there is none.
    history_note: str | None = None

    def close(self) -> None:
        for close in reversed(self.closers):
            close()


def open_session(args: Any, *, record: bool, quick_first: bool = False,
                 ml_training: bool = False) -> Session:
    """Build the runtime for ``args``. ``record=False`` never writes the store (snapshots);
    ``quick_first`` publishes a fast partial snapshot before the first full one (interactive);
    ``ml_training`` trains the ML models in the background when due (the dashboard).

    With ``record`` and the store's writer lock held by another process (a daemon, or another
    dashboard), the session attaches to that store instead of computing (:func:`attached_session`)."""
    from wsbrisk_tui.config import config_for_args

    cfg = config_for_args(args, os.environ)
    store_path = cfg.paths().history_db
    if getattr(args, "attach", False):
        return attached_session(cfg, store_path)

    from wsbrisk_tui.engine.lock import StoreLock

    lock = StoreLock(store_path) if record else None
    if lock is not None and not lock.try_acquire():
        return attached_session(cfg, store_path, holder=lock)

    from wsbrisk_tui.attach import RecordingRuntime
    from wsbrisk_tui.engine.history import HistoryStore
    from wsbrisk_tui.engine.limits import AlertMonitor
    from wsbrisk_tui.runtime import Runtime

    base = Runtime.from_config(cfg)
    base.quick_first = quick_first
    base.ml_training = ml_training
    session = Session(base, cfg)
    writing = lock is not None
    if lock is not None:
        session.closers.append(lock.release)
    if writing or store_path.exists():
        # Not recording (snapshot): read-only, the store is only read for the History pane.
        store = HistoryStore.from_config(cfg, readonly=not writing)
        session.closers.append(store.close)
    else:
        store = None
        session.notes.append("no history store yet: the History pane fills once refreshes are recorded")
        session.history_note = (f"no history store yet ({store_path}): the dashboard records one as "
                                "it refreshes, and so does `wsbrisk-tui daemon`"
                                + ("; `wsbrisk-tui snapshot` never records" if not record else ""))
    session.store = store
    monitor = AlertMonitor(cfg.limits.effective(), cfg.alerts, store)
    session.runtime = RecordingRuntime(base, store, monitor, record=writing)
    return session


def attached_session(cfg: Any, store_path: Any, *, holder: Any = None) -> Session:
    """Watch the store at ``store_path`` (:class:`~wsbrisk_tui.attach.AttachedRuntime`).

    ``holder`` is the writer lock another process holds when the dashboard attaches by itself:
    the notice names a daemon when the store's recorded daemon pid is the lock holder's, another
    wsbrisk-tui otherwise (whose refresh interval is not in the store: the config's is used to
    tell when it falls silent). The dashboard looks for new records at the shorter of its own
    refresh interval and the daemon's."""
    from wsbrisk_tui.attach import INFO_PID, AttachedRuntime
    from wsbrisk_tui.errors import InputError

    if holder is None and not store_path.exists():
        raise InputError(f"{store_path}: no history store to attach to: start `wsbrisk-tui daemon` "
                         "first (or set history.path to the daemon's store)")
    deadline = time.monotonic() + STORE_WAIT_S
    while not store_path.exists():
        if time.monotonic() > deadline:
            pid = holder.holder_pid()
            raise InputError(f"{store_path}: another wsbrisk-tui (pid {pid if pid is not None else 'unknown'}) "
                             "holds the store's writer lock but has not created the store yet: run the "
                             "dashboard again in a moment (it will watch that process)")
        time.sleep(0.1)
    runtime = AttachedRuntime(store_path)
    session = Session(runtime, cfg, closers=[runtime.close], store=runtime.store,
                      history_note=f"attached: the history recorded by the daemon in {store_path}")
    if holder is not None:
        pid = holder.holder_pid()
        daemon_pid = runtime.store.info(INFO_PID)
        if pid is not None and daemon_pid is not None and daemon_pid.strip() == str(pid):
            session.notes.append(f"a daemon is recording to {store_path}: watching it (attached)")
        else:
            who = f"pid {pid}" if pid is not None else "pid unknown"
            session.notes.append(f"another wsbrisk-tui ({who}) is recording to {store_path}: "
                                 "watching it (attached)")
            session.history_note = f"attached: the history recorded by wsbrisk-tui ({who}) in {store_path}"
            runtime.interval_s = float(cfg.general.refresh_seconds)
    # Look for new records at least as often as they are written (reading one costs milliseconds).
    poll_s = min(float(cfg.general.refresh_seconds), max(1.0, runtime.daemon_interval()))
    if poll_s != cfg.general.refresh_seconds:
        session.config = cfg.with_overrides({"general.refresh_seconds": poll_s},
                                            labels={"general.refresh_seconds": f"the daemon's interval in {store_path}"})
    return session


def dashboard_app(session: Session, *, initial_pane: str = "positions",
                  replay_at: str | datetime | None = None) -> Any:
    """The interactive dashboard for ``session``: ``R`` replays the session's store."""
    from wsbrisk_tui.app import create_app
    from wsbrisk_tui.attach import ReplaySource

    return create_app(session.runtime, config=session.config, initial_pane=initial_pane,
                      notes=session.notes,
                      replay=ReplaySource(session.store) if session.store is not None else None,
                      replay_at=replay_at, history_note=session.history_note)


def run(args: argparse.Namespace) -> int:
    replay_text = getattr(args, "replay", None)
    # Checked before the session opens: a typo must not take the store's writer lock first.
    replay_at = parse_replay_at(replay_text) if replay_text is not None else None
    session = open_session(args, record=True, quick_first=True, ml_training=True)
    try:
        app = dashboard_app(session, initial_pane=getattr(args, "pane", "positions"), replay_at=replay_at)
        app.run()
        return int(app.return_code or 0)
    finally:
        session.close()
