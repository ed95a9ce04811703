"""Generate the bundled demo book and its market data (run once; the output is committed).

Usage::

    python scripts/make_demo_data.py            # writes wsbrisk_tui/data/demo/{market.csv.gz,meta.json,book.csv}
    python scripts/make_demo_data.py --out DIR  # writes elsewhere (same bytes)

Everything comes from one ``numpy.random.default_rng(SEED)`` with ``SEED = 20201231`` and the real
series that ``arch.data`` ships, so two runs give byte-identical files (the gzip header carries no
time stamp and floats are written with 10 significant digits).

What is real and what is generated
----------------------------------
Window: 2007-01-03 .. 2020-12-31 (the demo's as-of date). 2007-01-03 .. 2018-12-31 uses the real
NYSE trading days of ``arch.data.sp500``; 2019-01-02 .. 2020-12-31 is generated on weekdays minus
the NYSE full-day holidays of 2019 and 2020 (listed in ``NYSE_HOLIDAYS``; early closes are ignored).

* SPY proxy: real S&P 500 ``Adj Close`` (a price index, no dividends) divided by ``SPY_SCALE = 10``
  for 2007-2018. 2019-2020 is a regime model of daily log returns ``m_t``:

  - calm regimes: GARCH(1,1) with Student-t(6) innovations, ``h_t = w + a e_{t-1}^2 + b h_{t-1}``,
    ``a = 0.10, b = 0.88`` (close to a GARCH(1,1)-t fit of S&P 500 1999-2018: a = 0.0995,
    b = 0.9002, nu = 6.5) and ``w = s_L^2 (1 - a - b)`` for a long-run annual vol ``s_L`` of 13%
    (2019, Jan-Feb 2020), 28% (recovery, 2020-03-24 .. 2020-08-18) and 18% (2020-08-19 .. year end);
    the first variance is the real EWMA variance at 2018-12-31;
  - the crash regime 2020-02-20 .. 2020-03-23: scripted daily vol (Student-t(6) shocks) rising
    linearly from 1% to 8% on 2020-03-16 (the real -12% day) and 4.5% after;
  - the path passes through the real S&P 500 closes in ``SPX_ANCHORS`` (month ends, plus
    2020-02-19 3386.15, 2020-03-16 2386.13, 2020-03-23 2237.40 and 2020-08-18 3389.78): the returns
    of each stretch between anchors are conditioned on its total by a Brownian bridge,
    ``m_t = e_t + (h_t / sum h) (target - sum e)``. So the close-to-close crash 2020-02-19 ..
    2020-03-23 is exactly the real -33.9% and the prior peak is regained on 2020-08-18, as in 2020;
    the daily path in between is generated (it dips below the 03-23 close on 03-19: -36.6%).

* QQQ proxy: real NASDAQ Composite ``Adj Close`` / ``QQQ_SCALE = 43`` for 2007-2018 (the
  composite, not the NASDAQ-100 that QQQ tracks; 43 puts the 2018-12-31 close near QQQ's 154).
  The tech factor is the real residual ``tech_t = q_t - b_q m_t`` (``b_q`` by OLS over 2007-2018).
  2019-2020: ``tech_t`` is Student-t(5) noise with the real residual's sd, scaled by market vol, with
  a constant drift per segment so the proxy passes through real composite closes (2019-12-31
  8972.60, 2020-02-19 9817.18, 2020-03-23 6860.67, 2020-12-31 12888.28).

* USO proxy: real WTI spot (FRED DCOILWTICO via ``arch.data.wti``) in USD per barrel, 2007-2018;
  the 4 trading days FRED has no value (2017-07-03, 2018-11-23, 2018-12-24, 2018-12-31) stay NaN.
  2019-2020 from the factor model below, pinned to WTI 61.06 (2019-12-31) and 48.52 (2020-12-31).
  The April 2020 collapse (and negative front-month price) is not represented.

* Every other instrument is generated for the whole window by a factor model of log returns::

      l_it = alpha_iy + beta_i(t) m_t + g_i tech_t + sigma_i / sqrt(252) * s_t^0.75 * z_it

  with ``m_t`` the SPY proxy's log return, ``s_t = sigma_m,t|t-1 / sigma_bar`` (the market's
  EWMA(lambda 0.94) vol over its 2007-2018 sd), the stress weight ``w_t = clip((s_t - 1) / 2, 0, 1)``
  and ``z_it`` unit-variance Student-t. ``alpha_iy`` is a constant drift per calendar year that makes
  the path start at the 2007-01-03 close in ``INSTRUMENTS`` and pass through the approximate real
  year-end closes in ``YEAR_END_CLOSES`` (split-adjusted to 2020 share terms, dividends excluded).

  ========  ===================  =====  =======  ===
  symbol    beta_i(t)            g_i    sigma_i  df
  ========  ===================  =====  =======  ===
  AAPL      1.05                 0.90   22%      4
  MSFT      1.00                 0.60   17%      4
  NVDA      1.45                 1.30   38%      4
  AMZN      1.10                 1.00   28%      4
  IWM       1.15                 0      8%       5
  TLT       -0.10 - 0.35 w_t     0      13%      5
  GLD       0.05                 0      16%      4
  JPM       1.15 + 0.60 w_t      0      20%      4
  XOM       0.85                 0      18%      4
  BTC-USD   0.30 + 0.70 w_t      0      70%      3
  USO       0.90 + 0.80 w_t      0      35%      4   (2019-2020 only, see above)
  ========  ===================  =====  =======  ===

  TLT's idiosyncratic term stands for its rate sensitivity (modified duration ~17 x a daily change
  of the long yield, ~0.75%/yr sd) and its beta turns more negative in stress (flight to quality);
  JPM's beta rises in stress (banks in 2008). BTC-USD is synthetic before 2010 (bitcoin had no
  market; the 2007 start level 0.05 is arbitrary); it trades 7 days a week but is sampled on the
  NYSE business days here, like everything else.

* VIX: real CBOE VIX 2014-01-03 .. 2018-12-31 (``arch.data.vix``). Other days are generated from
  the market's EWMA vol including day t, ``RV_t = 100 sqrt(252) sigma_m,t|t``:
  ``VIX_t = max(9, (c0 + c1 RV_t) exp(u_t))``; ``c0, c1`` by reduced-major-axis regression of VIX
  on RV over the real 2014-2018 overlap (RV is a noisy volatility estimate, so OLS would flatten the
  slope and 2008 would peak near 60 instead of the real 80.9), ``u_t`` an AR(1) fitted to the real
  log residuals and started from the last real one in 2019. Coefficients are written to meta.json.

* Risk-free: approximate annual averages of the 3-month Treasury bill yield (``RF_ANNUAL``), a step
  series; not daily observations.

Draw order from the one generator: market shocks per regime, tech shocks, the ten factor-model
instruments in ``INSTRUMENTS`` order, USO, then the VIX noise.

The book (``book.csv``): stocks, ETFs, fractional BTC, a short IWM, and SPY/QQQ/AAPL options
expiring after 2020-12-31 (a long call, a short put, a 2-leg call spread, a 2-trading-day call),
marked with Black-Scholes-Merton (``bsm_price``; q = 0, r = the 2020 rate step, implied vol = the
demo VIX on 2020-12-31 x ``IV_MULTIPLIER``, T = calendar days / 365). Cash makes NAV exactly
1,000,000 USD at these marks; NVDA is about 22% of NAV so the default 20% position limit fires.
Each option also carries ``lastday_price``, its mark on 2020-12-30 computed the same way from
that day's underlying close, VIX and rate (one more day to expiry), so the book's day P&L is
complete, as with a broker's previous marks.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import json
import math
import sys
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

SEED = 20201231
START = "2007-01-03"
AS_OF = date(2020, 12, 31)
SPY_SCALE = 10.0
QQQ_SCALE = 43.0
EWMA_LAMBDA = 0.94
IDIO_VOL_EXPONENT = 0.75
VIX_FLOOR = 9.0

# NYSE full-day closures (the generated calendar is weekdays minus these).
NYSE_HOLIDAYS = (
    "2019-01-01", "2019-01-21", "2019-02-18", "2019-04-19", "2019-05-27", "2019-07-04",
    "2019-09-02", "2019-11-28", "2019-12-25",
    "2020-01-01", "2020-01-20", "2020-02-17", "2020-04-10", "2020-05-25", "2020-07-03",
    "2020-09-07", "2020-11-26", "2020-12-25",
)

# Real S&P 500 closes the generated 2019-2020 path passes through: month ends (rounded public
# quotes) plus the crash dates. Each row: (date, level, regime of the path ending there, long-run
# annual vol of that regime's GARCH; None for the scripted crash).
_CALM, _RECOVERY, _AFTER = 0.13, 0.28, 0.18
SPX_ANCHORS: tuple[tuple[str, float, str, float | None], ...] = (
    ("2019-01-31", 2704.10, "garch", _CALM), ("2019-02-28", 2784.49, "garch", _CALM),
    ("2019-03-29", 2834.40, "garch", _CALM), ("2019-04-30", 2945.83, "garch", _CALM),
    ("2019-05-31", 2752.06, "garch", _CALM), ("2019-06-28", 2941.76, "garch", _CALM),
    ("2019-07-31", 2980.38, "garch", _CALM), ("2019-08-30", 2926.46, "garch", _CALM),
    ("2019-09-30", 2976.74, "garch", _CALM), ("2019-10-31", 3037.56, "garch", _CALM),
    ("2019-11-29", 3140.98, "garch", _CALM), ("2019-12-31", 3230.78, "garch", _CALM),
    ("2020-01-31", 3225.52, "garch", _CALM),
    ("2020-02-19", 3386.15, "garch", _CALM),  # pre-COVID peak
    ("2020-03-16", 2386.13, "crash", None),  # the -12% day
    ("2020-03-23", 2237.40, "crash", None),  # trough: -33.9% from the peak
    ("2020-03-31", 2584.59, "garch", _RECOVERY), ("2020-04-30", 2912.43, "garch", _RECOVERY),
    ("2020-05-29", 3044.31, "garch", _RECOVERY), ("2020-06-30", 3100.29, "garch", _RECOVERY),
    ("2020-07-31", 3271.12, "garch", _RECOVERY),
    ("2020-08-18", 3389.78, "garch", _RECOVERY),  # first close above the February peak
    ("2020-08-31", 3500.31, "garch", _AFTER), ("2020-09-30", 3363.00, "garch", _AFTER),
    ("2020-10-30", 3269.96, "garch", _AFTER), ("2020-11-30", 3621.63, "garch", _AFTER),
    ("2020-12-31", 3756.07, "garch", _AFTER),
)
GARCH_ALPHA, GARCH_BETA, GARCH_DF = 0.10, 0.88, 6.0
CRASH_START_DATE, CRASH_PEAK_DATE = "2020-02-20", "2020-03-16"
CRASH_VOL_START, CRASH_VOL_PEAK, CRASH_VOL_AFTER = 0.01, 0.08, 0.045

NASDAQ_ANCHORS = (("2019-12-31", 8972.60), ("2020-02-19", 9817.18), ("2020-03-23", 6860.67),
                  ("2020-12-31", 12888.28))
WTI_ANCHORS = (("2019-12-31", 61.06), ("2020-12-31", 48.52))
TECH_DF = 5.0

# symbol: (beta const, beta per unit stress, tech loading, idio annual vol, t df, 2007-01-03 close)
INSTRUMENTS: dict[str, tuple[float, float, float, float, float, float]] = {
    "AAPL": (1.05, 0.0, 0.90, 0.22, 4.0, 2.99),
    "MSFT": (1.00, 0.0, 0.60, 0.17, 4.0, 29.86),
    "NVDA": (1.45, 0.0, 1.30, 0.38, 4.0, 24.80),
    "AMZN": (1.10, 0.0, 1.00, 0.28, 4.0, 38.70),
    "IWM": (1.15, 0.0, 0.0, 0.08, 5.0, 78.50),
    "TLT": (-0.10, -0.35, 0.0, 0.13, 5.0, 89.00),
    "GLD": (0.05, 0.0, 0.0, 0.16, 4.0, 62.28),
    "JPM": (1.15, 0.60, 0.0, 0.20, 4.0, 48.60),
    "XOM": (0.85, 0.0, 0.0, 0.18, 4.0, 74.90),
    "BTC-USD": (0.30, 0.70, 0.0, 0.70, 3.0, 0.05),
}
# Approximate real year-end closes 2007..2020 (split-adjusted to 2020 share terms, no dividend
# adjustment, rounded): each generated path passes through them. BTC-USD has no market before 2010.
YEAR_END_CLOSES: dict[str, tuple[float | None, ...]] = {
    "AAPL": (7.07, 3.05, 7.53, 11.52, 14.46, 19.01, 20.04, 27.59, 26.32, 28.96, 42.31, 39.44, 73.41, 132.69),
    "MSFT": (35.60, 19.44, 30.48, 27.91, 25.96, 26.71, 37.41, 46.45, 55.48, 62.14, 85.54, 101.57, 157.70, 222.42),
    "NVDA": (34.02, 8.07, 18.68, 15.40, 13.86, 12.26, 16.02, 20.05, 32.96, 106.74, 193.50, 133.50, 235.30, 522.20),
    "AMZN": (92.64, 51.28, 134.52, 180.00, 173.10, 250.87, 398.79, 310.35, 675.89, 749.87, 1169.47, 1501.97,
             1847.84, 3256.93),
    "IWM": (75.92, 49.24, 62.44, 78.24, 73.70, 84.29, 115.35, 119.62, 112.62, 134.85, 152.46, 133.90, 165.67,
            196.06),
    "TLT": (93.08, 119.01, 89.85, 94.12, 121.25, 118.21, 101.86, 125.92, 120.55, 119.13, 126.86, 126.25,
            135.48, 157.73),
    "GLD": (82.46, 86.52, 107.31, 138.72, 151.99, 162.02, 116.12, 113.58, 101.46, 109.61, 123.65, 121.25,
            142.90, 178.36),
    "JPM": (43.65, 31.53, 41.67, 42.42, 33.25, 43.97, 58.48, 62.58, 66.03, 86.29, 106.94, 97.62, 139.40, 127.07),
    "XOM": (93.69, 79.83, 68.19, 73.12, 84.76, 86.55, 101.20, 92.45, 77.95, 90.26, 83.64, 68.19, 69.78, 41.22),
    "BTC-USD": (None, None, None, 0.30, 4.72, 13.45, 754.00, 320.19, 430.57, 963.74, 14156.40, 3742.70,
                7193.60, 29001.72),
}
USO_MODEL = (0.90, 0.80, 0.0, 0.35, 4.0)
SYMBOLS = ("SPY", "QQQ", "AAPL", "MSFT", "NVDA", "AMZN", "IWM", "TLT", "GLD", "JPM", "XOM",
           "BTC-USD", "USO")

# Approximate annual averages of the 3-month Treasury bill yield, percent.
RF_ANNUAL = {2007: 4.40, 2008: 1.40, 2009: 0.15, 2010: 0.14, 2011: 0.05, 2012: 0.09, 2013: 0.06,
             2014: 0.03, 2015: 0.05, 2016: 0.32, 2017: 0.93, 2018: 1.94, 2019: 2.06, 2020: 0.37}

# Implied vol of an option = demo VIX / 100 x multiplier (no skew, no term structure).
IV_MULTIPLIER = {"SPY": 1.00, "QQQ": 1.15, "AAPL": 1.60}

# The book: (symbol, asset_class, qty, avg_entry_price, strategy). Options in OCC form.
BOOK = (
    ("AAPL", "equity", 1000, 91.20, "swing_trading"),
    ("MSFT", "equity", 400, 181.35, "index_baseline"),
    ("NVDA", "equity", 420, 310.50, "momentum_weeklies"),
    ("AMZN", "equity", 20, 2950.00, "index_baseline"),
    ("JPM", "equity", 500, 98.40, "swing_trading"),
    ("SPY", "etf", 300, 322.10, "index_baseline"),
    ("QQQ", "etf", 200, 248.75, "index_baseline"),
    ("TLT", "etf", 400, 161.20, "hedge"),
    ("GLD", "etf", 300, 172.90, "hedge"),
    ("IWM", "etf", -250, 181.40, "pairs_short"),
    ("BTC-USD", "crypto", 1.75, 11250.00, "crypto"),
    # dip-buying call about two weeks out
    ("AAPL210115C00140000", "option", 10, 1.15, "wsb_dip_bot"),
    # the wheel: cash-secured short put
    ("SPY210115P00360000", "option", -2, 2.40, "wheel"),
    # call debit spread: long 305 / short 315, same expiry
    ("QQQ210129C00305000", "option", 5, 4.10, "debit_spreads"),
    ("QQQ210129C00315000", "option", -5, 1.55, "debit_spreads"),
    # 0DTE-like lottery call, 2 trading days to expiry
    ("SPY210104C00380000", "option", 3, 0.35, "lotto_scanner"),
)
TARGET_NAV_USD = 1_000_000.00


# --------------------------------------------------------------------------------------------
# small numerical helpers
# --------------------------------------------------------------------------------------------


def std_t(rng: np.random.Generator, df: float, size: int) -> np.ndarray:
    """Student-t draws scaled to unit variance: t_df * sqrt((df - 2) / df)."""
    return rng.standard_t(df, size) * math.sqrt((df - 2.0) / df)


def ewma_variance(returns: np.ndarray, lam: float, var0: float) -> tuple[np.ndarray, np.ndarray]:
    """RiskMetrics EWMA: predictive ``v_{t|t-1}`` and updated ``v_{t|t} = lam v_{t|t-1} + (1-lam) r_t^2``."""
    pred = np.empty(len(returns))
    upd = np.empty(len(returns))
    v = var0
    for i, r in enumerate(returns):
        pred[i] = v
        v = lam * v + (1.0 - lam) * r * r
        upd[i] = v
    return pred, upd


def bsm_price(spot: float, strike: float, t_years: float, rate: float, vol: float, right: str) -> float:
    """Black-Scholes-Merton price of a European option, no dividends (Hull, ch. 15)."""
    from scipy.stats import norm

    sqrt_t = math.sqrt(t_years)
    d1 = (math.log(spot / strike) + (rate + 0.5 * vol * vol) * t_years) / (vol * sqrt_t)
    d2 = d1 - vol * sqrt_t
    disc = math.exp(-rate * t_years)
    if right == "C":
        return spot * norm.cdf(d1) - strike * disc * norm.cdf(d2)
    return strike * disc * norm.cdf(-d2) - spot * norm.cdf(-d1)


def generated_calendar() -> pd.DatetimeIndex:
    days = pd.bdate_range("2019-01-02", AS_OF.isoformat())
    return days.difference(pd.DatetimeIndex(NYSE_HOLIDAYS))


# --------------------------------------------------------------------------------------------
# the generator
# --------------------------------------------------------------------------------------------


def _regime_market(rng: np.random.Generator, dates: pd.DatetimeIndex, var0: float,
                   last_level: float) -> np.ndarray:
    """Daily log returns of the S&P 500 for 2019-2020 (see the module docstring)."""
    out = np.empty(len(dates))
    h_prev, e_prev = var0, 0.0
    start = 0
    for anchor, level, kind, vol_lr in SPX_ANCHORS:
        end = int(dates.get_loc(pd.Timestamp(anchor))) + 1
        n = end - start
        z = std_t(rng, GARCH_DF, n)
        h = np.empty(n)
        e = np.empty(n)
        if kind == "crash":
            k0 = int(dates.get_loc(pd.Timestamp(CRASH_START_DATE)))
            k_peak = int(dates.get_loc(pd.Timestamp(CRASH_PEAK_DATE))) - k0
            k = np.arange(start, end) - k0
            vol = np.where(k <= k_peak,
                           CRASH_VOL_START + (CRASH_VOL_PEAK - CRASH_VOL_START) * k / k_peak,
                           CRASH_VOL_AFTER)
            h[:] = vol**2
            e[:] = vol * z
            h_prev, e_prev = h[-1], e[-1]
        else:
            omega = (vol_lr**2 / 252.0) * (1.0 - GARCH_ALPHA - GARCH_BETA)
            for i in range(n):
                h_prev = omega + GARCH_ALPHA * e_prev**2 + GARCH_BETA * h_prev
                e_prev = math.sqrt(h_prev) * z[i]
                h[i], e[i] = h_prev, e_prev
        target = math.log(level / last_level)
        out[start:end] = e + h / h.sum() * (target - e.sum())
        last_level, start = level, end
    if start != len(dates):
        raise AssertionError("the last SPX anchor must be the as-of date")
    return out


def _pin_segments(base: np.ndarray, dates: pd.DatetimeIndex, anchors: tuple[tuple[str, float], ...],
                  last_level: float) -> np.ndarray:
    """Add a constant drift per segment so ``last_level * exp(cumsum)`` hits each anchor exactly.

    ``base[j]`` is the log return ending on ``dates[j]``; the last anchor must be the last date.
    """
    out = base.copy()
    start = 0
    for anchor, level in anchors:
        end = int(dates.get_loc(pd.Timestamp(anchor))) + 1
        out[start:end] += (math.log(level / last_level) - base[start:end].sum()) / (end - start)
        last_level, start = level, end
    if start != len(dates):
        raise AssertionError("the last anchor must be the last date")
    return out


def _year_end_anchors(dates: pd.DatetimeIndex, closes: tuple[float | None, ...]) -> tuple[tuple[str, float], ...]:
    """(last trading day of year, close) for 2007.. in order, skipping years without a close."""
    last_days = pd.Series(dates, index=dates).groupby(dates.year).max()
    return tuple((last_days[2007 + i].date().isoformat(), c) for i, c in enumerate(closes) if c is not None)


def build_frame() -> tuple[pd.DataFrame, dict]:
    """The dates x columns panel (13 price columns, ``VIX``, ``rf_3m_frac``) and the metadata."""
    import arch.data.nasdaq
    import arch.data.sp500
    import arch.data.vix
    import arch.data.wti

    rng = np.random.default_rng(SEED)
    sp_all = arch.data.sp500.load()["Adj Close"].astype(float)
    nq_all = arch.data.nasdaq.load()["Adj Close"].astype(float)
    vix_real = arch.data.vix.load()["vix"].astype(float)
    wti_real = arch.data.wti.load()["DCOILWTICO"].astype(float)
    if not sp_all.index.equals(nq_all.index):
        raise AssertionError("arch.data sp500 and nasdaq calendars differ")

    real_dates = sp_all.loc[START:].index
    gen_dates = generated_calendar()
    dates = real_dates.append(gen_dates)
    n_real, n = len(real_dates), len(real_dates) + len(gen_dates)
    i0 = int(sp_all.index.get_loc(real_dates[0]))

    # market factor: real log returns 1999-2018 (warm-up for the EWMA), then the regime model
    m_all_real = np.diff(np.log(sp_all.to_numpy()))  # m_all_real[j] is the return ending on day j+1
    sigma_bar = float(np.std(m_all_real[i0:], ddof=1))
    _, upd_real = ewma_variance(m_all_real, EWMA_LAMBDA, float(np.var(m_all_real[:250], ddof=1)))
    m_gen = _regime_market(rng, gen_dates, float(upd_real[-1]), float(sp_all.iloc[-1]))
    # returns for dates[1:], i.e. ending on each day after the first
    m = np.concatenate([m_all_real[i0:], m_gen])
    pred_all, upd_all = ewma_variance(np.concatenate([m_all_real, m_gen]), EWMA_LAMBDA,
                                      float(np.var(m_all_real[:250], ddof=1)))
    pred, upd = pred_all[i0:], upd_all[i0:]
    s = np.sqrt(pred) / sigma_bar
    w = np.clip((s - 1.0) / 2.0, 0.0, 1.0)
    scale = s**IDIO_VOL_EXPONENT
    spx = np.concatenate([sp_all.loc[START:].to_numpy(),
                          float(sp_all.iloc[-1]) * np.exp(np.cumsum(m_gen))])

    # tech factor: real NASDAQ residual on the market, then generated
    q_real = np.diff(np.log(nq_all.loc[START:].to_numpy()))
    m_real = m[: n_real - 1]
    b_q, a_q = np.polyfit(m_real, q_real, 1)
    tech_real = q_real - b_q * m_real
    sd_tech = float(np.std(tech_real - a_q, ddof=1))
    g = slice(n_real - 1, n - 1)
    tech_noise = a_q + sd_tech * scale[g] * std_t(rng, TECH_DF, n - n_real)
    q_gen = _pin_segments(b_q * m_gen + tech_noise, gen_dates, NASDAQ_ANCHORS, float(nq_all.iloc[-1]))
    tech = np.concatenate([tech_real, q_gen - b_q * m_gen])
    nasdaq = np.concatenate([nq_all.loc[START:].to_numpy(),
                             float(nq_all.iloc[-1]) * np.exp(np.cumsum(q_gen))])

    cols: dict[str, np.ndarray] = {"SPY": spx / SPY_SCALE, "QQQ": nasdaq / QQQ_SCALE}
    for sym, (b0, b1, g_tech, vol, df, p0) in INSTRUMENTS.items():
        base = (b0 + b1 * w) * m + g_tech * tech + vol / math.sqrt(252.0) * scale * std_t(rng, df, n - 1)
        pinned = _pin_segments(base, dates[1:], _year_end_anchors(dates, YEAR_END_CLOSES[sym]), p0)
        cols[sym] = p0 * np.exp(np.concatenate([[0.0], np.cumsum(pinned)]))

    # USO: real WTI, then the factor model pinned to real year-end WTI
    wti = wti_real.reindex(real_dates).to_numpy()
    b0, b1, g_tech, vol, df = USO_MODEL
    base = ((b0 + b1 * w[g]) * m_gen + vol / math.sqrt(252.0) * scale[g] * std_t(rng, df, n - n_real))
    last_wti = float(wti_real.loc[:real_dates[-1]].dropna().iloc[-1])
    uso_gen = _pin_segments(base, gen_dates, WTI_ANCHORS, last_wti)
    cols["USO"] = np.concatenate([wti, last_wti * np.exp(np.cumsum(uso_gen))])

    # VIX: real 2014-2018, generated elsewhere from the market's EWMA vol
    rv = 100.0 * np.sqrt(252.0 * np.concatenate([[upd_all[i0 - 1]], upd]))  # aligned with dates
    vix_on_dates = vix_real.reindex(dates).to_numpy()
    real_mask = np.asarray((dates >= vix_real.index[0]) & (dates <= real_dates[-1])) & np.isfinite(vix_on_dates)
    # reduced-major-axis slope: RV is a noisy estimate of volatility, so OLS would attenuate it
    c1 = float(np.std(vix_on_dates[real_mask]) / np.std(rv[real_mask]))
    c0 = float(np.mean(vix_on_dates[real_mask]) - c1 * np.mean(rv[real_mask]))
    with np.errstate(invalid="ignore"):
        resid = np.log(vix_on_dates / (c0 + c1 * rv))
    rr = resid[real_mask]
    phi = float(np.dot(rr[1:], rr[:-1]) / np.dot(rr[:-1], rr[:-1]))
    eta_sd = float(np.std(rr[1:] - phi * rr[:-1], ddof=1))
    eta = rng.standard_normal(n) * eta_sd
    u = np.empty(n)
    prev = 0.0
    for i in range(n):
        prev = resid[i] if real_mask[i] else phi * prev + eta[i]
        u[i] = prev
    vix = np.where(real_mask, vix_on_dates, np.maximum(VIX_FLOOR, (c0 + c1 * rv) * np.exp(u)))

    rf = np.array([RF_ANNUAL[d.year] / 100.0 for d in dates])
    frame = pd.DataFrame({sym: cols[sym] for sym in SYMBOLS}, index=pd.DatetimeIndex(dates, name="date"))
    frame["VIX"] = vix
    frame["rf_3m_frac"] = rf

    first_real_vix = dates[real_mask][0].date().isoformat()
    meta = _meta(b_q=float(b_q), sd_tech=float(sd_tech), c0=float(c0), c1=float(c1), phi=phi,
                 eta_sd=eta_sd, first_real_vix=first_real_vix)
    return frame, meta


def _meta(*, b_q: float, sd_tech: float, c0: float, c1: float, phi: float, eta_sd: float,
          first_real_vix: str) -> dict:
    gen = "generated 2019-01-02..2020-12-31"
    notes = {
        "SPY": ("real 2007-01-03..2018-12-31: S&P 500 index Adj Close (arch.data.sp500), divided by 10 "
                "(a price index: no dividends, unlike the SPY ETF); "
                f"{gen}: seeded regime model (GARCH(1,1)-t calm/recovery, scripted crash "
                "2020-02-20..2020-03-23) passing through real S&P 500 month-end closes and the real "
                "closes of 2020-02-19 (peak), 2020-03-16, 2020-03-23 (-33.9%) and 2020-08-18 "
                "(peak regained), divided by 10"),
        "QQQ": ("real 2007-01-03..2018-12-31: NASDAQ Composite Adj Close (arch.data.nasdaq), divided "
                "by 43 (a proxy: QQQ tracks the NASDAQ-100); "
                f"{gen}: market beta {b_q:.3f} x the generated market + a generated tech factor, "
                "anchored to real composite closes 2019-12-31, 2020-02-19, 2020-03-23 and 2020-12-31"),
        "USO": ("real 2007-01-03..2018-12-31: WTI crude spot in USD/barrel (FRED DCOILWTICO via "
                "arch.data.wti), not the USO fund; 4 days without a FRED value are NaN; "
                f"{gen}: factor model anchored to real WTI 2019-12-31 and 2020-12-31 (the April 2020 "
                "negative price is not represented)"),
    }
    for sym, (b0, b1, g_tech, vol, df, p0) in INSTRUMENTS.items():
        beta = f"{b0:.2f}" + (f" {b1:+.2f} x stress" if b1 else "")
        text = (f"generated 2007-01-03..2020-12-31: seeded factor model on the real (2007-2018) and "
                f"generated (2019-2020) market and tech factors; market beta {beta}, tech loading "
                f"{g_tech:.2f}, Student-t({df:g}) idiosyncratic noise {vol:.0%}/yr scaled by market vol; "
                f"drift set per year so the path starts at {p0:g} and passes through approximate real "
                "year-end closes")
        if sym == "BTC-USD":
            text += ("; entirely synthetic before 2010 (bitcoin had no market: start level arbitrary); "
                     "sampled on NYSE business days although it trades 7 days a week")
        notes[sym] = text
    return {
        "as_of": AS_OF.isoformat(),
        "seed": SEED,
        "generator": "scripts/make_demo_data.py",
        "symbols": list(SYMBOLS),
        "series_notes": {sym: notes[sym] for sym in SYMBOLS},
        "vix_source": (f"real {first_real_vix}..2018-12-31: CBOE VIX (arch.data.vix); generated "
                       f"2007-01-03..2014-01-02 and 2019-2020: VIX = ({c0:.4f} + {c1:.4f} RV) x exp(u), "
                       f"u an AR(1) (phi {phi:.4f}, sd {eta_sd:.4f}), RV = 100 sqrt(252) x EWMA(0.94) "
                       "vol of the market, floored at 9"),
        "risk_free_source": ("demo: approximate annual averages of the 3-month T-bill yield "
                             "(a step series, not daily observations)"),
        "calendar": ("2007-01-03..2018-12-31: real NYSE trading days (arch.data.sp500); 2019-2020: "
                     "weekdays minus NYSE full-day holidays"),
        "tech_factor": {"beta_nasdaq_on_market": round(b_q, 6), "residual_sd_daily": round(sd_tech, 8)},
    }


def build_book(frame: pd.DataFrame) -> tuple[list[dict], float]:
    """Book rows with option marks (BSM) and the cash that makes NAV = ``TARGET_NAV_USD``."""
    from wsbrisk_tui.engine.occ import looks_like_occ, parse_occ

    last, before = frame.iloc[-1], frame.iloc[-2]
    prev_day = frame.index[-2].date()
    rows, mv_total = [], 0.0
    for symbol, kind, qty, entry, strategy in BOOK:
        price: float | None = None
        lastday: float | None = None
        if looks_like_occ(symbol):
            occ = parse_occ(symbol)
            price = option_mark(occ, last, AS_OF)
            # the previous day's mark the same way (underlying, VIX and rate of that day, one
            # more day to expiry): the option's day P&L, as a broker's lastday_price gives it
            lastday = option_mark(occ, before, prev_day)
            mv_total += qty * price * 100.0
        else:
            mv_total += qty * _csv_float(float(last[symbol]))
        rows.append({"symbol": symbol, "asset_class": kind, "qty": qty, "price": price,
                     "avg_entry_price": entry, "strategy": strategy, "lastday_price": lastday})
    cash = round(TARGET_NAV_USD - mv_total, 2)
    return rows, cash


def option_mark(occ: object, day_row: pd.Series, day: date) -> float:
    """BSM mark (per share, cents) of the OCC contract ``occ`` from that day's row of the frame."""
    spot = _csv_float(float(day_row[occ.root]))
    t_years = (occ.expiry - day).days / 365.0
    vol = float(day_row["VIX"]) / 100.0 * IV_MULTIPLIER[occ.root]
    return round(bsm_price(spot, occ.strike, t_years, float(day_row["rf_3m_frac"]), vol,
                           occ.right), 2)


def _csv_float(x: float) -> float:
    """The value as written to (and read back from) market.csv.gz."""
    return float(f"{x:.10g}")


def render(frame: pd.DataFrame, meta: dict, rows: list[dict], cash: float) -> dict[str, bytes]:
    """The three data files, byte for byte."""
    text = io.StringIO()
    text.write(",".join(["date", *frame.columns]) + "\n")
    values = frame.to_numpy()
    for d, row in zip(frame.index, values):
        cells = ["" if not math.isfinite(v) else f"{v:.10g}" for v in row]
        text.write(d.strftime("%Y-%m-%d") + "," + ",".join(cells) + "\n")
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0, compresslevel=9) as gz:
        gz.write(text.getvalue().encode("ascii"))

    book = io.StringIO()
    writer = csv.writer(book, lineterminator="\n")
    writer.writerow(["symbol", "asset_class", "qty", "price", "avg_entry_price", "strategy",
                     "lastday_price"])
    for r in rows:
        writer.writerow([r["symbol"], r["asset_class"], f"{r['qty']:g}",
                         "" if r["price"] is None else f"{r['price']:.2f}",
                         f"{r['avg_entry_price']:.2f}", r["strategy"],
                         "" if r["lastday_price"] is None else f"{r['lastday_price']:.2f}"])
    writer.writerow(["CASH", "", f"{cash:.2f}", "", "", "", ""])

    meta = dict(meta, book={"target_nav_usd": TARGET_NAV_USD, "cash_usd": cash,
                            "option_iv_multiplier_of_vix": IV_MULTIPLIER,
                            "option_pricing": "Black-Scholes-Merton, q = 0, r = 2020 rate step, "
                                              "T = calendar days / 365"})
    return {
        "market.csv.gz": buf.getvalue(),
        "meta.json": (json.dumps(meta, indent=2, sort_keys=True) + "\n").encode("utf-8"),
        "book.csv": book.getvalue().encode("utf-8"),
    }


def build() -> dict[str, bytes]:
    """Generate everything; returns ``{file name: bytes}``."""
    frame, meta = build_frame()
    rows, cash = build_book(frame)
    return render(frame, meta, rows, cash)


def main(argv: list[str] | None = None) -> int:
    root = Path(__file__).resolve().parent.parent
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=root / "wsbrisk_tui" / "data" / "demo")
    args = parser.parse_args(argv)
    # run as a file, the script's own folder is on sys.path, not the repository
    sys.path.insert(0, str(root))
    files = build()
    args.out.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (args.out / name).write_bytes(data)
        print(f"wrote {args.out / name} ({len(data):,} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
