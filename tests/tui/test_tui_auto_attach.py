"""A daemon already records to the store: the dashboard watches it instead of computing.

The test process plays the daemon: it holds the store's writer lock (``StoreLock``), writes its pid
in the store as ``wsbrisk-tui daemon`` does, and records a refresh (with its alerts) through the
same RecordingRuntime the daemon uses. The dashboard opened next must attach to that store, say so,
show the daemon's refresh, and acknowledge the daemon's alerts in the daemon's store.
"""

from __future__ import annotations

import os
from datetime import datetime, timezone

import pytest
from snapshot_factory import make_snapshot
from tui_helpers import demo_args, wait_until

from wsbrisk_tui.attach import INFO_INTERVAL, INFO_PID, AttachedRuntime, RecordingRuntime
from wsbrisk_tui.commands import tui as tui_cmd
from wsbrisk_tui.commands.tui import dashboard_app, open_session
from wsbrisk_tui.engine.history import HistoryStore
from wsbrisk_tui.engine.limits import AlertMonitor
from wsbrisk_tui.engine.lock import StoreLock
from wsbrisk_tui.errors import InputError
from wsbrisk_tui.widgets.status import StatusBar

SMALL = (80, 24)


class FactoryBook:
    """The factory book, computed now (so the attached viewer does not call it stale)."""

    mode = "DEMO"

    def compute(self, seq: int):
        return make_snapshot(seq, computed_at=datetime.now(timezone.utc))


def store_path_for(args) -> object:
    probe = open_session(args, record=False)  # reads the config only: no store is created
    try:
        return probe.config.paths().history_db
    finally:
        probe.close()


async def test_with_a_daemon_recording_the_dashboard_attaches_and_acks_reach_its_store(user_dirs):
    path = store_path_for(demo_args())
    daemon_lock = StoreLock(path)
    assert daemon_lock.try_acquire()
    daemon_store = HistoryStore(path)
    try:
        daemon_store.set_info(INFO_PID, str(os.getpid()))
        daemon_store.set_info(INFO_INTERVAL, "10.0")  # as `wsbrisk-tui daemon --interval 10` does
        probe = open_session(demo_args(), record=False)
        cfg = probe.config
        probe.close()
        monitor = AlertMonitor(cfg.limits.effective(), cfg.alerts, daemon_store)
        recorded = RecordingRuntime(FactoryBook(), daemon_store, monitor).compute(1)
        alert_ids = [a["id"] for a in recorded.sections["alerts"]["active"]]
        assert alert_ids, "the factory book breaches the default limits"
        refreshes = daemon_store.latest_id()

        session = open_session(demo_args(), record=True)
        try:
            assert isinstance(session.runtime, AttachedRuntime) and session.runtime.path == path
            assert session.notes == [f"a daemon is recording to {path}: watching it (attached)"]
            # It looks for new records as often as the daemon writes them (the config says 60 s).
            assert cfg.general.refresh_seconds == 60 and session.config.general.refresh_seconds == 10
            app = dashboard_app(session)
            async with app.run_test(size=SMALL) as pilot:
                await wait_until(pilot, lambda: app.snapshot is not None)
                status = str(app.query_one(StatusBar).render())
                assert "ATTACHED" in status and "NAV 1,000,000 USD" in status and "STALE" not in status
                assert app.snapshot.sections["alerts"]["active"][0]["id"] in alert_ids
                # Acknowledge the newest alert: it is the daemon's, so its store knows the id.
                await pilot.press("5")
                await pilot.pause()
                first = str(app.pane("alerts").table.coordinate_to_cell_key((0, 0)).row_key.value)
                await pilot.press("a")
                await pilot.pause()
                assert app.acknowledged == [first]
                assert first in daemon_store.acknowledgements([first])
                # The what-if needs an engine this viewer does not have.
                await pilot.press("3", "w", *"equity=-1%", "enter")
                await pilot.pause()
                assert app.pane("stress").what_if_box.answer.message.startswith("what-if needs a live engine")
            assert daemon_store.latest_id() == refreshes  # the viewer recorded nothing
        finally:
            session.close()
    finally:
        daemon_store.close()
        daemon_lock.release()


def test_once_the_daemon_stops_the_dashboard_records_again(user_dirs):
    path = store_path_for(demo_args())
    HistoryStore(path).close()
    with StoreLock(path):
        watching = open_session(demo_args(), record=True)
        assert isinstance(watching.runtime, AttachedRuntime)
        watching.close()
    session = open_session(demo_args(), record=True)
    try:
        assert isinstance(session.runtime, RecordingRuntime) and session.runtime.record
        assert session.notes == []
    finally:
        session.close()


def test_a_lock_without_a_store_yet_is_one_clear_error(user_dirs, monkeypatch):
    monkeypatch.setattr(tui_cmd, "STORE_WAIT_S", 0.2)
    path = store_path_for(demo_args())
    assert not path.exists()
    with StoreLock(path):
        with pytest.raises(InputError) as err:
            open_session(demo_args(), record=True)
    assert str(err.value) == (f"{path}: another wsbrisk-tui (pid {os.getpid()}) holds the store's writer "
                              "lock but has not created the store yet: run the dashboard again in a "
                              "moment (it will watch that process)")
    assert not path.exists()  # the dashboard did not create it behind the lock holder's back
