"""The VaR/ES suite the pipeline calls: every method x confidence x horizon, per-position
attribution, and out-of-sample backtests of every method.

:func:`run_risk_suite` turns a :class:`~wsbrisk_tui.engine.inputs.RiskInputs` into a
:class:`RiskResults`. Rules:

* VaR/ES are positive losses in currency, ``*_pct`` the same divided by NAV;
* the estimation window is the last ``settings.window`` daily returns (all of them, flagged in
  ``details["window_requested"]``, when the history is shorter); h-day historical scenarios are
  the overlapping h-day P&L inside that window;
* a number that cannot be computed is ``VarResult.unavailable`` with the reason: bad input (NaN,
  a constant book, too few observations) for all methods at once, a method's own limits
  (Cornish-Fisher outside its domain, a GARCH fit on the stationarity bound, too few EVT
  exceedances, ...) for that method; an unexpected exception inside one method makes only that
  method n/a, with the exception as the reason, and never stops the others;
* every random draw comes from a child of the caller's generator (``rng.spawn``), one per method,
  so results do not depend on which methods run or on what the fit cache already holds;
* heavy fits (GARCH, Student t, EVT, normal factor, t copula, and the rolling backtest forecasts)
  are memoised in a :class:`~wsbrisk_tui.engine.volatility.FitCache` under keys holding a
  fingerprint of the data and every parameter, so a second refresh on the same data reuses them.

Backtests: 1-day forecasts for each of the last ``backtest_days`` days, each from the ``window``
days before it, against the realised P&L of that day. The P&L is HYPOTHETICAL: today's holdings
revalued on past returns (the book's actual past P&L would mix in trading). See
:data:`BACKTEST_SCHEMES` for how each method forecasts.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from wsbrisk_tui.engine.inputs import RiskInputs
from wsbrisk_tui.engine.model import BacktestResult, Contribution, VarResult

#: Every method, in the order the ladder shows them.
METHODS: tuple[str, ...] = (
    "parametric_normal", "cornish_fisher", "student_t", "garch_normal", "garch_t", "historical",
    "historical_weighted", "filtered_historical", "monte_carlo", "monte_carlo_t_copula", "evt_gpd",
)
#: Methods the ML service adds to the ladder (:mod:`wsbrisk_tui.engine.ml_service`), after the
#: suite's; ``methods`` may name them, the suite itself skips them.
ML_METHODS: tuple[str, ...] = ("regime_scaled", "ml_quantile")
#: Fewer observations than this and no distribution estimate is signed.
MIN_OBS = 30
#: Monte Carlo paths per forecast in the backtests (today's estimate uses ``mc_paths``).
BACKTEST_MC_PATHS = 2_000
#: Level of the bootstrap confidence intervals of historical VaR/ES.
CI_LEVEL = 0.90
HYPOTHETICAL = "hypothetical: today's holdings on past returns"
_NOT_FINITE = "the estimate is not a finite number"

#: How each method produces its daily backtest forecasts (copied into the result details).
BACKTEST_SCHEMES: dict[str, str] = {
    "parametric_normal": "re-estimated every day on the window before it",
    "cornish_fisher": "re-estimated every day; days outside the Cornish-Fisher domain excluded",
    "student_t": "maximum-likelihood t re-fitted every day (vectorised over the days)",
    "historical": "every day, the window's empirical quantile",
    "historical_weighted": "every day, age-weighted quantile of the window",
    "garch_normal": "GARCH re-estimated every backtest_refit_days days, variance filtered daily "
                    "with fixed parameters in between",
    "garch_t": "GARCH re-estimated every backtest_refit_days days, variance filtered daily "
               "with fixed parameters in between",
    "filtered_historical": "GARCH(normal QML) re-estimated every backtest_refit_days days; daily "
                           "filtered residuals scaled by the day's sigma",
    "monte_carlo": "linear book: the analytic limit of the normal Monte Carlo (normal VaR of the "
                   "window's mean and covariance, re-estimated daily); otherwise "
                   f"{BACKTEST_MC_PATHS} paths re-simulated every backtest_refit_days days and held",
    "monte_carlo_t_copula": f"copula and marginals re-fitted, {BACKTEST_MC_PATHS} paths "
                            "simulated every backtest_refit_days days, forecast held in between "
                            "(no forecast until the next refit when a refit fails)",
    "evt_gpd": "GPD tail re-fitted every backtest_refit_days days, forecast held in between",
}


@dataclass(frozen=True)
class RiskSettings:
    """What the suite computes (the config's ``[risk]`` table)."""

    confidences: tuple[float, ...] = (0.95, 0.99, 0.999)
    horizons: tuple[int, ...] = (1, 5, 10)
    window: int = 252
    methods: tuple[str, ...] = METHODS
    hs_lambda: float = 0.98
    mc_paths: int = 10_000
    bootstrap_replicates: int = 1_000
    backtest_days: int = 250
    garch_refit_days: int = 20
    #: GARCH/FHS estimation window: GARCH(1,1) needs a long sample to estimate persistence (on
    #: one year that contains a crash the fit often lands on alpha + beta = 1), so it reads up to
    #: this many days of history, and all of it when the history is shorter.
    garch_window: int = 1000
    #: Backtest refit schedule for the models that must be re-estimated (GARCH, FHS, t copula,
    #: EVT, non-linear Monte Carlo): every this many test days, the forecast filtered (GARCH) or
    #: held in between. 60 days keeps the cold backtest of the demo book near a second.
    backtest_refit_days: int = 60
    t_copula_regimes: int = 1
    t_copula_marginals: str = "empirical"

    def __post_init__(self) -> None:
        problems = []
        if not self.confidences or any(not 0.0 < c < 1.0 for c in self.confidences):
            problems.append(f"confidences must be in (0, 1), got {list(self.confidences)}")
        if not self.horizons or any(int(h) != h or h < 1 for h in self.horizons):
            problems.append(f"horizons must be positive whole days, got {list(self.horizons)}")
        unknown = [m for m in self.methods if m not in METHODS + ML_METHODS]
        if unknown:
            problems.append(f"unknown methods {unknown}; known: {', '.join(METHODS + ML_METHODS)}")
        if self.window < MIN_OBS:
            problems.append(f"window must be at least {MIN_OBS} days, got {self.window}")
        if not 0.0 < self.hs_lambda <= 1.0:
            problems.append(f"hs_lambda must be in (0, 1], got {self.hs_lambda}")
        if self.mc_paths < 100 or self.mc_paths % 2:
            problems.append(f"mc_paths must be an even number >= 100, got {self.mc_paths}")
        if self.bootstrap_replicates < 100:
            problems.append(f"bootstrap_replicates must be >= 100, got {self.bootstrap_replicates}")
        if self.garch_window < MIN_OBS:
            problems.append(f"garch_window must be at least {MIN_OBS} days, got {self.garch_window}")
        if self.backtest_days < 0 or self.garch_refit_days < 1 or self.backtest_refit_days < 1:
            problems.append("backtest_days must be >= 0, garch_refit_days and backtest_refit_days >= 1")
        if self.t_copula_regimes not in (1, 2):
            problems.append(f"t_copula_regimes must be 1 or 2, got {self.t_copula_regimes}")
        if self.t_copula_marginals not in ("empirical", "t"):
            problems.append(f"t_copula_marginals must be 'empirical' or 't', got "
                            f"{self.t_copula_marginals!r}")
        if problems:
            raise ValueError("; ".join(problems))


@dataclass(frozen=True)
class RiskResults:
    """The suite's output: VaR/ES per method x confidence x horizon (in :data:`METHODS` order,
    then horizon, then confidence), contributions, backtests, seconds per part, and notes."""

    var: tuple[VarResult, ...]
    contributions: tuple[Contribution, ...]
    backtest: tuple[BacktestResult, ...]
    timings: dict[str, float]
    notes: tuple[str, ...] = ()


# --------------------------------------------------------------------------------------------
# Context shared by the methods
# --------------------------------------------------------------------------------------------


@dataclass
class _Ctx:
    inputs: RiskInputs
    settings: RiskSettings
    cache: Any
    rngs: dict[str, np.random.Generator]
    window: int
    book: np.ndarray  # daily book P&L over the whole history, (n,)
    labels: np.ndarray  # dates of ``book``
    base_details: dict[str, Any]
    _book_h: dict[int, np.ndarray] = field(default_factory=dict)

    @property
    def confidences(self) -> tuple[float, ...]:
        return tuple(float(c) for c in self.settings.confidences)

    @property
    def horizons(self) -> tuple[int, ...]:
        return tuple(int(h) for h in self.settings.horizons)

    @property
    def book_window(self) -> np.ndarray:
        return self.book[-self.window:]

    def book_h(self, h: int) -> np.ndarray:
        """Overlapping h-day book P&L of today's holdings inside the window."""
        if h not in self._book_h:
            self._book_h[h] = self.book_window if h == 1 else \
                self.inputs.portfolio_pnl(h, self.window)
        return self._book_h[h]

    def returns_pct(self, values: np.ndarray) -> np.ndarray:
        return 100.0 * values / self.inputs.nav

    def key(self, *parts: Any) -> tuple[Any, ...]:
        from wsbrisk_tui.engine.volatility import fingerprint

        return tuple(fingerprint(p) if isinstance(p, np.ndarray) else p for p in parts)

    def cached(self, key: tuple[Any, ...], compute: Callable[[], Any]) -> Any:
        return self.cache.get_or_compute(key, compute)

    def results(self, method: str, h: int, var: np.ndarray, es: np.ndarray,
                details: dict[str, Any], nan_reason: str, *, ci: np.ndarray | None = None,
                es_ci: np.ndarray | None = None,
                per_conf: Sequence[dict[str, Any]] | None = None) -> list[VarResult]:
        """VarResults of one method and horizon from (c,) arrays in currency."""
        nav = self.inputs.nav
        out = []
        for j, c in enumerate(self.confidences):
            v, e = float(var[j]), float(es[j])
            det = {**self.base_details, **details, **(per_conf[j] if per_conf else {})}
            if not math.isfinite(v):
                out.append(VarResult.unavailable(method, c, h, nan_reason, **det))
                continue
            es_val: float | None = e if math.isfinite(e) else None
            if es_val is None:
                det["es_reason"] = det.get("es_reason", "expected shortfall is infinite for "
                                                          "this fit (tail index too heavy)")
            if es_ci is not None:
                det["es_ci"] = (float(es_ci[0, j]), float(es_ci[1, j]))
                det["ci_level"] = CI_LEVEL
            out.append(VarResult(method=method, confidence=c, horizon_days=h, var=v, es=es_val,
                                 var_pct=v / nav, es_pct=None if es_val is None else es_val / nav,
                                 ci=None if ci is None else (float(ci[0, j]), float(ci[1, j])),
                                 details=det))
        return out

    def unavailable(self, method: str, reason: str, horizons: Sequence[int] | None = None,
                    **details: Any) -> list[VarResult]:
        return [VarResult.unavailable(method, c, h, reason, **{**self.base_details, **details})
                for h in (horizons if horizons is not None else self.horizons)
                for c in self.confidences]


def _stream_id(rng: np.random.Generator) -> tuple[Any, ...]:
    """Identity of a fresh child generator's stream (its seed sequence): equal ids draw equal
    numbers, so results computed from them can be cached."""
    seq = rng.bit_generator.seed_seq
    return (repr(getattr(seq, "entropy", seq)), tuple(getattr(seq, "spawn_key", ())))


def _obs_details(n_obs: int, **extra: Any) -> dict[str, Any]:
    return {"n_obs": int(n_obs), **extra}


# --------------------------------------------------------------------------------------------
# Today's estimates, one function per method
# --------------------------------------------------------------------------------------------


def _parametric_normal(ctx: _Ctx) -> list[VarResult]:
    from wsbrisk_tui.engine.var import parametric_normal

    x = ctx.book_window
    det = _obs_details(x.size, mean=float(x.mean()), sd=float(x.std(ddof=1)),
                       horizon_scaling="mean x h, sd x sqrt(h)")
    out = []
    for h in ctx.horizons:
        var, es = parametric_normal(x, ctx.confidences, h)
        out += ctx.results("parametric_normal", h, var[0], es[0], det, _NOT_FINITE)
    return out


def _cornish_fisher(ctx: _Ctx) -> list[VarResult]:
    from wsbrisk_tui.engine.var import cornish_fisher, cornish_fisher_monotone, sample_moments

    x = ctx.book_window
    mean, sd, skew, kurt = (float(v[0]) for v in sample_moments(x))
    det = _obs_details(x.size, mean=mean, sd=sd, skew=skew, excess_kurtosis=kurt,
                       moment_estimators="bias-corrected G1 (skew) and G2 (excess kurtosis)",
                       horizon_scaling="mean x h, sd x sqrt(h), daily skew and kurtosis kept")
    if not bool(cornish_fisher_monotone(np.array([skew]), np.array([kurt]))[0]):
        return ctx.unavailable(
            "cornish_fisher", f"Cornish-Fisher expansion is not monotone for skew {skew:.2f} and "
            f"excess kurtosis {kurt:.2f} (outside its domain of validity, Maillard 2012): its "
            "quantile is not a distribution's", **det)
    out = []
    for h in ctx.horizons:
        var, es = cornish_fisher(x, ctx.confidences, h)
        out += ctx.results("cornish_fisher", h, var[0], es[0], det, _NOT_FINITE)
    return out


def _student_t(ctx: _Ctx) -> list[VarResult]:
    from wsbrisk_tui.engine.var import (
        SCALE_COLLAPSE,
        T_DF_BOUNDS,
        fit_student_t,
        student_t_var_es,
    )

    x = ctx.book_window
    fit = ctx.cached(ctx.key("student_t", x), lambda: fit_student_t(x))
    if not bool(fit.converged[0]):
        if float(fit.scale[0]) <= SCALE_COLLAPSE * float(x.std(ddof=1)):
            reason = ("the t likelihood is unbounded on this window: the scale collapses onto "
                      "repeated identical P&L values (stale prices?)")
        else:
            reason = f"maximum-likelihood t fit did not converge in {fit.iterations} iterations"
        return ctx.unavailable("student_t", reason, **_obs_details(x.size))
    df = float(fit.df[0])
    det = _obs_details(x.size, df=df, loc=float(fit.loc[0]), scale=float(fit.scale[0]),
                       variance=float(fit.variance[0]), loglik=float(fit.loglik[0]),
                       fit="maximum likelihood (location, scale, df)",
                       horizon_scaling="loc x h, scale x sqrt(h), df kept")
    if df >= T_DF_BOUNDS[1] * (1 - 1e-9):
        det["df_note"] = "df at the upper bound: the sample is indistinguishable from normal"
    if df <= 1.0:
        det["es_reason"] = f"fitted df {df:.3g} <= 1: the t has no mean, ES is infinite"
    out = []
    for h in ctx.horizons:
        var, es = student_t_var_es(fit, ctx.confidences, h)
        out += ctx.results("student_t", h, var[0], es[0], det, _NOT_FINITE)
    return out


def _garch_window(ctx: _Ctx, n_test: int = 0) -> int:
    """GARCH estimation window: ``garch_window`` days, or all the history before the test days."""
    return max(1, min(ctx.settings.garch_window, ctx.book.size - n_test))


def _garch_fit(ctx: _Ctx, dist: str) -> Any:
    w = _garch_window(ctx)
    x = ctx.returns_pct(ctx.book[-w:])
    labels = ctx.labels[-w:]
    return ctx.cache.garch(x, dist, labels=labels, series="book")


def _garch(ctx: _Ctx, dist: str) -> list[VarResult]:
    from wsbrisk_tui.engine.volatility import garch_var_es

    method = "garch_normal" if dist == "normal" else "garch_t"
    fit = _garch_fit(ctx, dist)
    det = _obs_details(_garch_window(ctx), **fit.details(),
                       horizon_scaling="sum of the GARCH variance forecasts over h days")
    if not fit.converged:
        return ctx.unavailable(method, str(fit.reason), **det)
    scale = ctx.inputs.nav / 100.0
    by_h = garch_var_es(fit, ctx.confidences, ctx.horizons)
    out = []
    for h in ctx.horizons:
        var_pct, es_pct = by_h[h]
        out += ctx.results(method, h, np.asarray(var_pct) * scale, np.asarray(es_pct) * scale,
                           det, _NOT_FINITE)
    return out


def _filtered_historical(ctx: _Ctx) -> list[VarResult]:
    from wsbrisk_tui.engine.volatility import filtered_historical

    fit = _garch_fit(ctx, "normal")
    det = _obs_details(_garch_window(ctx), **fit.details(), garch_estimation="normal quasi-maximum likelihood",
                       paths=ctx.settings.mc_paths,
                       horizon_scaling="1 day exact; h days: bootstrap paths through the GARCH "
                                       "recursion")
    if not fit.converged:
        return ctx.unavailable("filtered_historical", str(fit.reason), **det)
    scale = ctx.inputs.nav / 100.0
    by_h = filtered_historical(fit, ctx.confidences, ctx.horizons,
                               rng=ctx.rngs["filtered_historical"], n_sims=ctx.settings.mc_paths)
    out = []
    for h in ctx.horizons:
        var_pct, es_pct = by_h[h]
        out += ctx.results("filtered_historical", h, np.asarray(var_pct) * scale,
                           np.asarray(es_pct) * scale, det, _NOT_FINITE)
    return out


def _historical(ctx: _Ctx) -> list[VarResult]:
    from wsbrisk_tui.engine.var import historical, historical_bootstrap, percentile_interval

    rng = ctx.rngs["historical"]
    usable = [h for h in ctx.horizons if ctx.book_h(h).size >= MIN_OBS]
    replicates = ctx.settings.bootstrap_replicates

    def boot() -> dict[int, tuple[np.ndarray, np.ndarray]]:
        return {h: historical_bootstrap(ctx.book_h(h), ctx.confidences, rng, replicates)
                for h in usable}

    # deterministic given the data and the generator's seed, so cacheable like a fit
    boots = ctx.cached(ctx.key("hs_bootstrap", ctx.confidences, replicates, _stream_id(rng),
                               *(ctx.book_h(h) for h in usable)), boot)
    out = []
    for h in ctx.horizons:
        x = ctx.book_h(h)
        if h not in boots:
            out += ctx.unavailable("historical", f"{x.size} overlapping {h}-day scenarios; needs "
                                                 f"at least {MIN_OBS}", [h])
            continue
        var, es = historical(x, ctx.confidences)
        boot_var, boot_es = boots[h]
        det = _obs_details(x.size, scenarios=f"overlapping {h}-day P&L" if h > 1 else "daily P&L",
                           bootstrap_replicates=ctx.settings.bootstrap_replicates,
                           ci="percentile bootstrap (i.i.d.; too narrow for overlapping h-day "
                              "scenarios)" if h > 1 else "percentile bootstrap (i.i.d.)")
        out += ctx.results("historical", h, var[0], es[0], det, _NOT_FINITE,
                           ci=percentile_interval(boot_var, CI_LEVEL),
                           es_ci=percentile_interval(boot_es, CI_LEVEL))
    return out


def _historical_weighted(ctx: _Ctx) -> list[VarResult]:
    from wsbrisk_tui.engine.var import brw_weights, historical_weighted

    lam = ctx.settings.hs_lambda
    out = []
    for h in ctx.horizons:
        x = ctx.book_h(h)
        if x.size < MIN_OBS:
            out += ctx.unavailable("historical_weighted", f"{x.size} overlapping {h}-day "
                                   f"scenarios; needs at least {MIN_OBS}", [h])
            continue
        w = brw_weights(x.size, lam)
        var, es = historical_weighted(x, ctx.confidences, lam)
        det = _obs_details(x.size, lam=lam, effective_obs=float(1.0 / np.sum(w * w)),
                           weights="Boudoukh-Richardson-Whitelaw age weights, newest age 0")
        out += ctx.results("historical_weighted", h, var[0], es[0], det, _NOT_FINITE)
    return out


def _mc_results(ctx: _Ctx, method: str, sims: list[dict[str, Any]]) -> list[VarResult]:
    out = []
    for sim in sims:
        per_conf = [{"std_error": float(sim["std_error"][j]),
                     "es_std_error": float(sim["es_std_error"][j])}
                    for j in range(len(ctx.confidences))]
        out += ctx.results(method, sim["horizon_days"], sim["var"], sim["es"],
                           {**_obs_details(ctx.window), **sim["details"]}, _NOT_FINITE,
                           per_conf=per_conf)
    return out


def _monte_carlo(ctx: _Ctx) -> list[VarResult]:
    from wsbrisk_tui.engine.montecarlo import fit_normal, monte_carlo_normal

    r = ctx.inputs.asset_returns[-ctx.window:]
    fit = ctx.cached(ctx.key("normal_fit", r), lambda: fit_normal(r))
    sims = monte_carlo_normal(ctx.inputs, ctx.confidences, ctx.horizons, ctx.settings.mc_paths,
                              rng=ctx.rngs["monte_carlo"], window=ctx.window, fit=fit)
    return _mc_results(ctx, "monte_carlo", sims)


def _copula_model(ctx: _Ctx, returns: np.ndarray, book: np.ndarray) -> Any:
    from wsbrisk_tui.engine.montecarlo import fit_copula_model

    s = ctx.settings
    return ctx.cached(ctx.key("t_copula", returns, book, s.t_copula_regimes, s.t_copula_marginals),
                      lambda: fit_copula_model(returns, book, regimes=s.t_copula_regimes,
                                               marginals=s.t_copula_marginals))  # type: ignore[arg-type]


def _monte_carlo_t_copula(ctx: _Ctx) -> list[VarResult]:
    from wsbrisk_tui.engine.montecarlo import monte_carlo_t_copula, simulate_copula_uniforms

    s = ctx.settings
    r, book = ctx.inputs.asset_returns[-ctx.window:], ctx.book_window
    model = _copula_model(ctx, r, book)
    rng = ctx.rngs["monte_carlo_t_copula"]
    # The uniforms depend only on the copula and the generator's seed, so they are kept with the
    # fit; they are large (paths x assets), so ONE slot holds them rather than one cache entry per
    # refresh.
    key = ctx.key("t_copula_uniforms", r, book, s.t_copula_regimes, s.t_copula_marginals,
                  s.mc_paths, _stream_id(rng))
    slot = ctx.cached(("t_copula_uniforms_slot",), dict)
    if slot.get("key") != key:
        slot["uniforms"] = simulate_copula_uniforms(model, s.mc_paths, rng)
        slot["key"] = key
    uniforms = slot["uniforms"]
    sims = monte_carlo_t_copula(ctx.inputs, ctx.confidences, ctx.horizons, s.mc_paths,
                                rng=rng, window=ctx.window, model=model, uniforms=uniforms)
    return _mc_results(ctx, "monte_carlo_t_copula", sims)


def _evt_gpd(ctx: _Ctx) -> list[VarResult]:
    from wsbrisk_tui.engine.evt import MIN_OBS as EVT_MIN_OBS
    from wsbrisk_tui.engine.evt import GpdTail, fit_gpd_tails, gpd_var_es

    x = ctx.book_window
    if x.size < EVT_MIN_OBS:
        return ctx.unavailable("evt_gpd", f"{x.size} observations; the GPD tail needs at least "
                                          f"{EVT_MIN_OBS} (30 exceedances over the 0.85 quantile)")
    tail = ctx.cached(ctx.key("evt", x), lambda: fit_gpd_tails(-x[None, :])[0])
    if not isinstance(tail, GpdTail):
        return ctx.unavailable("evt_gpd", str(tail), **_obs_details(x.size))
    var1, es1 = gpd_var_es(tail, ctx.confidences)
    det = {**tail.details(), "horizon_scaling": "1-day VaR and ES x sqrt(h) (approximation: the "
                                                "tail index is not time-scale invariant)"}
    if tail.xi >= 1.0:
        det["es_reason"] = f"tail index xi = {tail.xi:.2f} >= 1: the loss has no mean, ES is infinite"
    reason = (f"confidence inside the body: the tail fit starts at the {tail.level} quantile "
              f"({tail.n_exceed} exceedances)")
    out = []
    for h in ctx.horizons:
        out += ctx.results("evt_gpd", h, var1 * math.sqrt(h), es1 * math.sqrt(h), det, reason)
    return out


_TODAY: dict[str, Callable[[_Ctx], list[VarResult]]] = {
    "parametric_normal": _parametric_normal,
    "cornish_fisher": _cornish_fisher,
    "student_t": _student_t,
    "garch_normal": lambda ctx: _garch(ctx, "normal"),
    "garch_t": lambda ctx: _garch(ctx, "t"),
    "historical": _historical,
    "historical_weighted": _historical_weighted,
    "filtered_historical": _filtered_historical,
    "monte_carlo": _monte_carlo,
    "monte_carlo_t_copula": _monte_carlo_t_copula,
    "evt_gpd": _evt_gpd,
}


# --------------------------------------------------------------------------------------------
# Backtest forecasts, one function per method: (N, c) 1-day VaR in currency, details
# --------------------------------------------------------------------------------------------


@dataclass
class _Backtest:
    windows: np.ndarray  # (N, window) book P&L before each test day
    realised: np.ndarray  # (N,)
    start: int  # index in ctx.book of the first test day
    refit_idx: np.ndarray  # test-day indices where scheduled refits happen


def _held(n: int, refit_idx: np.ndarray, forecasts: np.ndarray) -> np.ndarray:
    """Repeat the forecast of each refit day until the next refit: (R, c) -> (n, c)."""
    rows = np.searchsorted(refit_idx, np.arange(n), side="right") - 1
    return forecasts[rows]


def _bt_parametric_normal(ctx: _Ctx, bt: _Backtest) -> tuple[np.ndarray, dict[str, Any]]:
    from wsbrisk_tui.engine.var import parametric_normal

    return parametric_normal(bt.windows, ctx.confidences)[0], {}


def _bt_cornish_fisher(ctx: _Ctx, bt: _Backtest) -> tuple[np.ndarray, dict[str, Any]]:
    from wsbrisk_tui.engine.var import cornish_fisher

    var = cornish_fisher(bt.windows, ctx.confidences)[0]
    return var, {"days_outside_domain": int(np.sum(~np.isfinite(var[:, 0])))}


def _bt_student_t(ctx: _Ctx, bt: _Backtest) -> tuple[np.ndarray, dict[str, Any]]:
    from wsbrisk_tui.engine.var import fit_student_t, student_t_var_es

    fit = fit_student_t(bt.windows)
    var = student_t_var_es(fit, ctx.confidences)[0]
    var[~fit.converged] = np.nan
    return var, {"fits_not_converged": int(np.sum(~fit.converged))}


def _bt_historical(ctx: _Ctx, bt: _Backtest) -> tuple[np.ndarray, dict[str, Any]]:
    from wsbrisk_tui.engine.var import historical

    return historical(bt.windows, ctx.confidences)[0], {}


def _bt_historical_weighted(ctx: _Ctx, bt: _Backtest) -> tuple[np.ndarray, dict[str, Any]]:
    from wsbrisk_tui.engine.var import historical_weighted

    lam = ctx.settings.hs_lambda
    return historical_weighted(bt.windows, ctx.confidences, lam)[0], {"lam": lam}


def _rolling_garch(ctx: _Ctx, bt: _Backtest, dist: str) -> Any:
    from wsbrisk_tui.engine.volatility import garch_rolling_forecasts

    n_test = bt.realised.size
    w = _garch_window(ctx, n_test)
    r = ctx.returns_pct(ctx.book[-(n_test + w):])
    refit = ctx.settings.backtest_refit_days
    key = ctx.key("garch_rolling", dist, w, n_test, refit, ctx.confidences, r)
    return ctx.cached(key, lambda: garch_rolling_forecasts(r, w, n_test, ctx.confidences, dist, refit))


def _bt_garch(ctx: _Ctx, bt: _Backtest, dist: str, fhs: bool = False
              ) -> tuple[np.ndarray, dict[str, Any]]:
    roll = _rolling_garch(ctx, bt, dist)
    var_pct = roll.fhs_var_pct if fhs else roll.var_pct
    det: dict[str, Any] = {"refits": len(roll.refit_days)}
    if roll.failures:
        det["fit_failures"] = list(roll.failures)
    return np.asarray(var_pct) * ctx.inputs.nav / 100.0, det


def _asset_window(ctx: _Ctx, bt: _Backtest, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Asset returns and book P&L of the window before test day k."""
    t = bt.start + k
    w = ctx.settings.window
    return ctx.inputs.asset_returns[t - w:t], ctx.book[t - w:t]


def _bt_monte_carlo(ctx: _Ctx, bt: _Backtest) -> tuple[np.ndarray, dict[str, Any]]:
    from wsbrisk_tui.engine.montecarlo import book_pnl, fit_normal, simulated_var_es
    from wsbrisk_tui.engine.var import parametric_normal

    if ctx.inputs.linear:
        # P&L = e'R with R ~ N(mu, Sigma) is N(e'mu, e'Sigma e): the window's book P&L has exactly
        # that mean and (ddof = 1) variance, so the normal VaR of the book window is the limit.
        return parametric_normal(bt.windows, ctx.confidences)[0], {
            "forecast": "analytic limit of the normal Monte Carlo (linear book)"}

    rng = ctx.rngs["backtest:monte_carlo"]
    forecasts = []
    for k in bt.refit_idx:
        fit = fit_normal(_asset_window(ctx, bt, int(k))[0])
        z = rng.standard_normal((BACKTEST_MC_PATHS // 2, fit.mean.size)) @ fit.factor.T
        pnl = book_pnl(ctx.inputs, fit.mean + np.concatenate([z, -z]), 1)
        forecasts.append(simulated_var_es(pnl, ctx.confidences)["var"])
    return _held(bt.realised.size, bt.refit_idx, np.array(forecasts)), {"paths": BACKTEST_MC_PATHS}


def _bt_monte_carlo_t_copula(ctx: _Ctx, bt: _Backtest) -> tuple[np.ndarray, dict[str, Any]]:
    from wsbrisk_tui.engine.montecarlo import fit_copula_model, monte_carlo_t_copula

    s = ctx.settings
    rng = ctx.rngs["backtest:monte_carlo_t_copula"]
    forecasts = []
    failures = []
    for k in bt.refit_idx:
        r, book = _asset_window(ctx, bt, int(k))
        try:
            model = fit_copula_model(r, book, regimes=s.t_copula_regimes,
                                     marginals=s.t_copula_marginals)  # type: ignore[arg-type]
        except ValueError as exc:  # this refit's window cannot carry the model: no forecast
            failures.append(f"test day {int(k)}: {exc}")
            forecasts.append(np.full(len(ctx.confidences), np.nan))
            continue
        sim = monte_carlo_t_copula(ctx.inputs, ctx.confidences, (1,), BACKTEST_MC_PATHS,
                                   rng=rng, model=model)[0]
        forecasts.append(sim["var"])
    extra: dict[str, Any] = {"paths": BACKTEST_MC_PATHS}
    if failures:
        extra["fit_failures"] = failures
    return _held(bt.realised.size, bt.refit_idx, np.array(forecasts)), extra


def _bt_evt_gpd(ctx: _Ctx, bt: _Backtest) -> tuple[np.ndarray, dict[str, Any]]:
    from wsbrisk_tui.engine.evt import evt_gpd

    var = evt_gpd(bt.windows[bt.refit_idx], ctx.confidences)[0]
    return _held(bt.realised.size, bt.refit_idx, var), {}


_BACKTEST: dict[str, Callable[[_Ctx, _Backtest], tuple[np.ndarray, dict[str, Any]]]] = {
    "parametric_normal": _bt_parametric_normal,
    "cornish_fisher": _bt_cornish_fisher,
    "student_t": _bt_student_t,
    "garch_normal": lambda ctx, bt: _bt_garch(ctx, bt, "normal"),
    "garch_t": lambda ctx, bt: _bt_garch(ctx, bt, "t"),
    "historical": _bt_historical,
    "historical_weighted": _bt_historical_weighted,
    "filtered_historical": lambda ctx, bt: _bt_garch(ctx, bt, "normal", fhs=True),
    "monte_carlo": _bt_monte_carlo,
    "monte_carlo_t_copula": _bt_monte_carlo_t_copula,
    "evt_gpd": _bt_evt_gpd,
}


# --------------------------------------------------------------------------------------------
# Contributions
# --------------------------------------------------------------------------------------------


def _contributions(ctx: _Ctx) -> list[Contribution]:
    from wsbrisk_tui.engine.attribution import (
        euler_parametric,
        historical_components,
        incremental_var,
        marginal_per_value,
    )
    from wsbrisk_tui.engine.var import historical, parametric_normal

    pos = ctx.inputs.position_pnl(1, ctx.window)
    values = np.asarray(ctx.inputs.values, dtype=float)
    symbols = ctx.inputs.positions
    out: list[Contribution] = []
    for method in ("parametric_normal", "historical"):
        if method not in ctx.settings.methods:
            continue
        fn = parametric_normal if method == "parametric_normal" else historical
        for c in ctx.confidences:
            if method == "parametric_normal":
                marginal, component = euler_parametric(pos, c, values)
            else:
                component = historical_components(pos, c)[0]
                marginal = marginal_per_value(component, values)
            incremental = incremental_var(pos, c, fn)
            for i, sym in enumerate(symbols):
                out.append(Contribution(symbol=sym, method=method, confidence=c,
                                        marginal=_num(marginal[i]), component=_num(component[i]),
                                        incremental=_num(incremental[i])))
    return out


def _num(x: float) -> float | None:
    x = float(x)
    return x if math.isfinite(x) else None


# --------------------------------------------------------------------------------------------
# The suite
# --------------------------------------------------------------------------------------------


def _input_problem(inputs: RiskInputs, settings: RiskSettings, book: np.ndarray) -> str | None:
    """Why no method can run on these inputs, or None."""
    r = np.asarray(inputs.asset_returns, dtype=float)
    dates = np.asarray(inputs.dates)
    if r.ndim != 2 or r.shape[1] != len(inputs.assets):
        return f"asset returns have shape {r.shape}, expected (days, {len(inputs.assets)})"
    bad = np.argwhere(~np.isfinite(r))
    if bad.size:
        day, col = (int(v) for v in bad[0])
        when = str(dates[day]) if day < dates.size else f"row {day}"
        return (f"asset returns are not finite for {inputs.assets[col]} on {when} "
                f"({len(bad)} values): the history has a gap or a bad price; align and drop gaps "
                "(they are never filled)")
    values = np.asarray(inputs.values, dtype=float)
    if values.size == 0:
        return "the book has no positions"
    if not np.all(np.isfinite(values)):
        sym = inputs.positions[int(np.flatnonzero(~np.isfinite(values))[0])]
        return f"market value of {sym} is not finite"
    if not (math.isfinite(inputs.nav) and inputs.nav > 0.0):
        return f"NAV is {inputs.nav}: VaR as a fraction of NAV is undefined"
    if not np.all(np.isfinite(book)):
        day = int(np.flatnonzero(~np.isfinite(book))[0])
        when = str(dates[day]) if day < dates.size else f"row {day}"
        return f"revalued book P&L is not finite on {when}: the revaluation failed"
    n = book.size
    if n < MIN_OBS:
        return f"only {n} daily returns; VaR needs at least {MIN_OBS}"
    window = book[-min(settings.window, n):]
    if float(np.ptp(window)) == 0.0:
        return (f"the book's P&L is constant over the last {window.size} days (sd = 0): "
                "no distribution to estimate")
    return None


def _isolated(fn: Callable[[], Any], on_error: Callable[[str], Any]) -> Any:
    """Run one method; an exception becomes its n/a reason (and stops nothing else)."""
    try:
        return fn()
    except ValueError as exc:  # the methods' own "cannot compute" messages
        return on_error(str(exc))
    except Exception as exc:  # noqa: BLE001 - reported as this method's reason, not hidden
        return on_error(f"internal error in this method: {type(exc).__name__}: {exc}")


def run_risk_suite(inputs: RiskInputs, settings: RiskSettings, rng: np.random.Generator,
                   cache: Any | None = None) -> RiskResults:
    """VaR/ES of every method in ``settings.methods`` for every confidence and horizon,
    contributions (parametric normal and historical, 1 day), and backtests; see the module doc.

    ``cache``: a :class:`~wsbrisk_tui.engine.volatility.FitCache` kept across refreshes (None: a
    fresh one for this call, so nothing is reused).
    """
    from wsbrisk_tui.engine.volatility import FitCache

    t_total = time.perf_counter()
    if cache is None:
        cache = FitCache(refit_days=settings.garch_refit_days)
    children = rng.spawn(len(METHODS) + 2)
    rngs = dict(zip(METHODS + ("backtest:monte_carlo", "backtest:monte_carlo_t_copula"), children))
    timings: dict[str, float] = {}
    notes: list[str] = []
    methods = [m for m in METHODS if m in settings.methods]

    book = np.asarray(inputs.portfolio_pnl(1), dtype=float)
    problem = _input_problem(inputs, settings, book)
    if problem is not None:
        var = tuple(VarResult.unavailable(m, float(c), int(h), problem)
                    for m in methods for h in settings.horizons for c in settings.confidences)
        bts = tuple(BacktestResult(m, float(c), 0, None, status="n/a", reason=problem)
                    for m in methods for c in settings.confidences)
        timings["total"] = time.perf_counter() - t_total
        return RiskResults(var, (), bts, timings, (problem,))

    window = min(settings.window, book.size)
    labels = np.asarray(inputs.dates)
    if labels.shape[0] != book.size:
        labels = np.arange(book.size)
    base: dict[str, Any] = {"window": window,
                            "data_end": str(labels[-1]) if labels.size else None}
    if window < settings.window:
        base["window_requested"] = settings.window
        notes.append(f"history has {book.size} daily returns, fewer than the {settings.window}-day "
                     "window: every estimate uses all of them")
    ctx = _Ctx(inputs, settings, cache, rngs, window, book, labels, base)

    results: list[VarResult] = []
    for m in methods:
        t0 = time.perf_counter()
        results += _isolated(lambda m=m: _TODAY[m](ctx),
                             lambda reason, m=m: ctx.unavailable(m, reason))
        timings[m] = time.perf_counter() - t0

    t0 = time.perf_counter()
    contributions = _isolated(lambda: _contributions(ctx), lambda reason: notes.append(
        f"contributions n/a: {reason}") or [])
    timings["contributions"] = time.perf_counter() - t0

    backtests = _run_backtests(ctx, methods, timings)
    timings["total"] = time.perf_counter() - t_total
    return RiskResults(tuple(results), tuple(contributions), tuple(backtests), timings, tuple(notes))


def _run_backtests(ctx: _Ctx, methods: Sequence[str], timings: dict[str, float]
                   ) -> list[BacktestResult]:
    from wsbrisk_tui.engine.backtest import MIN_BACKTEST_OBS, evaluate_backtest

    s = ctx.settings
    n_test = min(s.backtest_days, ctx.book.size - s.window)
    base = {"window": s.window, "realised": HYPOTHETICAL, "horizon_days": 1}

    def unavailable(m: str, reason: str) -> list[BacktestResult]:
        return [BacktestResult(m, c, 0, None, status="n/a", reason=reason,
                               details={**base, "scheme": BACKTEST_SCHEMES[m]})
                for c in ctx.confidences]

    if n_test < MIN_BACKTEST_OBS:
        reason = (f"{ctx.book.size} daily returns: the backtest needs the {s.window}-day window "
                  f"plus at least {MIN_BACKTEST_OBS} test days")
        return [r for m in methods for r in unavailable(m, reason)]
    from numpy.lib.stride_tricks import sliding_window_view

    windows = sliding_window_view(ctx.book[:-1], s.window)[-n_test:]
    bt = _Backtest(windows=windows, realised=ctx.book[-n_test:], start=ctx.book.size - n_test,
                   refit_idx=np.arange(0, n_test, s.backtest_refit_days))
    base["test_days"] = n_test
    base["refit_every"] = s.backtest_refit_days
    # Everything a forecast can depend on: the settings, the data before and in the test period,
    # today's holdings and the simulation streams. Equal keys give equal results, so the finished
    # BacktestResults are cached (small: one per confidence).
    start = max(0, bt.start - max(s.window, s.garch_window))
    data_key = ctx.key(s.window, s.garch_window, n_test, s.backtest_refit_days, ctx.confidences, s.hs_lambda,
                       s.t_copula_regimes, s.t_copula_marginals, ctx.book[start:],
                       ctx.inputs.asset_returns[start:], np.asarray(ctx.inputs.values, dtype=float),
                       ctx.inputs.linear)
    out: list[BacktestResult] = []
    for m in methods:
        t0 = time.perf_counter()

        def run(m: str = m) -> list[BacktestResult]:
            var, extra = _BACKTEST[m](ctx, bt)
            det = {**base, "scheme": BACKTEST_SCHEMES[m], **extra}
            return [evaluate_backtest(m, c, var[:, j], bt.realised, det)
                    for j, c in enumerate(ctx.confidences)]

        stream = f"backtest:{m}"
        key = ("backtest", m) + data_key + (
            (_stream_id(ctx.rngs[stream]),) if stream in ctx.rngs else ())
        out += _isolated(lambda m=m, key=key: ctx.cached(key, lambda: run(m)),
                         lambda reason, m=m: unavailable(m, reason))
        timings[f"backtest:{m}"] = time.perf_counter() - t0
    return out
