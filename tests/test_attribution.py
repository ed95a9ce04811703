"""VaR attribution (engine/attribution.py): Euler, historical components, incremental VaR."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from wsbrisk_tui.engine.attribution import (
    euler_parametric,
    historical_components,
    incremental_var,
    marginal_per_value,
)
from wsbrisk_tui.engine.var import historical, parametric_normal


@pytest.fixture(scope="module")
def positions() -> tuple[np.ndarray, np.ndarray]:
    """(252, 4) position P&L of a long/short book and the positions' market values."""
    rng = np.random.default_rng(42)
    values = np.array([50_000.0, -20_000.0, 30_000.0, 10_000.0])
    corr = np.array([[1, 0.6, 0.3, 0.1], [0.6, 1, 0.2, 0.0], [0.3, 0.2, 1, 0.4], [0.1, 0.0, 0.4, 1]])
    r = 0.0005 + 0.012 * rng.standard_t(5, size=(252, 4)) @ np.linalg.cholesky(corr).T
    return r * values, values


@pytest.mark.parametrize("c", [0.95, 0.99, 0.999])
def test_euler_components_sum_exactly_to_the_normal_var(positions, c):
    pnl, values = positions
    marginal, component = euler_parametric(pnl, c, values)
    total = parametric_normal(pnl.sum(axis=1), [c])[0][0, 0]
    assert component.sum() == pytest.approx(total, rel=1e-9)  # the brief's 1e-9
    # written out: C_i = -(mu_i + z cov(P_i, P)/sigma_P), covariances from np.cov (ddof = 1)
    z = stats.norm.ppf(1 - c)
    book = pnl.sum(axis=1)
    cov = np.array([np.cov(pnl[:, i], book)[0, 1] for i in range(4)])
    np.testing.assert_allclose(component, -(pnl.mean(axis=0) + z * cov / book.std(ddof=1)),
                               rtol=1e-10)
    np.testing.assert_allclose(marginal, component / values, rtol=1e-14)


def test_euler_component_is_the_derivative_in_position_size(positions):
    pnl, values = positions
    _, component = euler_parametric(pnl, 0.99, values)
    eps = 1e-6
    for i in range(4):
        up, down = pnl.copy(), pnl.copy()
        up[:, i] *= 1 + eps
        down[:, i] *= 1 - eps
        deriv = (parametric_normal(up.sum(axis=1), [0.99])[0][0, 0]
                 - parametric_normal(down.sum(axis=1), [0.99])[0][0, 0]) / (2 * eps)
        # central difference of a smooth function: 1e-6 relative
        assert component[i] == pytest.approx(deriv, rel=1e-6)


def test_marginal_is_nan_for_a_zero_value():
    out = marginal_per_value(np.array([10.0, 5.0]), np.array([1000.0, 0.0]))
    assert out[0] == pytest.approx(0.01) and np.isnan(out[1])


def test_incremental_var_two_asset_hand_example():
    # two positions, 11 days; historical VaR at 90%: (n-1)(1-c) = 1 -> the 2nd smallest value
    a = np.array([-10.0, 4.0, -2.0, 6.0, 1.0, -8.0, 3.0, 0.0, 5.0, -1.0, 2.0])
    b = np.array([3.0, -6.0, 1.0, -2.0, 0.5, -4.0, 2.0, -1.0, 1.0, 2.0, -3.0])
    book = a + b  # -7, -2, -1, 4, 1.5, -12, 5, -1, 6, 1, -1 -> sorted: -12, -7, ...
    var_book = 7.0
    var_a_alone = 8.0  # sorted a: -10, -8, ...
    var_b_alone = 4.0  # sorted b: -6, -4, ...
    assert historical(book, [0.9])[0][0, 0] == pytest.approx(var_book)
    inc = incremental_var(np.column_stack([a, b]), 0.9, historical)
    # incremental of a = VaR(book) - VaR(b alone); of b = VaR(book) - VaR(a alone)
    np.testing.assert_allclose(inc, [var_book - var_b_alone, var_book - var_a_alone], rtol=1e-12)


def test_incremental_parametric_matches_recomputation(positions):
    pnl, _ = positions
    inc = incremental_var(pnl, 0.99, parametric_normal)
    total = parametric_normal(pnl.sum(axis=1), [0.99])[0][0, 0]
    for i in range(4):
        rest = np.delete(pnl, i, axis=1).sum(axis=1)
        assert inc[i] == pytest.approx(total - parametric_normal(rest, [0.99])[0][0, 0], rel=1e-10)


def test_single_position_incremental_is_the_whole_var():
    pnl = np.random.default_rng(1).standard_normal((100, 1)) * 1000
    inc = incremental_var(pnl, 0.95, historical)
    assert inc[0] == pytest.approx(historical(pnl[:, 0], [0.95])[0][0, 0], rel=1e-12)
    marginal, component = euler_parametric(pnl, 0.95, np.array([1e4]))
    assert component[0] == pytest.approx(parametric_normal(pnl[:, 0], [0.95])[0][0, 0], rel=1e-12)


def test_historical_es_components_sum_exactly_to_es(positions):
    pnl, _ = positions
    for c in (0.95, 0.99):
        var_c, es_c = historical_components(pnl, c)
        var, es = historical(pnl.sum(axis=1), [c])
        assert es_c.sum() == pytest.approx(es[0, 0], rel=1e-12)
        # the 5-nearest-rank average: components add up to the VaR within the spacing of the
        # order statistics around it (here within 15%)
        assert var_c.sum() == pytest.approx(var[0, 0], rel=0.15)


def test_historical_var_components_exact_at_an_integer_rank():
    rng = np.random.default_rng(3)
    pnl = rng.standard_normal((101, 3)) * [100.0, 200.0, 50.0]  # (n-1)(1-c) = 5 at c = 0.95
    var_c, _ = historical_components(pnl, 0.95, neighbours=1)
    book = pnl.sum(axis=1)
    day = np.argsort(book)[5]
    np.testing.assert_allclose(var_c, -pnl[day], rtol=1e-14)
    assert var_c.sum() == pytest.approx(historical(book, [0.95])[0][0, 0], rel=1e-12)
    with pytest.raises(ValueError, match="neighbours"):
        historical_components(pnl, 0.95, neighbours=0)
