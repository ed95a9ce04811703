"""The risk-free rate and the VIX from FRED (Federal Reserve Bank of St. Louis) through fredapi.

Series
    * ``DGS3MO``: 3-month Treasury constant-maturity yield, in PERCENT per year (5.45 means
      5.45%). :func:`fetch_fred_rate` returns it as a fraction (0.0545). Any series quoted in
      percent per year works; ``DTB3`` is on a bank-discount basis and is not a yield, so it
      should not be used as-is.
    * ``VIXCLS``: CBOE Volatility Index, daily close, in index points.

How fredapi 0.5.2 behaves (read from its source)
    ``Fred(api_key=...)``; ``get_series(id, observation_start, observation_end)`` requests
    ``<root_url>/series/observations?series_id=..&observation_start=..&observation_end=..
    &api_key=..`` with no ``file_type``, so FRED answers XML (``<observations>`` of
    ``<observation date=".." value=".."/>``); a value of ``"."`` (a market holiday) becomes NaN.
    An HTTP error body (``<error code="400" message=".."/>``) becomes ``ValueError(message)``. The
    request is ``urllib.request.urlopen(url)`` WITHOUT a timeout, so it could hang forever: here it
    runs in a daemon thread and the caller waits at most ``timeout`` seconds on a
    :class:`concurrent.futures.Future` (a daemon thread, not a ``ThreadPoolExecutor``, because the
    executor's worker would keep the process from exiting while the request hangs).

Fallback
    Without a key, offline, on timeout or on any FRED/network error the rate is the config's
    ``fallback_rate`` and is marked assumed: ``Rate(0.04, "config 4.00% (assumed: FRED_API_KEY
    not set)", assumed=True)``. The VIX is then ``None`` with the reason. The key never appears in
    a message (it is scrubbed from any error text, because it travels in the URL).
"""

from __future__ import annotations

import http.client
import math
import os
import threading
import xml.etree.ElementTree as ET
from collections.abc import Callable
from concurrent.futures import Future
from datetime import date, timedelta
from typing import TYPE_CHECKING, TypeVar

from wsbrisk_tui.engine.model import Rate

if TYPE_CHECKING:
    import pandas as pd

T = TypeVar("T")

#: How far back the rate lookup reaches for the last valid observation (holidays, late prints).
RATE_LOOKBACK_DAYS = 30
#: Default VIX history when no start is given: five years of daily closes.
VIX_LOOKBACK_DAYS = 5 * 365


class _Unavailable(Exception):
    """FRED gave nothing usable; ``reason`` is safe to show (no key inside)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _call_with_deadline(fn: Callable[[], T], timeout: float) -> T:
    """Run ``fn`` in a daemon thread; wait at most ``timeout`` s (``TimeoutError`` after)."""
    future: Future[T] = Future()

    def run() -> None:
        if not future.set_running_or_notify_cancel():
            return
        try:
            future.set_result(fn())
        except BaseException as exc:  # handed to the caller through the future, re-raised there
            future.set_exception(exc)

    threading.Thread(target=run, name="fred-request", daemon=True).start()
    return future.result(timeout=timeout)


def _resolve_key(api_key: str | None) -> str | None:
    key = api_key if api_key is not None else os.environ.get("FRED_API_KEY")
    key = key.strip() if key else None
    return key or None


def _scrub(text: str, key: str) -> str:
    return " ".join(text.replace(key, "***").split())


def _observations(key: str, series: str, start: date, end: date, *, timeout: float,
                  root_url: str | None) -> "pd.Series":
    """The series' observations in ``[start, end]``, NaN (holidays) dropped, ascending."""
    import numpy as np
    import pandas as pd
    from fredapi import Fred

    fred = Fred(api_key=key)
    if root_url is not None:
        fred.root_url = root_url.rstrip("/")

    def fetch() -> "pd.Series":
        return fred.get_series(series, observation_start=start.isoformat(), observation_end=end.isoformat())

    try:
        raw = _call_with_deadline(fetch, timeout)
    except TimeoutError:  # before OSError: TimeoutError is one
        raise _Unavailable(f"FRED did not answer within {timeout:g} s") from None
    except ValueError as exc:  # fredapi's translation of FRED's error body, e.g. a bad key
        raise _Unavailable(f"FRED refused the request: {_scrub(str(exc), key)}") from None
    except ET.ParseError as exc:
        raise _Unavailable(f"FRED answered something that is not its XML ({_scrub(str(exc), key)})") from None
    except (OSError, http.client.HTTPException) as exc:
        raise _Unavailable(f"FRED unreachable ({type(exc).__name__}: {_scrub(str(exc), key)})") from None
    values = pd.Series(raw, dtype=float)
    values.index = pd.DatetimeIndex(pd.to_datetime(values.index)).as_unit("ns")
    values = values[np.isfinite(values.to_numpy())]  # '.' (holiday) became NaN: dropped, not filled
    return values.sort_index()


def fetch_fred_rate(api_key: str | None, series: str = "DGS3MO", *, fallback_rate: float,
                    timeout: float = 10.0, offline: bool = False, root_url: str | None = None,
                    today: date | None = None) -> Rate:
    """The risk-free rate as a fraction per year: the last valid ``series`` observation / 100.

    ``api_key`` ``None`` reads ``FRED_API_KEY`` from the environment. The lookup spans the
    ``RATE_LOOKBACK_DAYS`` days up to ``today``; holidays (NaN) are skipped. On any failure
    (see the module docstring) returns ``Rate(fallback_rate, "config X.XX% (assumed: <reason>)",
    assumed=True)``. ``fallback_rate`` is a fraction (0.04 = 4%).
    """
    if not math.isfinite(fallback_rate):
        raise ValueError(f"fallback_rate must be a finite fraction, got {fallback_rate!r}")
    today = today or date.today()

    def assumed(reason: str) -> Rate:
        return Rate(value=fallback_rate, source=f"config {fallback_rate * 100:.2f}% (assumed: {reason})",
                    assumed=True)

    key = _resolve_key(api_key)
    if offline:
        return assumed("offline")
    if key is None:
        return assumed("FRED_API_KEY not set")
    try:
        obs = _observations(key, series, today - timedelta(days=RATE_LOOKBACK_DAYS), today,
                            timeout=timeout, root_url=root_url)
    except _Unavailable as exc:
        return assumed(exc.reason)
    if obs.empty:
        return assumed(f"FRED {series} has no observation in the {RATE_LOOKBACK_DAYS} days to {today}")
    pct = float(obs.iloc[-1])
    as_of = obs.index[-1].date()
    return Rate(value=pct / 100.0, source=f"FRED {series} {as_of} ({pct:.2f}%)", as_of=as_of)


def fetch_fred_vix(api_key: str | None, *, start: date | None = None, end: date | None = None,
                   timeout: float = 10.0, offline: bool = False, root_url: str | None = None,
                   today: date | None = None) -> "tuple[pd.Series | None, str]":
    """Daily VIX closes (``VIXCLS``, index points) and where they came from.

    Returns ``(series, "FRED VIXCLS 2019-05-01..2024-05-10")`` with holidays dropped (never
    filled), or ``(None, "n/a: <reason>")``. ``start`` defaults to ``VIX_LOOKBACK_DAYS`` before
    ``end``; ``end`` to ``today``.
    """
    today = today or date.today()
    end = end or today
    start = start or end - timedelta(days=VIX_LOOKBACK_DAYS)
    key = _resolve_key(api_key)
    if offline:
        return None, "n/a: offline"
    if key is None:
        return None, "n/a: FRED_API_KEY not set"
    try:
        obs = _observations(key, "VIXCLS", start, end, timeout=timeout, root_url=root_url)
    except _Unavailable as exc:
        return None, f"n/a: {exc.reason}"
    if obs.empty:
        return None, f"n/a: FRED VIXCLS has no observation between {start} and {end}"
    obs.name = "VIX"
    obs.index.name = "date"
    return obs, f"FRED VIXCLS {obs.index[0].date()}..{obs.index[-1].date()}"
