"""Daily adjusted closes from Yahoo Finance (yfinance 1.x), with a local cache and an offline mode.

What is fetched
    ``yf.download(tickers, start, end + 1 day, interval="1d", auto_adjust=True, actions=False,
    group_by="column", multi_level_index=True, threads=False, progress=False, timeout, session)``.
    The columns are a MultiIndex ``(Price, Ticker)``, field first; with ``auto_adjust=True``
    ``Close`` IS the adjusted close (yfinance multiplies by ``Adj Close / Close``; there is no
    ``Adj Close`` column). The range ends at the last *completed* session: the business day before
    ``today`` (the calendar day before for crypto), capped at ``end``; today's live bar is never
    requested, so a provisional price is never cached as a close.

Symbols
    The frame's columns are the BOOK's symbols (``BRK.B``); :func:`yahoo_symbol` maps them to
    Yahoo tickers (``BRK-B``, ``BTC-USD``). The cache is keyed by Yahoo ticker.

Failed tickers
    ``download()`` never raises for a ticker: it logs the error and returns all-NaN columns. So this
    module watches the HTTP exchanges itself (it wraps the session's ``get``/``post`` for the
    duration of the call) and classifies each empty ticker: HTTP 429 -> rate limited; a transport
    exception -> network failure; a 4xx / ``chart.error`` answer -> Yahoo's own description
    (``"No data found, symbol may be delisted"``). Rate-limited tickers are retried with
    exponential back-off (``backoff_seconds * 2**k``, ``max_retries`` times).

    A symbol with no prices is LEFT OUT of ``prices``; ``notes`` says ``"<SYM> (Yahoo <T>): n/a:
    <reason>"`` and ``series_notes[SYM]`` starts with ``"n/a: "``, so the pipeline reports that
    position as n/a with the reason. When no symbol has any price,
    :class:`PriceFetchError` names every one (book symbol and Yahoo ticker) and what to do.

Cache (:class:`~.price_cache.PriceCache`)
    Per ticker: if the fetched ranges already cover ``[start, last completed session]`` nothing is
    fetched. Otherwise the fetch starts at the last cached price date inside the covered range
    (one overlapping day) and ends at the last completed session; tickers sharing a range go in
    one ``download()`` call. The overlapping day is compared with the cache: when Yahoo's adjusted
    close for it moved by more than ``1e-6`` relative, a dividend or split has re-based the whole
    adjusted history, so that ticker's full range is fetched again and its cached rows replaced
    (mixing two adjustment bases would put the dividend into the returns). All writes of one call
    happen in one transaction.

Offline and failures
    ``offline=True``: cached prices only, ``stale=True``, ``stale_reason = "offline: cached prices
    from 2024-05-01 (3 days old)"``. When Yahoo cannot be reached, rate-limits beyond the retries,
    or has nothing for a ticker the cache knows, the cached prices are served the same way, the
    reason naming the failure. Without a cache entry: n/a (or :class:`PriceFetchError` when that
    leaves nothing).

Side effects contained during the call: yfinance's log records (``"1 Failed download: ..."``)
are captured instead of reaching stderr (they would tear a TUI screen; their content is in
``notes``), and the pandas deprecation warnings raised inside yfinance are silenced.
yfinance's own cookie/crumb requests use its internal 30 s timeout, not ``timeout``.
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import unquote, urlsplit

from wsbrisk_tui.engine.model import MarketData
from wsbrisk_tui.engine.sources.prices_csv import stale_reason
from wsbrisk_tui.errors import InputError

if TYPE_CHECKING:
    import pandas as pd

    from wsbrisk_tui.engine.sources.price_cache import PriceCache

#: Quote currencies recognised at the end of an unseparated crypto pair such as ``BTCUSD``
#: (longest first, so ``USDT`` wins over ``USD``).
CRYPTO_QUOTES: tuple[str, ...] = ("USDT", "USDC", "USD", "EUR", "GBP", "JPY", "BTC", "ETH")
#: Relative change of the overlapping day's adjusted close that means "history was re-adjusted".
READJUST_TOLERANCE = 1e-6

Kind = Literal["ok", "rate_limited", "network", "not_found", "no_data"]


class PriceFetchError(InputError):
    """Yahoo gave no usable price for any requested symbol and no cache could stand in."""


def yahoo_symbol(symbol: str, symbol_map: Mapping[str, str] | None = None, *,
                 is_crypto: bool = False) -> str:
    """The Yahoo Finance ticker for a book symbol.

    1. ``symbol_map`` (the config's explicit mapping) wins, looked up as written and upper-cased.
    2. Crypto (``is_crypto=True``): ``BTCUSD``, ``BTC/USD``, ``btc-usd`` -> ``BTC-USD``; a bare
       ``BTC`` -> ``BTC-USD``.
    3. Otherwise dots become dashes for US share classes: ``BRK.B`` -> ``BRK-B``. Non-US listings
       that use a dot suffix on Yahoo (``VOD.L``) must be mapped explicitly.

    Whitespace is stripped and the result upper-cased.
    """
    s = symbol.strip()
    if not s:
        raise InputError("an empty symbol cannot be looked up on Yahoo (check the book's symbol column)")
    if symbol_map:
        for key in (s, s.upper()):
            if key in symbol_map:
                return symbol_map[key].strip().upper()
    u = s.upper().replace(" ", "")
    if is_crypto:
        for sep in ("/", "-"):
            if sep in u:
                base, _, quote = u.partition(sep)
                return f"{base}-{quote}"
        for quote in CRYPTO_QUOTES:
            if u.endswith(quote) and len(u) > len(quote):
                return f"{u[:-len(quote)]}-{quote}"
        return f"{u}-USD"
    return u.replace(".", "-")


# --------------------------------------------------------------------------------------------
# One download() call, observed at the HTTP layer
# --------------------------------------------------------------------------------------------


@dataclass
class _Exchange:
    url: str
    ticker: str | None  # set for /v8/finance/chart/<ticker>
    status: int | None = None
    yahoo_error: str | None = None
    exception: BaseException | None = None


@dataclass
class _Outcome:
    kind: Kind
    reason: str = ""
    series: "pd.Series | None" = None


@dataclass
class _Recorder:
    """Wraps ``session.get``/``session.post`` to record every exchange; restored on exit."""

    session: Any
    exchanges: list[_Exchange] = field(default_factory=list)
    _saved: dict[str, Any] = field(default_factory=dict)

    def __enter__(self) -> "_Recorder":
        for name in ("get", "post"):
            self._saved[name] = self.session.__dict__.get(name)
            setattr(self.session, name, self._wrap(getattr(self.session, name)))
        return self

    def __exit__(self, *exc: object) -> None:
        for name, previous in self._saved.items():
            if previous is None:
                delattr(self.session, name)
            else:
                setattr(self.session, name, previous)

    def _wrap(self, method: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            url = str(kwargs.get("url", args[0] if args else ""))
            ex = _Exchange(url=url, ticker=_chart_ticker(url))
            self.exchanges.append(ex)
            try:
                response = method(*args, **kwargs)
            except Exception as exc:  # recorded to classify the ticker, then re-raised unchanged
                ex.exception = exc
                raise
            ex.status = int(response.status_code)
            if ex.ticker is not None and ex.status >= 400:
                ex.yahoo_error = _yahoo_error(response)
            return response
        return call


def _chart_ticker(url: str) -> str | None:
    path = urlsplit(url).path
    marker = "/v8/finance/chart/"
    return unquote(path.split(marker, 1)[1]).upper() if marker in path else None


def _yahoo_error(response: Any) -> str | None:
    try:
        body = response.json()
    except ValueError:  # Yahoo's edge answers some errors with plain text
        return None
    err = (body.get("chart") or {}).get("error") if isinstance(body, dict) else None
    if isinstance(err, dict):
        return str(err.get("description") or err.get("code") or "")
    return None


class _LogCapture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage().strip())


def _new_session() -> Any:
    try:  # the session yf.download() would build itself (curl_cffi, Chrome impersonation)
        from yfinance._http import new_session
    except ImportError:
        from curl_cffi import requests as curl_requests

        return curl_requests.Session(impersonate="chrome")
    return new_session()


def _download_once(tickers: list[str], first: date, last: date, *, session: Any,
                   timeout: float) -> dict[str, _Outcome]:
    """One ``yf.download`` for ``tickers`` over ``[first, last]`` (inclusive), classified per ticker."""
    import pandas as pd
    import yfinance as yf

    own = session is None
    sess = _new_session() if own else session
    yf_logger = logging.getLogger("yfinance")
    capture = _LogCapture()
    propagate = yf_logger.propagate
    yf_logger.addHandler(capture)
    yf_logger.propagate = False
    try:
        with _Recorder(sess) as recorder, warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            warnings.simplefilter("ignore", FutureWarning)
            data = yf.download(
                tickers, start=first.isoformat(), end=(last + timedelta(days=1)).isoformat(),
                interval="1d", auto_adjust=True, actions=False, group_by="column",
                multi_level_index=True, threads=False, timeout=timeout, progress=False,
                session=sess, repair=False, keepna=False,
            )
    finally:
        yf_logger.removeHandler(capture)
        yf_logger.propagate = propagate
        if own:
            sess.close()

    close = None
    if data is not None and not data.empty and isinstance(data.columns, pd.MultiIndex) \
            and "Close" in data.columns.get_level_values(0):
        close = data["Close"]
    outcomes: dict[str, _Outcome] = {}
    for t in tickers:
        series = None
        if close is not None and t in close.columns:
            series = _clean_series(close[t], first, last)
        if series is not None and len(series):
            outcomes[t] = _Outcome("ok", series=series)
        else:
            outcomes[t] = _classify(t, first, last, recorder.exchanges, capture.messages)
    return outcomes


def _clean_series(raw: "pd.Series", first: date, last: date) -> "pd.Series":
    import numpy as np
    import pandas as pd

    s = raw.astype(float)
    idx = pd.DatetimeIndex(s.index)
    if idx.tz is not None:
        idx = idx.tz_localize(None)
    s.index = idx.normalize().as_unit("ns")
    s = s[(s.index >= pd.Timestamp(first)) & (s.index <= pd.Timestamp(last))]
    values = s.to_numpy()
    # NaN rows are days this ticker did not trade (another ticker did); a non-positive or infinite
    # close is bad data: neither is an observation, neither is filled.
    keep = np.isfinite(values) & (values > 0)
    s = s[keep]
    return s[~s.index.duplicated(keep="last")].sort_index()


def _classify(ticker: str, first: date, last: date, exchanges: list[_Exchange],
              log_messages: list[str]) -> _Outcome:
    mine = [e for e in exchanges if e.ticker == ticker]
    if any(e.status == 429 for e in mine):
        return _Outcome("rate_limited", "Yahoo rate limit (HTTP 429)")
    failed = [e for e in mine if e.exception is not None]
    if not mine:
        failed = [e for e in exchanges if e.exception is not None]
    if failed:
        exc = failed[-1].exception
        return _Outcome("network", f"Yahoo unreachable ({type(exc).__name__}: {_short(str(exc))})")
    errors = [e for e in mine if e.yahoo_error or (e.status is not None and e.status >= 400)]
    if errors:
        e = errors[-1]
        return _Outcome("not_found", f"Yahoo: {e.yahoo_error or f'HTTP {e.status}'}")
    logged = [m for m in log_messages if ticker in m and "Failed download" not in m]
    detail = f" ({_short(logged[-1])})" if logged else ""
    return _Outcome("no_data", f"Yahoo returned no prices for {first.isoformat()}..{last.isoformat()}{detail}")


def _short(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


# --------------------------------------------------------------------------------------------
# The source
# --------------------------------------------------------------------------------------------


def _as_date(value: date | datetime | str) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if hasattr(value, "date") and callable(value.date):  # pandas Timestamp
        return value.date()
    return date.fromisoformat(str(value))


def last_completed_session(today: date, *, crypto: bool = False) -> date:
    """The last day whose close is final: the business day (Mon-Fri) before ``today``, or the
    calendar day before for crypto (24/7)."""
    import numpy as np

    if crypto:
        return today - timedelta(days=1)
    return np.busday_offset(today, -1, roll="forward").astype(date)


@dataclass
class _Plan:
    first: date
    last: date
    check_day: date | None  # overlapping cached day, compared to detect re-adjustment


def fetch_yahoo_prices(
    symbols: Sequence[str],
    start: date | datetime | str,
    end: date | datetime | str,
    *,
    cache: "PriceCache | None",
    offline: bool = False,
    timeout: float = 10.0,
    session: Any = None,
    max_retries: int = 3,
    backoff_seconds: float = 1.0,
    today: date | None = None,
    stale_after_days: int | None = 3,
    sleep: Callable[[float], None] = time.sleep,
    symbol_map: Mapping[str, str] | None = None,
    crypto: Collection[str] = (),
) -> MarketData:
    """Daily adjusted closes of ``symbols`` (book symbols) for ``start..end`` (both inclusive).

    See the module docstring for the cache, failure, retry and offline rules. ``crypto`` names
    the book symbols that are crypto pairs (mapped to ``BASE-USD``, e.g. ``BTC-USD``, calendar-day sessions).
    ``today`` (default: the local date) fixes "now" for staleness and the last completed session;
    ``sleep`` is the back-off wait (injected by tests).
    """

    book = list(dict.fromkeys(s.strip() for s in symbols))
    if not book:
        raise InputError("no symbols to fetch prices for (the book is empty)")
    start_d, end_d = _as_date(start), _as_date(end)
    if end_d < start_d:
        raise InputError(f"price history: end {end_d} is before start {start_d}")
    today = today or date.today()
    crypto_set = {c.strip() for c in crypto}
    ticker_of = {s: yahoo_symbol(s, symbol_map, is_crypto=s in crypto_set) for s in book}
    tickers = list(dict.fromkeys(ticker_of.values()))
    is_crypto_ticker = {t: any(ticker_of[s] == t and s in crypto_set for s in book) for t in tickers}
    last_needed = {t: min(end_d, last_completed_session(today, crypto=is_crypto_ticker[t])) for t in tickers}

    if offline:
        return _from_cache_only(book, ticker_of, cache, start_d, end_d, today, stale_after_days,
                                why="offline")

    notes: list[str] = []
    outcomes: dict[str, _Outcome] = {}
    status: dict[str, str] = {}  # ticker -> "cached" | "fetched" | "fallback"
    plans: dict[str, _Plan] = {}
    for t in tickers:
        if last_needed[t] < start_d:
            outcomes[t] = _Outcome("no_data", f"no completed session between {start_d} and {last_needed[t]}")
            continue
        plan = _plan(t, cache, start_d, last_needed[t])
        if plan is None:
            status[t] = "cached"
        else:
            plans[t] = plan

    fetched: dict[str, _Outcome] = _fetch_planned(plans, session=session, timeout=timeout,
                                                  max_retries=max_retries, backoff_seconds=backoff_seconds,
                                                  sleep=sleep, notes=notes)
    # Re-adjusted history: the overlapping day moved, so fetch the ticker's whole range again.
    readjusted: list[str] = []
    if cache is not None:
        for t, plan in plans.items():
            o = fetched[t]
            if o.kind == "ok" and plan.check_day is not None and _moved(cache, t, plan.check_day, o.series):
                readjusted.append(t)
        if readjusted:
            again = {t: _Plan(start_d, last_needed[t], None) for t in readjusted}
            redone = _fetch_planned(again, session=session, timeout=timeout, max_retries=max_retries,
                                    backoff_seconds=backoff_seconds, sleep=sleep, notes=notes)
            for t in readjusted:
                fetched[t] = redone[t]
                plans[t] = again[t]
                if redone[t].kind == "ok":
                    notes.append(f"Yahoo {t}: adjusted history changed since it was cached (dividend or split); "
                                 f"refetched {start_d}..{last_needed[t]}")
    outcomes.update(fetched)

    fetch_stamp = datetime.now(timezone.utc)
    if cache is not None:
        ok = {t: o for t, o in fetched.items() if o.kind == "ok"}
        replace = [t for t in readjusted if t in ok]
        cache.store({t: o.series for t, o in ok.items()},
                    {t: (plans[t].first, plans[t].last) for t in ok}, fetch_stamp, replace=replace)
    for t, o in fetched.items():
        if o.kind == "ok":
            status[t] = "fetched"

    # Assemble: from the cache when there is one (it now holds everything fetched), else from
    # what was fetched.
    series: dict[str, pd.Series] = {}
    if cache is not None:
        series = cache.read(tickers, start_d, end_d)
        for t, o in outcomes.items():
            if o.kind != "ok" and t in series:
                status[t] = "fallback"
    else:
        series = {t: o.series for t, o in outcomes.items() if o.kind == "ok"}

    fallback = [t for t in tickers if status.get(t) == "fallback"]
    stale_parts: list[str] = []
    if fallback:
        last_cached = max(series[t].index[-1].date() for t in fallback)
        reasons = sorted({outcomes[t].reason for t in fallback})
        stale_parts.append(f"{'; '.join(reasons)}: cached prices for {', '.join(_names(fallback, ticker_of))} "
                           f"from {last_cached} ({_days_old(last_cached, today)})")

    fetched_at = fetch_stamp if any(v == "fetched" for v in status.values()) else \
        (cache.fetched_at(tickers) if cache is not None else None)
    return _assemble(book, ticker_of, series, outcomes, status, notes, stale_parts, today, stale_after_days,
                     source="yfinance", fetched_at=fetched_at)


def _plan(t: str, cache: "PriceCache | None", start: date, last: date) -> _Plan | None:
    if cache is None:
        return _Plan(start, last, None)
    intervals = cache.coverage([t])[t]
    if any(a <= start and b >= last for a, b in intervals):
        return None
    holding = [(a, b) for a, b in intervals if a <= start <= b]
    if holding:
        a, b = holding[0]
        overlap = cache.last_price_dates([t], before=b + timedelta(days=1)).get(t)
        if overlap is not None and overlap >= start:
            return _Plan(overlap, last, overlap)
    return _Plan(start, last, None)


def _moved(cache: "PriceCache", t: str, day: date, fetched: "pd.Series") -> bool:
    import pandas as pd

    cached = cache.read([t], day, day).get(t)
    stamp = pd.Timestamp(day)
    if cached is None or len(cached) == 0:
        return False
    if stamp not in fetched.index:
        return True  # Yahoo no longer has the day we hold: do not splice onto it
    old, new = float(cached.iloc[0]), float(fetched.loc[stamp])
    return abs(new - old) > READJUST_TOLERANCE * abs(old)


def _fetch_planned(plans: Mapping[str, _Plan], *, session: Any, timeout: float, max_retries: int,
                   backoff_seconds: float, sleep: Callable[[float], None], notes: list[str]) -> dict[str, _Outcome]:
    groups: dict[tuple[date, date], list[str]] = {}
    for t, plan in plans.items():
        groups.setdefault((plan.first, plan.last), []).append(t)
    out: dict[str, _Outcome] = {}
    for (first, last), group in groups.items():
        pending = list(group)
        for attempt in range(max_retries + 1):
            result = _download_once(pending, first, last, session=session, timeout=timeout)
            out.update(result)
            limited = [t for t in pending if result[t].kind == "rate_limited"]
            if not limited:
                if attempt:
                    notes.append(f"Yahoo rate limit (HTTP 429): {', '.join(pending)} succeeded after "
                                 f"{attempt} {'retry' if attempt == 1 else 'retries'}")
                break
            if attempt == max_retries:
                for t in limited:
                    out[t] = _Outcome("rate_limited", f"Yahoo rate limit (HTTP 429) after {max_retries} retries")
                break
            sleep(backoff_seconds * 2 ** attempt)
            pending = limited
    return out


def _from_cache_only(book: list[str], ticker_of: Mapping[str, str], cache: "PriceCache | None",
                     start: date, end: date, today: date, stale_after_days: int | None, *, why: str) -> MarketData:
    tickers = list(dict.fromkeys(ticker_of.values()))
    if cache is None:
        raise PriceFetchError(f"{why}: no cached prices for {', '.join(_names(tickers, ticker_of))}; "
                              "run once online or pass --prices FILE")
    series = cache.read(tickers, start, end)
    missing = [t for t in tickers if t not in series]
    if len(missing) == len(tickers):
        raise PriceFetchError(f"{why}: no cached prices for {', '.join(_names(tickers, ticker_of))} "
                              f"between {start} and {end}; run once online or pass --prices FILE")
    outcomes = {t: _Outcome("no_data", f"{why}: no cached prices between {start} and {end}") for t in missing}
    status = {t: "cached" for t in series}
    as_of = max(s.index[-1].date() for s in series.values())
    stale_parts = [f"{why}: cached prices from {as_of} ({_days_old(as_of, today)})"]
    return _assemble(book, ticker_of, series, outcomes, status, [], stale_parts, today, stale_after_days,
                     source="yfinance cache", fetched_at=cache.fetched_at(tickers), force_stale=True)


def _assemble(book: list[str], ticker_of: Mapping[str, str], series: "Mapping[str, pd.Series]",
              outcomes: Mapping[str, _Outcome], status: Mapping[str, str], notes: list[str],
              stale_parts: list[str], today: date, stale_after_days: int | None, *, source: str,
              fetched_at: datetime | None, force_stale: bool = False) -> MarketData:
    import pandas as pd

    present = [s for s in book if ticker_of[s] in series and len(series[ticker_of[s]])]
    missing = [s for s in book if s not in present]
    if not present:
        _raise_nothing(missing, ticker_of, outcomes)

    frame = pd.concat({s: series[ticker_of[s]] for s in present}, axis=1).sort_index()
    frame.index = pd.DatetimeIndex(frame.index).as_unit("ns")
    frame.index.name = "date"
    frame = frame.astype(float)

    series_notes: dict[str, str] = {}
    for s in present:
        t = ticker_of[s]
        base = f"yfinance {t} adjusted close (auto_adjust)"
        series_notes[s] = base if status.get(t) == "fetched" else f"{base}, cached"
    for s in missing:
        t = ticker_of[s]
        reason = outcomes[t].reason if t in outcomes else "no prices"
        series_notes[s] = f"n/a: yfinance {t}: {reason}"
        notes.append(f"{_name(s, t)}: n/a: {reason}")

    as_of = frame.index[frame.notna().any(axis=1).to_numpy()][-1].date()
    age = stale_reason(as_of, today, stale_after_days)
    if age and not force_stale:
        stale_parts.append(age)
    stale = force_stale or bool(stale_parts)
    return MarketData(prices=frame, source=source, as_of=as_of, stale=stale,
                      stale_reason="; ".join(stale_parts) if stale else None, fetched_at=fetched_at,
                      series_notes=series_notes, notes=tuple(notes))


def _raise_nothing(missing: list[str], ticker_of: Mapping[str, str], outcomes: Mapping[str, _Outcome]) -> None:
    kinds = {outcomes[ticker_of[s]].kind for s in missing if ticker_of[s] in outcomes}
    names = ", ".join(_name(s, ticker_of[s]) for s in missing)
    problems = [f"{_name(s, ticker_of[s])}: {outcomes[ticker_of[s]].reason}" for s in missing
                if ticker_of[s] in outcomes]
    if kinds == {"rate_limited"}:
        raise PriceFetchError(f"{next(iter({outcomes[ticker_of[s]].reason for s in missing}))} for {names}; "
                              "wait a few minutes and try again, or pass --prices FILE", problems=problems)
    if kinds == {"network"}:
        reason = outcomes[ticker_of[missing[0]]].reason
        raise PriceFetchError(f"{reason} for {names}; check the connection, use --offline to work from "
                              "cached prices, or pass --prices FILE", problems=problems)
    if kinds <= {"not_found", "no_data"} and len(problems) == 1:
        raise PriceFetchError(f"no prices from Yahoo for {problems[0]}; check the symbol, map it to its Yahoo "
                              "ticker in the config, or pass --prices FILE")
    raise PriceFetchError("no prices from Yahoo for any symbol of the book (check the symbols, map them to "
                          "Yahoo tickers in the config, or pass --prices FILE):", problems=problems)


def _name(symbol: str, ticker: str) -> str:
    return f"{symbol} (Yahoo {ticker})"


def _names(tickers: Iterable[str], ticker_of: Mapping[str, str]) -> list[str]:
    by_ticker: dict[str, list[str]] = {}
    for s, t in ticker_of.items():
        by_ticker.setdefault(t, []).append(s)
    return [_name("/".join(by_ticker.get(t, [t])), t) for t in tickers]


def _days_old(day: date, today: date) -> str:
    n = (today - day).days
    return "1 day old" if n == 1 else f"{n} days old"
