"""The backtest of the recorded close-of-day VaR against the next day's P&L (engine, migration
and ``history backtest``). Hand-built snapshots (tests/history_factory.py): every method's 99%
1-day VaR is 2% of a 1,000,000 NAV = 20,000, and the day P&L is set per day."""

from __future__ import annotations

import json
import math
import sqlite3
from datetime import datetime, timedelta, timezone

import pandas as pd
import pytest
from scipy.stats import chi2

from history_factory import sample_snapshot
from wsbrisk_tui.engine import history as history_mod
from wsbrisk_tui.engine.history import HistoryStore
from wsbrisk_tui.engine.recorded_backtest import recorded_backtest

DAYS = pd.bdate_range("2025-01-06", periods=80)  # weekdays: consecutive as the store needs
LOSS_DAYS = {10, 25, 40}  # a 25,000 loss on these (beyond the 20,000 VaR)
TRADE_DAYS = {30, 55}  # the holdings change on these days (NVDA's weight moves)


def _record_days(store: HistoryStore, days: range | list[int], loss_days=LOSS_DAYS,
                 trade_days=TRADE_DAYS) -> None:
    nvda = 0.02
    for i in days:
        if i in trade_days:
            nvda += 0.01
        d = DAYS[i].date()
        t = datetime(d.year, d.month, d.day, 21, 0, tzinfo=timezone.utc)
        store.record(sample_snapshot(i + 1, t, as_of=d, weights={"NVDA": nvda},
                                     day_pnl=-25_000.0 if i in loss_days else 1_000.0))


def kupiec_by_hand(x: int, n: int, p: float) -> float:
    """LR_pof = -2 ln[(1-p)^(n-x) p^x / ((1-x/n)^(n-x) (x/n)^x)] ~ chi2(1) (Kupiec 1995)."""
    phat = x / n
    lr = -2.0 * ((n - x) * math.log(1 - p) + x * math.log(p)
                 - (n - x) * math.log(1 - phat) - x * math.log(phat))
    return float(chi2.sf(lr, 1))


def test_exceptions_and_kupiec_on_clean_days_only(tmp_path) -> None:
    with HistoryStore(tmp_path / "h.sqlite3") as store:
        _record_days(store, range(80))
        r = recorded_backtest(store, "historical", 0.99)
    # 80 closes, 79 with a next day; the P&L of a trade day belongs to other holdings than the
    # previous close's VaR: 2 pairs left out
    d = r.details
    assert d["days_recorded"] == 80 and d["days_with_realised_pnl"] == 79
    assert d["excluded_holdings_changed"] == 2 and d["excluded_holdings_unknown"] == 0
    assert r.observations == 77 and r.exceptions == 3  # the losses on days 10, 25, 40
    assert r.kupiec_p == pytest.approx(kupiec_by_hand(3, 77, 0.01), rel=1e-9)
    # Basel zones scaled to 77 days: P(X <= 2) = 0.957 for X ~ Bin(77, 1%), so 3 is yellow
    assert r.zone == "yellow" and d["first_day"] == str(DAYS[0].date())
    assert d["last_day"] == str(DAYS[78].date())


def test_a_loss_on_a_trade_day_is_not_counted(tmp_path) -> None:
    with HistoryStore(tmp_path / "h.sqlite3") as store:
        _record_days(store, range(80), loss_days={10, 30}, trade_days={30})
        r = recorded_backtest(store, "parametric_normal", 0.99)
    assert r.observations == 78 and r.exceptions == 1


def test_too_few_clean_days_is_na_with_the_reason(tmp_path) -> None:
    with HistoryStore(tmp_path / "h.sqlite3") as store:
        _record_days(store, range(20))
        r = recorded_backtest(store, "historical", 0.99)
    assert r.status == "n/a" and r.exceptions is None
    assert r.reason == ("19 clean recorded days (a close's VaR and the next day's P&L on the same "
                        "holdings); the backtest needs at least 50")


def test_migration_2_adds_the_holdings_columns_to_an_old_store(tmp_path, monkeypatch) -> None:
    path = tmp_path / "h.sqlite3"
    monkeypatch.setattr(history_mod, "MIGRATIONS", history_mod.MIGRATIONS[:1])
    HistoryStore(path).close()
    c = sqlite3.connect(path)
    c.execute("INSERT INTO daily_var (as_of, method, confidence, var, realised_pnl) "
              "VALUES ('2025-01-06', 'historical', 0.99, 20000, 1000)")
    c.commit()
    monkeypatch.undo()
    with HistoryStore(path) as store:  # migrated to schema 2 on open
        rows = store.daily_var("historical")
    assert c.execute("SELECT max(version) FROM schema_version").fetchone()[0] == 2
    assert rows[0]["book_key"] is None and rows[0]["realised_pnl"] == 1000.0


def test_rows_without_holdings_count_as_unknown(tmp_path) -> None:
    """Rows recorded before schema 2 have no holdings key (NULL, as the migration leaves them):
    they are left out and counted."""
    path = tmp_path / "h.sqlite3"
    with HistoryStore(path) as store:
        _record_days(store, range(80))
    c = sqlite3.connect(path)
    c.execute("UPDATE daily_var SET book_key = NULL, realised_book_key = NULL WHERE as_of <= ?",
              (str(DAYS[9].date()),))
    c.commit()
    with HistoryStore(path) as store:
        r = recorded_backtest(store, "historical", 0.99)
    assert r.details["excluded_holdings_unknown"] == 10 and r.observations == 67
    assert r.exceptions == 2  # day 10's loss pairs with day 9's VaR (unknown); 25 and 40 count


def test_history_backtest_command(tmp_path, user_dirs, capsys) -> None:
    from wsbrisk_tui import cli

    db = tmp_path / "h.sqlite3"
    with HistoryStore(db) as store:
        _record_days(store, range(80))
    assert cli.main(["history", "backtest", "--store", str(db), "--method", "historical",
                     "--method", "garch_t"]) == 0
    out = capsys.readouterr().out
    assert "recorded VaR backtest, 99% 1-day" in out
    line = next(x for x in out.splitlines() if x.strip().startswith("historical"))
    assert line.split()[1:4] == ["77", "3", "0.8"] and line.endswith("yellow")
    assert "left out: holdings changed 2" in out
    assert cli.main(["history", "backtest", "--store", str(db), "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert len(data) == 11 and {r["exceptions"] for r in data} == {3}  # the factory's 11 methods
    assert cli.main(["history", "backtest", "--store", str(db), "--method", "magic"]) == 2
    assert "--method: no daily VaR recorded for magic at 0.99" in capsys.readouterr().err
    assert cli.main(["history", "backtest", "--store", str(db), "--confidence", "99"]) == 2
    assert "--confidence: 99 must be between 0.5 and 1" in capsys.readouterr().err


def test_history_section_and_pane_line(tmp_path) -> None:
    from wsbrisk_tui.engine.history import history_section
    from wsbrisk_tui.widgets.history import recorded_backtest_line

    with HistoryStore(tmp_path / "h.sqlite3") as store:
        _record_days(store, range(80))
        now = datetime(2025, 6, 1, tzinfo=timezone.utc)
        sec = history_section(store, now)["recorded_backtest"]
        # replay at day 60's close: days after it, and day 60's own P&L pairing, are not known
        then = history_section(store, now, until=datetime.combine(
            DAYS[60].date(), datetime.min.time(), tzinfo=timezone.utc) + timedelta(hours=23))
    assert (sec["method"], sec["observations"], sec["exceptions"]) == ("historical", 77, 3)
    assert sec["zone"] == "yellow" and sec["excluded_holdings_changed"] == 2
    assert (then["recorded_backtest"]["observations"], then["recorded_backtest"]["exceptions"]) == (58, 3)
    assert recorded_backtest_line(sec) == (
        "recorded backtest, historical 99% 1-day: 3 exceptions in 77 days (0.8 expected), yellow; "
        "2 trade day(s) left out  (wsbrisk-tui history backtest)")
    na = {**sec, "exceptions": None, "reason": "19 clean recorded days (...); the backtest needs "
                                             "at least 50"}
    assert recorded_backtest_line(na) == ("recorded backtest, historical 99% 1-day: n/a (19 clean "
                                          "recorded days (...); the backtest needs at least 50)")
