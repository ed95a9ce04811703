"""Full revaluation speed: 50 option positions x 10,000 Monte Carlo scenarios (budget 200 ms).

Synthetic, seeded book and scenarios (10 underlyings plus VIX, Student-t returns). Prints the median
of repeated vectorised runs with PASS/OVER against the budget, and the naive way for comparison: a
Python loop over scenarios and options calling a scalar BSM pricer, timed on a subset and
extrapolated to the full grid.

Run: ``python benchmarks/bench_options.py``
"""

from __future__ import annotations

import math
import statistics
import sys
import time
from pathlib import Path

from wsbrisk_tui.threads import limit_blas_threads

limit_blas_threads()  # the CLI's policy, before NumPy loads

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from wsbrisk_tui.engine.options import crr_price, bsm_price  # noqa: E402
from wsbrisk_tui.engine.revaluation import RevalPosition, book_revaluer  # noqa: E402

N_OPTIONS = 50
N_SCENARIOS = 10_000
BUDGET_MS = 200.0
REPEATS = 7
NAIVE_SCENARIOS = 200
TRADING_DAYS = 252.0


def synthetic_book(rng: np.random.Generator) -> tuple[list[RevalPosition], list[str]]:
    underlyings = [f"U{i}" for i in range(10)]
    spots = dict(zip(underlyings, rng.uniform(20.0, 800.0, len(underlyings))))
    positions = []
    for i in range(N_OPTIONS):
        und = underlyings[i % len(underlyings)]
        S = spots[und]
        right = 1.0 if rng.random() < 0.5 else -1.0
        T0 = rng.integers(0, 120) / 365.0 or 1.0 / (365 * 24)
        K = round(S * rng.uniform(0.85, 1.15), 1)
        iv = rng.uniform(0.12, 0.8)
        american = right < 0  # puts carry an early-exercise premium
        eep = 0.0
        if american:
            eep = float(crr_price(S, K, T0, 0.04, 0.0, iv, right) - bsm_price(S, K, T0, 0.04, 0.0, iv, right))
        positions.append(RevalPosition(symbol=f"O{i}", underlying=und, qty=float(rng.integers(-10, 11) or 1),
                                       kind="option", multiplier=100.0, spot0=S, strike=K, right=right, T0=T0,
                                       iv0=iv, american=american, eep=max(eep, 0.0)))
    return positions, underlyings + ["VIX"]


def scalar_bsm(S: float, K: float, T: float, r: float, sigma: float, w: float) -> float:
    if T <= 0:
        return max(w * (S - K), 0.0)
    st = sigma * math.sqrt(T)
    d1 = (math.log(S / K) + (r + 0.5 * sigma * sigma) * T) / st
    d2 = d1 - st
    n = lambda x: 0.5 * math.erfc(-x / math.sqrt(2.0))  # noqa: E731
    return w * (S * n(w * d1) - K * math.exp(-r * T) * n(w * d2))


def naive(positions: list[RevalPosition], assets: list[str], R: np.ndarray, h: int, vix0: float) -> np.ndarray:
    col = {a: j for j, a in enumerate(assets)}
    jv = col["VIX"]
    out = np.empty((R.shape[0], len(positions)))
    for s in range(R.shape[0]):
        for i, p in enumerate(positions):
            S1 = p.spot0 * (1.0 + R[s, col[p.underlying]])
            sig = max(p.iv0 + vix0 * R[s, jv] / 100.0, min(0.01, p.iv0))
            T1 = p.T0 - h / TRADING_DAYS
            v0 = scalar_bsm(p.spot0, p.strike, p.T0, 0.04, p.iv0, p.right) + p.eep
            v1 = scalar_bsm(S1, p.strike, T1, 0.04, sig, p.right)
            if p.american and T1 > 0:
                v1 = max(v1 + p.eep, max(p.right * (S1 - p.strike), 0.0))
            out[s, i] = (v1 - v0) * p.qty * p.multiplier
    return out


def main() -> int:
    rng = np.random.default_rng(12345)
    positions, assets = synthetic_book(rng)
    R = rng.standard_t(4, size=(N_SCENARIOS, len(assets))) * 0.015
    R[:, -1] *= 5.0  # VIX moves several times more than equities
    vix0 = 18.0
    rv = book_revaluer(positions, assets, None, 0.04, vol_level=vix0)
    rv(R, 1)  # warm-up
    times = []
    for _ in range(REPEATS):
        t0 = time.perf_counter()
        pnl = rv(R, 1)
        times.append((time.perf_counter() - t0) * 1000.0)
    median_ms = statistics.median(times)
    verdict = "PASS" if median_ms < BUDGET_MS else "OVER"
    print(f"full revaluation: {N_OPTIONS} options x {N_SCENARIOS:,} scenarios: median {median_ms:.1f} ms "
          f"over {REPEATS} runs (budget {BUDGET_MS:.0f} ms) {verdict}")

    sub = R[:NAIVE_SCENARIOS]
    t0 = time.perf_counter()
    slow = naive(positions, assets, sub, 1, vix0)
    naive_ms = (time.perf_counter() - t0) * 1000.0 * N_SCENARIOS / NAIVE_SCENARIOS
    err = float(np.max(np.abs(slow - pnl[:NAIVE_SCENARIOS])))
    print(f"naive scalar loop: {NAIVE_SCENARIOS} scenarios timed, extrapolated to {N_SCENARIOS:,}: "
          f"{naive_ms:.0f} ms; vectorised is {naive_ms / median_ms:.0f}x faster "
          f"(max |difference| {err:.2e} $)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
