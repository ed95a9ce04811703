"""The refresh loop without Textual: no overlap, conflation, failures, pause, refresh_now."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import pytest
from snapshot_factory import make_snapshot

from wsbrisk_tui.engine.worker import EngineFailure, EngineWorker, LatestSlot


class Recorder:
    """A publish callback that records results and lets a test wait for the n-th one."""

    def __init__(self) -> None:
        self.items: list = []
        self._cond = threading.Condition()

    def __call__(self, item) -> None:
        with self._cond:
            self.items.append(item)
            self._cond.notify_all()

    def wait_for(self, n: int, timeout: float = 5.0) -> list:
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self.items) < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"only {len(self.items)} of {n} results after {timeout}s")
                self._cond.wait(left)
            return list(self.items)


@pytest.fixture
def workers():
    started: list[EngineWorker] = []
    yield started
    for w in started:
        assert w.stop(timeout=5.0), "worker thread did not exit"


def test_refreshes_never_overlap_and_rearm_after_compute(workers):
    active = 0
    max_active = 0
    starts: list[float] = []
    ends: list[float] = []
    lock = threading.Lock()

    def slow_compute(seq):
        nonlocal active, max_active
        with lock:
            active += 1
            max_active = max(max_active, active)
            starts.append(time.monotonic())
        time.sleep(0.15)  # longer than the interval: a naive timer would overlap
        with lock:
            active -= 1
            ends.append(time.monotonic())
        return make_snapshot(seq)

    rec = Recorder()
    w = EngineWorker(slow_compute, interval_s=0.2, publish=rec)
    workers.append(w)
    w.start()
    w.refresh_now()  # a request during a compute must not start a second one concurrently
    items = rec.wait_for(4, timeout=10)
    assert max_active == 1
    assert [s.meta.seq for s in items[:4]] == [1, 2, 3, 4]
    # The timer re-arms after a compute finishes: the gap end(k) -> start(k+1) is the interval,
    # except once right after the refresh_now request. 0.15 s tolerance for a busy 2-core box.
    gaps = [starts[i + 1] - ends[i] for i in range(3)]
    assert sum(1 for g in gaps if g >= 0.2 - 0.02) >= 2, gaps
    assert all(g >= -0.001 for g in gaps), gaps


def test_latest_slot_keeps_only_newest_and_counts_drops():
    slot: LatestSlot[int] = LatestSlot()
    assert slot.put(1) is True  # empty -> consumer needs a wake-up
    assert slot.put(2) is False  # replaced, not queued
    assert slot.put(3) is False
    assert slot.dropped == 2
    assert slot.take() == 3
    assert slot.take() is None
    assert slot.put(4) is True
    assert slot.dropped == 2 and slot.put_count == 4


def test_conflation_when_consumer_is_slow(workers):
    slot: LatestSlot = LatestSlot()
    rec = Recorder()

    def publish(item):
        slot.put(item)
        rec(item)

    w = EngineWorker(lambda seq: make_snapshot(seq), interval_s=0.2, publish=publish)
    workers.append(w)
    w.start()
    rec.wait_for(3, timeout=10)
    w.pause()
    newest = slot.take()
    produced = len(rec.items)
    # The consumer took nothing for 3+ refreshes: it gets only the newest, the rest were dropped.
    assert newest.meta.seq == rec.items[-1].meta.seq
    assert slot.dropped == produced - 1


def test_failure_is_published_and_loop_continues(workers):
    def flaky(seq):
        if seq == 2:
            raise ValueError("price feed returned no rows\nsecond line")
        return make_snapshot(seq)

    rec = Recorder()
    w = EngineWorker(flaky, interval_s=0.2, publish=rec)
    workers.append(w)
    w.start()
    items = rec.wait_for(3, timeout=10)
    assert isinstance(items[0], type(make_snapshot()))
    failure = items[1]
    assert isinstance(failure, EngineFailure)
    assert failure.seq == 2
    assert failure.error == "ValueError: price feed returned no rows"
    assert "Traceback" in failure.detail
    assert items[2].meta.seq == 3
    assert w.failures == 1


def test_pause_stops_timed_refreshes_and_refresh_now_still_works(workers):
    rec = Recorder()
    w = EngineWorker(lambda seq: make_snapshot(seq), interval_s=0.2, publish=rec)
    workers.append(w)
    w.start()
    rec.wait_for(1)
    w.pause()
    time.sleep(0.05)  # let a compute in flight finish
    count = len(rec.items)
    time.sleep(0.6)  # three intervals
    assert len(rec.items) == count
    assert w.paused and w.next_refresh_in() is None
    t0 = time.monotonic()
    w.refresh_now()
    rec.wait_for(count + 1)
    latency = time.monotonic() - t0
    print(f"refresh_now latency while paused: {latency * 1000:.1f} ms")
    assert latency < 0.5
    w.resume()
    rec.wait_for(count + 2, timeout=5)


def test_refresh_now_triggers_promptly_with_a_long_interval(workers):
    rec = Recorder()
    w = EngineWorker(lambda seq: make_snapshot(seq), interval_s=3600, publish=rec)
    workers.append(w)
    w.start()
    rec.wait_for(1)
    remaining = w.next_refresh_in()
    assert remaining is not None and 3590 < remaining <= 3600
    t0 = time.monotonic()
    w.refresh_now()
    rec.wait_for(2)
    latency = time.monotonic() - t0
    print(f"refresh_now latency: {latency * 1000:.1f} ms")
    assert latency < 0.5
    assert [s.meta.seq for s in rec.items] == [1, 2]


def test_set_interval_rearms_pending_refresh(workers):
    rec = Recorder()
    w = EngineWorker(lambda seq: make_snapshot(seq), interval_s=3600, publish=rec)
    workers.append(w)
    w.start()
    rec.wait_for(1)
    assert w.set_interval(0.3) == 0.3
    rec.wait_for(2, timeout=3)  # would take an hour without re-arming
    assert w.set_interval(0.01) == EngineWorker.MIN_INTERVAL_S
    with pytest.raises(ValueError):
        w.set_interval(0)


def test_frozen_clock_gives_constant_countdown_and_last_duration(workers):
    rec = Recorder()
    w = EngineWorker(lambda seq: make_snapshot(seq), interval_s=5, publish=rec, clock=lambda: 100.0)
    workers.append(w)
    w.start()
    rec.wait_for(1)
    assert w.next_refresh_in() == 5.0
    assert w.last_duration == 0.0
    time.sleep(0.1)
    assert w.next_refresh_in() == 5.0
    assert len(rec.items) == 1


def test_stop_ends_thread(workers):
    w = EngineWorker(lambda seq: make_snapshot(seq), interval_s=1, publish=lambda item: None)
    w.start()
    assert w.stop(timeout=2)
    assert not w.alive


def test_worker_module_does_not_import_textual_or_rich():
    code = ("import sys, wsbrisk_tui.engine.worker as w; "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('textual', 'rich')]; "
            "print(bad); sys.exit(1 if bad else 0)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_partial_snapshot_is_followed_by_the_full_one_at_once(workers):
    """A quick first pass (meta.partial) must not wait a whole interval for the full snapshot."""
    from dataclasses import replace

    rec = Recorder()

    def compute(seq):
        snap = make_snapshot(seq)
        return replace(snap, meta=replace(snap.meta, partial=(seq == 1)))

    w = EngineWorker(compute, interval_s=3600, publish=rec)
    workers.append(w)
    w.start()
    items = rec.wait_for(2, timeout=5.0)
    assert [s.meta.partial for s in items[:2]] == [True, False]
    remaining = w.next_refresh_in()
    assert remaining is not None and remaining > 3590  # after the full one: the normal interval
