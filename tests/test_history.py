"""The SQLite history store: layout, one transaction per refresh, retention, queries, exports,
migrations and the refusal paths (corrupt, newer, unwritable)."""

from __future__ import annotations

import csv
import io
import json
import os
import sqlite3
import stat
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone

import pytest

from history_factory import T0, sample_snapshot
from wsbrisk_tui.engine import history as history_mod
from wsbrisk_tui.engine.history import HistoryStore, history_section, schema_version_of_code
from wsbrisk_tui.errors import InputError


def _store(tmp_path, **kw) -> HistoryStore:
    return HistoryStore(tmp_path / "data" / "history.sqlite3", **kw)


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


# -- layout -----------------------------------------------------------------------------------


def test_new_store_creates_folder_file_0600_wal_and_schema_version(tmp_path):
    store = _store(tmp_path)
    store.record(sample_snapshot())
    assert store.path.parent.is_dir()
    assert _mode(store.path) == 0o600
    for suffix in ("-wal", "-shm"):  # SQLite copies the database file's mode
        assert _mode(f"{store.path}{suffix}") == 0o600
    c = sqlite3.connect(store.path)
    assert c.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert c.execute("SELECT max(version) FROM schema_version").fetchone()[0] == schema_version_of_code() == 2
    assert c.execute("PRAGMA auto_vacuum").fetchone()[0] == 2  # incremental
    tables = {r[0] for r in c.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"refreshes", "var_headline", "snapshots_full", "stress_results", "alerts", "daily_var",
            "ml_predictions", "schema_version"} <= tables


def test_an_existing_file_with_loose_permissions_is_tightened(tmp_path):
    store = _store(tmp_path)
    store.close()
    os.chmod(store.path, 0o644)
    HistoryStore(store.path).close()
    assert _mode(store.path) == 0o600


# -- recording --------------------------------------------------------------------------------


def test_record_round_trips_the_full_snapshot_and_writes_every_table(tmp_path):
    store = _store(tmp_path)
    snap = sample_snapshot(seq=7, nav=2_000_000.0, var99_pct=0.03, day_pnl=-4_321.0)
    rid = store.record(snap)
    assert store.load_snapshot(rid) == snap
    c = sqlite3.connect(store.path)
    row = c.execute("SELECT seq, computed_at, as_of, mode, nav, day_pnl, stale, compute_seconds FROM refreshes"
                    " WHERE id = ?", (rid,)).fetchone()
    assert row == (7, "2025-01-15T15:30:00.000000+00:00", "2025-01-14", "DEMO", 2_000_000.0, -4_321.0, 0, 0.25)
    # 11 methods x 3 confidences x 3 horizons
    assert c.execute("SELECT count(*) FROM var_headline WHERE refresh_id = ?", (rid,)).fetchone()[0] == 99
    var, es, var_pct = c.execute("SELECT var, es, var_pct FROM var_headline WHERE refresh_id = ? AND method ="
                                 " 'historical' AND confidence = 0.99 AND horizon_days = 10", (rid,)).fetchone()
    assert var == pytest.approx(0.03 * 2e6 * 10 ** 0.5) and es == pytest.approx(1.2 * var)
    assert var_pct == pytest.approx(0.03 * 10 ** 0.5)
    stress = c.execute("SELECT scenario, name, total_pnl, total_pct FROM stress_results WHERE refresh_id = ?"
                       " ORDER BY ordinal", (rid,)).fetchall()
    assert len(stress) == 10 and stress[-1] == ("s9", "Scenario 9", pytest.approx(-0.10 * 2e6), pytest.approx(-0.10))
    # daily VaR: 1-day rows only, one per method and confidence
    assert c.execute("SELECT count(*) FROM daily_var").fetchone()[0] == 11 * 3


def test_the_history_section_is_not_stored_inside_snapshots(tmp_path):
    store = _store(tmp_path)
    snap = sample_snapshot()
    with_history = replace(snap, sections={**snap.sections, "history": {"nav": [[T0.isoformat(), 1.0]] * 500}})
    rid = store.record(with_history)
    assert "history" not in store.load_snapshot(rid).sections
    assert store.load_snapshot(rid) == snap


def test_a_failing_refresh_write_leaves_nothing_behind(tmp_path):
    store = _store(tmp_path)
    good = store.record(sample_snapshot(seq=1))
    bad = sample_snapshot(seq=2, computed_at=T0 + timedelta(minutes=1))
    # an alert without a rule fails while the refresh row and its VaR rows are already inserted
    bad = replace(bad, sections={**bad.sections, "alerts": {"active": [{"id": "x", "first_seen": T0.isoformat(),
                                                                       "last_seen": T0.isoformat()}]}})
    with pytest.raises(KeyError):
        store.record(bad)
    assert store.count() == 1 and store.count("var_headline") == 99 and store.count("snapshots_full") == 1
    assert store.latest_id() == good


# -- queries ----------------------------------------------------------------------------------


def _fill(store: HistoryStore, n: int, step: timedelta = timedelta(minutes=10), **kw) -> list[int]:
    return [store.record(sample_snapshot(seq=i + 1, computed_at=T0 + i * step, nav=1e6 + 1000 * i,
                                         var99_pct=0.01 + 0.001 * i, **kw)) for i in range(n)]


def test_latest_neighbours_and_bounds(tmp_path):
    store = _store(tmp_path)
    assert store.latest() is None and store.latest_id() is None
    ids = _fill(store, 5)
    rid, snap = store.latest()
    assert rid == ids[-1] and snap.meta.seq == 5
    assert store.latest(after_id=ids[-1]) is None
    assert store.latest(after_id=ids[-2])[0] == ids[-1]
    assert store.neighbours(ids[2]) == (ids[1], ids[3])
    assert store.neighbours(ids[0]) == (None, ids[1])
    assert store.neighbours(ids[-1]) == (ids[-2], None)
    assert store.full_bounds() == (ids[0], ids[-1], 5)
    assert store.full_position(ids[3]) == 4
    assert store.full_id_at(T0 + timedelta(minutes=25)) == ids[2]


def test_list_refreshes_window_limit_and_headline_var(tmp_path):
    store = _store(tmp_path)
    ids = _fill(store, 6)
    rows = store.list_refreshes()
    assert [r.id for r in rows] == ids[::-1]  # newest first
    r = rows[0]
    assert r.nav == 1e6 + 5000 and r.var99 == pytest.approx((0.01 + 0.005) * (1e6 + 5000))
    assert r.es99 == pytest.approx(1.2 * r.var99) and r.has_full and not r.stale
    window = store.list_refreshes(T0 + timedelta(minutes=10), T0 + timedelta(minutes=30))
    assert [w.id for w in window] == [ids[3], ids[2], ids[1]]
    assert [w.id for w in store.list_refreshes(limit=2)] == [ids[5], ids[4]]


def test_series_values_and_bucketing(tmp_path):
    store = _store(tmp_path)
    _fill(store, 30)
    nav = store.series("nav")
    assert [v for _, v in nav] == [1e6 + 1000 * i for i in range(30)]
    assert nav[0][0] == T0
    var = store.series("var99", method="historical")
    assert var[4][1] == pytest.approx((0.01 + 0.004) * (1e6 + 4000))
    thin = store.series("nav", max_points=10)
    assert 9 <= len(thin) <= 10
    assert thin[-1] == nav[-1]  # the last refresh of the last bucket is the newest one
    with pytest.raises(ValueError, match="unknown metric"):
        store.series("sharpe")


def test_history_section_shape_and_method_fallback(tmp_path):
    store = _store(tmp_path)
    _fill(store, 12)
    sec = history_section(store, T0 + timedelta(hours=3), limit=500)
    assert sec["method"] == "historical" and sec["points"] == 12
    assert sec["nav"][0] == [T0.isoformat(), 1e6]
    assert sec["var99"][1][1] == pytest.approx(0.011 * 1_001_000)
    assert sec["es99"][1][1] == pytest.approx(1.2 * 0.011 * 1_001_000)
    # a store where historical VaR is n/a throughout: the series is parametric normal, not mixed
    other = HistoryStore(tmp_path / "other.sqlite3")
    other.record(sample_snapshot(na_methods=("historical",)))
    sec2 = history_section(other, T0 + timedelta(hours=1))
    assert sec2["method"] == "parametric_normal" and sec2["var99"][0][1] == pytest.approx(0.02 * 1e6)
    # until: replay shows only what was known then
    sec3 = history_section(store, T0 + timedelta(hours=3), until=T0 + timedelta(minutes=35))
    assert sec3["points"] == 4


# -- retention --------------------------------------------------------------------------------


def test_purge_keeps_full_snapshots_n_days_then_the_last_refresh_of_each_day(tmp_path):
    store = _store(tmp_path, retention_full_days=1, retention_headline_days=0, purge_every=10_000)
    start = datetime(2025, 1, 13, 0, 30, tzinfo=timezone.utc)  # hourly for three days: 72 refreshes
    ids = [store.record(sample_snapshot(seq=i, computed_at=start + timedelta(hours=i))) for i in range(72)]
    now = start + timedelta(hours=71)
    result = store.purge(now)
    cut = now - timedelta(days=1)
    young = [i for i, rid in enumerate(ids) if start + timedelta(hours=i) >= cut]
    assert store.count("snapshots_full") == len(young) == 25
    # older than a day: one refresh per UTC day remains (13 Jan 23:30 and 14 Jan 22:30, the last before the cut)
    old_rows = [r for r in store.list_refreshes() if r.computed_at < cut]
    assert [r.computed_at for r in old_rows] == [datetime(2025, 1, 14, 22, 30, tzinfo=timezone.utc),
                                                 datetime(2025, 1, 13, 23, 30, tzinfo=timezone.utc)]
    assert all(not r.has_full for r in old_rows)
    assert result.full_deleted == 72 - 25 and result.thinned == 72 - 25 - 2
    assert store.count("var_headline") == (25 + 2) * 99  # thinned refreshes lost their VaR rows too
    assert store.count("stress_results") == (25 + 2) * 10
    assert store.count("daily_var") == 3 * 33  # kept forever: three market dates


def test_between_a_day_and_the_full_retention_one_refresh_per_quarter_hour_is_kept(tmp_path):
    store = _store(tmp_path, retention_full_days=3, purge_every=10_000)
    start = datetime(2025, 1, 10, 0, 0, tzinfo=timezone.utc)
    n = 4 * 24 * 12  # every 5 minutes for four days
    for i in range(n):
        store.record(sample_snapshot(seq=i, computed_at=start + timedelta(minutes=5 * i), na_methods=("evt_gpd",)))
    now = start + timedelta(minutes=5 * (n - 1))  # 13 Jan 23:55
    store.purge(now)
    kept = sorted(r.computed_at for r in store.list_refreshes())
    # the policy computed independently: all of the last 24 h, the last of each quarter hour back
    # to three days, the last of each day before that
    every = [start + timedelta(minutes=5 * i) for i in range(n)]
    dense_cut, full_cut = now - timedelta(hours=24), now - timedelta(days=3)

    def last_per(times, seconds):
        out = {}
        for t in times:
            out[int(t.timestamp() // seconds)] = t
        return list(out.values())

    expected_full = ([t for t in every if t >= dense_cut]
                     + last_per([t for t in every if full_cut <= t < dense_cut], 900))
    expected_old = last_per([t for t in every if t < full_cut], 86400)
    assert kept == sorted(expected_old + expected_full)
    # 289 in the last 24 h (both ends included), 193 quarter-hour buckets (two days plus the one
    # the 23:55 cut-off splits) instead of 576 refreshes
    assert len(expected_full) == 289 + 193
    assert expected_old == [datetime(2025, 1, 10, 23, 50, tzinfo=timezone.utc)]
    full_ids = {r.computed_at for r in store.list_refreshes() if r.has_full}
    assert full_ids == set(expected_full)
    assert store.count("var_headline") == len(kept) * 99


def test_headline_retention_expires_everything_older(tmp_path):
    store = _store(tmp_path, retention_full_days=1, retention_headline_days=2, purge_every=10_000)
    start = datetime(2025, 1, 10, 12, 0, tzinfo=timezone.utc)
    for i in range(5):  # one a day
        store.record(sample_snapshot(seq=i, computed_at=start + timedelta(days=i)))
    result = store.purge(start + timedelta(days=4))
    assert result.expired == 2  # days 0 and 1 are older than two days
    assert [r.computed_at.day for r in store.list_refreshes()] == [14, 13, 12]
    assert store.count("snapshots_full") == 2  # exactly one day old is still inside the retention


def test_purge_runs_every_n_records_and_the_store_size_levels_off(tmp_path):
    store = _store(tmp_path, retention_full_days=1, purge_every=20)
    sizes = []
    for i in range(360):  # hourly: the steady state holds one day (24) of full rows, then 1 row/day
        store.record(sample_snapshot(seq=i, computed_at=T0 + timedelta(hours=i)))
        if i in (119, 239, 359):
            sizes.append(os.path.getsize(store.path))
    assert 24 <= store.count("snapshots_full") <= 24 + 20
    assert store.count() <= 24 + 20 + 15  # plus one headline row per older day
    assert store.last_purge is not None and store.last_purge.full_deleted > 0
    # Bounded: past the first day only the daily rows (1 headline refresh + 33 daily VaR rows a
    # day, ~15 KB) accumulate; 240 more refreshes kept in full would add ~240 x 5.6 KB = 1.3 MB.
    per_record = sizes[0] / 120
    assert sizes[2] - sizes[0] < 0.2 * 240 * per_record, sizes


# -- daily VaR and ML predictions -------------------------------------------------------------


def test_daily_var_takes_the_close_forecast_and_the_next_weekdays_pnl(tmp_path):
    store = _store(tmp_path)
    mon, tue, wed, fri, next_mon = (date(2025, 1, 13), date(2025, 1, 14), date(2025, 1, 15),
                                    date(2025, 1, 17), date(2025, 1, 20))
    t = T0
    def rec(as_of, var_pct, pnl):
        nonlocal t
        t += timedelta(minutes=1)
        store.record(sample_snapshot(computed_at=t, as_of=as_of, var99_pct=var_pct, day_pnl=pnl))
    rec(mon, 0.010, 5.0)
    rec(mon, 0.012, 6.0)       # later the same day: replaces Monday's forecast
    rec(tue, 0.020, -700.0)
    rec(tue, 0.021, -800.0)    # Tuesday's last P&L is Monday's realised
    rec(wed, 0.030, 100.0)
    rec(fri, 0.040, 300.0)     # Thursday missing: Wednesday's realised stays unknown
    rec(next_mon, 0.050, -50.0)  # the weekend is not a gap
    rows = {r["as_of"]: r for r in store.daily_var("historical", 0.99)}
    assert rows["2025-01-13"]["var"] == pytest.approx(0.012 * 1e6)
    assert rows["2025-01-13"]["realised_pnl"] == -800.0 and rows["2025-01-13"]["realised_as_of"] == "2025-01-14"
    assert rows["2025-01-14"]["realised_pnl"] == 100.0
    assert rows["2025-01-15"]["realised_pnl"] is None
    assert rows["2025-01-17"]["realised_pnl"] == -50.0
    assert rows["2025-01-20"]["realised_pnl"] is None


def test_ml_predictions_record_fill_and_replace(tmp_path):
    store = _store(tmp_path)
    d = date(2025, 1, 14)
    pid = store.record_prediction("garch_vol", "vol_1d", d, 1, 0.0123)
    assert store.fill_realised("garch_vol", "vol_1d", d, 1, 0.0150)
    assert store.record_prediction("garch_vol", "vol_1d", d, 1, 0.0130) == pid  # replaced, same row
    assert not store.fill_realised("garch_vol", "vol_1d", d, 5, 0.02)
    [row] = store.predictions("garch_vol")
    assert (row["prediction"], row["realised"], row["as_of"]) == (0.0130, 0.0150, "2025-01-14")


# -- export -----------------------------------------------------------------------------------


def test_export_csv_long_format_and_json(tmp_path):
    store = _store(tmp_path)
    ids = _fill(store, 3)
    buf = io.StringIO()
    assert store.export(buf, since=T0 + timedelta(minutes=5), fmt="csv") == 2
    rows = list(csv.DictReader(io.StringIO(buf.getvalue())))
    assert len(rows) == 2 * 99
    pick = [r for r in rows if r["refresh_id"] == str(ids[2]) and r["method"] == "historical"
            and r["confidence"] == "0.99" and r["horizon_days"] == "1"]
    assert len(pick) == 1 and float(pick[0]["var"]) == pytest.approx(0.012 * 1_002_000)
    assert pick[0]["nav"] == "1002000.0" and pick[0]["stale"] == "0"
    jbuf = io.StringIO()
    assert store.export(jbuf, fmt="json") == 3
    data = json.loads(jbuf.getvalue())
    assert data["schema"] == "wsbrisk-history/1" and [r["refresh_id"] for r in data["refreshes"]] == ids
    assert len(data["refreshes"][0]["var"]) == 99 and len(data["refreshes"][0]["stress"]) == 10
    with pytest.raises(InputError, match="not an export format"):
        store.export(io.StringIO(), fmt="xml")


# -- alerts in the store ----------------------------------------------------------------------


def test_acknowledgement_is_never_undone_by_a_later_upsert(tmp_path):
    from wsbrisk_tui.engine.alerts import Alert, alert_id

    store = _store(tmp_path)
    a = Alert(id=alert_id("var99_1d_pct", "", T0), rule="var99_1d_pct", subject="", severity="warning",
              value=0.06, limit=0.05, first_seen=T0, last_seen=T0, message="VaR")
    store.save_alerts([a])
    assert store.acknowledge(a.id, "alice", now=T0 + timedelta(minutes=1))
    assert not store.acknowledge("nope", "alice")
    store.save_alerts([replace(a, last_seen=T0 + timedelta(minutes=5), value=0.07)])  # writer unaware of the ack
    [got] = store.load_alerts()
    assert got.acknowledged_by == "alice" and got.acknowledged_at == T0 + timedelta(minutes=1)
    assert got.value == 0.07 and got.last_seen == T0 + timedelta(minutes=5)
    assert store.acknowledgements([a.id, "nope"]) == {a.id: (T0 + timedelta(minutes=1), "alice")}


# -- opening: read-only, migrations, refusals -------------------------------------------------


def test_readonly_reads_and_refuses_to_write(tmp_path):
    store = _store(tmp_path)
    _fill(store, 2)
    ro = HistoryStore(store.path, readonly=True)
    assert ro.count() == 2 and ro.latest()[1].meta.seq == 2
    with pytest.raises(InputError, match="read-only"):
        ro.record(sample_snapshot())


def test_readonly_on_a_missing_file_names_it(tmp_path):
    missing = tmp_path / "nowhere" / "history.sqlite3"
    with pytest.raises(InputError) as e:
        HistoryStore(missing, readonly=True)
    assert str(missing) in str(e.value) and "wsbrisk-tui daemon" in str(e.value)
    assert not missing.parent.exists()  # nothing created


def test_forward_migration_applies_once_and_keeps_data(tmp_path, monkeypatch):
    store = _store(tmp_path)
    _fill(store, 2)
    store.close()

    def add_note_column(c):
        c.execute("ALTER TABLE refreshes ADD COLUMN note TEXT")
        c.execute("UPDATE refreshes SET note = 'migrated'")

    monkeypatch.setattr(history_mod, "MIGRATIONS", [*history_mod.MIGRATIONS, add_note_column])
    upgraded = HistoryStore(store.path)
    assert upgraded.count() == 2
    c = sqlite3.connect(store.path)
    assert [r[0] for r in c.execute("SELECT version FROM schema_version ORDER BY version")] == [1, 2, 3]
    assert c.execute("SELECT DISTINCT note FROM refreshes").fetchall() == [("migrated",)]
    upgraded.close()
    HistoryStore(store.path).close()  # second open: nothing to apply
    assert c.execute("SELECT count(*) FROM schema_version").fetchone()[0] == 3


def test_an_older_file_opened_readonly_asks_for_a_read_write_open(tmp_path, monkeypatch):
    store = _store(tmp_path)
    store.close()
    monkeypatch.setattr(history_mod, "MIGRATIONS", [*history_mod.MIGRATIONS, lambda c: None])
    with pytest.raises(InputError, match=r"schema 2, this wsbrisk-tui reads 3: open it once read-write"):
        HistoryStore(store.path, readonly=True)


def test_a_sqlite_file_of_another_application_is_refused_untouched(tmp_path):
    path = tmp_path / "other.db"
    c = sqlite3.connect(path)
    c.execute("CREATE TABLE invoices (id INTEGER)")
    c.commit()
    c.close()
    before = path.read_bytes()
    with pytest.raises(InputError, match="not a wsbrisk-tui history .*invoices"):
        HistoryStore(path)
    assert path.read_bytes() == before
