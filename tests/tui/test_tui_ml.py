"""The ML pane (key 8) and the ML training progress in the status bar.

The ready section is a real engine run saved as JSON (tests/tui/fixtures/ml_section_ready.json);
the other states are built from it or by hand in snapshot_factory. Every expected string below is
the fixture's number formatted by hand (e.g. garch 1-day QLIKE 1.6315225657 -> ``1.632``), so a
pane that computed, re-rounded or dropped a value fails.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from history_factory import T0, sample_snapshot
from snapshot_factory import (
    ML_NOT_TRAINED,
    frozen_clock,
    make_snapshot,
    ml_section_empty,
    ml_section_first_training,
    ml_section_ready,
    ml_section_training,
)
from tui_helpers import wait_until

from wsbrisk_tui.app import RiskDeskApp, create_app
from wsbrisk_tui.attach import ReplaySource
from wsbrisk_tui.commands.ml import render_text
from wsbrisk_tui.config import Config
from wsbrisk_tui.engine.history import HistoryStore
from wsbrisk_tui.widgets.ml import MlDetail, MlPane
from wsbrisk_tui.widgets.status import StatusBar

SMALL = (80, 24)
WIDE = (160, 48)
PROGRESS = "ML training 4/16 random_forest (1-day) 9s"


def make_app(ml, **kwargs) -> RiskDeskApp:
    kwargs.setdefault("refresh_seconds", 60)
    kwargs.setdefault("now", frozen_clock)
    kwargs.setdefault("monotonic", lambda: 1000.0)
    kwargs.setdefault("initial_pane", "ml")
    return RiskDeskApp(lambda seq: make_snapshot(seq, ml=ml), **kwargs)


def plain(widget) -> str:
    content = widget.content if hasattr(widget, "content") else widget.renderable
    return content.plain if hasattr(content, "plain") else str(content)


def pane(app: RiskDeskApp) -> MlPane:
    return app.query_one("#ml-pane", MlPane)


def cell(app: RiskDeskApp, row: str, column: str) -> str:
    return pane(app).table.get_cell(row, column).plain


def status(app: RiskDeskApp) -> str:
    return str(app.query_one(StatusBar).render())


async def shown(pilot) -> None:
    await wait_until(pilot, lambda: pilot.app.snapshot is not None and pane(pilot.app).render_count > 0)


# -- the trained section ---------------------------------------------------------------------


async def test_ready_section_fills_the_table_from_the_section():
    app = make_app(ml_section_ready())
    async with app.run_test(size=SMALL) as pilot:
        await shown(pilot)
        p = pane(app)
        assert p.table.display
        assert [r.value for r in p.table.rows] == ["ewma", "garch", "random_forest", "gradient_boosting", "mlp"]
        # loss_qlike 1.6315225657 / 0.4759518762; GARCH is the DM benchmark: "-".
        assert cell(app, "garch", "qlike-1") == "1.632"
        assert cell(app, "garch", "qlike-5") == "0.476"
        assert cell(app, "garch", "dmp-1") == "-" and cell(app, "garch", "dmp-5") == "-"
        # dm_p 0.0143972 -> 0.014; 5.4e-05 -> <0.001; mlp 5-day 0.6837 -> 0.684.
        assert cell(app, "ewma", "dmp-1") == "0.014"
        assert cell(app, "gradient_boosting", "dmp-1") == "<0.001"
        assert cell(app, "mlp", "dmp-5") == "0.684"
        # sigma from now.volatility: garch 1-day 1.0127 (best: *), mlp 5-day 1.1179 (best: *).
        assert cell(app, "garch", "sigma-1") == "*1.01%"
        assert cell(app, "mlp", "sigma-5") == "*1.12%"
        assert cell(app, "mlp", "sigma-1") == "1.12%"
        assert cell(app, "garch", "sigma-5") == "1.02%"
        assert cell(app, "random_forest", "sigma-1") == "1.33%"
        assert [c for r in p.table.rows for c in (cell(app, r.value, "sigma-1"), cell(app, r.value, "sigma-5"))
                if c.startswith("*")] == ["*1.01%", "*1.12%"]
        title = plain(p.title_widget())
        assert title == "ML forecasts  ·  trained 14:02 through 2020-12-31 (25.6 s)"
        # The table fits 80 columns (pane padding 1 each side).
        assert p.table.virtual_size.width <= SMALL[0] - 2


async def test_ready_note_gives_verdicts_regime_var_and_backtests():
    app = make_app(ml_section_ready())
    async with app.run_test(size=WIDE) as pilot:
        await shown(pilot)
        lines = plain(pane(app).note).split("\n")
        assert lines[0] == ("GARCH is not beaten out of sample (1-day: lowest recent QLIKE; best challenger "
                            "mlp, DM p=0.14)")
        assert lines[1] == "GARCH is not beaten out of sample (5-day: mlp has the lowest recent QLIKE but DM p=0.68)"
        # now.regime: calm 0.9569 -> 96%, crisis 0.0431 -> 4%.
        assert lines[2] == "best now: garch 1.01%/day  ·  regime: calm 96% / crisis 4%"
        assert lines[3].split() == "1-day VaR % of NAV 95% 99% backtest 95% backtest 99%".split()
        # now.ml_quantile_var_pct 1.4110 / 2.9224; backtests 44 of 733 and 10 of 733, both green.
        assert lines[4].split() == ["ml_quantile", "1.41%", "2.92%", "44/733", "green", "10/733", "green"]
        # regime_scaled var_pct 1.2349 / 1.8050; 19/500 green, 10/500 yellow.
        assert lines[5].split() == ["regime_scaled", "1.23%", "1.80%", "19/500", "green", "10/500", "yellow"]
        assert lines[6] == "next training: on the next new close or when the book changes"
        assert lines[7] == "* lowest recent QLIKE  ·  DM p vs GARCH  ·  Enter: full report (1 note)"
        assert len(lines) == 8


async def test_todays_forecast_comes_from_now_and_falls_back_to_the_training():
    data = ml_section_ready()
    data["now"]["volatility"]["1"]["sigma_pct"]["garch"] = 1.25
    data["now"]["volatility"]["1"]["best_sigma_pct"] = 1.25
    app = make_app(data)
    async with app.run_test(size=WIDE) as pilot:
        await shown(pilot)
        assert cell(app, "garch", "sigma-1") == "*1.25%"
        assert "best now: garch 1.25%/day" in plain(pane(app).note)
    data = ml_section_ready()
    data["now"] = None
    app = make_app(data)
    async with app.run_test(size=WIDE) as pilot:
        await shown(pilot)
        # book.volatility[*].current_sigma_pct and best: the same models and values here.
        assert cell(app, "garch", "sigma-1") == "*1.01%"
        assert cell(app, "mlp", "sigma-5") == "*1.12%"
        note = plain(pane(app).note)
        assert "best now: garch 1.01%/day" in note
        # book.regime.current; book.ml_quantile.var_pct.
        assert "regime: calm 96% / crisis 4%" in note
        assert "ml_quantile       1.41%  2.92%" in note


async def test_missing_numbers_are_na_not_zero():
    data = ml_section_ready()
    data["book"]["volatility"][0]["table"][0]["loss_qlike"] = None
    data["book"]["volatility"][0]["table"][2]["dm_p"] = "0.01"  # not a number
    del data["now"]["volatility"]["5"]["sigma_pct"]["ewma"]
    data["book"]["regime"] = None
    data["now"]["regime"] = None
    data["book"]["regime_scaled"]["reason"] = "regime model did not converge"
    app = make_app(data)
    async with app.run_test(size=WIDE) as pilot:
        await shown(pilot)
        assert cell(app, "ewma", "qlike-1") == "n/a"
        assert cell(app, "random_forest", "dmp-1") == "n/a"
        assert cell(app, "ewma", "sigma-5") == "n/a"
        assert "regime: n/a (regime model did not converge)" in plain(pane(app).note)


# -- training states -------------------------------------------------------------------------


async def test_retraining_keeps_the_last_models_and_says_so():
    app = make_app(ml_section_training())
    async with app.run_test(size=SMALL) as pilot:
        await shown(pilot)
        p = pane(app)
        assert p.table.display and p.table.row_count == 5
        assert plain(p.title_widget()).endswith("(25.6 s)  ·  training 4/16")
        note = plain(p.note).split("\n")
        assert note[0] == "retraining: step 4/16 random_forest (1-day), 33 fits, 9s"
        assert not any(line.startswith("next training") for line in note)


async def test_first_training_shows_progress_instead_of_a_table():
    app = make_app(ml_section_first_training())
    async with app.run_test(size=SMALL) as pilot:
        await shown(pilot)
        p = pane(app)
        assert not p.table.display
        assert plain(p.title_widget()) == "ML forecasts  ·  training 1/16"
        assert plain(p.note) == ("no ML models to show yet: training in the background (live progress in the "
                                 "status bar)\n"
                                 "at this refresh: step 1/16 ewma (1-day), 0s\n"
                                 "the table appears when training finishes")


async def test_training_with_nothing_trained_yet_is_first_training_whatever_the_status_says():
    """The engine marks a first training ``training`` (the samples ``not_trained``): both say so."""
    data = ml_section_first_training()
    data.update(status="training", reason="ML models training now (ewma (1-day))",
                load_note="no model folder")
    app = make_app(data)
    async with app.run_test(size=SMALL) as pilot:
        await shown(pilot)
        note = plain(pane(app).note).split("\n")
        assert note[0] == "no ML models to show yet: training in the background (live progress in the status bar)"
        assert note[-1] == "saved models: no model folder"


@pytest.mark.parametrize("data, title, message", [
    (ml_section_empty("not_trained", reason=ML_NOT_TRAINED), "ML forecasts", ML_NOT_TRAINED),
    (ml_section_empty("disabled", reason="ml.enabled = false in the config"), "ML forecasts",
     "ML is off: ml.enabled = false in the config"),
    (ml_section_empty("failed", error="LinAlgError: SVD did not converge"), "ML forecasts  ·  FAILED",
     "ML training failed: LinAlgError: SVD did not converge"),
    (ml_section_empty("failed", error="VIX gone", reason="ML inference n/a: VIX gone"), "ML forecasts  ·  FAILED",
     "ML inference n/a: VIX gone"),
    (["not", "a", "dict"], "ML forecasts", "ML: n/a: the ML section has an unexpected shape"),
    (dict(ml_section_ready(), book={"volatility": "?"}), "ML forecasts  ·  trained 14:02 through 2020-12-31 (25.6 s)",
     "ML: n/a: the section has no trained models (ready)"),
], ids=["not_trained", "disabled", "failed", "inference-failed", "not-a-dict", "bad-book"])
async def test_sections_without_models_say_why(data, title, message):
    app = make_app(data)
    async with app.run_test(size=SMALL) as pilot:
        await shown(pilot)
        p = pane(app)
        assert not p.table.display
        assert plain(p.title_widget()) == title
        assert plain(p.note) == message


@pytest.mark.parametrize("ml, message", [
    ("ML models not trained: the history has 212 days", "ML: n/a: ML models not trained: the history has 212 days"),
    (None, "ML: n/a: not in this snapshot"),
])
async def test_a_missing_section_shows_the_unavailable_reason(ml, message):
    app = make_app(ml)
    async with app.run_test(size=SMALL) as pilot:
        await shown(pilot)
        assert not pane(app).table.display
        assert plain(pane(app).note) == message


async def test_a_failed_retraining_keeps_the_last_good_models_and_shows_the_error():
    data = ml_section_ready()
    data.update(status="failed", error="ValueError: Input contains NaN")
    app = make_app(data)
    async with app.run_test(size=SMALL) as pilot:
        await shown(pilot)
        p = pane(app)
        assert p.table.display and cell(app, "garch", "qlike-1") == "1.632"
        assert plain(p.title_widget()).endswith("·  FAILED")
        assert plain(p.note).startswith("the last training failed: ValueError: Input contains NaN; "
                                        "showing the last good models\n")


async def test_an_error_beside_older_good_models_is_shown_even_when_ready():
    """A failed retraining keeps the previous models: status ready, ``error`` set."""
    data = ml_section_ready()
    data.update(error="MemoryError: out of memory", error_detail="Traceback (most recent call last):\nMemoryError")
    app = make_app(data)
    async with app.run_test(size=SMALL) as pilot:
        await shown(pilot)
        assert plain(pane(app).title_widget()).endswith("(25.6 s)  ·  FAILED")
        assert plain(pane(app).note).startswith("the last training failed: MemoryError: out of memory;")
    report = MlDetail.report(data, data["book"], "demo book").rstrip("\n").split("\n")
    assert report[1] == "the last training failed: MemoryError: out of memory (traceback at the end)"
    assert report[-3:] == ["last training error:", "  Traceback (most recent call last):", "  MemoryError"]


async def test_backtest_columns_line_up_with_long_counts():
    data = ml_section_ready()
    data["book"]["ml_quantile"]["backtests"][0].update(exceptions=104, observations=1954)
    app = make_app(data)
    async with app.run_test(size=WIDE) as pilot:
        await shown(pilot)
        lines = plain(pane(app).note).split("\n")
        head = next(line for line in lines if line.startswith("1-day VaR"))
        rows = [line for line in lines if line.startswith(("  ml_quantile", "  regime_scaled"))]
        assert rows[0].index("104/1954 green") == head.index("backtest 95%")
        assert rows[0].index("10/733 green") == rows[1].index("10/500 yellow") == head.index("backtest 99%")


async def test_stale_models_are_marked():
    data = ml_section_ready()
    data.update(stale=True, stale_reason="trained on the book as of 13:55; retraining after the book changed")
    app = make_app(data)
    async with app.run_test(size=SMALL) as pilot:
        await shown(pilot)
        p = pane(app)
        assert plain(p.title_widget()) == "ML forecasts  ·  trained 14:02 through 2020-12-31 (25.6 s)  ·  STALE"
        assert plain(p.note).split("\n")[0] == ("STALE: trained on the book as of 13:55; "
                                                "retraining after the book changed")


# -- the full report -------------------------------------------------------------------------


async def test_enter_opens_the_ml_evaluate_report_with_both_per_position_tables():
    data = ml_section_ready()
    app = make_app(data)
    async with app.run_test(size=SMALL) as pilot:
        await shown(pilot)
        await pilot.press("j", "enter")
        await wait_until(pilot, lambda: isinstance(app.screen, MlDetail))
        text = app.screen._text.plain
        # Everything `ml evaluate --per-asset` prints for the 1-day assets, in its order, after our
        # header; render_text is called here on the same input as the pane's.
        report = render_text({**data["book"], "assets": data["assets"]["1"]}, "HEADER").split("\n")[1:]
        lines = text.split("\n")
        rest = iter(lines)
        assert all(any(line == mine for mine in rest) for line in report), "not a subsequence"
        assert "  garch                 1.632      51.56    1.612     n/a      n/a      1.01%  expanding *" in lines
        assert lines[0].startswith("ML evaluation: demo book, book P&L in % of NAV")
        # The 5-day per-underlying table, before the report's notes: NVDA best mlp 2.6414 vs garch 2.2825.
        at = lines.index("5-day volatility per underlying (its own returns; out of sample)")
        assert at < lines.index("notes:")
        nvda = next(line for line in lines[at:] if line.startswith("  NVDA"))
        assert nvda.split()[:4] == ["NVDA", "mlp", "2.64", "2.28"]
        assert nvda.endswith("GARCH is not beaten out of sample (5-day: mlp has the lowest recent QLIKE but DM p=0.76)")
        # ZZZ has a reason at 1 day and no 5-day entry.
        assert any(line.startswith("  ZZZ") and "212 usable days" in line for line in lines[:at])
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, MlDetail))


def test_the_report_says_when_the_models_shown_are_stale_or_retraining():
    data = ml_section_training()
    data.update(stale=True, stale_reason="trained on the book as of 13:55")
    text = MlDetail.report(data, data["book"], "demo book").split("\n")
    assert text[1:3] == ["STALE: trained on the book as of 13:55",
                         "retraining now: step 4/16 random_forest (1-day), 33 fits, 9s"]


def test_a_book_of_an_unexpected_shape_gives_a_one_line_reason_not_a_crash():
    text = MlDetail.report(ml_section_ready(), {"volatility": []}, "demo book")
    assert "full report n/a: the ML section has an unexpected shape (KeyError: " in text


# -- keys and the status bar -----------------------------------------------------------------


async def test_key_8_shows_the_ml_pane_and_tab_wraps_from_it():
    app = make_app(ml_section_ready(), initial_pane="positions")
    async with app.run_test(size=SMALL) as pilot:
        await wait_until(pilot, lambda: app.snapshot is not None)
        await pilot.press("8")
        await pilot.pause()
        assert app.current_pane == "ml"
        assert pane(app).render_count == 1
        await pilot.press("tab")
        await pilot.pause()
        assert app.current_pane == "positions"


async def test_status_bar_shows_ml_training_progress_and_nothing_when_idle():
    progress: list[str | None] = [PROGRESS]
    app = make_app(ml_section_training(), ml_status=lambda: progress[0])
    async with app.run_test(size=WIDE) as pilot:
        await shown(pilot)
        line2 = status(app).split("\n")[1]
        assert line2 == ("computed 15:29:58 (2s ago)  · next in 1m 00s  · ML training 4/16 random_forest "
                         "(1-day) 9s  · prices 2025-01-14 (demo history)")
        progress[0] = None
        app.update_status()
        await pilot.pause()
        line2 = status(app).split("\n")[1]
        assert "ML" not in line2
        assert line2.startswith("computed 15:29:58 (2s ago) in 412 ms  · next in 1m 00s (every 60s)")


async def test_status_bar_keeps_the_progress_visible_at_80_columns():
    app = make_app(ml_section_training(), ml_status=lambda: "· " + PROGRESS)
    async with app.run_test(size=SMALL) as pilot:
        await shown(pilot)
        line2 = status(app).split("\n")[1]
        # One separator, even when the runtime sends its own.
        assert "· ML training 4/16 random_forest" in line2 and "· ·" not in line2


async def test_the_end_of_ml_training_refreshes_once_so_the_pane_shows_the_new_models():
    progress: list[str | None] = [None]
    computed: list[int] = []

    def compute(seq: int):
        computed.append(seq)
        return make_snapshot(seq, ml=ml_section_training() if seq == 1 else ml_section_ready())

    # Frozen monotonic clock: the worker computes once at start, then only when asked.
    app = RiskDeskApp(compute, refresh_seconds=60, now=frozen_clock, monotonic=lambda: 1000.0,
                      initial_pane="ml", ml_status=lambda: progress[0])
    async with app.run_test(size=SMALL) as pilot:
        await wait_until(pilot, lambda: app.snapshot is not None)
        app.update_status()  # idle, never busy: no refresh
        await pilot.pause(0.2)
        assert computed == [1]
        progress[0] = PROGRESS
        app.update_status()
        app.update_status()
        await pilot.pause(0.2)
        assert computed == [1]
        progress[0] = None
        app.update_status()
        await wait_until(pilot, lambda: app.snapshot.meta.seq == 2)
        assert plain(pane(app).title_widget()) == "ML forecasts  ·  trained 14:02 through 2020-12-31 (25.6 s)"
        app.update_status()
        await pilot.pause(0.2)
        assert computed == [1, 2]


async def test_replay_does_not_show_live_training_progress(tmp_path):
    store = HistoryStore(tmp_path / "h.sqlite3")
    try:
        store.record(sample_snapshot(seq=1, computed_at=T0, nav=1e6))
        app = make_app(None, ml_status=lambda: PROGRESS, replay=ReplaySource(store),
                       now=lambda: T0 + timedelta(hours=1))
        async with app.run_test(size=WIDE) as pilot:
            await wait_until(pilot, lambda: app.snapshot is not None)
            assert "ML training" in status(app)
            await pilot.press("R")
            await wait_until(pilot, lambda: app.replaying)
            assert "REPLAY" in status(app) and "ML training" not in status(app)
    finally:
        store.close()


class FakeRuntime:
    mode = "DEMO"

    def __init__(self, config: Config) -> None:
        self.config = config
        self.clock = frozen_clock

    def compute(self, seq: int):
        return make_snapshot(seq, ml=ml_section_training())


class TrainingRuntime(FakeRuntime):
    def ml_status(self) -> str | None:
        return PROGRESS


@pytest.mark.parametrize("runtime_cls, expected", [(FakeRuntime, False), (TrainingRuntime, True)])
async def test_create_app_reads_ml_status_from_the_runtime_when_it_has_one(runtime_cls, expected):
    config = Config()
    app = create_app(runtime_cls(config), config=config, now=frozen_clock, monotonic=lambda: 1000.0)
    async with app.run_test(size=WIDE) as pilot:
        await wait_until(pilot, lambda: app.snapshot is not None)
        assert (PROGRESS in status(app)) is expected
