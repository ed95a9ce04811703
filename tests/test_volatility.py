"""GARCH(1,1) fits, GARCH VaR/ES, filtered historical simulation, rolling forecasts, FitCache.

All data here is SYNTHETIC, simulated from a known model with a seeded Generator.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate, stats

from wsbrisk_tui.engine.volatility import (
    MIN_GARCH_OBS,
    FitCache,
    filtered_historical,
    fingerprint,
    fit_garch,
    garch_rolling_forecasts,
    garch_rolling_var,
    garch_var_es,
    refilter_garch,
    variance_path,
)

MU, OMEGA, ALPHA, BETA = 0.03, 0.05, 0.08, 0.90


def simulate_garch(n: int, seed: int, mu: float = MU, omega: float = OMEGA, alpha: float = ALPHA,
                   beta: float = BETA, nu: float | None = None, burn: int = 500) -> np.ndarray:
    """r_t = mu + sigma_t z_t, GARCH(1,1) variance; z standard normal or unit-variance t."""
    rng = np.random.default_rng(seed)
    total = n + burn
    if nu is None:
        z = rng.standard_normal(total)
    else:
        z = rng.standard_t(nu, total) * math.sqrt((nu - 2) / nu)
    s2 = omega / (1 - alpha - beta) if alpha + beta < 1 else omega * 100
    r = np.empty(total)
    for t in range(total):
        eps = math.sqrt(s2) * z[t]
        r[t] = mu + eps
        s2 = omega + alpha * eps * eps + beta * s2
        if not math.isfinite(s2) or s2 > 1e12:  # explosive process: stop growing, keep the shape
            s2 = 1e12
    return r[burn:]


@pytest.fixture(scope="module")
def garch_data() -> np.ndarray:
    return simulate_garch(3000, seed=20240611)


@pytest.fixture(scope="module")
def fit_normal(garch_data):
    return fit_garch(garch_data, "normal")


@pytest.fixture(scope="module")
def arch_normal(garch_data):
    from arch import arch_model

    return arch_model(garch_data, mean="Constant", vol="GARCH", p=1, q=1, dist="normal",
                      rescale=False).fit(disp="off", show_warning=False)


# ----------------------------------------------------------------------------------- fitting


def test_fit_recovers_known_garch_parameters(fit_normal):
    f = fit_normal
    assert f.converged and f.reason is None and f.nobs == 3000 and f.nu is None
    # Tolerances ~3 asymptotic standard errors at n=3000 (alpha se ~0.01, beta ~0.013,
    # omega ~0.012, mu ~0.02; persistence is estimated much more tightly than its parts).
    assert f.alpha == pytest.approx(ALPHA, abs=0.03)
    assert f.beta == pytest.approx(BETA, abs=0.04)
    assert f.omega == pytest.approx(OMEGA, abs=0.035)
    assert f.mu == pytest.approx(MU, abs=0.06)
    assert f.persistence == pytest.approx(ALPHA + BETA, abs=0.015)


def test_fit_t_recovers_degrees_of_freedom():
    r = simulate_garch(3000, seed=7, nu=6.0)
    f = fit_garch(r, "t")
    assert f.converged and f.dist == "t"
    assert 4.0 < f.nu < 9.0  # nu=6; se at n=3000 is ~0.7
    assert f.persistence == pytest.approx(ALPHA + BETA, abs=0.02)


def test_fit_state_matches_arch(fit_normal, arch_normal, garch_data):
    p = arch_normal.params
    assert fit_normal.omega == p["omega"] and fit_normal.beta == p["beta[1]"]
    assert fit_normal.last_variance == pytest.approx(arch_normal.conditional_volatility[-1] ** 2,
                                                     rel=1e-12)
    assert fit_normal.last_resid == pytest.approx(garch_data[-1] - p["mu"], rel=1e-12)
    assert fit_normal.loglik == pytest.approx(arch_normal.loglikelihood, rel=1e-12)
    assert fit_normal.fitted_on == fingerprint(garch_data)


def test_persistence_at_or_above_one_is_flagged():
    r = simulate_garch(2000, seed=2, alpha=0.2, beta=0.85)  # alpha + beta = 1.05: explosive
    f = fit_garch(r, "normal")
    assert not f.converged
    assert "persistence" in f.reason
    assert f.persistence >= 1.0 - 1e-6
    with pytest.raises(ValueError, match="not usable"):
        garch_var_es(f, [0.99], [1])
    with pytest.raises(ValueError):
        filtered_historical(f, [0.99], [1])


def test_short_and_constant_series_are_not_fitted():
    short = fit_garch(simulate_garch(MIN_GARCH_OBS - 1, seed=3), "normal")
    assert not short.converged and str(MIN_GARCH_OBS) in short.reason
    flat = fit_garch(np.full(600, 0.1), "t")
    assert not flat.converged and "constant" in flat.reason


def test_non_finite_returns_raise():
    r = simulate_garch(400, seed=4)
    r[17] = np.nan
    with pytest.raises(ValueError, match="position 17"):
        fit_garch(r, "normal")


def test_refilter_on_same_data_reproduces_arch(fit_normal, arch_normal, garch_data):
    rf = refilter_garch(fit_normal, garch_data)
    assert rf.refiltered
    assert rf.loglik == pytest.approx(arch_normal.loglikelihood, rel=1e-12)
    np.testing.assert_allclose(rf.std_resid, arch_normal.std_resid, rtol=1e-10)
    assert rf.last_variance == pytest.approx(fit_normal.last_variance, rel=1e-12)


# ----------------------------------------------------------------------------- GARCH VaR/ES


@pytest.mark.parametrize("dist", ["normal", "t"])
def test_variance_path_equals_arch_forecast(garch_data, dist):
    from arch import arch_model

    res = arch_model(garch_data, mean="Constant", vol="GARCH", p=1, q=1, dist=dist,
                     rescale=False).fit(disp="off", show_warning=False)
    f = fit_garch(garch_data, dist)
    arch_path = res.forecast(horizon=10, reindex=False).variance.to_numpy()[0]
    np.testing.assert_allclose(variance_path(f, 10), arch_path, rtol=1e-8)


def test_normal_var_es_closed_form(fit_normal, arch_normal):
    p = arch_normal.params
    s2_next = (p["omega"] + p["alpha[1]"] * arch_normal.resid[-1] ** 2
               + p["beta[1]"] * arch_normal.conditional_volatility[-1] ** 2)
    conf = np.array([0.95, 0.99, 0.999])
    z = stats.norm.ppf(conf)
    out = garch_var_es(fit_normal, conf, [1, 5, 10])
    np.testing.assert_allclose(out[1][0], -p["mu"] + math.sqrt(s2_next) * z, rtol=1e-10)
    np.testing.assert_allclose(out[1][1], -p["mu"] + math.sqrt(s2_next) * stats.norm.pdf(z)
                               / (1 - conf), rtol=1e-10)
    arch_var10 = arch_normal.forecast(horizon=10, reindex=False).variance.to_numpy()[0]
    for h in (5, 10):
        sd_h = math.sqrt(arch_var10[:h].sum())
        np.testing.assert_allclose(out[h][0], -p["mu"] * h + sd_h * z, rtol=1e-8)
    assert np.all(np.diff(out[1][0]) > 0) and np.all(out[10][0] > out[5][0])


def test_t_var_uses_standardized_t_and_es_matches_integral():
    r = simulate_garch(3000, seed=7, nu=6.0)
    f = fit_garch(r, "t")
    conf = np.array([0.95, 0.99])
    out = garch_var_es(f, conf, [1])
    nu, sd = f.nu, math.sqrt(f.next_variance)
    scale = math.sqrt((nu - 2) / nu)
    # by hand: quantile of the unit-variance t
    q = stats.t.ppf(1 - conf, nu) * scale
    np.testing.assert_allclose(out[1][0], -(f.mu + sd * q), rtol=1e-10)
    # ES independently: numerical tail integral of x * density of the unit-variance t
    for i, c in enumerate(conf):
        a = 1 - c
        tail, _ = integrate.quad(lambda x: x * stats.t.pdf(x / scale, nu) / scale, -np.inf, q[i])
        assert out[1][1][i] == pytest.approx(-f.mu + sd * (-tail / a), rel=1e-7)
    # fatter tails than the normal with the same variance at 99%
    assert out[1][0][1] > -f.mu + sd * stats.norm.ppf(0.99)


# -------------------------------------------------------------------------------------- FHS


def test_fhs_one_day_is_rescaled_standardized_residuals(fit_normal):
    out = filtered_historical(fit_normal, [0.95, 0.99], [1])
    scen = fit_normal.mu + math.sqrt(fit_normal.next_variance) * fit_normal.std_resid
    q = np.quantile(scen, [0.05, 0.01])
    np.testing.assert_allclose(out[1][0], -q, rtol=1e-12)
    np.testing.assert_allclose(out[1][1], [-scen[scen <= qi].mean() for qi in q], rtol=1e-12)


def test_fhs_constant_volatility_equals_historical_and_is_deterministic():
    rng = np.random.default_rng(11)
    r = 0.02 + 1.3 * rng.standard_t(5, 2500) * math.sqrt(3 / 5)  # i.i.d., constant volatility
    f = fit_garch(r, "normal")
    assert f.converged
    conf = [0.95, 0.99]
    fhs = filtered_historical(f, conf, [1])
    q = np.quantile(r, [0.05, 0.01])
    hist_var, hist_es = -q, np.array([-r[r <= qi].mean() for qi in q])
    # With no volatility clustering sigma_t is nearly constant, so FHS ~ historical; 5% covers
    # the spurious GARCH wiggle the fit puts on i.i.d. data.
    np.testing.assert_allclose(fhs[1][0], hist_var, rtol=0.05)
    np.testing.assert_allclose(fhs[1][1], hist_es, rtol=0.05)
    again = filtered_historical(f, conf, [1, 10])
    np.testing.assert_array_equal(again[1][0], fhs[1][0])
    a = filtered_historical(f, conf, [5, 10], rng=np.random.default_rng(5), n_sims=5000)
    b = filtered_historical(f, conf, [5, 10], rng=np.random.default_rng(5), n_sims=5000)
    np.testing.assert_array_equal(a[10][0], b[10][0])


def test_fhs_multi_day_bootstrap_agrees_with_scaling_for_gaussian_iid():
    rng = np.random.default_rng(12)
    r = 0.01 + rng.standard_normal(2500)
    f = fit_garch(r, "normal")
    scaled = filtered_historical(f, [0.95], [10])
    boot = filtered_historical(f, [0.95], [10], rng=np.random.default_rng(1), n_sims=20000)
    # sums of Gaussian innovations stay Gaussian: both ~ mu*10 + 1.645 sqrt(10). 3% covers MC
    # error of a 5% quantile with 20,000 paths (~1%) and the residuals' sample shape.
    assert boot[10][0][0] == pytest.approx(scaled[10][0][0], rel=0.03)
    sd10 = math.sqrt(np.sum(variance_path(f, 10)))
    assert boot[10][0][0] == pytest.approx(-f.mu * 10 + sd10 * 1.6449, rel=0.03)


# ------------------------------------------------------------------------- rolling forecasts


@pytest.fixture(scope="module")
def rolling_data() -> np.ndarray:
    return simulate_garch(760, seed=99)


def test_rolling_refits_every_20_days_and_filters_between(rolling_data):
    r = rolling_data
    window, n_test = 500, 250
    roll = garch_rolling_forecasts(r, window, n_test, [0.99], "normal", refit_every=20)
    assert roll.refit_days == tuple(range(0, 250, 20)) and len(roll.refit_days) == 13
    assert roll.failures == () and np.all(np.isfinite(roll.var_pct))
    start = r.size - n_test
    # day 0: a fit on the window ending the day before (cold start, as the rolling one)
    f0 = fit_garch(r[start - window:start], "normal")
    assert roll.var_pct[0, 0] == pytest.approx(garch_var_es(f0, [0.99], [1])[1][0][0], rel=1e-9)
    # FHS on day 0: the fit's standardized residuals scaled by sigma_{day 0}
    scen = f0.mu + math.sqrt(f0.next_variance) * f0.std_resid
    assert roll.fhs_var_pct[0, 0] == pytest.approx(-np.quantile(scen, 0.01), rel=1e-9)
    # day 7: parameters of day 0, variance filtered by hand over days 0..6
    s2, e = f0.last_variance, f0.last_resid
    for t in range(start, start + 8):
        s2 = f0.omega + f0.alpha * e * e + f0.beta * s2
        e = r[t] - f0.mu
    # s2 is now sigma^2 for day start+7
    expected = -(f0.mu + math.sqrt(s2) * stats.norm.ppf(0.01))
    assert roll.var_pct[7, 0] == pytest.approx(expected, rel=1e-9)
    np.testing.assert_array_equal(garch_rolling_var(r, window, n_test, [0.99]), roll.var_pct)
    assert np.all(roll.es_pct > roll.var_pct) and np.all(roll.fhs_es_pct > roll.fhs_var_pct)


def test_rolling_forecast_uses_only_past_data(rolling_data):
    r = rolling_data
    window, n_test, k = 500, 250, 137
    base = garch_rolling_forecasts(r, window, n_test, [0.95, 0.99], "t", refit_every=20)
    shocked = r.copy()
    day = r.size - n_test + k
    shocked[day:] = shocked[day:] * 3.0 + 1.0  # change day k and everything after it
    moved = garch_rolling_forecasts(shocked, window, n_test, [0.95, 0.99], "t", refit_every=20)
    for name in ("var_pct", "es_pct", "fhs_var_pct", "fhs_es_pct"):
        np.testing.assert_array_equal(getattr(moved, name)[:k + 1], getattr(base, name)[:k + 1])
        assert not np.allclose(getattr(moved, name)[k + 1:], getattr(base, name)[k + 1:])


def test_rolling_needs_enough_data(rolling_data):
    with pytest.raises(ValueError, match="window \\+ n_test"):
        garch_rolling_forecasts(rolling_data[:600], 500, 250, [0.99])


# ---------------------------------------------------------------------------------- FitCache


def test_cache_get_or_compute_memoizes_and_evicts():
    cache = FitCache(max_entries=2)
    calls = []

    def compute(v):
        calls.append(v)
        return v * 10

    assert cache.get_or_compute(("a", 1), lambda: compute(1)) == 10
    assert cache.get_or_compute(("a", 1), lambda: compute(99)) == 10
    cache.get_or_compute(("b",), lambda: compute(2))
    cache.get_or_compute(("c",), lambda: compute(3))  # evicts ("a", 1), least recently used
    assert cache.get_or_compute(("a", 1), lambda: compute(4)) == 40
    assert calls == [1, 2, 3, 4] and len(cache) == 2


def test_cache_garch_policy_refilters_new_days_and_refits_after_refit_days():
    r = simulate_garch(1300, seed=21)
    labels = np.arange(1300)
    cache = FitCache(refit_days=20)
    first = cache.garch(r[:1000], "normal", labels[:1000])
    assert cache.stats["refits"] == 1 and not first.refiltered
    assert cache.garch(r[:1000], "normal", labels[:1000]) is first  # identical data: cached
    # 5 new days on a rolling 1000-day window: same parameters, refiltered state
    later = cache.garch(r[5:1005], "normal", labels[5:1005])
    assert cache.stats == {"hits": 1, "computes": 2, "refits": 1, "refilters": 1}
    assert later.refiltered and later.omega == first.omega and later.params_as_of == "999"
    ref = refilter_garch(first, r[5:1005])
    assert later.last_variance == ref.last_variance and later.loglik == ref.loglik
    # 20 new days since the estimate: re-estimated
    refit = cache.garch(r[20:1020], "normal", labels[20:1020])
    assert not refit.refiltered and cache.stats["refits"] == 2 and refit.params_as_of == "1019"
    # a different series on the same dates (the book changed): re-estimated, never refiltered
    other = cache.garch(r[21:1021] * 1.5, "normal", labels[21:1021])
    assert not other.refiltered and cache.stats["refits"] == 3
    # without labels any change re-estimates
    cache.garch(r[22:1022], "normal")
    assert cache.stats["refits"] == 4


def test_cache_clear_keeping_garch_params_refilters():
    r = simulate_garch(1100, seed=22)
    labels = np.arange(1100)
    cache = FitCache(refit_days=20)
    cache.garch(r[:1000], "t", labels[:1000])
    cache.clear(keep_garch_params=True)
    assert len(cache) == 0
    assert cache.garch(r[1:1001], "t", labels[1:1001]).refiltered
    cache.clear()
    assert not cache.garch(r[2:1002], "t", labels[2:1002]).refiltered
    assert cache.stats["refits"] == 2 and cache.stats["refilters"] == 1


def test_fingerprint_depends_on_values_and_labels_only():
    x = np.array([0.1, -0.2, 0.3])
    dates = np.array(["2024-01-02", "2024-01-03", "2024-01-04"], dtype="datetime64[D]")
    assert fingerprint(x, dates) == fingerprint(x.copy(), dates.copy())
    assert fingerprint(x, dates).startswith("n=3;last=2024-01-04;")
    assert fingerprint(x, dates) != fingerprint(x + 1e-12, dates)
    assert fingerprint(x, dates) != fingerprint(x, dates + 1)
    # text labels in object arrays hash by their text, not by object identity
    a = np.array(["d1", "d2", "d3"], dtype=object)
    b = np.array(["".join(["d", str(i)]) for i in (1, 2, 3)], dtype=object)
    assert fingerprint(x, a) == fingerprint(x, b)


def test_fit_details_are_json_ready_and_bad_horizons_raise(fit_normal):
    import json

    from wsbrisk_tui.engine.model import to_jsonable

    det = json.loads(json.dumps(to_jsonable(fit_normal.details())))
    assert det["garch_alpha"] == pytest.approx(fit_normal.alpha)
    assert det["garch_sigma_next_pct"] == pytest.approx(math.sqrt(fit_normal.next_variance))
    with pytest.raises(ValueError):
        garch_var_es(fit_normal, [0.99], [0])
    with pytest.raises(ValueError):
        garch_var_es(fit_normal, [1.0], [1])
