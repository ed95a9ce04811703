"""Replay in the dashboard: recorded snapshots through the live render path, under a REPLAY banner.

The store holds three hand-built refreshes (tests/history_factory.py: 17 positions) recorded a
minute apart with NAV 1,001,000 / 1,002,000 / 1,003,000; the live book is the 4-position factory
book of snapshot_factory with NAV 1,000,000, so every assertion can tell which one is on screen.
"""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from history_factory import T0, sample_snapshot
from snapshot_factory import frozen_clock, make_snapshot
from tui_helpers import wait_until
from textual.notifications import Notify

from wsbrisk_tui.app import NO_REPLAY_HISTORY, RiskDeskApp
from wsbrisk_tui.attach import ReplaySource
from wsbrisk_tui.engine.history import HistoryStore
from wsbrisk_tui.widgets.alerts import AcknowledgeAlert
from wsbrisk_tui.widgets.help import HelpScreen
from wsbrisk_tui.widgets.status import StatusBar

SMALL = (80, 24)
WIDE = (160, 48)
#: NAV of recorded refresh i (1-based): 1,000,000 + 1,000 i.
RECORDED_NAV = {1: "1,001,000", 2: "1,002,000", 3: "1,003,000"}


@pytest.fixture
def store(tmp_path):
    s = HistoryStore(tmp_path / "h.sqlite3")
    for i in (1, 2, 3):
        s.record(sample_snapshot(seq=i, computed_at=T0 + timedelta(minutes=i - 1), nav=1e6 + 1000 * i))
    yield s
    s.close()


def make_app(store=None, compute=None, **kwargs) -> RiskDeskApp:
    kwargs.setdefault("refresh_seconds", 60)
    kwargs.setdefault("now", frozen_clock)
    kwargs.setdefault("monotonic", lambda: 1000.0)
    replay = ReplaySource(store) if store is not None else None
    return RiskDeskApp(compute or (lambda seq: make_snapshot(seq)), replay=replay, **kwargs)


def status(app: RiskDeskApp) -> str:
    return str(app.query_one(StatusBar).render())


def notes(messages) -> list[str]:
    return [m.notification.message for m in messages if isinstance(m, Notify)]


async def test_r_replays_the_newest_frame_and_keys_step_through_the_store(store):
    messages = []
    app = make_app(store, now=lambda: T0 + timedelta(hours=1))
    async with app.run_test(size=SMALL, notifications=True, message_hook=messages.append) as pilot:
        await wait_until(pilot, lambda: app.snapshot is not None)
        positions = app.pane("positions")
        assert positions.table.row_count == 4 and "NAV 1,000,000 USD" in status(app)
        renders = positions.render_count
        await pilot.press("R")
        await pilot.pause()
        assert app.replaying and app.worker.paused
        text = status(app)
        # Line 1: the REPLAY banner with the dashboard's own mode beside it, the recorded NAV.
        assert text.splitlines()[0].startswith(" REPLAY  DEMO wsbrisk-tui  NAV 1,003,000 USD")
        # Line 2: position, recorded time and keys within 80 columns; then the refresh id and its
        # age on the frozen clock (16:30:00).
        line2 = text.splitlines()[1]
        assert line2 == (" REPLAY 3 of 3  recorded 2025-01-15 15:32:00 UTC  , . step  home end  esc live"
                         "  · refresh #3, 58m 00s ago  · live paused")
        assert line2.index("esc live") + len("esc live") <= 80
        # The same render path as live: the positions pane re-rendered with the recorded book.
        assert positions.render_count == renders + 1 and positions.table.row_count == 17
        assert app.snapshot.meta.mode == "REPLAY" and app.rendered_seqs[-1] == 3

        await pilot.press("comma")
        await pilot.pause()
        assert " REPLAY 2 of 3  recorded 2025-01-15 15:31:00 UTC" in status(app)
        assert "refresh #2, 59m 00s ago" in status(app) and f"NAV {RECORDED_NAV[2]} USD" in status(app)
        await pilot.press("less_than_sign")
        await pilot.pause()
        assert " REPLAY 1 of 3 " in status(app) and f"NAV {RECORDED_NAV[1]} USD" in status(app)
        # At the first frame a step back stays there and says so.
        await pilot.press("comma")
        await pilot.pause()
        assert " REPLAY 1 of 3 " in status(app) and "first recorded refresh" in notes(messages)
        await pilot.press("end")
        await pilot.pause()
        assert " REPLAY 3 of 3 " in status(app)
        await pilot.press("full_stop")
        await pilot.pause()
        assert " REPLAY 3 of 3 " in status(app) and "newest recorded refresh" in notes(messages)
        await pilot.press("home")
        await pilot.pause()
        assert " REPLAY 1 of 3 " in status(app)
        await pilot.press("G")
        await pilot.pause()
        assert " REPLAY 3 of 3 " in status(app)
        await pilot.press("g", "greater_than_sign")
        await pilot.pause()
        assert " REPLAY 2 of 3 " in status(app)
        assert app.rendered_seqs == [1, 3, 2, 1, 3, 1, 3, 1, 2]

        await pilot.press("escape")
        await pilot.pause()
        assert not app.replaying and not app.worker.paused
        assert app.snapshot.meta.mode == "DEMO" and app.snapshot.meta.seq == 1
        assert "NAV 1,000,000 USD" in status(app) and "REPLAY" not in status(app)
        assert positions.table.row_count == 4


async def test_history_pane_in_replay_ends_at_the_frame(store):
    app = make_app(store)
    async with app.run_test(size=SMALL) as pilot:
        await wait_until(pilot, lambda: app.snapshot is not None)
        await pilot.press("6", "R")
        await pilot.pause()
        title = app.pane("history").title_widget()
        assert "History  3 points" in str(title.render())
        await pilot.press("comma")
        await pilot.pause()
        assert "History  2 points" in str(title.render())  # what was known at refresh #2


async def test_live_snapshots_are_held_during_replay_and_shown_after(store):
    app = make_app(store, start_engine=False)
    async with app.run_test(size=SMALL) as pilot:
        app.inject(make_snapshot(1))
        await wait_until(pilot, lambda: app.snapshot is not None)
        await pilot.press("R")
        await pilot.pause()
        app.inject(make_snapshot(2, price_bump=10.0))
        await wait_until(pilot, lambda: app.live_snapshot.meta.seq == 2)
        # Held: the recorded frame stays on screen; the status line counts what waits.
        assert app.snapshot.meta.mode == "REPLAY" and app.held_live == 1
        assert "live paused, 1 new waiting" in status(app)
        assert app.pane("positions").table.row_count == 17
        await pilot.press("R")  # R again leaves replay too
        await pilot.pause()
        assert not app.replaying and app.snapshot.meta.seq == 2
        assert app.pane("positions").table.get_cell("SPY", "price").plain == "510.00"
        assert app.rendered_seqs == [1, 3, 2]


async def test_engine_keys_and_acknowledge_do_nothing_in_replay(store):
    messages = []
    acked = []
    app = make_app(store, ack_handler=acked.append)
    async with app.run_test(size=SMALL, message_hook=messages.append) as pilot:
        await wait_until(pilot, lambda: app.snapshot is not None)
        await pilot.press("R", "p", "r", "plus")
        await pilot.pause(0.2)
        assert app.worker.paused and app.worker.interval_s == 60
        assert app.live_snapshot.meta.seq == 1  # `r` computed nothing
        await pilot.press("5", "a")
        await pilot.pause()
        assert not any(isinstance(m, AcknowledgeAlert) for m in messages) and acked == []
        await pilot.press("escape")
        await pilot.pause()
        assert not app.worker.paused  # it was running before replay


async def test_replay_keeps_a_pause_set_before_it(store):
    app = make_app(store)
    async with app.run_test(size=SMALL) as pilot:
        await wait_until(pilot, lambda: app.snapshot is not None)
        await pilot.press("p", "R", "escape")
        await pilot.pause()
        assert not app.replaying and app.worker.paused


async def test_home_and_end_reach_the_table_outside_replay(store):
    app = make_app(store)
    async with app.run_test(size=SMALL) as pilot:
        await wait_until(pilot, lambda: app.snapshot is not None)
        table = app.pane("positions").table
        await pilot.press("end")
        await pilot.pause()
        assert not app.replaying and table.cursor_coordinate.column == len(table.columns) - 1 == 10
        await pilot.press("home")
        await pilot.pause()
        assert table.cursor_coordinate.column == 0


@pytest.mark.parametrize("with_store", [False, True])
async def test_no_store_or_an_empty_store_says_there_is_nothing_to_replay(tmp_path, with_store):
    empty = HistoryStore(tmp_path / "empty.sqlite3") if with_store else None
    messages = []
    app = make_app(empty)
    try:
        async with app.run_test(size=SMALL, notifications=True, message_hook=messages.append) as pilot:
            await wait_until(pilot, lambda: app.snapshot is not None)
            await pilot.press("R")
            await pilot.pause()
            assert not app.replaying and not app.worker.paused
            assert NO_REPLAY_HISTORY in notes(messages)
            assert NO_REPLAY_HISTORY == ("no recorded history to replay yet: the dashboard or "
                                         "`wsbrisk-tui daemon` records it")
    finally:
        if empty is not None:
            empty.close()


async def test_opening_in_replay_computes_nothing_until_back_to_live(store):
    """``--replay first``: no engine while replaying; leaving empties the panes until the first
    live snapshot (a compute held on an event, so the empty state can be observed)."""
    release = threading.Event()
    calls = []

    def compute(seq):
        calls.append(seq)
        assert release.wait(10.0)
        return make_snapshot(seq)

    app = make_app(store, compute, replay_at="first")
    async with app.run_test(size=SMALL) as pilot:
        await wait_until(pilot, lambda: app.snapshot is not None)
        assert app.replaying and " REPLAY 1 of 3 " in status(app)
        await pilot.pause(0.2)
        assert app.worker is None and calls == []
        await pilot.press("escape")
        await wait_until(pilot, lambda: calls == [1])
        try:
            assert app.snapshot is None and not app.replaying
            assert "waiting for the first snapshot" in status(app)
            assert app.pane("positions").table.row_count == 0
        finally:
            release.set()
        await wait_until(pilot, lambda: app.snapshot is not None)
        assert app.snapshot.meta.mode == "DEMO" and app.pane("positions").table.row_count == 4
        assert app.focused is app.pane("positions").table


async def test_opening_at_a_time_shows_the_frame_recorded_at_or_before_it(store):
    app = make_app(store, start_engine=False, replay_at=T0 + timedelta(seconds=90))
    async with app.run_test(size=SMALL) as pilot:
        await wait_until(pilot, lambda: app.snapshot is not None)
        assert " REPLAY 2 of 3  recorded 2025-01-15 15:31:00 UTC" in status(app)


async def test_a_time_before_the_first_record_opens_on_the_first_and_says_so(store):
    messages = []
    app = make_app(store, start_engine=False, replay_at=T0 - timedelta(days=1))
    async with app.run_test(size=SMALL, notifications=True, message_hook=messages.append) as pilot:
        await wait_until(pilot, lambda: app.snapshot is not None)
        assert " REPLAY 1 of 3 " in status(app)
        assert any(n.startswith("nothing recorded at or before 2025-01-14 15:30:00 UTC: showing the first")
                   for n in notes(messages))


async def test_replay_keys_are_remappable_listed_in_help_and_hinted_in_the_banner(store):
    app = make_app(store, keymap={"replay.previous": "b", "replay": "f9"})
    async with app.run_test(size=WIDE) as pilot:
        await wait_until(pilot, lambda: app.snapshot is not None)
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        body = str(app.screen.query_one("#help-body").render()).splitlines()
        line = {ident: next(x for x in body if f"[{ident}]" in x)
                for ident in ("replay", "replay.previous", "replay.next", "replay.first", "replay.last",
                              "replay.exit")}
        assert line["replay"].split()[0] == "f9" and line["replay.previous"].split()[0] == "b"
        assert line["replay.first"].split()[:2] == ["home,", "g"]
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, HelpScreen) and not app.replaying
        await pilot.press("R")  # remapped away
        await pilot.pause()
        assert not app.replaying
        await pilot.press("f9")
        await pilot.pause()
        assert app.replaying
        assert "b . step  home end  esc live" in status(app)
        await pilot.press("b")
        await pilot.pause()
        assert " REPLAY 2 of 3 " in status(app)


async def test_a_detail_screen_keeps_its_keys_in_replay(store):
    app = make_app(store)
    async with app.run_test(size=SMALL) as pilot:
        await wait_until(pilot, lambda: app.snapshot is not None)
        await pilot.press("R", "3", "enter")
        await pilot.pause()
        assert app.screen.__class__.__name__ == "StressDetail"
        await pilot.press("home")  # priority binding, but replay keys are off under a modal
        await pilot.pause()
        assert " REPLAY 3 of 3 " in status(app)
        await pilot.press("escape")  # closes the detail, does not leave replay
        await pilot.pause()
        assert app.replaying and app.screen.__class__.__name__ != "StressDetail"


async def test_command_palette_offers_replay_only_when_it_applies(store):
    app = make_app(store)
    async with app.run_test(size=SMALL) as pilot:
        await wait_until(pilot, lambda: app.snapshot is not None)
        titles = {c.title for c in app.get_system_commands(app.screen)}
        assert "Replay history (again: back to live)" in titles and "Pause" in titles
        assert "Replay: previous refresh" not in titles
        await pilot.press("R")
        await pilot.pause()
        titles = {c.title for c in app.get_system_commands(app.screen)}
        assert {"Replay: previous refresh", "Replay: back to live"} <= titles and "Pause" not in titles


# -- the --replay flag ---------------------------------------------------------------------------


def test_replay_flag_parses_on_the_bare_command_and_on_tui():
    from wsbrisk_tui.cli import build_parser

    parser = build_parser()
    assert parser.parse_args(["--replay"]).replay == "last"
    assert parser.parse_args(["--replay", "first", "--demo"]).replay == "first"
    assert parser.parse_args(["tui", "--replay", "2025-01-15T15:30"]).replay == "2025-01-15T15:30"
    assert parser.parse_args(["--replay", "first", "tui"]).replay == "first"  # kept by the subcommand
    assert parser.parse_args(["--demo"]).replay is None


def test_replay_times_are_utc_unless_they_say_otherwise():
    from datetime import datetime, timezone

    from wsbrisk_tui.commands.tui import parse_replay_at

    assert parse_replay_at(" First ") == "first" and parse_replay_at("last") == "last"
    assert parse_replay_at("2025-01-15T15:30") == datetime(2025, 1, 15, 15, 30, tzinfo=timezone.utc)
    at = parse_replay_at("2025-01-15T17:30+02:00")
    assert at == datetime(2025, 1, 15, 15, 30, tzinfo=timezone.utc)


def test_a_bad_replay_time_is_one_clear_error_before_anything_opens(user_dirs, capsys):
    from wsbrisk_tui.cli import main

    assert main(["--replay", "yesterday", "--demo", "--offline"]) == 2
    err = capsys.readouterr().err
    assert "--replay 'yesterday': expected first, last or an ISO time such as 2025-01-15T15:30" in err
    assert "Traceback" not in err
    assert not any((user_dirs / "xdg_data_home").rglob("*.sqlite3"))  # no store, no lock taken


async def test_the_dashboard_session_replays_its_own_store(user_dirs):
    import argparse

    from wsbrisk_tui.commands.tui import dashboard_app, open_session

    args = argparse.Namespace(config=None, positions=None, account=None, prices=None, demo=True,
                              offline=True, refresh=None, theme=None, no_color=False, seed=None,
                              attach=False)
    session = open_session(args, record=True)
    try:
        assert session.store is not None and session.runtime.record
        session.store.record(sample_snapshot(seq=1, computed_at=T0, nav=1_001_000.0))
        app = dashboard_app(session, replay_at="last")
        async with app.run_test(size=SMALL) as pilot:
            await wait_until(pilot, lambda: app.snapshot is not None)
            assert app.replaying and app.worker is None  # nothing computed while replaying
            assert " REPLAY 1 of 1  recorded 2025-01-15 15:30:00 UTC" in status(app)
            assert "NAV 1,001,000 USD" in status(app)
    finally:
        session.close()
