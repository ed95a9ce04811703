"""The what-if box of the stress pane (``w``): typed shocks priced by the engine's stress model.

The demo test runs the real engine end to end and compares the figure on screen with the model
built independently in the test from another demo runtime (same data, same deterministic betas).
The other tests use a fake model whose P&L is a closed form of the shock, so every figure is
known in advance: ``total = 100,000 x (equity shock) + 10 x rates bp`` split over two positions.
"""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from history_factory import T0, sample_snapshot
from snapshot_factory import OPTION_SYMBOL, frozen_clock, make_snapshot
from tui_helpers import wait_until

from wsbrisk_tui import fmt
from wsbrisk_tui.app import NO_WHAT_IF, WHAT_IF_IN_REPLAY, RiskDeskApp
from wsbrisk_tui.attach import ReplaySource
from wsbrisk_tui.engine.history import HistoryStore
from wsbrisk_tui.engine.stress import parse_shock_text
from wsbrisk_tui.errors import InputError
from wsbrisk_tui.widgets.whatif import ShockInput, WhatIfBox

SMALL = (80, 24)
DEMO_SHOCK = "SPY=-7%,VIX=+15,rates=+50bp"


def result_text(box: WhatIfBox) -> str:
    content = box.result.content
    return content.plain if hasattr(content, "plain") else str(content)


class FakeModel:
    """``what_if(spec)``: SPY loses 100,000 x equity shock, TLT 10 per bp of rates (closed form)."""

    def __init__(self, built_for: int) -> None:
        self.built_for = built_for
        self.calls = 0

    def what_if(self, spec):
        self.calls += 1
        spy = 1_000_000.0 * 0.1 * spec.factors.get("equity", 0.0)
        tlt = -10.0 * spec.factors.get("rates_bp", 0.0)
        total = spy + tlt
        return {"total_pnl": total, "total_pct": total / 1_000_000.0,
                "positions": {"SPY": spy, "TLT": tlt, "AAPL": None}, "notes": ["AAPL left out (test)"]}


class Builder:
    """Counts builds; checks that no build overlaps an engine compute (one engine lock)."""

    def __init__(self, in_compute: threading.Event, delay_s: float = 0.0) -> None:
        self.in_compute = in_compute
        self.delay_s = delay_s
        self.builds: list[FakeModel] = []
        self.overlapped = False

    def __call__(self) -> FakeModel:
        if self.in_compute.is_set():
            self.overlapped = True
        time.sleep(self.delay_s)
        model = FakeModel(len(self.builds) + 1)
        self.builds.append(model)
        return model


def fake_app(builder=None, compute=None, **kwargs) -> RiskDeskApp:
    kwargs.setdefault("refresh_seconds", 60)
    kwargs.setdefault("now", frozen_clock)
    kwargs.setdefault("monotonic", lambda: 1000.0)
    return RiskDeskApp(compute or (lambda seq: make_snapshot(seq)), what_if_model=builder, **kwargs)


async def open_box(app, pilot) -> WhatIfBox:
    await wait_until(pilot, lambda: app.snapshot is not None)
    await pilot.press("3")
    await pilot.pause()
    await pilot.press("w")
    await pilot.pause()
    box = app.pane("stress").what_if_box
    assert box.is_open and isinstance(app.focused, ShockInput)
    return box


@pytest.mark.slow
async def test_demo_book_what_if_shows_the_engines_total():
    from wsbrisk_tui.app import create_app
    from wsbrisk_tui.engine.stress import StressSettings, build_stress_model
    from wsbrisk_tui.runtime import demo_runtime

    # The reference: an independent runtime and model, as `wsbrisk-tui stress --shock` builds them.
    ref_runtime = demo_runtime(clock=frozen_clock)
    _, market, _, inputs = ref_runtime.risk_context()
    expected = build_stress_model(inputs, market, StressSettings()).what_if(DEMO_SHOCK)

    app = create_app(demo_runtime(clock=frozen_clock), now=frozen_clock, monotonic=lambda: 1000.0)
    async with app.run_test(size=SMALL) as pilot:
        await wait_until(pilot, lambda: app.snapshot is not None, timeout=120)
        box = await open_box(app, pilot)
        await pilot.press(*DEMO_SHOCK)
        assert box.input.value == DEMO_SHOCK
        await wait_until(pilot, lambda: box.answer is not None and box.answer.status == "ok", timeout=60)
        total = expected["total_pnl"]
        assert box.answer.result["total_pnl"] == pytest.approx(total, rel=1e-12)  # same model, same numbers
        text = result_text(box)
        first = text.splitlines()[0]
        assert first == (f"total {fmt.arrow(total)} {fmt.money(total, signed=True)} USD  "
                         f"({fmt.pct(expected['total_pct'], 2, signed=True)} of NAV)")
        # The five worst positions, worst first (the demo's NVDA leads: beta 1.4 to equity).
        worst = sorted((v, k) for k, v in expected["positions"].items() if v is not None)[:5]
        line = text.splitlines()[1]
        assert line == "worst 5: " + " · ".join(
            f"{app.pane('stress')._labels.get(k, k)} {fmt.compact_money(v)}" for v, k in worst)
        assert line.startswith("worst 5: NVDA -")
        # A bad token: the parser's message with its character position, in place of the result.
        await pilot.press("backspace", "backspace")  # "...rates=+50"
        await pilot.press("enter")
        await pilot.pause()
        assert box.answer.status == "error"
        with pytest.raises(InputError) as err:
            parse_shock_text(DEMO_SHOCK[:-2])
        assert result_text(box) == str(err.value)
        assert "at character 17 ('rates=+50'): rates takes basis points, e.g. rates=+50bp" in result_text(box)
        await pilot.press("escape")
        await pilot.pause()
        assert not box.is_open and app.focused is app.pane("stress").table


async def test_typing_debounces_into_one_model_and_enter_answers_at_once():
    in_compute = threading.Event()
    builder = Builder(in_compute)
    app = fake_app(builder)
    async with app.run_test(size=SMALL) as pilot:
        box = await open_box(app, pilot)
        assert "factors (lower case)" in result_text(box)  # the hint before anything is typed
        await pilot.press(*"equity=-10%,rates=+20bp", "enter")
        await wait_until(pilot, lambda: box.answer is not None and box.answer.status == "ok")
        # -10% equity: SPY -10,000; +20bp: TLT -200. AAPL has no P&L (n/a), listed only in notes.
        assert result_text(box) == ("total ▼ -10,200 USD  (-1.02% of NAV)\n"
                                    "worst 2: SPY -10.0k · TLT -200\n"
                                    "AAPL left out (test)")
        assert len(builder.builds) == 1  # one model for the snapshot, reused for every keystroke


async def test_a_bad_token_shows_the_parser_message_and_never_crashes():
    app = fake_app(Builder(threading.Event()))
    async with app.run_test(size=SMALL) as pilot:
        box = await open_box(app, pilot)
        await pilot.press(*"equity=-10%,,", "enter")
        await pilot.pause()
        assert box.answer.status == "error"
        assert result_text(box) == ("shock 'equity=-10%,,': at character 13 (''): empty item "
                                    "(two commas in a row, or a trailing comma)")
        await pilot.press("backspace", "backspace", *",eqity=+1%", "enter")
        await pilot.pause()
        assert "at character 13 ('eqity=+1%'): unknown factor 'eqity' (did you mean 'equity'?)" in result_text(box)
        assert app.is_running


async def test_keys_bound_elsewhere_type_into_the_box():
    """g, G (replay keys, priority), 1-7, q, p, r and % (app keys) are text while the box has focus."""
    app = fake_app(Builder(threading.Event()))
    async with app.run_test(size=SMALL) as pilot:
        box = await open_box(app, pilot)
        await pilot.press(*"gold=+5%,GLD=-1%,q1 p2r")
        await pilot.pause()
        assert box.input.value == "gold=+5%,GLD=-1%,q1 p2r"
        assert app.is_running and app.current_pane == "stress" and not app.replaying


async def test_a_newer_snapshot_rebuilds_the_model_the_old_one_answers_meanwhile():
    builder = Builder(threading.Event())
    app = fake_app(builder)
    async with app.run_test(size=SMALL) as pilot:
        box = await open_box(app, pilot)
        await pilot.press(*"equity=-10%", "enter")
        await wait_until(pilot, lambda: box.answer is not None and box.answer.status == "ok")
        assert len(builder.builds) == 1 and box.answer.note == ""
        builder.delay_s = 0.5  # the second build takes a while: the first model answers meanwhile
        await pilot.press("escape", "r")
        await wait_until(pilot, lambda: app.live_snapshot.meta.seq == 2)
        await pilot.press("w")
        await wait_until(pilot, lambda: box.answer.note == "(book as of refresh #1; updating)")
        assert box.answer.result["total_pnl"] == -10_000.0
        await wait_until(pilot, lambda: box.answer.note == "")
        assert len(builder.builds) == 2 and box.answer.result["total_pnl"] == -10_000.0


async def test_the_model_is_never_built_while_the_engine_computes():
    in_compute = threading.Event()
    release = threading.Event()

    def compute(seq):
        in_compute.set()
        try:
            release.wait(10)
            return make_snapshot(seq)
        finally:
            in_compute.clear()

    builder = Builder(in_compute)
    app = fake_app(builder, compute=compute)
    async with app.run_test(size=SMALL) as pilot:
        await wait_until(pilot, lambda: in_compute.is_set())
        await pilot.press("3", "w")
        await pilot.pause()
        box = app.pane("stress").what_if_box
        await pilot.press(*"equity=-10%", "enter")
        await pilot.pause(0.3)
        assert box.answer.status == "pending"
        assert result_text(box) == "building the stress model of the book (after the refresh in progress)..."
        assert builder.builds == []  # waiting for the engine lock
        release.set()
        # Built once the compute let go of the lock; then again for the snapshot it produced.
        await wait_until(pilot, lambda: len(builder.builds) == 2 and box.answer.status == "ok")
        assert not builder.overlapped


async def test_while_the_first_model_builds_the_box_says_so():
    builder = Builder(threading.Event(), delay_s=0.5)
    app = fake_app(builder)
    async with app.run_test(size=SMALL) as pilot:
        box = await open_box(app, pilot)
        await pilot.press(*"equity=-1%", "enter")
        await pilot.pause()
        assert box.answer.status == "pending"
        assert result_text(box).startswith("building the stress model of the book")
        await wait_until(pilot, lambda: box.answer.status == "ok")
        assert result_text(box).startswith("total ▼ -1,000 USD")


async def test_a_failed_build_is_shown_not_raised():
    def broken():
        raise InputError("positions.csv:3: column 'qty': 'ten' is not a number (write 10)")

    app = fake_app(broken)
    async with app.run_test(size=SMALL) as pilot:
        box = await open_box(app, pilot)
        await pilot.press(*"equity=-1%", "enter")
        await wait_until(pilot, lambda: box.answer.status == "error")
        assert result_text(box) == ("what-if n/a: positions.csv:3: column 'qty': 'ten' is not a number "
                                    "(write 10)")
        assert app.is_running


async def test_without_an_engine_the_box_says_what_if_needs_one():
    app = fake_app(None)  # an attached viewer: create_app passes no builder
    async with app.run_test(size=SMALL) as pilot:
        box = await open_box(app, pilot)
        await pilot.press(*"equity=-1%", "enter")
        await pilot.pause()
        assert box.answer.status == "unavailable" and result_text(box) == NO_WHAT_IF
        assert NO_WHAT_IF.startswith("what-if needs a live engine")


async def test_in_replay_the_box_says_what_if_needs_a_live_engine(tmp_path):
    store = HistoryStore(tmp_path / "h.sqlite3")
    try:
        store.record(sample_snapshot(seq=1, computed_at=T0, nav=1_001_000.0))
        app = fake_app(Builder(threading.Event()), replay=ReplaySource(store),
                       now=lambda: T0 + timedelta(hours=1))
        async with app.run_test(size=SMALL) as pilot:
            await wait_until(pilot, lambda: app.snapshot is not None)
            await pilot.press("R")
            await pilot.pause()
            assert app.replaying
            await pilot.press("3", "w")
            await pilot.pause()
            box = app.pane("stress").what_if_box
            await pilot.press(*"equity=-1%", "enter")
            await pilot.pause()
            assert box.answer.status == "unavailable" and result_text(box) == WHAT_IF_IN_REPLAY
    finally:
        store.close()


async def test_escape_closes_the_box_and_the_key_is_remappable():
    app = fake_app(Builder(threading.Event()), keymap={"stress.what_if": "x"})
    async with app.run_test(size=SMALL) as pilot:
        await wait_until(pilot, lambda: app.snapshot is not None)
        await pilot.press("3", "w")
        await pilot.pause()
        box = app.pane("stress").what_if_box
        assert not box.is_open  # w is no longer bound
        await pilot.press("x")
        await pilot.pause()
        assert box.is_open and isinstance(app.focused, ShockInput)
        await pilot.press("escape")
        await pilot.pause()
        assert not box.is_open and app.focused is app.pane("stress").table
        assert app.is_running and app.current_pane == "stress"


def test_option_labels_reach_the_worst_list():
    """The worst list uses the pane's labels (``SPY 600C``), not raw OCC symbols."""
    from wsbrisk_tui.themes.builtin import THEMES
    from wsbrisk_tui.widgets.palette import Palette
    from wsbrisk_tui.widgets.whatif import WhatIfAnswer, answer_text

    palette = Palette.from_theme(THEMES[0], colour=False)
    res = {"total_pnl": -1_500.0, "total_pct": -0.0015,
           "positions": {OPTION_SYMBOL: -1_200.0, "SPY": -300.0}, "notes": []}
    text = answer_text(WhatIfAnswer("ok", result=res), {OPTION_SYMBOL: "SPY 600C"}, "USD", palette).plain
    assert text == "total ▼ -1,500 USD  (-0.15% of NAV)\nworst 2: SPY 600C -1.20k · SPY -300"
