"""The runtime on the demo book: the quick first pass, then the full snapshot; not recorded."""

from __future__ import annotations

import pytest

from wsbrisk_tui.runtime import QUICK_METHODS, QUICK_REASON, demo_runtime


@pytest.fixture(scope="module")
def two_passes():
    rt = demo_runtime(seed=7)
    rt.quick_first = True
    return rt.compute(1), rt.compute(2), rt.compute(3)


def test_quick_pass_has_fast_methods_and_says_what_is_pending(two_passes):
    quick, _, _ = two_passes
    assert quick.meta.partial is True and QUICK_REASON in quick.meta.notes
    for r in quick.var:
        if r.method in QUICK_METHODS and r.method != "cornish_fisher":  # CF is n/a on the demo
            assert r.status == "ok", r.method
        elif r.method not in QUICK_METHODS:
            assert r.status == "n/a" and r.reason == QUICK_REASON
    assert quick.backtest == () and quick.unavailable["backtest"] == QUICK_REASON
    assert "stress" in quick.sections and quick.unavailable["correlation"] == QUICK_REASON


def test_full_pass_follows_and_agrees_with_the_quick_one(two_passes):
    quick, full, again = two_passes
    assert full.meta.partial is False and again.meta.partial is False
    assert {"correlation", "factors", "stress"} <= set(full.sections)
    # the fast methods give the same numbers in both passes (same data, same formulas)
    for method in ("parametric_normal", "historical"):
        a = quick.var_for(method, 0.99, 1)
        b = full.var_for(method, 0.99, 1)
        assert a.var == pytest.approx(b.var, rel=1e-12)
    # the same seed and data give the same numbers on every refresh (cached fits included)
    for a, b in zip(full.var, again.var):
        assert (a.method, a.status, a.var) == (b.method, b.status, b.var)


def test_partial_snapshot_is_not_recorded(tmp_path):
    from wsbrisk_tui.attach import RecordingRuntime
    from wsbrisk_tui.engine.history import HistoryStore

    rt = demo_runtime(seed=7)
    rt.quick_first = True
    store = HistoryStore(tmp_path / "h.sqlite3")
    rec = RecordingRuntime(rt, store, None)
    rec.compute(1)
    assert rec.last_refresh_id is None
    rec.compute(2)
    assert rec.last_refresh_id is not None
    assert len(store.list_refreshes()) == 1
    store.close()
