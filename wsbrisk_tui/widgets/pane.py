"""The base of every pane: keeps the newest snapshot, renders only when visible.

A pane is given every new snapshot (:meth:`SnapshotPane.show`) but renders it only if it is
displayed; a hidden pane (an inactive tab) just remembers it and renders on activation, when the
app calls :meth:`SnapshotPane.refresh_view`. Rendering is skipped when neither the snapshot nor the
view settings changed since the last render.

:class:`TablePane` is the shape most panes share: a title line, one :class:`RiskTable`, optional
widgets below it, and a note for footnotes or the reason a section is n/a.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widget import Widget
from textual.widgets import Static

from wsbrisk_tui.engine.model import RiskSnapshot
from wsbrisk_tui.widgets.palette import Palette
from wsbrisk_tui.widgets.table import RiskTable

UNITS = ("ccy", "pct")


@dataclass(frozen=True)
class ViewState:
    """Display settings every pane reads (changed by keys, not by the engine)."""

    palette: Palette
    horizon_days: int = 1
    units: str = "ccy"  # "ccy" (base currency) or "pct" (fraction of NAV)
    model_risk_factor: float = 2.0


def section(snapshot: RiskSnapshot, name: str) -> tuple[Any, str | None]:
    """(section data, None) or (None, reason) for a later section of the snapshot."""
    data = snapshot.sections.get(name) if isinstance(snapshot.sections, dict) else None
    if data is not None:
        return data, None
    reason = snapshot.unavailable.get(name) if isinstance(snapshot.unavailable, dict) else None
    return None, reason or "not in this snapshot"


def as_float(value: Any) -> float | None:
    """A JSON number as float; ``None`` for anything else (bools are not numbers here)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


class SnapshotPane(Vertical):
    """A pane of the dashboard. Subclasses implement :meth:`render_snapshot` and :meth:`focus_target`."""

    #: Stable pane name: used by keys (1-8), ``--pane``, tab ids.
    PANE: ClassVar[str] = ""
    #: Tab label.
    LABEL: ClassVar[str] = ""
    #: Every subclass defines ``render_snapshot(snapshot, view)``: format the snapshot, nothing else.
    render_snapshot: Callable[[RiskSnapshot, ViewState], None]

    DEFAULT_CSS = """
    SnapshotPane { height: 1fr; }
    SnapshotPane > .pane-title { height: 1; text-style: bold; color: $text-primary; }
    SnapshotPane > .pane-note { height: auto; max-height: 45%; color: $text-muted; }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.snapshot: RiskSnapshot | None = None
        self.view: ViewState | None = None
        self._rendered: tuple[RiskSnapshot | None, ViewState | None] = (None, None)
        #: Renders done (tests assert that hidden panes do not render).
        self.render_count = 0

    async def clear(self) -> None:
        """Back to the state before any snapshot (leaving replay before the first live one)."""
        self.snapshot = None
        self._rendered = (None, None)
        await self.recompose()

    def title_widget(self) -> Static:
        return self.query_one(".pane-title", Static)

    def show(self, snapshot: RiskSnapshot, view: ViewState) -> bool:
        """Store the newest snapshot and view; render now if visible. True when rendered."""
        self.snapshot = snapshot
        self.view = view
        if self.is_displayed():
            return self.refresh_view()
        return False

    def refresh_view(self, force: bool = False) -> bool:
        """Render the stored snapshot if it (or the view) changed since the last render."""
        if self.snapshot is None or self.view is None or not self.is_mounted:
            return False
        last_snapshot, last_view = self._rendered
        if not force and last_snapshot is self.snapshot and last_view == self.view:
            return False
        self.render_snapshot(self.snapshot, self.view)
        self._rendered = (self.snapshot, self.view)
        self.render_count += 1
        return True

    @property
    def rendered_seq(self) -> int | None:
        snap = self._rendered[0]
        return snap.meta.seq if snap is not None else None

    def is_displayed(self) -> bool:
        """Displayed in the layout: this pane and all its ancestors have ``display`` on."""
        if not self.is_mounted:
            return False
        return all(node.display for node in self.ancestors_with_self if isinstance(node, Widget))

    def focus_target(self) -> Widget:
        """The widget that takes focus when the pane is selected."""
        return self


class TablePane(SnapshotPane):
    """A pane around one :class:`RiskTable`: title, table, :meth:`compose_extras`, note.

    Focus goes to the table. :meth:`show_message` replaces the table by a message (a section that
    is n/a, with its reason); :meth:`set_note` shows footnotes under the table, or hides the note
    when there are none.
    """

    #: Title before the first snapshot (default: the tab label).
    INITIAL_TITLE: ClassVar[str] = ""
    #: The table's cursor: "cell" or "row".
    CURSOR_TYPE: ClassVar[str] = "cell"
    #: Header lines of the table (two-line headers keep number columns narrow).
    HEADER_HEIGHT: ClassVar[int] = 1

    def compose(self) -> ComposeResult:
        yield Static(self.INITIAL_TITLE or self.LABEL, classes="pane-title", markup=False)
        table = RiskTable(cursor_type=self.CURSOR_TYPE, id=f"{self.id}-table" if self.id else None)
        table.header_height = self.HEADER_HEIGHT
        yield table
        yield from self.compose_extras()
        yield Static("", classes="pane-note", markup=False)

    def compose_extras(self) -> Iterable[Widget]:
        """Widgets between the table and the note (none by default)."""
        return ()

    @property
    def table(self) -> RiskTable:
        return self.query_one(RiskTable)

    @property
    def note(self) -> Static:
        return self.query_one(".pane-note", Static)

    def focus_target(self) -> Widget:
        return self.table

    def set_note(self, text: str | Text) -> None:
        """Show ``text`` under the table; an empty text hides the note."""
        note = self.note
        note.update(text)
        note.display = bool(text)

    def show_message(self, title: str, text: str) -> None:
        """Hide the table and say ``text`` instead (e.g. ``n/a: <reason>``) under ``title``."""
        self.title_widget().update(title)
        self.table.display = False
        note = self.note
        note.update(text)
        note.display = True
