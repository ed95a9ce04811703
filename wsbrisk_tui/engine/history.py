"""The local history: one SQLite file of refreshes, VaR headlines, full snapshots and alerts.

Storage choices, and why:

* **WAL journal** so viewers (``--attach``, ``history list``) read while the one writer (the
  daemon or the dashboard) records; readers never block the writer nor see a half-written refresh.
* **synchronous = NORMAL**: in WAL mode a commit is atomic and survives the *process* being killed
  (``kill -9``: the reliability tests check it); only a power cut or kernel crash may roll back the
  last few commits, and the database stays consistent even then. FULL would fsync on every refresh
  for a record the next refresh recomputes anyway.
* **One transaction per refresh** (:meth:`HistoryStore.record`): the refresh row, its VaR rows,
  the compressed snapshot, stress results, alert updates and the daily VaR row commit together.
* **schema_version** with forward migrations (:data:`MIGRATIONS`, one function per version). A
  file written by a newer wsbrisk-tui is refused and never modified; a corrupt file is refused
  and left untouched (the message says to move it aside). Nothing is ever recreated silently.
* **File mode 0600**: the file is created with ``os.open(..., 0o600)`` before SQLite opens it;
  SQLite gives the ``-wal``/``-shm`` files the database file's mode.

Retention (:meth:`HistoryStore.purge`, run on the first record and then every
:attr:`HistoryStore.purge_every` records, relative to the newest refresh time):

* every refresh is kept in full (headline rows + compressed snapshot) for :data:`DENSE_HOURS`
  hours: what attached viewers and a fine-grained replay need;
* from then on to ``retention_full_days``, one refresh per :data:`SPARSE_BUCKET_S` seconds (the
  last of each quarter hour, UTC) is kept, in full. A demo-book refresh takes ~59 kB on disk
  (snapshot ~37 kB compressed, 99 VaR rows, indexes, WAL), so 60-s refreshes kept in full for 30
  days would need ~2.5 GB; thinned this way they need ~0.25 GB;
* past ``retention_full_days`` the full snapshots are deleted and the headline rows (refresh, VaR,
  stress) are thinned to the LAST refresh of each UTC day, kept ``retention_headline_days``
  (0: forever). ``retention_full_days = 0`` keeps every refresh in full forever (no thinning);
* cleared alerts go with the headline retention; ``daily_var`` (one row per market date, method
  and confidence) and ``ml_predictions`` are small and kept forever.

Space freed by the purge is reused by later records; the file is created with
``auto_vacuum = INCREMENTAL`` and the purge runs ``PRAGMA incremental_vacuum`` when more than
:data:`VACUUM_FREE_FRACTION` of the pages are free, so the file shrinks without a blocking full
VACUUM (which is never run automatically).

Daily VaR and the realised P&L: each snapshot writes its 1-day VaR/ES for every method and
confidence to ``daily_var`` under its market date (``meta.as_of``), replacing earlier snapshots of
the same date, so the row ends up holding the forecast made at the day's close. When a snapshot of
the NEXT weekday arrives, its book day P&L (``snapshot.day_pnl``: the change since the previous
close on the current positions) is written as that row's ``realised_pnl`` (again the last snapshot
of the day wins). If a weekday is missing (no snapshot, or an exchange holiday) the row keeps
``realised_pnl = NULL``: a gap, never a guess.
"""

from __future__ import annotations

import csv
import json
import os
import sqlite3
import stat
import threading
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote

from wsbrisk_tui.engine.alerts import Alert, utc
from wsbrisk_tui.engine.model import RiskSnapshot, holdings_key
from wsbrisk_tui.errors import InputError

SQLITE_HEADER = b"SQLite format 3\x00"
BUSY_TIMEOUT_S = 10.0
VACUUM_FREE_FRACTION = 0.2
#: Every refresh is kept in full this long, then thinned to one per SPARSE_BUCKET_S seconds.
DENSE_HOURS = 24
SPARSE_BUCKET_S = 900
#: Sections derived from the store itself are not stored inside each full snapshot.
UNSTORED_SECTIONS = frozenset({"history"})
HEADLINE_METHODS: tuple[str, ...] = ("historical", "parametric_normal")
SNAPSHOT_ENCODING = "json+zlib"


# --------------------------------------------------------------------------------------------
# Schema and migrations
# --------------------------------------------------------------------------------------------


def _run_statements(c: sqlite3.Connection, script: str) -> None:
    """Run ``;``-separated DDL inside the caller's transaction (``executescript`` would commit
    first, breaking the one-transaction-per-migration rule)."""
    for statement in script.split(";"):
        if statement.strip():
            c.execute(statement)


def _migration_1(c: sqlite3.Connection) -> None:
    _run_statements(c, """
        CREATE TABLE store_info (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE refreshes (
            id INTEGER PRIMARY KEY,
            seq INTEGER NOT NULL,
            ts REAL NOT NULL,                 -- computed_at, seconds since the epoch (UTC)
            computed_at TEXT NOT NULL,        -- ISO 8601, UTC
            as_of TEXT,                       -- market date of the last price used
            mode TEXT NOT NULL,
            nav REAL, cash REAL, gross_exposure REAL, net_exposure REAL, day_pnl REAL,
            stale INTEGER NOT NULL, stale_reason TEXT,
            compute_seconds REAL,
            version TEXT
        );
        CREATE INDEX refreshes_ts ON refreshes(ts);
        CREATE TABLE var_headline (
            refresh_id INTEGER NOT NULL,
            method TEXT NOT NULL, confidence REAL NOT NULL, horizon_days INTEGER NOT NULL,
            var REAL, es REAL, var_pct REAL, es_pct REAL,
            status TEXT NOT NULL, reason TEXT,
            PRIMARY KEY (refresh_id, method, confidence, horizon_days)
        ) WITHOUT ROWID;
        CREATE TABLE snapshots_full (
            refresh_id INTEGER PRIMARY KEY,
            encoding TEXT NOT NULL,
            data BLOB NOT NULL
        );
        CREATE TABLE stress_results (
            refresh_id INTEGER NOT NULL, ordinal INTEGER NOT NULL,
            scenario TEXT NOT NULL, name TEXT, kind TEXT,
            total_pnl REAL, total_pct REAL,
            PRIMARY KEY (refresh_id, ordinal)
        ) WITHOUT ROWID;
        CREATE TABLE alerts (
            id TEXT PRIMARY KEY,
            rule TEXT NOT NULL, subject TEXT NOT NULL, severity TEXT NOT NULL,
            first_seen TEXT NOT NULL, last_seen TEXT NOT NULL,
            value REAL, limit_value REAL, message TEXT NOT NULL,
            acknowledged_at TEXT, acknowledged_by TEXT,
            cleared_at TEXT,
            first_refresh_id INTEGER
        );
        CREATE INDEX alerts_open ON alerts(cleared_at);
        CREATE TABLE daily_var (
            as_of TEXT NOT NULL, method TEXT NOT NULL, confidence REAL NOT NULL,
            horizon_days INTEGER NOT NULL DEFAULT 1,
            var REAL, es REAL, var_pct REAL, es_pct REAL, nav REAL,
            refresh_id INTEGER, computed_at TEXT,
            realised_pnl REAL, realised_as_of TEXT,
            PRIMARY KEY (as_of, method, confidence)
        ) WITHOUT ROWID;
        CREATE TABLE ml_predictions (
            id INTEGER PRIMARY KEY,
            model TEXT NOT NULL, target TEXT NOT NULL, as_of TEXT NOT NULL,
            horizon_days INTEGER NOT NULL,
            prediction REAL NOT NULL, realised REAL,
            created_at TEXT NOT NULL, realised_at TEXT,
            UNIQUE (model, target, as_of, horizon_days)
        );
    """)


def _migration_2(c: sqlite3.Connection) -> None:
    """The holdings behind each daily VaR and behind its realised P&L (a short hash,
    :func:`~wsbrisk_tui.engine.model.holdings_key`): the recorded backtest uses only the days
    whose holdings did not change between the two closes. Rows recorded before have NULL."""
    _run_statements(c, """
        ALTER TABLE daily_var ADD COLUMN book_key TEXT;
        ALTER TABLE daily_var ADD COLUMN realised_book_key TEXT
    """)


#: Forward migrations: ``MIGRATIONS[i]`` takes a database from version i to i + 1.
MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [_migration_1, _migration_2]


def schema_version_of_code() -> int:
    return len(MIGRATIONS)


# --------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------


def _iso(t: datetime | None) -> str | None:
    """UTC ISO 8601 with microseconds always written, so text order is time order."""
    return None if t is None else utc(t).isoformat(timespec="microseconds")


def _dt(text: str | None) -> datetime | None:
    return None if text is None else utc(datetime.fromisoformat(text))


def _next_weekday(d: date) -> date:
    d += timedelta(days=1)
    while d.weekday() >= 5:
        d += timedelta(days=1)
    return d


def _conf(c: float) -> float:
    """Confidence as stored (rounded, so 0.99 compares equal however it was computed)."""
    return round(float(c), 6)


def _corrupt(path: Path, detail: str) -> InputError:
    return InputError(
        f"{path}: the history database is unreadable ({detail}). It was left untouched: move it "
        f"aside (mv '{path}' '{path}.corrupt') and a new one is started, or set history.path to "
        "another file")


def _sqlite_detail(exc: sqlite3.Error) -> str:
    return str(exc).strip() or type(exc).__name__


_CORRUPTION_WORDS = ("not a database", "malformed", "corrupt", "disk image")


def _is_corruption(exc: sqlite3.Error) -> bool:
    text = str(exc).lower()
    return isinstance(exc, sqlite3.DatabaseError) and any(w in text for w in _CORRUPTION_WORDS)


@dataclass(frozen=True)
class RefreshRow:
    """One recorded refresh as ``history list`` shows it (VaR/ES: 99% 1-day, ``method``)."""

    id: int
    seq: int
    computed_at: datetime
    as_of: date | None
    mode: str
    nav: float | None
    day_pnl: float | None
    stale: bool
    compute_seconds: float | None
    has_full: bool
    method: str | None
    var99: float | None
    es99: float | None


@dataclass(frozen=True)
class PurgeResult:
    full_deleted: int
    thinned: int
    expired: int
    alerts_deleted: int
    vacuumed_pages: int


# --------------------------------------------------------------------------------------------
# The store
# --------------------------------------------------------------------------------------------


class HistoryStore:
    """The SQLite history (see the module docstring). Thread-safe: one connection behind a lock.

    ``readonly=True`` opens with ``mode=ro`` (``history list``, exports): a missing file is an
    error instead of being created, and nothing is written. A viewer that acknowledges alerts
    opens read-write but never records.
    """

    def __init__(self, path: str | os.PathLike[str], *, readonly: bool = False,
                 retention_full_days: int = 30, retention_headline_days: int = 0,
                 purge_every: int = 100) -> None:
        self.path = Path(path).expanduser()
        self.readonly = readonly
        self.retention_full_days = int(retention_full_days)
        self.retention_headline_days = int(retention_headline_days)
        self.purge_every = max(1, int(purge_every))
        self._lock = threading.RLock()
        self._records = 0
        self.last_purge: PurgeResult | None = None
        fresh = self._prepare_file()
        self._conn = self._connect()
        try:
            self._open_schema(fresh)
        except BaseException:
            self._conn.close()
            raise
        if not readonly:
            self._tighten_modes()

    @classmethod
    def from_config(cls, cfg: Any, *, readonly: bool = False, path: str | os.PathLike[str] | None = None) -> HistoryStore:
        """The store at ``path`` or the config's ``history.path`` (default: the data folder)."""
        target = Path(path) if path else cfg.paths().history_db
        return cls(target, readonly=readonly, retention_full_days=cfg.history.retention_full_days,
                   retention_headline_days=cfg.history.retention_headline_days)

    # -- opening ------------------------------------------------------------------------------

    def _prepare_file(self) -> bool:
        """Check the folder and the file before SQLite touches anything; create a new file 0600.

        Returns True when the file is new (empty)."""
        path, parent = self.path, self.path.parent
        fix = "fix its permissions, or set history.path to a file in a writable folder"
        if parent.exists() and not parent.is_dir():
            raise InputError(f"{parent}: is a file, not a folder, so the history database {path.name} "
                             f"cannot live there (move it, or set history.path elsewhere)")
        if not parent.exists():
            if self.readonly:
                raise InputError(f"{path}: no history database (its folder {parent} does not exist): "
                                 "start `wsbrisk-tui daemon` or the dashboard to record one, or set "
                                 "history.path")
            try:
                parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            except OSError as exc:
                raise InputError(f"{parent}: cannot create the history folder ({exc.strerror or exc}): "
                                 f"create it, {fix}") from exc
        if path.is_dir():
            raise InputError(f"{path}: is a folder, not a history database file (set history.path "
                             "to a file name)")
        if not path.exists():
            if self.readonly:
                raise InputError(f"{path}: no history database here yet: start `wsbrisk-tui daemon` "
                                 "or the dashboard to record one, or set history.path")
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                os.close(fd)
            except FileExistsError:
                pass  # another process created it between the check and the open: use it
            except OSError as exc:
                raise InputError(f"{path}: cannot create the history database ({exc.strerror or exc}) "
                                 f"in {parent}: {fix}") from exc
            return path.stat().st_size == 0
        if not self.readonly:
            if not os.access(path, os.R_OK | os.W_OK):
                raise InputError(f"{path}: the history database is not writable: {fix}")
            if not os.access(parent, os.W_OK | os.X_OK):
                raise InputError(f"{parent}: the history folder is read-only and SQLite must create "
                                 f"{path.name}-wal there: {fix}")
        self._check_header()
        return path.stat().st_size == 0

    def _check_header(self) -> None:
        """Reject a file that is not SQLite, or is shorter than its header says, without opening it."""
        size = self.path.stat().st_size
        if size == 0:
            return
        try:
            with open(self.path, "rb") as f:
                head = f.read(100)
        except OSError as exc:
            raise InputError(f"{self.path}: cannot read the history database ({exc.strerror or exc})") from exc
        if len(head) < 100 or head[:16] != SQLITE_HEADER:
            raise _corrupt(self.path, "it is not a SQLite database")
        page_size = int.from_bytes(head[16:18], "big")
        page_size = 65536 if page_size == 1 else page_size
        pages = int.from_bytes(head[28:32], "big")
        counter_ok = head[24:28] == head[92:96]  # the in-header size is valid only then
        wal = self.path.with_name(self.path.name + "-wal")
        wal_pending = wal.exists() and wal.stat().st_size > 0  # a checkpoint may be half done
        if counter_ok and pages and not wal_pending and size < pages * page_size:
            raise _corrupt(self.path, f"it is truncated: {size} bytes, its header says "
                                      f"{pages * page_size}")

    def _connect(self) -> sqlite3.Connection:
        try:
            if self.readonly:
                uri = f"file:{quote(str(self.path.resolve()))}?mode=ro"
                conn = sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_S, isolation_level=None,
                                       check_same_thread=False)
            else:
                conn = sqlite3.connect(str(self.path), timeout=BUSY_TIMEOUT_S, isolation_level=None,
                                       check_same_thread=False)
        except sqlite3.Error as exc:
            raise InputError(f"{self.path}: cannot open the history database ({_sqlite_detail(exc)}): "
                             "check the file and folder permissions, or set history.path") from exc
        return conn

    def _open_schema(self, fresh: bool) -> None:
        c = self._conn
        try:
            version = self._read_version()
            code = schema_version_of_code()
            if version > code:
                raise InputError(
                    f"{self.path}: written by a newer wsbrisk-tui (schema {version} > {code}): "
                    "upgrade, or point history.path elsewhere. The file was not modified")
            if self.readonly:
                if version < code:
                    raise InputError(
                        f"{self.path}: the history has schema {version}, this wsbrisk-tui reads "
                        f"{code}: open it once read-write (run the daemon or the dashboard) to "
                        "upgrade it")
                return
            if fresh:
                # Must precede the first table; lets the purge return free pages to the OS.
                c.execute("PRAGMA auto_vacuum = INCREMENTAL")
            mode = c.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise InputError(f"{self.path}: SQLite refused WAL mode (got {mode!r}); the history "
                                 "must be on a local file system (not a network share)")
            c.execute("PRAGMA synchronous = NORMAL")
            c.execute("PRAGMA journal_size_limit = 67108864")
            while version < code:
                with self._write() as w:
                    version = self._read_version()  # another process may have migrated meanwhile
                    if version >= code:
                        break
                    if version == 0:
                        w.execute("CREATE TABLE IF NOT EXISTS schema_version "
                                  "(version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)")
                    MIGRATIONS[version](w)
                    version += 1
                    w.execute("INSERT INTO schema_version (version, applied_at) VALUES (?, ?)",
                              (version, _iso(datetime.now(timezone.utc))))
        except sqlite3.Error as exc:
            if _is_corruption(exc):
                raise _corrupt(self.path, _sqlite_detail(exc)) from exc
            raise InputError(f"{self.path}: cannot use the history database ({_sqlite_detail(exc)}): "
                             "check the file and folder permissions, or set history.path") from exc

    def _read_version(self) -> int:
        names = {r[0] for r in self._conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "schema_version" not in names:
            if names:
                raise InputError(f"{self.path}: not a wsbrisk-tui history (it has tables "
                                 f"{', '.join(sorted(names)[:5])}); it was left untouched: set "
                                 "history.path to another file")
            return 0
        row = self._conn.execute("SELECT max(version) FROM schema_version").fetchone()
        return int(row[0] or 0)

    def _tighten_modes(self) -> None:
        """0600 on the database and its -wal/-shm files (a file someone loosened is tightened)."""
        for p in (self.path, self.path.with_name(self.path.name + "-wal"),
                  self.path.with_name(self.path.name + "-shm")):
            try:
                st = p.stat()
            except FileNotFoundError:
                continue
            if stat.S_IMODE(st.st_mode) & 0o077 and st.st_uid == os.geteuid():
                os.chmod(p, 0o600)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> HistoryStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- transactions -------------------------------------------------------------------------

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (BEGIN IMMEDIATE: take the write lock up front, no upgrade deadlock)."""
        if self.readonly:
            raise InputError(f"{self.path}: opened read-only, cannot write")
        with self._lock:
            c = self._conn
            try:
                c.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise self._wrap(exc) from exc
            try:
                yield c
            except sqlite3.Error as exc:
                c.execute("ROLLBACK")
                raise self._wrap(exc) from exc
            except BaseException:
                c.execute("ROLLBACK")
                raise
            try:
                c.execute("COMMIT")
            except sqlite3.Error as exc:
                if c.in_transaction:
                    c.execute("ROLLBACK")
                raise self._wrap(exc) from exc

    def _wrap(self, exc: sqlite3.Error) -> Exception:
        if _is_corruption(exc):
            return _corrupt(self.path, _sqlite_detail(exc))
        if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc).lower():
            return InputError(f"{self.path}: the history database stayed locked for "
                              f"{BUSY_TIMEOUT_S:g} s by another process")
        return exc

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                yield self._conn
            except sqlite3.Error as exc:
                wrapped = self._wrap(exc)
                if wrapped is exc:
                    raise
                raise wrapped from exc

    # -- recording ----------------------------------------------------------------------------

    def record(self, snapshot: RiskSnapshot) -> int:
        """Write one refresh atomically; return its id. Purges every :attr:`purge_every` records."""
        m = snapshot.meta
        computed = utc(m.computed_at)
        stored = snapshot
        if UNSTORED_SECTIONS & snapshot.sections.keys():
            stored = replace(snapshot, sections={k: v for k, v in snapshot.sections.items()
                                                 if k not in UNSTORED_SECTIONS})
        blob = zlib.compress(json.dumps(stored.to_dict(), separators=(",", ":"),
                                        allow_nan=False).encode("utf-8"), 6)
        with self._write() as c:
            cur = c.execute(
                "INSERT INTO refreshes (seq, ts, computed_at, as_of, mode, nav, cash, gross_exposure,"
                " net_exposure, day_pnl, stale, stale_reason, compute_seconds, version)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (m.seq, computed.timestamp(), _iso(computed), m.as_of.isoformat() if m.as_of else None,
                 m.mode, snapshot.nav, snapshot.cash, snapshot.gross_exposure, snapshot.net_exposure,
                 snapshot.day_pnl, int(bool(m.stale)), m.stale_reason, m.compute_seconds, m.version))
            rid = int(cur.lastrowid or 0)
            c.executemany(
                "INSERT OR REPLACE INTO var_headline (refresh_id, method, confidence, horizon_days, var, es,"
                " var_pct, es_pct, status, reason) VALUES (?,?,?,?,?,?,?,?,?,?)",
                [(rid, r.method, _conf(r.confidence), int(r.horizon_days), r.var, r.es, r.var_pct,
                  r.es_pct, r.status, r.reason) for r in snapshot.var])
            c.execute("INSERT INTO snapshots_full (refresh_id, encoding, data) VALUES (?,?,?)",
                      (rid, SNAPSHOT_ENCODING, blob))
            stress = snapshot.sections.get("stress")
            if isinstance(stress, dict):
                rows = []
                for i, s in enumerate(stress.get("scenarios") or []):
                    if isinstance(s, dict):
                        key = str(s.get("id") or s.get("name") or i)
                        rows.append((rid, i, key, s.get("name"), s.get("kind"),
                                     _num(s.get("total_pnl")), _num(s.get("total_pct"))))
                c.executemany("INSERT INTO stress_results (refresh_id, ordinal, scenario, name, kind,"
                              " total_pnl, total_pct) VALUES (?,?,?,?,?,?,?)", rows)
            alerts = snapshot.sections.get("alerts")
            if isinstance(alerts, dict):
                records = [Alert.from_dict(a) for key in ("active", "cleared_recently")
                           for a in alerts.get(key) or [] if isinstance(a, dict)]
                self._upsert_alerts(c, records, rid)
            if m.as_of is not None:
                self._record_daily(c, snapshot, rid, computed)
        self._records += 1
        if self._records % self.purge_every == 1 or self.purge_every == 1:
            self.purge(computed)
        return rid

    def _record_daily(self, c: sqlite3.Connection, snapshot: RiskSnapshot, rid: int,
                      computed: datetime) -> None:
        as_of = snapshot.meta.as_of
        assert as_of is not None
        key = holdings_key((p.symbol, p.qty) for p in snapshot.positions)
        c.executemany(
            "INSERT INTO daily_var (as_of, method, confidence, horizon_days, var, es, var_pct, es_pct,"
            " nav, refresh_id, computed_at, book_key) VALUES (?,?,?,1,?,?,?,?,?,?,?,?)"
            " ON CONFLICT (as_of, method, confidence) DO UPDATE SET var = excluded.var,"
            " es = excluded.es, var_pct = excluded.var_pct, es_pct = excluded.es_pct,"
            " nav = excluded.nav, refresh_id = excluded.refresh_id, computed_at = excluded.computed_at,"
            " book_key = excluded.book_key",
            [(as_of.isoformat(), r.method, _conf(r.confidence), r.var, r.es, r.var_pct, r.es_pct,
              snapshot.nav, rid, _iso(computed), key)
             for r in snapshot.var if r.horizon_days == 1])
        if snapshot.day_pnl is None:
            return
        prev = c.execute("SELECT max(as_of) FROM daily_var WHERE as_of < ?", (as_of.isoformat(),)).fetchone()[0]
        if prev is not None and _next_weekday(date.fromisoformat(prev)) == as_of:
            c.execute("UPDATE daily_var SET realised_pnl = ?, realised_as_of = ?,"
                      " realised_book_key = ? WHERE as_of = ?",
                      (snapshot.day_pnl, as_of.isoformat(), key, prev))

    def _upsert_alerts(self, c: sqlite3.Connection, alerts: list[Alert], rid: int | None) -> None:
        c.executemany(
            "INSERT INTO alerts (id, rule, subject, severity, first_seen, last_seen, value, limit_value,"
            " message, acknowledged_at, acknowledged_by, cleared_at, first_refresh_id)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)"
            " ON CONFLICT (id) DO UPDATE SET severity = excluded.severity,"
            " last_seen = max(alerts.last_seen, excluded.last_seen), value = excluded.value,"
            " limit_value = excluded.limit_value, message = excluded.message,"
            " cleared_at = coalesce(alerts.cleared_at, excluded.cleared_at),"
            # an acknowledgement is never undone by a writer that has not seen it yet
            " acknowledged_by = CASE WHEN alerts.acknowledged_at IS NULL THEN excluded.acknowledged_by"
            "                   ELSE alerts.acknowledged_by END,"
            " acknowledged_at = coalesce(alerts.acknowledged_at, excluded.acknowledged_at)",
            [(a.id, a.rule, a.subject, a.severity, _iso(a.first_seen), _iso(a.last_seen), a.value,
              a.limit, a.message, _iso(a.acknowledged_at), a.acknowledged_by, _iso(a.cleared_at), rid)
             for a in alerts])

    def save_alerts(self, alerts: list[Alert]) -> None:
        """Persist alerts outside a refresh (an engine error: there is no snapshot to record)."""
        if alerts:
            with self._write() as c:
                self._upsert_alerts(c, alerts, None)

    # -- alerts -------------------------------------------------------------------------------

    def acknowledge(self, alert_id: str, by: str | None = None, *, now: datetime | None = None) -> bool:
        """Mark an alert acknowledged (the first acknowledgement wins). False when no such alert."""
        when = _iso(now or datetime.now(timezone.utc))
        with self._write() as c:
            c.execute("UPDATE alerts SET acknowledged_at = ?, acknowledged_by = ?"
                      " WHERE id = ? AND acknowledged_at IS NULL", (when, by, str(alert_id)))
            return c.execute("SELECT 1 FROM alerts WHERE id = ?", (str(alert_id),)).fetchone() is not None

    def acknowledgements(self, ids: list[str]) -> dict[str, tuple[datetime, str | None]]:
        """id -> (acknowledged_at, by) for those of ``ids`` that are acknowledged."""
        out: dict[str, tuple[datetime, str | None]] = {}
        with self._read() as c:
            for i in range(0, len(ids), 500):
                chunk = ids[i:i + 500]
                q = ",".join("?" * len(chunk))
                for aid, at, by in c.execute(
                        f"SELECT id, acknowledged_at, acknowledged_by FROM alerts WHERE id IN ({q})"
                        " AND acknowledged_at IS NOT NULL", chunk):
                    out[aid] = (_dt(at), by)  # type: ignore[assignment]
        return out

    def load_alerts(self, *, cleared_after: datetime | None = None, since: datetime | None = None,
                    limit: int | None = None) -> list[Alert]:
        """Active alerts plus those cleared after ``cleared_after`` (all cleared ones when None),
        first seen at or after ``since``; newest first."""
        where, args = [], []
        if cleared_after is not None:
            where.append("(cleared_at IS NULL OR cleared_at >= ?)")
            args.append(_iso(cleared_after))
        if since is not None:
            where.append("first_seen >= ?")
            args.append(_iso(since))
        sql = ("SELECT id, rule, subject, severity, first_seen, last_seen, value, limit_value, message,"
               " acknowledged_at, acknowledged_by, cleared_at FROM alerts")
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY first_seen DESC"
        if limit:
            sql += f" LIMIT {int(limit)}"
        with self._read() as c:
            rows = c.execute(sql, args).fetchall()
        return [Alert(id=r[0], rule=r[1], subject=r[2], severity=r[3], first_seen=_dt(r[4]),  # type: ignore[arg-type]
                      last_seen=_dt(r[5]), value=r[6], limit=r[7], message=r[8],  # type: ignore[arg-type]
                      acknowledged_at=_dt(r[9]), acknowledged_by=r[10], cleared_at=_dt(r[11]))
                for r in rows]

    # -- key/value ----------------------------------------------------------------------------

    def set_info(self, key: str, value: str) -> None:
        with self._write() as c:
            c.execute("INSERT INTO store_info (key, value) VALUES (?, ?)"
                      " ON CONFLICT (key) DO UPDATE SET value = excluded.value", (key, value))

    def info(self, key: str) -> str | None:
        with self._read() as c:
            row = c.execute("SELECT value FROM store_info WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    # -- retention ----------------------------------------------------------------------------

    def purge(self, now: datetime) -> PurgeResult:
        """Apply the retention policy (module docstring) relative to ``now``."""
        now_ts = utc(now).timestamp()
        full_deleted = thinned = expired = alerts_deleted = 0
        with self._write() as c:
            if self.retention_full_days > 0:
                cut = now_ts - self.retention_full_days * 86400.0
                dense = now_ts - DENSE_HOURS * 3600.0
                full_deleted = c.execute(
                    "DELETE FROM snapshots_full WHERE refresh_id IN (SELECT id FROM refreshes WHERE ts < ?)",
                    (cut,)).rowcount
                # Keep the last refresh of each bucket: quarter hours between the two cut-offs,
                # days before the full cut-off (those keep only their headline rows).
                doomed = ("SELECT id FROM refreshes WHERE ts < ? AND ts >= ? AND id NOT IN (SELECT max(id)"
                          " FROM refreshes WHERE ts < ? AND ts >= ? GROUP BY CAST(ts / ? AS INTEGER))")
                for lo, hi, width in ((cut, dense, float(SPARSE_BUCKET_S)), (float("-inf"), cut, 86400.0)):
                    if hi <= lo:
                        continue
                    args = (hi, lo, hi, lo, width)
                    for table in ("var_headline", "stress_results", "snapshots_full"):
                        c.execute(f"DELETE FROM {table} WHERE refresh_id IN ({doomed})", args)
                    thinned += c.execute(f"DELETE FROM refreshes WHERE id IN ({doomed})", args).rowcount
            if self.retention_headline_days > 0:
                cut = now_ts - self.retention_headline_days * 86400.0
                old = "SELECT id FROM refreshes WHERE ts < ?"
                for table in ("var_headline", "stress_results", "snapshots_full"):
                    c.execute(f"DELETE FROM {table} WHERE refresh_id IN ({old})", (cut,))
                expired = c.execute("DELETE FROM refreshes WHERE ts < ?", (cut,)).rowcount
                alerts_deleted = c.execute(
                    "DELETE FROM alerts WHERE cleared_at IS NOT NULL AND cleared_at < ?",
                    (_iso(datetime.fromtimestamp(cut, timezone.utc)),)).rowcount
        vacuumed = 0
        with self._lock:
            free = self._conn.execute("PRAGMA freelist_count").fetchone()[0]
            pages = self._conn.execute("PRAGMA page_count").fetchone()[0]
            auto = self._conn.execute("PRAGMA auto_vacuum").fetchone()[0]
            if auto == 2 and pages and free / pages > VACUUM_FREE_FRACTION:
                self._conn.execute("PRAGMA incremental_vacuum").fetchall()
                vacuumed = free
        self.last_purge = PurgeResult(full_deleted, thinned, expired, alerts_deleted, vacuumed)
        return self.last_purge

    # -- queries ------------------------------------------------------------------------------

    def count(self, table: str = "refreshes") -> int:
        if table not in ("refreshes", "var_headline", "snapshots_full", "stress_results", "alerts",
                         "daily_var", "ml_predictions"):
            raise ValueError(f"unknown table {table!r}")
        with self._read() as c:
            return int(c.execute(f"SELECT count(*) FROM {table}").fetchone()[0])

    def list_refreshes(self, since: datetime | None = None, until: datetime | None = None,
                       limit: int | None = None, *, method: str = "historical") -> list[RefreshRow]:
        """Refreshes in [since, until], newest first, at most ``limit``."""
        where, args = self._window(since, until)
        sql = ("SELECT r.id, r.seq, r.computed_at, r.as_of, r.mode, r.nav, r.day_pnl, r.stale,"
               " r.compute_seconds, (SELECT count(*) FROM snapshots_full f WHERE f.refresh_id = r.id),"
               " v.var, v.es FROM refreshes r LEFT JOIN var_headline v ON v.refresh_id = r.id"
               " AND v.method = ? AND v.confidence = ? AND v.horizon_days = 1"
               f" {where} ORDER BY r.id DESC")
        if limit:
            sql += f" LIMIT {int(limit)}"
        with self._read() as c:
            rows = c.execute(sql, [method, _conf(0.99), *args]).fetchall()
        return [RefreshRow(id=r[0], seq=r[1], computed_at=_dt(r[2]),  # type: ignore[arg-type]
                           as_of=date.fromisoformat(r[3]) if r[3] else None, mode=r[4], nav=r[5],
                           day_pnl=r[6], stale=bool(r[7]), compute_seconds=r[8], has_full=bool(r[9]),
                           method=method, var99=r[10], es99=r[11]) for r in rows]

    @staticmethod
    def _window(since: datetime | None, until: datetime | None, alias: str = "r") -> tuple[str, list[float]]:
        where, args = [], []
        if since is not None:
            where.append(f"{alias}.ts >= ?")
            args.append(utc(since).timestamp())
        if until is not None:
            where.append(f"{alias}.ts <= ?")
            args.append(utc(until).timestamp())
        return ("WHERE " + " AND ".join(where)) if where else "", args

    def load_snapshot(self, refresh_id: int) -> RiskSnapshot:
        """The full snapshot of a refresh (InputError when purged or unknown)."""
        with self._read() as c:
            row = c.execute("SELECT encoding, data FROM snapshots_full WHERE refresh_id = ?",
                            (int(refresh_id),)).fetchone()
            known = row is not None or c.execute("SELECT 1 FROM refreshes WHERE id = ?",
                                                 (int(refresh_id),)).fetchone() is not None
        if row is None:
            if known:
                raise InputError(f"{self.path}: refresh {refresh_id} has only headline numbers: its full "
                                 f"snapshot was purged (history.retention_full_days = "
                                 f"{self.retention_full_days})")
            raise InputError(f"{self.path}: no refresh {refresh_id} (see `wsbrisk-tui history list`)")
        return _decode(row[0], row[1], self.path, refresh_id)

    def latest_id(self) -> int | None:
        """Id of the newest refresh that has a full snapshot."""
        with self._read() as c:
            row = c.execute("SELECT max(refresh_id) FROM snapshots_full").fetchone()
        return None if row[0] is None else int(row[0])

    def latest(self, after_id: int | None = None) -> tuple[int, RiskSnapshot] | None:
        """(id, snapshot) of the newest full snapshot, or None (none, or none newer than ``after_id``)."""
        rid = self.latest_id()
        if rid is None or (after_id is not None and rid <= after_id):
            return None
        return rid, self.load_snapshot(rid)

    def neighbours(self, refresh_id: int) -> tuple[int | None, int | None]:
        """(previous, next) refresh ids that have a full snapshot, for replay."""
        with self._read() as c:
            prev = c.execute("SELECT max(refresh_id) FROM snapshots_full WHERE refresh_id < ?",
                             (int(refresh_id),)).fetchone()[0]
            nxt = c.execute("SELECT min(refresh_id) FROM snapshots_full WHERE refresh_id > ?",
                            (int(refresh_id),)).fetchone()[0]
        return prev, nxt

    def full_bounds(self) -> tuple[int | None, int | None, int]:
        """(first id, last id, count) of the refreshes that have a full snapshot."""
        with self._read() as c:
            lo, hi, n = c.execute("SELECT min(refresh_id), max(refresh_id), count(*) FROM snapshots_full").fetchone()
        return lo, hi, int(n)

    def full_id_at(self, when: datetime) -> int | None:
        """The newest refresh with a full snapshot computed at or before ``when``."""
        with self._read() as c:
            row = c.execute("SELECT max(f.refresh_id) FROM snapshots_full f JOIN refreshes r ON r.id = f.refresh_id"
                            " WHERE r.ts <= ?", (utc(when).timestamp(),)).fetchone()
        return None if row[0] is None else int(row[0])

    def full_position(self, refresh_id: int) -> int:
        """1-based position of a refresh among those with a full snapshot."""
        with self._read() as c:
            return int(c.execute("SELECT count(*) FROM snapshots_full WHERE refresh_id <= ?",
                                 (int(refresh_id),)).fetchone()[0])

    def refresh_time(self, refresh_id: int) -> datetime | None:
        with self._read() as c:
            row = c.execute("SELECT computed_at FROM refreshes WHERE id = ?", (int(refresh_id),)).fetchone()
        return None if row is None else _dt(row[0])

    def headline_method(self, since: datetime | None = None) -> str | None:
        """The first of :data:`HEADLINE_METHODS` with a 99% 1-day row since ``since``."""
        ts = utc(since).timestamp() if since is not None else float("-inf")
        with self._read() as c:
            for method in HEADLINE_METHODS:
                row = c.execute("SELECT 1 FROM var_headline v JOIN refreshes r ON r.id = v.refresh_id"
                                " WHERE v.method = ? AND v.confidence = ? AND v.horizon_days = 1"
                                " AND r.ts >= ? AND v.status = 'ok' LIMIT 1",
                                (method, _conf(0.99), ts)).fetchone()
                if row is not None:
                    return method
        return None

    def series(self, metric: str, since: datetime | None = None, until: datetime | None = None, *,
               method: str = "historical", max_points: int | None = None) -> list[tuple[datetime, float | None]]:
        """(time, value) of ``metric``: ``nav``, ``day_pnl``, ``var99``/``es99`` (99% 1-day VaR/ES
        of ``method``, in currency) or ``var99_pct``/``es99_pct`` (fractions of NAV), oldest
        first. With ``max_points`` the window is cut into that many equal time buckets and the
        last refresh of each bucket is kept."""
        columns = {"nav": "r.nav", "day_pnl": "r.day_pnl", "var99": "v.var", "es99": "v.es",
                   "var99_pct": "v.var_pct", "es99_pct": "v.es_pct"}
        if metric not in columns:
            raise ValueError(f"unknown metric {metric!r}; expected one of {', '.join(columns)}")
        return [(t, vals[metric]) for t, vals in self._series_rows(since, until, method, max_points, columns)]

    def _series_rows(self, since: datetime | None, until: datetime | None, method: str,
                     max_points: int | None, columns: dict[str, str]) -> list[tuple[datetime, dict[str, float | None]]]:
        where, args = self._window(since, until, alias="q")
        ids = f"SELECT q.id FROM refreshes q {where}"
        id_args: list[Any] = list(args)
        if max_points:
            with self._read() as c:
                lo, hi = c.execute(f"SELECT min(q.ts), max(q.ts) FROM refreshes q {where}", args).fetchone()
            if lo is not None and hi > lo:
                width = (hi - lo) / int(max_points) * (1 + 1e-9)
                ids = f"SELECT max(q.id) FROM refreshes q {where} GROUP BY CAST((q.ts - ?) / ? AS INTEGER)"
                id_args = [*args, lo, width]
        names = list(columns)
        sql = (f"SELECT r.computed_at, {', '.join(columns[n] for n in names)} FROM refreshes r"
               " LEFT JOIN var_headline v ON v.refresh_id = r.id AND v.method = ? AND v.confidence = ?"
               f" AND v.horizon_days = 1 WHERE r.id IN ({ids}) ORDER BY r.ts, r.id")
        with self._read() as c:
            rows = c.execute(sql, [method, _conf(0.99), *id_args]).fetchall()
        return [(_dt(r[0]), dict(zip(names, r[1:]))) for r in rows]  # type: ignore[misc]

    # -- daily VaR and ML predictions ---------------------------------------------------------

    def daily_var(self, method: str, confidence: float = 0.99, since: date | None = None) -> list[dict[str, Any]]:
        """The close-of-day 1-day forecasts of ``method`` with the next day's realised P&L
        (``None`` until known, or when a weekday is missing), oldest first."""
        sql = ("SELECT as_of, var, es, var_pct, es_pct, nav, refresh_id, realised_pnl, realised_as_of,"
               " book_key, realised_book_key FROM daily_var WHERE method = ? AND confidence = ?")
        args: list[Any] = [method, _conf(confidence)]
        if since is not None:
            sql += " AND as_of >= ?"
            args.append(since.isoformat())
        with self._read() as c:
            rows = c.execute(sql + " ORDER BY as_of", args).fetchall()
        keys = ("as_of", "var", "es", "var_pct", "es_pct", "nav", "refresh_id", "realised_pnl",
                "realised_as_of", "book_key", "realised_book_key")
        return [dict(zip(keys, r)) for r in rows]

    def daily_var_methods(self, confidence: float = 0.99) -> list[str]:
        """The methods with recorded daily VaR at ``confidence`` (by first date, then name)."""
        with self._read() as c:
            rows = c.execute("SELECT method, min(as_of) AS first FROM daily_var WHERE confidence = ?"
                             " GROUP BY method ORDER BY first, method", (_conf(confidence),)).fetchall()
        return [r[0] for r in rows]

    def record_prediction(self, model: str, target: str, as_of: date, horizon_days: int,
                          prediction: float, *, created_at: datetime | None = None) -> int:
        """Store (or replace) a model's prediction of ``target`` made at ``as_of``; return its id.
        A replaced prediction keeps any realised value already filled."""
        with self._write() as c:
            c.execute("INSERT INTO ml_predictions (model, target, as_of, horizon_days, prediction, created_at)"
                      " VALUES (?,?,?,?,?,?) ON CONFLICT (model, target, as_of, horizon_days)"
                      " DO UPDATE SET prediction = excluded.prediction, created_at = excluded.created_at",
                      (model, target, as_of.isoformat(), int(horizon_days), float(prediction),
                       _iso(created_at or datetime.now(timezone.utc))))
            return int(c.execute("SELECT id FROM ml_predictions WHERE model = ? AND target = ? AND as_of = ?"
                                 " AND horizon_days = ?", (model, target, as_of.isoformat(),
                                                           int(horizon_days))).fetchone()[0])

    def fill_realised(self, model: str, target: str, as_of: date, horizon_days: int, realised: float,
                      *, now: datetime | None = None) -> bool:
        """Set the realised value of a stored prediction; False when there is no such prediction."""
        with self._write() as c:
            n = c.execute("UPDATE ml_predictions SET realised = ?, realised_at = ? WHERE model = ? AND"
                          " target = ? AND as_of = ? AND horizon_days = ?",
                          (float(realised), _iso(now or datetime.now(timezone.utc)), model, target,
                           as_of.isoformat(), int(horizon_days))).rowcount
        return n > 0

    def predictions(self, model: str, target: str | None = None, since: date | None = None) -> list[dict[str, Any]]:
        sql = ("SELECT id, model, target, as_of, horizon_days, prediction, realised, created_at, realised_at"
               " FROM ml_predictions WHERE model = ?")
        args: list[Any] = [model]
        if target is not None:
            sql += " AND target = ?"
            args.append(target)
        if since is not None:
            sql += " AND as_of >= ?"
            args.append(since.isoformat())
        with self._read() as c:
            rows = c.execute(sql + " ORDER BY as_of, horizon_days", args).fetchall()
        keys = ("id", "model", "target", "as_of", "horizon_days", "prediction", "realised", "created_at",
                "realised_at")
        return [dict(zip(keys, r)) for r in rows]

    # -- export and checks --------------------------------------------------------------------

    def export(self, stream: IO[str], since: datetime | None = None, until: datetime | None = None,
               fmt: str = "csv") -> int:
        """Write the headline history in [since, until] to ``stream``; return the refresh count.

        ``csv``: one row per refresh and VaR result (long format, easy to pivot), columns
        :data:`EXPORT_COLUMNS`; a refresh without VaR rows has one row with empty VaR columns.
        ``json``: ``{"schema": "wsbrisk-history/1", "refreshes": [{..., "var": [...],
        "stress": [...]}]}``, written incrementally.
        """
        if fmt not in ("csv", "json"):
            raise InputError(f"--format: '{fmt}' is not an export format (use csv or json)")
        where, args = self._window(since, until)
        n = 0
        with self._lock:
            c = self._conn
            refresh_sql = ("SELECT r.id, r.seq, r.computed_at, r.as_of, r.mode, r.nav, r.cash, r.gross_exposure,"
                           " r.net_exposure, r.day_pnl, r.stale, r.stale_reason, r.compute_seconds"
                           f" FROM refreshes r {where} ORDER BY r.id")
            keys = ("refresh_id", "seq", "computed_at", "as_of", "mode", "nav", "cash", "gross_exposure",
                    "net_exposure", "day_pnl", "stale", "stale_reason", "compute_seconds")
            # Snapshot isolation for the whole export: a concurrent writer cannot tear it.
            c.execute("BEGIN")
            try:
                if fmt == "csv":
                    w = csv.writer(stream, lineterminator="\n")
                    w.writerow(EXPORT_COLUMNS)
                    for r in c.execute(refresh_sql, args).fetchall():
                        n += 1
                        base = [r[0], r[2], r[3] or "", r[4], _cell(r[5]), _cell(r[9]), int(r[10])]
                        vs = c.execute("SELECT method, confidence, horizon_days, var, es, var_pct, es_pct,"
                                       " status, reason FROM var_headline WHERE refresh_id = ?"
                                       " ORDER BY method, horizon_days, confidence", (r[0],)).fetchall()
                        if not vs:
                            w.writerow(base + [""] * 9)
                        for v in vs:
                            w.writerow(base + [v[0], v[1], v[2], *(_cell(x) for x in v[3:7]), v[7], v[8] or ""])
                else:
                    stream.write('{"schema": "wsbrisk-history/1", "refreshes": [')
                    for r in c.execute(refresh_sql, args).fetchall():
                        item = dict(zip(keys, r))
                        item["stale"] = bool(item["stale"])
                        item["var"] = [dict(zip(("method", "confidence", "horizon_days", "var", "es", "var_pct",
                                                 "es_pct", "status", "reason"), v))
                                       for v in c.execute("SELECT method, confidence, horizon_days, var, es, var_pct,"
                                                          " es_pct, status, reason FROM var_headline"
                                                          " WHERE refresh_id = ? ORDER BY method, horizon_days,"
                                                          " confidence", (r[0],))]
                        item["stress"] = [dict(zip(("scenario", "name", "kind", "total_pnl", "total_pct"), s))
                                          for s in c.execute("SELECT scenario, name, kind, total_pnl, total_pct"
                                                             " FROM stress_results WHERE refresh_id = ?"
                                                             " ORDER BY ordinal", (r[0],))]
                        stream.write(("," if n else "") + "\n" + json.dumps(item, allow_nan=False))
                        n += 1
                    stream.write("\n]}\n")
            finally:
                c.execute("COMMIT")
        return n

    def check(self) -> list[str]:
        """``PRAGMA integrity_check``: ``["ok"]`` for a sound file, else the problems."""
        with self._read() as c:
            return [str(r[0]) for r in c.execute("PRAGMA integrity_check").fetchall()]

    def size_bytes(self) -> int:
        """Bytes on disk: the database and its WAL."""
        total = 0
        for p in (self.path, self.path.with_name(self.path.name + "-wal")):
            try:
                total += p.stat().st_size
            except FileNotFoundError:
                continue
        return total


EXPORT_COLUMNS: tuple[str, ...] = (
    "refresh_id", "computed_at", "as_of", "mode", "nav", "day_pnl", "stale", "method", "confidence",
    "horizon_days", "var", "es", "var_pct", "es_pct", "status", "reason")


def _cell(x: Any) -> Any:
    return "" if x is None else x


def _num(x: Any) -> float | None:
    if x is None or isinstance(x, bool):
        return None
    try:
        return float(x)
    except (TypeError, ValueError):
        return None


def _decode(encoding: str, data: bytes, path: Path, refresh_id: int) -> RiskSnapshot:
    if encoding != SNAPSHOT_ENCODING:
        raise InputError(f"{path}: refresh {refresh_id} is stored as {encoding!r}, which this "
                         "wsbrisk-tui cannot read (upgrade)")
    try:
        payload = json.loads(zlib.decompress(data))
    except (zlib.error, ValueError) as exc:
        raise _corrupt(path, f"refresh {refresh_id}'s snapshot does not decode: {exc}") from exc
    return RiskSnapshot.from_dict(payload)


def history_section(store: HistoryStore, now: datetime, limit: int = 500, *, span_days: float = 90.0,
                    until: datetime | None = None, method: str | None = None) -> dict[str, Any]:
    """``sections["history"]`` for the history pane: NAV, 99% 1-day VaR and ES (currency) over
    the ``span_days`` before ``until`` (default ``now``), at most ``limit`` points (the last refresh
    of each equal time bucket). ``method`` defaults to historical, else parametric normal (the
    first with data in the window; one method for the whole series, never mixed).
    ``recorded_backtest`` is that method's 99% backtest of the recorded close-of-day VaR
    (:mod:`wsbrisk_tui.engine.recorded_backtest`, every recorded day)."""
    from wsbrisk_tui.engine.recorded_backtest import recorded_backtest

    end = utc(until or now)
    since = end - timedelta(days=span_days)
    chosen = method or store.headline_method(since) or HEADLINE_METHODS[0]
    rows = store._series_rows(since, end, chosen, limit,
                              {"nav": "r.nav", "var99": "v.var", "es99": "v.es"})
    out: dict[str, Any] = {"method": chosen, "span_days": span_days, "points": len(rows)}
    for key in ("nav", "var99", "es99"):
        out[key] = [[t.isoformat(), vals[key]] for t, vals in rows]
    bt = recorded_backtest(store, chosen, 0.99, until=until.date() if until else None)
    out["recorded_backtest"] = {
        "method": bt.method, "confidence": bt.confidence, "observations": bt.observations,
        "exceptions": bt.exceptions, "expected": bt.details.get("expected_exceptions"),
        "zone": bt.zone, "reason": bt.reason,
        "excluded_holdings_changed": bt.details.get("excluded_holdings_changed")}
    return out
