"""Yahoo prices through the REAL yfinance 1.x code path, answered at the HTTP boundary.

The seam: ``yf.download(session=...)`` accepts a ``requests.Session`` (yfinance checks
``isinstance`` against curl_cffi's and requests' Session classes). The tests pass a genuine
``requests.Session`` with a transport adapter (:class:`FakeYahoo`, a
``requests.adapters.BaseAdapter``) mounted for ``https://``. Everything above the transport runs
for real: yfinance's cookie and crumb calls (``fc.yahoo.com``, ``/v1/test/getcrumb``), the
timezone probe and the history request to ``/v8/finance/chart/<ticker>`` with ``period1``/
``period2``, the JSON parsing, ``auto_adjust``, the MultiIndex frame of ``download()``, and our
session recorder. The adapter answers from recorded-layout chart JSON in
``tests/fixtures/market/`` (see ``make_yahoo_fixtures.py``), slicing the bars by
``period1``/``period2`` the way Yahoo does; an unknown ticker gets Yahoo's 404 error JSON; a
throttled ticker gets HTTP 429 with Yahoo's plain-text body.

Not HTTP but reset per test so every test sees the same requests: yfinance's persistent
timezone/cookie caches (replaced by yfinance's own dummy caches, so nothing is written to
~/.cache), its ``YfData`` singleton and its in-memory LRU of past-range responses.
"""

from __future__ import annotations

import json
import os
import re
import stat
from datetime import date, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest
import requests
from requests.adapters import BaseAdapter

from wsbrisk_tui.engine.sources.price_cache import PriceCache
from wsbrisk_tui.engine.sources.yahoo import PriceFetchError, fetch_yahoo_prices, yahoo_symbol
from wsbrisk_tui.errors import InputError

FIXTURES = Path(__file__).parent / "fixtures" / "market"
NY = ZoneInfo("America/New_York")
BOOK = ["SPY", "AAPL", "BRK.B"]


class FakeYahoo(BaseAdapter):
    """Answers yfinance's requests from the fixture files (see the module docstring)."""

    def __init__(self, *, rate_limit: dict[str, int] | None = None, unreachable: bool = False,
                 no_dividend_yet: frozenset[str] = frozenset()) -> None:
        super().__init__()
        self.rate_limit = dict(rate_limit or {})
        self.unreachable = unreachable
        self.no_dividend_yet = no_dividend_yet  # serve adjclose == close (dividend not yet known)
        self.log: list[tuple[str, str, dict[str, str]]] = []

    def send(self, request, **kwargs):
        url = urlsplit(request.url)
        params = {k: v[0] for k, v in parse_qs(url.query).items()}
        self.log.append((url.netloc, url.path, params))
        if self.unreachable:
            raise requests.exceptions.ConnectionError(f"Failed to resolve '{url.netloc}'")
        match = re.match(r"^/v8/finance/chart/(.+)$", url.path)
        if url.path.endswith("/v1/test/getcrumb"):
            return self._respond(request, 200, b"fixtureCrumb", "text/plain")
        if match is None:
            return self._respond(request, 404, b'{"finance":{"result":null,"error":{"code":"Not Found",'
                                               b'"description":"HTTP 404 Not Found"}}}')
        ticker = match.group(1)
        if self.rate_limit.get(ticker, 0) > 0:
            self.rate_limit[ticker] -= 1
            return self._respond(request, 429, (FIXTURES / "rate_limited_429.txt").read_bytes(), "text/plain")
        path = FIXTURES / f"chart_{ticker}.json"
        if not path.exists():
            return self._respond(request, 404, (FIXTURES / "chart_not_found.json").read_bytes())
        return self._respond(request, 200, json.dumps(self._slice(ticker, path, params)).encode())

    def _slice(self, ticker: str, path: Path, params: dict[str, str]) -> dict:
        body = json.loads(path.read_text())
        result = body["chart"]["result"][0]
        ts = result["timestamp"]
        if "period1" in params:
            keep = [i for i, t in enumerate(ts) if int(params["period1"]) <= t < int(params["period2"])]
        else:  # range=1d: the timezone probe gets the latest bar
            keep = [len(ts) - 1]
        result["timestamp"] = [ts[i] for i in keep]
        quote = result["indicators"]["quote"][0]
        for k in quote:
            quote[k] = [quote[k][i] for i in keep]
        adj = result["indicators"]["adjclose"][0]
        source = quote["close"] if ticker in self.no_dividend_yet else [adj["adjclose"][i] for i in keep]
        adj["adjclose"] = list(source)
        if ticker in self.no_dividend_yet:
            result.pop("events", None)
        return body

    @staticmethod
    def _respond(request, status: int, body: bytes, content_type: str = "application/json"):
        r = requests.Response()
        r.status_code = status
        r._content = body
        r.url = request.url
        r.request = request
        r.encoding = "utf-8"
        r.headers["Content-Type"] = content_type
        return r

    def close(self) -> None:
        pass

    def data_requests(self, ticker: str | None = None) -> list[tuple[str, date, date]]:
        """History requests as (ticker, first day, day after last) in New York dates."""
        out = []
        for _, path, params in self.log:
            m = re.match(r"^/v8/finance/chart/(.+)$", path)
            if m and "period1" in params and (ticker is None or m.group(1) == ticker):
                out.append((m.group(1), datetime.fromtimestamp(int(params["period1"]), NY).date(),
                            datetime.fromtimestamp(int(params["period2"]), NY).date()))
        return sorted(out)


def session_for(fake: FakeYahoo) -> requests.Session:
    s = requests.Session()
    s.mount("https://", fake)
    s.mount("http://", fake)
    return s


@pytest.fixture(autouse=True)
def fresh_yfinance(monkeypatch):
    import yfinance.cache as yf_cache
    import yfinance.data as yf_data

    monkeypatch.setattr(yf_cache._TzCacheManager, "_tz_cache", yf_cache._TzCacheDummy())
    monkeypatch.setattr(yf_cache._CookieCacheManager, "_Cookie_cache", yf_cache._CookieCacheDummy())
    yf_data.SingletonMeta._instances.pop(yf_data.YfData, None)
    yf_data.YfData.cache_get.cache_clear()
    yield
    yf_data.SingletonMeta._instances.pop(yf_data.YfData, None)
    yf_data.YfData.cache_get.cache_clear()


def fixture_adjclose(ticker: str) -> pd.Series:
    """The fixture's own adjusted closes, read straight from the JSON (independent of yfinance)."""
    result = json.loads((FIXTURES / f"chart_{ticker}.json").read_text())["chart"]["result"][0]
    days = [datetime.fromtimestamp(t, NY).date() for t in result["timestamp"]]
    return pd.Series(result["indicators"]["adjclose"][0]["adjclose"], index=pd.to_datetime(days), dtype=float)


def fixture_close(ticker: str) -> pd.Series:
    result = json.loads((FIXTURES / f"chart_{ticker}.json").read_text())["chart"]["result"][0]
    days = [datetime.fromtimestamp(t, NY).date() for t in result["timestamp"]]
    return pd.Series(result["indicators"]["quote"][0]["close"], index=pd.to_datetime(days), dtype=float)


def no_sleep(seconds: float) -> None:
    raise AssertionError(f"unexpected back-off sleep({seconds})")


# ------------------------------------------------------------------------------------ symbols


@pytest.mark.parametrize("symbol,kw,expected", [
    ("BRK.B", {}, "BRK-B"),
    (" brk.b ", {}, "BRK-B"),
    ("SPY", {}, "SPY"),
    ("BTCUSD", {"is_crypto": True}, "BTC-USD"),
    ("BTC/USD", {"is_crypto": True}, "BTC-USD"),
    ("btc-usd", {"is_crypto": True}, "BTC-USD"),
    ("ETHUSD", {"is_crypto": True}, "ETH-USD"),
    ("SOL/USD", {"is_crypto": True}, "SOL-USD"),
    ("DOGEUSD", {"is_crypto": True}, "DOGE-USD"),
    ("LTCUSD", {"is_crypto": True}, "LTC-USD"),
    ("USDTUSD", {"is_crypto": True}, "USDT-USD"),
    ("BTCUSDT", {"is_crypto": True}, "BTC-USDT"),
    ("ETH", {"is_crypto": True}, "ETH-USD"),
    ("VOD.L", {"symbol_map": {"VOD.L": "VOD.L"}}, "VOD.L"),
    ("spx", {"symbol_map": {"SPX": "^gspc"}}, "^GSPC"),
])
def test_yahoo_symbol(symbol, kw, expected):
    assert yahoo_symbol(symbol, **kw) == expected


def test_empty_symbol_is_an_input_error():
    with pytest.raises(InputError, match="empty symbol"):
        yahoo_symbol("  ")


# ------------------------------------------------------------------------------------ fetching


def test_multiindex_close_is_the_adjusted_close_and_columns_are_book_symbols():
    fake = FakeYahoo()
    md = fetch_yahoo_prices(BOOK, "2024-04-01", "2024-05-10", cache=None, session=session_for(fake),
                            today=date(2024, 5, 13), sleep=no_sleep)
    assert md.symbols == ["SPY", "AAPL", "BRK.B"]
    assert isinstance(md.prices.index, pd.DatetimeIndex) and md.prices.index.tz is None
    assert md.prices.index.is_monotonic_increasing and md.prices.index.is_unique
    assert len(md.prices) == 30
    assert md.prices.index[0] == pd.Timestamp("2024-04-01") and md.prices.index[-1] == pd.Timestamp("2024-05-10")
    # Values: exactly the fixture's adjclose (yfinance computes Close * (Adj Close / Close); 1e-12
    # relative covers that one multiply-divide round trip).
    for sym, ticker in (("SPY", "SPY"), ("AAPL", "AAPL"), ("BRK.B", "BRK-B")):
        np.testing.assert_allclose(md.prices[sym].to_numpy(), fixture_adjclose(ticker).to_numpy(), rtol=1e-12)
    # AAPL's $0.25 dividend (ex 2024-05-10): before the ex-date the adjusted close is the raw close
    # times 1 - 0.25 / close(2024-05-09), computed here from the raw closes, not from adjclose.
    raw = fixture_close("AAPL")
    factor = 1 - 0.25 / raw.loc["2024-05-09"]
    assert md.prices.loc["2024-05-08", "AAPL"] == pytest.approx(raw.loc["2024-05-08"] * factor, rel=1e-9)
    assert md.prices.loc["2024-05-08", "AAPL"] != pytest.approx(raw.loc["2024-05-08"], rel=1e-4)
    assert md.prices.loc["2024-05-10", "AAPL"] == raw.loc["2024-05-10"]
    # BRK.B went to Yahoo as BRK-B
    assert {t for t, _, _ in fake.data_requests()} == {"SPY", "AAPL", "BRK-B"}
    assert md.series_notes == {"SPY": "yfinance SPY adjusted close (auto_adjust)",
                               "AAPL": "yfinance AAPL adjusted close (auto_adjust)",
                               "BRK.B": "yfinance BRK-B adjusted close (auto_adjust)"}
    assert md.source == "yfinance"
    assert md.as_of == date(2024, 5, 10)
    assert not md.stale and md.stale_reason is None
    assert md.fetched_at is not None and md.notes == ()


def test_range_ends_at_last_completed_session():
    fake = FakeYahoo()
    # Wednesday 2024-04-17: the last final close is Tuesday's, even though end is later.
    md = fetch_yahoo_prices(["SPY"], "2024-04-01", "2024-05-10", cache=None, session=session_for(fake),
                            today=date(2024, 4, 17), sleep=no_sleep)
    assert md.as_of == date(2024, 4, 16)
    assert fake.data_requests() == [("SPY", date(2024, 4, 1), date(2024, 4, 17))]


def test_failed_ticker_is_left_out_and_named():
    fake = FakeYahoo()
    md = fetch_yahoo_prices(["SPY", "ZZZZ"], "2024-04-01", "2024-05-10", cache=None,
                            session=session_for(fake), today=date(2024, 5, 13), sleep=no_sleep)
    assert md.symbols == ["SPY"]
    assert md.notes == ("ZZZZ (Yahoo ZZZZ): n/a: Yahoo: No data found, symbol may be delisted",)
    assert md.series_notes["ZZZZ"] == "n/a: yfinance ZZZZ: Yahoo: No data found, symbol may be delisted"
    assert not md.stale


def test_every_ticker_failing_is_one_error_naming_them():
    fake = FakeYahoo()
    with pytest.raises(PriceFetchError) as info:
        fetch_yahoo_prices(["ZZZZ", "QQQQ.U"], "2024-04-01", "2024-05-10", cache=None,
                           session=session_for(fake), today=date(2024, 5, 13), sleep=no_sleep)
    err = info.value
    assert err.exit_code == 2
    assert err.problems == ["ZZZZ (Yahoo ZZZZ): Yahoo: No data found, symbol may be delisted",
                            "QQQQ.U (Yahoo QQQQ-U): Yahoo: No data found, symbol may be delisted"]
    assert "map them to Yahoo tickers in the config, or pass --prices FILE" in err.message


# ------------------------------------------------------------------------------------ cache


def test_cache_fetches_only_missing_dates(tmp_path):
    cache = PriceCache(tmp_path / "prices.sqlite")
    assert stat.S_IMODE(os.stat(cache.path).st_mode) == 0o600

    first = FakeYahoo()
    md1 = fetch_yahoo_prices(BOOK, "2024-04-01", "2024-05-10", cache=cache, session=session_for(first),
                             today=date(2024, 4, 22), sleep=no_sleep)  # Monday: last close Fri 04-19
    assert first.data_requests() == [(t, date(2024, 4, 1), date(2024, 4, 20)) for t in ("AAPL", "BRK-B", "SPY")]
    assert md1.as_of == date(2024, 4, 19)

    again = FakeYahoo()
    md2 = fetch_yahoo_prices(BOOK, "2024-04-01", "2024-05-10", cache=cache, session=session_for(again),
                             today=date(2024, 4, 22), sleep=no_sleep)
    assert again.log == []  # covered: not one request
    pd.testing.assert_frame_equal(md2.prices, md1.prices)
    assert md2.series_notes["BRK.B"] == "yfinance BRK-B adjusted close (auto_adjust), cached"

    later = FakeYahoo()
    md3 = fetch_yahoo_prices(BOOK, "2024-04-01", "2024-05-10", cache=cache, session=session_for(later),
                             today=date(2024, 5, 13), sleep=no_sleep)
    # one batch for the three tickers, from the last cached day (the overlap check) to Friday 05-10
    assert later.data_requests() == [(t, date(2024, 4, 19), date(2024, 5, 11)) for t in ("AAPL", "BRK-B", "SPY")]
    assert len(md3.prices) == 30 and md3.as_of == date(2024, 5, 10)
    np.testing.assert_allclose(md3.prices["SPY"].to_numpy(), fixture_adjclose("SPY").to_numpy(), rtol=1e-12)
    assert md3.series_notes["SPY"] == "yfinance SPY adjusted close (auto_adjust)"


def test_readjusted_history_is_refetched_whole(tmp_path):
    cache = PriceCache(tmp_path / "prices.sqlite")
    before = FakeYahoo(no_dividend_yet=frozenset({"AAPL"}))
    fetch_yahoo_prices(["AAPL", "SPY"], "2024-04-01", "2024-05-10", cache=cache, session=session_for(before),
                       today=date(2024, 4, 22), sleep=no_sleep)
    after = FakeYahoo()
    md = fetch_yahoo_prices(["AAPL", "SPY"], "2024-04-01", "2024-05-10", cache=cache, session=session_for(after),
                            today=date(2024, 5, 13), sleep=no_sleep)
    # AAPL's 04-19 adjusted close moved (the May dividend re-based it): its whole range again
    assert after.data_requests("AAPL") == [("AAPL", date(2024, 4, 1), date(2024, 5, 11)),
                                           ("AAPL", date(2024, 4, 19), date(2024, 5, 11))]
    assert after.data_requests("SPY") == [("SPY", date(2024, 4, 19), date(2024, 5, 11))]
    # every AAPL close is now on the new basis: no dividend-sized jump spliced into the returns
    np.testing.assert_allclose(md.prices["AAPL"].to_numpy(), fixture_adjclose("AAPL").to_numpy(), rtol=1e-12)
    assert any("AAPL: adjusted history changed" in n for n in md.notes)


def test_offline_serves_the_cache_marked_stale_with_its_age(tmp_path):
    cache = PriceCache(tmp_path / "prices.sqlite")
    fetch_yahoo_prices(BOOK, "2024-04-01", "2024-05-10", cache=cache, session=session_for(FakeYahoo()),
                       today=date(2024, 4, 22), sleep=no_sleep)
    fake = FakeYahoo()
    md = fetch_yahoo_prices(BOOK, "2024-04-01", "2024-05-10", cache=cache, session=session_for(fake),
                            offline=True, today=date(2024, 4, 25), sleep=no_sleep)
    assert fake.log == []
    assert md.stale and md.stale_reason == "offline: cached prices from 2024-04-19 (6 days old)"
    assert md.as_of == date(2024, 4, 19) and len(md.prices) == 15
    assert md.source == "yfinance cache"
    assert md.series_notes["AAPL"] == "yfinance AAPL adjusted close (auto_adjust), cached"
    assert md.fetched_at is not None


def test_offline_symbol_missing_from_cache_is_na_not_an_error(tmp_path):
    cache = PriceCache(tmp_path / "prices.sqlite")
    fetch_yahoo_prices(["SPY"], "2024-04-01", "2024-05-10", cache=cache, session=session_for(FakeYahoo()),
                       today=date(2024, 4, 22), sleep=no_sleep)
    md = fetch_yahoo_prices(["SPY", "TSLA"], "2024-04-01", "2024-05-10", cache=cache, offline=True,
                            today=date(2024, 4, 22), sleep=no_sleep)
    assert md.symbols == ["SPY"]
    assert md.notes == ("TSLA (Yahoo TSLA): n/a: offline: no cached prices between 2024-04-01 and 2024-05-10",)
    assert md.series_notes["TSLA"].startswith("n/a: yfinance TSLA: offline")


def test_offline_without_cache_says_what_to_do(tmp_path):
    with pytest.raises(PriceFetchError) as info:
        fetch_yahoo_prices(["SPY", "BRK.B"], "2024-04-01", "2024-05-10", cache=None, offline=True,
                           today=date(2024, 4, 25), sleep=no_sleep)
    assert str(info.value) == ("offline: no cached prices for SPY (Yahoo SPY), BRK.B (Yahoo BRK-B); "
                               "run once online or pass --prices FILE")
    with pytest.raises(PriceFetchError, match="no cached prices for SPY"):
        fetch_yahoo_prices(["SPY"], "2024-04-01", "2024-05-10", cache=PriceCache(tmp_path / "c.sqlite"),
                           offline=True, today=date(2024, 4, 25), sleep=no_sleep)


def test_network_failure_falls_back_to_the_cache(tmp_path):
    cache = PriceCache(tmp_path / "prices.sqlite")
    fetch_yahoo_prices(BOOK, "2024-04-01", "2024-05-10", cache=cache, session=session_for(FakeYahoo()),
                       today=date(2024, 4, 22), sleep=no_sleep)
    down = FakeYahoo(unreachable=True)
    md = fetch_yahoo_prices(BOOK, "2024-04-01", "2024-05-10", cache=cache, session=session_for(down),
                            today=date(2024, 5, 13), sleep=no_sleep)
    assert down.log  # it did try
    assert md.stale and md.as_of == date(2024, 4, 19)
    assert md.stale_reason.startswith("Yahoo unreachable (ConnectionError: Failed to resolve")
    assert ("cached prices for SPY (Yahoo SPY), AAPL (Yahoo AAPL), BRK.B (Yahoo BRK-B) "
            "from 2024-04-19 (24 days old); last price 2024-04-19 is 16 business days old") in md.stale_reason


def test_network_failure_without_cache_is_one_clear_error():
    with pytest.raises(PriceFetchError) as info:
        fetch_yahoo_prices(["SPY"], "2024-04-01", "2024-05-10", cache=None,
                           session=session_for(FakeYahoo(unreachable=True)), today=date(2024, 5, 13),
                           sleep=no_sleep)
    msg = info.value.message
    assert msg.startswith("Yahoo unreachable (ConnectionError: ")
    assert msg.endswith("for SPY (Yahoo SPY); check the connection, use --offline to work from cached prices, "
                        "or pass --prices FILE")


# ------------------------------------------------------------------------------------ rate limit


def test_rate_limit_is_retried_with_backoff_then_succeeds():
    # yfinance answers a 4xx by retrying once with its other cookie strategy, so two 429s make
    # exactly one failed download() attempt for SPY.
    fake = FakeYahoo(rate_limit={"SPY": 2})
    sleeps: list[float] = []
    md = fetch_yahoo_prices(BOOK, "2024-04-01", "2024-05-10", cache=None, session=session_for(fake),
                            today=date(2024, 5, 13), sleep=sleeps.append, backoff_seconds=1.5)
    assert sleeps == [1.5]
    assert md.symbols == BOOK
    np.testing.assert_allclose(md.prices["SPY"].to_numpy(), fixture_adjclose("SPY").to_numpy(), rtol=1e-12)
    assert md.notes == ("Yahoo rate limit (HTTP 429): SPY succeeded after 1 retry",)
    # the retry asked for SPY alone
    assert [t for t, _, _ in fake.data_requests()].count("SPY") == 1


def test_rate_limit_that_never_lifts_fails_with_a_message():
    fake = FakeYahoo(rate_limit={"SPY": 10**6, "AAPL": 10**6})
    sleeps: list[float] = []
    with pytest.raises(PriceFetchError) as info:
        fetch_yahoo_prices(["SPY", "AAPL"], "2024-04-01", "2024-05-10", cache=None, session=session_for(fake),
                           today=date(2024, 5, 13), sleep=sleeps.append, max_retries=3)
    assert sleeps == [1.0, 2.0, 4.0]
    assert info.value.message == ("Yahoo rate limit (HTTP 429) after 3 retries for SPY (Yahoo SPY), "
                                  "AAPL (Yahoo AAPL); wait a few minutes and try again, or pass --prices FILE")


# ------------------------------------------------------------------------------------ cache file


def test_corrupt_cache_names_the_path_and_is_left_untouched(tmp_path):
    path = tmp_path / "prices.sqlite"
    garbage = b"this is not an SQLite database\n" * 200
    path.write_bytes(garbage)
    with pytest.raises(InputError) as info:
        PriceCache(path)
    assert str(info.value).startswith(f"{path}: is not a usable price cache (")
    assert str(info.value).endswith("(delete it; it is rebuilt from Yahoo on the next online run)")
    assert path.read_bytes() == garbage


def test_other_database_and_newer_schema_are_refused(tmp_path):
    import sqlite3

    other = tmp_path / "other.sqlite"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE notes (x TEXT)")
    before = other.read_bytes()
    with pytest.raises(InputError, match="another program's database: tables notes"):
        PriceCache(other)
    assert other.read_bytes() == before

    newer = tmp_path / "newer.sqlite"
    PriceCache(newer)
    with sqlite3.connect(newer) as conn:
        conn.execute("UPDATE schema_version SET version = 99")
    with pytest.raises(InputError, match=r"written by a newer wsbrisk-tui \(schema 99, this version reads 1\)"):
        PriceCache(newer)


def test_cache_coverage_merges_across_weekends(tmp_path):
    cache = PriceCache(tmp_path / "c.sqlite")
    s = pd.Series([1.0], index=pd.to_datetime(["2024-04-05"]))
    cache.store({"X": s}, {"X": (date(2024, 4, 1), date(2024, 4, 5))})       # Mon..Fri
    cache.store({}, {"X": (date(2024, 4, 8), date(2024, 4, 12))})            # next Mon..Fri
    cache.store({}, {"X": (date(2024, 4, 17), date(2024, 4, 19))})           # a gap before
    assert cache.coverage(["X", "Y"]) == {"X": [(date(2024, 4, 1), date(2024, 4, 12)),
                                                (date(2024, 4, 17), date(2024, 4, 19))], "Y": []}
    with pytest.raises(ValueError, match="positive and finite"):
        cache.store({"X": pd.Series([0.0], index=pd.to_datetime(["2024-04-08"]))}, {})
