"""Stress, correlation and factor benchmark: prints median timings (ms) against the budgets. Not a test.

    /work/venv/bin/python benchmarks/bench_stress.py            # ~15 s
    /work/venv/bin/python benchmarks/bench_stress.py --quick    # fewer repeats

Lines (issue 6 budgets):

* full stress (every library scenario with replays) + correlation (DCC fit cached) + factors on
  the demo book, options included (full revaluation): median < 50 ms;
* DCC-GARCH fit on 50 assets x 1,260 days of data simulated from a DCC (seeded Generator), no
  cache: < 3 s (50 univariate GARCH fits by arch + the composite-likelihood second stage);
* what-if (parse + P&L) on the demo book with the model built once: < 20 ms.

The risk inputs are built by :meth:`wsbrisk_tui.runtime.Runtime.risk_context`, the same path the
``stress`` command uses.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from wsbrisk_tui.threads import limit_blas_threads

limit_blas_threads()  # the CLI's policy, before NumPy loads

import numpy as np  # noqa: E402
from _timing import median_ms  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def line(name: str, ms: float, budget_ms: float) -> None:
    verdict = "PASS" if ms < budget_ms else "OVER"
    print(f"{name:<62} {ms:>10.2f} ms   budget {budget_ms:>7.0f} ms   {verdict}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    args = parser.parse_args()
    repeats = 5 if args.quick else 21

    from wsbrisk_tui.engine.correlation import correlation_section
    from wsbrisk_tui.engine.dcc import fit_dcc, simulate_dcc
    from wsbrisk_tui.engine.factors import factor_panel, factor_risk_section
    from wsbrisk_tui.engine.stress import build_stress_model, stress_section
    from wsbrisk_tui.engine.volatility import FitCache
    from wsbrisk_tui.runtime import demo_runtime

    _, market, _, inputs = demo_runtime().risk_context()
    print(f"demo book: {len(inputs.positions)} positions on {len(inputs.assets)} series "
          f"({', '.join(inputs.assets)}); options revalued in full: {not inputs.linear}")
    cache = FitCache()
    t0 = time.perf_counter()
    correlation_section(inputs, market, method="ewma", cache=cache)
    print(f"{'first correlation section (DCC + t-copula fits, uncached)':<62} "
          f"{(time.perf_counter() - t0) * 1e3:>10.2f} ms")

    def full() -> None:
        panel = factor_panel(market.prices)
        model = build_stress_model(inputs, market, panel=panel)
        stress_section(inputs, market, model=model, limit_pct=0.25)
        correlation_section(inputs, market, method="ewma", cache=cache)
        factor_risk_section(inputs, market, panel=panel)

    line("stress (all scenarios + replays) + correlation + factors", median_ms(full, repeats), 50)

    model = build_stress_model(inputs, market)
    line("what-if 'SPY=-7%,VIX=+15,rates=+50bp' (model built once)",
         median_ms(lambda: model.what_if("SPY=-7%,VIX=+15,rates=+50bp"), repeats * 5), 20)

    n_assets, n_days = 50, 1260
    qbar = np.full((n_assets, n_assets), 0.3)
    np.fill_diagonal(qbar, 1.0)
    r = simulate_dcc(np.random.default_rng(20240611), n_days, qbar, 0.03, 0.95) / 100.0
    names = [f"A{i:02d}" for i in range(n_assets)]
    fit_dcc(r[:, :2], names[:2])  # import arch and warm its code paths outside the timing
    t0, c0 = time.perf_counter(), time.process_time()
    fit = fit_dcc(r, names)
    ms, cpu_ms = (time.perf_counter() - t0) * 1e3, (time.process_time() - c0) * 1e3
    line(f"DCC fit {n_assets} assets x {n_days} days ({fit.likelihood})", ms, 3000)
    print(f"    CPU time of that fit {cpu_ms:.0f} ms (wall > CPU when other processes share the cores); "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"    estimates a={fit.a:.4f} b={fit.b:.4f} (true 0.03, 0.95), converged={fit.converged}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
