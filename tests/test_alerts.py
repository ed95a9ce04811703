"""Alert records, acknowledgement that survives restarts, and notification hooks (real processes)."""

from __future__ import annotations

import io
import json
import shlex
import sys
import time
from datetime import timedelta

from history_factory import T0, sample_snapshot
from wsbrisk_tui.config import AlertsConfig, Config
from wsbrisk_tui.engine.alerts import Alert, AlertState, alert_id, notify, run_hook
from wsbrisk_tui.engine.history import HistoryStore
from wsbrisk_tui.engine.limits import AlertMonitor

LIMITS = Config().limits.effective()
PY = shlex.quote(sys.executable)


def _alert(**kw) -> Alert:
    base = dict(id=alert_id("var99_1d_pct", "", T0), rule="var99_1d_pct", subject="", severity="warning",
                value=0.061, limit=0.05, first_seen=T0, last_seen=T0 + timedelta(minutes=3),
                message="99% 1-day VaR (historical) 6.10% of NAV (limit 5.00%)")
    base.update(kw)
    return Alert(**base)


def test_alert_dict_round_trip_and_id_format():
    a = _alert(acknowledged_at=T0 + timedelta(minutes=1), acknowledged_by="bob")
    d = a.to_dict()
    assert d["id"] == "var99_1d_pct[]@2025-01-15T15:30:00.000000+00:00"
    assert d["acknowledged"] is True and d["first_seen"] == "2025-01-15T15:30:00+00:00"
    assert Alert.from_dict(json.loads(json.dumps(d))) == a


def test_state_from_records_splits_active_and_recently_cleared():
    old = _alert(id="old", cleared_at=T0 - timedelta(days=2))
    recent = _alert(id="recent", cleared_at=T0 - timedelta(hours=1))
    active = _alert(id="live", rule="stale_data")
    state = AlertState.from_records([old, recent, active], T0)
    assert [a.id for a in state.active] == ["live"] and [a.id for a in state.cleared_recently] == ["recent"]


# -- hooks: real child processes --------------------------------------------------------------


def test_hook_receives_the_alert_as_json_on_stdin(tmp_path):
    out = tmp_path / "got.json"
    cmd = f"{PY} -c 'import sys; open(sys.argv[1], \"w\").write(sys.stdin.read())' {shlex.quote(str(out))}"
    result = run_hook(cmd, _alert(), timeout_s=20)
    assert result.error is None and result.returncode == 0
    assert json.loads(out.read_text()) == _alert().to_dict()


def test_a_hook_that_exits_1_is_reported_not_raised():
    cmd = f"{PY} -c 'import sys; sys.stderr.write(\"chat is down\\n\"); sys.exit(1)'"
    result = run_hook(cmd, _alert(), timeout_s=20)
    assert result.returncode == 1
    assert result.error.endswith("exited with code 1: chat is down")


def test_a_hook_that_hangs_is_killed_at_the_timeout():
    cmd = f"{PY} -c 'import time; time.sleep(30)'"
    started = time.monotonic()
    result = run_hook(cmd, _alert(), timeout_s=0.5)
    assert time.monotonic() - started < 10
    assert "timed out after 0.5 s" in result.error


def test_a_hook_that_does_not_exist_or_does_not_parse_is_reported():
    assert "could not start" in run_hook("/nonexistent/hook-script", _alert(), 5).error
    assert "cannot be parsed" in run_hook("notify 'unclosed", _alert(), 5).error


def test_bell_rings_only_when_enabled():
    tty = io.StringIO()
    assert notify(_alert(), AlertsConfig(bell=True), bell_stream=tty).notes == []
    assert tty.getvalue() == "\a"
    quiet = io.StringIO()
    notify(_alert(), AlertsConfig(bell=False), bell_stream=quiet)
    assert quiet.getvalue() == ""


def test_monitor_turns_a_failing_hook_into_an_info_alert_cleared_when_it_works(tmp_path):
    flag = tmp_path / "fail"
    flag.write_text("1")
    cmd = (f"{PY} -c 'import os, sys; sys.stdin.read(); sys.exit(1 if os.path.exists({json.dumps(str(flag))}) else 0)'")
    monitor = AlertMonitor(LIMITS, AlertsConfig(hook_command=cmd, hook_timeout_seconds=20), clock=lambda: T0)
    snap = monitor.apply(sample_snapshot(var99_pct=0.06), T0)
    by_rule = {a["rule"]: a for a in snap.sections["alerts"]["active"]}
    assert by_rule["alert_hook"]["severity"] == "info"
    assert by_rule["alert_hook"]["message"].startswith("hook failed: hook ")
    assert "exited with code 1" in snap.sections["alerts"]["notes"][0]
    assert [a.rule for a in monitor.last_fired] == ["var99_1d_pct", "es99_1d_pct"]
    flag.unlink()
    # the next new alert notifies successfully: the hook alert clears
    snap = monitor.apply(sample_snapshot(var99_pct=0.06, stale=True, stale_reason="old"), T0 + timedelta(minutes=1))
    assert "alert_hook" not in {a["rule"] for a in snap.sections["alerts"]["active"]}
    assert monitor.last_notes == []


# -- acknowledgement across restarts and viewers ----------------------------------------------


def test_acknowledgement_survives_a_restart_and_a_refire_is_a_new_alert(tmp_path):
    path = tmp_path / "h.sqlite3"
    store = HistoryStore(path)
    monitor = AlertMonitor(LIMITS, None, store, clock=lambda: T0)
    snap = monitor.apply(sample_snapshot(var99_pct=0.06), T0)
    store.record(snap)
    [var_alert] = [a for a in snap.sections["alerts"]["active"] if a["rule"] == "var99_1d_pct"]
    assert monitor.acknowledge(var_alert["id"], "alice", now=T0 + timedelta(seconds=30))
    store.close()

    store = HistoryStore(path)  # the process restarts
    monitor = AlertMonitor(LIMITS, None, store, clock=lambda: T0 + timedelta(minutes=1))
    snap = monitor.apply(sample_snapshot(computed_at=T0 + timedelta(minutes=1), var99_pct=0.06))
    store.record(snap)
    [again] = [a for a in snap.sections["alerts"]["active"] if a["rule"] == "var99_1d_pct"]
    assert again["id"] == var_alert["id"] and again["acknowledged"] is True and again["acknowledged_by"] == "alice"
    assert again["first_seen"] == var_alert["first_seen"]

    # clears (below 4.75%), then fires again: a new, unacknowledged alert
    for i, v in enumerate((0.04, 0.06), start=2):
        snap = monitor.apply(sample_snapshot(computed_at=T0 + timedelta(minutes=i), var99_pct=v))
        store.record(snap)
    [new] = [a for a in snap.sections["alerts"]["active"] if a["rule"] == "var99_1d_pct"]
    assert new["id"] != var_alert["id"] and new["acknowledged"] is False
    stored = {a.id: a for a in store.load_alerts()}
    assert stored[var_alert["id"]].cleared_at == T0 + timedelta(minutes=2)
    assert stored[var_alert["id"]].acknowledged_by == "alice"


def test_an_acknowledgement_from_another_viewer_reaches_the_writer(tmp_path):
    path = tmp_path / "h.sqlite3"
    writer_store = HistoryStore(path)
    monitor = AlertMonitor(LIMITS, None, writer_store)
    snap = monitor.apply(sample_snapshot(weights={"AAPL": 0.21}), T0)
    writer_store.record(snap)
    [a] = [a for a in snap.sections["alerts"]["active"] if a["rule"] == "max_position_weight"]
    viewer = HistoryStore(path)  # e.g. an attached TUI
    assert viewer.acknowledge(a["id"], "viewer-2", now=T0 + timedelta(seconds=5))
    snap = monitor.apply(sample_snapshot(computed_at=T0 + timedelta(minutes=1), weights={"AAPL": 0.21}))
    writer_store.record(snap)
    [b] = [x for x in snap.sections["alerts"]["active"] if x["rule"] == "max_position_weight"]
    assert b["acknowledged"] is True and b["acknowledged_by"] == "viewer-2"
    assert {x.id: x.acknowledged_by for x in viewer.load_alerts()}[a["id"]] == "viewer-2"


def test_unknown_alert_cannot_be_acknowledged(tmp_path):
    monitor = AlertMonitor(LIMITS, None, HistoryStore(tmp_path / "h.sqlite3"))
    assert monitor.acknowledge("max_position_weight[X]@2025-01-01T00:00:00.000000+00:00") is False
    assert AlertMonitor(LIMITS).acknowledge("nope") is False


def test_on_failure_persists_the_engine_error_alert(tmp_path):
    store = HistoryStore(tmp_path / "h.sqlite3")
    monitor = AlertMonitor(LIMITS, None, store)
    sec = monitor.on_failure("RuntimeError: feed down", T0)
    assert [a["rule"] for a in sec["active"]] == ["engine_error"]
    [stored] = store.load_alerts()
    assert (stored.rule, stored.message, stored.first_seen) == ("engine_error", "engine error: RuntimeError: feed down", T0)
