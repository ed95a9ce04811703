"""The daemon, the writer lock, attached viewers, replay, and the ``history`` command."""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from history_factory import T0, sample_snapshot
from wsbrisk_tui import cli
from wsbrisk_tui.attach import AttachedRuntime, RecordingRuntime, ReplaySource
from wsbrisk_tui.commands import daemon as daemon_cmd
from wsbrisk_tui.commands import history as history_cmd
from wsbrisk_tui.config import Config
from wsbrisk_tui.engine.history import HistoryStore
from wsbrisk_tui.engine.limits import AlertMonitor
from wsbrisk_tui.engine.lock import StoreLock
from wsbrisk_tui.errors import InputError

ROOT = Path(__file__).resolve().parents[1]
TESTS = Path(__file__).resolve().parent
LIMITS = Config().limits.effective()


def _child(tmp_path: Path, body: str, *args: str) -> subprocess.Popen:
    script = tmp_path / f"child_{time.monotonic_ns()}.py"
    script.write_text(f"import sys\nsys.path[:0] = [{str(ROOT)!r}, {str(TESTS)!r}]\n" + textwrap.dedent(body))
    return subprocess.Popen([sys.executable, str(script), *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _wait_for(predicate, timeout: float = 30.0, what: str = "condition") -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


class FakeRuntime:
    """compute(seq) -> a hand-built snapshot; ``fail`` lists the seqs that raise."""

    description = "test book"

    def __init__(self, fail: tuple[int, ...] = (), **snapshot_kw) -> None:
        self.fail = fail
        self.kw = snapshot_kw
        self.calls = 0

    def compute(self, seq: int):
        self.calls += 1
        if seq in self.fail:
            raise RuntimeError(f"feed down at refresh {seq}")
        return sample_snapshot(seq=seq, computed_at=datetime.now(timezone.utc), **self.kw)


# -- the writer lock --------------------------------------------------------------------------


def test_a_second_writer_is_refused_with_the_holders_pid(tmp_path):
    db = tmp_path / "h.sqlite3"
    first = StoreLock(db).acquire()
    second = StoreLock(db)
    assert second.try_acquire() is False
    with pytest.raises(InputError) as e:
        second.acquire()
    assert str(e.value).startswith(f"another wsbrisk-tui daemon (pid {os.getpid()}) is recording to {db}")
    assert e.value.exit_code == 2
    first.release()
    assert second.try_acquire() is True
    second.release()


def test_a_lock_left_by_a_killed_process_is_recovered(tmp_path):
    db = tmp_path / "h.sqlite3"
    child = _child(tmp_path, """
        import time
        from wsbrisk_tui.engine.lock import StoreLock
        lock = StoreLock(sys.argv[1]).acquire()
        print("locked", flush=True)
        time.sleep(60)
    """, str(db))
    assert child.stdout.readline().strip() == "locked"
    with pytest.raises(InputError, match=f"pid {child.pid}"):
        StoreLock(db).acquire()
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=10)
    assert StoreLock(db).holder_pid() == child.pid  # the stale pid is still written ...
    lock = StoreLock(db).acquire()  # ... but the kernel released the flock: recovered at once
    assert lock.holder_pid() == os.getpid()
    lock.release()


# -- the daemon loop --------------------------------------------------------------------------


def test_serve_records_evaluates_alerts_and_stops_after_max_refreshes(tmp_path):
    db, log = tmp_path / "h.sqlite3", tmp_path / "logs" / "daemon.log"
    rc = daemon_cmd.serve(FakeRuntime(weights={"AAPL": 0.25}), Config(), store_path=db, interval_s=0.2,
                          log_path=log, max_refreshes=3, install_signals=False)
    assert rc == 0
    store = HistoryStore(db, readonly=True)
    rows = store.list_refreshes()
    assert [r.seq for r in rows] == [3, 2, 1]
    assert store.info("daemon_interval_s") == "0.2"
    [alert] = [a for a in store.load_alerts() if a.rule == "max_position_weight"]
    assert alert.subject == "AAPL" and alert.cleared_at is None
    text = log.read_text()
    assert "refresh 3 recorded as #3" in text and "stopped after 3 refresh(es), 0 failed" in text
    assert "alert WARNING max_position_weight: AAPL is 25.00% of NAV" in text
    assert os.stat(log).st_mode & 0o777 == 0o600
    assert not StoreLock(db).holder_pid()  # released and emptied


def test_a_failing_refresh_is_an_engine_error_alert_and_the_loop_goes_on(tmp_path):
    db, log = tmp_path / "h.sqlite3", tmp_path / "daemon.log"
    rt = FakeRuntime(fail=(2,))
    rc = daemon_cmd.serve(rt, Config(), store_path=db, interval_s=0.2, log_path=log, max_refreshes=3,
                          install_signals=False)
    assert rc == 0 and rt.calls == 3
    store = HistoryStore(db, readonly=True)
    assert [r.seq for r in store.list_refreshes()] == [3, 1]
    [err] = [a for a in store.load_alerts() if a.rule == "engine_error"]
    assert err.message == "engine error: RuntimeError: feed down at refresh 2"
    assert err.cleared_at is not None  # refresh 3 succeeded
    text = log.read_text()
    assert "refresh 2 failed: RuntimeError: feed down at refresh 2" in text and "Traceback" in text
    assert "stopped after 3 refresh(es), 1 failed" in text


def test_the_log_never_contains_credentials(tmp_path, monkeypatch):
    monkeypatch.setenv("FRED_API_KEY", "fred-secret-0123456789")
    cfg_file = tmp_path / "config.toml"
    cfg_file.write_text('[alpaca]\napi_key = "PKSECRETKEYID0001"\nsecret_key = "SECRETSECRET0002"\n')
    from wsbrisk_tui.config import load_config

    cfg = load_config(cfg_file, env={})
    log = tmp_path / "daemon.log"
    daemon_cmd.serve(FakeRuntime(fail=(1,)), cfg, store_path=tmp_path / "h.sqlite3", interval_s=0.2,
                     log_path=log, max_refreshes=2, install_signals=False)
    text = log.read_text()
    assert "stopped after 2" in text
    for secret in ("fred-secret-0123456789", "PKSECRETKEYID0001", "SECRETSECRET0002"):
        assert secret not in text


def test_sigterm_finishes_the_write_in_progress_and_exits_0(tmp_path):
    db, log, started = tmp_path / "h.sqlite3", tmp_path / "daemon.log", tmp_path / "started"
    child = _child(tmp_path, """
        import time
        from datetime import datetime, timezone
        from pathlib import Path
        from history_factory import sample_snapshot
        from wsbrisk_tui.config import Config
        from wsbrisk_tui.commands.daemon import serve

        class Slow:
            description = "slow test book"
            def compute(self, seq):
                with open(sys.argv[3], "a") as f:
                    f.write(f"{seq}\\n")
                time.sleep(0.4)  # most of the cycle is a refresh in progress
                return sample_snapshot(seq=seq, computed_at=datetime.now(timezone.utc))

        sys.exit(serve(Slow(), Config(), store_path=Path(sys.argv[1]), interval_s=0.2,
                       log_path=Path(sys.argv[2])))
    """, str(db), str(log), str(started))
    try:
        _wait_for(lambda: started.exists() and len(started.read_text().split()) >= 3, what="3 refreshes")
        # while it runs, a second daemon on the same store is refused, naming the first
        with pytest.raises(InputError, match=f"another wsbrisk-tui daemon \\(pid {child.pid}\\) is recording to"):
            daemon_cmd.serve(FakeRuntime(), Config(), store_path=db, interval_s=1, log_path=tmp_path / "2.log",
                             max_refreshes=1, install_signals=False)
        time.sleep(0.1)
        child.send_signal(signal.SIGTERM)
        assert child.wait(timeout=30) == 0, child.stderr.read()
    finally:
        if child.poll() is None:
            child.kill()
    started_seqs = [int(x) for x in started.read_text().split()]
    store = HistoryStore(db, readonly=True)
    assert store.check() == ["ok"]
    rows = store.list_refreshes()
    # every refresh that started was completed and recorded, the last one included
    assert sorted(r.seq for r in rows) == started_seqs
    for r in rows:
        assert r.has_full and store.load_snapshot(r.id).meta.seq == r.seq
    assert store.count("var_headline") == 99 * len(rows)
    text = log.read_text()
    assert "SIGTERM received: finishing the refresh in progress" in text
    assert f"stopped after {len(rows)} refresh(es), 0 failed" in text


@pytest.mark.slow
def test_daemon_once_on_the_demo_book_then_attach_and_show(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(cli.COMMANDS, "daemon", "daemon")
    monkeypatch.setitem(cli.COMMANDS, "history", "history")
    cfg = tmp_path / "config.toml"
    cfg.write_text("")
    db, log = tmp_path / "h.sqlite3", tmp_path / "daemon.log"
    assert cli.main(["daemon", "--demo", "--once", "--config", str(cfg), "--store", str(db), "--log", str(log)]) == 0
    assert "stopped after 1 refresh(es), 0 failed" in log.read_text()
    store = HistoryStore(db, readonly=True)
    [row] = store.list_refreshes()
    snap = store.load_snapshot(row.id)
    assert snap.meta.mode == "DEMO"
    assert store.count("var_headline") == len(snap.var) > 0
    hist = snap.var_for("historical", 0.99, 1)
    assert row.var99 == pytest.approx(hist.var) and row.nav == pytest.approx(snap.nav)
    assert set(snap.sections) >= {"alerts", "stress", "correlation"}
    stress = snap.sections["stress"]["scenarios"]
    assert store.count("stress_results") == len(stress)
    viewer = AttachedRuntime(db, clock=lambda: snap.meta.computed_at)
    seen = viewer.compute(1)
    assert seen.nav == snap.nav and seen.sections["history"]["points"] == 1
    assert cli.main(["history", "show", str(row.id), "--config", str(cfg), "--store", str(db)]) == 0
    assert "POSITIONS" in capsys.readouterr().out


def test_run_rejects_bad_flags(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text("")
    p = _parser()
    with pytest.raises(InputError, match="--interval: 0 is not a positive"):
        daemon_cmd.run(p.parse_args(["daemon", "--config", str(cfg), "--interval", "0"]))
    with pytest.raises(InputError, match="--max-refreshes: 0 must be at least 1"):
        daemon_cmd.run(p.parse_args(["daemon", "--config", str(cfg), "--max-refreshes", "0"]))


# -- viewers ----------------------------------------------------------------------------------


def _recorded_store(tmp_path, n=3, step=timedelta(minutes=1)) -> HistoryStore:
    store = HistoryStore(tmp_path / "h.sqlite3")
    monitor = AlertMonitor(LIMITS, None, store)
    rec = RecordingRuntime(_Seq(step), store, monitor)
    for seq in range(1, n + 1):
        rec.compute(seq)
    store.set_info("daemon_interval_s", "60.0")
    return store


class _Seq:
    def __init__(self, step):
        self.step = step

    def compute(self, seq):
        return sample_snapshot(seq=seq, computed_at=T0 + (seq - 1) * self.step, weights={"AAPL": 0.21},
                               nav=1e6 + seq)


def test_recording_runtime_adds_the_history_section_without_storing_it(tmp_path):
    store = HistoryStore(tmp_path / "h.sqlite3")
    rec = RecordingRuntime(_Seq(timedelta(minutes=1)), store, AlertMonitor(LIMITS, None, store))
    snap = rec.compute(1)
    snap = rec.compute(2)
    assert snap.sections["history"]["nav"] == [[T0.isoformat(), 1e6 + 1],
                                               [(T0 + timedelta(minutes=1)).isoformat(), 1e6 + 2]]
    assert "alerts" in snap.sections and rec.last_refresh_id == 2
    assert "history" not in store.load_snapshot(2).sections
    assert rec.step == timedelta(minutes=1)  # other attributes come from the wrapped runtime


def test_attached_runtime_returns_the_newest_record_and_marks_a_silent_daemon_stale(tmp_path):
    store = _recorded_store(tmp_path)
    now = {"t": T0 + timedelta(minutes=2, seconds=30)}
    viewer = AttachedRuntime(store.path, clock=lambda: now["t"])
    assert viewer.mode == "ATTACHED"
    snap = viewer.compute(41)
    assert snap.nav == 1e6 + 3 and snap.meta.seq == 41 and snap.meta.mode == "DEMO"
    assert not snap.meta.stale
    assert snap.meta.notes[-1] == f"attached to {store.path}: refresh #3"
    assert len(snap.sections["history"]["nav"]) == 3
    now["t"] = T0 + timedelta(minutes=2, seconds=181)  # 181 s > 3 x 60 s
    stale = viewer.compute(42)
    assert stale.meta.stale
    assert stale.meta.stale_reason == "daemon has not recorded for 181 s (interval 60 s): is it running?"


def test_an_acknowledgement_in_one_viewer_shows_in_another(tmp_path):
    store = _recorded_store(tmp_path)
    a, b = AttachedRuntime(store.path, clock=lambda: T0), AttachedRuntime(store.path, clock=lambda: T0)
    [alert] = [x for x in a.compute(1).sections["alerts"]["active"] if x["rule"] == "max_position_weight"]
    assert alert["acknowledged"] is False
    assert a.acknowledge(alert["id"], "ssh-1")
    [seen] = [x for x in b.compute(1).sections["alerts"]["active"] if x["id"] == alert["id"]]
    assert seen["acknowledged"] is True and seen["acknowledged_by"] == "ssh-1"


def test_attached_runtime_on_an_empty_store_says_so(tmp_path):
    HistoryStore(tmp_path / "h.sqlite3").close()
    with pytest.raises(InputError, match="no snapshot recorded yet: is `wsbrisk-tui daemon` running"):
        AttachedRuntime(tmp_path / "h.sqlite3").compute(1)


def test_replay_steps_back_and_forth_with_a_replay_banner(tmp_path):
    store = _recorded_store(tmp_path, n=4)
    replay = ReplaySource(store)
    last = replay.last()
    assert (last.refresh_id, last.index, last.count) == (4, 4, 4)
    assert last.snapshot.meta.mode == "REPLAY" and "recorded in DEMO mode" in last.snapshot.meta.notes[-1]
    back = replay.step(last.refresh_id, -1)
    assert back.refresh_id == 3 and back.snapshot.nav == 1e6 + 3
    assert len(back.snapshot.sections["history"]["nav"]) == 3  # history as known at that time
    assert replay.step(replay.first().refresh_id, -1) is None
    assert replay.step(last.refresh_id, +1) is None
    assert replay.goto(T0 + timedelta(seconds=90)).refresh_id == 2
    assert back.banner == "REPLAY 3/4  refresh #3  recorded 2025-01-15 15:32:00 UTC"
    assert back.snapshot.meta.seq == 3 and replay.step(3, -1, seq=1001).snapshot.meta.seq == 1001


def test_one_writer_process_and_two_reader_threads(tmp_path):
    db = tmp_path / "h.sqlite3"
    HistoryStore(db).close()
    writer = _child(tmp_path, """
        from datetime import timedelta
        from history_factory import T0, sample_snapshot
        from wsbrisk_tui.engine.history import HistoryStore
        store = HistoryStore(sys.argv[1])
        for i in range(150):
            store.record(sample_snapshot(seq=i + 1, computed_at=T0 + timedelta(seconds=i)))
        print("done", flush=True)
    """, str(db))
    reads: list[int] = []
    errors: list[BaseException] = []
    stop = threading.Event()

    def reader() -> None:
        store = HistoryStore(db, readonly=True)
        last = 0
        try:
            while not stop.is_set():
                got = store.latest()
                if got is None:
                    continue
                rid, snap = got
                assert rid >= last and snap.meta.seq == rid  # never older, never partial
                assert len(snap.var) == 99
                last = rid
                reads.append(rid)
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread, which re-raises
            errors.append(exc)
        finally:
            store.close()

    threads = [threading.Thread(target=reader) for _ in range(2)]
    for t in threads:
        t.start()
    try:
        assert writer.wait(timeout=120) == 0, writer.stderr.read()
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=30)
    if errors:
        raise errors[0]
    assert len(reads) > 10 and max(reads) >= 100
    assert HistoryStore(db, readonly=True).count() == 150


# -- the history command ----------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="wsbrisk-tui")
    sub = p.add_subparsers(dest="command")
    common = cli._common_parser(suppress_defaults=True)
    history_cmd.add_parser(sub, common)
    daemon_cmd.add_parser(sub, common)
    return p


@pytest.fixture
def cli_env(tmp_path, monkeypatch):
    monkeypatch.setitem(cli.COMMANDS, "history", "history")
    monkeypatch.setitem(cli.COMMANDS, "daemon", "daemon")
    cfg = tmp_path / "config.toml"
    cfg.write_text("")
    return ["--config", str(cfg)]


def test_history_list_show_export_check_through_the_cli(tmp_path, capsys, cli_env):
    store = _recorded_store(tmp_path, n=3)
    store.close()
    s = ["--store", str(tmp_path / "h.sqlite3")]
    assert cli.main(["history", "list", *s, *cli_env]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split()[:4] == ["id", "computed", "(UTC)", "as"]
    assert out[2].split()[:3] == ["3", "2025-01-15", "15:32:00"] and "20,000" in out[2]
    assert cli.main(["history", "list", *s, *cli_env, "--since", "2025-01-15T15:31", "--limit", "0"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 2 + 2
    assert cli.main(["history", "show", "2", *s, *cli_env]) == 0
    text = capsys.readouterr().out
    assert text.startswith("recorded refresh #2 from") and "POSITIONS" in text
    assert cli.main(["history", "show", "2", "--format", "json", *s, *cli_env]) == 0
    assert json.loads(capsys.readouterr().out)["nav"] == 1e6 + 2
    out_file = tmp_path / "export.csv"
    assert cli.main(["history", "export", *s, *cli_env, "--until", "2025-01-15", "--output", str(out_file)]) == 0
    assert "wrote 3 refresh(es)" in capsys.readouterr().err
    assert len(out_file.read_text().splitlines()) == 1 + 3 * 99
    assert cli.main(["history", "check", *s, *cli_env]) == 0
    assert capsys.readouterr().out.startswith(f"{tmp_path / 'h.sqlite3'}: ok (3 refreshes, ")


def test_history_cli_errors_are_one_line_exit_2(tmp_path, capsys, cli_env):
    missing = tmp_path / "none" / "h.sqlite3"
    assert cli.main(["history", "list", "--store", str(missing), *cli_env]) == 2
    assert f"wsbrisk-tui: error: {missing}: no history database" in capsys.readouterr().err
    _recorded_store(tmp_path, n=1).close()
    s = ["--store", str(tmp_path / "h.sqlite3")]
    assert cli.main(["history", "list", *s, *cli_env, "--since", "yesterday"]) == 2
    assert "--since: 'yesterday' is not an ISO date" in capsys.readouterr().err
    assert cli.main(["history", "show", "99", *s, *cli_env]) == 2
    assert "no refresh 99" in capsys.readouterr().err


def test_parse_when_bare_until_date_includes_the_day():
    assert history_cmd.parse_when("2025-01-15", "--until", end_of_day=True) == datetime(
        2025, 1, 15, 23, 59, 59, 999999, tzinfo=timezone.utc)
    assert history_cmd.parse_when("2025-01-15T10:00+02:00", "--since") == datetime(2025, 1, 15, 8, 0, tzinfo=timezone.utc)
    assert history_cmd.parse_when("2025-01-15T10:00", "--since") == datetime(2025, 1, 15, 10, 0, tzinfo=timezone.utc)
