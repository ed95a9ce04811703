"""VaR/ES of P&L samples (engine/var.py) against scipy, numpy and hand computations."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate, optimize, stats

from wsbrisk_tui.engine.var import (
    T_DF_BOUNDS,
    brw_weights,
    cornish_fisher,
    cornish_fisher_monotone,
    fit_student_t,
    historical,
    historical_bootstrap,
    historical_bootstrap_ci,
    historical_weighted,
    parametric_normal,
    percentile_interval,
    sample_moments,
    student_t,
    student_t_loglik,
    student_t_var_es,
    tail_probabilities,
    weighted_var_es,
)

CONF = (0.95, 0.99, 0.999)


@pytest.fixture(scope="module")
def pnl() -> np.ndarray:
    """A fixed fat-tailed P&L sample (currency), 252 days."""
    rng = np.random.default_rng(20240611)
    return 1_000.0 * rng.standard_t(4, size=252) + 30.0


# ------------------------------------------------------------------------------ shared helpers


def test_confidences_must_be_inside_the_unit_interval():
    with pytest.raises(ValueError, match=r"confidences must be in \(0, 1\)"):
        tail_probabilities([0.99, 1.0])
    with pytest.raises(ValueError, match="horizon_days"):
        parametric_normal(np.arange(10.0), CONF, horizon_days=0)


# ------------------------------------------------------------------------------ parametric


def test_parametric_normal_matches_scipy_closed_form(pnl):
    mu, sd = pnl.mean(), pnl.std(ddof=1)
    for h in (1, 5, 10):
        var, es = parametric_normal(pnl, CONF, h)
        for j, c in enumerate(CONF):
            dist = stats.norm(loc=mu * h, scale=sd * math.sqrt(h))
            q = dist.ppf(1 - c)
            # closed form from scipy's own ppf/pdf: agreement to rounding (1e-10 relative)
            assert var[0, j] == pytest.approx(-q, rel=1e-10)
            es_scipy = -dist.expect(lambda x: x, ub=q, conditional=True)
            # scipy's expect integrates numerically: 1e-8 relative
            assert es[0, j] == pytest.approx(es_scipy, rel=1e-8)
            assert es[0, j] >= var[0, j]


def test_parametric_normal_scales_with_sqrt_time_when_mean_is_zero(pnl):
    centred = pnl - pnl.mean()
    v1, e1 = parametric_normal(centred, CONF, 1)
    v10, e10 = parametric_normal(centred, CONF, 10)
    np.testing.assert_allclose(v10, math.sqrt(10) * v1, rtol=1e-10)
    np.testing.assert_allclose(e10, math.sqrt(10) * e1, rtol=1e-10)


def test_window_functions_are_row_by_row(pnl):
    """Vectorised over windows: each row equals the single-window result (exact)."""
    rng = np.random.default_rng(1)
    windows = np.stack([pnl, rng.permutation(pnl) * 2.0, pnl[::-1] + 5.0])
    for fn in (parametric_normal, cornish_fisher, historical):
        var, es = fn(windows, CONF)
        for i in range(3):
            v1, e1 = fn(windows[i], CONF)
            np.testing.assert_allclose(var[i], v1[0], rtol=1e-12)
            np.testing.assert_allclose(es[i], e1[0], rtol=1e-12)


# ------------------------------------------------------------------------------ Cornish-Fisher


def test_sample_moments_are_the_bias_corrected_estimators(pnl):
    mean, sd, skew, kurt = sample_moments(pnl)
    assert mean[0] == pytest.approx(pnl.mean(), rel=1e-12)
    assert sd[0] == pytest.approx(pnl.std(ddof=1), rel=1e-12)
    assert skew[0] == pytest.approx(stats.skew(pnl, bias=False), rel=1e-10)
    assert kurt[0] == pytest.approx(stats.kurtosis(pnl, bias=False), rel=1e-10)


def _symmetric_mesokurtic_sample() -> np.ndarray:
    """+-1 (40 times each) and +-t (10 times each) with t solved so the excess kurtosis is 0."""
    def build(t: float) -> np.ndarray:
        half = np.concatenate([np.ones(40), np.full(10, t)])
        return np.concatenate([half, -half]) * 100.0

    t = optimize.brentq(lambda t: sample_moments(build(t))[3][0], 1.5, 10.0, xtol=1e-15)
    return build(t)


def test_cornish_fisher_reduces_to_normal_for_zero_skew_and_kurtosis():
    x = _symmetric_mesokurtic_sample()
    _, _, skew, kurt = sample_moments(x)
    assert abs(skew[0]) < 1e-12 and abs(kurt[0]) < 1e-9
    for h in (1, 10):
        cf_var, cf_es = cornish_fisher(x, CONF, h)
        n_var, n_es = parametric_normal(x, CONF, h)
        # z_cf - z = O(K) = 1e-9: the results agree to 1e-8 relative
        np.testing.assert_allclose(cf_var, n_var, rtol=1e-8)
        np.testing.assert_allclose(cf_es, n_es, rtol=1e-8)


def test_cornish_fisher_matches_the_formula_written_out(pnl):
    s = stats.skew(pnl, bias=False)
    k = stats.kurtosis(pnl, bias=False)
    mu, sd = pnl.mean(), pnl.std(ddof=1)
    assert cornish_fisher_monotone(np.array([s]), np.array([k]))[0]
    var, es = cornish_fisher(pnl, CONF, 5)

    def z_cf(z: float) -> float:
        return (z + (z * z - 1) * s / 6 + (z ** 3 - 3 * z) * k / 24
                - (2 * z ** 3 - 5 * z) * s * s / 36)

    for j, c in enumerate(CONF):
        a = 1 - c
        z = stats.norm.ppf(a)
        expected = -(mu * 5 + sd * math.sqrt(5) * z_cf(z))
        assert var[0, j] == pytest.approx(expected, rel=1e-10)
        # ES: the quantile averaged over the tail by adaptive quadrature in u (1e-7 relative)
        integral, _ = integrate.quad(lambda u: z_cf(stats.norm.ppf(u)), 0.0, a, limit=200,
                                     epsabs=1e-13, epsrel=1e-11)
        es_quad = -(mu * 5 + sd * math.sqrt(5) * integral / a)
        assert es[0, j] == pytest.approx(es_quad, rel=1e-7)
        assert es[0, j] >= var[0, j]


def test_cornish_fisher_outside_its_domain_is_nan():
    # Maillard's domain for S = 0 is 0 <= K <= 8; K = 10 and K = -1 are outside, K = 4 inside
    assert list(cornish_fisher_monotone(np.zeros(3), np.array([10.0, -1.0, 4.0]))) == [False, False, True]
    rng = np.random.default_rng(3)
    x = rng.standard_t(2.2, size=2000)  # excess kurtosis far above 8
    assert sample_moments(x)[3][0] > 8
    var, es = cornish_fisher(x, CONF)
    assert np.all(np.isnan(var)) and np.all(np.isnan(es))


# ------------------------------------------------------------------------------ Student t


@pytest.mark.parametrize("kind", ["t4", "normal", "skewed", "cauchy"])
def test_student_t_mle_is_at_least_as_good_as_scipy(kind):
    rng = np.random.default_rng({"t4": 1, "normal": 2, "skewed": 3, "cauchy": 4}[kind])
    x = {"t4": lambda: 0.02 * rng.standard_t(4, 252) + 0.001,
         "normal": lambda: 500.0 * rng.standard_normal(252),
         "skewed": lambda: rng.gamma(2.0, 1.0, 252) * 300.0,
         "cauchy": lambda: rng.standard_cauchy(252)}[kind]()
    fit = fit_student_t(x)
    assert fit.converged[0]
    df, loc, scale = stats.t.fit(x)
    ll_scipy = stats.t.logpdf(x, df, loc, scale).sum()
    ll_ours = student_t_loglik(x, fit.loc, fit.scale, fit.df)[0]
    assert ll_ours == pytest.approx(fit.loglik[0], rel=1e-12)
    assert ll_ours >= ll_scipy - 1e-3  # the brief's tolerance on the maximised log-likelihood
    assert T_DF_BOUNDS[0] <= fit.df[0] <= T_DF_BOUNDS[1]
    if kind == "t4":  # an interior optimum: the parameters agree with scipy's to 1e-3
        assert fit.df[0] == pytest.approx(df, rel=1e-3)
        assert fit.scale[0] == pytest.approx(scale, rel=1e-3)


def test_student_t_vectorised_fit_equals_single_fits():
    rng = np.random.default_rng(9)
    windows = rng.standard_t(5, size=(6, 252)) * np.arange(1, 7)[:, None]
    fit = fit_student_t(windows)
    for i in range(6):
        one = fit_student_t(windows[i])
        # each window converges to the same optimum: 1e-6 relative on the parameters
        assert fit.df[i] == pytest.approx(one.df[0], rel=1e-6)
        assert fit.loglik[i] == pytest.approx(one.loglik[0], rel=1e-12)


def test_student_t_var_and_es_against_scipy(pnl):
    var, es, df = student_t(pnl, CONF, 10)
    fit = fit_student_t(pnl)
    for j, c in enumerate(CONF):
        dist = stats.t(df[0], loc=fit.loc[0] * 10, scale=fit.scale[0] * math.sqrt(10))
        q = dist.ppf(1 - c)
        assert var[0, j] == pytest.approx(-q, rel=1e-10)
        # ES closed form (QRM eq. 2.23) vs integrating scipy's t quantile over the tail
        integral, _ = integrate.quad(dist.ppf, 0.0, 1 - c, limit=200, epsabs=0.0, epsrel=1e-10)
        assert es[0, j] == pytest.approx(-integral / (1 - c), rel=1e-6)
    assert fit.variance[0] == pytest.approx(fit.scale[0] ** 2 * df[0] / (df[0] - 2), rel=1e-12)


def test_student_t_es_is_nan_without_a_mean():
    from wsbrisk_tui.engine.var import StudentTFit

    fit = StudentTFit(loc=np.array([0.0]), scale=np.array([1.0]), df=np.array([0.9]),
                      loglik=np.array([0.0]), iterations=1, converged=np.array([True]))
    var, es = student_t_var_es(fit, [0.99])
    assert var[0, 0] == pytest.approx(-stats.t.ppf(0.01, 0.9), rel=1e-10)
    assert np.isnan(es[0, 0])


def test_student_t_constant_window_is_nan_not_an_error():
    fit = fit_student_t(np.vstack([np.full(50, 3.0), np.arange(50.0)]))
    assert np.isnan(fit.df[0]) and np.isfinite(fit.df[1])


# ------------------------------------------------------------------------------ historical


def test_historical_is_numpy_quantile_and_tail_mean(pnl):
    var, es = historical(pnl, CONF)
    for j, c in enumerate(CONF):
        q = np.quantile(pnl, 1 - c)  # linear interpolation, NumPy's default
        assert var[0, j] == -q  # exact: the same computation
        assert es[0, j] == pytest.approx(-pnl[pnl <= q].mean(), rel=1e-12)


def test_historical_counts_ties_at_the_quantile():
    x = np.array([-5.0, -5.0, -5.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0])
    var, es = historical(x, [0.8])  # q = -5 exactly: all three -5 are in the tail
    assert var[0, 0] == 5.0 and es[0, 0] == 5.0


def test_bootstrap_ci_contains_the_estimate_and_repeats_with_the_seed(pnl):
    var, es = historical(pnl, [0.99])
    (v_lo, v_hi), (e_lo, e_hi) = historical_bootstrap_ci(pnl, 0.99, np.random.default_rng(7))
    assert v_lo <= var[0, 0] <= v_hi
    assert e_lo <= es[0, 0] <= e_hi
    assert v_lo < v_hi and e_lo < e_hi
    again = historical_bootstrap_ci(pnl, 0.99, np.random.default_rng(7))
    assert again == ((v_lo, v_hi), (e_lo, e_hi))
    other = historical_bootstrap_ci(pnl, 0.99, np.random.default_rng(8))
    assert other != again


def test_bootstrap_replicates_are_historical_of_resamples(pnl):
    rng = np.random.default_rng(11)
    boot_var, boot_es = historical_bootstrap(pnl, CONF, rng, replicates=50)
    idx = np.random.default_rng(11).integers(0, pnl.size, size=(50, pnl.size))
    v, e = historical(pnl[idx], CONF)  # the direct way: sort every resample
    np.testing.assert_array_equal(boot_var, v)  # same interpolation formula: bit for bit
    np.testing.assert_allclose(boot_es, e, rtol=1e-12)  # running sums vs sums: rounding only
    lo, hi = percentile_interval(boot_var, 0.9)
    np.testing.assert_allclose(lo, np.quantile(boot_var, 0.05, axis=0), rtol=1e-12)
    np.testing.assert_allclose(hi, np.quantile(boot_var, 0.95, axis=0), rtol=1e-12)


def test_bootstrap_handles_ties_in_the_sample():
    x = np.array([-3.0, -3.0, -1.0, -1.0, 0.0, 2.0, 2.0, 5.0])
    boot_var, boot_es = historical_bootstrap(x, (0.7, 0.9), np.random.default_rng(3), 200)
    idx = np.random.default_rng(3).integers(0, x.size, size=(200, x.size))
    v, e = historical(x[idx], (0.7, 0.9))
    np.testing.assert_array_equal(boot_var, v)
    np.testing.assert_allclose(boot_es, e, rtol=1e-12)


# ------------------------------------------------------------------------------ age-weighted


def test_brw_weights_sum_to_one_and_favour_the_newest():
    w = brw_weights(5, 0.9)
    assert w.sum() == pytest.approx(1.0, rel=1e-14)
    assert w[-1] == pytest.approx(0.1 / (1 - 0.9 ** 5), rel=1e-14)  # age 0
    assert np.all(np.diff(w) > 0)
    np.testing.assert_array_equal(brw_weights(4, 1.0), np.full(4, 0.25))


def test_weighted_hs_with_equal_weights_is_historical(pnl):
    np.testing.assert_allclose(historical_weighted(pnl, CONF, 1.0), historical(pnl, CONF),
                               rtol=1e-12)
    # lam -> 1 approaches equal weights continuously (weights differ by O(n (1 - lam)))
    near = historical_weighted(pnl, CONF, 1.0 - 1e-9)
    np.testing.assert_allclose(near, historical(pnl, CONF), rtol=1e-6)


def test_weighted_hs_hand_example():
    # P&L oldest first; lam = 0.5, n = 5: w = 0.5^age / (1 + 0.5 + 0.25 + 0.125 + 0.0625)
    x = np.array([-4.0, 3.0, -1.0, 2.0, -2.0])
    total = 1.9375
    w = np.array([0.0625, 0.125, 0.25, 0.5, 1.0]) / total
    # sorted: -4 (w0), -2 (w4), -1 (w2), 2 (w3), 3 (w1); p_k = weight below / (1 - own weight)
    p0 = 0.0
    p1 = w[0] / (1 - w[4])  # = 0.0625 / 0.9375 = 0.0667
    assert p1 == pytest.approx(0.0625 / 0.9375, rel=1e-12)
    a = 0.05  # 95%: between p0 and p1
    q = -4.0 + (a - p0) / (p1 - p0) * (-2.0 - -4.0)  # = -2.5
    assert q == pytest.approx(-2.5, rel=1e-12)
    # tail (x <= -2.5): only -4 -> ES = 4
    var, es = historical_weighted(x, [0.95], lam=0.5)
    assert var[0, 0] == pytest.approx(2.5, rel=1e-12)
    assert es[0, 0] == pytest.approx(4.0, rel=1e-12)
    # 70%: a = 0.3; p2 = (w0 + w4)/(1 - w2) = 1.0625/1.6875 = 0.6296 -> between -2 and -1
    p2 = (w[0] + w[4]) / (1 - w[2])
    q70 = -2.0 + (0.3 - p1) / (p2 - p1) * 1.0
    es70 = -(w[0] * -4.0 + w[4] * -2.0) / (w[0] + w[4])  # tail = {-4, -2}
    var, es = historical_weighted(x, [0.7], lam=0.5)
    assert var[0, 0] == pytest.approx(-q70, rel=1e-12)
    assert es[0, 0] == pytest.approx(es70, rel=1e-12)


def test_weighted_var_es_rejects_non_positive_weights():
    with pytest.raises(ValueError, match="positive"):
        weighted_var_es(np.arange(5.0), np.array([1.0, 0.0, 1.0, 1.0, 1.0]), [0.9])


def test_student_t_on_mostly_identical_values_is_flagged_not_fitted():
    # 70% zeros (a stale price): the t likelihood grows without bound as the scale shrinks
    x = np.zeros(100)
    x[:30] = np.random.default_rng(2).standard_normal(30) * 100.0
    fit = fit_student_t(x)
    assert not fit.converged[0]
