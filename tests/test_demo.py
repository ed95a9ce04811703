"""The bundled demo book and market data: composition, real-history checks, sanity, determinism.

Real-data checks compare the shipped series with ``arch.data`` directly; generated-data checks
assert the properties the generator promises (scripts/make_demo_data.py docstring).
"""

from __future__ import annotations

import gzip
import importlib.util
import io
import json
import math
import sys
import time
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from wsbrisk_tui.engine.sources import demo

ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = ROOT / "wsbrisk_tui" / "data" / "demo"
AS_OF = date(2020, 12, 31)


def _load_script():
    spec = importlib.util.spec_from_file_location("make_demo_data", ROOT / "scripts" / "make_demo_data.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["make_demo_data"] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def gen():
    return _load_script()


@pytest.fixture(scope="module")
def md():
    return demo.demo_market_data()


@pytest.fixture(scope="module")
def book():
    return demo.demo_portfolio()


@pytest.fixture(scope="module")
def prices(md):
    return md.prices


def _ret(series: pd.Series, start: str, end: str) -> float:
    return float(series.loc[end] / series.loc[start] - 1.0)


# --------------------------------------------------------------------------------------------
# shape and provenance
# --------------------------------------------------------------------------------------------


def test_panel_has_at_least_12_instruments_and_10_years(prices):
    assert len(prices.columns) >= 12
    assert prices.index[0] == pd.Timestamp("2007-01-03")
    assert prices.index[-1] == pd.Timestamp("2020-12-31")
    assert (prices.index[-1] - prices.index[0]).days / 365.25 >= 10
    assert prices.index.is_monotonic_increasing and prices.index.is_unique
    assert all(dtype == np.float64 for dtype in prices.dtypes)


def test_every_price_is_positive_and_gaps_are_nan_not_filled(prices):
    values = prices.to_numpy()
    finite = np.isfinite(values)
    assert np.all(values[finite] > 0)
    # only the 4 FRED WTI gaps are missing; every other series is complete
    missing = prices.isna().sum()
    assert missing.drop("USO").sum() == 0
    assert list(prices.index[prices["USO"].isna()].strftime("%Y-%m-%d")) == [
        "2017-07-03", "2018-11-23", "2018-12-24", "2018-12-31"]


def test_generated_calendar_is_weekdays_minus_nyse_holidays(prices):
    gen_days = prices.loc["2019-01-01":].index
    assert all(d.weekday() < 5 for d in gen_days)
    for holiday in ("2019-07-04", "2019-12-25", "2020-04-10", "2020-11-26", "2020-12-25"):
        assert pd.Timestamp(holiday) not in gen_days
    # NYSE had 252 full trading days in 2019 and 253 in 2020
    assert (gen_days.year == 2019).sum() == 252
    assert (gen_days.year == 2020).sum() == 253


def test_series_notes_cover_every_symbol_and_say_real_or_generated(md):
    assert set(md.series_notes) == set(md.symbols)
    for symbol, note in md.series_notes.items():
        assert note.startswith(("real", "generated")), symbol
    assert "real 2007-01-03..2018-12-31" in md.series_notes["SPY"]
    assert "generated 2019-01-02..2020-12-31" in md.series_notes["SPY"]
    assert md.series_notes["AAPL"].startswith("generated")
    assert "synthetic" in md.series_notes["BTC-USD"]


def test_market_data_provenance(md):
    assert md.source == "demo"
    assert md.as_of == AS_OF
    assert md.stale is False
    assert any("historical demo data ending 2020-12-31" in n for n in md.notes)
    assert md.risk_free is not None
    assert md.risk_free.value == pytest.approx(0.0037, abs=1e-12)
    assert md.risk_free.as_of == AS_OF and md.risk_free.assumed is False
    assert "approximate" in md.risk_free.source and "not a daily observation" in md.risk_free.source
    assert md.vix is not None and md.vix.index.equals(md.prices.index)
    assert "real 2014-01-03..2018-12-31" in md.vix_source and "generated" in md.vix_source


def test_callers_get_independent_copies():
    first = demo.demo_market_data()
    first.prices.iloc[-1, 0] = -1.0
    assert demo.demo_market_data().prices.iloc[-1, 0] > 0


# --------------------------------------------------------------------------------------------
# real history is shipped unchanged (apart from the documented scaling)
# --------------------------------------------------------------------------------------------


def test_real_series_match_arch_data(prices, md):
    import arch.data.nasdaq
    import arch.data.sp500
    import arch.data.vix
    import arch.data.wti

    window = slice("2007-01-03", "2018-12-31")
    sp = arch.data.sp500.load()["Adj Close"].loc[window]
    nq = arch.data.nasdaq.load()["Adj Close"].loc[window]
    wti = arch.data.wti.load()["DCOILWTICO"]
    vix = arch.data.vix.load()["vix"].loc["2014-01-03":"2018-12-31"].dropna()
    # 10 significant digits in the file: relative error below 1e-9
    np.testing.assert_allclose(prices["SPY"].loc[window].to_numpy(), sp.to_numpy() / 10.0, rtol=1e-9)
    np.testing.assert_allclose(prices["QQQ"].loc[window].to_numpy(), nq.to_numpy() / 43.0, rtol=1e-9)
    uso = prices["USO"].loc[window].dropna()
    np.testing.assert_allclose(uso.to_numpy(), wti.reindex(uso.index).to_numpy(), rtol=1e-9)
    np.testing.assert_allclose(md.vix.reindex(vix.index).to_numpy(), vix.to_numpy(), rtol=1e-9)


def test_2008_crisis_spy_falls_more_than_40_percent(prices):
    # real S&P 500: 1192.70 (2008-09-15) -> 676.53 (2009-03-09), -43.3%
    fall = _ret(prices["SPY"], "2008-09-15", "2009-03-09")
    assert fall < -0.40
    assert fall == pytest.approx(676.530029 / 1192.699951 - 1.0, abs=1e-6)


def test_flash_crash_day_close_to_close(prices):
    # 2010-05-06: the intraday crash is not in daily closes; the real close-to-close was -3.24%
    r = float(prices["SPY"].pct_change().loc["2010-05-06"])
    assert -0.04 < r < -0.025
    assert r == pytest.approx(-0.032353, abs=1e-5)


# --------------------------------------------------------------------------------------------
# the generated 2019-2020 continuation and the factor model
# --------------------------------------------------------------------------------------------


def test_2020_crash_magnitude_and_recovery(prices):
    spy = prices["SPY"]
    # anchored to the real S&P 500 closes 3386.15 and 2237.40: -33.92% close to close
    close_to_close = _ret(spy, "2020-02-19", "2020-03-23")
    assert -0.38 < close_to_close < -0.30
    assert close_to_close == pytest.approx(2237.40 / 3386.15 - 1.0, abs=1e-8)
    window = spy.loc["2020-02-19":"2020-03-23"]
    max_drawdown = float((window / window.cummax() - 1.0).min())
    assert -0.38 < max_drawdown < -0.30
    # the prior peak is regained by 2020-08-18, as in 2020
    assert spy.loc["2020-08-18"] >= spy.loc["2020-02-19"]
    assert spy.loc["2020-03-24":"2020-08-17"].max() < spy.loc["2020-08-18"] * 1.05


def test_tlt_rises_in_the_2020_crash(prices):
    assert _ret(prices["TLT"], "2020-02-19", "2020-03-23") > 0


def test_vix_spikes_in_crises_and_respects_the_floor(md):
    vix = md.vix
    assert vix.min() >= 9.0
    # real peaks: 80.9 (2008-11-20) and 82.7 (2020-03-16); the generated VIX tracks realised vol
    assert 60 < vix.loc["2020-02-20":"2020-04-30"].max() < 100
    assert 60 < vix.loc["2008-09-01":"2009-03-31"].max() < 100
    assert vix.loc["2020-02-03":"2020-02-14"].mean() < 25  # calm before the crash
    assert vix.loc["2020-03-09":"2020-03-31"].mean() > 2 * vix.loc["2020-01-02":"2020-02-14"].mean()


def test_btc_is_very_volatile(prices):
    log_r = np.log(prices["BTC-USD"]).diff().dropna()
    assert float(log_r.std() * math.sqrt(252)) > 0.50


def test_correlations_are_plausible(prices):
    corr = np.log(prices).diff().corr()
    assert corr.loc["AAPL", "QQQ"] > 0.5
    assert corr.loc["IWM", "SPY"] > 0.8
    assert corr.loc["JPM", "SPY"] > 0.5
    assert corr.loc["TLT", "SPY"] < 0
    assert abs(corr.loc["GLD", "SPY"]) < 0.3


def test_generated_names_pass_through_year_end_anchors(prices, gen):
    # NVDA's 2020-12-31 close sets the book's concentration; AAPL's 2019 close is a mid anchor
    assert prices["NVDA"].iloc[-1] == pytest.approx(522.20, rel=1e-9)
    assert prices["AAPL"].loc["2019-12-31"] == pytest.approx(73.41, rel=1e-9)
    assert prices["BTC-USD"].loc["2017-12-29"] == pytest.approx(14156.40, rel=1e-9)
    assert set(gen.INSTRUMENTS) | {"SPY", "QQQ", "USO"} == set(prices.columns)


def test_risk_free_is_the_annual_step_series():
    rf = demo.demo_risk_free_series()
    assert rf.loc["2007-06-01"] == pytest.approx(0.044)
    assert rf.loc["2008-10-01"] == pytest.approx(0.014)
    assert rf.loc["2020-12-31"] == pytest.approx(0.0037)
    by_year = rf.groupby(rf.index.year).nunique()
    assert (by_year == 1).all()


# --------------------------------------------------------------------------------------------
# the book
# --------------------------------------------------------------------------------------------


def test_book_identity_and_mode(book):
    assert book.mode == "DEMO"
    assert book.source == "demo"
    assert book.as_of == datetime(2020, 12, 31, 16, 0)
    assert book.cash is not None and book.cash > 0
    assert any("historical demo data ending 2020-12-31" in n for n in book.notes)


def test_book_composition(book, prices):
    by_class = {}
    for p in book.positions:
        by_class.setdefault(p.asset_class, []).append(p)
    assert {"AAPL", "MSFT", "NVDA", "JPM"} <= {p.symbol for p in by_class["equity"]}
    assert {"SPY", "QQQ", "TLT", "GLD", "IWM"} <= {p.symbol for p in by_class["etf"]}
    (btc,) = by_class["crypto"]
    assert btc.symbol == "BTC-USD" and btc.qty != int(btc.qty)
    assert any(p.qty < 0 and p.option is None for p in book.positions)  # a short stock/ETF
    for symbol in book.underlyings():
        assert symbol in prices.columns, symbol
    # only options carry a mark; everything else is priced from market data
    for p in book.positions:
        assert (p.price is not None) == (p.option is not None), p.symbol


def test_book_options(book):
    options = [p for p in book.positions if p.option is not None]
    assert all(p.option.expiry > AS_OF for p in options)
    assert all(p.option.underlying in {"SPY", "QQQ", "AAPL"} for p in options)
    long_calls = [p for p in options if p.qty > 0 and p.option.right == "C"]
    short_puts = [p for p in options if p.qty < 0 and p.option.right == "P"]
    assert any(8 <= p.option.dte(AS_OF) <= 21 for p in long_calls)  # ~2 weeks out
    assert short_puts
    # a vertical: long and short call, same underlying and expiry, different strikes, equal size
    spreads = [(a, b) for a in options for b in options
               if a.option.right == b.option.right == "C" and a.qty > 0 > b.qty
               and a.option.underlying == b.option.underlying and a.option.expiry == b.option.expiry
               and a.option.strike < b.option.strike and a.qty == -b.qty]
    assert spreads
    assert any(p.option.dte(AS_OF) <= 7 for p in options)  # 0DTE-like


def test_book_nav_and_concentration(book, prices):
    last = prices.iloc[-1]
    values = {p.symbol: p.market_value_at(p.price if p.price is not None else float(last[p.underlying]))
              for p in book.positions}
    nav = book.cash + sum(values.values())
    # cash is set so NAV is 1,000,000 at the demo marks (rounded to the cent)
    assert nav == pytest.approx(1_000_000.0, abs=0.01)
    weights = {s: v / nav for s, v in values.items()}
    assert 0.20 < weights["NVDA"] < 0.25  # fires the default 20% position limit
    assert sum(1 for w in weights.values() if w > 0.20) == 1
    gross = sum(abs(v) for v in values.values())
    assert 0.7 < gross / nav < 1.2


def test_bsm_matches_hull_textbook_value(gen):
    # Hull, Options, Futures and Other Derivatives, Example 15.6: S=42, K=40, r=10%, sigma=20%,
    # T=0.5 -> call 4.76, put 0.81 (2 decimals in the book)
    assert gen.bsm_price(42, 40, 0.5, 0.10, 0.20, "C") == pytest.approx(4.76, abs=0.005)
    assert gen.bsm_price(42, 40, 0.5, 0.10, 0.20, "P") == pytest.approx(0.81, abs=0.005)


def test_option_marks_are_bsm_at_the_demo_vix(book, md, gen):
    last = md.prices.iloc[-1]
    vix = float(md.vix.iloc[-1])
    for p in book.positions:
        if p.option is None:
            continue
        t_years = p.option.dte(AS_OF) / 365.0
        vol = vix / 100.0 * gen.IV_MULTIPLIER[p.option.underlying]
        expected = gen.bsm_price(float(last[p.option.underlying]), p.option.strike, t_years,
                                 md.risk_free.value, vol, p.option.right)
        assert p.price == pytest.approx(expected, abs=0.005 + 1e-9), p.symbol
        assert p.price > 0
        # the previous mark: the same model on the day before (its close, VIX, rate; T + 1 day)
        prev = md.prices.index[-2].date()
        before = md.prices.iloc[-2]
        vol_prev = float(md.vix.loc[md.prices.index[-2]]) / 100.0 * gen.IV_MULTIPLIER[
            p.option.underlying]
        rate_prev = gen.RF_ANNUAL[2020] / 100.0
        expected_prev = gen.bsm_price(float(before[p.option.underlying]), p.option.strike,
                                      (p.option.expiry - prev).days / 365.0, rate_prev, vol_prev,
                                      p.option.right)
        assert p.lastday_price == pytest.approx(expected_prev, abs=0.005 + 1e-9), p.symbol


# --------------------------------------------------------------------------------------------
# determinism, speed, size
# --------------------------------------------------------------------------------------------


def test_regeneration_matches_the_shipped_files(gen):
    files = gen.build()
    assert set(files) == {"market.csv.gz", "meta.json", "book.csv"}
    shipped = pd.read_csv(DATA_DIR / "market.csv.gz", index_col="date")
    fresh = pd.read_csv(io.BytesIO(files["market.csv.gz"]), compression="gzip", index_col="date")
    assert list(fresh.columns) == list(shipped.columns)
    assert list(fresh.index) == list(shipped.index)
    np.testing.assert_allclose(fresh.to_numpy(), shipped.to_numpy(), rtol=1e-9, atol=0, equal_nan=True)
    assert json.loads(files["meta.json"]) == json.loads((DATA_DIR / "meta.json").read_text())
    assert files["book.csv"].decode() == (DATA_DIR / "book.csv").read_text()


def test_serialisation_is_byte_identical(gen):
    frame, meta = gen.build_frame()
    rows, cash = gen.build_book(frame)
    first = gen.render(frame, meta, rows, cash)
    second = gen.render(frame, meta, rows, cash)
    assert first == second
    # the gzip header carries no time stamp (bytes 4-7 are MTIME)
    assert first["market.csv.gz"][4:8] == b"\x00\x00\x00\x00"
    assert gzip.decompress(first["market.csv.gz"]).startswith(b"date,SPY,QQQ,")


def test_load_is_fast():
    demo._frame.cache_clear()
    demo._meta.cache_clear()
    start = time.perf_counter()
    demo.demo_market_data()
    demo.demo_portfolio()
    elapsed = time.perf_counter() - start
    print(f"demo load (cold cache, pandas already imported): {elapsed * 1000:.1f} ms")
    assert elapsed < 0.5  # budget 100 ms; loose bound against a busy shared machine


def test_package_data_is_small():
    total = sum(f.stat().st_size for f in DATA_DIR.iterdir() if f.is_file())
    assert total < 2_000_000
