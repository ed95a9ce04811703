"""The bundled offline demo: a ~1,000,000 USD book and 14 years of daily prices ending 2020-12-31.

Nothing here touches the network or needs a config. The files live in ``wsbrisk_tui/data/demo``
and are made once by ``scripts/make_demo_data.py`` (seeded, byte-reproducible):

* ``market.csv.gz``: ``date`` + one adjusted-close column per symbol (13), ``VIX`` (index points)
  and ``rf_3m_frac`` (3-month T-bill, fraction per year, an annual-average step series);
* ``meta.json``: as-of date, seed, per-symbol ``series_notes`` ("real: ..." / "generated: ..."),
  the VIX and risk-free provenance;
* ``book.csv``: the positions, in the positions-CSV format of
  :mod:`wsbrisk_tui.engine.sources.positions_csv` (so the demo is also a template): stocks, ETFs,
  fractional BTC, a short IWM, and SPY/QQQ/AAPL options marked with Black-Scholes-Merton.

Some series are real (S&P 500, NASDAQ Composite, WTI 2007-2018; VIX 2014-2018, all from
``arch.data``) and the rest are generated; ``MarketData.series_notes`` says which, per symbol, and
``data/demo/README.md`` explains the models. Loading parses ~3,500 rows with pandas' C parser and is
cached, so it costs a few tens of milliseconds once.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from datetime import date, datetime
from importlib import resources
from typing import TYPE_CHECKING, Any

from wsbrisk_tui.engine.model import MarketData, Portfolio, Rate

if TYPE_CHECKING:
    import pandas as pd

DEMO_PACKAGE = "wsbrisk_tui.data"
DEMO_DIR = "demo"
MARKET_FILE = "market.csv.gz"
META_FILE = "meta.json"
BOOK_FILE = "book.csv"
#: Columns of ``market.csv.gz`` that are not prices.
VIX_COLUMN = "VIX"
RATE_COLUMN = "rf_3m_frac"
#: Time of day the demo book is "as of": the New York close (naive, exchange local time).
CLOSE_HOUR = 16
HISTORICAL_NOTE = "historical demo data ending {as_of}: not live prices"


def _resource(name: str) -> Any:
    return resources.files(DEMO_PACKAGE).joinpath(DEMO_DIR, name)


@functools.lru_cache(maxsize=1)
def _meta() -> dict[str, Any]:
    return json.loads(_resource(META_FILE).read_text(encoding="utf-8"))


@functools.lru_cache(maxsize=1)
def _frame() -> "pd.DataFrame":
    """The whole panel (prices, VIX, rate), parsed once; callers get copies."""
    import numpy as np
    import pandas as pd

    with _resource(MARKET_FILE).open("rb") as fh:
        frame = pd.read_csv(fh, compression="gzip", index_col="date", engine="c")
    # every value column must be numeric: astype raises on a corrupt cell instead of keeping text
    frame = frame.astype(np.float64)
    frame.index = pd.DatetimeIndex(pd.to_datetime(frame.index, format="%Y-%m-%d"), name="date")
    return frame


def demo_as_of() -> date:
    """The demo's as-of date (the last row of the market data): 2020-12-31."""
    return date.fromisoformat(_meta()["as_of"])


def demo_risk_free_series() -> "pd.Series":
    """3-month T-bill yield by date, fraction per year: approximate annual averages (a step series)."""
    series = _frame()[RATE_COLUMN].copy()
    series.name = RATE_COLUMN
    return series


def demo_market_data() -> MarketData:
    """The demo price panel with provenance, VIX and the risk-free rate of the as-of year.

    ``prices`` holds the 13 instrument columns (NaN where a real source has no value, never filled).
    ``stale`` is False: the data are a fixed historical set, which ``notes`` says plainly.
    """
    meta = _meta()
    frame = _frame()
    as_of = demo_as_of()
    symbols = list(meta["symbols"])
    prices = frame[symbols].copy()
    vix = frame[VIX_COLUMN].copy()
    rate = float(frame[RATE_COLUMN].iloc[-1])
    return MarketData(
        prices=prices,
        source="demo",
        as_of=as_of,
        stale=False,
        fetched_at=None,
        series_notes=dict(meta["series_notes"]),
        # not the config's fallback (assumed=False), but not an observation either: the source says so
        risk_free=Rate(value=rate, as_of=as_of, assumed=False,
                       source=(f"demo: approximate {as_of.year} annual average of the 3-month T-bill "
                               "yield (a step series, not a daily observation)")),
        vix=vix,
        vix_source=str(meta["vix_source"]),
        notes=(HISTORICAL_NOTE.format(as_of=as_of.isoformat()),
               "prices are a mix of real (arch.data) and seeded generated series: see series_notes"),
    )


def demo_portfolio() -> Portfolio:
    """The demo book, as of the demo's last date at the New York close.

    Stocks, ETFs and crypto carry no price: the pipeline values them from :func:`demo_market_data`.
    Options carry their BSM mark in ``price`` (per share). Cash makes NAV 1,000,000 USD.
    """
    from wsbrisk_tui.engine.sources.positions_csv import read_positions_csv

    with resources.as_file(_resource(BOOK_FILE)) as path:
        book = read_positions_csv(path)
    as_of = demo_as_of()
    return dataclasses.replace(
        book,
        source="demo",
        mode="DEMO",
        as_of=datetime(as_of.year, as_of.month, as_of.day, CLOSE_HOUR, 0),
        notes=(*book.notes, HISTORICAL_NOTE.format(as_of=as_of.isoformat()),
               "option marks are Black-Scholes-Merton prices computed by scripts/make_demo_data.py"),
    )
