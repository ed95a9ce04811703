"""A local SQLite cache of daily adjusted closes, so Yahoo is asked only for dates we lack.

Schema (version 1)::

    schema_version(version INTEGER NOT NULL)              -- one row
    prices(symbol TEXT, date TEXT, close REAL, PRIMARY KEY(symbol, date))
    fetches(symbol TEXT, fetched_at TEXT, first_date TEXT, last_date TEXT)

``symbol`` is the *Yahoo ticker* (``BRK-B``), because the cache holds Yahoo's series; the book's
symbol is mapped at the edge (:mod:`.yahoo`). ``date`` is ISO ``YYYY-MM-DD``; ``fetched_at`` is an
ISO UTC timestamp. A ``fetches`` row records that Yahoo was asked for ``[first_date, last_date]``
and answered: together the rows say which ranges are covered even where a range holds no trading
day (so a holiday is not asked for again and again).

The file is created with mode 0600 and runs in WAL mode. Writes happen in one transaction, so a
killed process leaves the previous state. A file that is not a readable cache of this kind (not
SQLite, damaged, another program's database, a newer schema) raises
:class:`~wsbrisk_tui.errors.InputError` naming the path; it is never overwritten.

Connections are opened per call, so one :class:`PriceCache` may be used from any thread.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable, Mapping
from contextlib import closing
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from wsbrisk_tui.errors import InputError, located

if TYPE_CHECKING:
    import pandas as pd

SCHEMA_VERSION = 1

_SCHEMA = (
    "CREATE TABLE schema_version (version INTEGER NOT NULL)",
    "CREATE TABLE prices (symbol TEXT NOT NULL, date TEXT NOT NULL, close REAL NOT NULL, "
    "PRIMARY KEY (symbol, date)) WITHOUT ROWID",
    "CREATE TABLE fetches (symbol TEXT NOT NULL, fetched_at TEXT NOT NULL, "
    "first_date TEXT NOT NULL, last_date TEXT NOT NULL)",
    "CREATE INDEX fetches_symbol ON fetches (symbol)",
)
_TABLES = {"schema_version", "prices", "fetches"}
_DELETE_FIX = "delete it; it is rebuilt from Yahoo on the next online run"


class PriceCache:
    """The SQLite price cache at ``path`` (created on first use; see the module docstring)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if self.path.exists():
            self._check_existing()
        else:
            self._create()

    # ---------------------------------------------------------------- opening and checking

    def _connect(self) -> sqlite3.Connection:
        # timeout: a daemon and a viewer may write the same file; wait for the other's lock
        conn = sqlite3.connect(self.path, timeout=10.0, isolation_level=None)
        conn.execute("PRAGMA foreign_keys = ON")
        return conn

    def _corrupt(self, what: str) -> InputError:
        return InputError(located(self.path, None, f"is not a usable price cache ({what})", _DELETE_FIX))

    def _create(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            # O_EXCL + 0600: the file never exists with wider permissions, and a file created by
            # someone else between exists() and here is not taken over.
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            self._check_existing()
            return
        os.close(fd)
        self._init_schema()

    def _init_schema(self) -> None:
        with closing(self._connect()) as conn:
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("BEGIN IMMEDIATE")
            for statement in _SCHEMA:
                conn.execute(statement)
            conn.execute("INSERT INTO schema_version (version) VALUES (?)", (SCHEMA_VERSION,))
            conn.execute("COMMIT")

    def _check_existing(self) -> None:
        if not self.path.is_file():
            raise InputError(located(self.path, None, "is not a file", "point the price cache at a file path"))
        if self.path.stat().st_size == 0:
            # SQLite itself treats an empty file as a new database, and it holds nothing to lose.
            os.chmod(self.path, 0o600)
            self._init_schema()
            return
        try:
            with closing(self._connect()) as conn:
                check = conn.execute("PRAGMA quick_check").fetchall()
                if check != [("ok",)]:
                    raise self._corrupt("SQLite integrity check: " + "; ".join(str(r[0]) for r in check[:3]))
                tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
                if not _TABLES <= tables:
                    raise self._corrupt("another program's database: tables "
                                        + (", ".join(sorted(tables)) or "none"))
                rows = conn.execute("SELECT version FROM schema_version").fetchall()
                if len(rows) != 1:
                    raise self._corrupt(f"schema_version has {len(rows)} rows")
                version = rows[0][0]
                if version > SCHEMA_VERSION:
                    raise InputError(located(
                        self.path, None,
                        f"was written by a newer wsbrisk-tui (schema {version}, this version reads {SCHEMA_VERSION})",
                        "upgrade wsbrisk-tui, or delete the file to rebuild it"))
                if version != SCHEMA_VERSION:
                    raise self._corrupt(f"unknown schema version {version}")
                conn.execute("PRAGMA journal_mode = WAL")
        except sqlite3.DatabaseError as exc:
            raise self._corrupt(str(exc)) from None

    # ---------------------------------------------------------------- reading

    def coverage(self, symbols: Iterable[str]) -> dict[str, list[tuple[date, date]]]:
        """Per symbol, the fetched date ranges merged into disjoint ascending intervals.

        Two ranges merge when they overlap or when only a weekend separates them (the next range
        starts on or before the business day after the previous one ends).
        """
        import numpy as np

        syms = list(dict.fromkeys(symbols))
        out: dict[str, list[tuple[date, date]]] = {s: [] for s in syms}
        rows = self._query(
            f"SELECT symbol, first_date, last_date FROM fetches WHERE symbol IN ({_marks(syms)}) "
            "ORDER BY symbol, first_date", syms)
        for sym, first, last in rows:
            a, b = date.fromisoformat(first), date.fromisoformat(last)
            merged = out[sym]
            if merged:
                next_bday = np.busday_offset(merged[-1][1], 1, roll="forward").astype(date)
                if a <= max(next_bday, merged[-1][1] + timedelta(days=1)):
                    merged[-1] = (merged[-1][0], max(merged[-1][1], b))
                    continue
            merged.append((a, b))
        return out

    def last_price_dates(self, symbols: Iterable[str], before: date | None = None) -> dict[str, date]:
        """Per symbol, the last cached price date (strictly before ``before`` when given)."""
        syms = list(dict.fromkeys(symbols))
        sql = f"SELECT symbol, MAX(date) FROM prices WHERE symbol IN ({_marks(syms)})"
        params: list[str] = list(syms)
        if before is not None:
            sql += " AND date < ?"
            params.append(before.isoformat())
        rows = self._query(sql + " GROUP BY symbol", params)
        return {s: date.fromisoformat(d) for s, d in rows if d is not None}

    def read(self, symbols: Iterable[str], start: date, end: date) -> "dict[str, pd.Series]":
        """Cached closes per symbol for ``start <= date <= end`` (symbols with none are absent)."""
        import pandas as pd

        syms = list(dict.fromkeys(symbols))
        rows = self._query(
            f"SELECT symbol, date, close FROM prices WHERE symbol IN ({_marks(syms)}) "
            "AND date >= ? AND date <= ? ORDER BY symbol, date",
            [*syms, start.isoformat(), end.isoformat()])
        by_symbol: dict[str, tuple[list[str], list[float]]] = {}
        for sym, d, close in rows:
            dates, closes = by_symbol.setdefault(sym, ([], []))
            dates.append(d)
            closes.append(close)
        return {
            sym: pd.Series(closes, index=pd.DatetimeIndex(pd.to_datetime(dates)).as_unit("ns"),
                           name=sym, dtype=float)
            for sym, (dates, closes) in by_symbol.items()
        }

    def fetched_at(self, symbols: Iterable[str]) -> datetime | None:
        """When the most recent fetch among ``symbols`` happened (UTC), or ``None``."""
        syms = list(dict.fromkeys(symbols))
        rows = self._query(f"SELECT MAX(fetched_at) FROM fetches WHERE symbol IN ({_marks(syms)})", syms)
        return datetime.fromisoformat(rows[0][0]) if rows and rows[0][0] else None

    def _query(self, sql: str, params: Iterable[object]) -> list[tuple]:
        try:
            with closing(self._connect()) as conn:
                return conn.execute(sql, list(params)).fetchall()
        except sqlite3.DatabaseError as exc:
            raise self._corrupt(str(exc)) from None

    # ---------------------------------------------------------------- writing

    def store(self, closes: "Mapping[str, pd.Series]", fetched: Mapping[str, tuple[date, date]],
              fetched_at: datetime | None = None, replace: Iterable[str] = ()) -> None:
        """Write fetched closes and the ranges they answer, in ONE transaction.

        ``closes[sym]``: positive finite closes by date (NaN must be dropped by the caller);
        existing rows for the same dates are replaced. ``fetched[sym] = (first, last)`` is the
        range Yahoo was asked for. Symbols in ``replace`` lose every cached row and fetch record
        first (their history was re-adjusted by Yahoo, see :mod:`.yahoo`).
        """
        import numpy as np

        stamp = (fetched_at or datetime.now(timezone.utc)).isoformat()
        price_rows: list[tuple[str, str, float]] = []
        for sym, series in closes.items():
            values = series.to_numpy(dtype=float)
            if not np.all(np.isfinite(values) & (values > 0)):
                raise ValueError(f"price cache: {sym} closes must be positive and finite")
            price_rows.extend((sym, ts.date().isoformat(), float(v)) for ts, v in zip(series.index, values))
        fetch_rows = [(sym, stamp, a.isoformat(), b.isoformat()) for sym, (a, b) in fetched.items()]
        dropped = list(dict.fromkeys(replace))
        try:
            with closing(self._connect()) as conn:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    if dropped:
                        conn.execute(f"DELETE FROM prices WHERE symbol IN ({_marks(dropped)})", dropped)
                        conn.execute(f"DELETE FROM fetches WHERE symbol IN ({_marks(dropped)})", dropped)
                    conn.executemany("INSERT OR REPLACE INTO prices (symbol, date, close) VALUES (?, ?, ?)",
                                     price_rows)
                    conn.executemany("INSERT INTO fetches (symbol, fetched_at, first_date, last_date) "
                                     "VALUES (?, ?, ?, ?)", fetch_rows)
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
                conn.execute("COMMIT")
        except sqlite3.DatabaseError as exc:
            raise self._corrupt(str(exc)) from None


def _marks(items: list[str]) -> str:
    return ",".join("?" * len(items)) if items else "NULL"
