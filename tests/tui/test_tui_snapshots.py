"""SVG snapshots of the dashboard (pytest-textual-snapshot) with frozen clocks.

Update after an intended change with ``pytest tests/tui/test_tui_snapshots.py --snapshot-update``
and review the SVGs in ``tests/tui/__snapshots__``.
"""

from __future__ import annotations

import time
from dataclasses import replace

import pytest
from snapshot_factory import frozen_clock, make_snapshot, ml_section_training

from wsbrisk_tui.app import RiskDeskApp


def factory_app(**kwargs) -> RiskDeskApp:
    return RiskDeskApp(lambda seq: make_snapshot(seq), refresh_seconds=60, now=frozen_clock,
                       monotonic=lambda: 1000.0, **kwargs)


async def first_snapshot(pilot) -> None:
    deadline = time.monotonic() + 120
    while pilot.app.snapshot is None:
        failure = pilot.app.failure
        assert failure is None, failure.detail if failure else ""
        assert time.monotonic() < deadline, "no snapshot in 120 s"
        await pilot.pause(0.05)
    await pilot.pause()


def test_main_screen_80x24(snap_compare):
    assert snap_compare(factory_app(), terminal_size=(80, 24), run_before=first_snapshot)


def test_var_ladder_80x24(snap_compare):
    assert snap_compare(factory_app(), terminal_size=(80, 24), run_before=first_snapshot, press=["2"])


def test_stress_heatmap_80x24(snap_compare):
    assert snap_compare(factory_app(), terminal_size=(80, 24), run_before=first_snapshot, press=["3"])


def test_main_screen_160x48(snap_compare):
    assert snap_compare(factory_app(), terminal_size=(160, 48), run_before=first_snapshot)


def test_monochrome_160x48(snap_compare):
    assert snap_compare(factory_app(theme="monochrome"), terminal_size=(160, 48), run_before=first_snapshot)


def test_ml_pane_80x24(snap_compare):
    """The ML pane while the models retrain: the last trained table, the progress in the pane and
    in the status bar."""
    app = RiskDeskApp(lambda seq: make_snapshot(seq, ml=ml_section_training()), refresh_seconds=60,
                      now=frozen_clock, monotonic=lambda: 1000.0,
                      ml_status=lambda: "ML training 4/16 random_forest (1-day) 9s")
    assert snap_compare(app, terminal_size=(80, 24), run_before=first_snapshot, press=["8"])


def demo_app() -> RiskDeskApp:
    """The real demo book through the real pipeline, frozen clock. compute_seconds is the one
    wall-time figure in a snapshot; it is pinned so the SVG does not change run to run."""
    runtime_mod = pytest.importorskip("wsbrisk_tui.runtime")
    try:
        runtime = runtime_mod.demo_runtime(clock=frozen_clock)
        runtime.compute(0)
    except ImportError as exc:  # the engine suite lands in another issue
        pytest.skip(f"demo runtime not complete yet: {exc}")
    from wsbrisk_tui.app import create_app

    def compute(seq: int):
        snap = runtime.compute(seq)
        return replace(snap, meta=replace(snap.meta, compute_seconds=1.0))

    return create_app(runtime, now=frozen_clock, monotonic=lambda: 1000.0, compute=compute)


@pytest.mark.slow
def test_demo_book_160x48(snap_compare):
    assert snap_compare(demo_app(), terminal_size=(160, 48), run_before=first_snapshot)


@pytest.mark.slow
def test_demo_book_80x24(snap_compare):
    assert snap_compare(demo_app(), terminal_size=(80, 24), run_before=first_snapshot)
