"""Dashboard benchmarks on the demo book: time to first paint, memory over many refreshes.

Run from the repository root::

    python benchmarks/bench_tui.py              # quick: 3 launches, a 1-minute soak
    python benchmarks/bench_tui.py --minutes 10 --launches 5

1. Launch to first paint. A fresh interpreter runs the headless app (160x48) on the demo book
   and prints wall-clock timestamps when the first frame is painted (status bar, empty panes)
   and when the first SnapshotReady has been rendered (numbers on screen). The parent takes
   its own timestamp just before starting the process, so interpreter start-up and imports are
   included. Budget: first snapshot rendered < 1.5 s.
2. Memory soak. The app refreshes every second for ``--minutes`` while the panes are switched
   every few seconds; RSS (``/proc/self/status`` VmRSS) is sampled every 5 s. Budget: RSS below
   300 MB, and not growing: the second half of the run may add at most 5 MB.

Figures are printed with PASS/OVER; this is a benchmark, not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIRST_SNAPSHOT_BUDGET_S = 1.5
RSS_BUDGET_MB = 300.0
RSS_GROWTH_BUDGET_MB = 5.0
SIZE = (160, 48)


def rss_mb() -> float:
    """Resident set size of this process in MB (Linux /proc)."""
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    raise RuntimeError("VmRSS not found in /proc/self/status (Linux only)")


# -- child processes -----------------------------------------------------------------------


def child_first_paint() -> None:
    from wsbrisk_tui.threads import limit_blas_threads

    limit_blas_threads()  # as the command line does, before NumPy is imported
    from wsbrisk_tui.app import create_app
    from wsbrisk_tui.runtime import demo_runtime

    events: dict[str, float] = {}

    def first_render(snapshot) -> None:
        events["first_snapshot"] = time.time()
        events["compute_seconds"] = snapshot.meta.compute_seconds

    runtime = demo_runtime()
    runtime.quick_first = True  # as `wsbrisk-tui` does: a fast partial pass, then the full one

    def compute(seq: int):
        events.setdefault("compute_started", time.time())
        snapshot = runtime.compute(seq)
        events.setdefault("compute_done", time.time())
        if not snapshot.meta.partial:
            events.setdefault("full_snapshot", time.time())
        return snapshot

    app = create_app(runtime, on_first_render=first_render, compute=compute)

    async def pilot_run(pilot) -> None:
        while "first_snapshot" not in events or "full_snapshot" not in events:
            if app.failure is not None:
                events["error"] = app.failure.error  # type: ignore[assignment]
                break
            await pilot.pause(0.01)
        app.exit()

    app.run(headless=True, size=SIZE, auto_pilot=pilot_run)
    events["first_frame"] = app.ready_at or float("nan")
    print("RESULT " + json.dumps(events), flush=True)


def child_soak(minutes: float, interval_s: float) -> None:
    from wsbrisk_tui.threads import limit_blas_threads

    limit_blas_threads()
    from wsbrisk_tui.app import PANE_NAMES, create_app
    from wsbrisk_tui.runtime import demo_runtime

    runtime = demo_runtime()
    config = runtime.config.with_overrides({"general.refresh_seconds": interval_s})
    app = create_app(runtime, config=config)
    samples: list[tuple[float, int, float]] = []

    async def pilot_run(pilot) -> None:
        while app.snapshot is None:
            await pilot.pause(0.1)
        t0 = time.monotonic()
        next_sample = t0
        pane = 0
        while time.monotonic() - t0 < minutes * 60:
            now = time.monotonic()
            if now >= next_sample:
                samples.append((now - t0, len(app.rendered_seqs), rss_mb()))
                next_sample += 5.0
                pane = (pane + 1) % len(PANE_NAMES)
                app.action_show_pane(PANE_NAMES[pane])
            await pilot.pause(0.25)
        samples.append((time.monotonic() - t0, len(app.rendered_seqs), rss_mb()))
        app.exit()

    app.run(headless=True, size=SIZE, auto_pilot=pilot_run)
    worker = app.worker
    print("RESULT " + json.dumps({
        "samples": samples,
        "computes": worker.completed if worker else 0,
        "failures": worker.failures if worker else 0,
        "dropped": app.dropped_snapshots,
        "last_duration": worker.last_duration if worker else None,
    }), flush=True)


# -- parent ----------------------------------------------------------------------------------


def run_child(args: list[str], timeout: float) -> dict:
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    started = time.time()
    proc = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True,
                          timeout=timeout, env=env, cwd=ROOT)
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")), None)
    if proc.returncode != 0 or line is None:
        raise SystemExit(f"child {args} failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    result = json.loads(line[len("RESULT "):])
    result["launched"] = started
    return result


def verdict(ok: bool) -> str:
    return "PASS" if ok else "OVER"


def bench_first_paint(launches: int) -> None:
    print(f"launch -> first paint, demo book, {SIZE[0]}x{SIZE[1]} headless, {launches} launches")
    frames, snaps, computes, renders, fulls = [], [], [], [], []
    for i in range(launches):
        r = run_child(["--child", "first-paint"], timeout=600)
        if "error" in r:
            print(f"  launch {i + 1}: first refresh failed: {r['error']}")
            continue
        frames.append(r["first_frame"] - r["launched"])
        snaps.append(r["first_snapshot"] - r["launched"])
        computes.append(r["compute_done"] - r["compute_started"])
        renders.append(r["first_snapshot"] - r["compute_done"])
        fulls.append(r["full_snapshot"] - r["launched"])
        print(f"  launch {i + 1}: first frame {frames[-1]:.2f} s, first (quick) snapshot rendered "
              f"{snaps[-1]:.2f} s, full snapshot computed {fulls[-1]:.2f} s "
              f"(runtime.compute {computes[-1]:.2f} s, of which pipeline {r['compute_seconds']:.2f} s; "
              f"compute end -> rendered {renders[-1] * 1000:.0f} ms)")
    if not snaps:
        print("  no successful launch")
        return
    med = statistics.median(snaps)
    print(f"  first frame (status bar, empty panes): median {statistics.median(frames):.2f} s")
    print(f"  first snapshot rendered: median {med:.2f} s, best {min(snaps):.2f} s "
          f"(runtime.compute median {statistics.median(computes):.2f} s; compute end -> rendered "
          f"{statistics.median(renders) * 1000:.0f} ms)  budget {FIRST_SNAPSHOT_BUDGET_S} s  "
          f"{verdict(med < FIRST_SNAPSHOT_BUDGET_S)}")
    print(f"  full snapshot (every method, backtests, correlation) computed: median "
          f"{statistics.median(fulls):.2f} s after launch")


def bench_soak(minutes: float, interval_s: float) -> None:
    print(f"memory soak: refresh every {interval_s:g} s for {minutes:g} min, panes switched every 5 s")
    r = run_child(["--child", "soak", "--minutes", str(minutes), "--interval", str(interval_s)],
                  timeout=minutes * 60 + 900)
    samples = r["samples"]
    for t, renders, rss in samples[:: max(1, len(samples) // 12)]:
        print(f"  t={t:6.1f} s  renders={renders:5d}  RSS {rss:7.1f} MB")
    first, last = samples[0], samples[-1]
    half = samples[len(samples) // 2]
    growth = last[2] - half[2]
    peak = max(s[2] for s in samples)
    print(f"  refreshes computed {r['computes']} (failed {r['failures']}), rendered {last[1]}, "
          f"conflated {r['dropped']}, last compute {r['last_duration'] or 0:.2f} s")
    print(f"  RSS start {first[2]:.1f} MB, end {last[2]:.1f} MB, peak {peak:.1f} MB  budget {RSS_BUDGET_MB:g} MB  "
          f"{verdict(peak < RSS_BUDGET_MB)}")
    print(f"  RSS growth over the second half: {growth:+.1f} MB  budget {RSS_GROWTH_BUDGET_MB:g} MB  "
          f"{verdict(growth <= RSS_GROWTH_BUDGET_MB)}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--minutes", type=float, default=1.0, help="soak duration (default 1, the quick mode)")
    p.add_argument("--interval", type=float, default=1.0, help="refresh interval in the soak (s)")
    p.add_argument("--launches", type=int, default=3, help="launches to time (default 3)")
    p.add_argument("--skip-soak", action="store_true")
    p.add_argument("--child", choices=("first-paint", "soak"), help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child == "first-paint":
        child_first_paint()
        return
    if args.child == "soak":
        child_soak(args.minutes, args.interval)
        return
    bench_first_paint(args.launches)
    if not args.skip_soak:
        bench_soak(args.minutes, args.interval)


if __name__ == "__main__":
    main()
