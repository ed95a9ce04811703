"""Per-position option analytics, exposures, structures and flags (values checked independently)."""

from __future__ import annotations

import json
from datetime import date, timedelta

import numpy as np
import pytest

from wsbrisk_tui.engine.model import OptionContract, Portfolio, Position, Rate, to_jsonable
from wsbrisk_tui.engine.option_book import IV_FROM_MARK, IV_VIX_PROXY, analyse_options
from wsbrisk_tui.engine.options import T_FLOOR_YEARS, bsm_greeks, bsm_price, crr_price

AS_OF = date(2026, 3, 2)
RATE = Rate(0.04, "test fixture")
SPOTS = {"SPY": 600.0, "AAPL": 199.0, "SPX": 6000.0, "XYZ": 50.0, "QQQ": 500.0, "TSLA": 250.0}
JSON_KEYS = {"underlying", "expiry", "strike", "right", "multiplier", "dte", "iv", "iv_source", "delta", "gamma",
             "vega", "theta", "rho", "model"}


def opt(und: str, dte: int, right: str, strike: float, qty: float, price: float | None = None,
        root: str | None = None, adjusted: bool = False, multiplier: float = 100.0) -> Position:
    c = OptionContract(und, AS_OF + timedelta(days=dte), right, strike, multiplier, root or und, adjusted)
    return Position(c.occ_symbol, qty, "option", price=price, option=c, origin=f"test:{c.occ_symbol}")


def book_of(*positions: Position, vix: float | None = 18.0, **kw):
    pf = Portfolio(tuple(positions), cash=100_000.0, source="test", mode="FILE")
    return pf, analyse_options(pf, SPOTS, AS_OF, RATE, vix, **kw)


def only(book):
    assert len(book.options) == 1
    return book.options[0]


# -- per-position analytics ----------------------------------------------------------------------


def test_option_json_has_the_documented_keys_and_serialises():
    _, book = book_of(Position("SPY", 100, "etf"), opt("SPY", 18, "P", 590, -2, 5.10), opt("AAPL", 30, "C", 200, 1))
    for a in book.options:
        d = a.to_dict()
        assert JSON_KEYS <= set(d)
        assert {"delta_shares", "delta_dollars", "dollar_gamma_1pct", "price_model", "adjusted"} <= set(d)
        assert d["expiry"] == (AS_OF + timedelta(days=a.dte)).isoformat()
    text = json.dumps(to_jsonable(book.to_dict()), allow_nan=False)
    assert '"exposures"' in text and '"structures"' in text


def test_european_index_option_iv_from_mark_reprices_the_mark():
    _, book = book_of(opt("SPX", 18, "C", 6000, 1, 80.0))
    a = only(book)
    assert (a.iv_source, a.model, a.style, a.status) == (IV_FROM_MARK, "BSM", "european", "ok")
    assert a.T_years == pytest.approx(18 / 365)
    # repricing at the implied vol gives the mark back (solver tolerance 1e-12, asserted at 1e-8)
    assert float(bsm_price(6000, 6000, 18 / 365, 0.04, 0.0, a.iv, "C")) == pytest.approx(80.0, abs=1e-8)
    assert a.price_model == pytest.approx(80.0, abs=1e-8)


def test_american_put_is_priced_on_the_tree_and_reprices_its_mark():
    _, book = book_of(opt("SPY", 18, "P", 590, -2, 5.10))
    a = only(book)
    assert a.model == "CRR-American-200" and a.iv_source == IV_FROM_MARK
    assert float(crr_price(600, 590, 18 / 365, 0.04, 0.0, a.iv, "P")) == pytest.approx(5.10, abs=1e-8)
    assert a.price_bsm < a.price_model  # early-exercise premium of a put with r > 0


def test_position_greeks_scale_by_qty_and_multiplier_with_stated_units():
    _, book = book_of(opt("SPX", 18, "C", 6000, -3, 80.0))
    a = only(book)
    g = bsm_greeks(6000.0, 6000.0, 18 / 365, 0.04, 0.0, a.iv, "C")
    scale = -3 * 100
    assert a.delta == pytest.approx(float(g["delta"]), rel=1e-12)
    assert a.delta_shares == pytest.approx(float(g["delta"]) * scale, rel=1e-12)
    assert a.delta_dollars == pytest.approx(float(g["delta"]) * scale * 6000.0, rel=1e-12)
    assert a.dollar_gamma_1pct == pytest.approx(float(g["gamma"]) * 6000.0 ** 2 / 100 * scale, rel=1e-12)
    assert a.vega_usd == pytest.approx(float(g["vega"]) * scale, rel=1e-12)
    assert a.theta_usd == pytest.approx(float(g["theta"]) * scale, rel=1e-12)
    assert a.rho_usd == pytest.approx(float(g["rho"]) * scale, rel=1e-12)
    # convention check from deltas alone: dollar gamma = (d delta / dS) x (1% of S) x S x qty x mult,
    # the change of delta dollars at fixed S for a 1% move; d delta / dS by a central difference
    # with a 0.01% bump (O(h^2) error, rel 1e-5)
    h = 0.6
    d_up = float(bsm_greeks(6000.0 + h, 6000.0, 18 / 365, 0.04, 0.0, a.iv, "C")["delta"])
    d_dn = float(bsm_greeks(6000.0 - h, 6000.0, 18 / 365, 0.04, 0.0, a.iv, "C")["delta"])
    assert a.dollar_gamma_1pct == pytest.approx((d_up - d_dn) / (2 * h) * 60.0 * 6000.0 * scale, rel=1e-5)
    assert a.premium_usd == pytest.approx(-3 * 80.0 * 100)


def test_vix_proxy_without_a_mark_index_and_single_name():
    _, book = book_of(opt("SPY", 30, "C", 610, 1), opt("TSLA", 30, "C", 260, 1), vix=18.0)
    spy, tsla = book.options
    assert spy.iv_source == tsla.iv_source == IV_VIX_PROXY
    assert spy.iv == pytest.approx(0.18) and tsla.iv == pytest.approx(0.27)
    assert tsla.iv_note == "no mark; vol = 1.5 x VIX 18.00 / 100 (single name)"
    assert spy.price_model == pytest.approx(float(bsm_price(600, 610, 30 / 365, 0.04, 0.0, 0.18, "C")), abs=1e-12)


def test_no_mark_and_no_vix_is_na_with_reason_and_excluded_from_exposures():
    _, book = book_of(opt("TSLA", 30, "C", 260, 1), vix=None)
    a = only(book)
    assert a.status == "n/a" and a.iv is None and a.delta is None
    assert a.reason == "no mark and no VIX level for a proxy vol"
    row = next(r for r in book.exposures["by_underlying"] if r["underlying"] == "TSLA")
    assert row["n_options"] == 0 and row["excluded"] == [f"{a.symbol}: {a.reason}"] and row["complete"] is False
    assert book.exposures["total"]["complete"] is False


def test_mark_below_intrinsic_falls_back_to_vix_proxy_with_the_reason_or_is_na():
    # call 150 on AAPL at 199, 30 days: forward intrinsic 199 - 150 e^{-0.04 x 30/365} = 49.49
    _, book = book_of(opt("AAPL", 30, "C", 150, 1, 10.0), vix=20.0)
    a = only(book)
    assert a.iv_source == IV_VIX_PROXY and a.iv == pytest.approx(0.30)
    assert a.iv_note.startswith("mark unusable: mark 10.00 below intrinsic 49.49 (no-arbitrage bound)")
    _, book = book_of(opt("AAPL", 30, "C", 150, 1, 10.0), vix=None)
    a = only(book)
    assert a.status == "n/a"
    assert a.reason == ("mark unusable: mark 10.00 below intrinsic 49.49 (no-arbitrage bound) "
                        "and no VIX level for a proxy vol")


def test_missing_spot_and_expired_contracts_are_na():
    _, book = book_of(opt("NOPE", 10, "C", 10, 1, 1.0), opt("SPY", -1, "C", 600, 1, 1.0))
    nospot, expired = book.options
    assert nospot.status == "n/a" and nospot.reason == "no spot price for underlying NOPE"
    assert expired.status == "n/a" and expired.reason.startswith("expired on 2026-03-01 (1 days before 2026-03-02)")


def test_zero_dte_option_uses_one_hour_to_expiry():
    _, book = book_of(opt("SPY", 0, "C", 600, 1, 0.9))
    a = only(book)
    assert a.status == "ok" and a.dte == 0 and a.T_years == T_FLOOR_YEARS
    assert float(bsm_price(600, 600, T_FLOOR_YEARS, 0.04, 0, a.iv, "C")) == pytest.approx(0.9, abs=1e-8)


def test_known_cash_dividend_puts_calls_on_the_escrowed_tree():
    ex = AS_OF + timedelta(days=10)
    _, book = book_of(opt("AAPL", 30, "C", 190, 1), vix=20.0, ex_dividend_dates={"AAPL": ex},
                      dividend_amounts={"AAPL": 5.0})
    a = only(book)
    assert a.model == "CRR-American-200"
    expected = crr_price(199.0, 190.0, 30 / 365, 0.04, 0.0, 0.30, "C", div_amount=5.0, div_time=10 / 365)
    assert a.price_model == pytest.approx(float(expected), abs=1e-12)


# -- exposures -----------------------------------------------------------------------------------


def test_exposures_net_stock_and_option_delta_and_beta_weight_to_spy():
    pf, book = book_of(Position("SPY", 100, "etf"), opt("SPY", 18, "P", 590, -2, 5.10),
                       opt("AAPL", 30, "C", 200, 2, 6.0), Position("AAPL", -50, "equity"),
                       opt("QQQ", 30, "C", 510, 1, 8.0), betas={"AAPL": 1.3})
    rows = {r["underlying"]: r for r in book.exposures["by_underlying"]}
    spy_opt, aapl_opt, qqq_opt = book.options
    assert rows["SPY"]["delta_shares"] == pytest.approx(100 + spy_opt.delta_shares, rel=1e-12)
    assert rows["SPY"]["delta_dollars"] == pytest.approx((100 + spy_opt.delta_shares) * 600.0, rel=1e-12)
    assert rows["SPY"]["spy_equiv_shares"] == pytest.approx(100 + spy_opt.delta_shares, rel=1e-12)
    aapl_dollars = (-50 + aapl_opt.delta_shares) * 199.0
    assert rows["AAPL"]["delta_dollars"] == pytest.approx(aapl_dollars, rel=1e-12)
    assert rows["AAPL"]["spy_equiv_shares"] == pytest.approx(aapl_dollars * 1.3 / 600.0, rel=1e-12)
    assert rows["AAPL"]["beta_assumed"] is False and rows["QQQ"]["beta_assumed"] is True
    total = book.exposures["total"]
    assert total["betas_assumed"] == ["QQQ"]
    assert total["spy_equiv_shares"] == pytest.approx(sum(r["spy_equiv_shares"] for r in rows.values()), rel=1e-12)
    assert total["vega_usd"] == pytest.approx(sum(a.vega_usd for a in book.options), rel=1e-12)
    assert total["theta_usd"] == pytest.approx(sum(a.theta_usd for a in book.options), rel=1e-12)
    assert total["option_premium_usd"] == pytest.approx((-2 * 5.10 + 2 * 6.0 + 8.0) * 100, rel=1e-12)
    assert total["complete"] is True


def test_spy_equivalent_is_na_without_a_spy_price():
    pf = Portfolio((opt("AAPL", 30, "C", 200, 1, 6.0),), cash=None, source="t", mode="FILE")
    book = analyse_options(pf, {"AAPL": 199.0}, AS_OF, RATE, 18.0)
    assert book.exposures["total"]["spy_equiv_shares"] is None
    assert "no SPY price: beta-weighted delta n/a" in book.exposures["total"]["reasons"]


def test_dte_buckets_and_concentration():
    _, book = book_of(opt("SPY", 0, "C", 600, 1, 1.0), opt("SPY", 1, "C", 600, 1, 3.0),
                      opt("SPY", 5, "C", 600, 1, 7.0), opt("SPY", 20, "P", 590, 1, 6.0),
                      opt("AAPL", 60, "C", 200, -1, 9.0), opt("AAPL", 200, "C", 200, 1, 20.0))
    buckets = {b["bucket"]: b for b in book.exposures["dte_buckets"]}
    assert [buckets[k]["count"] for k in ("0-1", "2-7", "8-30", "31-90", "90+")] == [2, 1, 1, 1, 1]
    assert buckets["0-1"]["premium_usd"] == pytest.approx(400.0)
    assert buckets["31-90"]["premium_usd"] == pytest.approx(-900.0)
    assert buckets["31-90"]["gross_premium_usd"] == pytest.approx(900.0)
    assert sum(b["delta_notional_usd"] for b in buckets.values()) == pytest.approx(
        sum(abs(a.delta_dollars) for a in book.options), rel=1e-12)
    conc = book.exposures["concentration"]
    assert conc["premium"]["largest"] == "AAPL"
    assert conc["premium"]["share"] == pytest.approx(2900.0 / (1700.0 + 2900.0), rel=1e-12)
    rows = {r["underlying"]: r for r in book.exposures["by_underlying"]}
    net = {u: abs(r["delta_dollars"]) for u, r in rows.items()}
    assert conc["delta_notional"]["share"] == pytest.approx(max(net.values()) / sum(net.values()), rel=1e-12)


# -- structures ----------------------------------------------------------------------------------


def structure(book, underlying):
    (s,) = [s for s in book.structures if s.underlying == underlying]
    return s


def test_put_credit_spread_max_loss_is_width_less_credit():
    _, book = book_of(opt("SPY", 18, "P", 590, -2, 5.10), opt("SPY", 18, "P", 580, 2, 3.20))
    s = structure(book, "SPY")
    assert (s.kind, s.description, s.risk) == ("vertical spread", "put credit spread", "defined")
    credit = (5.10 - 3.20) * 100 * 2
    assert s.net_premium_usd == pytest.approx(-credit)
    assert s.max_loss_usd == pytest.approx(10 * 100 * 2 - credit)  # width x mult x qty - credit = 1620


def test_call_debit_spread_max_loss_is_the_debit():
    _, book = book_of(opt("XYZ", 30, "C", 50, 3, 3.0), opt("XYZ", 30, "C", 55, -3, 1.0))
    s = structure(book, "XYZ")
    assert (s.kind, s.description) == ("vertical spread", "call debit spread")
    assert s.max_loss_usd == pytest.approx((3.0 - 1.0) * 100 * 3)


def test_iron_condor_max_loss_is_widest_wing_less_credit():
    _, book = book_of(opt("XYZ", 30, "P", 40, 1, 0.5), opt("XYZ", 30, "P", 45, -1, 2.0),
                      opt("XYZ", 30, "C", 55, -1, 2.2), opt("XYZ", 30, "C", 60, 1, 0.7))
    s = structure(book, "XYZ")
    assert (s.kind, s.description, s.risk) == ("iron condor", "short iron condor (credit)", "defined")
    credit = (2.0 + 2.2 - 0.5 - 0.7) * 100
    assert s.max_loss_usd == pytest.approx(max(45 - 40, 60 - 55) * 100 - credit)
    # unequal wings: the wider (put) wing sets the loss
    _, book = book_of(opt("XYZ", 30, "P", 35, 1, 0.2), opt("XYZ", 30, "P", 45, -1, 2.0),
                      opt("XYZ", 30, "C", 55, -1, 2.2), opt("XYZ", 30, "C", 60, 1, 0.7))
    credit = (2.0 + 2.2 - 0.2 - 0.7) * 100
    assert structure(book, "XYZ").max_loss_usd == pytest.approx(10 * 100 - credit)


def test_naked_short_call_is_unlimited_and_naked_short_put_is_strike_less_premium():
    _, book = book_of(opt("TSLA", 30, "C", 300, -1, 4.0), opt("XYZ", 30, "P", 45, -2, 1.5))
    call, put = structure(book, "TSLA"), structure(book, "XYZ")
    assert (call.kind, call.description, call.risk, call.max_loss_usd) == ("single leg", "short call", "unlimited", None)
    assert call.note == "unlimited loss (net short calls)"
    assert (put.risk, put.description) == ("undefined", "short put")
    assert put.max_loss_usd == pytest.approx(45 * 100 * 2 - 1.5 * 100 * 2)


def test_covered_call_is_noted_and_long_option_loses_at_most_its_premium():
    _, book = book_of(Position("TSLA", 100, "equity"), opt("TSLA", 30, "C", 300, -1, 4.0),
                      opt("XYZ", 30, "C", 55, 2, 1.25))
    assert structure(book, "TSLA").note == "unlimited loss (net short calls); covered by 100 shares of TSLA in the book"
    assert structure(book, "XYZ").max_loss_usd == pytest.approx(250.0)


def test_straddle_strangle_and_ratio_spread_classification():
    _, book = book_of(opt("XYZ", 30, "C", 50, -1, 2.0), opt("XYZ", 30, "P", 50, -1, 1.8),
                      opt("TSLA", 30, "C", 270, 2, 5.0), opt("TSLA", 30, "P", 230, 2, 4.0),
                      opt("QQQ", 30, "C", 500, 1, 10.0), opt("QQQ", 30, "C", 520, -2, 4.0))
    assert (structure(book, "XYZ").kind, structure(book, "XYZ").risk) == ("straddle", "unlimited")
    strangle = structure(book, "TSLA")
    assert (strangle.kind, strangle.description) == ("strangle", "long strangle")
    assert strangle.max_loss_usd == pytest.approx((5.0 + 4.0) * 200)
    ratio = structure(book, "QQQ")
    assert (ratio.kind, ratio.risk, ratio.max_loss_usd) == ("other", "unlimited", None)


def test_legs_of_different_expiries_are_separate_structures():
    _, book = book_of(opt("XYZ", 30, "C", 50, 1, 2.0), opt("XYZ", 60, "C", 55, -1, 1.0))
    assert sorted(s.kind for s in book.structures) == ["single leg", "single leg"]


# -- flags ---------------------------------------------------------------------------------------


def kinds(book):
    return sorted((f.kind, f.symbol[:3]) for f in book.flags)


def test_pin_risk_flags_short_options_near_the_strike_close_to_expiry():
    _, book = book_of(opt("SPY", 1, "C", 603, -1, 1.0),  # 0.5% away, 1 day: pin
                      opt("SPY", 1, "P", 597, 1, 1.0),  # long: no flag
                      opt("QQQ", 3, "C", 502, -1, 3.0))  # 3 days: outside the pin window
    assert [f.kind for f in book.flags] == ["pin_risk"]
    assert book.flags[0].message == "short C 603 with SPY at 600.00 (0.50% away), 1d to expiry: pin risk"


def test_assignment_risk_flags_short_itm_within_five_days_and_before_ex_dividend():
    ex = AS_OF + timedelta(days=5)
    _, book = book_of(opt("SPY", 3, "P", 620, -1, 20.5),  # ITM put, 3 days
                      opt("QQQ", 3, "C", 520, -1, 1.0),  # OTM: no flag
                      opt("AAPL", 30, "C", 180, -1, 20.0),  # ITM call before ex-dividend
                      ex_dividend_dates={"AAPL": ex})
    assert kinds(book) == [("assignment_risk", "SPY"), ("ex_dividend_assignment", "AAP")]
    exdiv = next(f for f in book.flags if f.kind == "ex_dividend_assignment")
    assert "before ex-dividend 2026-03-07" in exdiv.message


def test_adjusted_root_is_flagged_with_the_multiplier():
    _, book = book_of(opt("AAPL", 30, "C", 200, 1, 6.0, root="AAPL1", adjusted=True, multiplier=100.0))
    (flag,) = book.flags
    assert flag.kind == "adjusted_root"
    assert flag.message == "adjusted root AAPL1: non-standard deliverable: check multiplier (using 100)"
    assert only(book).to_dict()["adjusted"] is True


def test_exposure_figures_are_finite_numbers():
    _, book = book_of(Position("SPY", 100, "etf"), opt("SPY", 0, "P", 600, -5, 1.1), opt("AAPL", 400, "C", 250, 1, 12.0))
    for a in book.options:
        for key in ("delta", "gamma", "vega", "theta", "rho", "delta_dollars", "dollar_gamma_1pct"):
            assert np.isfinite(a.to_dict()[key]), key
