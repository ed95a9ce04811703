"""Alert records, their state between refreshes, acknowledgement, and notification hooks.

An :class:`Alert` is one breach of one rule for one subject (the book, or one position for the
per-position weight rule), from the refresh where it fired to the refresh where it cleared. Its id
is ``"<rule>[<subject>]@<first seen, UTC ISO>"``: stable, readable and unique (a rule that clears
and fires again later is a *new* alert with a new id, so an acknowledgement never carries over to
a new breach).

:class:`AlertState` is the immutable set of active and recently cleared alerts that
:func:`wsbrisk_tui.engine.limits.evaluate` turns into the next state. It is rebuilt from the
history store on start (:meth:`AlertState.from_records`), so alerts and their acknowledgements
survive restarts.

Notifications (:func:`notify`) happen once per new alert (and when a warning escalates to
critical): an optional terminal bell and an optional hook command that receives the alert as JSON
on standard input. A hook that fails or times out is reported back as a note, never raised.
"""

from __future__ import annotations

import json
import shlex
import subprocess
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from typing import IO, Any

SEVERITIES: tuple[str, ...] = ("info", "warning", "critical")
#: How long a cleared alert stays in ``cleared_recently`` (and how many are kept there).
CLEARED_RECENTLY = timedelta(hours=24)
CLEARED_RECENTLY_MAX = 20


def utc(value: datetime) -> datetime:
    """``value`` as an aware UTC datetime (a naive value is taken to be UTC already)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


def severity_rank(severity: str) -> int:
    return SEVERITIES.index(severity) if severity in SEVERITIES else -1


def alert_id(rule: str, subject: str, first_seen: datetime) -> str:
    """``rule[subject]@2025-01-15T14:00:00.000000+00:00`` (microseconds always written)."""
    return f"{rule}[{subject}]@{utc(first_seen).isoformat(timespec='microseconds')}"


@dataclass(frozen=True)
class Alert:
    """One breach of one rule. ``value``/``limit`` are in the rule's unit (fractions of NAV for
    the %-of-NAV rules, positions for concentration, 1/0 for flag rules)."""

    id: str
    rule: str
    subject: str
    severity: str
    value: float | None
    limit: float | None
    first_seen: datetime
    last_seen: datetime
    message: str
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None
    cleared_at: datetime | None = None

    @property
    def acknowledged(self) -> bool:
        return self.acknowledged_at is not None

    @property
    def active(self) -> bool:
        return self.cleared_at is None

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of the alerts section (and of the hook's standard input)."""
        def iso(t: datetime | None) -> str | None:
            return None if t is None else utc(t).isoformat()

        return {
            "id": self.id, "rule": self.rule, "subject": self.subject, "severity": self.severity,
            "value": self.value, "limit": self.limit, "first_seen": iso(self.first_seen),
            "last_seen": iso(self.last_seen), "acknowledged": self.acknowledged,
            "acknowledged_at": iso(self.acknowledged_at), "acknowledged_by": self.acknowledged_by,
            "cleared_at": iso(self.cleared_at), "message": self.message,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Alert:
        def when(key: str) -> datetime | None:
            v = data.get(key)
            return None if v is None else utc(datetime.fromisoformat(v))

        first_seen = when("first_seen")
        last_seen = when("last_seen")
        if first_seen is None or last_seen is None:
            raise ValueError(f"alert {data.get('id')!r} has no first_seen/last_seen")
        return cls(id=str(data["id"]), rule=str(data["rule"]), subject=str(data.get("subject", "")),
                   severity=str(data["severity"]), value=_opt_float(data.get("value")),
                   limit=_opt_float(data.get("limit")), first_seen=first_seen, last_seen=last_seen,
                   message=str(data.get("message", "")), acknowledged_at=when("acknowledged_at"),
                   acknowledged_by=data.get("acknowledged_by"), cleared_at=when("cleared_at"))


def _opt_float(v: Any) -> float | None:
    return None if v is None else float(v)


@dataclass(frozen=True)
class AlertState:
    """Active alerts (at most one per rule and subject) and those cleared recently.

    ``fired``, ``escalated`` and ``cleared`` are the ids that changed in the evaluation that
    produced this state: the caller notifies on ``fired`` and ``escalated``.
    """

    active: tuple[Alert, ...] = ()
    cleared_recently: tuple[Alert, ...] = ()
    fired: tuple[str, ...] = ()
    escalated: tuple[str, ...] = ()
    cleared: tuple[str, ...] = ()

    @classmethod
    def from_records(cls, alerts: list[Alert], now: datetime) -> AlertState:
        """State from stored alerts: the uncleared ones are active; cleared within
        :data:`CLEARED_RECENTLY` of ``now`` are recent. Duplicate active (rule, subject) pairs
        (impossible through :func:`evaluate`) keep the newest."""
        by_key: dict[tuple[str, str], Alert] = {}
        recent: list[Alert] = []
        for a in sorted(alerts, key=lambda a: a.first_seen):
            if a.cleared_at is None:
                by_key[(a.rule, a.subject)] = a
            elif utc(now) - a.cleared_at <= CLEARED_RECENTLY:
                recent.append(a)
        return cls(active=tuple(by_key.values()), cleared_recently=trim_cleared(recent, now))

    def get(self, alert_id_: str) -> Alert | None:
        for a in (*self.active, *self.cleared_recently):
            if a.id == alert_id_:
                return a
        return None

    def with_acknowledgements(self, acks: dict[str, tuple[datetime, str | None]]) -> AlertState:
        """Copy with acknowledgements (id -> (when, by)) applied; unknown ids are ignored."""
        if not acks:
            return self

        def ack(a: Alert) -> Alert:
            got = acks.get(a.id)
            if got is None or a.acknowledged_at is not None:
                return a
            return replace(a, acknowledged_at=utc(got[0]), acknowledged_by=got[1])

        return replace(self, active=tuple(ack(a) for a in self.active),
                       cleared_recently=tuple(ack(a) for a in self.cleared_recently))

    def changed(self) -> list[Alert]:
        """Alerts to persist after an evaluation: every active one (last_seen moves) and the
        ones that just cleared."""
        cleared = set(self.cleared)
        return [*self.active, *(a for a in self.cleared_recently if a.id in cleared)]


def trim_cleared(alerts: list[Alert], now: datetime) -> tuple[Alert, ...]:
    """Cleared alerts within :data:`CLEARED_RECENTLY` of ``now``, newest first, at most
    :data:`CLEARED_RECENTLY_MAX`."""
    keep = [a for a in alerts if a.cleared_at is not None and utc(now) - a.cleared_at <= CLEARED_RECENTLY]
    keep.sort(key=lambda a: a.cleared_at or a.last_seen, reverse=True)
    return tuple(keep[:CLEARED_RECENTLY_MAX])


# --------------------------------------------------------------------------------------------
# Notifications
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HookResult:
    """What a hook run did. ``error`` is ``None`` on success (exit code 0 within the timeout)."""

    command: str
    returncode: int | None
    error: str | None = None
    stderr_tail: str = ""


def run_hook(command: str, alert: Alert, timeout_s: float) -> HookResult:
    """Run ``command`` (split with :func:`shlex.split`, no shell) with the alert as JSON on stdin.

    The command never sees the config or any secret: only the alert. Failure to start, a non-zero
    exit and a timeout are returned in :attr:`HookResult.error`, never raised.
    """
    payload = json.dumps(alert.to_dict(), allow_nan=False)
    try:
        argv = shlex.split(command)
    except ValueError as exc:
        return HookResult(command, None, f"alerts.hook_command cannot be parsed: {exc}")
    if not argv:
        return HookResult(command, None, "alerts.hook_command is empty")
    try:
        proc = subprocess.run(argv, input=payload, capture_output=True, text=True,
                              timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired:
        return HookResult(command, None, f"hook {argv[0]!r} timed out after {timeout_s:g} s "
                                         "(alerts.hook_timeout_seconds)")
    except OSError as exc:
        return HookResult(command, None, f"hook {argv[0]!r} could not start: {exc.strerror or exc}")
    tail = (proc.stderr or "").strip()[-300:]
    if proc.returncode != 0:
        detail = f": {tail.splitlines()[-1]}" if tail else ""
        return HookResult(command, proc.returncode,
                          f"hook {argv[0]!r} exited with code {proc.returncode}{detail}", tail)
    return HookResult(command, 0, None, tail)


def ring_bell(stream: IO[str] | None) -> str | None:
    """Write BEL to ``stream``; a note when it cannot be written."""
    if stream is None:
        return None
    try:
        stream.write("\a")
        stream.flush()
    except (OSError, ValueError) as exc:  # closed or detached terminal
        return f"terminal bell failed: {exc}"
    return None


@dataclass
class NotifyOutcome:
    """Notes from one notification: empty when everything worked."""

    notes: list[str] = field(default_factory=list)
    hook: HookResult | None = None


def notify(alert: Alert, alerts_cfg: Any, *, bell_stream: IO[str] | None = None) -> NotifyOutcome:
    """Notify one new (or escalated) alert per ``alerts_cfg`` (:class:`~wsbrisk_tui.config.AlertsConfig`).

    * the bell rings only when ``alerts_cfg.bell`` is on *and* the caller passes the stream to
      ring (the daemon passes its controlling terminal; the TUI rings through Textual instead);
    * ``alerts_cfg.hook_command`` runs with the alert's JSON on stdin and a timeout of
      ``alerts_cfg.hook_timeout_seconds``.

    Nothing here raises on a failed notification: failures come back as notes.
    """
    out = NotifyOutcome()
    if getattr(alerts_cfg, "bell", False):
        note = ring_bell(bell_stream)
        if note:
            out.notes.append(note)
    command = getattr(alerts_cfg, "hook_command", "") or ""
    if command.strip():
        out.hook = run_hook(command, alert, float(alerts_cfg.hook_timeout_seconds))
        if out.hook.error:
            out.notes.append(out.hook.error)
    return out
