"""Backtest statistics: Kupiec, Christoffersen, Basel traffic light, evaluate_backtest."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from wsbrisk_tui.engine.backtest import (
    MIN_BACKTEST_OBS,
    christoffersen,
    evaluate_backtest,
    kupiec_pof,
    traffic_light,
    transition_counts,
)

CHI2_1_95 = stats.chi2.ppf(0.95, 1)  # 3.8415


# ------------------------------------------------------------------------------------ Kupiec


def _kupiec_by_hand(x: int, n: int, p: float) -> float:
    """The textbook formula written out with math.log (0 ln 0 = 0 handled explicitly)."""
    ll0 = (n - x) * math.log(1 - p) + x * math.log(p)
    phat = x / n
    ll1 = (0.0 if x == n else (n - x) * math.log(1 - phat)) + (0.0 if x == 0 else x * math.log(phat))
    return -2 * ll0 + 2 * ll1


def test_kupiec_textbook_250_days_10_exceptions():
    lr, pval = kupiec_pof(10, 250, 0.01)
    assert lr == pytest.approx(_kupiec_by_hand(10, 250, 0.01), rel=1e-12)
    assert lr == pytest.approx(12.96, abs=0.005)  # the commonly quoted value (12.955)
    assert pval == pytest.approx(stats.chi2.sf(lr, 1), rel=1e-12)
    assert pval < 0.001  # 10 exceptions at 99% over a year rejects strongly


def test_kupiec_zero_and_all_exceptions():
    lr0, p0 = kupiec_pof(0, 250, 0.01)
    assert lr0 == pytest.approx(-2 * 250 * math.log(0.99), rel=1e-12)  # = 5.025
    assert p0 == pytest.approx(stats.chi2.sf(lr0, 1), rel=1e-12)
    lrn, _ = kupiec_pof(250, 250, 0.01)
    assert lrn == pytest.approx(-2 * 250 * math.log(0.01), rel=1e-12)
    # exactly the expected rate: statistic 0, p-value 1
    assert kupiec_pof(5, 500, 0.01) == pytest.approx((0.0, 1.0), abs=1e-12)


# Jorion, "Value at Risk", 3rd ed. (2007), Table 6-2 (after Kupiec 1995): 95% non-rejection
# regions  lo < N < hi  of the number of exceptions N.
JORION_TABLE_6_2 = {
    # p: {T: (lo, hi)}
    0.01: {510: (1, 11), 1000: (4, 17)},
    0.025: {255: (2, 12), 510: (6, 21), 1000: (15, 36)},
    0.05: {255: (6, 21), 510: (16, 36), 1000: (37, 65)},
    0.075: {255: (11, 28), 510: (27, 51), 1000: (59, 92)},
    0.10: {255: (16, 36), 510: (38, 65), 1000: (81, 120)},
}


@pytest.mark.parametrize("p,T,lo,hi", [(p, T, lo, hi) for p, row in JORION_TABLE_6_2.items()
                                       for T, (lo, hi) in row.items()])
def test_kupiec_reproduces_jorion_nonrejection_regions(p, T, lo, hi):
    accepted = [x for x in range(T + 1) if kupiec_pof(x, T, p)[0] < CHI2_1_95]
    assert (min(accepted), max(accepted)) == (lo + 1, hi - 1)


def test_kupiec_jorion_99pct_255_days_upper_bound():
    # Jorion prints "N < 7" for p=1%, T=255. The upper bound matches; the LR test also rejects
    # N = 0 there (LR = -2*255*ln 0.99 = 5.13 > 3.84), which the table leaves unprinted.
    accepted = [x for x in range(256) if kupiec_pof(x, 255, 0.01)[0] < CHI2_1_95]
    assert max(accepted) == 6
    assert kupiec_pof(0, 255, 0.01)[0] == pytest.approx(5.1257, abs=1e-4)


def test_kupiec_rejects_bad_input():
    with pytest.raises(ValueError):
        kupiec_pof(11, 10, 0.01)
    with pytest.raises(ValueError):
        kupiec_pof(1, 10, 1.0)


# ----------------------------------------------------------------------------- Christoffersen


def _markov_loglik_by_loops(hits: list[int]) -> tuple[float, float]:
    """Log-likelihoods of the hit sequence under i.i.d. Bernoulli(pi) and under a first-order
    Markov chain, both at their MLEs, computed by walking the sequence (an independent path)."""
    pairs = list(zip(hits[:-1], hits[1:]))
    counts = {(i, j): 0 for i in (0, 1) for j in (0, 1)}
    for pair in pairs:
        counts[pair] += 1
    pi = sum(j for _, j in pairs) / len(pairs)
    from_state = {i: counts[(i, 0)] + counts[(i, 1)] for i in (0, 1)}
    pij = {(i, j): counts[(i, j)] / from_state[i] for i in (0, 1) for j in (0, 1)
           if from_state[i]}
    ll_iid = 0.0
    ll_markov = 0.0
    for i, j in pairs:
        ll_iid += math.log(pi if j else 1 - pi)
        ll_markov += math.log(pij[(i, j)])
    return ll_iid, ll_markov


def test_christoffersen_hand_built_sequence():
    # 20 days, exceptions clustered: days 3-4, 12-14 and 18 (n00=10, n01=3, n10=3, n11=3).
    hits = [0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 0, 0, 0, 1, 0]
    assert transition_counts(np.array(hits, bool)) == (10, 3, 3, 3)
    lr_ind, p_ind, lr_cc, p_cc = christoffersen(np.array(hits, bool), 0.05)
    ll_iid, ll_markov = _markov_loglik_by_loops(hits)
    assert lr_ind == pytest.approx(2 * (ll_markov - ll_iid), rel=1e-12)
    # by hand: pi=6/19, pi0=3/13, pi1=3/6 -> 2*(-11.1815 + 11.8495) = 1.3359
    assert lr_ind == pytest.approx(1.3358, abs=1e-3)
    assert p_ind == pytest.approx(stats.chi2.sf(lr_ind, 1), rel=1e-12)
    lr_pof = _kupiec_by_hand(6, 20, 0.05)
    assert lr_cc == pytest.approx(lr_pof + lr_ind, rel=1e-12)
    assert p_cc == pytest.approx(stats.chi2.sf(lr_cc, 2), rel=1e-12)


def test_christoffersen_degenerate_counts():
    # no exceptions: n01 = n10 = n11 = 0; LR_ind = 0 by 0 ln 0 = 0, LR_cc = LR_pof
    none = np.zeros(250, bool)
    lr_ind, p_ind, lr_cc, _ = christoffersen(none, 0.01)
    assert (lr_ind, p_ind) == (0.0, 1.0)
    assert lr_cc == pytest.approx(-2 * 250 * math.log(0.99), rel=1e-12)
    # a single exception on the last day: state 1 is never left, pi1 undefined
    last = none.copy()
    last[-1] = True
    lr_ind, _, lr_cc, _ = christoffersen(last, 0.01)
    ll_iid, ll_markov = _markov_loglik_by_loops(last.astype(int).tolist())
    assert lr_ind == pytest.approx(2 * (ll_markov - ll_iid), abs=1e-12)
    assert math.isfinite(lr_cc)
    # all exceptions: pi = 1, every term 0 ln 0 or 1 ln 1
    lr_ind, _, _, _ = christoffersen(np.ones(60, bool), 0.01)
    assert lr_ind == 0.0


def test_christoffersen_alternating_hits_is_strongly_dependent():
    hits = np.tile([True, False], 50)  # pi1 = 0, pi0 = 1
    lr_ind, p_ind, _, _ = christoffersen(hits, 0.5)
    ll_iid, ll_markov = _markov_loglik_by_loops(hits.astype(int).tolist())
    assert lr_ind == pytest.approx(2 * (ll_markov - ll_iid), rel=1e-12)
    assert p_ind < 1e-10


# ------------------------------------------------------------------------------ traffic light


def test_traffic_light_basel_table_250_days_99pct():
    zones = [traffic_light(x, 250, 0.99) for x in range(16)]
    assert zones == ["green"] * 5 + ["yellow"] * 5 + ["red"] * 6
    # Basel Committee (1996), Table 2, cumulative probabilities in percent
    basel = [8.11, 28.58, 54.32, 75.81, 89.22, 95.88, 98.63, 99.60, 99.89, 99.97, 99.99]
    assert [round(100 * stats.binom.cdf(x, 250, 0.01), 2) for x in range(11)] == basel


def test_traffic_light_500_days_matches_binomial_cutoffs():
    cdf = stats.binom.cdf(np.arange(40), 500, 0.01)
    first_yellow = int(np.argmax(cdf >= 0.95))
    first_red = int(np.argmax(cdf >= 0.9999))
    assert (first_yellow, first_red) == (9, 15)
    zones = [traffic_light(x, 500, 0.99) for x in range(40)]
    assert zones == (["green"] * first_yellow + ["yellow"] * (first_red - first_yellow)
                     + ["red"] * (40 - first_red))


# ------------------------------------------------------------------------- evaluate_backtest


def test_evaluate_backtest_counts_exceptions_and_excludes_nan():
    n = 300
    var = np.full(n, 2.0)
    var[:20] = np.nan  # a window where the method was n/a
    pnl = np.zeros(n)
    loss_days = [25, 26, 100, 200, 299]
    pnl[loss_days] = -2.5
    pnl[150] = -2.0  # a loss equal to VaR is not an exception (loss must EXCEED VaR)
    pnl[10] = -9.0  # inside the NaN window: not counted
    res = evaluate_backtest("historical", 0.99, var, pnl, details={"window": 252})
    assert res.status == "ok"
    assert res.observations == 280 and res.exceptions == 5
    assert res.details["excluded_nan"] == 20 and res.details["window"] == 252
    assert res.details["exception_index"] == loss_days
    assert (res.kupiec_lr, res.kupiec_p) == pytest.approx(kupiec_pof(5, 280, 0.01), rel=1e-12)
    hits = np.zeros(280, bool)
    hits[[d - 20 for d in loss_days]] = True
    lr_ind, p_ind, lr_cc, p_cc = christoffersen(hits, 0.01)
    assert (res.christoffersen_lr, res.christoffersen_p, res.cc_lr, res.cc_p) == pytest.approx(
        (lr_ind, p_ind, lr_cc, p_cc), rel=1e-12)
    assert res.zone == traffic_light(5, 280, 0.99) == "green"


def test_evaluate_backtest_too_few_observations_is_na():
    var = np.full(100, np.nan)
    var[-(MIN_BACKTEST_OBS - 1):] = 1.0
    res = evaluate_backtest("garch_normal", 0.99, var, np.zeros(100))
    assert res.status == "n/a" and res.exceptions is None and res.kupiec_lr is None
    assert str(MIN_BACKTEST_OBS) in res.reason
    assert res.details["excluded_nan"] == 100 - (MIN_BACKTEST_OBS - 1)


def test_evaluate_backtest_rejects_mismatched_or_missing_pnl():
    with pytest.raises(ValueError):
        evaluate_backtest("h", 0.99, np.ones(60), np.zeros(59))
    pnl = np.zeros(60)
    pnl[3] = np.nan
    with pytest.raises(ValueError):
        evaluate_backtest("h", 0.99, np.ones(60), pnl)
