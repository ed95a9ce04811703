"""The what-if box of the stress pane: a one-line shock input and its P&L, as the user types.

The box formats only. The P&L comes from the engine's stress model
(:meth:`wsbrisk_tui.engine.stress.StressModel.what_if`), which the app builds off the UI thread
and caches per snapshot (:meth:`wsbrisk_tui.app.RiskDeskApp.what_if`); the box asks the app for
an answer :data:`DEBOUNCE_S` after the last keystroke, or at once on Enter. A bad token shows the
parser's message (with its character position) in place of the result. Escape closes the box.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from rich.style import Style
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.timer import Timer
from textual.widgets import Input, Static

from wsbrisk_tui import fmt
from wsbrisk_tui.widgets.palette import Palette
from wsbrisk_tui.widgets.pane import as_float

#: Seconds after the last keystroke before the shock is evaluated.
DEBOUNCE_S = 0.1
#: Positions listed under the total.
WORST_N = 5
EXAMPLE = "SPY=-7%, VIX=+15, rates=+50bp"
HINT = ("factors (lower case): equity tech small_caps oil gold crypto in %, rates credit in bp, "
        "vix in points; symbols (upper case) in %.  Enter: now  Esc: close")


@dataclass(frozen=True)
class WhatIfAnswer:
    """What the app says about a shock text.

    ``status``: ``"ok"`` (``result`` is the engine's what-if dict), ``"error"`` (``message`` is the
    parser's or the model's error), ``"pending"`` (the stress model is being built; ``message``
    says so) or ``"unavailable"`` (no live engine; ``message`` says why). ``note`` qualifies an
    ``ok`` answer (e.g. the model is from an older refresh while a newer one is prepared).
    """

    status: str
    result: dict[str, Any] | None = None
    message: str = ""
    note: str = ""


def answer_text(answer: WhatIfAnswer, labels: dict[str, str], currency: str, p: Palette) -> Text:
    """Total P&L, % of NAV, the worst :data:`WORST_N` positions and the engine's notes."""
    if answer.status != "ok" or answer.result is None:
        style = p.warn if answer.status == "error" else p.muted
        return Text(answer.message, style=style)
    res = answer.result
    total, pct = as_float(res.get("total_pnl")), as_float(res.get("total_pct"))
    text = Text("total ")
    text.append(f"{fmt.arrow(total)} {fmt.money(total, signed=True)} {currency}", p.signed(total) + p.strong)
    text.append(f"  ({fmt.pct(pct, 2, signed=True)} of NAV)")
    if answer.note:
        text.append(f"  {answer.note}", p.muted)
    positions = res.get("positions") if isinstance(res.get("positions"), dict) else {}
    scored = sorted(((str(k), v) for k, v in ((k, as_float(v)) for k, v in positions.items()) if v is not None),
                    key=lambda kv: kv[1])
    if scored:
        text.append(f"\nworst {min(WORST_N, len(scored))}: ")
        for i, (sym, v) in enumerate(scored[:WORST_N]):
            if i:
                text.append(" · ", p.muted)
            body = fmt.compact_money(v)
            # Signed numbers without arrows: five positions fit on one line at 80 columns.
            text.append(f"{labels.get(sym, sym)} ")
            text.append("+" + body if v > 0 else body, p.signed(v))
    notes = res.get("notes")
    if isinstance(notes, list):
        for n in notes:
            text.append(f"\n{n}", p.muted)
    return text


class ShockInput(Input):
    """The one-line shock field (its own class so CSS and tests can find it)."""


class WhatIfBox(Vertical):
    """Hidden until :meth:`open`; asks ``app.what_if(text)`` and shows the answer."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close what-if", id="what_if.close"),
    ]

    DEFAULT_CSS = """
    WhatIfBox { height: auto; max-height: 50%; display: none; border-top: hkey $primary 50%; }
    WhatIfBox.-open { display: block; }
    WhatIfBox > Horizontal { height: 1; }
    WhatIfBox .whatif-prompt { width: auto; text-style: bold; }
    WhatIfBox ShockInput { height: 1; border: none; padding: 0; width: 1fr; background: $boost; }
    WhatIfBox ShockInput:focus { border: none; }
    WhatIfBox .whatif-result { height: auto; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._labels: dict[str, str] = {}
        self._currency = ""
        self._palette: Palette | None = None
        self._timer: Timer | None = None
        #: The answer on screen (tests read it).
        self.answer: WhatIfAnswer | None = None

    def compose(self) -> ComposeResult:
        with Horizontal():
            yield Static("what-if> ", classes="whatif-prompt", markup=False)
            yield ShockInput(placeholder=EXAMPLE, id=f"{self.id}-input" if self.id else None)
        yield Static(HINT, classes="whatif-result", markup=False)

    @property
    def input(self) -> ShockInput:
        return self.query_one(ShockInput)

    @property
    def result(self) -> Static:
        return self.query_one(".whatif-result", Static)

    @property
    def is_open(self) -> bool:
        return self.has_class("-open")

    def set_context(self, labels: dict[str, str], currency: str, palette: Palette) -> None:
        """Position labels (``SPY 600C``), the base currency and the palette of the snapshot on screen."""
        self._labels, self._currency, self._palette = labels, currency, palette

    def open(self) -> None:
        self.add_class("-open")
        self.input.focus()
        if self.input.value.strip():
            self.evaluate()
        else:
            self.show_answer(None)

    def action_close(self) -> None:
        self._cancel_timer()
        self.remove_class("-open")
        parent = self.parent
        focus = getattr(parent, "focus_target", None)
        if callable(focus):
            focus().focus()

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.stop()
            self._timer = None

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        self._cancel_timer()
        self._timer = self.set_timer(DEBOUNCE_S, self.evaluate)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._cancel_timer()
        self.evaluate()

    def evaluate(self) -> None:
        """Ask the app about the current text and show the answer (also called when a model is ready)."""
        self._timer = None
        if not self.is_open:
            return
        text = self.input.value
        if not text.strip():
            self.show_answer(None)
            return
        self.show_answer(self.app.what_if(text))  # type: ignore[attr-defined]

    def show_answer(self, answer: WhatIfAnswer | None) -> None:
        self.answer = answer
        if answer is None:
            self.result.update(Text(HINT, style=Style(dim=True)))
            return
        palette = self._palette or self.app.view.palette  # type: ignore[attr-defined]
        self.result.update(answer_text(answer, self._labels, self._currency, palette))
