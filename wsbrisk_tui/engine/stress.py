"""Stress testing: factor-shock scenarios, historical replay and what-if shocks on today's book.

From factor shocks to asset returns
-----------------------------------
A scenario (:mod:`wsbrisk_tui.engine.scenarios`) is turned into one vector ``x`` in the regressor
space of :mod:`wsbrisk_tui.engine.factors`::

    x_equity = equity                       x_tech  = tech - equity   (tech omitted: 0)
    x_small_caps = small_caps - equity      (omitted: 0, small caps move with equity)
    x_rates  = TLT return = -D dy + C dy^2 / 2,  dy = rates_bp / 10^4, D = 17, C = 370
    x_credit = HYG return = -3.5 x credit_bp / 10^4     (spread duration; rates effect not added)
    x_oil, x_gold, x_crypto = the shock (total return of USO, GLD, BTC-USD)

D = 17 years and C = 370 years^2 are approximate for TLT (20+ year Treasuries; a 25-year 3% par
bond has D = 17.5, C = 387); with convexity a +250bp shock gives TLT -30.9% (-42.5% without).

Each asset a of the risk inputs then moves by ``r_a = sum_f beta_a,f x_f`` (betas: Zellner/Blume-
shrunk OLS of :func:`~wsbrisk_tui.engine.factors.estimate_betas` over 756 days, prior 1 for equity
and 0 otherwise, worth 250 days; per-symbol ``overrides`` replace single betas), clipped at -100%.
An asset that IS a proxy (SPY, QQQ, IWM, TLT, HYG, USO, GLD, BTC-USD) takes its factor's shock
exactly (its betas are the identity: QQQ = equity 1 + tech 1). A symbol shock (``NVDA = -0.3``)
sets that asset's return directly. The VIX column of an options book gets
``VIX1 / VIX0 - 1 = vix_points / VIX0``, so the revaluer shifts every implied vol by
``vix_points / 100`` (sticky strike, parallel). Position P&L is ``inputs.revalue(R, 1)``: full
revaluation of options (spot and vol shocked, one trading day of decay), value x return otherwise.

Honest gaps: a factor whose proxy is missing from the data has no betas, so its shock reaches only
positions with an override or a symbol shock; the scenario's ``notes`` name the positions it did
not reach. An asset whose betas cannot be estimated (too little history) gets ``null`` P&L and the
total says which positions it leaves out. Nothing is set to 0 silently.

Historical replay
-----------------
For a scenario with a ``window`` covered by the price history, today's holdings are revalued under
the cumulative returns ``P_t / P_base - 1`` of their own instruments from the base date's close,
day by day (instantaneous revaluation at each date: options keep today's expiry, no time decay),
on the dates where every replayed series has a price (gaps are dropped, never filled). Reported:
P&L at the window end, maximum drawdown of the book value ``NAV + P&L`` (peak to trough, currency
and fraction of the peak), and days to recover: trading days after the window's trough until the
P&L is back to >= 0, looking past the window to the end of the data (``null`` with
``"not recovered by <last date>"`` otherwise). Instruments without prices at the base date or in
the window are left out and listed in ``missing``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

import numpy as np

from wsbrisk_tui.engine.factors import (
    BETA_WINDOW_DAYS,
    DEFAULT_PROXIES,
    EXCESS_OVER_EQUITY,
    FACTOR_NAMES,
    MIN_OBS,
    PRIOR_OBS_STRESS,
    VOL_FACTOR,
    Betas,
    FactorPanel,
    estimate_betas,
    factor_panel,
)
from wsbrisk_tui.engine.scenarios import (
    SHOCK_FACTORS,
    Scenario,
    load_scenarios,
    suggest,
    validate_shocks,
)
from wsbrisk_tui.errors import InputError

if TYPE_CHECKING:
    import pandas as pd

    from wsbrisk_tui.engine.inputs import RiskInputs
    from wsbrisk_tui.engine.model import MarketData

RATES_DURATION_YEARS = 17.0
RATES_CONVEXITY = 370.0
CREDIT_SPREAD_DURATION_YEARS = 3.5

#: Scenario shock key -> regressor factor it drives.
_SHOCK_TO_FACTOR = {"equity": "equity", "tech": "tech", "small_caps": "small_caps", "rates_bp": "rates",
                    "credit_bp": "credit", "oil": "oil", "gold": "gold", "crypto": "crypto"}
_FACTOR_TO_SHOCK = {v: k for k, v in _SHOCK_TO_FACTOR.items()}


def _is_option_position(revalue: Any, index: int) -> bool:
    """True when the revaluer prices position ``index`` as an option (a BookRevaluer knows)."""
    positions = getattr(revalue, "positions", None)
    return positions is not None and getattr(positions[index], "kind", None) == "option"


def rates_to_tlt_return(rates_bp: float, duration: float = RATES_DURATION_YEARS,
                        convexity: float = RATES_CONVEXITY) -> float:
    """TLT return for a parallel yield shift: ``-D dy + C dy^2 / 2`` with ``dy = bp / 10^4``."""
    dy = rates_bp / 1e4
    return -duration * dy + 0.5 * convexity * dy * dy


def credit_to_hyg_return(credit_bp: float, duration: float = CREDIT_SPREAD_DURATION_YEARS) -> float:
    """HYG return for a high-yield spread change: ``-spread duration x ds``."""
    return -duration * credit_bp / 1e4


@dataclass(frozen=True)
class StressSettings:
    """How betas are estimated and shocks mapped (defaults documented in the module docstring)."""

    beta_window: int = BETA_WINDOW_DAYS
    prior_obs: float = PRIOR_OBS_STRESS
    min_obs: int = MIN_OBS
    proxies: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_PROXIES))
    #: symbol -> {factor: beta}: replaces the estimated betas named (factors as in FACTOR_NAMES).
    overrides: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    rates_duration: float = RATES_DURATION_YEARS
    rates_convexity: float = RATES_CONVEXITY
    credit_duration: float = CREDIT_SPREAD_DURATION_YEARS
    replay: bool = True


def validate_overrides(overrides: Mapping[str, Mapping[str, float]]) -> dict[str, dict[str, float]]:
    """Check ``{symbol: {factor: beta}}``: unknown factor names and non-numbers are InputErrors."""
    out: dict[str, dict[str, float]] = {}
    for sym, table in overrides.items():
        if not isinstance(table, Mapping):
            raise InputError(f"beta overrides for {sym}: expected a table like {{ equity = 1.2 }}")
        out[sym] = {}
        for f, v in table.items():
            if f not in FACTOR_NAMES:
                hint = suggest(str(f), FACTOR_NAMES)
                raise InputError(f"beta overrides for {sym}: unknown factor '{f}'"
                                 + (f" (did you mean '{hint}'?)" if hint else "")
                                 + f"; factors are {', '.join(FACTOR_NAMES)}")
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                raise InputError(f"beta overrides for {sym}: '{f}' must be a finite number, got {v!r}")
            out[sym][str(f)] = float(v)
    return out


def vix_series(market: "MarketData") -> "pd.Series | None":
    """The VIX level series: ``market.vix`` when set, else a ``VIX`` price column, else None."""
    if market.vix is not None:
        return market.vix
    if VOL_FACTOR in market.prices.columns:
        return market.prices[VOL_FACTOR]
    return None


def position_assets(inputs: "RiskInputs") -> list[str | None]:
    """The asset each position moves with: itself, an option's underlying, else its largest exposure."""
    from wsbrisk_tui.engine.occ import looks_like_occ, parse_occ

    assets = list(inputs.assets)
    out: list[str | None] = []
    exposure = np.asarray(inputs.exposure, dtype=float)
    for i, sym in enumerate(inputs.positions):
        if sym in assets:
            out.append(sym)
            continue
        if looks_like_occ(sym):
            root = parse_occ(sym).root
            if root in assets:
                out.append(root)
                continue
        cand = [(abs(exposure[i, j]), a) for j, a in enumerate(assets) if a != VOL_FACTOR]
        best = max(cand, default=(0.0, None))
        out.append(best[1] if best[0] > 0 else None)
    return out


# --------------------------------------------------------------------------------------------
# The model: betas and mappings, built once per snapshot
# --------------------------------------------------------------------------------------------


@dataclass
class StressModel:
    """Everything needed to turn shocks into P&L for one book (build with :func:`build_stress_model`)."""

    inputs: "RiskInputs"
    settings: StressSettings
    panel: FactorPanel
    betas: Betas
    #: asset -> {factor: beta} actually used (estimated, identity for proxies, or overridden)
    asset_betas: dict[str, dict[str, float] | None]
    asset_reasons: dict[str, str]
    proxy_of: dict[str, str]
    pos_assets: list[str | None]
    vix0: float | None
    history: "PriceHistory | None"
    notes: list[str]

    # -- shocks ---------------------------------------------------------------------------------

    def regressor_shocks(self, factor_shocks: Mapping[str, float],
                         symbol_shocks: Mapping[str, float]) -> tuple[dict[str, float], dict[str, float]]:
        """``(x, remaining symbol shocks)``: the regressor vector (all FACTOR_NAMES) after folding
        in symbol shocks on proxy symbols (``SPY = -0.07`` is ``equity = -0.07``)."""
        s = self.settings
        totals = {f: factor_shocks[k] for k, f in _SHOCK_TO_FACTOR.items() if k in factor_shocks}
        if "rates" in totals:
            totals["rates"] = rates_to_tlt_return(totals["rates"], s.rates_duration, s.rates_convexity)
        if "credit" in totals:
            totals["credit"] = credit_to_hyg_return(totals["credit"], s.credit_duration)
        remaining: dict[str, float] = {}
        for sym, r in symbol_shocks.items():
            f = self.proxy_of.get(sym)
            if f is None:
                remaining[sym] = r
                continue
            if f in totals:
                raise InputError(f"shock for {sym} and for the {_FACTOR_TO_SHOCK[f]} factor: {sym} is the "
                                 f"{f} proxy, so give one of them")
            totals[f] = r
        eq = totals.get("equity", 0.0)
        x = {}
        for f in FACTOR_NAMES:
            if f in EXCESS_OVER_EQUITY:
                x[f] = totals[f] - eq if f in totals else 0.0
            else:
                x[f] = totals.get(f, 0.0)
        return x, remaining

    def asset_returns(self, scenario: Scenario) -> tuple[np.ndarray, list[str | None], list[str]]:
        """(k,) returns of the risk-input assets, per-asset n/a reasons, and notes."""
        x, sym_shocks = self.regressor_shocks(scenario.shocks, scenario.symbol_shocks)
        assets = self.inputs.assets
        R = np.zeros(len(assets))
        na: list[str | None] = [None] * len(assets)
        notes: list[str] = []
        unreached: dict[str, list[str]] = {}
        clipped: list[str] = []
        for j, a in enumerate(assets):
            if a == VOL_FACTOR:
                dv = float(scenario.shocks.get("vix_points", 0.0))
                if dv and self.vix0 is None:
                    na[j] = "no current VIX level"
                elif dv:
                    R[j] = max(dv / self.vix0, -0.99)  # VIX cannot reach zero
                continue
            if a in sym_shocks:
                R[j] = sym_shocks[a]
                continue
            betas = self.asset_betas.get(a)
            if betas is None:
                na[j] = self.asset_reasons.get(a, "no betas")
                continue
            r = 0.0
            for f, xv in x.items():
                if xv == 0.0:
                    continue
                b = betas.get(f)
                if b is None:
                    unreached.setdefault(f, []).append(a)
                    continue
                r += b * xv
            if r < -1.0:
                clipped.append(a)
                r = -1.0
            R[j] = r
        for f, names in unreached.items():
            key = _FACTOR_TO_SHOCK[f]
            if f in self.panel.unavailable:
                notes.append(f"{key} shock not applied to {', '.join(names)}: factor {f} unavailable "
                             f"({self.panel.unavailable[f]}); it moves only its proxy, overrides and "
                             "symbol shocks")
            else:
                notes.append(f"{key} shock not applied to {', '.join(names)}: no {f} beta")
        if clipped:
            notes.append(f"asset return clipped at -100%: {', '.join(clipped)}")
        ignored = [s for s in sym_shocks if s not in assets]
        if ignored:
            notes.append(f"shock for {', '.join(ignored)} ignored: not in the book")
        if scenario.shocks.get("vix_points") and VOL_FACTOR not in assets and not self.inputs.linear:
            notes.append("VIX shock not applied to options: the risk inputs have no VIX column "
                         "(implied vols held at today's level)")
        return R, na, notes

    # -- P&L ------------------------------------------------------------------------------------

    def run(self, scenarios: Sequence[Scenario], *, replay: bool | None = None) -> list[dict[str, Any]]:
        """One result dict per scenario (the ``stress`` section's ``scenarios`` entries)."""
        if not scenarios:
            return []
        do_replay = self.settings.replay if replay is None else replay
        rows = [self.asset_returns(sc) for sc in scenarios]
        R = np.vstack([r for r, _, _ in rows])
        pnl = np.asarray(self.inputs.revalue(R, 1), dtype=float)
        # The options' delta-gamma-vega-theta "explain" P&L, beside full revaluation (never used
        # for the totals): how much of each option's move the Greeks would have predicted.
        explain_fn = getattr(self.inputs.revalue, "explain", None)
        explain = None if self.inputs.linear or explain_fn is None else np.asarray(explain_fn(R, 1), dtype=float)
        option_cols = [i for i, sym in enumerate(self.inputs.positions)
                       if explain is not None and self.inputs.exposure.shape[0] == len(self.inputs.positions)
                       and _is_option_position(self.inputs.revalue, i)]
        out = []
        col = {a: j for j, a in enumerate(self.inputs.assets)}
        for s, sc in enumerate(scenarios):
            _, na, notes = rows[s]
            positions: dict[str, float | None] = {}
            excluded: list[str] = []
            total = 0.0
            for i, sym in enumerate(self.inputs.positions):
                a = self.pos_assets[i]
                reason = na[col[a]] if a is not None else "no asset mapped"
                if reason is not None:
                    positions[sym] = None
                    excluded.append(f"{sym} ({reason})")
                    continue
                v = float(pnl[s, i])
                positions[sym] = (positions.get(sym) or 0.0) + v
                total += v
            if excluded:
                notes = notes + [f"total excludes {'; '.join(excluded)}"]
            nav = self.inputs.nav
            result: dict[str, Any] = {
                "id": sc.id, "name": sc.name, "kind": sc.kind, "description": sc.description,
                "total_pnl": total, "total_pct": total / nav if nav > 0 else None,
                "positions": positions, "shocks": sc.all_shocks(), "sources": list(sc.sources),
                "notes": notes, "replay": None,
            }
            if option_cols:
                result["explain"] = {self.inputs.positions[i]: float(explain[s, i])  # type: ignore[index]
                                     for i in option_cols if positions.get(self.inputs.positions[i]) is not None}
            if sc.window is not None and do_replay:
                rep, rep_notes = self.replay(sc.window)
                result["replay"] = rep
                result["notes"] = result["notes"] + rep_notes
            out.append(result)
        return out

    def what_if(self, shocks: "str | ShockSpec") -> dict[str, Any]:
        """P&L of a custom shock (text as in :func:`parse_shock_text`, or a parsed spec)."""
        spec = parse_shock_text(shocks) if isinstance(shocks, str) else shocks
        label = shocks if isinstance(shocks, str) else spec.text
        factors, symbols = validate_shocks(f"what-if '{label}'", {**spec.factors, **spec.symbols})
        sc = Scenario(id="what_if", name=f"What-if: {label}", kind="what_if",
                      description="custom shock", shocks=factors, symbol_shocks=symbols)
        return self.run([sc], replay=False)[0]

    # -- replay ---------------------------------------------------------------------------------

    def replay(self, window: tuple[date, date]) -> tuple[dict[str, Any] | None, list[str]]:
        """Replay today's holdings over a historical window (module docstring)."""
        H = self.history
        if H is None or H.values.shape[0] < 2:
            return None, ["replay n/a: no price history"]
        start, end = np.datetime64(window[0], "D"), np.datetime64(window[1], "D")
        first, last = H.dates[0], H.dates[-1]
        if start < first or end > last:
            return None, [f"replay n/a: price history covers {first}..{last}, "
                          f"not the window {window[0]}..{window[1]}"]
        base_i = int(np.searchsorted(H.dates, start, side="right")) - 1
        end_i = int(np.searchsorted(H.dates, end, side="right")) - 1
        base_date = H.dates[base_i]
        block = H.values[base_i:]
        n_window = end_i - base_i + 1
        has_base = np.isfinite(block[0])
        in_window = np.isfinite(block[1:n_window]).any(axis=0)
        covered = has_base & in_window
        missing = [a for a, ok in zip(H.names, covered) if not ok]
        notes: list[str] = []
        instruments_missing = [a for a in missing if a != VOL_FACTOR]
        if not any(ok and a != VOL_FACTOR for a, ok in zip(H.names, covered)):
            return None, [f"replay n/a: no instrument has prices on {base_date} and in the window"]
        sub = block[:, covered]
        keep = np.all(np.isfinite(sub), axis=1)
        dropped = int(np.count_nonzero(~keep[:n_window]))
        sub = sub[keep]
        dates = H.dates[base_i:][keep]
        cum = sub / sub[0] - 1.0
        R = np.zeros((cum.shape[0], len(self.inputs.assets)))
        col = {a: j for j, a in enumerate(self.inputs.assets)}
        R[:, [col[a] for a, ok in zip(H.names, covered) if ok]] = cum
        pnl_pos = np.asarray(self.inputs.revalue(R, 1), dtype=float)
        mask = np.array([a is not None and a not in instruments_missing for a in self.pos_assets])
        path_all = pnl_pos[:, mask].sum(axis=1)
        n_win = int(np.count_nonzero(dates <= end))
        path = path_all[:n_win]
        nav = self.inputs.nav
        value = nav + path
        peak = np.maximum.accumulate(value)
        dd = peak - value
        t_dd = int(np.argmax(dd))
        max_dd = float(dd[t_dd])
        max_dd_pct = float(dd[t_dd] / peak[t_dd]) if peak[t_dd] > 0 else None
        trough = int(np.argmin(path))
        recover: int | None
        recovery_note = None
        if path[trough] >= 0:
            recover = 0
        else:
            after = np.flatnonzero(path_all[trough + 1:] >= 0.0)
            if after.size:
                recover = int(after[0]) + 1
            else:
                recover = None
                recovery_note = f"not recovered by {dates[-1]}"
        if instruments_missing:
            notes.append(f"replay leaves out {', '.join(instruments_missing)}: no prices on "
                         f"{base_date} or in the window")
        if VOL_FACTOR in missing:
            notes.append("replay holds implied vols at today's level: no VIX history in the window")
        if dropped:
            notes.append(f"replay drops {dropped} dates where a series had no price (never filled)")
        if not self.inputs.linear:
            notes.append("replay revalues options instantly at each date (today's expiry, no decay)")
        iso = np.datetime_as_string(dates[:n_win], unit="D").tolist()
        rep = {
            "window": [window[0].isoformat(), window[1].isoformat()],
            "base_date": str(base_date),
            "pnl": float(path[-1]), "pnl_pct": float(path[-1] / nav) if nav > 0 else None,
            "max_drawdown": max_dd, "max_drawdown_pct": max_dd_pct,
            "trough_date": str(dates[trough]),
            "days_to_recover": recover, "recovery_note": recovery_note,
            "path": [[d, v] for d, v in zip(iso, path.tolist())],
            "missing": instruments_missing,
        }
        return rep, notes


@dataclass(frozen=True)
class PriceHistory:
    """Full price history of the book's series (VIX included for an options book), NaN kept."""

    dates: np.ndarray  # (n,) datetime64[D]
    names: tuple[str, ...]
    values: np.ndarray  # (n, m)


def build_stress_model(inputs: "RiskInputs", market: "MarketData",
                       settings: StressSettings | None = None,
                       panel: FactorPanel | None = None) -> StressModel:
    """Estimate betas of the book's assets and prepare shocks and replay (the costly part, once)."""
    settings = settings or StressSettings()
    overrides = validate_overrides(settings.overrides)
    prices = market.prices
    if panel is None:
        panel = factor_panel(prices, settings.proxies, window=settings.beta_window, min_obs=settings.min_obs)
    proxy_of = {sym: f for f, sym in settings.proxies.items()}
    assets = [a for a in inputs.assets if a != VOL_FACTOR]
    regress = [a for a in assets if panel.has(a) and a not in proxy_of]
    if regress and panel.names:
        Y = panel.asset_returns(regress)
        betas = estimate_betas(Y, panel.returns, assets=regress, factors=panel.names,
                               window=settings.beta_window, prior_obs=settings.prior_obs,
                               min_obs=settings.min_obs)
    else:
        betas = estimate_betas(np.empty((len(prices.index), len(regress))),
                               np.empty((len(prices.index), len(panel.names))),
                               assets=regress, factors=panel.names, min_obs=settings.min_obs)
    asset_betas: dict[str, dict[str, float] | None] = {}
    reasons: dict[str, str] = {}
    notes: list[str] = []
    for a in assets:
        if a in proxy_of:
            # a proxy takes its factor's total return exactly: QQQ = equity + (tech - equity)
            f = proxy_of[a]
            asset_betas[a] = {g: 0.0 for g in FACTOR_NAMES}
            asset_betas[a][f] = 1.0
            if f in EXCESS_OVER_EQUITY:
                asset_betas[a]["equity"] = 1.0
            continue
        if not panel.has(a):
            reasons[a] = "no price history in the market data"
        elif not panel.names:
            reasons[a] = "no factor proxy in the market data"
        elif not betas.estimated(a):
            reasons[a] = betas.reasons[a]
        if a in reasons:
            asset_betas[a] = dict(overrides[a]) if a in overrides else None
            continue
        i = betas.assets.index(a)
        asset_betas[a] = {f: float(betas.beta[i, j]) for j, f in enumerate(betas.factors)}
        asset_betas[a].update(overrides.get(a, {}))
    unused = sorted(set(overrides) - set(assets))
    if unused:
        notes.append(f"beta overrides for {', '.join(unused)} unused: not in the book")
    vix0 = None
    history = None
    if VOL_FACTOR in inputs.assets:
        vix0 = float(inputs.asset_prices[-1, inputs.assets.index(VOL_FACTOR)])
    if settings.replay:
        history = price_history(market, inputs.assets)
    return StressModel(inputs=inputs, settings=settings, panel=panel, betas=betas,
                       asset_betas=asset_betas, asset_reasons=reasons, proxy_of=proxy_of,
                       pos_assets=position_assets(inputs), vix0=vix0, history=history, notes=notes)


def price_history(market: "MarketData", assets: Sequence[str]) -> PriceHistory:
    """The book's series over the whole market history (for replay)."""
    cols = [a for a in assets if a != VOL_FACTOR and a in market.prices.columns]
    frame = market.prices[cols]
    values = frame.to_numpy(dtype=float)
    names = list(cols)
    if VOL_FACTOR in assets:
        vix = vix_series(market)
        vix_values = (vix.reindex(frame.index).to_numpy(dtype=float) if vix is not None
                      else np.full(values.shape[0], np.nan))
        values = np.column_stack([values, vix_values])
        names.append(VOL_FACTOR)
    return PriceHistory(dates=frame.index.to_numpy(dtype="datetime64[D]"), names=tuple(names),
                        values=values)


def _beta_info(model: StressModel) -> dict[str, Any]:
    info: dict[str, Any] = {}
    b = model.betas
    for a, betas in model.asset_betas.items():
        entry: dict[str, Any] = {"proxy_for": model.proxy_of.get(a),
                                 "overridden": sorted(model.settings.overrides.get(a, {}))}
        if a in b.assets and b.estimated(a):
            i = b.assets.index(a)
            rows = b.rows[i]
            entry.update(n_obs=int(b.n_obs[i]), shrink_weight=float(b.shrink_weight[i]),
                         window=[str(model.panel.dates[rows[0]]), str(model.panel.dates[rows[-1]])])
        if a in model.asset_reasons:
            entry["not_estimated"] = model.asset_reasons[a]
        missing = {f: why for f, why in model.panel.unavailable.items()
                   if betas is None or f not in betas}
        if missing:
            entry["factors_not_estimated"] = missing
        info[a] = entry
    return info


def _betas_json(model: StressModel) -> dict[str, dict[str, float | None]]:
    out: dict[str, dict[str, float | None]] = {}
    b = model.betas
    for a, betas in model.asset_betas.items():
        if betas is None:
            out[a] = {}
            continue
        d: dict[str, float | None] = {f: betas[f] for f in FACTOR_NAMES if f in betas}
        if a in model.proxy_of:
            d["r2"] = 1.0
        elif a in b.assets and b.estimated(a):
            d["r2"] = float(b.r2[b.assets.index(a)])
        else:
            d["r2"] = None
        out[a] = d
    return out


def stress_section(inputs: "RiskInputs", market: "MarketData", *,
                   scenarios: Sequence[Scenario] | None = None, user_scenarios: Iterable[Any] = (),
                   settings: StressSettings | None = None, limit_pct: float | None = None,
                   model: StressModel | None = None) -> dict[str, Any]:
    """The ``stress`` snapshot section (keys documented in the README and the module docstring).

    ``scenarios`` defaults to the library plus ``user_scenarios`` (config ``[[scenarios]]``).
    ``limit_pct``: the stress-loss limit (fraction of NAV); ``limit.breached`` says whether the
    worst scenario's loss exceeds it.
    """
    model = model or build_stress_model(inputs, market, settings)
    if scenarios is None:
        scenarios = load_scenarios(user_scenarios)
    results = model.run(scenarios)
    scored = [r for r in results if r["total_pnl"] is not None]
    worst = min(scored, key=lambda r: r["total_pnl"]) if scored else None
    worst_loss_pct = None
    if worst is not None and worst["total_pct"] is not None:
        worst_loss_pct = max(-worst["total_pct"], 0.0)
    breached = None if limit_pct is None or worst_loss_pct is None else worst_loss_pct > limit_pct
    return {
        "scenarios": results,
        "worst": worst["id"] if worst else None,
        "worst_name": worst["name"] if worst else None,
        "betas": _betas_json(model),
        "beta_info": _beta_info(model),
        "factors_unavailable": dict(model.panel.unavailable),
        "limit": {"stress_loss_pct": limit_pct, "worst_loss_pct": worst_loss_pct, "breached": breached},
        "settings": {"beta_window": model.settings.beta_window, "prior_obs": model.settings.prior_obs,
                     "min_obs": model.settings.min_obs, "proxies": dict(model.settings.proxies),
                     "rates_duration": model.settings.rates_duration,
                     "rates_convexity": model.settings.rates_convexity,
                     "credit_duration": model.settings.credit_duration},
        "notes": list(model.notes),
    }


# --------------------------------------------------------------------------------------------
# What-if text
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ShockSpec:
    """A parsed what-if: factor shocks (scenario units) and symbol shocks (fractions)."""

    text: str
    factors: dict[str, float]
    symbols: dict[str, float]


_ALIASES = {"rates": "rates_bp", "credit": "credit_bp", "vix": "vix_points"}
_FACTOR_WORDS = {**{f: f for f in SHOCK_FACTORS}, **_ALIASES}
_TOKEN_RE = re.compile(r"^\s*(?P<name>[^=\s]+)\s*(?:=|\s)\s*(?P<value>\S.*?)\s*$")
_VALUE_RE = re.compile(r"^(?P<num>[+-]?(?:\d+(?:\.\d*)?|\.\d+))\s*(?P<unit>%|bp)?$", re.IGNORECASE)
_SYMBOL_RE = re.compile(r"^[A-Z0-9^][A-Z0-9.\-^=/]*$")


def parse_shock_text(text: str) -> ShockSpec:
    """Parse ``"SPY=-7%, VIX=+15, rates=+50bp"`` into a :class:`ShockSpec`.

    Comma-separated ``NAME=VALUE`` (or ``NAME VALUE``) items. NAME is a factor in lower case
    (``equity tech small_caps oil gold crypto`` take ``%``; ``rates``/``credit`` take ``bp``;
    ``vix`` takes index points as a plain number) or a symbol in upper case (a ``%`` move; ``VIX``
    means the VIX index in points). Any problem raises :class:`InputError` naming the character
    position and the item.
    """
    if not text or not text.strip():
        raise InputError("empty shock: write e.g. 'SPY=-7%,VIX=+15,rates=+50bp'")
    factors: dict[str, float] = {}
    symbols: dict[str, float] = {}
    pos = 0
    for raw in text.split(","):
        col = pos + (len(raw) - len(raw.lstrip())) + 1
        pos += len(raw) + 1
        item = raw.strip()

        def fail(what: str, _item: str = item, _col: int = col) -> InputError:
            return InputError(f"shock '{text}': at character {_col} ('{_item}'): {what}")

        if not item:
            raise fail("empty item (two commas in a row, or a trailing comma)")
        m = _TOKEN_RE.match(item)
        if m is None:
            raise fail("expected NAME=VALUE, e.g. SPY=-7%")
        name, value_text = m.group("name"), m.group("value")
        vm = _VALUE_RE.match(value_text.replace(" ", ""))
        if vm is None:
            raise fail(f"'{value_text}' is not a number with an optional % or bp")
        num, unit = float(vm.group("num")), (vm.group("unit") or "").lower()
        if name.upper() == "VIX" or name.lower() in ("vix", "vix_points"):
            key = "vix_points"
        elif name == name.lower() and name in _FACTOR_WORDS:
            key = _FACTOR_WORDS[name]
        elif name == name.lower():
            hint = suggest(name, list(_FACTOR_WORDS))
            raise fail(f"unknown factor '{name}'" + (f" (did you mean '{hint}'?)" if hint else "")
                       + "; factors: equity, tech, small_caps, rates, credit, oil, gold, crypto, vix; "
                         "symbols in upper case")
        elif _SYMBOL_RE.match(name) and any(c.isalpha() for c in name):
            key = name
        else:
            raise fail(f"'{name}' is neither a factor (lower case) nor a symbol (upper case)")
        if key in factors or key in symbols:
            raise fail(f"'{name}' is given twice")
        if key == "vix_points":
            if unit:
                raise fail("VIX takes index points as a plain number, e.g. VIX=+15")
            factors[key] = num
        elif key in ("rates_bp", "credit_bp"):
            if unit != "bp":
                raise fail(f"{name} takes basis points, e.g. {name}=+50bp")
            factors[key] = num
        else:
            if unit != "%":
                raise fail(f"a price move needs a percent sign, e.g. {name}={num:+g}%")
            value = num / 100.0
            if value < -1.0:
                raise fail(f"{num:g}% is a fall of more than 100%")
            (factors if key in SHOCK_FACTORS else symbols)[key] = value
    return ShockSpec(text=text, factors=factors, symbols=symbols)


def what_if(model: StressModel, shocks: "str | ShockSpec") -> dict[str, Any]:
    """P&L of a custom shock on the model's book (see :meth:`StressModel.what_if`)."""
    return model.what_if(shocks)
