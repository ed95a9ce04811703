"""Runtimes that go through the history store: record, attach, replay.

All three have the shape the engine worker drives (``compute(seq) -> RiskSnapshot``) or hand out
snapshots the dashboard renders through its one render path:

* :class:`RecordingRuntime` wraps the computing :class:`~wsbrisk_tui.runtime.Runtime`: compute,
  evaluate the alert rules, record the snapshot (one transaction), then add
  ``sections["history"]`` read back from the store. The daemon and the dashboard (without
  ``--attach``) both use it.
* :class:`AttachedRuntime` computes nothing: it returns the newest snapshot the daemon recorded,
  marked stale ("daemon has not recorded for N s") when older than 3 x the daemon's interval.
  Several viewers can attach to one store; SQLite's WAL lets them read while the daemon writes.
* :class:`ReplaySource` steps through recorded snapshots (``meta.mode = "REPLAY"``).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from wsbrisk_tui.engine.alerts import utc
from wsbrisk_tui.engine.history import HistoryStore, history_section
from wsbrisk_tui.engine.model import RiskSnapshot
from wsbrisk_tui.errors import InputError

#: A viewer calls the daemon silent after this many of its intervals without a new record.
STALE_FACTOR = 3.0
#: ``store_info`` keys the daemon writes so viewers know its pace.
INFO_INTERVAL = "daemon_interval_s"
INFO_PID = "daemon_pid"
INFO_STARTED = "daemon_started_at"


def _now() -> datetime:
    return datetime.now(timezone.utc)


def with_section(snapshot: RiskSnapshot, name: str, value: Any) -> RiskSnapshot:
    """A copy of ``snapshot`` with ``sections[name] = value`` (and no 'unavailable' entry for it)."""
    unavailable = {k: v for k, v in snapshot.unavailable.items() if k != name}
    return replace(snapshot, sections={**snapshot.sections, name: value}, unavailable=unavailable)


def refresh_acknowledgements(snapshot: RiskSnapshot, store: HistoryStore) -> RiskSnapshot:
    """The alerts section with acknowledgements made after the snapshot was recorded."""
    sec = snapshot.sections.get("alerts")
    if not isinstance(sec, dict):
        return snapshot
    ids = [a["id"] for a in sec.get("active") or [] if isinstance(a, dict) and not a.get("acknowledged")]
    acks = store.acknowledgements(ids) if ids else {}
    if not acks:
        return snapshot
    active = []
    for a in sec.get("active") or []:
        got = acks.get(a.get("id")) if isinstance(a, dict) else None
        if got is not None:
            a = {**a, "acknowledged": True, "acknowledged_at": got[0].isoformat(), "acknowledged_by": got[1]}
        active.append(a)
    return with_section(snapshot, "alerts", {**sec, "active": active})


class RecordingRuntime:
    """``runtime.compute`` + alert evaluation + recording + the history section.

    ``store`` may be ``None`` (no history: alerts are still evaluated, in memory). ``record=False``
    evaluates and reads history without writing (used when another process holds the writer
    lock). ``with_history=False`` skips the history section (the daemon renders nothing).
    Attributes not defined here are read from the wrapped runtime (``mode``, ``config``...).
    """

    def __init__(self, runtime: Any, store: HistoryStore | None, monitor: Any | None, *,
                 record: bool = True, with_history: bool = True, history_points: int = 500) -> None:
        self.runtime = runtime
        self.store = store
        self.monitor = monitor
        self.record = record and store is not None
        self.with_history = with_history
        self.history_points = history_points
        #: Id of the last refresh written, ``None`` before the first.
        self.last_refresh_id: int | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.runtime, name)

    def compute(self, seq: int) -> RiskSnapshot:
        snapshot = self.runtime.compute(seq)
        now = utc(snapshot.meta.computed_at)
        if self.monitor is not None:
            snapshot = self.monitor.apply(snapshot, now)
        if self.record and not snapshot.meta.partial:  # a quick first pass is not history
            assert self.store is not None
            self.last_refresh_id = self.store.record(snapshot)
            record_ml = getattr(self.runtime, "record_ml", None)
            if record_ml is not None:  # a new training's predictions, once per training
                record_ml(self.store)
        if self.store is not None and self.with_history:
            snapshot = with_section(snapshot, "history", history_section(self.store, now, self.history_points))
        return snapshot

    def on_failure(self, error: str, when: datetime | None = None) -> dict[str, Any] | None:
        """A refresh raised (``EngineFailure.error``): the engine-error alert, persisted."""
        if self.monitor is None:
            return None
        return self.monitor.on_failure(error, when)

    def acknowledge(self, alert_id: str, by: str | None = None) -> bool:
        if self.monitor is not None:
            return bool(self.monitor.acknowledge(alert_id, by))
        if self.store is not None:
            return self.store.acknowledge(alert_id, by)
        return False


class AttachedRuntime:
    """Watch a daemon's store: ``compute(seq)`` returns its newest recorded snapshot.

    The snapshot keeps the book's own mode in ``meta.mode`` (DEMO/PAPER/LIVE/FILE: a viewer must
    still see that the book is live); this object's :attr:`mode` is ``"ATTACHED"`` for the status
    bar. ``meta.seq`` is the viewer's sequence number; the refresh id is in ``meta.notes``.
    The daemon's interval is read from the store (``interval_s`` overrides it) and the snapshot is
    marked stale when the newest record is older than :data:`STALE_FACTOR` intervals.
    """

    mode = "ATTACHED"

    def __init__(self, store_path: str | os.PathLike[str], *, interval_s: float | None = None,
                 clock: Callable[[], datetime] = _now, history_points: int = 500,
                 store: HistoryStore | None = None) -> None:
        self.path = Path(store_path)
        self.store = store or HistoryStore(self.path)
        self.interval_s = interval_s
        self.clock = clock
        self.history_points = history_points
        self._rid: int | None = None
        self._snap: RiskSnapshot | None = None
        self.description = f"attached to {self.path}"

    def daemon_interval(self) -> float:
        if self.interval_s is not None:
            return float(self.interval_s)
        raw = self.store.info(INFO_INTERVAL)
        return float(raw) if raw else 60.0

    def compute(self, seq: int) -> RiskSnapshot:
        rid = self.store.latest_id()
        if rid is None:
            raise InputError(f"{self.path}: no snapshot recorded yet: is `wsbrisk-tui daemon` running "
                             "on this store?")
        if rid != self._rid or self._snap is None:
            self._snap, self._rid = self.store.load_snapshot(rid), rid
        snap = self._snap
        now = utc(self.clock())
        interval = self.daemon_interval()
        age_s = (now - utc(snap.meta.computed_at)).total_seconds()
        meta = replace(snap.meta, seq=seq, notes=(*snap.meta.notes, f"attached to {self.path}: refresh #{rid}"))
        if age_s > STALE_FACTOR * interval:
            reason = f"daemon has not recorded for {age_s:.0f} s (interval {interval:g} s): is it running?"
            if meta.stale and meta.stale_reason:
                reason += f"; {meta.stale_reason}"
            meta = replace(meta, stale=True, stale_reason=reason)
        out = refresh_acknowledgements(replace(snap, meta=meta), self.store)
        return with_section(out, "history", history_section(self.store, now, self.history_points))

    def acknowledge(self, alert_id: str, by: str | None = None) -> bool:
        return self.store.acknowledge(alert_id, by)

    def close(self) -> None:
        self.store.close()


@dataclass(frozen=True)
class ReplayFrame:
    """One recorded snapshot in replay: its refresh id and its 1-based place among ``count``."""

    refresh_id: int
    snapshot: RiskSnapshot
    index: int
    count: int

    @property
    def banner(self) -> str:
        t = self.snapshot.meta.computed_at
        return f"REPLAY {self.index}/{self.count}  refresh #{self.refresh_id}  recorded {utc(t):%Y-%m-%d %H:%M:%S} UTC"


class ReplaySource:
    """Step through the recorded snapshots that still have their full record.

    Frames carry ``meta.mode = "REPLAY"`` (the recorded mode is kept in ``meta.notes``) and a
    history section that ends at the frame's time, so the history pane shows what was known then.
    The alerts section is shown as it was recorded.
    """

    def __init__(self, store: HistoryStore, history_points: int = 500) -> None:
        self.store = store
        self.history_points = history_points

    def at(self, refresh_id: int, seq: int | None = None) -> ReplayFrame:
        """The frame of ``refresh_id``; ``seq`` replaces ``meta.seq`` (a dashboard that ignores
        snapshots older than the one on screen needs an increasing number; the recorded seq
        restarts with every daemon)."""
        snap = self.store.load_snapshot(refresh_id)
        m = snap.meta
        meta = replace(m, mode="REPLAY", seq=m.seq if seq is None else seq,
                       notes=(*m.notes, f"replay of refresh #{refresh_id}, recorded in {m.mode} mode"))
        t = utc(m.computed_at)
        snap = with_section(replace(snap, meta=meta), "history",
                            history_section(self.store, t, self.history_points, until=t))
        _, _, count = self.store.full_bounds()
        return ReplayFrame(refresh_id, snap, self.store.full_position(refresh_id), count)

    def first(self, seq: int | None = None) -> ReplayFrame | None:
        lo, _, _ = self.store.full_bounds()
        return None if lo is None else self.at(lo, seq)

    def last(self, seq: int | None = None) -> ReplayFrame | None:
        _, hi, _ = self.store.full_bounds()
        return None if hi is None else self.at(hi, seq)

    def step(self, refresh_id: int, direction: int, seq: int | None = None) -> ReplayFrame | None:
        """The frame before (``direction < 0``) or after (``> 0``) ``refresh_id``; None at an end."""
        prev, nxt = self.store.neighbours(refresh_id)
        target = prev if direction < 0 else nxt
        return None if target is None else self.at(target, seq)

    def goto(self, when: datetime, seq: int | None = None) -> ReplayFrame | None:
        """The newest frame recorded at or before ``when``."""
        rid = self.store.full_id_at(when)
        return None if rid is None else self.at(rid, seq)
