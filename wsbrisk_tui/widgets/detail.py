"""Drill-down screens: a modal that shows one item's details; Escape goes back."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Static


class DetailScreen(ModalScreen[None]):
    """A titled modal with a scrollable body. Subclasses override :meth:`body`."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Back", id="detail.close"),
        Binding("q", "close", "Back", show=False, id="detail.close_q"),
    ]

    DEFAULT_CSS = """
    DetailScreen { align: center middle; }
    DetailScreen > Vertical {
        width: 90%; max-width: 110; height: 90%;
        border: round $primary; background: $surface; padding: 0 1;
    }
    DetailScreen .detail-title { text-style: bold; height: 1; }
    DetailScreen .detail-hint { color: $text-muted; height: 1; }
    DetailScreen VerticalScroll { height: 1fr; }
    """

    def __init__(self, title: str, text: Text | str | None = None) -> None:
        super().__init__()
        self.detail_title = title
        self._text = text

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self.detail_title, classes="detail-title", markup=False)
            with VerticalScroll():
                yield from self.body()
            yield Static("Esc: back", classes="detail-hint")

    def body(self) -> list[Widget]:
        return [Static(self._text if self._text is not None else "", markup=False)]

    def action_close(self) -> None:
        self.dismiss(None)
