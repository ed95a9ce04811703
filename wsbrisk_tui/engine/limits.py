"""Alert rules: the book's limits, checked against each snapshot, with hysteresis.

Rules (limits from :meth:`wsbrisk_tui.config.LimitsConfig.effective`; fractions of NAV unless
stated; "above" rules breach when the value exceeds the limit, "below" rules when it falls under):

=========================  ======  ==============================================================
rule                       kind    value
=========================  ======  ==============================================================
max_position_weight        above   |market value| / NAV of each position (one alert per position)
max_total_exposure         above   gross exposure (sum of |market value|) / NAV
var99_1d_pct               above   99% 1-day VaR / NAV, historical simulation (else parametric
                                   normal when historical is n/a; the section says which)
es99_1d_pct                above   99% 1-day ES / NAV, same method as the VaR rule
stress_loss_pct            above   worst stress-scenario loss / NAV (``sections["stress"]``)
daily_drawdown             above   -(day P&L) / NAV; fires AT the limit (circuit breaker: P&L /
                                   NAV <= -6% by default), always critical
min_effective_positions    below   1 / HHI of absolute weights: w_i = |mv_i| / sum |mv_j|,
                                   N_eff = 1 / sum w_i^2 (Hirschman-Herfindahl)
pair_correlation           above   largest pairwise return correlation in ``sections
                                   ["correlation"]["matrix"]`` vs ``correlation_threshold`` (info)
correlation_breakdown      flag    ``sections["correlation"]["breakdown"]`` is true (warning)
backtest_zone              zone    Basel zone of the 99% 1-day backtest of the VaR rule's method:
                                   yellow = warning, red = critical (value = exceptions, limit =
                                   the first yellow count)
stale_data                 flag    ``meta.stale`` (warning)
engine_error               flag    the last refresh raised (warning; clears on the next success)
alert_hook                 flag    the notification hook failed (info; clears when it works)
=========================  ======  ==============================================================

Severity of "above" rules: warning when value > limit, critical when value > 1.25 x limit ("below":
value < limit / 1.25). An alert's severity is the worst it reached while active (it never steps
down), so a value wandering around 1.25 x limit does not notify again and again.

Hysteresis (``limits.hysteresis_frac`` = h, default 0.05): an "above" alert fires when value >
limit and clears only when value < limit x (1 - h); a "below" alert fires when value < limit and
clears when value > limit x (1 + h). A value hovering at its limit therefore stays ONE alert. A
rule that cannot be evaluated (its number is n/a) neither fires nor clears: its alert stays as it
was, with ``last_seen`` unchanged. A per-position alert clears when the position leaves the book.
"""

from __future__ import annotations

import functools
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import IO, TYPE_CHECKING, Any

from wsbrisk_tui.engine.alerts import (
    CLEARED_RECENTLY,
    Alert,
    AlertState,
    alert_id,
    notify,
    severity_rank,
    trim_cleared,
    utc,
)
from wsbrisk_tui.engine.model import RiskSnapshot

if TYPE_CHECKING:
    from wsbrisk_tui.engine.history import HistoryStore

CRITICAL_FACTOR = 1.25
#: Methods tried, in order, for the VaR and ES rules (99%, 1 day).
VAR_RULE_METHODS: tuple[str, ...] = ("historical", "parametric_normal")
VAR_RULE_CONFIDENCE = 0.99


@dataclass(frozen=True)
class Reading:
    """One rule measured on one snapshot.

    ``value`` is ``None`` when the rule cannot be evaluated (``reason`` says why). ``kind`` is
    ``"above"``, ``"below"``, ``"flag"`` (value 1 = on, 0 = off) or ``"zone"`` (on when the fixed
    severity is warning or critical; value and limit are informative). ``severity`` fixes the
    severity (flag and zone rules, the circuit breaker); otherwise it follows the value.
    """

    rule: str
    subject: str
    value: float | None
    limit: float | None
    kind: str
    message: str
    origin: str = "config"
    reason: str | None = None
    severity: str | None = None
    inclusive: bool = False

    def breaches(self) -> bool:
        if self.value is None:
            return False
        if self.kind == "zone":
            return self.severity in ("warning", "critical")
        if self.kind == "flag":
            return self.value >= 1
        assert self.limit is not None
        if self.kind == "below":
            return self.value < self.limit
        return self.value >= self.limit if self.inclusive else self.value > self.limit

    def clears(self, hysteresis_frac: float) -> bool:
        """True when an active alert on this reading may clear (value back inside the band)."""
        if self.value is None:
            return False
        if self.kind == "zone":
            return not self.breaches()
        if self.kind == "flag":
            return self.value < 1
        assert self.limit is not None
        if self.kind == "below":
            return self.value > self.limit * (1.0 + hysteresis_frac)
        return self.value < self.limit * (1.0 - hysteresis_frac)

    def current_severity(self) -> str:
        if self.severity is not None:
            return self.severity
        assert self.value is not None and self.limit is not None
        if self.kind == "below":
            return "critical" if self.value < self.limit / CRITICAL_FACTOR else "warning"
        return "critical" if self.value > self.limit * CRITICAL_FACTOR else "warning"


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.2f}%"


def _finite(x: Any) -> float | None:
    if x is None or isinstance(x, bool):
        return None
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def var_rule_method(snapshot: RiskSnapshot) -> tuple[str | None, str | None]:
    """(method, None) of the 99% 1-day VaR the VaR/ES rules use, or (None, reason)."""
    reasons = []
    for method in VAR_RULE_METHODS:
        r = snapshot.var_for(method, VAR_RULE_CONFIDENCE, 1)
        if r is None:
            reasons.append(f"{method}: not computed")
        elif r.status != "ok" or r.var_pct is None:
            reasons.append(f"{method}: {r.reason or 'n/a'}")
        else:
            return method, None
    return None, "no 99% 1-day VaR (" + "; ".join(reasons) + ")"


@functools.lru_cache(maxsize=64)
def _first_yellow(observations: int, confidence: float) -> int | None:
    """Smallest exception count in the Basel yellow zone for ``observations`` days."""
    from wsbrisk_tui.engine.backtest import traffic_light

    for k in range(observations + 1):
        if traffic_light(k, observations, confidence) != "green":
            return k
    return None


def readings(snapshot: RiskSnapshot, limits: Any) -> list[Reading]:
    """Every rule measured on ``snapshot`` against ``limits`` (an ``EffectiveLimits``)."""
    out: list[Reading] = []
    nav = _finite(snapshot.nav)
    nav_reason = None if (nav is not None and nav > 0) else f"NAV is {'n/a' if nav is None else nav}: fractions of NAV are undefined"
    org = limits.origin

    # -- concentration -----------------------------------------------------------------------
    lim_w = limits.max_position_weight
    by_symbol: dict[str, float | None] = {}
    why_na: dict[str, str] = {}
    for p in snapshot.positions:  # a symbol listed twice (two lots) is one position
        prev = by_symbol.get(p.symbol, 0.0)
        if p.market_value is None or prev is None:
            by_symbol[p.symbol] = None
            why_na.setdefault(p.symbol, f"{p.symbol}: market value n/a ({p.reason or 'no price'})")
        else:
            by_symbol[p.symbol] = prev + abs(p.market_value)
    for sym, mv in by_symbol.items():
        w = None if nav_reason or mv is None else mv / nav
        out.append(Reading("max_position_weight", sym, w, lim_w, "above",
                           f"{sym} is {_pct(w)} of NAV (limit {_pct(lim_w)})",
                           org("max_position_weight"), nav_reason or why_na.get(sym)))
    gross = _finite(snapshot.gross_exposure)
    lim_g = limits.max_total_exposure
    g = None if nav_reason or gross is None else gross / nav
    out.append(Reading("max_total_exposure", "", g, lim_g, "above",
                       f"gross exposure {_pct(g)} of NAV (limit {_pct(lim_g)})",
                       org("max_total_exposure"), nav_reason or (None if g is not None else "gross exposure n/a")))

    mvs = [abs(p.market_value) for p in snapshot.positions if p.market_value is not None]
    total = sum(mvs)
    n_eff = None
    if total > 0 and len(mvs) == len(snapshot.positions):
        n_eff = 1.0 / sum((m / total) ** 2 for m in mvs)
    lim_n = limits.min_effective_positions
    out.append(Reading("min_effective_positions", "", n_eff, lim_n, "below",
                       f"effective number of positions {n_eff:.2f} (minimum {lim_n:g})" if n_eff is not None
                       else "effective number of positions n/a",
                       org("min_effective_positions"),
                       None if n_eff is not None else ("no positions with a market value" if total <= 0
                                                       else "a position's market value is n/a")))

    # -- VaR and ES ----------------------------------------------------------------------------
    method, why = var_rule_method(snapshot)
    r = snapshot.var_for(method, VAR_RULE_CONFIDENCE, 1) if method else None
    var_pct = r.var_pct if r is not None else None
    es_pct = r.es_pct if r is not None else None
    lim_v, lim_e = limits.var99_1d_pct, limits.es99_1d_pct
    out.append(Reading("var99_1d_pct", "", var_pct, lim_v, "above",
                       f"99% 1-day VaR ({method}) {_pct(var_pct)} of NAV (limit {_pct(lim_v)})",
                       org("var99_1d_pct"), why))
    es_reason = why or (None if es_pct is not None else f"{method} ES n/a")
    out.append(Reading("es99_1d_pct", "", es_pct, lim_e, "above",
                       f"99% 1-day ES ({method}) {_pct(es_pct)} of NAV (limit {_pct(lim_e)})",
                       org("es99_1d_pct"), es_reason))

    # -- stress ---------------------------------------------------------------------------------
    lim_s = limits.stress_loss_pct
    stress = snapshot.sections.get("stress")
    worst, worst_name, s_reason = None, "", None
    if not isinstance(stress, dict):
        s_reason = snapshot.unavailable.get("stress", "no stress section")
    else:
        for s in stress.get("scenarios") or []:
            pct = _finite(s.get("total_pct")) if isinstance(s, dict) else None
            if pct is not None and (worst is None or -pct > worst):
                worst, worst_name = -pct, str(s.get("name") or s.get("id") or "?")
        if worst is None:
            s_reason = "no scenario with a total"
    out.append(Reading("stress_loss_pct", "", worst, lim_s, "above",
                       f"worst stress loss {_pct(worst)} of NAV in '{worst_name}' (limit {_pct(lim_s)})",
                       org("stress_loss_pct"), s_reason))

    # -- daily drawdown circuit breaker ---------------------------------------------------------
    lim_d = limits.daily_drawdown_pct
    day = _finite(snapshot.day_pnl)
    dd = None if nav_reason or day is None else -day / nav
    out.append(Reading("daily_drawdown", "", dd, lim_d, "above",
                       f"day P&L {_pct(None if dd is None else -dd)} of NAV hits the circuit breaker "
                       f"(-{_pct(lim_d)})", org("daily_drawdown_pct"),
                       nav_reason or (None if dd is not None else "day P&L n/a"), severity="critical",
                       inclusive=True))

    # -- correlation ----------------------------------------------------------------------------
    corr = snapshot.sections.get("correlation")
    c_reason = None if isinstance(corr, dict) else snapshot.unavailable.get("correlation", "no correlation section")
    best, pair = None, ("", "")
    if isinstance(corr, dict):
        syms, mat = corr.get("symbols"), corr.get("matrix")
        if isinstance(syms, list) and isinstance(mat, list):
            for i in range(len(syms)):
                for j in range(i + 1, len(syms)):
                    v = _finite(mat[i][j]) if i < len(mat) and j < len(mat[i]) else None
                    if v is not None and (best is None or v > best):
                        best, pair = v, (str(syms[i]), str(syms[j]))
        if best is None:
            c_reason = "the correlation matrix has no pair"
    lim_c = limits.correlation_threshold
    out.append(Reading("pair_correlation", "", best, lim_c, "above",
                       f"{pair[0]}/{pair[1]} return correlation {best if best is None else f'{best:.2f}'} "
                       f"(threshold {lim_c:.2f})", org("correlation_threshold"), c_reason, severity="info"))
    flag = None if not isinstance(corr, dict) or "breakdown" not in corr else (1.0 if corr.get("breakdown") else 0.0)
    detail = corr.get("breakdown_reason") if isinstance(corr, dict) else None
    out.append(Reading("correlation_breakdown", "", flag, None, "flag",
                       "correlation breakdown" + (f": {detail}" if detail else ""), "engine",
                       c_reason or (None if flag is not None else "the correlation section has no breakdown flag"),
                       severity="warning"))

    # -- backtest zone --------------------------------------------------------------------------
    bt = next((b for b in snapshot.backtest if method and b.method == method
               and math.isclose(b.confidence, VAR_RULE_CONFIDENCE)), None)
    if bt is None or bt.status != "ok" or bt.zone is None or bt.exceptions is None:
        why_bt = why or (f"no 99% backtest of {method}" if bt is None else (bt.reason or "backtest n/a"))
        out.append(Reading("backtest_zone", "", None, None, "zone", "backtest zone n/a", "engine", why_bt))
    else:
        first_yellow = _first_yellow(bt.observations, bt.confidence)
        sev = {"yellow": "warning", "red": "critical"}.get(bt.zone)
        out.append(Reading("backtest_zone", "", float(bt.exceptions), None if first_yellow is None else float(first_yellow),
                           "zone", f"{method} 99% VaR backtest {bt.zone.upper()}: {bt.exceptions} exceptions "
                           f"in {bt.observations} days", "Basel traffic light", severity=sev or "info"))

    # -- data and engine ------------------------------------------------------------------------
    m = snapshot.meta
    out.append(Reading("stale_data", "", 1.0 if m.stale else 0.0, None, "flag",
                       f"stale data: {m.stale_reason or 'no reason given'}", "engine", severity="warning"))
    out.append(Reading("engine_error", "", 0.0, None, "flag", "engine error", "engine", severity="warning"))
    return out


def _limits_rows(rs: list[Reading], state_active: tuple[Alert, ...]) -> list[dict[str, Any]]:
    """Gauge rows: one per numeric rule (the largest position weight stands for its rule)."""
    rows: list[dict[str, Any]] = []
    weights = [r for r in rs if r.rule == "max_position_weight"]
    if weights:
        known = [r for r in weights if r.value is not None]
        top = max(known, key=lambda r: r.value or 0.0) if known else weights[0]
        row = _row(top, subject=top.subject)
        missing = len(weights) - len(known)
        if known and missing:
            row["note"] = f"largest of the positions with a market value; {missing} without one"
        rows.append(row)
    for r in rs:
        if r.rule == "max_position_weight" or r.kind == "flag":
            continue
        rows.append(_row(r, subject=r.subject or None))
    return rows


def _row(r: Reading, subject: str | None) -> dict[str, Any]:
    util = None
    if r.value is not None and r.limit:
        util = (r.limit / r.value if r.value > 0 else math.inf) if r.kind == "below" else r.value / r.limit
        util = util if math.isfinite(util) else None
    row = {"rule": r.rule, "value": r.value, "limit": r.limit, "utilisation": util, "origin": r.origin}
    if subject:
        row["subject"] = subject
    if r.value is None:
        row["reason"] = r.reason
    return row


def step(readings_: list[Reading], state: AlertState, now: datetime, hysteresis_frac: float,
         *, only_rules: frozenset[str] | None = None) -> AlertState:
    """Apply readings to ``state`` with hysteresis; see the module docstring for the rules.

    ``only_rules`` limits the update to those rules (the others are carried over untouched): used
    when a refresh failed and only ``engine_error`` is known.
    """
    now = utc(now)
    by_key = {(a.rule, a.subject): a for a in state.active}
    active: list[Alert] = []
    fired: list[str] = []
    escalated: list[str] = []
    cleared: list[Alert] = []
    seen: set[tuple[str, str]] = set()
    for r in readings_:
        key = (r.rule, r.subject)
        seen.add(key)
        cur = by_key.get(key)
        if r.value is None:
            if cur is not None:
                active.append(cur)
            continue
        if cur is None:
            if r.breaches():
                a = Alert(id=alert_id(r.rule, r.subject, now), rule=r.rule, subject=r.subject,
                          severity=r.current_severity(), value=r.value, limit=r.limit, first_seen=now,
                          last_seen=now, message=r.message)
                active.append(a)
                fired.append(a.id)
            continue
        if r.clears(hysteresis_frac):
            cleared.append(replace(cur, value=r.value, last_seen=now, cleared_at=now))
            continue
        sev = cur.severity
        if r.breaches() and severity_rank(r.current_severity()) > severity_rank(sev):
            sev = r.current_severity()
            escalated.append(cur.id)
        active.append(replace(cur, value=r.value, limit=r.limit, last_seen=now, severity=sev,
                              message=r.message))
    for key, cur in by_key.items():
        if key in seen:
            continue
        if only_rules is not None and cur.rule not in only_rules:
            active.append(cur)
        elif cur.rule == "max_position_weight":
            cleared.append(replace(cur, last_seen=now, cleared_at=now,
                                   message=f"{cur.subject} left the book"))
        else:
            active.append(cur)
    recent = trim_cleared([*cleared, *state.cleared_recently], now)
    return AlertState(active=tuple(active), cleared_recently=recent, fired=tuple(fired),
                      escalated=tuple(escalated), cleared=tuple(a.id for a in cleared))


def section(state: AlertState, limits_rows: list[dict[str, Any]], limits: Any, method: str | None,
            now: datetime) -> dict[str, Any]:
    """The ``sections["alerts"]`` dict the alerts pane and the report read."""
    active = sorted(state.active, key=lambda a: (a.first_seen, a.id), reverse=True)
    return {
        "active": [a.to_dict() for a in active],
        "limits": limits_rows,
        "cleared_recently": [a.to_dict() for a in state.cleared_recently],
        "tier": limits.tier,
        "var_method": method,
        "hysteresis_frac": limits.hysteresis_frac,
        "evaluated_at": utc(now).isoformat(),
    }


def evaluate(snapshot: RiskSnapshot, limits: Any, state: AlertState,
             now: datetime) -> tuple[dict[str, Any], AlertState]:
    """Check every rule on ``snapshot``: (the alerts section, the next state). Pure."""
    rs = readings(snapshot, limits)
    new_state = step(rs, state, now, limits.hysteresis_frac)
    method, _ = var_rule_method(snapshot)
    return section(new_state, _limits_rows(rs, new_state.active), limits, method, now), new_state


def engine_error_alert(text: str, now: datetime | None = None) -> Reading:
    """The reading of a failed refresh (``EngineFailure.error``): fires ``engine_error``."""
    first_line = (text.strip().splitlines() or ["unknown error"])[0]
    return Reading("engine_error", "", 1.0, None, "flag", f"engine error: {first_line}", "engine",
                   severity="warning")


def evaluate_failure(text: str, limits: Any, state: AlertState,
                     now: datetime) -> tuple[dict[str, Any], AlertState]:
    """A refresh raised: fire (or keep) ``engine_error``; every other alert is carried over."""
    new_state = step([engine_error_alert(text, now)], state, now, limits.hysteresis_frac,
                     only_rules=frozenset({"engine_error"}))
    return section(new_state, [], limits, None, now), new_state


def hook_failure_reading(note: str | None) -> Reading:
    """``alert_hook`` on (a failure note) or off (``None``: the hook worked)."""
    return Reading("alert_hook", "", 0.0 if note is None else 1.0, None, "flag",
                   f"hook failed: {note}", "alerts.hook_command", severity="info")


# --------------------------------------------------------------------------------------------
# The monitor: state + store + notifications, for the daemon and the TUI
# --------------------------------------------------------------------------------------------


class AlertMonitor:
    """Keeps the alert state between refreshes, persists it, and notifies.

    ``apply(snapshot)`` evaluates the rules and returns the snapshot with ``sections["alerts"]``;
    alerts are persisted in the same transaction as the snapshot when the caller records it
    (:meth:`HistoryStore.record` upserts ``sections["alerts"]``). With a ``store``, the state
    starts from the stored alerts (so acknowledgements survive restarts) and acknowledgements made
    elsewhere (another viewer) are picked up before each evaluation.

    ``bell_stream`` is where the daemon rings the bell (its terminal); the TUI passes ``None`` and
    rings through Textual when :attr:`last_fired` is not empty. Hooks run synchronously on the
    calling (engine) thread, bounded by ``alerts.hook_timeout_seconds`` each.
    """

    def __init__(self, limits: Any, alerts_cfg: Any = None, store: HistoryStore | None = None, *,
                 bell_stream: IO[str] | None = None,
                 clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc)) -> None:
        self.limits = limits
        self.alerts_cfg = alerts_cfg
        self.store = store
        self.bell_stream = bell_stream
        self.clock = clock
        self._lock = threading.Lock()
        now = clock()
        self.state = (AlertState.from_records(store.load_alerts(cleared_after=now - CLEARED_RECENTLY), now)
                      if store else AlertState())
        #: Alerts that fired or escalated in the last evaluation (for the TUI's bell).
        self.last_fired: list[Alert] = []
        #: Notification problems of the last evaluation.
        self.last_notes: list[str] = []
        self._last_limits: list[dict[str, Any]] = []

    def _sync_acks(self) -> None:
        if self.store is None:
            return
        ids = [a.id for a in (*self.state.active, *self.state.cleared_recently) if not a.acknowledged]
        if ids:
            self.state = self.state.with_acknowledgements(self.store.acknowledgements(ids))

    def apply(self, snapshot: RiskSnapshot, now: datetime | None = None) -> RiskSnapshot:
        """Evaluate ``snapshot`` at ``now`` (default: its ``computed_at``); return it with
        ``sections["alerts"]`` set, after notifying new and escalated alerts."""
        now = utc(now or snapshot.meta.computed_at)
        with self._lock:
            self._sync_acks()
            sec, self.state = evaluate(snapshot, self.limits, self.state, now)
            self._last_limits = sec["limits"]
            sec = self._notify(sec, now)
        return replace(snapshot, sections={**snapshot.sections, "alerts": sec})

    def on_failure(self, error_text: str, now: datetime | None = None) -> dict[str, Any]:
        """A refresh failed: fire ``engine_error``, persist it, return the alerts section."""
        now = utc(now or self.clock())
        with self._lock:
            self._sync_acks()
            sec, self.state = evaluate_failure(error_text, self.limits, self.state, now)
            sec["limits"] = self._last_limits  # the gauges of the last good refresh
            sec = self._notify(sec, now)
            if self.store is not None:
                self.store.save_alerts(self.state.changed())
        return sec

    def acknowledge(self, alert_id_: str, by: str | None = None, now: datetime | None = None) -> bool:
        """Acknowledge an alert (persisted when there is a store). False when unknown."""
        now = utc(now or self.clock())
        with self._lock:
            if self.store is not None:
                ok = self.store.acknowledge(alert_id_, by, now=now)
            else:
                ok = self.state.get(alert_id_) is not None
            if ok:
                self.state = self.state.with_acknowledgements({alert_id_: (now, by)})
            return ok

    def _notify(self, sec: dict[str, Any], now: datetime) -> dict[str, Any]:
        ids = set(self.state.fired) | set(self.state.escalated)
        self.last_fired = [a for a in self.state.active if a.id in ids and a.rule != "alert_hook"]
        self.last_notes = []
        if not self.last_fired or self.alerts_cfg is None:
            return sec
        hook_ran, hook_error = False, None
        for a in self.last_fired:
            out = notify(a, self.alerts_cfg, bell_stream=self.bell_stream)
            self.last_notes.extend(out.notes)
            if out.hook is not None:
                hook_ran = True
                hook_error = hook_error or out.hook.error
        if not hook_ran:
            return sec
        # A failing hook becomes an info alert (and its success clears it): reported, never fatal.
        before = self.state
        after = step([hook_failure_reading(hook_error)], before, now, 0.0,
                     only_rules=frozenset({"alert_hook"}))
        self.state = replace(after, fired=before.fired + after.fired, escalated=before.escalated,
                             cleared=before.cleared + after.cleared)
        sec = dict(sec)
        sec["active"] = [a.to_dict() for a in sorted(self.state.active, key=lambda a: (a.first_seen, a.id),
                                                      reverse=True)]
        sec["cleared_recently"] = [a.to_dict() for a in self.state.cleared_recently]
        if self.last_notes:
            sec["notes"] = list(self.last_notes)
        return sec
