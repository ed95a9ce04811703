"""FRED rate and VIX through fredapi's real request/parse path, against a local fake FRED.

fredapi builds its URLs from ``Fred.root_url``; the code under test points it at
:class:`tests.fake_fred.FakeFred` (http.server on 127.0.0.1) answering FRED's XML. The
observation values are fixture values shaped like spring 2024 (DGS3MO about 5.45%, VIX about
12-19), not market history.
"""

from __future__ import annotations

import socket
import time
from datetime import date

import pandas as pd
import pytest

from fake_fred import FakeFred
from wsbrisk_tui.engine.sources.fred import fetch_fred_rate, fetch_fred_vix

KEY = "abcdef0123456789abcdef0123456789"  # FRED keys are 32 lower-case alphanumerics

DGS3MO = {
    date(2024, 5, 21): 5.46,
    date(2024, 5, 22): 5.46,
    date(2024, 5, 23): 5.47,
    date(2024, 5, 24): 5.45,
    date(2024, 5, 27): None,  # Memorial Day: FRED prints "."
    date(2024, 3, 1): 5.48,   # outside the 30-day lookback from 2024-05-28
}
VIXCLS = {
    date(2024, 5, 23): 12.77,
    date(2024, 5, 24): 11.93,
    date(2024, 5, 27): None,
    date(2024, 5, 28): 12.92,
}
TODAY = date(2024, 5, 28)


@pytest.fixture
def fred():
    with FakeFred({"DGS3MO": DGS3MO, "VIXCLS": VIXCLS, "EMPTY": {date(2024, 5, 27): None}}, api_key=KEY) as f:
        yield f


def test_percent_becomes_a_fraction_and_holidays_are_skipped(fred):
    rate = fetch_fred_rate(KEY, fallback_rate=0.04, root_url=fred.root_url, today=TODAY)
    # 5.45% -> 0.0545: one division by 100, exact to the last bit or two
    assert rate.value == pytest.approx(0.0545, rel=1e-15)
    assert rate.as_of == date(2024, 5, 24)  # 05-27 is "." and is skipped, not read as 0
    assert rate.source == "FRED DGS3MO 2024-05-24 (5.45%)"
    assert rate.assumed is False
    (q,) = fred.requests
    assert q["series_id"] == "DGS3MO"
    assert (q["observation_start"], q["observation_end"]) == ("2024-04-28", "2024-05-28")


def test_key_from_environment(fred, monkeypatch):
    monkeypatch.setenv("FRED_API_KEY", KEY)
    assert fetch_fred_rate(None, fallback_rate=0.04, root_url=fred.root_url, today=TODAY).assumed is False


def test_no_key_falls_back_marked_assumed(fred, monkeypatch):
    monkeypatch.delenv("FRED_API_KEY", raising=False)
    rate = fetch_fred_rate(None, fallback_rate=0.04, root_url=fred.root_url, today=TODAY)
    assert rate.value == 0.04 and rate.assumed is True and rate.as_of is None
    assert rate.source == "config 4.00% (assumed: FRED_API_KEY not set)"
    assert fred.requests == []


def test_offline_falls_back_without_a_request(fred):
    rate = fetch_fred_rate(KEY, fallback_rate=0.0425, offline=True, root_url=fred.root_url, today=TODAY)
    assert rate.source == "config 4.25% (assumed: offline)" and rate.assumed
    assert fred.requests == []


def test_timeout_falls_back_quickly():
    with FakeFred({"DGS3MO": DGS3MO}, api_key=KEY, delay_seconds=10.0) as slow:
        t0 = time.monotonic()
        rate = fetch_fred_rate(KEY, fallback_rate=0.04, timeout=0.3, root_url=slow.root_url, today=TODAY)
        elapsed = time.monotonic() - t0
    assert rate.assumed and rate.source == "config 4.00% (assumed: FRED did not answer within 0.3 s)"
    assert 0.3 <= elapsed < 2.0
    assert len(slow.requests) == 1


def test_bad_key_message_never_contains_the_key(fred):
    wrong = "0123456789abcdef0123456789abcdef"
    rate = fetch_fred_rate(wrong, fallback_rate=0.04, root_url=fred.root_url, today=TODAY)
    assert rate.assumed
    assert rate.source == ("config 4.00% (assumed: FRED refused the request: Bad Request. The value for "
                           "variable api_key is not registered. Read "
                           "https://fred.stlouisfed.org/docs/api/api_key.html for more information.)")
    assert wrong not in repr(rate)
    assert fred.requests[0]["api_key"] == wrong  # it was sent, and only sent


def test_unknown_series_and_empty_window(fred):
    rate = fetch_fred_rate(KEY, "NOPE", fallback_rate=0.04, root_url=fred.root_url, today=TODAY)
    assert rate.source == "config 4.00% (assumed: FRED refused the request: Bad Request. The series does not exist.)"
    rate = fetch_fred_rate(KEY, "EMPTY", fallback_rate=0.04, root_url=fred.root_url, today=TODAY)
    assert rate.source == "config 4.00% (assumed: FRED EMPTY has no observation in the 30 days to 2024-05-28)"


def test_unreachable_server_falls_back():
    with socket.socket() as s:  # a loopback port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    rate = fetch_fred_rate(KEY, fallback_rate=0.04, timeout=2.0, root_url=f"http://127.0.0.1:{port}/fred",
                           today=TODAY)
    assert rate.assumed and rate.source.startswith("config 4.00% (assumed: FRED unreachable (URLError: ")
    assert KEY not in rate.source


def test_vix_series_without_holidays(fred):
    vix, source = fetch_fred_vix(KEY, start=date(2024, 5, 1), root_url=fred.root_url, today=TODAY)
    assert source == "FRED VIXCLS 2024-05-23..2024-05-28"
    assert isinstance(vix.index, pd.DatetimeIndex) and vix.index.tz is None
    assert vix.index.is_monotonic_increasing
    assert vix.to_dict() == {pd.Timestamp("2024-05-23"): 12.77, pd.Timestamp("2024-05-24"): 11.93,
                             pd.Timestamp("2024-05-28"): 12.92}
    assert fred.requests[0]["observation_start"] == "2024-05-01"


def test_vix_unavailable_says_why(fred, monkeypatch):
    monkeypatch.delenv("FRED_API_KEY", raising=False)
    assert fetch_fred_vix(None, root_url=fred.root_url, today=TODAY) == (None, "n/a: FRED_API_KEY not set")
    assert fetch_fred_vix(KEY, offline=True, today=TODAY) == (None, "n/a: offline")
    vix, why = fetch_fred_vix("0" * 32, root_url=fred.root_url, today=TODAY)
    assert vix is None and why.startswith("n/a: FRED refused the request: Bad Request.")
