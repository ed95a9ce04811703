"""Per-position option analytics, book exposures, structures and expiry flags.

:func:`analyse_options` turns a :class:`~wsbrisk_tui.engine.model.Portfolio` plus spots, a rate and
VIX into an :class:`OptionBook`. Pricing is in :mod:`wsbrisk_tui.engine.options`.

Implied volatility
------------------
* ``iv_source = "implied from mark"``: solved from the position's mark (``Position.price``, $ per
  share) with the model that prices the contract (BSM, or the CRR tree where early exercise matters).
* ``iv_source = "VIX proxy (assumed)"``: no usable mark. S&P 500 and broad-index products
  (:data:`INDEX_UNDERLYINGS`) take ``VIX / 100``; single names ``1.5 x VIX / 100`` (an assumption:
  single-stock implied vols typically run well above the index's). ``iv_note`` says which and, when
  a mark existed but gave no IV, why (e.g. "mark 1.23 below intrinsic 1.50 (no-arbitrage bound)").
* no spot, or neither a usable mark nor VIX: ``status = "n/a"`` with a ``reason``; expired contracts
  (expiry before as-of) are n/a too (the broker should have settled them).

Exercise style: cash-settled index roots in :data:`EUROPEAN_ROOTS` (SPX, XSP, NDX, RUT, VIX, ...) are
European (BSM); every other US listed option is American: BSM where early exercise cannot matter,
``CRR-American-200`` otherwise (puts with r > 0; calls with a dividend yield or a known cash dividend
before expiry). Time to expiry is ACT/365 with a one-hour floor on the expiry day.

Units (``option`` JSON dict of a position)
------------------------------------------
Keys ``underlying, expiry (ISO), strike, right, multiplier, dte, iv, iv_source, delta, gamma, vega,
theta, rho, model`` and extras. ``delta``..``rho`` are **per share** (what an option chain quotes):
delta (dimensionless), gamma (per $1 of underlying), vega ($ per vol point), theta ($ per calendar
day), rho ($ per 1% of rate). Position figures scale by ``qty x multiplier``:

* ``delta_shares = delta x qty x mult`` (underlying shares equivalent);
* ``delta_dollars = delta_shares x S``;
* ``dollar_gamma_1pct = gamma x S^2 / 100 x qty x mult``: the change of delta dollars for a 1% move
  of the underlying (desk convention); the P&L of that move from gamma is half of it x 1%;
* ``vega_usd`` ($ per vol point), ``theta_usd`` ($ per calendar day), ``rho_usd`` ($ per 1% rate);
* ``premium_usd = qty x price x mult`` with the mark, or the model price when there is no mark.

Exposures (``exposures`` JSON section)
--------------------------------------
Per underlying and in total: net delta shares (stock and ETF quantities count as delta 1), delta
dollars, beta-weighted delta in SPY-equivalent shares (``delta_dollars x beta / SPY price``; beta 1.0
and ``beta_assumed`` when none is passed), dollar gamma, vega, theta, rho, option premium; DTE
buckets ``0-1, 2-7, 8-30, 31-90, 90+`` (calendar days) with counts, premium and delta notional;
concentration: the largest underlying's share of delta notional (|net delta dollars|) and of gross
option premium.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np

from wsbrisk_tui.engine.model import OptionContract, Portfolio, Rate, Status
from wsbrisk_tui.engine.options import (
    CRR_STEPS,
    DAYS_PER_YEAR,
    T_FLOOR_YEARS,
    bsm_greeks,
    bsm_price,
    crr_greeks,
    crr_model_name,
    early_exercise_matters,
    implied_vol,
)

#: Cash-settled, European-exercise index option roots (CBOE product specifications).
EUROPEAN_ROOTS: frozenset[str] = frozenset(
    {"SPX", "SPXW", "SPXPM", "XSP", "NDX", "NDXP", "XND", "RUT", "RUTW", "MRUT", "VIX", "VIXW", "DJX"})
#: Underlyings whose VIX proxy is VIX / 100 (S&P 500 products and broad US indexes / index ETFs).
INDEX_UNDERLYINGS: frozenset[str] = frozenset(
    {"SPY", "SPX", "SPXW", "XSP", "VOO", "IVV", "^GSPC", "^SPX", "QQQ", "NDX", "IWM", "RUT", "DIA", "DJX"})
#: Single-name IV proxy = this x VIX / 100 (assumption, stated with every proxied position).
SINGLE_NAME_VIX_MULTIPLIER: float = 1.5
IV_FROM_MARK = "implied from mark"
IV_VIX_PROXY = "VIX proxy (assumed)"
#: DTE buckets (calendar days, inclusive bounds).
DTE_BUCKETS: tuple[tuple[str, int, int | None], ...] = (
    ("0-1", 0, 1), ("2-7", 2, 7), ("8-30", 8, 30), ("31-90", 31, 90), ("90+", 91, None))
PIN_DISTANCE_FRAC = 0.01
PIN_DAYS = 2
ASSIGNMENT_DAYS = 5
BENCHMARK = "SPY"


# --------------------------------------------------------------------------------------------
# Values
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OptionAnalytics:
    """One option position, priced. Greeks per share; ``*_usd``/``delta_*`` are position figures."""

    position_index: int
    symbol: str
    origin: str
    contract: OptionContract
    qty: float
    dte: int
    status: Status = "ok"
    reason: str | None = None
    spot: float | None = None
    T_years: float | None = None
    rate: float = 0.0
    q: float = 0.0
    style: str = "american"
    iv: float | None = None
    iv_source: str | None = None
    iv_note: str | None = None
    mark: float | None = None
    price_model: float | None = None
    #: European BSM value at the same IV (equals ``price_model`` when the model is BSM).
    price_bsm: float | None = None
    model: str | None = None
    delta: float | None = None
    gamma: float | None = None
    vega: float | None = None
    theta: float | None = None
    rho: float | None = None
    div_amount: float = 0.0
    div_time_years: float = float("inf")

    @property
    def underlying(self) -> str:
        return self.contract.underlying

    @property
    def scale(self) -> float:
        """Shares per unit of per-share Greek: qty x multiplier."""
        return self.qty * self.contract.multiplier

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def _pos(self, per_share: float | None) -> float | None:
        return None if per_share is None else per_share * self.scale

    @property
    def delta_shares(self) -> float | None:
        return self._pos(self.delta)

    @property
    def delta_dollars(self) -> float | None:
        ds = self.delta_shares
        return None if ds is None or self.spot is None else ds * self.spot

    @property
    def gamma_shares(self) -> float | None:
        """Change of delta shares per $1 move of the underlying."""
        return self._pos(self.gamma)

    @property
    def dollar_gamma_1pct(self) -> float | None:
        """gamma x S^2 / 100 x qty x mult: change of delta dollars for a 1% move."""
        g = self.gamma_shares
        return None if g is None or self.spot is None else g * self.spot ** 2 / 100.0

    @property
    def vega_usd(self) -> float | None:
        return self._pos(self.vega)

    @property
    def theta_usd(self) -> float | None:
        return self._pos(self.theta)

    @property
    def rho_usd(self) -> float | None:
        return self._pos(self.rho)

    @property
    def unit_price(self) -> float | None:
        """The price per share used for premium: the mark, else the model price."""
        return self.mark if self.mark is not None else self.price_model

    @property
    def premium_usd(self) -> float | None:
        return self._pos(self.unit_price)

    def to_dict(self) -> dict[str, Any]:
        """The ``option`` JSON dict of a position (see the module docstring for units)."""
        c = self.contract
        return {
            "underlying": c.underlying,
            "expiry": c.expiry.isoformat(),
            "strike": c.strike,
            "right": c.right,
            "multiplier": c.multiplier,
            "dte": self.dte,
            "iv": self.iv,
            "iv_source": self.iv_source,
            "delta": self.delta,
            "gamma": self.gamma,
            "vega": self.vega,
            "theta": self.theta,
            "rho": self.rho,
            "model": self.model,
            "status": self.status,
            "reason": self.reason,
            "iv_note": self.iv_note,
            "style": self.style,
            "spot": self.spot,
            "t_years": self.T_years,
            "q": self.q,
            "price_model": self.price_model,
            "delta_shares": self.delta_shares,
            "delta_dollars": self.delta_dollars,
            "dollar_gamma_1pct": self.dollar_gamma_1pct,
            "vega_usd": self.vega_usd,
            "theta_usd": self.theta_usd,
            "rho_usd": self.rho_usd,
            "premium_usd": self.premium_usd,
            "adjusted": c.adjusted,
        }


@dataclass(frozen=True)
class Structure:
    """Option legs of one underlying and expiry, classified, with the loss at expiry.

    ``net_premium_usd`` > 0 is a debit paid, < 0 a credit received. ``risk`` is ``"defined"``
    (bounded by the legs themselves), ``"undefined"`` (net short puts: worst case at underlying 0,
    ``max_loss_usd`` is that loss) or ``"unlimited"`` (net short calls, ``max_loss_usd`` None).
    """

    underlying: str
    expiry: date
    kind: str  # single leg | vertical spread | straddle | strangle | iron condor | other
    description: str
    legs: tuple[str, ...]
    net_premium_usd: float | None
    max_loss_usd: float | None
    risk: str
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "underlying": self.underlying, "expiry": self.expiry.isoformat(), "kind": self.kind,
            "description": self.description, "legs": list(self.legs),
            "net_premium_usd": self.net_premium_usd, "max_loss_usd": self.max_loss_usd,
            "risk": self.risk, "note": self.note,
        }


@dataclass(frozen=True)
class Flag:
    """An expiry-related warning about one position."""

    kind: str  # pin_risk | assignment_risk | ex_dividend_assignment | adjusted_root
    symbol: str
    underlying: str
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "symbol": self.symbol, "underlying": self.underlying,
                "message": self.message}


@dataclass(frozen=True)
class OptionBook:
    """Everything the engine knows about the book's options."""

    as_of: date
    rate: float
    rate_source: str
    options: tuple[OptionAnalytics, ...]
    exposures: dict[str, Any]
    structures: tuple[Structure, ...]
    flags: tuple[Flag, ...]
    notes: tuple[str, ...] = field(default=())

    def for_position(self, position_index: int) -> OptionAnalytics | None:
        """Analytics of the portfolio's ``position_index``-th position (None if not an option)."""
        for a in self.options:
            if a.position_index == position_index:
                return a
        return None

    def to_dict(self) -> dict[str, Any]:
        return {
            "as_of": self.as_of.isoformat(),
            "rate": self.rate,
            "rate_source": self.rate_source,
            "options": [dict(a.to_dict(), symbol=a.symbol, qty=a.qty) for a in self.options],
            "exposures": self.exposures,
            "structures": [s.to_dict() for s in self.structures],
            "flags": [f.to_dict() for f in self.flags],
            "notes": list(self.notes),
        }


# --------------------------------------------------------------------------------------------
# Analysis
# --------------------------------------------------------------------------------------------


def exercise_style(contract: OptionContract) -> str:
    """"european" for cash-settled index roots, "american" for everything else."""
    root = (contract.root or contract.underlying).upper()
    return "european" if root in EUROPEAN_ROOTS or contract.underlying.upper() in EUROPEAN_ROOTS else "american"


def vix_proxy_vol(underlying: str, vix: float) -> tuple[float, str]:
    """The assumed vol from VIX and how it was made."""
    if underlying.upper() in INDEX_UNDERLYINGS:
        return vix / 100.0, f"VIX {vix:.2f} / 100 (index)"
    return SINGLE_NAME_VIX_MULTIPLIER * vix / 100.0, (
        f"{SINGLE_NAME_VIX_MULTIPLIER:g} x VIX {vix:.2f} / 100 (single name)")


def analyse_options(portfolio: Portfolio, spots: dict[str, float], as_of: date, rate: Rate,
                    vix: float | None, dividend_yields: dict[str, float] | None = None,
                    betas: dict[str, float] | None = None,
                    ex_dividend_dates: dict[str, date] | None = None,
                    dividend_amounts: dict[str, float] | None = None,
                    steps: int = CRR_STEPS) -> OptionBook:
    """Price every option position and build exposures, structures and flags.

    ``spots``: underlying -> price ($). ``rate``: the risk-free rate (continuous compounding is
    assumed for the fraction given). ``vix``: VIX level in index points for the proxy vol.
    ``dividend_yields``: continuous yields (0 when absent, noted). ``betas``: beta to SPY per
    underlying (1.0 assumed when absent). ``ex_dividend_dates``: next ex-dividend date per
    underlying, for the early-assignment flag; with ``dividend_amounts`` ($ per share) the CRR tree
    models that cash dividend (Hull's escrowed-dividend tree).
    """
    yields = dividend_yields or {}
    ex_dates = ex_dividend_dates or {}
    amounts = dividend_amounts or {}
    r = float(rate.value)
    notes: list[str] = []
    if rate.assumed:
        notes.append(f"risk-free rate {r:.4%} assumed ({rate.source})")

    pending: list[dict[str, Any]] = []
    done: list[OptionAnalytics] = []
    no_yield: set[str] = set()
    for index, pos in enumerate(portfolio.positions):
        c = pos.option
        if c is None:
            continue
        dte = c.dte(as_of)
        base = dict(position_index=index, symbol=pos.symbol, origin=pos.origin, contract=c, qty=float(pos.qty),
                    dte=dte, style=exercise_style(c), rate=r)
        spot = spots.get(c.underlying)
        if dte < 0:
            done.append(OptionAnalytics(**base, status="n/a", reason=(
                f"expired on {c.expiry.isoformat()} ({-dte} days before {as_of.isoformat()}): "
                "the broker should have settled it; check the positions source")))
            continue
        if spot is None or not np.isfinite(spot) or spot <= 0:
            done.append(OptionAnalytics(**base, status="n/a", reason=f"no spot price for underlying {c.underlying}"))
            continue
        if c.underlying not in yields:
            no_yield.add(c.underlying)
        T = max(dte / DAYS_PER_YEAR, T_FLOOR_YEARS)
        div_amount, div_time = 0.0, float("inf")
        ex = ex_dates.get(c.underlying)
        if ex is not None and c.underlying in amounts and as_of < ex <= c.expiry:
            div_amount, div_time = float(amounts[c.underlying]), (ex - as_of).days / DAYS_PER_YEAR
        mark = pos.price if pos.price is not None and np.isfinite(pos.price) else None
        pending.append(dict(base, spot=float(spot), T_years=T, q=float(yields.get(c.underlying, 0.0)),
                            mark=mark, div_amount=div_amount, div_time_years=div_time))
    if no_yield:
        notes.append("dividend yield 0 assumed for " + ", ".join(sorted(no_yield)))

    done.extend(_price_pending(pending, vix, steps))
    done.sort(key=lambda a: a.position_index)
    options = tuple(done)
    exposures = book_exposures(portfolio, options, spots, betas)
    structures = tuple(find_structures(portfolio, options))
    flags = tuple(expiry_flags(options, as_of, ex_dates))
    return OptionBook(as_of=as_of, rate=r, rate_source=rate.source, options=options, exposures=exposures,
                      structures=structures, flags=flags, notes=tuple(notes))


def _price_pending(pending: list[dict[str, Any]], vix: float | None, steps: int) -> list[OptionAnalytics]:
    """IV, model price and Greeks for options that have a spot, vectorised over positions."""
    if not pending:
        return []
    col = lambda key: np.array([p[key] for p in pending], dtype=float)  # noqa: E731
    S, T, r, q = col("spot"), col("T_years"), col("rate"), col("q")
    K = np.array([p["contract"].strike for p in pending])
    w = np.array([1.0 if p["contract"].right == "C" else -1.0 for p in pending])
    D, tau = col("div_amount"), col("div_time_years")
    american = np.array([p["style"] == "american" for p in pending])
    tree = american & early_exercise_matters(r, q, w, (D > 0) & (tau < T))

    iv = np.full(len(pending), np.nan)
    iv_source: list[str | None] = [None] * len(pending)
    iv_note: list[str | None] = [None] * len(pending)
    mark_reason: list[str | None] = [None] * len(pending)
    has_mark = np.array([p["mark"] is not None for p in pending])
    for use_tree in (False, True):
        m = has_mark & (tree == use_tree)
        if not np.any(m):
            continue
        idx = np.flatnonzero(m)
        marks = np.array([pending[i]["mark"] for i in idx], dtype=float)
        if use_tree and np.any(D[idx] > 0):
            solved, reasons = _iv_tree_with_dividend(marks, S[idx], K[idx], T[idx], r[idx], q[idx], w[idx],
                                                     D[idx], tau[idx], steps)
        else:
            solved, reasons = implied_vol(marks, S[idx], K[idx], T[idx], r[idx], q[idx], w[idx],
                                          model="CRR" if use_tree else "BSM", steps=steps)
        solved = np.atleast_1d(solved)
        for j, i in enumerate(idx):
            if np.isfinite(solved[j]):
                iv[i], iv_source[i] = solved[j], IV_FROM_MARK
            else:
                mark_reason[i] = reasons[j]

    have_vix = vix is not None and bool(np.isfinite(vix)) and vix > 0
    for i, p in enumerate(pending):
        if iv_source[i] is None and have_vix:
            why = f"mark unusable: {mark_reason[i]}" if mark_reason[i] else "no mark"
            iv[i], how = vix_proxy_vol(p["contract"].underlying, float(vix))
            iv_source[i] = IV_VIX_PROXY
            iv_note[i] = f"{why}; vol = {how}"

    ok = np.array([s is not None for s in iv_source])
    greeks: dict[str, np.ndarray] = {k: np.full(len(pending), np.nan)
                                     for k in ("price", "delta", "gamma", "vega", "theta", "rho")}
    for use_tree in (False, True):
        m = ok & (tree == use_tree)
        if not np.any(m):
            continue
        args = (S[m], K[m], T[m], r[m], q[m], iv[m], w[m])
        g = crr_greeks(*args, steps=steps, div_amount=D[m], div_time=tau[m]) if use_tree else bsm_greeks(*args)
        for k in greeks:
            greeks[k][m] = g[k]
    price_bsm = np.where(ok, bsm_price(S, K, T, r, q, np.where(ok, iv, 0.2), w), np.nan)

    out: list[OptionAnalytics] = []
    for i, p in enumerate(pending):
        fields = {k: p[k] for k in ("position_index", "symbol", "origin", "contract", "qty", "dte", "style",
                                    "rate", "spot", "T_years", "q", "mark", "div_amount", "div_time_years")}
        if not ok[i]:
            why = f"mark unusable: {mark_reason[i]}" if mark_reason[i] else "no mark"
            out.append(OptionAnalytics(**fields, status="n/a",
                                       reason=f"{why} and no VIX level for a proxy vol"))
            continue
        out.append(OptionAnalytics(
            **fields, iv=float(iv[i]), iv_source=iv_source[i], iv_note=iv_note[i],
            price_model=float(greeks["price"][i]), price_bsm=float(price_bsm[i]),
            model=crr_model_name(steps) if tree[i] else "BSM",
            delta=float(greeks["delta"][i]), gamma=float(greeks["gamma"][i]), vega=float(greeks["vega"][i]),
            theta=float(greeks["theta"][i]), rho=float(greeks["rho"][i])))
    return out


def _iv_tree_with_dividend(marks: np.ndarray, S: np.ndarray, K: np.ndarray, T: np.ndarray, r: np.ndarray,
                           q: np.ndarray, w: np.ndarray, D: np.ndarray, tau: np.ndarray,
                           steps: int) -> tuple[np.ndarray, list[str | None]]:
    """IV on the escrowed-dividend tree, one option at a time (scipy brentq on [1e-4, 5])."""
    from scipy.optimize import brentq

    from wsbrisk_tui.engine.options import IV_BRACKET, crr_price

    out = np.full(marks.size, np.nan)
    reasons: list[str | None] = [None] * marks.size
    for i in range(marks.size):
        def f(sig: float, i: int = i) -> float:
            return float(crr_price(S[i], K[i], T[i], r[i], q[i], sig, w[i], steps=steps,
                                   div_amount=D[i], div_time=tau[i])) - marks[i]
        lo, hi = f(IV_BRACKET[0]), f(IV_BRACKET[1])
        if lo > 0:
            reasons[i] = (f"mark {marks[i]:.2f} below the zero-vol value {marks[i] + lo:.2f} "
                          "(no-arbitrage bound)")
        elif hi < 0:
            reasons[i] = f"mark {marks[i]:.2f} implies a vol above {IV_BRACKET[1]:.0%}"
        else:
            out[i] = brentq(f, *IV_BRACKET, xtol=1e-10)
    return out, reasons


# --------------------------------------------------------------------------------------------
# Exposures
# --------------------------------------------------------------------------------------------


def _bucket(dte: int) -> str:
    for name, lo, hi in DTE_BUCKETS:
        if dte >= lo and (hi is None or dte <= hi):
            return name
    return "expired"


def _add(acc: dict[str, Any], key: str, value: float | None) -> None:
    if value is not None:
        acc[key] = acc.get(key, 0.0) + value


def _largest_share(values: dict[str, float]) -> dict[str, Any]:
    total = sum(values.values())
    if not values or total <= 0:
        return {"largest": None, "share": None, "total_usd": total}
    name = max(values, key=lambda k: values[k])
    return {"largest": name, "share": values[name] / total, "total_usd": total}


def book_exposures(portfolio: Portfolio, options: tuple[OptionAnalytics, ...], spots: dict[str, float],
                   betas: dict[str, float] | None) -> dict[str, Any]:
    """The JSON-ready ``exposures`` section (see the module docstring)."""
    betas = betas or {}
    spy = spots.get(BENCHMARK)
    per: dict[str, dict[str, Any]] = {}

    def row(und: str) -> dict[str, Any]:
        if und not in per:
            beta = 1.0 if und == BENCHMARK else betas.get(und)
            per[und] = {"underlying": und, "spot": spots.get(und), "stock_shares": 0.0,
                        "option_delta_shares": 0.0, "dollar_gamma_1pct": 0.0, "vega_usd": 0.0,
                        "theta_usd": 0.0, "rho_usd": 0.0, "option_premium_usd": 0.0,
                        "gross_option_premium_usd": 0.0, "n_options": 0, "excluded": [],
                        "beta": 1.0 if beta is None else float(beta), "beta_assumed": beta is None}
        return per[und]

    for pos in portfolio.positions:
        if pos.option is None:
            row(pos.symbol)["stock_shares"] += float(pos.qty)
    for a in options:
        acc = row(a.underlying)
        if not a.ok:
            acc["excluded"].append(f"{a.symbol}: {a.reason}")
            continue
        acc["n_options"] += 1
        _add(acc, "option_delta_shares", a.delta_shares)
        _add(acc, "dollar_gamma_1pct", a.dollar_gamma_1pct)
        _add(acc, "vega_usd", a.vega_usd)
        _add(acc, "theta_usd", a.theta_usd)
        _add(acc, "rho_usd", a.rho_usd)
        _add(acc, "option_premium_usd", a.premium_usd)
        _add(acc, "gross_option_premium_usd", None if a.premium_usd is None else abs(a.premium_usd))

    total: dict[str, Any] = {k: 0.0 for k in ("delta_dollars", "spy_equiv_shares", "dollar_gamma_1pct",
                                               "vega_usd", "theta_usd", "rho_usd", "option_premium_usd",
                                               "gross_option_premium_usd", "delta_notional_usd")}
    total_reasons: list[str] = []
    for und, acc in per.items():
        acc["delta_shares"] = acc["stock_shares"] + acc["option_delta_shares"]
        spot = acc["spot"]
        if spot is None:
            acc["delta_dollars"] = None
            acc["delta_notional_usd"] = None
            acc["reason"] = f"no spot price for {und}"
            total_reasons.append(acc["reason"])
        else:
            acc["delta_dollars"] = acc["delta_shares"] * spot
            acc["delta_notional_usd"] = abs(acc["delta_dollars"])
        if acc["delta_dollars"] is None or spy is None:
            acc["spy_equiv_shares"] = None
        else:
            acc["spy_equiv_shares"] = acc["delta_dollars"] * acc["beta"] / spy
        for k in total:
            if acc.get(k) is not None:
                total[k] += acc[k]
        acc["complete"] = spot is not None and not acc["excluded"]
        if acc["excluded"]:
            total_reasons.append(f"{und}: {len(acc['excluded'])} option(s) not priced")
    if spy is None:
        total["spy_equiv_shares"] = None
        total_reasons.append(f"no {BENCHMARK} price: beta-weighted delta n/a")
    total["betas_assumed"] = sorted(u for u, acc in per.items() if acc["beta_assumed"])
    total["complete"] = not total_reasons
    total["reasons"] = total_reasons

    buckets = {name: {"bucket": name, "count": 0, "premium_usd": 0.0, "gross_premium_usd": 0.0,
                      "delta_notional_usd": 0.0} for name, _, _ in DTE_BUCKETS}
    for a in options:
        if not a.ok:
            continue
        b = buckets[_bucket(a.dte)]
        b["count"] += 1
        _add(b, "premium_usd", a.premium_usd)
        _add(b, "gross_premium_usd", None if a.premium_usd is None else abs(a.premium_usd))
        _add(b, "delta_notional_usd", None if a.delta_dollars is None else abs(a.delta_dollars))

    concentration = {
        "delta_notional": _largest_share({u: acc["delta_notional_usd"] for u, acc in per.items()
                                          if acc["delta_notional_usd"] is not None}),
        "premium": _largest_share({u: acc["gross_option_premium_usd"] for u, acc in per.items()
                                   if acc["n_options"]}),
    }
    return {"by_underlying": list(per.values()), "total": total, "dte_buckets": list(buckets.values()),
            "concentration": concentration, "benchmark": BENCHMARK, "benchmark_price": spy}


# --------------------------------------------------------------------------------------------
# Structures
# --------------------------------------------------------------------------------------------


def expiry_pnl_extremes(legs: list[OptionAnalytics]) -> tuple[float | None, float, str]:
    """(max loss $ at expiry or None if unlimited, net premium $, risk) of same-expiry legs.

    The expiry payoff ``sum q_i m_i max(w_i (S - K_i), 0)`` is piecewise linear with kinks at the
    strikes, so its minimum over S >= 0 is at S = 0 or a strike unless the slope beyond the highest
    strike (net call contracts) is negative: then the loss is unlimited. Max loss = premium paid
    minus that minimum payoff. Early assignment is ignored (an expiry-payoff bound).
    """
    prem = sum(a.premium_usd for a in legs if a.premium_usd is not None)
    calls = sum(a.scale for a in legs if a.contract.right == "C")
    puts = sum(a.scale for a in legs if a.contract.right == "P")
    risk = "unlimited" if calls < 0 else ("undefined" if puts < 0 else "defined")
    if calls < 0:
        return None, prem, risk
    grid = [0.0] + sorted({a.contract.strike for a in legs})

    def payoff(s: float) -> float:
        return sum(a.scale * max((1.0 if a.contract.right == "C" else -1.0) * (s - a.contract.strike), 0.0)
                   for a in legs)

    return prem - min(payoff(s) for s in grid), prem, risk


def _is_vertical(a: OptionAnalytics, b: OptionAnalytics) -> bool:
    return (a.contract.right == b.contract.right and a.qty * b.qty < 0 and abs(a.qty) == abs(b.qty)
            and a.contract.strike != b.contract.strike)


def classify(legs: list[OptionAnalytics]) -> tuple[str, str]:
    """(kind, description) of same-underlying, same-expiry legs."""
    side = lambda a: "long" if a.qty > 0 else "short"  # noqa: E731
    name = lambda a: "call" if a.contract.right == "C" else "put"  # noqa: E731
    if len(legs) == 1:
        a = legs[0]
        return "single leg", f"{side(a)} {name(a)}"
    if len(legs) == 2:
        a, b = legs
        if _is_vertical(a, b):
            long_leg = a if a.qty > 0 else b
            short_leg = b if long_leg is a else a
            # A call spread is a debit when the long strike is the lower one; a put spread the reverse
            w = 1.0 if a.contract.right == "C" else -1.0
            debit = w * (short_leg.contract.strike - long_leg.contract.strike) > 0
            return "vertical spread", f"{name(a)} {'debit' if debit else 'credit'} spread"
        if a.contract.right != b.contract.right and a.qty * b.qty > 0 and abs(a.qty) == abs(b.qty):
            kind = "straddle" if a.contract.strike == b.contract.strike else "strangle"
            return kind, f"{side(a)} {kind}"
    if len(legs) == 4:
        calls = [a for a in legs if a.contract.right == "C"]
        puts = [a for a in legs if a.contract.right == "P"]
        sizes = {abs(a.qty) for a in legs}
        if (len(calls) == 2 and len(puts) == 2 and len(sizes) == 1 and _is_vertical(*calls)
                and _is_vertical(*puts)
                and max(p.contract.strike for p in puts) <= min(c.contract.strike for c in calls)):
            short_put = next(p for p in puts if p.qty < 0)
            short_call = next(c for c in calls if c.qty < 0)
            inner_short = short_put.contract.strike > min(p.contract.strike for p in puts) and \
                short_call.contract.strike < max(c.contract.strike for c in calls)
            return "iron condor", "short iron condor (credit)" if inner_short else "long iron condor (debit)"
    return "other", f"{len(legs)} legs"


def find_structures(portfolio: Portfolio, options: tuple[OptionAnalytics, ...]) -> list[Structure]:
    """Group option legs by (underlying, expiry), classify them and bound the loss at expiry."""
    groups: dict[tuple[str, date], list[OptionAnalytics]] = {}
    for a in options:
        groups.setdefault((a.underlying, a.contract.expiry), []).append(a)
    stock: dict[str, float] = {}
    for pos in portfolio.positions:
        if pos.option is None:
            stock[pos.symbol] = stock.get(pos.symbol, 0.0) + float(pos.qty)
    out: list[Structure] = []
    for (und, expiry), legs in groups.items():
        kind, description = classify(legs)
        missing = [a.symbol for a in legs if a.premium_usd is None]
        max_loss, prem, risk = expiry_pnl_extremes(legs)
        note = None
        if missing:
            max_loss, prem = None, None
            note = "no price for " + ", ".join(missing) + ": premium and max loss n/a"
        elif risk == "unlimited":
            short_calls = -sum(a.scale for a in legs if a.contract.right == "C")
            covered = stock.get(und, 0.0)
            note = "unlimited loss (net short calls)"
            if covered >= short_calls:
                note += f"; covered by {covered:g} shares of {und} in the book"
        elif risk == "undefined":
            note = "naked short put risk: max loss at underlying 0"
        out.append(Structure(underlying=und, expiry=expiry, kind=kind, description=description,
                             legs=tuple(a.symbol for a in legs), net_premium_usd=prem, max_loss_usd=max_loss,
                             risk=risk, note=note))
    return out


# --------------------------------------------------------------------------------------------
# Flags
# --------------------------------------------------------------------------------------------


def expiry_flags(options: tuple[OptionAnalytics, ...], as_of: date,
                 ex_dividend_dates: dict[str, date] | None = None) -> list[Flag]:
    """Pin risk, assignment risk, ex-dividend early assignment and adjusted contracts.

    * pin: short option, ``0 <= dte <= 2`` and ``|S - K| / S < 1%``: whether it is assigned is a
      coin flip at the close, so the next day's stock position is unknown;
    * assignment: short in-the-money option with ``0 <= dte <= 5``;
    * ex-dividend: short in-the-money call whose underlying goes ex-dividend on or before expiry:
      holders exercise the day before when the dividend exceeds the remaining time value;
    * adjusted root: non-standard deliverable, the multiplier must be checked.
    """
    ex_dates = ex_dividend_dates or {}
    flags: list[Flag] = []
    for a in options:
        c = a.contract
        if c.adjusted:
            flags.append(Flag("adjusted_root", a.symbol, c.underlying,
                              f"adjusted root {c.root or c.underlying}: non-standard deliverable: check multiplier "
                              f"(using {c.multiplier:g})"))
        if a.qty >= 0 or a.spot is None or a.dte < 0:
            continue
        S, K = a.spot, c.strike
        itm = (S > K) if c.right == "C" else (S < K)
        if a.dte <= PIN_DAYS and abs(S - K) / S < PIN_DISTANCE_FRAC:
            flags.append(Flag("pin_risk", a.symbol, c.underlying,
                              f"short {c.right} {K:g} with {c.underlying} at {S:.2f} ({abs(S - K) / S:.2%} away), "
                              f"{a.dte}d to expiry: pin risk"))
        if itm and a.dte <= ASSIGNMENT_DAYS:
            flags.append(Flag("assignment_risk", a.symbol, c.underlying,
                              f"short in-the-money {c.right} {K:g} ({c.underlying} {S:.2f}), {a.dte}d to expiry: "
                              "assignment risk"))
        ex = ex_dates.get(c.underlying)
        if c.right == "C" and itm and ex is not None and as_of <= ex <= c.expiry:
            flags.append(Flag("ex_dividend_assignment", a.symbol, c.underlying,
                              f"short in-the-money call {K:g} before ex-dividend {ex.isoformat()}: early "
                              "assignment likely if the dividend exceeds the remaining time value"))
    return flags
