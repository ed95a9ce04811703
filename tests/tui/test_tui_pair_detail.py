"""The correlation pair drill-down on the demo book: method values, rolling sparkline, tails."""

from __future__ import annotations

import pytest

from wsbrisk_tui import fmt
from wsbrisk_tui.widgets.correlation import PairDetail


@pytest.fixture(scope="module")
def correlation_section():
    from wsbrisk_tui.engine.correlation import correlation_section
    from wsbrisk_tui.engine.volatility import FitCache
    from wsbrisk_tui.runtime import demo_runtime

    _, market, _, inputs = demo_runtime().risk_context()
    return correlation_section(inputs, market, cache=FitCache())


def test_pair_detail_shows_methods_rolling_sparkline_and_tail_dependence(correlation_section):
    data = correlation_section
    i, j = data["symbols"].index("SPY"), data["symbols"].index("QQQ")
    detail = PairDetail("SPY", "QQQ", data["matrix"][i][j], data["method"], data)
    text = str(detail._text)
    assert f"correlation  {fmt.num(data['matrix'][i][j], 3)}  (ewma)" in text
    sample = data["methods_available"]["sample"][i][j]
    assert f"sample {fmt.num(sample, 3)}" in text
    series = data["pair_history"]["pairs"]["SPY|QQQ"]
    assert fmt.spark(series, -1.0, 1.0) in text and len(series) == 40
    assert "rolling 63-day correlation" in text
    assert "lower-tail dependence" in text
    # the reversed pair reads the same history
    back = PairDetail("QQQ", "SPY", data["matrix"][j][i], data["method"], data)
    assert fmt.spark(series, -1.0, 1.0) in str(back._text)
