"""Alert rules against the book's limits: values, severities, hysteresis, and the section the
alerts pane reads."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from history_factory import SYMBOLS, T0, sample_snapshot
from wsbrisk_tui.config import Config, LimitsConfig
from wsbrisk_tui.engine.alerts import AlertState
from wsbrisk_tui.engine.limits import evaluate, evaluate_failure, readings

LIMITS = Config().limits.effective()  # moderate tier: 20% position, 50% gross, VaR 5%, ES 7%


def _run(snapshots, limits=LIMITS, state=None):
    """Evaluate a sequence, one minute apart; return the sections and the final state."""
    state = state or AlertState()
    sections = []
    for i, snap in enumerate(snapshots):
        sec, state = evaluate(snap, limits, state, T0 + timedelta(minutes=i))
        sections.append(sec)
    return sections, state


def _alerts(sec, rule):
    return [a for a in sec["active"] if a["rule"] == rule]


def _limit_row(sec, rule):
    [row] = [r for r in sec["limits"] if r["rule"] == rule]
    return row


def test_a_book_inside_every_limit_has_no_alert_and_reports_utilisation():
    [sec], state = _run([sample_snapshot()])
    assert sec["active"] == [] and state.active == ()
    assert sec["tier"] == "moderate" and sec["var_method"] == "historical" and sec["hysteresis_frac"] == 0.05
    # 17 positions of 2% each: gross 34%, N_eff = 17
    w = _limit_row(sec, "max_position_weight")
    assert w["value"] == pytest.approx(0.02) and w["utilisation"] == pytest.approx(0.1)
    assert w["origin"] == "tier moderate"
    assert _limit_row(sec, "max_total_exposure")["utilisation"] == pytest.approx(0.34 / 0.50)
    assert _limit_row(sec, "var99_1d_pct")["utilisation"] == pytest.approx(0.02 / 0.05)
    assert _limit_row(sec, "es99_1d_pct")["value"] == pytest.approx(0.024)
    assert _limit_row(sec, "stress_loss_pct")["value"] == pytest.approx(0.10)
    assert _limit_row(sec, "daily_drawdown")["value"] == pytest.approx(-0.001)  # a gain of 0.1%
    n_eff = _limit_row(sec, "min_effective_positions")
    assert n_eff["value"] == pytest.approx(17.0) and n_eff["utilisation"] == pytest.approx(5 / 17)
    assert _limit_row(sec, "pair_correlation")["value"] == pytest.approx(0.6)
    assert _limit_row(sec, "backtest_zone")["value"] == 2 and _limit_row(sec, "backtest_zone")["limit"] == 5


def test_position_weight_warns_above_the_limit_and_is_critical_above_125_percent():
    [sec], _ = _run([sample_snapshot(weights={"NVDA": 0.22})])
    [a] = _alerts(sec, "max_position_weight")
    assert (a["rule"], a["subject"], a["severity"]) == ("max_position_weight", "NVDA", "warning")
    assert a["value"] == pytest.approx(0.22) and a["limit"] == 0.20
    assert a["message"] == "NVDA is 22.00% of NAV (limit 20.00%)"
    assert a["id"] == "max_position_weight[NVDA]@2025-01-15T15:30:00.000000+00:00"
    [sec], _ = _run([sample_snapshot(weights={"NVDA": 0.26})])  # 0.26 > 1.25 x 0.20
    assert _alerts(sec, "max_position_weight")[0]["severity"] == "critical"


def test_a_value_hovering_at_its_limit_is_one_alert_not_many():
    # VaR limit 5%, hysteresis 5%: fires above 5%, clears only below 4.75%
    path = [0.049, 0.051, 0.0499, 0.0501, 0.048, 0.0502, 0.0476, 0.0474, 0.049, 0.051]
    sections, _ = _run([sample_snapshot(var99_pct=v) for v in path])
    ids = [tuple(a["id"] for a in s["active"] if a["rule"] == "var99_1d_pct") for s in sections]
    first = ids[1]
    assert ids[0] == () and all(i == first for i in ids[1:7])  # one alert through the hovering
    assert ids[7] == () and ids[8] == ()  # cleared at 4.74% < 4.75%, not re-fired at 4.9%
    assert ids[9] != () and ids[9] != first  # a new breach is a new alert
    assert [c["id"] for c in sections[7]["cleared_recently"]] == list(first)
    # without hysteresis the same path flaps: four separate alerts
    no_band = LimitsConfig(hysteresis_frac=0.0).effective()
    sections, _ = _run([sample_snapshot(var99_pct=v) for v in path], limits=no_band)
    fired = {a["id"] for s in sections for a in s["active"] if a["rule"] == "var99_1d_pct"}
    assert len(fired) == 4


def test_severity_escalates_once_and_never_steps_down():
    snaps = [sample_snapshot(var99_pct=v) for v in (0.055, 0.07, 0.055, 0.07)]
    state = AlertState()
    escalations = []
    for i, s in enumerate(snaps):
        sec, state = evaluate(s, LIMITS, state, T0 + timedelta(minutes=i))
        escalations.append(len(state.escalated))
        [var] = [a for a in sec["active"] if a["rule"] == "var99_1d_pct"]
    assert var["severity"] == "critical" and escalations == [0, 1, 0, 0]


def test_daily_drawdown_circuit_breaker_fires_at_minus_six_percent_and_is_critical():
    [sec], _ = _run([sample_snapshot(day_pnl=-59_999.0)])
    assert not [a for a in sec["active"] if a["rule"] == "daily_drawdown"]
    [sec], _ = _run([sample_snapshot(day_pnl=-60_000.0)])  # exactly -6% of 1,000,000
    [a] = [a for a in sec["active"] if a["rule"] == "daily_drawdown"]
    assert a["severity"] == "critical" and a["value"] == pytest.approx(0.06)


def test_effective_number_of_positions_is_one_over_hhi_of_absolute_weights():
    weights = {s: 0.001 for s in SYMBOLS}
    weights.update({"AAPL": 0.30, "MSFT": -0.15})  # a short counts by its absolute value
    snap = sample_snapshot(weights=weights)
    mvs = [abs(weights[s]) for s in SYMBOLS]
    expected = sum(mvs) ** 2 / sum(m * m for m in mvs)  # 1 / sum (m_i / sum m)^2
    [sec], _ = _run([snap])
    row = _limit_row(sec, "min_effective_positions")
    assert row["value"] == pytest.approx(expected, rel=1e-12) and expected < 5 / 1.25
    [a] = [a for a in sec["active"] if a["rule"] == "min_effective_positions"]
    assert a["severity"] == "critical" and row["utilisation"] == pytest.approx(5 / expected)


def test_var_rule_falls_back_to_parametric_normal_and_says_so():
    [sec], _ = _run([sample_snapshot(var99_pct=0.06, na_methods=("historical",))])
    assert sec["var_method"] == "parametric_normal"
    [a] = [a for a in sec["active"] if a["rule"] == "var99_1d_pct"]
    assert "(parametric_normal)" in a["message"]


def test_a_rule_that_cannot_be_evaluated_neither_fires_nor_clears():
    sections, state = _run([sample_snapshot(var99_pct=0.06),
                            sample_snapshot(var99_pct=0.01, na_methods=("historical", "parametric_normal"))])
    before = [a for a in sections[0]["active"] if a["rule"] == "var99_1d_pct"]
    after = [a for a in sections[1]["active"] if a["rule"] == "var99_1d_pct"]
    assert after == before  # kept as it was, last_seen unchanged
    row = _limit_row(sections[1], "var99_1d_pct")
    assert row["value"] is None and row["utilisation"] is None and "no 99% 1-day VaR" in row["reason"]


def test_stress_correlation_and_backtest_rules():
    snap = sample_snapshot(stress_worst_pct=-0.30, max_corr=0.85, breakdown=True, zone="yellow")
    [sec], _ = _run([snap])
    by_rule = {a["rule"]: a for a in sec["active"]}
    assert by_rule["stress_loss_pct"]["severity"] == "warning"  # 30% < 1.25 x 25%
    assert "Scenario 9" in by_rule["stress_loss_pct"]["message"]
    assert by_rule["pair_correlation"]["severity"] == "info"
    assert by_rule["pair_correlation"]["message"].startswith("AAPL/MSFT return correlation 0.85")
    assert by_rule["correlation_breakdown"]["severity"] == "warning"
    bt = by_rule["backtest_zone"]
    assert (bt["severity"], bt["value"], bt["limit"]) == ("warning", 6.0, 5.0)
    [sec], _ = _run([sample_snapshot(zone="red")])
    assert {a["rule"]: a["severity"] for a in sec["active"]}["backtest_zone"] == "critical"


def test_stale_data_fires_and_clears():
    sections, _ = _run([sample_snapshot(stale=True, stale_reason="prices 5 business days old"),
                        sample_snapshot()])
    [a] = sections[0]["active"]
    assert a["rule"] == "stale_data" and a["message"] == "stale data: prices 5 business days old"
    assert sections[1]["active"] == [] and sections[1]["cleared_recently"][0]["id"] == a["id"]


def test_engine_error_keeps_other_alerts_and_clears_on_the_next_success():
    sec, state = evaluate(sample_snapshot(weights={"AAPL": 0.3}), LIMITS, AlertState(), T0)
    sec, state = evaluate_failure("ValueError: no prices\nTraceback...", LIMITS, state, T0 + timedelta(minutes=1))
    rules = {a["rule"]: a for a in sec["active"]}
    # AAPL at 30% also breaks gross exposure and concentration; all of them are carried over
    assert set(rules) == {"max_position_weight", "max_total_exposure", "min_effective_positions", "engine_error"}
    assert rules["engine_error"]["message"] == "engine error: ValueError: no prices"
    assert rules["max_position_weight"]["last_seen"] == T0.isoformat()  # untouched
    sec, state = evaluate(sample_snapshot(weights={"AAPL": 0.3}), LIMITS, state, T0 + timedelta(minutes=2))
    assert not _alerts(sec, "engine_error") and sec["cleared_recently"][0]["rule"] == "engine_error"
    assert len(sec["active"]) == 3


def test_a_position_alert_clears_when_the_position_leaves_the_book():
    snap = sample_snapshot(weights={"TSLA": 0.25})
    gone = replace(snap, positions=tuple(p for p in snap.positions if p.symbol != "TSLA"))
    sections, _ = _run([snap, gone])
    assert len(_alerts(sections[0], "max_position_weight")) == 1
    assert _alerts(sections[1], "max_position_weight") == []
    [c] = [c for c in sections[1]["cleared_recently"] if c["rule"] == "max_position_weight"]
    assert c["message"] == "TSLA left the book" and c["subject"] == "TSLA"


def test_nav_not_positive_makes_the_fraction_rules_na():
    rs = {(r.rule, r.subject): r for r in readings(replace(sample_snapshot(), nav=0.0), LIMITS)}
    assert rs[("max_total_exposure", "")].value is None
    assert "NAV is 0.0" in rs[("max_total_exposure", "")].reason
    assert rs[("daily_drawdown", "")].value is None


def test_tier_presets_set_the_concentration_limits_with_their_origin():
    cons = LimitsConfig(tier="conservative").effective()
    [sec], _ = _run([sample_snapshot(weights={"SPY": 0.12})], limits=cons)
    [a] = _alerts(sec, "max_position_weight")
    assert a["limit"] == 0.10 and _limit_row(sec, "max_position_weight")["origin"] == "tier conservative"
    explicit = LimitsConfig(tier="conservative", max_position_weight=0.15).effective()
    [sec], _ = _run([sample_snapshot(weights={"SPY": 0.12})], limits=explicit)
    assert _alerts(sec, "max_position_weight") == []
    assert _limit_row(sec, "max_position_weight")["origin"] == "config"


def test_position_gauge_notes_positions_without_a_market_value():
    snap = sample_snapshot(weights={"AAPL": 0.05})
    rows = tuple(replace(p, market_value=None, reason="no price") if p.symbol == "MSFT" else p
                 for p in snap.positions)
    [sec], _ = _run([replace(snap, positions=rows)])
    row = _limit_row(sec, "max_position_weight")
    assert row["value"] == pytest.approx(0.05) and row["subject"] == "AAPL"
    assert row["note"] == "largest of the positions with a market value; 1 without one"


def test_monitor_keeps_the_last_gauges_when_a_refresh_fails():
    from wsbrisk_tui.engine.limits import AlertMonitor

    monitor = AlertMonitor(LIMITS)
    good = monitor.apply(sample_snapshot(), T0)
    sec = monitor.on_failure("OSError: disk full", T0 + timedelta(minutes=1))
    assert sec["limits"] == good.sections["alerts"]["limits"] and len(sec["limits"]) == 9
    assert [a["rule"] for a in sec["active"]] == ["engine_error"]
