"""Scenario library and user scenarios (engine/scenarios.py): loading and exact validation messages."""

from __future__ import annotations

from datetime import date

import pytest

from wsbrisk_tui.config import ScenarioConfig
from wsbrisk_tui.engine.scenarios import SHOCK_FACTORS, library, load_scenarios, validate_shocks
from wsbrisk_tui.errors import InputError


def test_library_has_the_issue_scenarios_with_sources_and_windows():
    lib = {s.id: s for s in library()}
    for sid in ("gfc_2008", "flash_crash_2010", "covid_2020", "rates_2022", "ai_bubble_burst",
                "geopolitical", "rates_up_200", "market_down_10", "market_down_20",
                "market_down_35", "market_down_50", "vol_spike"):
        assert sid in lib
        assert lib[sid].sources, sid
        assert set(lib[sid].shocks) <= set(SHOCK_FACTORS)
    for s in lib.values():
        assert (s.window is not None) == (s.kind == "historical")
    # the published figures the issue names
    assert lib["covid_2020"].window == (date(2020, 2, 19), date(2020, 3, 23))
    assert lib["covid_2020"].shocks["equity"] == -0.339
    assert lib["gfc_2008"].shocks["equity"] == -0.568  # 1565.15 -> 676.53
    assert lib["flash_crash_2010"].shocks["equity"] == -0.086  # intraday low, not the -3.2% close
    assert lib["rates_2022"].shocks["rates_bp"] == 250 and lib["rates_2022"].shocks["tech"] == -0.35
    assert lib["ai_bubble_burst"].shocks["tech"] == -0.45 and lib["ai_bubble_burst"].shocks["equity"] == -0.25
    assert lib["geopolitical"].shocks == {"equity": -0.12, "oil": 0.35, "gold": 0.10, "vix_points": 20}
    assert lib["rates_up_200"].shocks == {"rates_bp": 200}
    assert lib["vol_spike"].shocks == {"equity": -0.08, "vix_points": 30}
    assert [lib[f"market_down_{x}"].shocks["equity"] for x in (10, 20, 35, 50)] == [-0.10, -0.20, -0.35, -0.50]


def test_crisis_scenarios_shock_equity_down_and_vix_up():
    lib = {s.id: s for s in library()}
    for sid in ("gfc_2008", "flash_crash_2010", "covid_2020"):
        assert lib[sid].shocks["equity"] < 0 and lib[sid].shocks["vix_points"] > 0


def test_user_scenarios_follow_the_library_with_symbol_shocks():
    out = load_scenarios([{"name": "NVDA gap", "description": "earnings", "shocks": {"equity": -0.02, "NVDA": -0.3}},
                          ScenarioConfig(name="Rates", shocks={"rates_bp": 100})])
    assert [s.id for s in out[-2:]] == ["user_nvda_gap", "user_rates"]
    nv = out[-2]
    assert nv.kind == "user" and dict(nv.shocks) == {"equity": -0.02} and dict(nv.symbol_shocks) == {"NVDA": -0.3}
    assert nv.all_shocks() == {"equity": -0.02, "NVDA": -0.3}
    assert load_scenarios([], include_library=False) == []


@pytest.mark.parametrize("shocks, message", [
    ({"equty": -0.1}, "scenario 'X' (scenarios[0]): shock key 'equty': unknown factor (did you mean 'equity'?)"),
    ({"Equity": -0.1}, "scenario 'X' (scenarios[0]): shock key 'Equity': factor names are lower case (write 'equity')"),
    ({"VIX": 10}, "scenario 'X' (scenarios[0]): shock key 'VIX': the VIX is shocked in index points: write vix_points = 15"),
    ({"equity": "-10%"}, "scenario 'X' (scenarios[0]): shock 'equity': expected a number, got str '-10%'"),
    ({"equity": -1.5}, "scenario 'X' (scenarios[0]): shock 'equity': -1.5 is a fall of more than 100% (write a fraction: -0.2 for -20%)"),
    ({"NVDA": -2}, "scenario 'X' (scenarios[0]): shock 'NVDA': -2 is a fall of more than 100%"),
    ({}, "scenario 'X' (scenarios[0]): 'shocks' must be a non-empty table"),
])
def test_bad_user_shocks_name_the_scenario_and_key(shocks, message):
    with pytest.raises(InputError) as err:
        load_scenarios([{"name": "X", "shocks": shocks}])
    assert str(err.value).startswith(message)


def test_rates_and_vix_may_be_large_or_negative():
    factors, symbols = validate_shocks("t", {"rates_bp": -300, "vix_points": -5, "credit_bp": 1300})
    assert factors == {"rates_bp": -300.0, "vix_points": -5.0, "credit_bp": 1300.0} and symbols == {}


def test_user_scenario_problems_outside_shocks():
    with pytest.raises(InputError, match=r"scenarios\[0\] 'X': unknown key 'shock' \(did you mean 'shocks'\?\)"):
        load_scenarios([{"name": "X", "shock": {"equity": -0.1}}])
    with pytest.raises(InputError, match=r"scenarios\[0\]: a scenario needs a non-empty name"):
        load_scenarios([{"shocks": {"equity": -0.1}}])
    with pytest.raises(InputError, match=r"scenarios\[0\] '2020 covid crash': the name is already used by "
                                         r"the scenario '2020 COVID crash'"):
        load_scenarios([{"name": "2020 covid crash", "shocks": {"equity": -0.1}}])
