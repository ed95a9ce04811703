"""The refresh loop: one engine thread computes snapshots; the UI takes only the newest.

This module is engine-side: it never imports Textual or Rich. The dashboard, the daemon and the
tests all drive the same :class:`EngineWorker`.

Scheduling follows the dolphie habit: the next refresh is armed only after the current compute has
finished (``next_due = finish + interval``), so refreshes never overlap and a slow compute simply
stretches the cycle instead of piling up work. Every compute gets a sequence number
(1, 2, 3, ...), passed to ``compute(seq)`` and carried in the published result.

Conflation (DESIGN.md section 7): the consumer keeps one :class:`LatestSlot`. Publishing into a slot
whose previous value has not been taken yet *replaces* it (the older value is dropped, not queued,
and the drop is counted), so a UI that falls behind renders the newest snapshot and nothing else.

A compute that raises does not stop the loop: an :class:`EngineFailure` (sequence number, wall
time, error text) is published instead, and the next refresh is armed as usual. The consumer keeps
its last good snapshot and marks it stale with the failure's text.
"""

from __future__ import annotations

import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Generic, TypeVar

from wsbrisk_tui.engine.model import RiskSnapshot

T = TypeVar("T")


@dataclass(frozen=True)
class EngineFailure:
    """A refresh that raised: what the UI shows instead of a new snapshot.

    ``error`` is one line (``"ValueError: ..."``) fit for a status bar; ``detail`` is the full
    traceback for a log or a detail view.
    """

    seq: int
    when: datetime
    error: str
    detail: str = ""


Published = RiskSnapshot | EngineFailure


class LatestSlot(Generic[T]):
    """A one-item mailbox that keeps only the newest value (conflation).

    ``put`` never blocks; if the previous value was not taken yet it is replaced and counted in
    :attr:`dropped`. ``take`` returns the value and empties the slot (``None`` when empty).
    Thread-safe: the engine thread puts, the UI thread takes.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._value: T | None = None
        self._full = False
        #: Values replaced before anyone took them.
        self.dropped = 0
        #: Values put in total.
        self.put_count = 0

    def put(self, value: T) -> bool:
        """Store ``value``; return True when the slot was empty (the consumer needs a wake-up)."""
        with self._lock:
            was_empty = not self._full
            if self._full:
                self.dropped += 1
            self._value = value
            self._full = True
            self.put_count += 1
            return was_empty

    def take(self) -> T | None:
        with self._lock:
            value, self._value, self._full = self._value, None, False
            return value

    def peek(self) -> T | None:
        with self._lock:
            return self._value


class EngineWorker:
    """One daemon thread that calls ``compute(seq)`` every ``interval_s`` seconds, never overlapping.

    Parameters
    ----------
    compute : blocking function returning a :class:`RiskSnapshot` for sequence number ``seq``;
        called only from the worker thread.
    interval_s : seconds from the end of one compute to the start of the next (> 0).
    publish : receives each result (snapshot or :class:`EngineFailure`) on the worker thread;
        must be quick and thread-safe (e.g. :meth:`LatestSlot.put` plus a wake-up message).
    clock : monotonic seconds used for scheduling and for :attr:`last_duration`. A frozen clock
        (tests, SVG snapshots) makes the countdown constant and disables timed refreshes, while
        :meth:`refresh_now` still works.

    The first refresh starts as soon as :meth:`start` is called (unless paused before start).
    """

    MIN_INTERVAL_S = 0.2

    def __init__(self, compute: Callable[[int], RiskSnapshot], interval_s: float,
                 publish: Callable[[Published], None], clock: Callable[[], float] = time.monotonic,
                 *, name: str = "wsbrisk-engine") -> None:
        if not interval_s > 0:
            raise ValueError(f"refresh interval must be > 0 seconds, got {interval_s!r}")
        self._compute = compute
        self._publish = publish
        self._clock = clock
        self._interval_s = max(float(interval_s), self.MIN_INTERVAL_S)
        self._cond = threading.Condition()
        self._paused = False
        self._stop = False
        self._refresh_requested = False
        self._computing = False
        self._next_due: float | None = None
        self._seq = 0
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        #: Seconds the last compute took (by ``clock``), ``None`` before the first one finished.
        self.last_duration: float | None = None
        #: Completed computes, successful or not.
        self.completed = 0
        #: Computes that raised.
        self.failures = 0

    # -- control (any thread) ------------------------------------------------------------------

    def start(self) -> None:
        with self._cond:
            self._next_due = self._clock()
        self._thread.start()

    def stop(self, timeout: float | None = 5.0) -> bool:
        """Ask the loop to end and wait up to ``timeout`` s; True when the thread has exited.

        A compute in progress is not interrupted (it finishes, and its result is still published).
        """
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout)
        return not self._thread.is_alive()

    def pause(self) -> None:
        """Stop timed refreshes (a compute in progress still completes). :meth:`refresh_now` still works."""
        with self._cond:
            self._paused = True
            self._cond.notify_all()

    def resume(self) -> None:
        """Resume timed refreshes; an overdue refresh starts at once."""
        with self._cond:
            self._paused = False
            self._cond.notify_all()

    def toggle_pause(self) -> bool:
        """Pause if running, resume if paused; return the new paused state."""
        with self._cond:
            self._paused = not self._paused
            self._cond.notify_all()
            return self._paused

    def refresh_now(self) -> None:
        """Start a refresh as soon as possible: at once when idle, right after the current one otherwise."""
        with self._cond:
            self._refresh_requested = True
            self._cond.notify_all()

    def set_interval(self, interval_s: float) -> float:
        """Change the interval (clamped to :attr:`MIN_INTERVAL_S`); re-arms the pending refresh.

        Returns the interval in effect.
        """
        if not interval_s > 0:
            raise ValueError(f"refresh interval must be > 0 seconds, got {interval_s!r}")
        with self._cond:
            new = max(float(interval_s), self.MIN_INTERVAL_S)
            if self._next_due is not None and not self._computing:
                # The pending refresh was armed as finish + old interval: keep the finish time.
                self._next_due = self._next_due - self._interval_s + new
            self._interval_s = new
            self._cond.notify_all()
            return new

    # -- state (any thread) --------------------------------------------------------------------

    @property
    def interval_s(self) -> float:
        with self._cond:
            return self._interval_s

    @property
    def paused(self) -> bool:
        with self._cond:
            return self._paused

    @property
    def computing(self) -> bool:
        with self._cond:
            return self._computing

    @property
    def seq(self) -> int:
        """Sequence number of the most recently started compute (0 before the first)."""
        with self._cond:
            return self._seq

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def next_refresh_in(self) -> float | None:
        """Seconds until the next timed refresh; ``None`` while paused, computing or stopped."""
        with self._cond:
            if self._paused or self._computing or self._stop or self._next_due is None:
                return None
            return max(0.0, self._next_due - self._clock())

    # -- the loop (worker thread) --------------------------------------------------------------

    def _wait_for_turn(self) -> int | None:
        """Block until a refresh is due; return its sequence number, or None to stop."""
        with self._cond:
            while True:
                if self._stop:
                    return None
                if self._refresh_requested:
                    break
                now = self._clock()
                assert self._next_due is not None
                if not self._paused and now >= self._next_due:
                    break
                self._cond.wait(None if self._paused else max(self._next_due - now, 0.001))
            self._refresh_requested = False
            self._computing = True
            self._seq += 1
            return self._seq

    def _run(self) -> None:
        while True:
            seq = self._wait_for_turn()
            if seq is None:
                return
            started = self._clock()
            result: Published
            try:
                result = self._compute(seq)
            # Any error in a refresh must reach the screen as an EngineFailure and must not kill
            # the loop: the error is published with its traceback, not swallowed.
            except Exception as exc:  # noqa: BLE001
                result = EngineFailure(
                    seq=seq,
                    when=datetime.now(timezone.utc),
                    error=f"{type(exc).__name__}: {exc}".splitlines()[0],
                    detail=traceback.format_exc(),
                )
            finished = self._clock()
            with self._cond:
                self.last_duration = finished - started
                self.completed += 1
                if isinstance(result, EngineFailure):
                    self.failures += 1
                self._computing = False
                # A partial (quick first pass) snapshot is followed by the full one at once.
                partial = bool(getattr(getattr(result, "meta", None), "partial", False))
                self._next_due = finished if partial else finished + self._interval_s
            self._publish(result)
