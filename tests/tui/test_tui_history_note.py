"""The History pane says where its history comes from, or why there is none.

A snapshot computed without a history store has no ``history`` section and no reason for it in
``unavailable`` (the recording runtime cannot know why there is no store); the session does, and
hands it to the pane as a note.
"""

from __future__ import annotations

import time
from dataclasses import replace

from snapshot_factory import frozen_clock, make_snapshot
from tui_helpers import demo_args

from wsbrisk_tui.app import RiskDeskApp
from wsbrisk_tui.attach import RecordingRuntime
from wsbrisk_tui.commands.tui import open_session
from wsbrisk_tui.engine.history import HistoryStore
from wsbrisk_tui.engine.lock import StoreLock

SMALL = (80, 24)
NO_STORE = "no history store yet (/tmp/x/history.sqlite3): the dashboard records one as it refreshes"


class BookWithoutHistory:
    """compute(seq): the factory book with no history section, as the engine returns it."""

    mode = "DEMO"

    def compute(self, seq: int):
        snap = make_snapshot(seq)
        return replace(snap, sections={k: v for k, v in snap.sections.items() if k != "history"})


def make_app(compute, **kwargs) -> RiskDeskApp:
    return RiskDeskApp(compute, refresh_seconds=60, now=frozen_clock, monotonic=lambda: 1000.0, **kwargs)


async def history_text(app: RiskDeskApp, pilot) -> tuple[str, bool]:
    deadline = time.monotonic() + 5
    while app.snapshot is None:
        assert time.monotonic() < deadline, "no snapshot"
        await pilot.pause(0.02)
    await pilot.press("6")
    await pilot.pause()
    pane = app.pane("history")
    note = pane.query_one(".pane-note")
    return str(note.render()), note.display


async def test_no_store_the_pane_gives_the_sessions_reason():
    runtime = RecordingRuntime(BookWithoutHistory(), None, None)
    app = make_app(runtime.compute, history_note=NO_STORE)
    async with app.run_test(size=SMALL) as pilot:
        text, shown = await history_text(app, pilot)
        assert shown and text == f"no history yet: {NO_STORE}"
        assert "not in this snapshot" not in text


async def test_without_a_note_the_generic_reason_stays():
    runtime = RecordingRuntime(BookWithoutHistory(), None, None)
    app = make_app(runtime.compute)
    async with app.run_test(size=SMALL) as pilot:
        text, _ = await history_text(app, pilot)
        assert text == "no history yet: not in this snapshot"


async def test_the_snapshots_own_reason_wins_over_the_note():
    app = make_app(lambda seq: make_snapshot(seq, full=False), history_note=NO_STORE)
    async with app.run_test(size=SMALL) as pilot:
        text, _ = await history_text(app, pilot)
        assert text == "no history yet: no history store"


async def test_with_history_the_note_says_whose_it_is():
    note = "attached: the history recorded by the daemon in /srv/h.sqlite3"
    app = make_app(lambda seq: make_snapshot(seq), history_note=note)
    async with app.run_test(size=SMALL) as pilot:
        text, shown = await history_text(app, pilot)
        assert shown and text == note
        assert "History  13 points" in str(app.pane("history").title_widget().render())


# -- the notes the sessions give -------------------------------------------------------------


def test_a_recording_dashboard_needs_no_note(user_dirs):
    session = open_session(demo_args(), record=True)
    try:
        assert session.runtime.record and session.history_note is None
        assert session.store is session.runtime.store
    finally:
        session.close()


def test_a_daemon_holding_the_lock_is_named(user_dirs):
    import os

    from wsbrisk_tui.attach import INFO_PID, AttachedRuntime

    first = open_session(demo_args(), record=False)  # only to learn the store path
    path = first.config.paths().history_db
    first.close()
    store = HistoryStore(path)
    store.set_info(INFO_PID, str(os.getpid()))  # as `wsbrisk-tui daemon` does
    store.close()
    daemon = StoreLock(path)
    assert daemon.try_acquire()
    try:
        session = open_session(demo_args(), record=True)
        try:
            assert isinstance(session.runtime, AttachedRuntime) and session.store is session.runtime.store
            assert session.history_note == f"attached: the history recorded by the daemon in {path}"
        finally:
            session.close()
    finally:
        daemon.release()


def test_the_snapshot_command_without_a_store_says_it_never_records(user_dirs):
    session = open_session(demo_args(), record=False)
    try:
        path = session.config.paths().history_db
        assert session.store is None and session.runtime.store is None
        assert session.history_note == (f"no history store yet ({path}): the dashboard records one as "
                                        "it refreshes, and so does `wsbrisk-tui daemon`; "
                                        "`wsbrisk-tui snapshot` never records")
    finally:
        session.close()


def test_an_attached_viewer_reads_the_daemons_history(user_dirs):
    first = open_session(demo_args(), record=True)  # creates the store, as a daemon would
    path = first.config.paths().history_db
    first.close()
    session = open_session(demo_args(attach=True), record=False)
    try:
        assert session.store is session.runtime.store
        assert session.history_note == f"attached: the history recorded by the daemon in {path}"
    finally:
        session.close()
