"""The dashboard: layout, bindings, and the wiring from the engine thread to the panes.

Data flow (DESIGN.md sections 3 and 7)::

    EngineWorker thread --compute(seq)--> RiskSnapshot | EngineFailure
        --> LatestSlot (newest only; older unconsumed values are dropped and counted)
        --> SnapshotReady / EngineFailed message (posted only when the slot was empty)
        --> UI thread takes the newest value and hands it to the panes

Panes render only when displayed; a hidden pane renders on activation if the stored snapshot
is newer than what it last showed. Tables are updated in place by row key.

Replay (``R``, or ``--replay``): frames from a :class:`~wsbrisk_tui.attach.ReplaySource` go through
the same :meth:`RiskDeskApp._put_on_screen` as live snapshots, so a recorded refresh looks exactly as it
did live, under a REPLAY banner. While replaying the engine worker is paused; a live result that
still arrives (a compute in progress) is held, not rendered, and shown on leaving replay.

What-if (``w`` in the Stress pane): the box asks :meth:`RiskDeskApp.what_if`, which prices the
shock on the engine's stress model. The model is built on a short-lived thread from the runtime's
``risk_context()`` under the engine lock (the runtime's caches are single-threaded), once per live
snapshot, and reused while the user types.

ML (key 8): the models train on the runtime's background thread; its optional ``ml_status()`` line
shows the progress in the status bar, and when that work ends the app refreshes once so the ML
pane shows the new models at once (:meth:`RiskDeskApp._refresh_after_ml`).

Layout: below 140 columns every pane is a tab (keys 1-8). From 140 columns an overview shows
Positions and the VaR ladder side by side above the tabs for the other panes; keys 1 and 2 then
focus the overview panes. The status bar is always on top, the key line at the bottom.

:func:`create_app` is the one factory used by the ``tui`` and ``snapshot`` commands, the tests
and the benchmark.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from datetime import datetime, timezone
from functools import partial
from pathlib import Path
from typing import Any, ClassVar

from textual import events
from textual.app import App, ComposeResult, SystemCommand
from textual.actions import parse as parse_action
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.message import Message
from textual.screen import ModalScreen, Screen
from textual.widgets import TabbedContent, TabPane

from wsbrisk_tui.engine.model import RiskSnapshot
from wsbrisk_tui.engine.worker import EngineFailure, EngineWorker, LatestSlot, Published
from wsbrisk_tui.keys import BINDING_IDS
from wsbrisk_tui.themes.builtin import COLOURLESS, THEMES, theme_name
from wsbrisk_tui.widgets.alerts import AcknowledgeAlert, AlertsPane
from wsbrisk_tui.widgets.correlation import CorrelationPane
from wsbrisk_tui.widgets.help import HelpScreen
from wsbrisk_tui.widgets.history import HistoryPane
from wsbrisk_tui.widgets.info import InfoPane
from wsbrisk_tui.widgets.keybar import KeyBar
from wsbrisk_tui.widgets.ml import MlPane
from wsbrisk_tui.widgets.palette import Palette
from wsbrisk_tui.widgets.pane import UNITS, SnapshotPane, ViewState
from wsbrisk_tui.widgets.positions import PositionsPane
from wsbrisk_tui.widgets.status import ReplayStatus, StatusBar, StatusState
from wsbrisk_tui.widgets.stress import StressPane
from wsbrisk_tui.widgets.var_ladder import VarLadderPane, horizons_of
from wsbrisk_tui.widgets.whatif import WhatIfAnswer, WhatIfBox

#: Pane classes in key order (1-8).
PANE_CLASSES: tuple[type[SnapshotPane], ...] = (
    PositionsPane, VarLadderPane, StressPane, CorrelationPane, AlertsPane, HistoryPane, InfoPane, MlPane)
PANE_NAMES: tuple[str, ...] = tuple(c.PANE for c in PANE_CLASSES)
#: Panes shown side by side in the overview on wide terminals.
OVERVIEW_PANES: tuple[str, ...] = ("positions", "var")
#: Terminal width (columns) from which the overview is shown.
WIDE_COLUMNS = 140
#: GIL switch interval while the app runs (seconds). The engine thread holds the GIL in Python
#: code (model fitting); each time the UI thread gives the GIL up (I/O, select) it waits up to
#: this long to get it back. Python's default 5 ms made pane switches take 100-200 ms during a
#: compute on a loaded 2-core box; 1 ms brought them to 10-20 ms.
SWITCH_INTERVAL_S = 0.001
#: Refresh interval steps for ``+``/``-`` (seconds).
INTERVAL_STEPS: tuple[float, ...] = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900)
#: Said when replay is asked for and the store has no full snapshot (or there is no store).
NO_REPLAY_HISTORY = "no recorded history to replay yet: the dashboard or `wsbrisk-tui daemon` records it"
#: Actions that only mean something while replaying, and those that drive the (paused) engine.
REPLAY_ACTIONS = frozenset({"replay_step", "replay_end", "leave_replay"})
ENGINE_ACTIONS = frozenset({"toggle_pause", "refresh_now", "change_interval"})
#: Said in the what-if box when the dashboard has no engine that can build the risk inputs.
NO_WHAT_IF = ("what-if needs a live engine: this dashboard watches another process's store and "
              "computes nothing; use `wsbrisk-tui stress --shock 'SPY=-7%,VIX=+15'` for a what-if")
#: Said in the what-if box while replaying (the book on screen is a recorded one).
WHAT_IF_IN_REPLAY = ("what-if needs a live engine: replay shows recorded refreshes; "
                     "leave replay (Esc or R) to shock today's book")


class SnapshotReady(Message):
    """A new snapshot is waiting in the app's slot (posted from the engine thread)."""

    def __init__(self, snapshot: RiskSnapshot) -> None:
        super().__init__()
        self.snapshot = snapshot


class EngineFailed(Message):
    """A refresh failed; the last good snapshot stays on screen, marked stale."""

    def __init__(self, failure: EngineFailure) -> None:
        super().__init__()
        self.failure = failure


def _pane_bindings() -> list[Binding]:
    return [Binding(str(i), f"show_pane('{name}')", f"Show {cls.LABEL}", show=False, id=f"pane.{name}")
            for i, (name, cls) in enumerate(zip(PANE_NAMES, PANE_CLASSES), start=1)]


class RiskDeskApp(App[None]):
    """The wsbrisk-tui dashboard. Build it with :func:`create_app` or directly for tests."""

    CSS_PATH = "app.tcss"
    TITLE = "wsbrisk-tui"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "Quit", id="quit"),
        Binding("question_mark,f1", "help", "Help", id="help"),
        Binding("p", "toggle_pause", "Pause", id="pause"),
        Binding("r", "refresh_now", "Refresh", id="refresh"),
        Binding("s", "save_snapshot", "Save text", id="save"),
        Binding("t", "next_theme", "Next theme", show=False, id="theme"),
        Binding("plus,equals_sign", "change_interval(1)", "Longer refresh interval", show=False, id="interval.up"),
        Binding("minus", "change_interval(-1)", "Shorter refresh interval", show=False, id="interval.down"),
        Binding("right_square_bracket", "change_horizon(1)", "Next VaR horizon", show=False, id="horizon.next"),
        Binding("left_square_bracket", "change_horizon(-1)", "Previous VaR horizon", show=False,
                id="horizon.previous"),
        Binding("percent_sign", "toggle_units", "Currency / % of NAV", show=False, id="units"),
        Binding("tab", "next_pane", "Next pane", show=False, priority=True, id="pane.next"),
        Binding("shift+tab", "previous_pane", "Previous pane", show=False, priority=True, id="pane.previous"),
        *_pane_bindings(),
        Binding("R", "toggle_replay", "Replay history (again: back to live)", show=False, id="replay"),
        Binding("comma,less_than_sign", "replay_step(-1)", "Replay: previous refresh", show=False,
                id="replay.previous"),
        Binding("full_stop,greater_than_sign", "replay_step(1)", "Replay: next refresh", show=False,
                id="replay.next"),
        # Priority: a focused table binds home/end too; outside replay these fall through to it.
        Binding("home,g", "replay_end('first')", "Replay: first refresh", show=False, priority=True,
                id="replay.first"),
        Binding("end,G", "replay_end('last')", "Replay: newest refresh", show=False, priority=True,
                id="replay.last"),
        Binding("escape", "leave_replay", "Replay: back to live", show=False, id="replay.exit"),
    ]

    def __init__(
        self,
        compute: Callable[[int], RiskSnapshot],
        *,
        refresh_seconds: float = 60.0,
        theme: str = "default",
        keymap: dict[str, str] | None = None,
        snapshot_dir: Path | None = None,
        model_risk_factor: float = 2.0,
        mode: str = "DEMO",
        now: Callable[[], datetime] | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        start_engine: bool = True,
        initial_pane: str = "positions",
        ack_handler: Callable[[str], Any] | None = None,
        failure_handler: Callable[[str, datetime], Any] | None = None,
        on_first_render: Callable[[RiskSnapshot], None] | None = None,
        notes: tuple[str, ...] = (),
        replay: Any | None = None,
        replay_at: str | datetime | None = None,
        history_note: str | None = None,
        what_if_model: Callable[[], Any] | None = None,
        what_if_unavailable: str = NO_WHAT_IF,
        bell: bool = False,
        fired_alerts: Callable[[], Sequence[Any]] | None = None,
        ml_status: Callable[[], str | None] | None = None,
    ) -> None:
        super().__init__()
        if initial_pane not in PANE_NAMES:
            raise ValueError(f"unknown pane {initial_pane!r}: use one of {', '.join(PANE_NAMES)}")
        unknown = sorted(set(keymap or {}) - set(BINDING_IDS))
        if unknown:
            raise ValueError(f"unknown binding id(s) in the keymap: {', '.join(unknown)}")
        # Animations cost bandwidth over SSH: off unless the user asks via TEXTUAL_ANIMATIONS.
        if "TEXTUAL_ANIMATIONS" not in os.environ:
            self.animation_level = "none"
        for t in THEMES:
            self.register_theme(t)
        self._compute = compute
        self._refresh_seconds = float(refresh_seconds)
        self._config_keymap = dict(keymap or {})
        self.snapshot_dir = snapshot_dir
        self.mode = mode
        self._now = now or (lambda: datetime.now(timezone.utc))
        self._monotonic = monotonic
        self._start_engine = start_engine
        self.initial_pane = initial_pane
        self._ack_handler = ack_handler
        self._failure_handler = failure_handler
        self._notes = notes
        self._on_first_render = on_first_render
        #: Where ``R`` finds recorded frames (a ReplaySource: first/last/step/goto), or None.
        self.replay_source = replay
        self._replay_at = replay_at
        #: The recorded frame on screen while replaying, else None.
        self.replay_frame: Any | None = None
        self._replay_keys = ""
        self._paused_before_replay = False
        #: Live snapshots that arrived during replay and wait (shown on leaving replay).
        self.held_live = 0
        self._history_note = history_note
        # One lock around every use of the runtime's engine state (its fit cache is not
        # thread-safe): the engine thread's computes and the what-if model builds.
        self._engine_lock = threading.Lock()
        self._what_if_build = what_if_model
        self._what_if_unavailable = what_if_unavailable
        #: (snapshot seq the model was built for, StressModel) once a build finished.
        self._what_if_model: tuple[int, Any] | None = None
        #: (seq, error text) of the last failed build; retried on the next snapshot.
        self._what_if_error: tuple[int, str] | None = None
        self._what_if_building: int | None = None
        self._bell = bell
        self._fired_alerts = fired_alerts
        self._bell_lock = threading.Lock()
        self._bell_pending = False
        #: Times the bell rang for new alerts (tests).
        self.bells = 0
        #: One line on ML training in the background (``Runtime.ml_status``), None when idle.
        self._ml_status = ml_status
        #: The status bar showed ML work since the last refresh asked for when it ended.
        self._ml_busy = False
        self._first_rendered = False
        self._snapshots: LatestSlot[RiskSnapshot] = LatestSlot()
        self._failures: LatestSlot[EngineFailure] = LatestSlot()
        self._engine_closed = False
        self.worker: EngineWorker | None = None
        #: The snapshot on screen: the newest good live one, or the replay frame while replaying.
        self.snapshot: RiskSnapshot | None = None
        #: The newest good live snapshot (the same as :attr:`snapshot` outside replay).
        self.live_snapshot: RiskSnapshot | None = None
        #: The newest failure newer than :attr:`live_snapshot`, if any.
        self.failure: EngineFailure | None = None
        #: Sequence numbers rendered, in order (tests assert conflation on this).
        self.rendered_seqs: list[int] = []
        #: Alert ids acknowledged in this session, in order.
        self.acknowledged: list[str] = []
        self.wide = False
        self._layout_done = False
        self._saved_switch_interval = sys.getswitchinterval()
        #: Wall-clock time of the first frame on screen (benchmarks).
        self.ready_at: float | None = None
        self.theme = theme_name(theme, no_color=self.no_color)
        self.view = ViewState(palette=self._palette_for(self.theme), model_risk_factor=model_risk_factor)

    # -- layout ------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield StatusBar(id="status")
        with Horizontal(id="overview"):
            yield PositionsPane(id="ov-positions")
            yield VarLadderPane(id="ov-var")
        with TabbedContent(id="tabs", initial=self.initial_pane):
            for i, cls in enumerate(PANE_CLASSES, start=1):
                with TabPane(f"{i} {cls.LABEL}", id=cls.PANE):
                    yield cls(id=f"{cls.PANE}-pane")
        yield KeyBar(id="keys")

    def on_mount(self) -> None:
        self._saved_switch_interval = sys.getswitchinterval()
        sys.setswitchinterval(min(self._saved_switch_interval, SWITCH_INTERVAL_S))
        if self._config_keymap:
            self.set_keymap(self._config_keymap)
        self._apply_layout(self.size.width)
        self._watch_ladder_width()
        for pane in self.query(HistoryPane):
            pane.source_note = self._history_note
        self._focus_pane(self.initial_pane)
        self.update_status()
        self.set_interval(1.0, self.update_status)
        for note in self._notes:
            self.notify(note, severity="warning", timeout=10)
        if self._replay_at is not None:
            self.enter_replay(self._replay_at)

    def on_ready(self) -> None:
        """The first frame is on screen (Textual's Ready event): now start the engine.

        Started any earlier, the first compute (which imports pandas/scipy/arch and holds the GIL
        for seconds) would delay the first paint."""
        self.ready_at = time.time()
        # Opened in replay (--replay): the engine starts when the user goes back to live.
        if self._start_engine and self.worker is None and not self.replaying:
            self.start_engine()

    def on_resize(self, event: events.Resize) -> None:
        self._apply_layout(event.size.width)

    def _apply_layout(self, width: int) -> None:
        wide = width >= WIDE_COLUMNS
        if wide == self.wide and self._layout_done:
            return
        self._layout_done = True
        self.wide = wide
        tabs = self.query_one("#tabs", TabbedContent)
        self.query_one("#overview").display = wide
        self.set_class(wide, "-wide")
        if wide:
            if tabs.active in OVERVIEW_PANES:
                tabs.active = "stress"
            for name in OVERVIEW_PANES:
                tabs.hide_tab(name)
        else:
            for name in OVERVIEW_PANES:
                tabs.show_tab(name)
        self._show_everywhere()

    def _watch_ladder_width(self) -> None:
        """Fit the overview whenever the ladder's table changes size (again after a recompose)."""
        table = self.query_one("#ov-var", VarLadderPane).table
        self.watch(table, "virtual_size", lambda _size: self._fit_overview(), init=False)

    def _fit_overview(self) -> None:
        """Wide layout: the VaR ladder takes its table's width (capped at 60% by the CSS), not its
        longest footnote's (footnotes are cut with an ellipsis there), so Positions keeps the
        rest for its Greek columns. Without a table (a message instead) the width is automatic."""
        ladder = self.query_one("#ov-var", VarLadderPane)
        table = ladder.table
        if not table.display or table.virtual_size.width == 0:
            ladder.styles.width = "auto"
            return
        # Room for the vertical scrollbar always: it appears when the overview is short, after
        # the table's virtual size (which triggers this fit) is known.
        scrollbar = table.styles.scrollbar_size_vertical
        ladder.styles.width = table.virtual_size.width + scrollbar + ladder.styles.gutter.width

    def pane(self, name: str) -> SnapshotPane:
        """The instance of pane ``name`` the user sees in the current layout."""
        if self.wide and name in OVERVIEW_PANES:
            return self.query_one(f"#ov-{name}", SnapshotPane)
        return self.query_one(f"#{name}-pane", SnapshotPane)

    def all_panes(self) -> list[SnapshotPane]:
        return list(self.query(SnapshotPane))

    @property
    def current_pane(self) -> str:
        """The pane holding focus, else the active tab."""
        node = self.focused
        while node is not None:
            if isinstance(node, SnapshotPane):
                return node.PANE
            node = node.parent  # type: ignore[assignment]
        return self.query_one("#tabs", TabbedContent).active

    def _focus_pane(self, name: str) -> None:
        if not (self.wide and name in OVERVIEW_PANES):
            self.query_one("#tabs", TabbedContent).active = name
        pane = self.pane(name)
        pane.refresh_view()
        target = pane.focus_target()
        target.focus()
        # The tab switch updates display on the next refresh; focus again once it is visible.
        self.call_after_refresh(target.focus)

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        if event.pane is not None:
            for pane in event.pane.query(SnapshotPane):
                pane.refresh_view()

    # -- engine ------------------------------------------------------------------------------

    def start_engine(self) -> EngineWorker:
        self.worker = EngineWorker(self._engine_compute, self._refresh_seconds, self._publish,
                                   clock=self._monotonic)
        self.worker.start()
        return self.worker

    def _engine_compute(self, seq: int) -> RiskSnapshot:
        """Engine thread: compute under the engine lock, then note whether alerts fired.

        ``fired_alerts`` (the monitor's ``last_fired``) is read here, right after the evaluation
        that set it, so a snapshot skipped by conflation still rings the bell."""
        with self._engine_lock:
            snapshot = self._compute(seq)
            fired = self._fired_alerts() if self._fired_alerts is not None else ()
        if fired:
            with self._bell_lock:
                self._bell_pending = True
        return snapshot

    def _ring_for_new_alerts(self) -> None:
        """UI thread: ring the terminal bell once if alerts fired since the last ring (``alerts.bell``)."""
        with self._bell_lock:
            pending, self._bell_pending = self._bell_pending, False
        if pending and self._bell:
            self.bells += 1
            self.bell()

    def _publish(self, item: Published) -> None:
        """Engine thread: keep the newest value, wake the UI only if it was not already woken."""
        if self._engine_closed:
            return
        if isinstance(item, EngineFailure):
            wake, message = self._failures.put(item), EngineFailed(item)
        else:
            wake, message = self._snapshots.put(item), SnapshotReady(item)
        if wake:
            try:
                self.post_message(message)
            except RuntimeError:
                # The event loop closed between the check above and the post (the app is
                # exiting): nobody is left to show the result.
                self._engine_closed = True

    def on_snapshot_ready(self, message: SnapshotReady) -> None:
        self._consume()

    def on_engine_failed(self, message: EngineFailed) -> None:
        self._consume()

    def _consume(self) -> None:
        snapshot = self._snapshots.take()
        failure = self._failures.take()
        live = self.live_snapshot
        newer = snapshot is not None and (live is None or snapshot.meta.seq > live.meta.seq)
        if snapshot is not None and newer:
            self.live_snapshot = snapshot
            if self.failure is not None and self.failure.seq < snapshot.meta.seq:
                self.failure = None
            if self.replaying:
                self.held_live += 1
            else:
                self._show_live(snapshot)
        live = self.live_snapshot
        if failure is not None and (live is None or failure.seq > live.meta.seq):
            self.failure = failure
            if self._failure_handler is not None:
                alerts = self._store_call("record the engine-error alert", self._failure_handler,
                                          failure.error, failure.when)
                self._show_failure_alerts(alerts)
                if self._fired_alerts is not None and self._fired_alerts():
                    with self._bell_lock:
                        self._bell_pending = True
        self._ring_for_new_alerts()
        if newer:
            self._refresh_what_if()
        self.update_status()

    def _show_failure_alerts(self, alerts: Any) -> None:
        """Put the alerts section ``on_failure`` returned (with its ``engine_error`` alert) on the
        last good snapshot, so the Alerts pane shows the failure; the numbers stay as they were."""
        from wsbrisk_tui.attach import with_section

        if not isinstance(alerts, dict) or self.live_snapshot is None:
            return
        self.live_snapshot = with_section(self.live_snapshot, "alerts", alerts)
        if not self.replaying:
            self.snapshot = self.live_snapshot
            self._show_everywhere()

    def _show_live(self, snapshot: RiskSnapshot) -> None:
        self._put_on_screen(snapshot)
        if not self._first_rendered:
            self._first_rendered = True
            if self._on_first_render is not None:
                self.call_after_refresh(self._on_first_render, snapshot)

    def _put_on_screen(self, snapshot: RiskSnapshot) -> None:
        """Put ``snapshot`` on screen: the one render path of live snapshots and replay frames."""
        self.snapshot = snapshot
        self.rendered_seqs.append(snapshot.meta.seq)
        self._show_everywhere()

    def _store_call(self, what: str, fn: Callable[..., Any], *args: Any) -> Any:
        """Call a history-store hook; a store error is shown, and the dashboard carries on."""
        import sqlite3

        try:
            return fn(*args)
        except (sqlite3.Error, OSError) as exc:
            self.notify(f"could not {what}: {exc}", severity="error", timeout=10)
            return None

    def inject(self, item: Published) -> None:
        """Hand a result to the UI as the engine would (UI thread; tests and replay)."""
        self._publish(item)

    @property
    def dropped_snapshots(self) -> int:
        """Snapshots replaced before the UI took them (conflation)."""
        return self._snapshots.dropped

    @property
    def is_stale(self) -> bool:
        """True when the snapshot on screen is stale (data marked stale, or a newer refresh failed;
        in replay only the recorded flag counts)."""
        if self.snapshot is None:
            return False
        return self.snapshot.meta.stale or (self.failure is not None and not self.replaying)

    def _show_everywhere(self) -> None:
        if self.snapshot is None:
            return
        with self.batch_update():
            for pane in self.all_panes():
                pane.show(self.snapshot, self.view)

    def update_status(self) -> None:
        worker = self.worker
        frame = self.replay_frame
        replay = None
        if frame is not None:
            t = frame.snapshot.meta.computed_at
            t = t.astimezone(timezone.utc) if t.tzinfo is not None else t.replace(tzinfo=timezone.utc)
            replay = ReplayStatus(index=frame.index, count=frame.count, refresh_id=frame.refresh_id,
                                  recorded_at=t, keys=self._replay_keys, held=self.held_live)
        # Training progress is about the live engine: not shown over a recorded refresh.
        ml = self._ml_status() if self._ml_status is not None and replay is None else None
        self._refresh_after_ml(ml)
        state = StatusState(
            snapshot=self.snapshot,
            failure=None if replay is not None else self.failure,
            paused=worker.paused if worker else False,
            computing=worker.computing if worker else False,
            next_refresh_in=worker.next_refresh_in() if worker else None,
            interval_s=worker.interval_s if worker else self._refresh_seconds,
            now=self._now(),
            mode=self.mode,
            dropped=self.dropped_snapshots,
            replay=replay,
            ml=ml,
        )
        # query, not query_one: during shutdown the bar may already be gone.
        for bar in self.query(StatusBar):
            bar.show(state, self.view.palette)

    def _refresh_after_ml(self, ml_line: str | None) -> None:
        """Refresh once when the ML work the status bar showed has ended, so that the ML pane
        shows the new models now rather than at the next scheduled refresh (up to the interval
        later). Once per busy-to-idle change seen here, so it cannot loop; never while paused."""
        if ml_line:
            self._ml_busy = True
            return
        worker = self.worker
        if not self._ml_busy or worker is None or worker.paused:
            return
        self._ml_busy = False
        worker.refresh_now()

    def on_unmount(self) -> None:
        sys.setswitchinterval(self._saved_switch_interval)
        self._engine_closed = True
        if self.worker is not None:
            # Do not wait for a long compute: the thread is a daemon and its result is ignored.
            self.worker.stop(timeout=0.2)

    # -- theme and view ----------------------------------------------------------------------

    def _palette_for(self, theme: str) -> Palette:
        colour = theme not in COLOURLESS and not self.no_color
        return Palette.from_theme(self.get_theme(theme) or THEMES[0], colour=colour)

    def watch_theme(self, theme: str) -> None:
        if not hasattr(self, "view"):
            return  # called from __init__ before the view exists
        self.view = replace(self.view, palette=self._palette_for(theme))
        if self.is_mounted:
            self._show_everywhere()
            self.update_status()

    def action_next_theme(self) -> None:
        names = [t.name for t in THEMES]
        i = names.index(self.theme) if self.theme in names else -1
        self.theme = names[(i + 1) % len(names)]
        self.notify(f"theme: {self.theme}", timeout=2)

    def action_change_horizon(self, step: int) -> None:
        horizons = horizons_of(self.snapshot) if self.snapshot is not None else [1, 5, 10]
        if not horizons:
            return
        i = horizons.index(self.view.horizon_days) if self.view.horizon_days in horizons else 0
        self.view = replace(self.view, horizon_days=horizons[(i + step) % len(horizons)])
        self._show_everywhere()

    def action_toggle_units(self) -> None:
        self.view = replace(self.view, units=UNITS[(UNITS.index(self.view.units) + 1) % len(UNITS)])
        self._show_everywhere()

    # -- navigation --------------------------------------------------------------------------

    def action_show_pane(self, name: str) -> None:
        self._focus_pane(name)

    def action_next_pane(self) -> None:
        i = PANE_NAMES.index(self.current_pane)
        self._focus_pane(PANE_NAMES[(i + 1) % len(PANE_NAMES)])

    def action_previous_pane(self) -> None:
        i = PANE_NAMES.index(self.current_pane)
        self._focus_pane(PANE_NAMES[(i - 1) % len(PANE_NAMES)])

    def action_help(self) -> None:
        self.push_screen(HelpScreen(self, self.screen))

    # -- refresh control ---------------------------------------------------------------------

    def action_toggle_pause(self) -> None:
        if self.worker is None:
            return
        paused = self.worker.toggle_pause()
        self.notify("paused: press p to resume" if paused else "resumed", timeout=2)
        self.update_status()

    def action_refresh_now(self) -> None:
        if self.worker is None:
            return
        self.worker.refresh_now()
        self.update_status()

    def action_change_interval(self, step: int) -> None:
        if self.worker is None:
            return
        current = self.worker.interval_s
        if step > 0:
            new = next((s for s in INTERVAL_STEPS if s > current + 1e-9), INTERVAL_STEPS[-1])
        else:
            new = next((s for s in reversed(INTERVAL_STEPS) if s < current - 1e-9), INTERVAL_STEPS[0])
        self.worker.set_interval(new)
        self.notify(f"refresh every {new:g}s", timeout=2)
        self.update_status()

    # -- replay ------------------------------------------------------------------------------

    @property
    def replaying(self) -> bool:
        return self.replay_frame is not None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Replay keys work only in replay on the main screen, engine keys only outside it.

        ``None`` (not ``False``) keeps the binding in the help screen, greyed, and lets the key
        fall through to the focused widget (a table's home/end outside replay)."""
        if action in REPLAY_ACTIONS:
            return True if self.replaying and not isinstance(self.screen, ModalScreen) else None
        if action in ENGINE_ACTIONS and self.replaying:
            return None
        return True

    def _read_replay(self, fn: Callable[..., Any], *args: Any) -> tuple[bool, Any]:
        """(ok, frame or None) from a replay-source call; a store error is shown, not raised."""
        import sqlite3

        from wsbrisk_tui.errors import InputError

        try:
            return True, fn(*args)
        except (InputError, sqlite3.Error, OSError) as exc:
            self.notify(f"could not read the history: {exc}", severity="error", timeout=10)
            return False, None

    def enter_replay(self, at: str | datetime = "last") -> bool:
        """Start replaying at ``"first"``, ``"last"`` or the newest frame at or before a time.

        Pauses the engine worker; False (and a notification) when there is nothing to replay."""
        source = self.replay_source
        if source is None:
            self.notify(NO_REPLAY_HISTORY, severity="warning", timeout=8)
            return False
        if isinstance(at, datetime):
            ok, frame = self._read_replay(source.goto, at)
            if ok and frame is None:
                ok, frame = self._read_replay(source.first)
                if frame is not None:
                    self.notify(f"nothing recorded at or before {at:%Y-%m-%d %H:%M:%S %Z}: showing the "
                                "first recorded refresh", severity="warning", timeout=8)
        else:
            ok, frame = self._read_replay(source.first if at == "first" else source.last)
        if not ok:
            return False
        if frame is None:
            self.notify(NO_REPLAY_HISTORY, severity="warning", timeout=8)
            return False
        if not self.replaying:
            self._paused_before_replay = self.worker.paused if self.worker is not None else False
            if self.worker is not None:
                self.worker.pause()
            self.held_live = 0
            self._replay_keys = self._replay_key_hint()
        self._show_frame(frame)
        return True

    def _show_frame(self, frame: Any) -> None:
        self.replay_frame = frame
        self._put_on_screen(frame.snapshot)
        self.update_status()

    def _replay_key_hint(self) -> str:
        """``", . step  home end  esc live"`` with the keys as currently mapped."""
        keys: dict[str, list[str]] = {}
        for key, active in self.screen.active_bindings.items():
            if active.binding.id:
                keys.setdefault(active.binding.id, []).append(self.get_key_display(active.binding.with_key(key)))

        def key(ident: str) -> str:
            return keys.get(ident, ["-"])[0]  # one key per id is enough for a hint

        return (f"{key('replay.previous')} {key('replay.next')} step  "
                f"{key('replay.first')} {key('replay.last')}  {key('replay.exit')} live")

    async def action_toggle_replay(self) -> None:
        if self.replaying:
            await self.action_leave_replay()
        else:
            self.enter_replay("last")

    def action_replay_step(self, direction: int) -> None:
        frame = self.replay_frame
        if frame is None or self.replay_source is None:
            return
        ok, new = self._read_replay(self.replay_source.step, frame.refresh_id, direction)
        if ok and new is None:
            self.notify("first recorded refresh" if direction < 0 else "newest recorded refresh", timeout=2)
        elif new is not None:
            self._show_frame(new)

    def action_replay_end(self, which: str) -> None:
        if self.replaying:
            self.enter_replay("first" if which == "first" else "last")

    async def action_leave_replay(self) -> None:
        """Back to live: resume the engine (start it after --replay) and show the newest live
        snapshot; before the first live one, the panes go back to empty."""
        if not self.replaying:
            return
        self.replay_frame = None
        if self.worker is None:
            if self._start_engine:
                self.start_engine()
        elif not self._paused_before_replay:
            self.worker.resume()
        if self.live_snapshot is not None:
            self._show_live(self.live_snapshot)
        else:
            current = self.current_pane
            self.snapshot = None
            for pane in self.all_panes():
                await pane.clear()
            self._watch_ladder_width()
            self._focus_pane(current)
        self.held_live = 0
        self.update_status()
        self.notify("live", timeout=2)

    # -- what-if -----------------------------------------------------------------------------

    def what_if(self, text: str) -> WhatIfAnswer:
        """The P&L of the shock ``text`` on today's book, from the engine's stress model.

        The model (betas of the book's assets) is built off the UI thread, once per live snapshot,
        and reused while the user types (a what-if on it takes well under a millisecond). Until
        the first build finishes the answer is "pending"; after a newer snapshot, the previous
        model answers (said so) while the new one is built. A bad text is the parser's message."""
        from wsbrisk_tui.engine.stress import parse_shock_text
        from wsbrisk_tui.errors import InputError

        if self._what_if_build is None:
            return WhatIfAnswer("unavailable", message=self._what_if_unavailable)
        if self.replaying:
            return WhatIfAnswer("unavailable", message=WHAT_IF_IN_REPLAY)
        try:
            spec = parse_shock_text(text)
        except InputError as exc:
            return WhatIfAnswer("error", message=str(exc))
        seq = self.live_snapshot.meta.seq if self.live_snapshot is not None else 0
        built = self._what_if_model
        if built is None or built[0] != seq:
            self._start_what_if_build(seq)
        if built is None:
            if self._what_if_error is not None and self._what_if_building is None:
                return WhatIfAnswer("error", message=f"what-if n/a: {self._what_if_error[1]}")
            waiting = " (after the refresh in progress)" if self._engine_lock.locked() else ""
            return WhatIfAnswer("pending", message=f"building the stress model of the book{waiting}...")
        try:
            result = built[1].what_if(spec)
        except InputError as exc:
            return WhatIfAnswer("error", message=str(exc))
        note = "" if built[0] == seq else f"(book as of refresh #{built[0]}; updating)"
        return WhatIfAnswer("ok", result=result, note=note)

    def _start_what_if_build(self, seq: int) -> None:
        if self._what_if_building is not None or self._what_if_build is None:
            return
        if self._what_if_error is not None and self._what_if_error[0] == seq:
            return  # failed for this snapshot already: retried on the next one
        self._what_if_building = seq
        threading.Thread(target=self._build_what_if, args=(seq, self._what_if_build),
                         name="wsbrisk-what-if", daemon=True).start()

    def _build_what_if(self, seq: int, build: Callable[[], Any]) -> None:
        """What-if thread: build the stress model under the engine lock, hand it to the UI."""
        from wsbrisk_tui.errors import InputError

        model, error = None, None
        try:
            with self._engine_lock:
                model = build()
        except InputError as exc:
            error = str(exc)
        except Exception as exc:  # noqa: BLE001 - shown in the what-if box, as the engine worker does
            error = f"{type(exc).__name__}: {exc}"
        if self._engine_closed:
            return
        try:
            self.call_from_thread(self._what_if_built, seq, model, error)
        except RuntimeError:
            # The app is exiting: nobody is left to show the model.
            self._engine_closed = True

    def _what_if_built(self, seq: int, model: Any, error: str | None) -> None:
        self._what_if_building = None
        if model is not None:
            self._what_if_model = (seq, model)
            self._what_if_error = None
        else:
            self._what_if_error = (seq, error or "no model")
        self._refresh_what_if()

    def _refresh_what_if(self) -> None:
        """Re-evaluate every open what-if box (a model is ready, or a newer snapshot came)."""
        for box in self.query(WhatIfBox):
            if box.is_open:
                box.evaluate()

    # -- snapshot, alerts --------------------------------------------------------------------

    def action_save_snapshot(self) -> Path | None:
        from wsbrisk_tui.textexport import screen_text

        if self.snapshot_dir is None:
            self.notify("no snapshot folder configured (general.snapshot_dir)", severity="error")
            return None
        path = Path(self.snapshot_dir) / f"wsbrisk-{self._now():%Y%m%d-%H%M%S}.txt"
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(screen_text(self), encoding="utf-8")
        except OSError as exc:
            self.notify(f"could not save the snapshot: {exc}", severity="error", timeout=8)
            return None
        self.notify(f"saved {path}", timeout=6)
        return path

    def on_acknowledge_alert(self, message: AcknowledgeAlert) -> None:
        if self.replaying:
            # The alerts pane disables `a` in replay; this guards a message already in flight.
            self.notify("replay shows recorded alerts: acknowledge in live mode", severity="warning")
            return
        self.acknowledged.append(message.alert_id)
        if self._ack_handler is not None:
            done = self._store_call("save the acknowledgement", self._ack_handler, message.alert_id)
            if done is False:
                self.notify(f"alert {message.alert_id} is not in the alert store", severity="warning")
            elif done is not None:
                self.notify(f"alert {message.alert_id} acknowledged", timeout=3)
        else:
            self.notify(f"alert {message.alert_id} acknowledged for this session only "
                        "(no alert store attached)", severity="warning", timeout=5)

    # -- command palette ---------------------------------------------------------------------

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        keys = {ab.binding.id: key for key, ab in screen.active_bindings.items() if ab.binding.id}
        for b in self.BINDINGS:
            if not isinstance(b, Binding) or not b.id or b.action in ("quit", "help"):
                continue
            _, name, params = parse_action(b.action)
            if not self.check_action(name, params):
                continue
            key = keys.get(b.id)
            hint = f" (key: {self.get_key_display(b.with_key(key))})" if key else ""
            yield SystemCommand(b.description, f"{b.description}{hint}", partial(self.run_action, b.action))


def binding_ids() -> list[str]:
    """Every binding id a ``[keymap]`` may remap (app and panes), from the live classes.

    :data:`wsbrisk_tui.keys.BINDING_IDS` (Textual-free, read by the config check) must equal it;
    a test asserts so."""
    from wsbrisk_tui.widgets.detail import DetailScreen
    from wsbrisk_tui.widgets.table import RiskTable

    ids: list[str] = []
    for owner in (RiskDeskApp, PositionsPane, AlertsPane, StressPane, WhatIfBox, RiskTable, DetailScreen):
        ids += [b.id for b in owner.BINDINGS if isinstance(b, Binding) and b.id]
    return ids


def create_app(runtime: Any, *, config: Any = None, start_engine: bool = True,
               initial_pane: str = "positions", now: Callable[[], datetime] | None = None,
               monotonic: Callable[[], float] = time.monotonic,
               on_first_render: Callable[[RiskSnapshot], None] | None = None,
               compute: Callable[[int], RiskSnapshot] | None = None,
               notes: Iterable[str] = (), replay: Any | None = None,
               replay_at: str | datetime | None = None,
               history_note: str | None = None) -> RiskDeskApp:
    """The dashboard for a runtime: anything with ``compute(seq)``, ``mode`` and ``clock``
    (:class:`~wsbrisk_tui.runtime.Runtime`, :class:`~wsbrisk_tui.attach.RecordingRuntime`,
    :class:`~wsbrisk_tui.attach.AttachedRuntime`).

    ``config`` defaults to ``runtime.config`` (an attached runtime has none). ``compute`` wraps or
    replaces ``runtime.compute`` (tests pin wall-time figures with it). The runtime's optional
    ``acknowledge(alert_id)`` receives acknowledgements and ``on_failure(error, when)`` engine
    errors. ``notes`` are shown once at start (e.g. "a daemon is recording: not recording here").
    ``replay`` (a :class:`~wsbrisk_tui.attach.ReplaySource`) is what ``R`` steps through;
    ``replay_at`` (``"first"``, ``"last"`` or a datetime) opens in replay. ``history_note`` says in
    the History pane where its history comes from, or why there is none.

    A runtime with ``risk_context()`` (a computing one) powers the stress pane's what-if box
    (:func:`stress_model_builder`); one with a ``monitor`` (``last_fired``) rings the bell on
    new alerts when ``alerts.bell`` is set; one with ``ml_status()`` (one line, or None when no
    ML training runs) shows the background training's progress in the status bar.
    """
    cfg = config if config is not None else runtime.config
    monitor = getattr(runtime, "monitor", None)
    fired = (lambda: list(monitor.last_fired)) if monitor is not None else None
    return RiskDeskApp(
        compute or runtime.compute,
        refresh_seconds=cfg.general.refresh_seconds,
        theme=cfg.general.theme,
        keymap=dict(cfg.keymap),
        snapshot_dir=cfg.paths().snapshot_dir,
        model_risk_factor=cfg.risk.model_risk_factor,
        mode=runtime.mode,
        now=now or runtime.clock,
        monotonic=monotonic,
        start_engine=start_engine,
        initial_pane=initial_pane,
        # Optional hooks: a bare Runtime keeps no alert store.
        ack_handler=getattr(runtime, "acknowledge", None),
        failure_handler=getattr(runtime, "on_failure", None),
        on_first_render=on_first_render,
        notes=tuple(notes),
        replay=replay,
        replay_at=replay_at,
        history_note=history_note,
        what_if_model=stress_model_builder(runtime, cfg),
        bell=bool(cfg.alerts.bell),
        fired_alerts=fired,
        ml_status=getattr(runtime, "ml_status", None),
    )


def stress_model_builder(runtime: Any, config: Any) -> Callable[[], Any] | None:
    """A blocking ``build() -> StressModel`` from the runtime's ``risk_context()`` and the config's
    ``[betas]`` overrides (as the snapshot's stress section and ``wsbrisk-tui stress`` build it);
    ``None`` when the runtime cannot build risk inputs (attached to a daemon's store)."""
    try:
        context = runtime.risk_context
    except AttributeError:
        return None
    overrides = {sym: dict(b) for sym, b in dict(config.betas).items()}

    def build() -> Any:
        from wsbrisk_tui.engine.stress import StressSettings, build_stress_model

        _, market, _, inputs = context()
        # No replay: a what-if never replays, and skipping the price history saves the copy.
        return build_stress_model(inputs, market, StressSettings(overrides=overrides, replay=False))

    return build
