"""The status bar at the top: mode banner, book, NAV, day P&L, data age, refresh state, STALE.

Two lines, most important first so an 80-column terminal cuts only the least useful part:

1. ``[DEMO]`` (or PAPER / LIVE / FILE / REPLAY), NAV, day P&L, the book's source;
2. PAUSED, STALE with its reason, the engine's last error, the last compute time with its age
   and duration, the countdown to the next refresh, the ML training progress (``ML training
   4/16 random_forest (1-day) 9s``, while models train in the background), the price date and
   source. While ML trains, the compute duration and the refresh interval are left out so that
   an 80-column terminal still shows the progress.

In replay the first line's banner is REPLAY (the snapshot's ``meta.mode``) with the viewer's own
mode beside it, and the second line starts with ``REPLAY 3 of 4`` and the time the refresh was
recorded, then the replay keys, the refresh id and age, and how many live refreshes wait (the
engine is paused).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from rich.style import Style
from rich.text import Text
from textual.widgets import Static

from wsbrisk_tui import fmt
from wsbrisk_tui.engine.model import RiskSnapshot
from wsbrisk_tui.engine.worker import EngineFailure
from wsbrisk_tui.widgets.palette import Palette


@dataclass(frozen=True)
class ReplayStatus:
    """Where replay stands: frame ``index`` of ``count`` (1-based), its refresh id and keys."""

    index: int
    count: int
    refresh_id: int
    recorded_at: datetime
    #: Key hint, e.g. ``", . step  home end  esc live"`` (keys as currently mapped).
    keys: str = ""
    #: Live snapshots that arrived during replay and wait unrendered.
    held: int = 0


@dataclass(frozen=True)
class StatusState:
    snapshot: RiskSnapshot | None
    failure: EngineFailure | None
    paused: bool
    computing: bool
    next_refresh_in: float | None
    interval_s: float
    now: datetime
    mode: str
    dropped: int = 0
    replay: ReplayStatus | None = None
    #: ML training progress in one line (``Runtime.ml_status()``), None when no training runs.
    ml: str | None = None


def age_text(seconds: float) -> str:
    s = max(0, int(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m {s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h {s % 3600 // 60:02d}m"
    return f"{s // 86400}d {s % 86400 // 3600}h"


def banner_style(palette: Palette, mode: str) -> Style:
    if not palette.colour:
        return Style(reverse=True, bold=True)
    colour = {"LIVE": palette.loss_colour, "PAPER": palette.warn_colour, "REPLAY": palette.warn_colour
              }.get(mode, palette.gain_colour if mode == "DEMO" else None)
    if colour is None:
        return Style(reverse=True, bold=True)
    return Style(bgcolor=colour.rich_color, color="black" if colour.brightness > 0.5 else "white", bold=True)


def status_text(state: StatusState, palette: Palette) -> Text:
    snap = state.snapshot
    mode = snap.meta.mode if snap is not None else state.mode
    line1 = Text(no_wrap=True, overflow="ellipsis", end="")
    line1.append(f" {mode} ", banner_style(palette, mode))
    if state.mode != mode:
        # e.g. an attached viewer: the book's mode stays in the banner, the viewer's beside it.
        line1.append(f" {state.mode}", palette.accent)
    line1.append(" wsbrisk-tui", palette.strong)
    if snap is None:
        line1.append("  waiting for the first snapshot")
    else:
        ccy = snap.meta.base_currency
        line1.append(f"  NAV {fmt.money(snap.nav)} {ccy}", palette.strong)
        line1.append("  day P&L ")
        if snap.day_pnl is None:
            line1.append(fmt.NA, palette.muted)
        else:
            line1.append(f"{fmt.arrow(snap.day_pnl)} {fmt.money(snap.day_pnl, signed=True)}",
                         palette.signed(snap.day_pnl))
        line1.append(f"  book: {snap.meta.portfolio_source}", palette.muted)

    line2 = Text(no_wrap=True, overflow="ellipsis", end="")
    if state.replay is not None:
        _replay_line(line2, state, palette)
        return Text("\n", end="").join([line1, line2])
    flags = []
    if state.paused:
        flags.append(("PAUSED", palette.warn + Style(reverse=not palette.colour)))
    stale_reason = None
    if state.failure is not None and snap is not None and state.failure.seq > snap.meta.seq:
        stale_reason = f"refresh #{state.failure.seq} failed: {state.failure.error}"
    elif snap is not None and snap.meta.stale:
        stale_reason = snap.meta.stale_reason or "no reason given"
    elif state.failure is not None and snap is None:
        stale_reason = f"refresh #{state.failure.seq} failed: {state.failure.error}"
    if stale_reason:
        flags.append((f"STALE: {stale_reason}", palette.loss + Style(bold=True)))
    for text, style in flags:
        line2.append(f" {text} ", style)
        line2.append(" ")
    # The runtime's line may come with its own leading separator: one is enough.
    ml = state.ml.strip().lstrip("·").strip() if state.ml else ""
    if snap is not None:
        age = (state.now - snap.meta.computed_at).total_seconds()
        line2.append(f"computed {snap.meta.computed_at:%H:%M:%S} ({age_text(age)} ago)")
        if not ml:
            line2.append(f" in {snap.meta.compute_seconds * 1000:.0f} ms")
    if state.computing:
        line2.append("  · computing…", palette.accent)
    elif state.paused:
        line2.append("  · r: refresh now", palette.muted)
    elif state.next_refresh_in is not None:
        line2.append(f"  · next in {age_text(state.next_refresh_in + 0.999)}"
                     + ("" if ml else f" (every {state.interval_s:g}s)"))
    if ml:
        line2.append(f"  · {ml}", palette.accent)
    if snap is not None:
        as_of = snap.meta.as_of.isoformat() if snap.meta.as_of else fmt.NA
        line2.append(f"  · prices {as_of} ({snap.meta.market_source})", palette.muted)
    if state.dropped:
        line2.append(f"  · {state.dropped} skipped", palette.muted)
    return Text("\n", end="").join([line1, line2])


def _replay_line(line: Text, state: StatusState, palette: Palette) -> None:
    """Line 2 in replay, most important first (80 columns keep the keys): position, recorded time,
    the recorded STALE flag, the keys, then the refresh id, its age and the paused live feed."""
    r = state.replay
    assert r is not None
    line.append(f" REPLAY {r.index} of {r.count} ", banner_style(palette, "REPLAY"))
    line.append(f" recorded {r.recorded_at:%Y-%m-%d %H:%M:%S} UTC", palette.strong)
    snap = state.snapshot
    if snap is not None and snap.meta.stale:
        line.append("  ")
        line.append(f" STALE: {snap.meta.stale_reason or 'no reason given'} ", palette.loss + Style(bold=True))
    if r.keys:
        line.append(f"  {r.keys}", palette.accent)
    age = (state.now - r.recorded_at).total_seconds()
    line.append(f"  · refresh #{r.refresh_id}, {age_text(age)} ago")
    line.append("  · live paused" + (f", {r.held} new waiting" if r.held else ""), palette.muted)


class StatusBar(Static):
    DEFAULT_CSS = """
    StatusBar { dock: top; height: 2; background: $panel; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("", id=id, markup=False)
        self.state: StatusState | None = None

    def show(self, state: StatusState, palette: Palette) -> None:
        self.state = state
        self.update(status_text(state, palette))
