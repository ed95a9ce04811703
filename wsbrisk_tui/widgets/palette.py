"""Styles for the panes, taken from the active Textual theme, and the table cell type.

Panes style Rich ``Text`` cells (a DataTable renders Rich renderables, not TCSS), so colours are
read from the theme once per theme change into a :class:`Palette`. In a colourless theme
(monochrome, ``NO_COLOR``) the palette has no colours at all: heat cells fall back to bold for
large values, and the meaning is carried by signs, arrows and words, never by colour alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.style import Style
from rich.text import Text
from textual.color import Color
from textual.theme import Theme

from wsbrisk_tui import fmt


class Cell(Text):
    """A right-justified, non-wrapping table cell that remembers the raw value it shows.

    ``sort_value`` is what column sorting compares (``None`` sorts last); ``signature`` is what
    in-place updates compare, because ``Text.__eq__`` ignores the base style (a colour change
    alone would not count as a change).
    """

    def __init__(self, text: str, style: Style | str = "", *, sort: Any = None,
                 justify: str = "right") -> None:
        super().__init__(text, style=style, justify=justify, no_wrap=True, end="")  # type: ignore[arg-type]
        self.sort_value = sort

    @property
    def signature(self) -> tuple[str, str, str]:
        return (self.plain, str(self.style), repr(self.spans))


def left(text: str, style: Style | str = "", sort: Any = None) -> Cell:
    return Cell(text, style, sort=text if sort is None else sort, justify="left")


@dataclass(frozen=True)
class Palette:
    """Rich styles for gains, losses, warnings and heat-map shading under one theme."""

    theme: str
    colour: bool
    gain: Style
    loss: Style
    warn: Style
    muted: Style
    strong: Style
    accent: Style
    background: Color
    gain_colour: Color
    loss_colour: Color
    warn_colour: Color

    @classmethod
    def from_theme(cls, theme: Theme, *, colour: bool = True) -> Palette:
        def parse(value: str | None, default: str) -> Color:
            return Color.parse(value or default)

        background = parse(theme.background, "#000000" if theme.dark else "#FFFFFF")
        gain_c = parse(theme.success, "green")
        loss_c = parse(theme.error, "red")
        warn_c = parse(theme.warning, "yellow")
        accent_c = parse(theme.accent, "magenta")
        if not colour:
            plain = Style()
            return cls(theme=theme.name, colour=False, gain=plain, loss=plain, warn=Style(bold=True),
                       muted=Style(dim=True), strong=Style(bold=True), accent=Style(bold=True),
                       background=background, gain_colour=gain_c, loss_colour=loss_c,
                       warn_colour=warn_c)
        return cls(theme=theme.name, colour=True, gain=Style(color=gain_c.rich_color),
                   loss=Style(color=loss_c.rich_color), warn=Style(color=warn_c.rich_color, bold=True),
                   muted=Style(dim=True), strong=Style(bold=True),
                   accent=Style(color=accent_c.rich_color, bold=True), background=background,
                   gain_colour=gain_c, loss_colour=loss_c, warn_colour=warn_c)

    def signed(self, value: float | None) -> Style:
        """Gain style for positive P&L, loss style for negative, plain otherwise."""
        if value is None or value == 0:
            return Style()
        return self.gain if value > 0 else self.loss

    def heat(self, fraction: float | None) -> Style:
        """Shading for a value scaled to [-1, 1] (negative = loss side).

        Colour themes blend the background towards the loss or gain colour in proportion to
        ``|fraction|``; colourless themes use bold for the strongest third.
        """
        if fraction is None:
            return self.muted
        f = max(-1.0, min(1.0, float(fraction)))
        if not self.colour or self.background.ansi is not None:
            return Style(bold=abs(f) >= 2 / 3)
        target = self.loss_colour if f < 0 else self.gain_colour
        shade = self.background.blend(target, 0.12 + 0.68 * abs(f))
        text = Color(255, 255, 255) if shade.brightness < 0.55 else Color(0, 0, 0)
        return Style(bgcolor=shade.rich_color, color=text.rich_color)

    def zone(self, zone: str | None) -> Style:
        """Basel traffic-light zone of a VaR backtest."""
        return {"green": self.gain, "yellow": self.warn, "red": self.loss + Style(bold=True)}.get(
            zone or "", self.muted)

    def severity(self, severity: str) -> Style:
        s = severity.lower()
        if s in ("critical", "breach", "error", "high"):
            return self.loss + Style(bold=True)
        if s in ("warning", "warn", "medium"):
            return self.warn
        return Style()


def pnl_cell(palette: Palette, value: float | None, *, compact: bool = False, arrow: bool = True) -> Cell:
    """Signed P&L with an arrow (▲ gain, ▼ loss) so the sign survives without colour."""
    if value is None:
        return Cell(fmt.NA, palette.muted, sort=None)
    body = fmt.compact_money(value) if compact else fmt.money(value, signed=True)
    if compact and value > 0:
        body = "+" + body
    text = f"{fmt.arrow(value)} {body}" if arrow else body
    return Cell(text, palette.signed(value), sort=value)


def na_cell(palette: Palette, text: str = fmt.NA) -> Cell:
    return Cell(text, palette.muted, sort=None)
