"""Helpers shared by the dashboard tests (imported as ``tui_helpers``, like ``snapshot_factory``)."""

from __future__ import annotations

import argparse
import time


async def wait_until(pilot, condition, timeout: float = 5.0) -> None:
    """Pause the Pilot until ``condition()`` holds (AssertionError after ``timeout`` seconds)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await pilot.pause(0.02)
    await pilot.pause()


def demo_args(**kw) -> argparse.Namespace:
    """The parsed common flags of ``wsbrisk-tui --demo --offline`` (override any with ``kw``)."""
    base = dict(config=None, positions=None, account=None, prices=None, demo=True, offline=True,
                refresh=None, theme=None, no_color=False, seed=None, attach=False)
    base.update(kw)
    return argparse.Namespace(**base)
