"""ML benchmark (issue 8): prints timings against the budgets. Not a test.

    /work/venv/bin/python benchmarks/bench_ml.py            # ~30 s
    /work/venv/bin/python benchmarks/bench_ml.py --quick    # fewer inference repeats

Lines:

* training every model on the demo book's history (:func:`wsbrisk_tui.engine.ml.evaluate_book`:
  EWMA, GARCH, random forest, gradient boosting and MLP walk-forward at 1 and 5 days, the regime
  model and its rolling backtest, ml_quantile at 95/99%), refit every 63 days: < 60 s;
* inference per refresh with the last fits (features of the newest day, every volatility model at
  both horizons, ml_quantile at both confidences: :func:`wsbrisk_tui.engine.ml.refresh_latest`):
  median < 10 ms.

The book's returns come from :meth:`wsbrisk_tui.runtime.Runtime.risk_context`, as the ``ml``
command builds them.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

from wsbrisk_tui.threads import limit_blas_threads

limit_blas_threads()  # the CLI's policy, before NumPy loads


sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

TRAIN_BUDGET_S = 60.0
INFER_BUDGET_MS = 10.0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer inference repeats")
    args = ap.parse_args(argv)

    from wsbrisk_tui.engine import ml
    from wsbrisk_tui.engine.ml_features import align_vix
    from wsbrisk_tui.runtime import demo_runtime

    _, market, _, inputs = demo_runtime().risk_context()
    r = 100.0 * inputs.portfolio_pnl(1) / inputs.nav
    print(f"demo book: {r.size} daily returns {inputs.dates[0]} .. {inputs.dates[-1]}, "
          f"VIX {'yes' if market.vix is not None else 'no'}")

    start = time.perf_counter()
    book = ml.evaluate_book(r, inputs.dates, vix=market.vix, seed=1)
    train_s = time.perf_counter() - start
    verdict = "PASS" if train_s < TRAIN_BUDGET_S else "OVER"
    print(f"train all models (refit every {ml.DEFAULT_REFIT_EVERY}): {train_s:8.2f} s   "
          f"budget < {TRAIN_BUDGET_S:.0f} s  {verdict}")
    for part, sec in book.seconds.items():
        print(f"    {part:<18} {sec:8.2f} s")
    for ev in book.vol:
        for model, sec in ev.seconds.items():
            print(f"      {ev.horizon_days}d {model:<18} {sec:8.2f} s")

    v = align_vix(inputs.dates, market.vix) if market.vix is not None else None

    def refresh() -> None:
        ml.refresh_latest(book, r, v)

    refresh()
    repeats = 20 if args.quick else 100
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        refresh()
        times.append((time.perf_counter() - t0) * 1000.0)
    med = statistics.median(times)
    verdict = "PASS" if med < INFER_BUDGET_MS else "OVER"
    print(f"inference per refresh (median of {repeats}): {med:8.2f} ms   budget < "
          f"{INFER_BUDGET_MS:.0f} ms  {verdict}")
    for ev in book.vol:
        print(f"  {ev.verdict()}")
    print(f"  regime now: {book.regime.current_label} "
          f"({', '.join(f'{k} {p:.0%}' for k, p in book.regime.current.items())})")
    print("  ml_quantile backtest: " + ", ".join(
        f"{b.confidence:.0%} {b.exceptions}/{b.observations} exc, Kupiec p {b.kupiec_p:.2f}"
        for b in book.quantile.backtests))
    return 0


if __name__ == "__main__":
    sys.exit(main())
