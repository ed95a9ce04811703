"""The command line end to end: report on the demo and on a user's CSV book, exit codes, errors.

These run the real entry point (`wsbrisk_tui.cli.main`) with the network guard of conftest on, so
`--offline` and the demo prove they never touch the network.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from wsbrisk_tui.cli import main
from wsbrisk_tui.engine.sources.demo import demo_market_data

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _isolated_dirs(user_dirs, monkeypatch):
    """No user config, data, cache or keys leak in or out of a test (user_dirs: conftest)."""
    for var in ("FRED_API_KEY", "ALPACA_API_KEY", "ALPACA_SECRET_KEY", "APCA_API_KEY_ID",
                "APCA_API_SECRET_KEY"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture(scope="module")
def demo_report(tmp_path_factory) -> dict:
    import io
    from contextlib import redirect_stdout

    home = tmp_path_factory.mktemp("report-home")
    buf = io.StringIO()
    # module scope runs before the per-test isolation: isolate here too (no saved ML models)
    with pytest.MonkeyPatch.context() as mp, redirect_stdout(buf):
        for name in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME"):
            mp.setenv(name, str(home / name.lower()))
        mp.delenv("WSBRISK_CONFIG", raising=False)
        assert main(["report", "--demo", "--format", "json"]) == 0
    return json.loads(buf.getvalue())


def test_demo_report_values_the_book(demo_report):
    r = demo_report
    assert r["schema"] == "wsbrisk-report/1"
    assert r["meta"]["mode"] == "DEMO" and r["meta"]["as_of"] == "2020-12-31"
    # The demo book is built to a NAV of exactly 1,000,000 at its marks (see data/demo/README.md).
    assert r["nav"] == pytest.approx(1_000_000.0, abs=0.01)
    mv = sum(p["market_value"] for p in r["positions"])
    assert r["nav"] == pytest.approx(r["cash"] + mv, abs=1e-6)
    weights = {p["symbol"]: p["weight"] for p in r["positions"]}
    assert weights["NVDA"] > 0.20  # the book is built to breach the 20% limit
    assert weights["IWM"] < 0  # the short
    # provenance: every series says whether it is real or generated
    assert all(n.startswith(("real", "generated")) for n in r["meta"]["series_notes"].values())


def test_demo_report_has_every_var_method_confidence_and_horizon(demo_report):
    from wsbrisk_tui.engine.ml_service import NOT_TRAINED
    from wsbrisk_tui.engine.suite import METHODS, ML_METHODS

    keys = {(v["method"], v["confidence"], v["horizon_days"]) for v in demo_report["var"]}
    assert keys == {(m, c, h) for m in METHODS + ML_METHODS for c in (0.95, 0.99, 0.999)
                    for h in (1, 5, 10)}
    # `report` never trains: with no saved model the ML rows say so
    ml_rows = [v for v in demo_report["var"] if v["method"] in ML_METHODS]
    assert len(ml_rows) == 18 and all(v["reason"] == NOT_TRAINED for v in ml_rows)
    for v in demo_report["var"]:
        if v["status"] == "ok":
            assert v["es"] >= v["var"] > 0
            assert v["var_pct"] == pytest.approx(v["var"] / demo_report["nav"], rel=1e-9)
        else:
            assert v["var"] is None and v["reason"]


def test_demo_report_sections_are_present(demo_report):
    for key in ("contributions", "backtest", "stress", "correlation", "factors", "exposures", "alerts"):
        assert demo_report[key], key
    options = [p for p in demo_report["positions"] if p["kind"] == "option"]
    assert len(options) == 5
    for p in options:
        o = p["option"]
        assert {"underlying", "expiry", "strike", "right", "multiplier", "dte", "iv", "iv_source",
                "delta", "gamma", "vega", "theta", "rho", "model"} <= set(o)


def test_report_on_a_user_csv_book_with_a_prices_file(tmp_path, capsys):
    market = demo_market_data()
    prices = market.prices[["SPY", "AAPL", "TLT"]].iloc[-300:]
    prices_file = tmp_path / "prices.csv"
    prices.rename_axis("date").to_csv(prices_file, date_format="%Y-%m-%d")
    book = tmp_path / "book.csv"
    book.write_text("symbol,qty\nSPY,10\nAAPL,-5\nTLT,2.5\nCASH,1000\n", encoding="utf-8")

    assert main(["report", "--positions", str(book), "--prices", str(prices_file), "--offline",
                 "--format", "json"]) == 0
    r = json.loads(capsys.readouterr().out)
    last = prices.iloc[-1]
    expected_mv = 10 * last["SPY"] - 5 * last["AAPL"] + 2.5 * last["TLT"]
    assert r["nav"] == pytest.approx(1000 + expected_mv, rel=1e-12)
    by = {p["symbol"]: p for p in r["positions"]}
    assert by["AAPL"]["market_value"] == pytest.approx(-5 * last["AAPL"], rel=1e-12)
    assert r["meta"]["market_source"].startswith("csv:")
    # prices end in 2020: the file is old, so the data must be marked stale, with the reason
    assert r["meta"]["stale"] is True and "business days old" in r["meta"]["stale_reason"]
    # offline: the risk-free rate is the config's, marked assumed
    assert r["meta"]["risk_free_assumed"] is True
    hist = next(v for v in r["var"] if v["method"] == "historical" and v["confidence"] == 0.99
                and v["horizon_days"] == 1)
    # independent check: -(1%) quantile of today's holdings' P&L over the last 252 returns
    pnl = (prices.pct_change().iloc[-252:] * [10 * last["SPY"], -5 * last["AAPL"], 2.5 * last["TLT"]]).sum(axis=1)
    assert hist["var"] == pytest.approx(-pnl.quantile(0.01), rel=1e-9)


def test_text_report_prints_the_ladder(capsys):
    assert main(["report", "--demo", "--format", "text"]) == 0
    out = capsys.readouterr().out
    assert "VAR / EXPECTED SHORTFALL (1-day" in out and "historical" in out
    assert "NAV 1,000,000 USD" in out
    # the demo book breaches the default 20% single-position limit with NVDA (21.9%)
    assert "ALERTS (" in out and "max_position_weight: NVDA is 21.93% of NAV (limit 20.00%)" in out


def test_bad_positions_file_exits_2_with_one_located_message(tmp_path, capsys):
    book = tmp_path / "book.csv"
    book.write_text("symbol,qyt\nSPY,10\n", encoding="utf-8")
    rc = main(["report", "--positions", str(book), "--prices", str(book)])
    err = capsys.readouterr().err
    assert rc == 2
    assert f"{book}:1" in err and "qyt" in err and "did you mean" in err
    assert "Traceback" not in err


def test_missing_prices_file_exits_2(tmp_path, capsys):
    book = tmp_path / "book.csv"
    book.write_text("symbol,qty\nSPY,10\n", encoding="utf-8")
    rc = main(["report", "--positions", str(book), "--prices", str(tmp_path / "nope.csv")])
    err = capsys.readouterr().err
    assert rc == 2 and "nope.csv" in err and "Traceback" not in err


def test_version_and_module_entry_point():
    out = subprocess.run([sys.executable, "-m", "wsbrisk_tui", "--version"], capture_output=True,
                         text=True, cwd=REPO, timeout=60)
    assert out.returncode == 0 and out.stdout.startswith("wsbrisk-tui ")
