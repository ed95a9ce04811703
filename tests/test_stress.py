"""Stress testing (engine/stress.py): scenario P&L by hand, crisis signs, replay, what-if parsing."""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from wsbrisk_tui.engine.inputs import RiskInputs, linear_inputs
from wsbrisk_tui.engine.model import MarketData
from wsbrisk_tui.engine.pipeline import align_history
from wsbrisk_tui.engine.scenarios import Scenario, library
from wsbrisk_tui.engine.stress import (
    StressSettings,
    build_stress_model,
    credit_to_hyg_return,
    parse_shock_text,
    rates_to_tlt_return,
    stress_section,
    what_if,
)
from wsbrisk_tui.errors import InputError


def synthetic_market(n: int = 900, seed: int = 11, extra: dict[str, np.ndarray] | None = None) -> MarketData:
    """Seeded prices for SPY, QQQ, IWM, TLT, GLD and a stock AAA (no USO, BTC-USD or HYG)."""
    rng = np.random.default_rng(seed)
    mkt = rng.normal(0.0003, 0.01, n)
    rets = {
        "SPY": mkt,
        "QQQ": 1.1 * mkt + rng.normal(0, 0.004, n),
        "IWM": 1.2 * mkt + rng.normal(0, 0.005, n),
        "TLT": -0.2 * mkt + rng.normal(0, 0.008, n),
        "GLD": rng.normal(0, 0.009, n),
        "AAA": 1.3 * mkt + rng.normal(0, 0.012, n),
    }
    idx = pd.bdate_range("2015-01-02", periods=n + 1)
    frame = pd.DataFrame({k: 100.0 * np.concatenate([[1.0], np.cumprod(1 + v)]) for k, v in rets.items()},
                         index=idx)
    for k, v in (extra or {}).items():
        frame[k] = v
    return MarketData(prices=frame, source="test", as_of=idx[-1].date())


def linear_book(market: MarketData, values: dict[str, float], nav: float) -> RiskInputs:
    syms = list(values)
    hist = align_history(market, syms)
    return linear_inputs(hist.dates, syms, hist.prices, syms, np.diag([values[s] for s in syms]), nav=nav)


FULL_OVERRIDE = {"equity": 1.2, "tech": 0.5, "small_caps": 0.0, "rates": 0.0, "gold": 0.0}


def test_scenario_pnl_by_hand_for_a_linear_book():
    market = synthetic_market()
    values = {"AAA": 40_000.0, "SPY": 50_000.0, "TLT": -20_000.0}
    inputs = linear_book(market, values, nav=100_000.0)
    model = build_stress_model(inputs, market, StressSettings(overrides={"AAA": FULL_OVERRIDE}))
    sc = Scenario(id="t", name="t", kind="hypothetical",
                  shocks={"equity": -0.2, "tech": -0.3, "rates_bp": 100.0, "gold": 0.1})
    res = model.run([sc])[0]
    # AAA: 1.2 x (-0.2) + 0.5 x (tech excess -0.3 - (-0.2)) = -0.29 ; SPY is the equity proxy: -0.2
    # TLT is the rates proxy: -17 x 0.01 + 370 x 0.01^2 / 2 = -0.1515
    expected = {"AAA": 40_000 * -0.29, "SPY": 50_000 * -0.2, "TLT": -20_000 * -0.1515}
    for sym, v in expected.items():
        assert res["positions"][sym] == pytest.approx(v, abs=1e-9)  # exact arithmetic
    assert res["total_pnl"] == pytest.approx(sum(expected.values()), abs=1e-9)
    assert res["total_pct"] == pytest.approx(sum(expected.values()) / 100_000.0, abs=1e-15)
    assert res["shocks"] == {"equity": -0.2, "tech": -0.3, "rates_bp": 100.0, "gold": 0.1}
    assert res["replay"] is None


def test_rate_and_credit_mappings():
    assert rates_to_tlt_return(250) == pytest.approx(-17 * 0.025 + 0.5 * 370 * 0.025 ** 2, abs=1e-15)
    assert rates_to_tlt_return(250) == pytest.approx(-0.309375, abs=1e-12)
    assert credit_to_hyg_return(100) == pytest.approx(-0.035, abs=1e-15)


def test_omitted_tech_and_small_caps_move_with_equity():
    market = synthetic_market()
    inputs = linear_book(market, {"QQQ": 10_000.0, "IWM": 10_000.0}, nav=20_000.0)
    model = build_stress_model(inputs, market)
    res = model.run([Scenario(id="t", name="t", kind="market_move", shocks={"equity": -0.1})])[0]
    assert res["positions"] == {"QQQ": pytest.approx(-1000.0, abs=1e-9), "IWM": pytest.approx(-1000.0, abs=1e-9)}


def test_unavailable_factor_is_noted_not_silently_zero():
    market = synthetic_market()  # no USO: oil has no proxy
    inputs = linear_book(market, {"AAA": 10_000.0}, nav=10_000.0)
    model = build_stress_model(inputs, market)
    res = model.run([Scenario(id="t", name="t", kind="hypothetical", shocks={"oil": 0.35})])[0]
    assert res["positions"]["AAA"] == 0.0
    assert any(n.startswith("oil shock not applied to AAA: factor oil unavailable (no USO prices in the "
                            "market data)") for n in res["notes"])
    section = stress_section(inputs, market, scenarios=[], settings=StressSettings(replay=False))
    assert section["factors_unavailable"]["oil"] == "no USO prices in the market data"
    assert "oil" not in section["betas"]["AAA"]


def test_symbol_shock_sets_the_return_and_proxy_symbol_is_its_factor():
    market = synthetic_market()
    inputs = linear_book(market, {"AAA": 10_000.0, "SPY": 5_000.0}, nav=15_000.0)
    model = build_stress_model(inputs, market, StressSettings(overrides={"AAA": FULL_OVERRIDE}))
    res = model.what_if("AAA=-50%")
    assert res["positions"] == {"AAA": pytest.approx(-5000.0, abs=1e-9), "SPY": 0.0}
    res = model.what_if("SPY=-10%")  # SPY is the equity proxy: AAA moves by its beta 1.2
    assert res["positions"]["SPY"] == pytest.approx(-500.0, abs=1e-9)
    assert res["positions"]["AAA"] == pytest.approx(10_000 * 1.2 * -0.1, abs=1e-9)
    with pytest.raises(InputError, match="SPY is the equity proxy"):
        model.what_if("SPY=-10%,equity=-5%")
    res = model.what_if("ZZZ=-10%")
    assert res["total_pnl"] == 0.0 and "shock for ZZZ ignored: not in the book" in res["notes"]


def test_asset_return_is_clipped_at_minus_100_percent():
    market = synthetic_market()
    inputs = linear_book(market, {"AAA": 10_000.0}, nav=10_000.0)
    model = build_stress_model(inputs, market, StressSettings(overrides={"AAA": {"equity": 3.0}}))
    res = model.what_if("equity=-50%")
    assert res["positions"]["AAA"] == pytest.approx(-10_000.0, abs=1e-9)
    assert "asset return clipped at -100%: AAA" in res["notes"]


def test_asset_without_enough_history_is_na_and_named():
    n = 900
    short = np.full(n + 1, np.nan)
    short[-40:] = np.linspace(50, 55, 40)
    market = synthetic_market(extra={"NEW": short})
    inputs = linear_book(market, {"AAA": 10_000.0, "NEW": 5_000.0}, nav=15_000.0)
    model = build_stress_model(inputs, market, StressSettings(overrides={"AAA": FULL_OVERRIDE}))
    res = model.what_if("equity=-10%")
    assert res["positions"]["NEW"] is None
    assert res["positions"]["AAA"] == pytest.approx(-1200.0, abs=1e-9)
    assert res["total_pnl"] == pytest.approx(-1200.0, abs=1e-9)
    assert any(n.startswith("total excludes NEW (only 39 daily returns in common") for n in res["notes"])


def test_unknown_override_factor_is_an_input_error():
    market = synthetic_market()
    inputs = linear_book(market, {"AAA": 1.0}, nav=1.0)
    with pytest.raises(InputError, match=r"beta overrides for AAA: unknown factor 'equty' \(did you mean 'equity'\?\)"):
        build_stress_model(inputs, market, StressSettings(overrides={"AAA": {"equty": 1.0}}))


def _bsm_call(S, K, T, r, sigma):
    d1 = (math.log(S / K) + (r + 0.5 * sigma ** 2) * T) / (sigma * math.sqrt(T))
    d2 = d1 - sigma * math.sqrt(T)
    return S * norm.cdf(d1) - K * math.exp(-r * T) * norm.cdf(d2)


def test_options_are_revalued_with_spot_and_vix_shocks():
    from wsbrisk_tui.engine.revaluation import RevalPosition, book_revaluer

    market = synthetic_market()
    vix = pd.Series(20.0, index=market.prices.index)
    market = MarketData(prices=market.prices.assign(VIX=vix), source="t", as_of=market.as_of)
    hist = align_history(market, ["SPY", "VIX"])
    S0 = float(hist.prices[-1, 0])
    K, T0, iv0, rate = round(S0), 30 / 365, 0.20, 0.03
    pos = [RevalPosition(symbol="SPYC", underlying="SPY", qty=2, kind="option", multiplier=100, spot0=S0,
                         strike=K, right=1.0, T0=T0, iv0=iv0)]
    reval = book_revaluer(pos, ["SPY", "VIX"], None, rate, vol_asset="VIX", vol_level=20.0)
    inputs = RiskInputs(dates=hist.dates[1:], assets=("SPY", "VIX"),
                        asset_returns=hist.prices[1:] / hist.prices[:-1] - 1, asset_prices=hist.prices,
                        positions=("SPYC",), values=reval.values0, exposure=reval.delta_exposure(),
                        nav=100_000.0, linear=False, revalue=reval)
    model = build_stress_model(inputs, market)
    res = model.what_if("equity=-10%,VIX=+10")
    # independent BSM: spot -10%, vol 0.20 + 10/100, one trading day of decay
    v0 = _bsm_call(S0, K, T0, rate, iv0)
    v1 = _bsm_call(0.9 * S0, K, T0 - 1 / 252, rate, iv0 + 0.10)
    assert res["positions"]["SPYC"] == pytest.approx((v1 - v0) * 200, rel=1e-9)
    # the same spot move without the vol shock loses more: vega matters
    assert model.what_if("equity=-10%")["positions"]["SPYC"] < res["positions"]["SPYC"]


# ---------------------------------------------------------------------------------------------
# Crisis signs on the demo book
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_long_equity():
    from wsbrisk_tui.engine.sources.demo import demo_market_data, demo_portfolio

    market = demo_market_data()
    longs = [p for p in demo_portfolio().positions
             if p.option is None and p.asset_class in ("equity", "etf") and p.qty > 0
             and p.symbol not in ("TLT", "GLD")]
    syms = [p.symbol for p in longs]
    hist = align_history(market, syms, max_rows=600)
    values = np.array([p.qty * hist.prices[-1, i] for i, p in enumerate(longs)])
    inputs = linear_inputs(hist.dates, syms, hist.prices, syms, np.diag(values), nav=float(values.sum()))
    return inputs, market


@pytest.mark.parametrize("sid", ["gfc_2008", "covid_2020", "flash_crash_2010"])
def test_a_long_equity_book_loses_in_the_crises(demo_long_equity, sid):
    inputs, market = demo_long_equity
    sc = next(s for s in library() if s.id == sid)
    res = build_stress_model(inputs, market).run([sc])[0]
    assert res["total_pnl"] < 0
    assert all(v is not None and v < 0 for v in res["positions"].values())
    # the demo history covers these windows: the replay of the real path loses too
    assert res["replay"] is not None and res["replay"]["pnl"] < 0 and res["replay"]["missing"] == []


def test_demo_section_shape_worst_and_limit(demo_long_equity):
    inputs, market = demo_long_equity
    section = stress_section(inputs, market, limit_pct=0.25)
    ids = [s["id"] for s in section["scenarios"]]
    totals = {s["id"]: s["total_pnl"] for s in section["scenarios"]}
    assert section["worst"] == min(totals, key=totals.get)
    worst_pct = -next(s["total_pct"] for s in section["scenarios"] if s["id"] == section["worst"])
    assert section["limit"] == {"stress_loss_pct": 0.25, "worst_loss_pct": pytest.approx(worst_pct),
                                "breached": worst_pct > 0.25}
    assert "rates_2022" in ids
    rates = section["scenarios"][ids.index("rates_2022")]
    assert rates["replay"] is None
    assert any(n.startswith("replay n/a: price history covers 2007-01-03..2020-12-31") for n in rates["notes"])
    assert set(section["betas"]["AAPL"]) >= {"equity", "tech", "r2"}
    assert section["betas"]["SPY"]["equity"] == 1.0 and section["betas"]["SPY"]["r2"] == 1.0
    assert section["beta_info"]["AAPL"]["n_obs"] == 756


# ---------------------------------------------------------------------------------------------
# Replay on a hand-built path
# ---------------------------------------------------------------------------------------------


def _replay_market(after: list[float]) -> MarketData:
    # X: 100 (base) 90 80 95 85 (window end) then `after`; Y has no price at the base date
    x = [100.0, 100.0, 90.0, 80.0, 95.0, 85.0, *after]
    y = [np.nan, np.nan, 50.0, 51.0, 52.0, 53.0, *([53.0] * len(after))]
    idx = pd.bdate_range("2020-01-01", periods=len(x))  # Wed 2020-01-01 ... base = 2020-01-02
    return MarketData(prices=pd.DataFrame({"X": x, "Y": y}, index=idx), source="t", as_of=idx[-1].date())


def _replay(after: list[float]):
    market = _replay_market(after)
    prices = market.prices
    # risk inputs over the last dates where both have prices
    hist = align_history(market, ["X", "Y"])
    inputs = linear_inputs(hist.dates, ["X", "Y"], hist.prices, ["X", "Y"],
                           np.diag([100_000.0, 10_000.0]), nav=100_000.0)
    model = build_stress_model(inputs, market, StressSettings(min_obs=2))
    idx = prices.index
    return model.replay((idx[1].date(), idx[5].date())), idx


def test_replay_drawdown_and_days_to_recover_by_hand():
    (rep, notes), idx = _replay([90.0, 100.0, 105.0])
    # path of X x 100,000: 0, -10k, -20k, -5k, -15k; Y has no base price: left out
    assert [p[1] for p in rep["path"]] == pytest.approx([0.0, -10_000.0, -20_000.0, -5_000.0, -15_000.0], abs=1e-6)
    assert rep["path"][0][0] == idx[1].date().isoformat()
    assert rep["pnl"] == pytest.approx(-15_000.0, abs=1e-6)
    assert rep["max_drawdown"] == pytest.approx(20_000.0, abs=1e-6)
    assert rep["max_drawdown_pct"] == pytest.approx(0.20, abs=1e-12)  # 20k below a 100k peak
    assert rep["trough_date"] == idx[3].date().isoformat()
    # after the trough (80): 95, 85, 90, 100 -> back to the start level on the 4th day
    assert rep["days_to_recover"] == 4 and rep["recovery_note"] is None
    assert rep["missing"] == ["Y"]
    assert any(n.startswith("replay leaves out Y") for n in notes)


def test_replay_not_recovered_says_by_when():
    (rep, _), idx = _replay([90.0, 99.0])
    assert rep["days_to_recover"] is None
    assert rep["recovery_note"] == f"not recovered by {idx[-1].date().isoformat()}"


def test_replay_outside_the_history_is_na():
    market = _replay_market([90.0])
    hist = align_history(market, ["X"])
    inputs = linear_inputs(hist.dates, ["X"], hist.prices, ["X"], np.diag([1.0]), nav=1.0)
    model = build_stress_model(inputs, market, StressSettings(min_obs=2))
    rep, notes = model.replay((date(2019, 1, 1), date(2019, 2, 1)))
    assert rep is None and notes[0].startswith("replay n/a: price history covers 2020-01-01..")


# ---------------------------------------------------------------------------------------------
# What-if text
# ---------------------------------------------------------------------------------------------


def test_parse_shock_text_examples():
    spec = parse_shock_text("SPY=-7%,VIX=+15,rates=+50bp")
    assert spec.symbols == {"SPY": pytest.approx(-0.07, abs=1e-15)}
    assert spec.factors == {"vix_points": 15.0, "rates_bp": 50.0}
    spec = parse_shock_text("SPY -7%, VIX +15, rates +50bp, tech=-12.5%, credit=+100bp, BTC-USD=-30%")
    assert spec.symbols == {"SPY": pytest.approx(-0.07), "BTC-USD": pytest.approx(-0.30)}
    assert spec.factors == {"vix_points": 15.0, "rates_bp": 50.0, "tech": pytest.approx(-0.125),
                            "credit_bp": 100.0}


@pytest.mark.parametrize("text, message", [
    ("SPY=-7%,rates=+50", "shock 'SPY=-7%,rates=+50': at character 9 ('rates=+50'): rates takes basis points, e.g. rates=+50bp"),
    ("SPY=-7", "at character 1 ('SPY=-7'): a price move needs a percent sign, e.g. SPY=-7%"),
    ("VIX=+15%", "at character 1 ('VIX=+15%'): VIX takes index points as a plain number, e.g. VIX=+15"),
    ("equty=-5%", "at character 1 ('equty=-5%'): unknown factor 'equty' (did you mean 'equity'?)"),
    ("SPY=abc", "at character 1 ('SPY=abc'): 'abc' is not a number with an optional % or bp"),
    ("SPY=-7%,,VIX=1", "at character 9 (''): empty item"),
    ("SPY=-7%, SPY=-1%", "at character 10 ('SPY=-1%'): 'SPY' is given twice"),
    ("SPY=-150%", "at character 1 ('SPY=-150%'): -150% is a fall of more than 100%"),
    ("Equity=-5%", "'Equity' is neither a factor (lower case) nor a symbol (upper case)"),
    ("   ", "empty shock"),
])
def test_parse_shock_text_errors_point_at_the_item(text, message):
    with pytest.raises(InputError) as err:
        parse_shock_text(text)
    assert message in str(err.value)


def test_what_if_on_the_demo_book(demo_long_equity):
    inputs, market = demo_long_equity
    model = build_stress_model(inputs, market)
    res = what_if(model, "SPY=-7%,VIX=+15,rates=+50bp")
    spy_value = float(inputs.values[inputs.positions.index("SPY")])
    assert res["positions"]["SPY"] == pytest.approx(-0.07 * spy_value, rel=1e-12)
    assert res["total_pnl"] < 0 and res["kind"] == "what_if"
    assert res["shocks"] == {"vix_points": 15.0, "rates_bp": 50.0, "SPY": pytest.approx(-0.07)}


# ---------------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------------


def _stress_cli(argv: list[str], capsys) -> tuple[int, str]:
    import argparse

    from wsbrisk_tui.cli import _common_parser
    from wsbrisk_tui.commands import stress as stress_cmd

    parser = argparse.ArgumentParser()
    stress_cmd.add_parser(parser.add_subparsers(dest="command"), _common_parser(suppress_defaults=True))
    code = stress_cmd.run(parser.parse_args(argv))
    return code, capsys.readouterr().out


def test_cli_what_if_json_on_the_demo(capsys, monkeypatch, tmp_path):
    import json

    monkeypatch.delenv("WSBRISK_CONFIG", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    code, out = _stress_cli(["stress", "--demo", "--shock", "SPY=-7%,VIX=+15,rates=+50bp", "--format", "json"],
                            capsys)
    res = json.loads(out)
    assert code == 0 and res["id"] == "what_if"
    assert res["shocks"] == {"vix_points": 15.0, "rates_bp": 50.0, "SPY": pytest.approx(-0.07)}
    assert res["total_pnl"] == pytest.approx(sum(v for v in res["positions"].values() if v is not None))
    # the short SPY put loses when SPY falls and vols rise
    assert res["positions"]["SPY210115P00360000"] < 0


def test_cli_library_text_on_the_demo(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    monkeypatch.delenv("WSBRISK_CONFIG", raising=False)
    code, out = _stress_cli(["stress", "--demo"], capsys)
    assert code == 0
    assert "2020 COVID crash" in out and "stress-loss limit 25.0% of NAV" in out
    assert "2022 rate shock: replay n/a: price history covers 2007-01-03..2020-12-31" in out


def test_cli_bad_shock_is_an_input_error(capsys):
    with pytest.raises(InputError, match=r"at character 1 \('SPY=-7'\)"):
        _stress_cli(["stress", "--demo", "--shock", "SPY=-7"], capsys)


def test_option_explain_sits_beside_full_revaluation_on_the_demo_book():
    """The delta-gamma-vega-theta explain is close to full revaluation for a small move and far
    from it for a crash, where full revaluation bounds a long option's loss by its premium."""
    from wsbrisk_tui.engine.stress import build_stress_model
    from wsbrisk_tui.runtime import demo_runtime

    _, market, _, inputs = demo_runtime().risk_context()
    model = build_stress_model(inputs, market)
    small = model.what_if("SPY=-1%")
    for sym in ("SPY210115P00360000", "SPY210104C00380000"):
        full, approx = small["positions"][sym], small["explain"][sym]
        # second-order Taylor + one day of theta on a 1% move: within 20% of full revaluation
        assert approx == pytest.approx(full, rel=0.20), sym
    crash = model.what_if("SPY=-20%,VIX=+30")
    long_call = "SPY210104C00380000"  # 3 contracts, value 327 USD
    assert crash["positions"][long_call] == pytest.approx(-327.0, abs=1.0)  # loses its premium, no more
    assert crash["explain"][long_call] > 0  # the Taylor expansion's gamma and vega terms blow up
    # totals are full revaluation only: the explain never enters them
    assert crash["total_pnl"] == pytest.approx(sum(v for v in crash["positions"].values() if v is not None))


def test_config_beta_overrides_reach_the_stress_command(tmp_path, capsys):
    """[betas] in the config replaces the estimated betas: JPM given an equity beta of exactly 1.0
    (and 0 elsewhere) loses exactly 10% of its value in a pure -10% equity shock."""
    import json

    from wsbrisk_tui.cli import main
    from wsbrisk_tui.config import BETA_FACTORS
    from wsbrisk_tui.engine.factors import FACTOR_NAMES

    assert BETA_FACTORS == FACTOR_NAMES  # config's copy of the engine's factor names
    cfg = tmp_path / "c.toml"
    cfg.write_text("[betas]\nJPM = { equity = 1.0, tech = 0.0, small_caps = 0.0, rates = 0.0, "
                   "credit = 0.0, oil = 0.0, gold = 0.0, crypto = 0.0 }\n", encoding="utf-8")
    assert main(["stress", "--demo", "--config", str(cfg), "--shock", "equity=-10%", "--format", "json"]) == 0
    res = json.loads(capsys.readouterr().out)
    jpm_value = 500 * 127.07  # the demo book: 500 JPM at the 2020-12-31 close (rounded to cents)
    assert res["positions"]["JPM"] == pytest.approx(-0.10 * jpm_value, rel=1e-4)
