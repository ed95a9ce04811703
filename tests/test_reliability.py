"""Reliability of the history: kill -9 during writes, corrupt and newer files, unwritable folders.

The kill test runs a child process that records snapshots in a tight loop (retention and purge
included, so purges and incremental vacuums are killed too) and SIGKILLs it 50 times after a
random delay from a seeded Generator. After every kill the store must open, pass
``PRAGMA integrity_check``, show no partial refresh, and keep the acknowledgement made before.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from history_factory import T0, sample_snapshot
from wsbrisk_tui.config import Config
from wsbrisk_tui.engine.history import HistoryStore
from wsbrisk_tui.engine.limits import AlertMonitor
from wsbrisk_tui.errors import InputError

ROOT = Path(__file__).resolve().parents[1]
TESTS = Path(__file__).resolve().parent
KILLS = 50

WRITER = """
import sys
sys.path[:0] = [{root!r}, {tests!r}]
from datetime import timedelta
from history_factory import sample_snapshot
from wsbrisk_tui.engine.history import HistoryStore

store = HistoryStore(sys.argv[1], retention_full_days=1, purge_every=7)
[acked] = [a for a in store.load_alerts() if a.acknowledged]
last = store.list_refreshes(limit=1)[0]
t = last.computed_at
seq = last.seq
# the writer re-sends the acknowledged alert as NOT acknowledged: the store must keep the ack
alert = acked.to_dict() | {{"acknowledged": False, "acknowledged_at": None, "acknowledged_by": None}}
print("ready", flush=True)
while True:
    seq += 1
    t += timedelta(hours=1)
    snap = sample_snapshot(seq=seq, computed_at=t, weights={{"AAPL": 0.25}})
    snap.sections["alerts"] = {{"active": [alert | {{"last_seen": t.isoformat()}}]}}
    sys.stdout.write("w")
    sys.stdout.flush()
    store.record(snap)
    sys.stdout.write("c")
    sys.stdout.flush()
"""


def _partial_refreshes(path: Path) -> list[str]:
    """Refreshes missing part of what ``record`` writes in its one transaction."""
    c = sqlite3.connect(path)
    problems = []
    max_ts = c.execute("SELECT max(ts) FROM refreshes").fetchone()[0]
    for rid, ts in c.execute("SELECT id, ts FROM refreshes").fetchall():
        n_var = c.execute("SELECT count(*) FROM var_headline WHERE refresh_id = ?", (rid,)).fetchone()[0]
        n_stress = c.execute("SELECT count(*) FROM stress_results WHERE refresh_id = ?", (rid,)).fetchone()[0]
        full = c.execute("SELECT count(*) FROM snapshots_full WHERE refresh_id = ?", (rid,)).fetchone()[0]
        if n_var != 99 or n_stress != 10:
            problems.append(f"refresh {rid}: {n_var} VaR rows, {n_stress} stress rows")
        if ts >= max_ts - 86400 and not full:  # inside the full retention: the snapshot must be there
            problems.append(f"refresh {rid}: no full snapshot")
    orphans = c.execute("SELECT count(*) FROM snapshots_full WHERE refresh_id NOT IN (SELECT id FROM refreshes)"
                        ).fetchone()[0]
    if orphans:
        problems.append(f"{orphans} full snapshots without a refresh")
    c.close()
    return problems


@pytest.mark.slow
def test_kill_9_during_writes_never_leaves_a_partial_refresh_or_loses_an_ack(tmp_path):
    db = tmp_path / "history.sqlite3"
    store = HistoryStore(db, retention_full_days=1)
    monitor = AlertMonitor(Config().limits.effective(), None, store)
    snap = monitor.apply(sample_snapshot(seq=1, computed_at=T0, weights={"AAPL": 0.25}))
    store.record(snap)
    [alert] = [a for a in snap.sections["alerts"]["active"] if a["rule"] == "max_position_weight"]
    assert store.acknowledge(alert["id"], "risk-desk", now=T0)
    store.close()

    script = tmp_path / "writer.py"
    script.write_text(textwrap.dedent(WRITER.format(root=str(ROOT), tests=str(TESTS))))
    rng = np.random.default_rng(20250115)
    mid_write = commits = 0
    started = time.monotonic()
    for kill in range(KILLS):
        child = subprocess.Popen([sys.executable, str(script), str(db)], stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True)
        try:
            line = child.stdout.readline()
            assert line.strip() == "ready", child.stderr.read()
            time.sleep(float(rng.uniform(0.01, 0.25)))
            child.kill()  # SIGKILL
            child.wait(timeout=10)
            trail = child.stdout.read()
        finally:
            if child.poll() is None:
                child.kill()
            child.stdout.close()
            child.stderr.close()
        mid_write += trail.endswith("w")  # killed inside record() (serialising or in the transaction)
        commits += trail.count("c")
        reopened = HistoryStore(db, retention_full_days=1)
        assert reopened.check() == ["ok"], f"kill {kill}"
        [acked] = [a for a in reopened.load_alerts() if a.id == alert["id"]]
        assert acked.acknowledged_by == "risk-desk" and acked.acknowledged_at == T0, f"kill {kill}"
        reopened.close()
        assert _partial_refreshes(db) == [], f"kill {kill}"
    elapsed = time.monotonic() - started
    store = HistoryStore(db, readonly=True)
    print(f"\nkill -9 x{KILLS}: {commits} refreshes committed, {mid_write} kills landed inside record(), "
          f"{store.count()} refreshes kept after retention, {elapsed:.1f} s")
    # the delays are long enough for the child to be writing; most kills must hit a transaction
    assert mid_write >= KILLS // 2


# -- files that must be refused and left as they are ------------------------------------------


def _real_db(tmp_path: Path, n: int = 40) -> Path:
    path = tmp_path / "history.sqlite3"
    store = HistoryStore(path)
    for i in range(n):
        store.record(sample_snapshot(seq=i, computed_at=T0.replace(minute=i % 60, hour=10 + i // 60)))
    store.close()  # a clean close checkpoints and removes the WAL
    assert not Path(f"{path}-wal").exists()
    return path


def test_a_file_of_garbage_is_refused_untouched(tmp_path):
    path = tmp_path / "history.sqlite3"
    garbage = np.random.default_rng(7).integers(0, 256, 50_000, dtype=np.uint8).tobytes()
    path.write_bytes(garbage)
    with pytest.raises(InputError) as e:
        HistoryStore(path)
    msg = str(e.value)
    assert msg.startswith(f"{path}: the history database is unreadable (it is not a SQLite database)")
    assert "left untouched" in msg and f"mv '{path}' '{path}.corrupt'" in msg
    assert path.read_bytes() == garbage
    assert not Path(f"{path}-wal").exists() and not Path(f"{path}-shm").exists()


def test_a_truncated_database_is_refused_untouched(tmp_path):
    path = _real_db(tmp_path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    before = path.read_bytes()
    with pytest.raises(InputError, match=r"unreadable \(it is truncated: \d+ bytes, its header says \d+\)"):
        HistoryStore(path)
    assert path.read_bytes() == before


def test_a_database_damaged_inside_is_refused_untouched(tmp_path):
    path = _real_db(tmp_path)
    data = bytearray(path.read_bytes())
    page = int.from_bytes(data[16:18], "big")
    for p in range(2, len(data) // page):  # scribble over every page but the first (the schema)
        data[p * page: p * page + 64] = b"\xff" * 64
    path.write_bytes(bytes(data))
    before = path.read_bytes()
    with pytest.raises(InputError, match="the history database is unreadable .*left untouched"):
        store = HistoryStore(path)
        store.list_refreshes()
        store.load_snapshot(store.latest_id() or 1)
    assert path.read_bytes() == before


def test_a_newer_schema_is_refused_untouched(tmp_path):
    path = _real_db(tmp_path, n=2)
    c = sqlite3.connect(path)
    c.execute("INSERT INTO schema_version (version, applied_at) VALUES (7, 'future')")
    c.commit()
    c.close()
    before = path.read_bytes()
    with pytest.raises(InputError) as e:
        HistoryStore(path)
    assert str(e.value) == (f"{path}: written by a newer wsbrisk-tui (schema 7 > 2): upgrade, or point "
                            "history.path elsewhere. The file was not modified")
    assert path.read_bytes() == before
    with pytest.raises(InputError, match="schema 7 > 2"):
        HistoryStore(path, readonly=True)


# -- folders that cannot hold the history -----------------------------------------------------


def test_an_unwritable_data_folder_is_named(tmp_path):
    if os.geteuid() != 0:
        folder = tmp_path / "ro"
        folder.mkdir()
        folder.chmod(0o500)
        target = folder / "history.sqlite3"
        try:
            with pytest.raises(InputError) as e:
                HistoryStore(target)
        finally:
            folder.chmod(0o700)
        assert str(target) in str(e.value) and "Permission denied" in str(e.value)
    # Root ignores directory permissions: a file where the folder should be is impossible for anyone.
    blocker = tmp_path / "data"
    blocker.write_text("not a folder")
    with pytest.raises(InputError) as e:
        HistoryStore(blocker / "history.sqlite3")
    assert str(e.value).startswith(f"{blocker}: is a file, not a folder, so the history database "
                                   "history.sqlite3 cannot live there")
    with pytest.raises(InputError) as e:
        HistoryStore(blocker / "deeper" / "history.sqlite3")
    assert str(e.value).startswith(f"{blocker / 'deeper'}: cannot create the history folder (Not a directory)")


def test_a_missing_data_folder_is_created_for_a_writer_and_named_for_a_reader(tmp_path):
    target = tmp_path / "a" / "b" / "history.sqlite3"
    with pytest.raises(InputError, match=f"{target}: no history database \\(its folder {target.parent} does not exist\\)"):
        HistoryStore(target, readonly=True)
    HistoryStore(target).close()
    assert target.exists() and (target.parent.stat().st_mode & 0o777) == 0o700
