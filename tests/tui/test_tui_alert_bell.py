"""Alerts reach the user: the terminal bell on new alerts, and a failed refresh's engine-error
alert in the Alerts pane on top of the last good numbers."""

from __future__ import annotations


import pytest
from snapshot_factory import frozen_clock, make_snapshot
from tui_helpers import wait_until

from wsbrisk_tui.app import create_app
from wsbrisk_tui.attach import RecordingRuntime
from wsbrisk_tui.config import Config
from wsbrisk_tui.engine.limits import AlertMonitor
from wsbrisk_tui.textexport import screen_text

SMALL = (80, 24)


class FakeMonitor:
    """What the app reads of an AlertMonitor: ``last_fired`` after each evaluation."""

    def __init__(self) -> None:
        self.last_fired: list[str] = []


class FiringRuntime:
    """compute(seq) evaluates 'alerts' that fire on the refreshes in ``fire_on``; raises on ``fail_on``."""

    mode = "DEMO"

    def __init__(self, config: Config, fire_on: set[int], fail_on: frozenset[int] = frozenset()) -> None:
        self.config = config
        self.clock = frozen_clock
        self.monitor = FakeMonitor()
        self.fire_on = fire_on
        self.fail_on = fail_on

    def compute(self, seq: int):
        if seq in self.fail_on:
            raise RuntimeError(f"price feed down at refresh {seq}")
        self.monitor.last_fired = [f"alert-{seq}"] if seq in self.fire_on else []
        return make_snapshot(seq)


def dashboard(runtime, config: Config):
    app = create_app(runtime, config=config, now=frozen_clock, monotonic=lambda: 1000.0)
    rung: list[int] = []
    app.bell = lambda: rung.append(app.live_snapshot.meta.seq if app.live_snapshot else 0)  # headless: count
    return app, rung


@pytest.mark.parametrize("bell", [True, False])
async def test_the_bell_rings_once_per_refresh_that_fired_alerts_when_configured(bell):
    config = Config().with_overrides({"alerts.bell": bell})
    runtime = FiringRuntime(config, fire_on={1, 3})
    app, rung = dashboard(runtime, config)
    async with app.run_test(size=SMALL) as pilot:
        for seq in (1, 2, 3):
            if seq > 1:
                app.action_refresh_now()
            await wait_until(pilot, lambda s=seq: app.live_snapshot is not None and app.live_snapshot.meta.seq == s)
        assert rung == ([1, 3] if bell else [])
        assert app.bells == len(rung)


async def test_alerts_fired_by_a_skipped_snapshot_still_ring():
    """Conflation drops a snapshot the UI never took; the alerts it fired must not be lost."""
    config = Config().with_overrides({"alerts.bell": True})
    runtime = FiringRuntime(config, fire_on={1})
    app = create_app(runtime, config=config, now=frozen_clock, monotonic=lambda: 1000.0, start_engine=False)
    rung: list[int] = []
    app.bell = lambda: rung.append(1)
    async with app.run_test(size=SMALL) as pilot:
        # As the engine thread would: compute 1 (fires) and 2 (quiet) before the UI takes either.
        first, second = app._engine_compute(1), app._engine_compute(2)
        app.inject(first)
        app.inject(second)
        await wait_until(pilot, lambda: app.live_snapshot is not None and app.live_snapshot.meta.seq == 2)
        assert app.dropped_snapshots == 1 and rung == [1]


async def test_a_failed_refresh_puts_the_engine_error_alert_in_the_alerts_pane():
    config = Config().with_overrides({"alerts.bell": True})
    base = FiringRuntime(config, fire_on=set(), fail_on=frozenset({2}))
    # The real monitor, no store: on_failure fires engine_error and returns the alerts section.
    monitor = AlertMonitor(config.limits.effective(), config.alerts, None, clock=frozen_clock)
    runtime = RecordingRuntime(base, None, monitor)
    app, rung = dashboard(runtime, config)
    async with app.run_test(size=SMALL) as pilot:
        await wait_until(pilot, lambda: app.live_snapshot is not None)
        first = app.live_snapshot
        fired_at_start = len(rung)
        before = {a["id"] for a in first.sections["alerts"]["active"]}
        assert not any(a["rule"] == "engine_error" for a in first.sections["alerts"]["active"])
        app.action_refresh_now()
        await wait_until(pilot, lambda: app.failure is not None)
        # The last good numbers stay (same seq, same NAV), marked stale; the alerts section is new.
        snap = app.snapshot
        assert snap is app.live_snapshot and snap.meta.seq == first.meta.seq and snap.nav == first.nav
        assert app.is_stale
        errors = [a for a in snap.sections["alerts"]["active"] if a["rule"] == "engine_error"]
        assert len(errors) == 1 and errors[0]["id"] not in before
        assert errors[0]["message"] == "engine error: RuntimeError: price feed down at refresh 2"
        # The Alerts pane shows it; the bell rang for it (a new alert).
        await pilot.press("5")
        await pilot.pause()
        table = app.pane("alerts").table
        assert table.get_cell(errors[0]["id"], "rule").plain == "engine_error"
        assert table.get_cell(errors[0]["id"], "msg").plain.startswith("engine error: RuntimeError: price feed down")
        assert table.get_row_index(errors[0]["id"]) == 0  # newest first
        assert "STALE: refresh #2 failed: RuntimeError: price feed down" in screen_text(app)
        assert len(rung) == fired_at_start + 1


async def test_without_on_failure_the_last_snapshot_is_left_as_it_was():
    config = Config()
    runtime = FiringRuntime(config, fire_on=set(), fail_on=frozenset({2}))
    app, _ = dashboard(runtime, config)
    async with app.run_test(size=SMALL) as pilot:
        await wait_until(pilot, lambda: app.live_snapshot is not None)
        first = app.live_snapshot
        app.action_refresh_now()
        await wait_until(pilot, lambda: app.failure is not None)
        assert app.live_snapshot is first and app.is_stale
