"""History store benchmark: 10,000 refreshes through the daemon's recording path.

Each refresh goes through what the daemon does: compute, alert evaluation (:class:`AlertMonitor`),
one-transaction recording (:meth:`HistoryStore.record`) with the purge every 100 records. The
clock is simulated (one refresh every ``--step`` seconds) so the retention policy acts as it would
over days of running. Sources:

* ``--source synthetic`` (default): hand-built snapshots (``tests/history_factory.py``: 17
  positions, 99 VaR/ES results, 10 stress scenarios; ~4 kB compressed), no engine;
* ``--source demo``: the real demo book through :func:`wsbrisk_tui.runtime.demo_runtime` (the
  engine's caches make refreshes after the first fast; ~37 kB compressed per snapshot).

Printed: time per refresh, resident memory at the start and the end (flat = no leak), and the
store size as retention takes hold.

    python benchmarks/bench_history.py [--source synthetic|demo] [--n 10000] [--step 60] [--full-days 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from history_factory import T0, sample_snapshot  # noqa: E402

from wsbrisk_tui.attach import RecordingRuntime  # noqa: E402
from wsbrisk_tui.config import Config  # noqa: E402
from wsbrisk_tui.engine.history import HistoryStore, history_section  # noqa: E402
from wsbrisk_tui.engine.limits import AlertMonitor  # noqa: E402


def rss_mb() -> float:
    """Current resident set size (VmRSS), MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class Clocked:
    """compute(seq): a demo-sized snapshot at T0 + seq x step; VaR drifts so alerts come and go."""

    def __init__(self, step_s: float) -> None:
        self.step = timedelta(seconds=step_s)

    def compute(self, seq: int):
        wave = 0.045 + 0.01 * ((seq // 50) % 2)  # 4.5% / 5.5% of NAV: the VaR alert fires and clears
        return sample_snapshot(seq=seq, computed_at=T0 + seq * self.step, var99_pct=wave,
                               nav=1e6 + 10 * (seq % 1000))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--step", type=float, default=60.0, help="simulated seconds between refreshes")
    ap.add_argument("--full-days", type=int, default=3, help="history.retention_full_days")
    ap.add_argument("--source", choices=("synthetic", "demo"), default="synthetic")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="bench-history-"))
    store = HistoryStore(tmp / "history.sqlite3", retention_full_days=args.full_days)
    monitor = AlertMonitor(Config().limits.effective(), None, store)
    if args.source == "demo":
        from wsbrisk_tui.runtime import demo_runtime

        sim = {"t": T0}
        runtime = demo_runtime(seed=1, clock=lambda: sim["t"])
        inner = runtime.compute

        def compute(seq: int):
            sim["t"] = T0 + seq * timedelta(seconds=args.step)
            return inner(seq)

        runtime.compute = compute  # type: ignore[method-assign]
    else:
        runtime = Clocked(args.step)
    rec = RecordingRuntime(runtime, store, monitor, with_history=False)
    t = time.perf_counter()
    rec.compute(1)  # warm imports and caches
    print(f"first refresh (imports, fits, caches): {time.perf_counter() - t:.2f} s")
    rss0 = rss_mb()
    times: list[float] = []
    marks = {args.n // 10, args.n // 4, args.n // 2, 3 * args.n // 4, args.n}
    print(f"{args.source}: {args.n:,} refreshes, one per {args.step:g} simulated s, full snapshots kept "
          f"{args.full_days} day(s), purge every {store.purge_every} records")
    print(f"{'records':>8} {'size MB':>8} {'full rows':>9} {'refreshes':>9} {'RSS MB':>7} {'ms/record p50':>13}")
    for seq in range(2, args.n + 1):
        t = time.perf_counter()
        rec.compute(seq)
        times.append(time.perf_counter() - t)
        if seq in marks:
            print(f"{seq:>8,} {store.size_bytes() / 1e6:>8.1f} {store.count('snapshots_full'):>9,} "
                  f"{store.count():>9,} {rss_mb():>7.1f} {1000 * statistics.median(times[-500:]):>13.2f}")
    rss1 = rss_mb()
    q = statistics.quantiles(times, n=100)
    print(f"time per refresh (compute + alerts + record): mean {1000 * statistics.fmean(times):.2f} ms, "
          f"p50 {1000 * q[49]:.2f} ms, p95 {1000 * q[94]:.2f} ms, max {1000 * max(times):.1f} ms")
    print(f"RSS start {rss0:.1f} MB, end {rss1:.1f} MB ({rss1 - rss0:+.1f} MB)")
    now = T0 + args.n * timedelta(seconds=args.step)
    t = time.perf_counter()
    for _ in range(20):
        history_section(store, now, 500)
    print(f"history_section (500 points): {1000 * (time.perf_counter() - t) / 20:.1f} ms")
    t = time.perf_counter()
    for _ in range(20):
        store.latest()
    print(f"latest() (decode one full snapshot): {1000 * (time.perf_counter() - t) / 20:.2f} ms")
    t = time.perf_counter()
    result = store.purge(now)
    print(f"purge (steady state): {1000 * (time.perf_counter() - t):.1f} ms; {result}")
    t = time.perf_counter()
    ok = store.check()
    print(f"integrity_check: {ok[0]} in {1000 * (time.perf_counter() - t):.0f} ms at "
          f"{store.size_bytes() / 1e6:.1f} MB")
    full = store.count("snapshots_full")
    print(f"bytes per kept full refresh (all tables): {store.size_bytes() / max(full, 1) / 1e3:.1f} kB")
    store.close()

    return 0


if __name__ == "__main__":
    raise SystemExit(main())
