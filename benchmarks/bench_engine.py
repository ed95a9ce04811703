"""Engine benchmark: prints timings (median of N runs, ms) and the issue's budgets. Not a test.

    /work/venv/bin/python benchmarks/bench_engine.py            # full, ~1-2 minutes
    /work/venv/bin/python benchmarks/bench_engine.py --quick    # fewer repeats, ~30 s

Every line is "fast way" beside the "naive way" (pandas row loops, ``.apply`` per window, Python
loops per path, a fresh GARCH fit per day/refresh) and their ratio. Data is SYNTHETIC (seeded
``numpy.random.default_rng``) except the demo book, which comes from
``wsbrisk_tui.engine.sources.demo`` when that module exists. Lines whose engine module is not
there yet (the risk suite, the t copula) are skipped with a message.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import math
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from wsbrisk_tui.threads import limit_blas_threads

limit_blas_threads()  # the CLI's policy, before NumPy loads

import numpy as np  # noqa: E402
from _timing import median_ms  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from wsbrisk_tui.engine.inputs import RiskInputs, linear_inputs  # noqa: E402
from wsbrisk_tui.engine.var import historical  # noqa: E402
from wsbrisk_tui.engine.volatility import (  # noqa: E402
    FitCache,
    fit_garch,
    garch_rolling_forecasts,
    garch_var_es,
)

SEED = 20240611
CONF = (0.95, 0.99)
NAME_WIDTH = 60


# --------------------------------------------------------------------------------------------
# Timing and printing
# --------------------------------------------------------------------------------------------




def fmt_ms(ms: float | None) -> str:
    if ms is None:
        return "-"
    return f"{ms:,.2f}" if ms < 10 else f"{ms:,.0f}"


def row(name: str, fast_ms: float, naive_ms: float | None = None, naive_label: str = "",
        budget_ms: float | None = None) -> None:
    ratio = f"{naive_ms / fast_ms:,.0f}x" if naive_ms is not None and fast_ms > 0 else "-"
    verdict = ""
    if budget_ms is not None:
        verdict = f"budget < {fmt_ms(budget_ms)} ms: {'PASS' if fast_ms < budget_ms else 'OVER'}"
    print(f"  {name:<{NAME_WIDTH}} {fmt_ms(fast_ms):>8} ms  naive {fmt_ms(naive_ms):>8} ms "
          f"{ratio:>7}  {verdict}")
    if naive_label:
        print(f"  {'':<{NAME_WIDTH}} (naive: {naive_label})")


def section(title: str) -> None:
    print(f"\n{title}")


# --------------------------------------------------------------------------------------------
# Synthetic data (labelled SYNTHETIC everywhere it is used)
# --------------------------------------------------------------------------------------------


def synthetic_prices(n_assets: int, n_days: int, seed: int) -> np.ndarray:
    """SYNTHETIC (n_days + 1, n_assets) prices: one market factor plus idiosyncratic t(5) noise,
    daily vols 1-3%, the market factor with GARCH(1,1) variance so GARCH fits have work to do."""
    rng = np.random.default_rng(seed)
    omega, alpha, beta = 0.02e-4, 0.08, 0.90
    s2 = omega / (1 - alpha - beta)
    market = np.empty(n_days)
    z = rng.standard_normal(n_days)
    for t in range(n_days):
        market[t] = math.sqrt(s2) * z[t]
        s2 = omega + alpha * market[t] ** 2 + beta * s2
    betas = rng.uniform(0.5, 1.5, n_assets)
    idio_vol = rng.uniform(0.008, 0.025, n_assets)
    idio = rng.standard_t(5, (n_days, n_assets)) * math.sqrt(3 / 5) * idio_vol
    returns = 0.0003 + market[:, None] * betas + idio
    prices = 100.0 * np.vstack([np.ones(n_assets), np.cumprod(1.0 + returns, axis=0)])
    return prices


def synthetic_inputs(n_assets: int, n_days: int, seed: int) -> RiskInputs:
    """A SYNTHETIC linear book: one position per asset, long $10k-$100k each, 10% cash."""
    prices = synthetic_prices(n_assets, n_days, seed)
    rng = np.random.default_rng(seed + 1)
    values = rng.uniform(10_000, 100_000, n_assets)
    names = [f"SYN{i:03d}" for i in range(n_assets)]
    dates = np.arange(np.datetime64("2019-01-02"), np.datetime64("2019-01-02") + n_days + 1)
    return linear_inputs(dates, names, prices, names, np.diag(values), nav=values.sum() / 0.9,
                         notes=("SYNTHETIC benchmark book",))


# --------------------------------------------------------------------------------------------
# Benchmarks of the building blocks
# --------------------------------------------------------------------------------------------


def bench_historical(inp: RiskInputs, repeats: int) -> None:
    import pandas as pd

    def fast() -> None:
        pnl = inp.asset_returns @ inp.values
        historical(pnl, CONF)

    frame = pd.DataFrame(inp.asset_returns, columns=list(inp.assets))
    weights = pd.Series(inp.values, index=list(inp.assets))

    def naive() -> None:
        pnl = frame.apply(lambda r: (r * weights).sum(), axis=1)
        for c in CONF:
            var = -pnl.quantile(1 - c)
            pnl[pnl <= -var].mean()

    row("historical VaR+ES, 50 assets x 1,260 d, 2 levels", median_ms(fast, repeats),
        median_ms(naive, max(1, repeats // 3)), "DataFrame.apply per row + Series.quantile")


def bench_rolling_historical(inp: RiskInputs, repeats: int) -> None:
    import pandas as pd
    from numpy.lib.stride_tricks import sliding_window_view

    pnl = inp.asset_returns @ inp.values
    window = 252

    def fast() -> np.ndarray:
        w = sliding_window_view(pnl, window)
        return -np.quantile(w, 0.01, axis=1)

    def fast_partition() -> np.ndarray:
        # 1% of 252 with linear interpolation sits between order stats k and k+1 (0-based)
        pos = 0.01 * (window - 1)
        k = int(pos)
        frac = pos - k
        w = np.partition(sliding_window_view(pnl, window), (k, k + 1), axis=1)
        return -(w[:, k] + frac * (w[:, k + 1] - w[:, k]))

    assert fast().shape[0] == 1009
    np.testing.assert_allclose(fast(), fast_partition(), rtol=1e-12)
    series = pd.Series(pnl)

    def naive() -> None:
        series.rolling(window).apply(lambda x: -np.quantile(x, 0.01), raw=False)

    naive_ms = median_ms(naive, 1, warmup=0)
    row("rolling 252-d historical VaR, 1,009 windows (np.quantile)", median_ms(fast, repeats),
        naive_ms, "Series.rolling().apply per window")
    row("rolling 252-d historical VaR, 1,009 windows (np.partition)",
        median_ms(fast_partition, repeats), naive_ms)


def _mc_normal_fast(cov_chol: np.ndarray, mean: np.ndarray, values: np.ndarray, n_paths: int,
                    rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    # Few large temporaries: a fresh multi-MB array costs page faults comparable to the maths.
    half = n_paths // 2
    z = rng.standard_normal((2 * half, mean.size))
    np.negative(z[:half], out=z[half:])  # antithetic pairs
    returns = z @ cov_chol.T
    returns += mean
    pnl = returns @ values
    return historical(pnl, CONF)


def bench_monte_carlo(inp: RiskInputs, repeats: int) -> None:
    r = inp.asset_returns
    mean, cov = r.mean(axis=0), np.cov(r, rowvar=False)
    chol = np.linalg.cholesky(cov)
    rng = np.random.default_rng(SEED)

    ref_ms = median_ms(lambda: _mc_normal_fast(chol, mean, inp.values, 10_000, rng), repeats)
    naive_paths = 1_000

    def naive() -> None:
        g = np.random.default_rng(SEED)
        pnl = [float(g.multivariate_normal(mean, cov) @ inp.values) for _ in range(naive_paths)]
        historical(np.asarray(pnl), CONF)

    naive_ms = median_ms(naive, 1, 0) * (10_000 / naive_paths)
    naive_label = (f"multivariate_normal per path in a Python loop, timed on {naive_paths:,} "
                   "paths, scaled")
    mc = _optional("wsbrisk_tui.engine.montecarlo")
    if mc is None:
        print("  (engine montecarlo.py not there yet: only this script's reference implementation)")
    else:
        fit = mc.fit_normal(inp.asset_returns[-252:])  # cached by the suite between refreshes
        engine_ms = median_ms(lambda: mc.monte_carlo_normal(inp, CONF, (1,), 10_000, rng=rng,
                                                            fit=fit), repeats)
        row("MC normal 10,000 antithetic paths x 50 assets (engine)", engine_ms, naive_ms,
            naive_label, budget_ms=20)
        naive_label = ""
    row("MC normal 10,000 antithetic paths x 50 assets (script)", ref_ms, naive_ms,
        naive_label, budget_ms=20)


def bench_bootstrap(inp: RiskInputs, repeats: int) -> None:
    import pandas as pd

    pnl = inp.asset_returns @ inp.values
    rng = np.random.default_rng(SEED)

    def fast() -> None:
        idx = rng.integers(0, pnl.size, size=(1000, pnl.size))
        np.quantile(pnl[idx], 0.01, axis=1)

    series = pd.Series(pnl)

    def naive() -> None:
        [series.sample(frac=1.0, replace=True, random_state=i).quantile(0.01)
         for i in range(1000)]

    row("bootstrap 99% VaR, 1,000 replicates x 1,260 d", median_ms(fast, repeats),
        median_ms(naive, 1, 0), "Series.sample + quantile per replicate")


def bench_garch(inp: RiskInputs, repeats: int, quick: bool) -> None:
    returns_pct = 100.0 * inp.asset_returns  # each asset's own series, percent
    labels = inp.dates

    def fit_all() -> None:
        for j in range(returns_pct.shape[1]):
            fit_garch(returns_pct[:, j], "t")

    fresh_ms = median_ms(fit_all, 1 if quick else 2, warmup=0)
    row("GARCH(1,1)-t fits, 50 assets x 1,260 d (arch, fresh)", fresh_ms)
    cache = FitCache(refit_days=20)
    for j in range(returns_pct.shape[1]):
        cache.garch(returns_pct[:-1, j], "t", labels[:-1], series=j)

    def one_new_day() -> None:
        # a new day arrived: the cache refilters with the cached parameters
        cache.clear(keep_garch_params=True)
        for j in range(returns_pct.shape[1]):
            cache.garch(returns_pct[:, j], "t", labels, series=j)

    row("GARCH(1,1)-t 50 assets x 1,260 d, new day via FitCache", median_ms(one_new_day, repeats),
        fresh_ms, "a fresh arch fit per asset")

    pnl_pct = 100.0 * (inp.asset_returns @ inp.values) / inp.nav
    fit = fit_garch(pnl_pct, "t")
    row("GARCH-t VaR/ES ladder from a fit (3 levels x 3 horizons)",
        median_ms(lambda: garch_var_es(fit, (0.95, 0.99, 0.999), (1, 5, 10)), repeats))

    def rolling() -> None:
        garch_rolling_forecasts(pnl_pct, 1000, 250, (0.95, 0.99, 0.999), "t", refit_every=20)

    rolling_ms = median_ms(rolling, 1 if quick else 3, warmup=0)
    naive_days = 50 if quick else 250

    def naive_rolling() -> None:
        start = pnl_pct.size - 250
        for k in range(naive_days):
            f = fit_garch(pnl_pct[start + k - 1000:start + k], "t")
            garch_var_es(f, (0.95, 0.99, 0.999), (1,))

    naive_ms = median_ms(naive_rolling, 1, warmup=0) * (250 / naive_days)
    label = "a fresh GARCH fit every day"
    if naive_days < 250:
        label += f" (timed on {naive_days} of 250 days, scaled)"
    row("rolling GARCH-t backtest, 250 d, refit every 20 (13 fits)", rolling_ms, naive_ms, label,
        budget_ms=1000)


# --------------------------------------------------------------------------------------------
# Optional pieces from other modules (the risk suite, the demo book, the t copula)
# --------------------------------------------------------------------------------------------


def _optional(module: str) -> Any | None:
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name is not None and module.startswith(exc.name):
            return None
        raise


def bench_copula(inp: RiskInputs, repeats: int) -> None:
    mc = _optional("wsbrisk_tui.engine.montecarlo")
    if mc is None or not hasattr(mc, "monte_carlo_t_copula"):
        print("  t-copula fit + 10,000 paths: skipped (wsbrisk_tui.engine.montecarlo has no "
              "monte_carlo_t_copula yet)")
        return
    rng = np.random.default_rng(SEED)
    # model=None: the copula and marginals are fitted inside every call
    ms = median_ms(lambda: mc.monte_carlo_t_copula(inp, CONF, (1,), 10_000, rng=rng),
                   max(1, repeats // 2))
    row("t-copula fit + 10,000 paths, 50 assets x 252 d", ms, budget_ms=500)


def demo_inputs() -> RiskInputs | None:
    demo = _optional("wsbrisk_tui.engine.sources.demo")
    if demo is None:
        return None
    market = demo.demo_market_data()
    book = demo.demo_portfolio()
    linear = [p for p in book.positions if p.option is None]
    prices = market.prices[[p.underlying for p in linear]].dropna()
    last = prices.iloc[-1].to_numpy(dtype=float)
    values = np.array([p.market_value_at(px) for p, px in zip(linear, last)])
    assets = [p.underlying for p in linear]
    # one exposure column per distinct underlying
    uniq = list(dict.fromkeys(assets))
    exposure = np.zeros((len(linear), len(uniq)))
    for i, a in enumerate(assets):
        exposure[i, uniq.index(a)] = values[i]
    nav = book.equity if book.equity else (book.cash or 0.0) + values.sum()
    px = prices[uniq].to_numpy(dtype=float)
    return linear_inputs(prices.index.to_numpy(dtype="datetime64[D]"), uniq, px,
                         [p.symbol for p in linear], exposure, nav=float(nav),
                         notes=("demo book, non-option positions at the last close",))


def bench_suite(repeats: int, quick: bool) -> None:
    suite = _optional("wsbrisk_tui.engine.suite")
    if suite is None or not hasattr(suite, "run_risk_suite"):
        print("  skipped: wsbrisk_tui.engine.suite.run_risk_suite is not there yet")
        return
    settings = _suite_settings(suite)

    def run(inp: RiskInputs, cache: FitCache) -> Any:
        return suite.run_risk_suite(inp, settings, np.random.default_rng(SEED), cache)

    books: list[tuple[str, RiskInputs, float | None, float | None, int]] = []
    demo = demo_inputs()
    redo_runs = 1 if quick else 3
    if demo is None:
        print("  demo book: skipped (wsbrisk_tui.engine.sources.demo not there yet)")
    else:
        books.append((f"demo ({len(demo.positions)} linear positions x {demo.n_obs:,} d)",
                      demo, 100.0, 2000.0, redo_runs))
    books.append(("SYNTHETIC 50 x 1,260 d", synthetic_inputs(50, 1260, SEED), None, None,
                  redo_runs))
    # 500 assets: one every-fit-redone run (~30 s), the one that fills the cache
    books.append(("SYNTHETIC 500 x 1,260 d", synthetic_inputs(500, 1260, SEED + 7), 1000.0,
                  None, 0))
    run(books[0][1], FitCache())  # imports and first-call costs out of the figures
    for label, inp, cached_budget, redo_budget, n_redo in books:
        cache = FitCache()
        t0 = time.perf_counter()
        redo_res = run(inp, cache)  # fills the cache: every fit done
        redo_times = [(time.perf_counter() - t0) * 1e3]
        for _ in range(n_redo):
            cache.clear()
            t0 = time.perf_counter()
            redo_res = run(inp, cache)
            redo_times.append((time.perf_counter() - t0) * 1e3)
        redo_ms = statistics.median(redo_times[1:] or redo_times)
        cached_res: list[Any] = []
        cached_ms = median_ms(lambda: cached_res.append(run(inp, cache)), repeats, warmup=0)
        row(f"suite, {label}: cached", cached_ms, redo_ms, "every fit redone (cache "
            "cleared each refresh)", budget_ms=cached_budget)
        _slowest(cached_res[-1])
        row(f"suite, {label}: all fits redone", redo_ms, budget_ms=redo_budget)
        _slowest(redo_res)


def _slowest(result: Any, n: int = 4) -> None:
    """The suite's own per-part timings (RiskResults.timings, seconds) of one run."""
    timings = getattr(result, "timings", None) or {}
    parts = sorted(((k, v) for k, v in timings.items() if k != "total"), key=lambda kv: -kv[1])
    text = ", ".join(f"{k} {v * 1e3:,.0f}" for k, v in parts[:n])
    print(f"  {'':<{NAME_WIDTH}} (slowest parts, ms: {text})")


def _suite_settings(suite: Any) -> Any:
    """The suite's default settings object, whatever part A named it."""
    for name in ("SuiteSettings", "RiskSettings", "Settings"):
        cls = getattr(suite, name, None)
        if cls is not None:
            return cls()
    param = inspect.signature(suite.run_risk_suite).parameters.get("settings")
    if param is not None and param.default is not inspect.Parameter.empty:
        return param.default
    raise SystemExit("cannot build default settings for run_risk_suite; update this benchmark")


# --------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats (about 30 s)")
    args = parser.parse_args(argv)
    repeats = 3 if args.quick else 9
    t_start = time.perf_counter()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"wsbrisk-tui engine benchmark: median of {repeats} runs, ms "
          f"(python {sys.version.split()[0]}, numpy {np.__version__}, {os.cpu_count()} cores, "
          f"load average {load:.1f} at start); data SYNTHETIC unless labelled demo")
    inp = synthetic_inputs(50, 1260, SEED)

    section("Building blocks (SYNTHETIC 50 assets x 1,260 days)")
    bench_historical(inp, repeats)
    bench_rolling_historical(inp, repeats)
    bench_monte_carlo(inp, repeats)
    bench_copula(inp, repeats)
    bench_bootstrap(inp, repeats)

    section("GARCH (SYNTHETIC)")
    bench_garch(inp, repeats, args.quick)

    section("Full risk suite (suite.run_risk_suite)")
    bench_suite(repeats, args.quick)

    print(f"\ntotal benchmark time {time.perf_counter() - t_start:,.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
