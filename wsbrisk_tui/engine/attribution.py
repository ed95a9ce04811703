"""VaR attribution per position: Euler (parametric), tail-conditional (historical), incremental.

Inputs are position P&L scenarios ``position_pnl`` (n, p): one row per historical day, one
column per position, in currency; the book P&L is the row sum. Because VaR is homogeneous of
degree 1 in the position sizes, Euler's theorem splits it into components that add up to the total
(Tasche, 1999, "Risk contributions and performance measurement"; Garman, 1997, "Taking VaR to
pieces", Risk 10):

    VaR = sum_i C_i,   C_i = theta_i dVaR/dtheta_i at theta = 1 (theta_i scales position i).

The MARGINAL VaR per unit of position value is C_i / V_i (V_i the signed market value): the change
of VaR per dollar added to the position at its current composition. It is undefined (NaN) for a
position with zero value.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from wsbrisk_tui.engine.var import tail_probabilities

#: Number of scenarios averaged around the VaR rank for historical components.
HS_NEIGHBOURS = 5

MethodFn = Callable[[np.ndarray, Sequence[float]], tuple[np.ndarray, ...]]


def _positions(position_pnl: np.ndarray) -> np.ndarray:
    x = np.asarray(position_pnl, dtype=float)
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2 or x.shape[0] < 2 or x.shape[1] < 1:
        raise ValueError(f"position_pnl must be (n >= 2, p >= 1), got shape {x.shape}")
    return x


def marginal_per_value(component: np.ndarray, values: np.ndarray) -> np.ndarray:
    """C_i / V_i, NaN where the position value is 0."""
    v = np.asarray(values, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(v != 0.0, component / np.where(v != 0.0, v, 1.0), np.nan)


def euler_parametric(position_pnl: np.ndarray, confidence: float,
                     values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Normal-model Euler attribution: (marginal per unit of value, component), each (p,).

    The book VaR is -(mu_P + z sigma_P) with z = Phi^-1(1 - c), mu and sigma (ddof = 1) of the
    book P&L P = sum_i P_i over the window. Its derivative in theta_i gives::

        C_i = -(mu_i + z cov(P_i, P) / sigma_P)

    and sum_i C_i = -(mu_P + z var(P)/sigma_P) = VaR exactly (covariances ddof = 1, like sigma_P).
    1-day components; the h-day ones are not provided.
    """
    from scipy.special import ndtri

    x = _positions(position_pnl)
    z = float(ndtri(tail_probabilities(confidence)[0]))
    book = x.sum(axis=1)
    sd = float(book.std(ddof=1))
    if not sd > 0.0:
        raise ValueError("book P&L is constant: the Euler allocation divides by its sd")
    cov = (x - x.mean(axis=0)).T @ (book - book.mean()) / (x.shape[0] - 1)
    component = -(x.mean(axis=0) + z * cov / sd)
    return marginal_per_value(component, values), component


def historical_components(position_pnl: np.ndarray, confidence: float,
                          neighbours: int = HS_NEIGHBOURS) -> tuple[np.ndarray, np.ndarray]:
    """Historical-simulation components of VaR and of ES, each (p,).

    VaR (Hallerbach, 2003, "Decomposing portfolio value-at-risk: a general analysis", J. Risk 5;
    Epperlein & Smillie, 2006, "Cracking VAR with kernels", Risk 19): dVaR/dtheta_i =
    -E[P_i | P = -VaR]. The conditional expectation is estimated by the average of P_i over the
    ``neighbours`` scenarios whose book-P&L RANK is nearest the VaR's fractional rank
    (n - 1)(1 - c) (ties in distance go to the lower rank). Not rescaled: the components add up to
    minus the average book P&L of those scenarios, which is close to, but not exactly, the VaR
    (the interpolated quantile). ``neighbours = 1`` and 2 give the one or two scenarios the
    quantile itself interpolates.

    ES: C_i = -mean of P_i over the tail scenarios (book P&L at or below -VaR); these add up to the
    historical ES exactly.
    """
    x = _positions(position_pnl)
    a = float(tail_probabilities(confidence)[0])
    n = x.shape[0]
    book = x.sum(axis=1)
    k = int(neighbours)
    if not 1 <= k <= n:
        raise ValueError(f"neighbours must be in [1, {n}], got {neighbours}")
    order = np.argsort(book, kind="stable")
    pos = (n - 1) * a
    dist = np.abs(np.arange(n) - pos)
    near = order[np.argsort(dist, kind="stable")[:k]]
    var_component = -x[near].mean(axis=0)
    q = float(np.quantile(book, a))
    tail = book <= q
    es_component = -x[tail].mean(axis=0)
    return var_component, es_component


def incremental_var(position_pnl: np.ndarray, confidence: float, method_fn: MethodFn) -> np.ndarray:
    """VaR(book) - VaR(book without position i), (p,), by re-running ``method_fn`` on the book
    P&L with each column removed; all p reduced books are one call (P - P_i as p windows).

    ``method_fn(windows, confidences)`` is any of the window functions of
    :mod:`wsbrisk_tui.engine.var` whose first output is VaR (m, c). With a single position the
    reduced book is empty (P&L identically 0, VaR 0 by definition), so its incremental VaR is the
    book's VaR.
    """
    x = _positions(position_pnl)
    book = x.sum(axis=1)
    total = float(method_fn(book[None, :], [confidence])[0][0, 0])
    if x.shape[1] == 1:
        return np.array([total])
    reduced = book[None, :] - x.T  # (p, n)
    without = method_fn(reduced, [confidence])[0][:, 0]
    return total - without

