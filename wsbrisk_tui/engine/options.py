"""Option pricing, Greeks and implied volatility, vectorised over NumPy arrays.

Models
------
* **Black-Scholes-Merton** with a continuous dividend yield ``q`` (Merton 1973; Hull, *Options,
  Futures, and Other Derivatives*, ch. 15 and 17)::

      d1 = (ln(S/K) + (r - q + sigma^2/2) T) / (sigma sqrt(T)),   d2 = d1 - sigma sqrt(T)
      V  = w (S e^{-qT} N(w d1) - K e^{-rT} N(w d2)),              w = +1 call, -1 put

  At ``T <= 0`` the value is the intrinsic ``max(w (S - K), 0)``; at ``sigma = 0`` it is the
  discounted intrinsic of the forward ``max(w (S e^{-qT} - K e^{-rT}), 0)`` (the sigma -> 0 limit).
* **Cox-Ross-Rubinstein binomial tree** (Cox, Ross & Rubinstein 1979; Hull ch. 13 and 21) with
  ``u = e^{sigma sqrt(dt)}``, ``d = 1/u``, ``p = (e^{(r-q) dt} - d) / (u - d)``; American exercise is
  checked at every node. A single known cash dividend uses the escrowed-dividend tree of Hull
  (section 21.3): the tree is built on ``S* = S - D e^{-r tau}`` and the dividend's present value is
  added back at nodes before the ex-date.

Conventions (the README repeats them)
-------------------------------------
* ``T`` is in years, **ACT/365**: calendar days to expiry / 365 (:func:`year_fraction`). An option
  expiring today (0DTE) gets ``T_FLOOR_YEARS`` = one hour (1 / (365 x 24)) so its time value and
  Greeks stay finite; as-of is a date, so the hour is an assumption, not an observed time.
* ``r`` and ``q`` are continuously compounded fractions per year; ``sigma`` a fraction per sqrt(year).
* ``right`` is an array of +1 (call) / -1 (put), or "C"/"P" strings (scalars or arrays).
* Greek units (per share, i.e. per unit of underlying; multiply by qty x multiplier for a position):
  ``delta`` dimensionless (dV/dS), ``gamma`` per $ (d2V/dS2), ``vega`` $ per 1 vol point
  (dV/dsigma x 0.01), ``theta`` $ per calendar day (dV/dt / 365, negative for a decaying long),
  ``rho`` $ per 1 percentage point of rate (dV/dr x 0.01).

Everything broadcasts like NumPy arithmetic; inputs may be scalars or arrays.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import date
from typing import Any, Literal

import numpy as np
from scipy.special import ndtr

#: One hour in years: the floor on time to expiry for an option expiring on the as-of date.
T_FLOOR_YEARS: float = 1.0 / (365.0 * 24.0)
#: Days per year for time to expiry (ACT/365).
DAYS_PER_YEAR: float = 365.0
#: The implied-volatility search bracket (fraction per sqrt(year)).
IV_BRACKET: tuple[float, float] = (1e-4, 5.0)
#: Default tree depth for American options.
CRR_STEPS: int = 200

_SQRT_2PI = math.sqrt(2.0 * math.pi)

Style = Literal["auto", "european", "american"]


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def right_sign(right: Any) -> np.ndarray:
    """+1.0 for calls and -1.0 for puts, from numbers (+1/-1) or strings ("C"/"P"/"call"/"put")."""
    arr = np.asarray(right)
    if arr.dtype.kind in "iuf":
        out = np.asarray(arr, dtype=float)
        if not np.all(np.isin(out, (1.0, -1.0))):
            raise ValueError("right must be +1 (call) or -1 (put)")
        return out
    flat = [str(x).strip().upper()[:1] for x in arr.ravel()]
    bad = sorted({f for f in flat if f not in ("C", "P")})
    if bad:
        raise ValueError(f"right must be 'C' or 'P', got {bad}")
    return np.array([1.0 if f == "C" else -1.0 for f in flat]).reshape(arr.shape)


def year_fraction(as_of: date, expiry: date) -> float:
    """Time to expiry in years, ACT/365, floored at one hour on the expiry day.

    Raises ``ValueError`` for an expired contract (expiry before ``as_of``): it has no time value
    and should have been settled by the broker.
    """
    days = (expiry - as_of).days
    if days < 0:
        raise ValueError(f"option expired on {expiry.isoformat()} ({-days} days before {as_of.isoformat()})")
    return max(days / DAYS_PER_YEAR, T_FLOOR_YEARS)


def _norm_pdf(x: np.ndarray) -> np.ndarray:
    return np.exp(-0.5 * x * x) / _SQRT_2PI


def _broadcast(*args: Any) -> list[np.ndarray]:
    return [np.asarray(a, dtype=float) for a in np.broadcast_arrays(*[np.asarray(a, dtype=float) for a in args])]


def _d1_d2(S: np.ndarray, K: np.ndarray, T: np.ndarray, r: np.ndarray, q: np.ndarray,
           sigma: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """d1, d2, sigma sqrt(T) and a mask of where the closed form applies (T > 0, sigma > 0)."""
    live = (T > 0) & (sigma > 0)
    t = np.where(live, T, 1.0)
    s = np.where(live, sigma, 1.0)
    vol_sqrt_t = s * np.sqrt(t)
    with np.errstate(divide="ignore", invalid="ignore"):
        d1 = (np.log(S / K) + (r - q + 0.5 * s * s) * t) / vol_sqrt_t
    d2 = d1 - vol_sqrt_t
    return d1, d2, vol_sqrt_t, live


# --------------------------------------------------------------------------------------------
# Black-Scholes-Merton
# --------------------------------------------------------------------------------------------


def bsm_price(S: Any, K: Any, T: Any, r: Any, q: Any, sigma: Any, right: Any) -> np.ndarray:
    """European option value per share under Black-Scholes-Merton with dividend yield ``q``.

    ``V = w (S e^{-qT} N(w d1) - K e^{-rT} N(w d2))`` (Hull eq. 17.4-17.5). ``T <= 0`` gives the
    intrinsic value ``max(w (S - K), 0)``; ``sigma <= 0`` gives ``max(w (S e^{-qT} - K e^{-rT}), 0)``.
    """
    w = right_sign(right)
    S, K, T, r, q, sigma, w = _broadcast(S, K, T, r, q, sigma, w)
    out = bsm_value_unchecked(S, K, T, r, q, sigma, w)
    return out if out.ndim else out[()]


def bsm_value_unchecked(S: np.ndarray, K: np.ndarray, T: np.ndarray, r: np.ndarray | float,
                        q: np.ndarray, sigma: np.ndarray, w: np.ndarray) -> np.ndarray:
    """:func:`bsm_price` on float arrays that already broadcast, ``w`` = +1/-1; no validation.

    The hot path of full revaluation (millions of values per refresh): same formula and limits,
    written to keep per-option terms (``sqrt(T)``, ``K e^{-rT}``) at the options' shape and to work
    in place on the (scenarios x options) arrays.
    """
    t = np.maximum(T, 0.0)
    vol_sqrt_t = sigma * np.sqrt(t)
    disc_k = K * np.exp(-r * t)
    disc_s = S * np.exp(-q * t)
    # live <=> T > 0 and sigma > 0; elsewhere the sigma -> 0 / T -> 0 limit applies
    live = vol_sqrt_t > 0
    all_live = bool(np.all(live))
    safe_vst = vol_sqrt_t if all_live else np.where(live, vol_sqrt_t, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        # d1 = ln(F/K) / (sigma sqrt t) + sigma sqrt t / 2 with F = S e^{(r-q)t}
        d1 = np.log(disc_s / disc_k) / safe_vst  # not in place: this fixes the full broadcast shape
    d1 += 0.5 * safe_vst
    d2 = d1 - safe_vst
    d1 *= w
    d2 *= w
    value = disc_s * ndtr(d1)
    value -= disc_k * ndtr(d2)
    value *= w
    if all_live:
        return value
    degenerate = np.maximum(w * (disc_s - disc_k), 0.0)
    return np.where(live, value, degenerate)


def bsm_greeks(S: Any, K: Any, T: Any, r: Any, q: Any, sigma: Any, right: Any) -> dict[str, np.ndarray]:
    """Value and Greeks per share under Black-Scholes-Merton (Hull ch. 19, with yield ``q``).

    Returns a dict of arrays:

    * ``price``: $ per share;
    * ``delta = w e^{-qT} N(w d1)``: dimensionless, shares of underlying per option share;
    * ``gamma = e^{-qT} n(d1) / (S sigma sqrt(T))``: delta change per $1 move of the underlying;
    * ``vega = S e^{-qT} n(d1) sqrt(T) / 100``: $ per 1 vol point (sigma + 0.01);
    * ``theta = [-S e^{-qT} n(d1) sigma / (2 sqrt T) + w q S e^{-qT} N(w d1)
      - w r K e^{-rT} N(w d2)] / 365``: $ per calendar day (value change as one day passes);
    * ``rho = w K T e^{-rT} N(w d2) / 100``: $ per 1 percentage point of ``r``.

    At ``T <= 0`` delta is the slope of the intrinsic value (``w`` in the money, 0 otherwise,
    at the money included) and the other Greeks are 0. At ``sigma <= 0`` the Greeks
    are those of the discounted forward intrinsic (gamma and vega 0).
    """
    w = right_sign(right)
    S, K, T, r, q, sigma, w = _broadcast(S, K, T, r, q, sigma, w)
    d1, d2, vol_sqrt_t, live = _d1_d2(S, K, T, r, q, sigma)
    t = np.maximum(T, 0.0)
    eq = np.exp(-q * t)
    er = np.exp(-r * t)
    nd1 = _norm_pdf(d1)
    cdf1 = ndtr(w * d1)
    cdf2 = ndtr(w * d2)
    sqrt_t = np.sqrt(np.where(live, T, 1.0))
    sig = np.where(live, sigma, 1.0)

    price = w * (S * eq * cdf1 - K * er * cdf2)
    delta = w * eq * cdf1
    with np.errstate(divide="ignore", invalid="ignore"):
        gamma = eq * nd1 / (S * vol_sqrt_t)
    vega = S * eq * nd1 * sqrt_t / 100.0
    theta_year = -S * eq * nd1 * sig / (2.0 * sqrt_t) + w * q * S * eq * cdf1 - w * r * K * er * cdf2
    theta = theta_year / DAYS_PER_YEAR
    rho = w * K * t * er * cdf2 / 100.0

    # Degenerate cases: the value is max(w (S e^{-qt} - K e^{-rt}), 0), a deterministic payoff.
    itm = (w * (S * eq - K * er)) > 0
    d_price = np.where(itm, w * (S * eq - K * er), 0.0)
    d_delta = np.where(itm, w * eq, 0.0)
    # dV/dt (calendar time passing = -dV/dT) for the in-the-money forward payoff; 0 once expired
    d_theta = np.where(itm & (T > 0), w * (q * S * eq - r * K * er), 0.0) / DAYS_PER_YEAR
    d_rho = np.where(itm, w * K * t * er, 0.0) / 100.0
    zero = np.zeros_like(S)

    out = {
        "price": np.where(live, price, d_price),
        "delta": np.where(live, delta, d_delta),
        "gamma": np.where(live, gamma, zero),
        "vega": np.where(live, vega, zero),
        "theta": np.where(live, theta, d_theta),
        "rho": np.where(live, rho, d_rho),
    }
    return {k: (v if v.ndim else v[()]) for k, v in out.items()}


# --------------------------------------------------------------------------------------------
# Cox-Ross-Rubinstein binomial tree
# --------------------------------------------------------------------------------------------


def crr_price(S: Any, K: Any, T: Any, r: Any, q: Any, sigma: Any, right: Any, steps: int = CRR_STEPS,
              american: bool = True, div_amount: Any = 0.0, div_time: Any = np.inf) -> np.ndarray:
    """Option value per share on a Cox-Ross-Rubinstein tree, vectorised over options.

    The loop runs over the ``steps`` time steps; each step works on an (n_options, nodes) array.
    ``american`` checks early exercise at every node. ``div_amount`` / ``div_time`` (years from
    now) describe one known cash dividend per option (0 / inf for none): the tree is built on
    ``S* = S - D e^{-r tau}`` and the stock price at a node before the ex-date is
    ``S* + D e^{-r (tau - t)}`` (Hull, section 21.3, escrowed dividend).

    When ``sigma sqrt(dt)`` is too small for the drift (``p`` outside [0, 1]) the tree has no
    risk-neutral probabilities; the volatility is then negligible and the value is that of the
    deterministic forward path (the sigma = 0 limit), maximised over exercise dates when American.
    """
    if steps < 1:
        raise ValueError("steps must be >= 1")
    w = right_sign(right)
    S, K, T, r, q, sigma, w, D, tau = _broadcast(S, K, T, r, q, sigma, w, div_amount, div_time)
    shape = S.shape
    S, K, T, r, q, sigma, w, D, tau = (a.ravel() for a in (S, K, T, r, q, sigma, w, D, tau))
    out = np.maximum(w * (S - K), 0.0)  # T <= 0: intrinsic
    live = T > 0
    if np.any(live):
        idx = np.flatnonzero(live)
        out[idx] = _crr_live(S[idx], K[idx], T[idx], r[idx], q[idx], sigma[idx], w[idx], D[idx], tau[idx],
                             steps, american)
    out = out.reshape(shape)
    return out if out.ndim else out[()]


def _crr_live(S: np.ndarray, K: np.ndarray, T: np.ndarray, r: np.ndarray, q: np.ndarray,
              sigma: np.ndarray, w: np.ndarray, D: np.ndarray, tau: np.ndarray, steps: int,
              american: bool, lattice: dict[str, np.ndarray] | None = None) -> np.ndarray:
    """Tree values of live options; ``lattice`` (when given) receives the nodes of steps 1 and 2."""
    dt = T / steps
    has_div = (D > 0) & (tau > 0) & (tau < T)
    D = np.where(has_div, D, 0.0)
    tau = np.where(has_div, tau, 0.0)
    s_star = S - D * np.exp(-r * tau)
    sig = np.maximum(sigma, 0.0)
    u = np.exp(sig * np.sqrt(dt))
    d = 1.0 / u
    growth = np.exp((r - q) * dt)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = (growth - d) / (u - d)
    valid = (sig > 0) & (p >= 0.0) & (p <= 1.0)
    p = np.where(valid, p, 0.5)
    disc = np.exp(-r * dt)
    log_u = np.log(np.where(valid, u, 1.0))

    col = lambda a: a[:, None]  # noqa: E731 - per-option column for broadcasting over nodes

    def spot_at(step: int) -> np.ndarray:
        j = np.arange(step + 1, dtype=float)
        s = col(s_star) * np.exp(col(log_u) * (2.0 * j - step)[None, :])
        t = step * dt
        pv_div = np.where((D > 0) & (t < tau), D * np.exp(-r * (tau - t)), 0.0)
        return s + col(pv_div)

    V = np.maximum(col(w) * (spot_at(steps) - col(K)), 0.0)
    for step in range(steps - 1, -1, -1):
        V = col(disc) * (col(p) * V[:, 1:] + col(1.0 - p) * V[:, :-1])
        if american:
            V = np.maximum(V, col(w) * (spot_at(step) - col(K)))
        if lattice is not None and step in (1, 2):
            lattice[f"V{step}"] = V
            lattice[f"S{step}"] = spot_at(step)
    value = V[:, 0]
    if lattice is not None:
        lattice["dt"] = dt
        lattice["valid"] = valid

    if not np.all(valid):
        bad = ~valid
        value = np.where(bad, _deterministic_value(S, K, T, r, q, w, D, tau, steps, american), value)
    return value


def _deterministic_value(S: np.ndarray, K: np.ndarray, T: np.ndarray, r: np.ndarray, q: np.ndarray,
                         w: np.ndarray, D: np.ndarray, tau: np.ndarray, steps: int,
                         american: bool) -> np.ndarray:
    """sigma = 0 value: the stock follows its forward; exercise at the best grid date if American."""
    frac = np.arange(steps + 1, dtype=float) / steps
    t = T[:, None] * frac[None, :]
    s_star = (S - D * np.exp(-r * tau))[:, None] * np.exp((r - q)[:, None] * t)
    pv_div = np.where(t < tau[:, None], D[:, None] * np.exp(-r[:, None] * (tau[:, None] - t)), 0.0)
    payoff = np.maximum(w[:, None] * (s_star + pv_div - K[:, None]), 0.0) * np.exp(-r[:, None] * t)
    return payoff.max(axis=1) if american else payoff[:, -1]


def crr_greeks(S: Any, K: Any, T: Any, r: Any, q: Any, sigma: Any, right: Any, steps: int = CRR_STEPS,
               american: bool = True, div_amount: Any = 0.0, div_time: Any = np.inf) -> dict[str, np.ndarray]:
    """Value and Greeks per share from the CRR tree, in the units of :func:`bsm_greeks`.

    Delta, gamma and theta come from the tree's own nodes (Hull, section 21.1): with node values
    ``f_ij`` and spots ``S_ij`` at step i, ``delta = (f_11 - f_10) / (S_11 - S_10)``,
    ``gamma = [(f_22 - f_21)/(S_22 - S_21) - (f_21 - f_20)/(S_21 - S_20)] / ((S_22 - S_20) / 2)``
    and ``theta = (f_21 - f_00) / (2 dt)`` per year (divided by 365 here). Vega and rho are central
    bump-and-reprice differences (sigma +/- 0.01, r +/- 0.0001) on the same tree. Options where
    the tree is degenerate (see :func:`crr_price`) or ``T <= 0`` get the BSM limits of
    :func:`bsm_greeks`.
    """
    if steps < 2:
        raise ValueError("steps must be >= 2 for tree Greeks")
    w = right_sign(right)
    S, K, T, r, q, sigma, w, D, tau = _broadcast(S, K, T, r, q, sigma, w, div_amount, div_time)
    shape = S.shape
    S, K, T, r, q, sigma, w, D, tau = (a.ravel() for a in (S, K, T, r, q, sigma, w, D, tau))
    out = {k: np.asarray(v, dtype=float).ravel().copy()
           for k, v in bsm_greeks(S, K, T, r, q, sigma, w).items()}
    live = (T > 0) & (sigma > 0)
    if np.any(live):
        i = np.flatnonzero(live)
        args = (S[i], K[i], T[i], r[i], q[i])
        tail = (w[i], D[i], tau[i], steps, american)
        lat: dict[str, np.ndarray] = {}
        f00 = _crr_live(*args, sigma[i], *tail, lattice=lat)
        f1, s1, f2, s2 = lat["V1"], lat["S1"], lat["V2"], lat["S2"]
        delta = (f1[:, 1] - f1[:, 0]) / (s1[:, 1] - s1[:, 0])
        gamma = ((f2[:, 2] - f2[:, 1]) / (s2[:, 2] - s2[:, 1]) - (f2[:, 1] - f2[:, 0]) / (s2[:, 1] - s2[:, 0])) \
            / (0.5 * (s2[:, 2] - s2[:, 0]))
        theta = (f2[:, 1] - f00) / (2.0 * lat["dt"]) / DAYS_PER_YEAR
        d_sig = np.minimum(0.01, 0.5 * sigma[i])
        up = _crr_live(*args, sigma[i] + d_sig, *tail)
        dn = _crr_live(*args, sigma[i] - d_sig, *tail)
        vega = (up - dn) / (2.0 * d_sig) / 100.0
        d_r = 1e-4
        r_up = _crr_live(S[i], K[i], T[i], r[i] + d_r, q[i], sigma[i], *tail)
        r_dn = _crr_live(S[i], K[i], T[i], r[i] - d_r, q[i], sigma[i], *tail)
        rho = (r_up - r_dn) / (2.0 * d_r) / 100.0
        tree_ok = lat["valid"]
        for key, val in (("price", f00), ("delta", delta), ("gamma", gamma), ("theta", theta),
                         ("vega", vega), ("rho", rho)):
            out[key][i] = np.where(tree_ok, val, out[key][i] if key != "price" else f00)
    return {k: (v.reshape(shape) if shape else v.reshape(shape)[()]) for k, v in out.items()}


# --------------------------------------------------------------------------------------------
# Model choice
# --------------------------------------------------------------------------------------------


def crr_model_name(steps: int = CRR_STEPS) -> str:
    return f"CRR-American-{steps}"


def early_exercise_matters(r: Any, q: Any, right: Any, dividend_in_life: Any = False) -> np.ndarray:
    """Where an American contract can be worth more than the European one.

    Puts: whenever ``r > 0``. Calls: only with a dividend before expiry (``q > 0`` or a known
    discrete dividend); without dividends an American call is never exercised early (Merton 1973).
    """
    w = right_sign(right)
    w, r, q, div = np.broadcast_arrays(w, np.asarray(r, float), np.asarray(q, float),
                                       np.asarray(dividend_in_life, bool))
    return np.where(w < 0, r > 0, (q > 0) | div)


def price_option(S: Any, K: Any, T: Any, r: Any, q: Any, sigma: Any, right: Any, style: Style = "auto",
                 steps: int = CRR_STEPS, div_amount: Any = 0.0, div_time: Any = np.inf
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Value per share and the model used per option ("BSM" or "CRR-American-<steps>").

    ``style``: ``"european"`` always BSM (European-exercise contracts such as SPX);
    ``"american"`` always the CRR tree; ``"auto"`` is an American-exercise contract valued by BSM
    where early exercise cannot matter (:func:`early_exercise_matters`) and by CRR elsewhere.
    A known discrete dividend (``div_amount > 0`` with ``0 < div_time < T``) is modelled only by the
    tree; BSM uses the yield ``q``.
    """
    if style not in ("auto", "european", "american"):
        raise ValueError(f"style must be 'auto', 'european' or 'american', not {style!r}")
    w = right_sign(right)
    S, K, T, r, q, sigma, w, D, tau = _broadcast(S, K, T, r, q, sigma, w, div_amount, div_time)
    div_in_life = (D > 0) & (tau > 0) & (tau < T)
    if style == "european":
        use_tree = np.zeros(S.shape, dtype=bool)
    elif style == "american":
        use_tree = np.ones(S.shape, dtype=bool)
    else:
        use_tree = early_exercise_matters(r, q, w, div_in_life)
    price = bsm_price(S, K, T, r, q, sigma, w)
    price = np.asarray(price, dtype=float).copy()
    if np.any(use_tree):
        m = use_tree
        price[m] = crr_price(S[m], K[m], T[m], r[m], q[m], sigma[m], w[m], steps=steps, american=True,
                             div_amount=D[m], div_time=tau[m])
    model = np.where(use_tree, crr_model_name(steps), "BSM")
    return (price if price.ndim else price[()]), model


# --------------------------------------------------------------------------------------------
# Implied volatility
# --------------------------------------------------------------------------------------------


def _fmt(x: float) -> str:
    return f"{x:.2f}" if abs(x) >= 0.995 else f"{x:.4f}"


def implied_vol(price: Any, S: Any, K: Any, T: Any, r: Any, q: Any, right: Any,
                model: Literal["BSM", "CRR"] = "BSM", steps: int = CRR_STEPS, tol_price: float = 1e-12,
                max_iter: int = 100) -> tuple[np.ndarray, list[str | None]]:
    """Implied volatility from a mark, and per option the reason when there is none.

    A vectorised safeguarded Newton search: each iteration keeps a bracket ``[lo, hi]``
    (starting at ``IV_BRACKET`` = [1e-4, 5.0]) where the model price crosses the mark, takes a Newton
    step with the BSM vega, and falls back to bisection when the step leaves the bracket. It stops
    when the price error is below ``tol_price`` (absolute, $ per share) or the bracket is narrower
    than 1e-12. ``model="CRR"`` prices with the American tree (the BSM vega then only steers the
    steps; the bracket guarantees convergence).

    ``T`` is floored at ``T_FLOOR_YEARS`` (one hour) so a 0DTE mark still has an IV; ``T < 0``
    (expired) gives NaN. A mark outside the no-arbitrage bounds gives NaN with the reason, e.g.
    ``"mark 1.23 below intrinsic 1.50 (no-arbitrage bound)"``. Bounds: lower = the zero-vol value
    (``max(w (S e^{-qT} - K e^{-rT}), 0)``; for the American model also the immediate-exercise
    value); upper = ``S e^{-qT}`` (calls) / ``K e^{-rT}`` (puts), ``S`` / ``K`` for American.
    A mark with no time value (within ``tol_price`` of the lower bound, e.g. a 0.00 mark on a far
    out-of-the-money option) has no defined IV: NaN with that reason. So does a mark between a bound
    and the price at the bracket's end.
    """
    if model not in ("BSM", "CRR"):
        raise ValueError("model must be 'BSM' or 'CRR'")
    w = right_sign(right)
    P, S, K, T, r, q, w = _broadcast(price, S, K, T, r, q, w)
    shape = P.shape
    P, S, K, T, r, q, w = (a.ravel() for a in (P, S, K, T, r, q, w))
    n = P.size
    reasons: list[str | None] = [None] * n
    iv = np.full(n, np.nan)

    expired = T < 0
    Tf = np.maximum(T, T_FLOOR_YEARS)
    american = model == "CRR"

    def model_price(sig: np.ndarray, idx: np.ndarray) -> np.ndarray:
        if american:
            return np.asarray(crr_price(S[idx], K[idx], Tf[idx], r[idx], q[idx], sig, w[idx], steps=steps,
                                        american=True), dtype=float)
        return np.asarray(bsm_price(S[idx], K[idx], Tf[idx], r[idx], q[idx], sig, w[idx]), dtype=float)

    fwd_intrinsic = np.maximum(w * (S * np.exp(-q * Tf) - K * np.exp(-r * Tf)), 0.0)
    spot_intrinsic = np.maximum(w * (S - K), 0.0)
    lower = np.maximum(fwd_intrinsic, spot_intrinsic) if american else fwd_intrinsic
    if american:
        upper = np.where(w > 0, S, K)
    else:
        upper = np.where(w > 0, S * np.exp(-q * Tf), K * np.exp(-r * Tf))
    lower_name = "intrinsic"
    upper_name = ("S" if american else "S e^{-qT}", "K" if american else "K e^{-rT}")

    ok = np.ones(n, dtype=bool)
    for i in range(n):
        if not np.isfinite(P[i]) or not np.isfinite(S[i]) or S[i] <= 0 or K[i] <= 0:
            reasons[i] = "mark, spot or strike is missing or not positive"
        elif expired[i]:
            reasons[i] = "option expired: no implied volatility"
        elif P[i] < lower[i] - 1e-12:
            reasons[i] = f"mark {_fmt(P[i])} below {lower_name} {_fmt(lower[i])} (no-arbitrage bound)"
        elif P[i] > upper[i] + 1e-12:
            bound = upper_name[0] if w[i] > 0 else upper_name[1]
            reasons[i] = f"mark {_fmt(P[i])} above {bound} = {_fmt(upper[i])} (no-arbitrage bound)"
        elif P[i] - lower[i] <= tol_price:
            reasons[i] = (f"mark {_fmt(P[i])} equals the no-arbitrage lower bound {_fmt(lower[i])}: "
                          "no time value, implied vol undefined")
        else:
            continue
        ok[i] = False

    idx = np.flatnonzero(ok)
    if idx.size:
        lo = np.full(idx.size, IV_BRACKET[0])
        hi = np.full(idx.size, IV_BRACKET[1])
        p_lo = model_price(lo, idx)
        p_hi = model_price(hi, idx)
        target = P[idx]
        inside = (target >= p_lo - tol_price) & (target <= p_hi + tol_price)
        for m in np.flatnonzero(~inside):
            i = idx[m]
            if target[m] < p_lo[m]:
                reasons[i] = (f"mark {_fmt(P[i])} at or below the value at vol {IV_BRACKET[0]:g} "
                              f"({_fmt(p_lo[m])}): no time value, implied vol undefined")
            else:
                reasons[i] = (f"mark {_fmt(P[i])} above the value at vol {IV_BRACKET[1]:g} "
                              f"({_fmt(p_hi[m])}): implied vol beyond {IV_BRACKET[1]:.0%}")
        idx, lo, hi, target = idx[inside], lo[inside], hi[inside], target[inside]
        sol = _solve_iv(model_price, idx, lo, hi, target, S, K, Tf, r, q, tol_price, max_iter)
        iv[idx] = sol
    out = iv.reshape(shape)
    return (out if out.ndim else out[()]), reasons


def _solve_iv(model_price: Callable[[np.ndarray, np.ndarray], np.ndarray], idx: np.ndarray,
              lo: np.ndarray, hi: np.ndarray, target: np.ndarray, S: np.ndarray, K: np.ndarray,
              T: np.ndarray, r: np.ndarray, q: np.ndarray, tol_price: float, max_iter: int) -> np.ndarray:
    """Bracketed Newton-bisection on the options still searching (price increases with sigma)."""
    # Start from the Brenner-Subrahmanyam-style at-the-money guess, clipped into the bracket
    sigma = np.clip(np.sqrt(2.0 * np.abs(np.log(S[idx] / K[idx]) + (r[idx] - q[idx]) * T[idx]) / T[idx]),
                    0.05, 1.0)
    sigma = np.where(np.isfinite(sigma), np.maximum(sigma, 0.2), 0.2)
    active = np.ones(idx.size, dtype=bool)
    for _ in range(max_iter):
        a = np.flatnonzero(active)
        if a.size == 0:
            break
        ia = idx[a]
        f = model_price(sigma[a], ia) - target[a]
        done = np.abs(f) <= tol_price
        above = f > 0
        hi[a] = np.where(above, sigma[a], hi[a])
        lo[a] = np.where(above, lo[a], sigma[a])
        vega = np.asarray(bsm_greeks(S[ia], K[ia], T[ia], r[ia], q[ia], sigma[a], 1.0)["vega"]) * 100.0
        with np.errstate(divide="ignore", invalid="ignore"):
            newton = sigma[a] - f / vega
        mid = 0.5 * (lo[a] + hi[a])
        use_newton = np.isfinite(newton) & (newton > lo[a]) & (newton < hi[a])
        nxt = np.where(use_newton, newton, mid)
        narrow = (hi[a] - lo[a]) <= 1e-12 * np.maximum(1.0, hi[a])
        sigma[a] = np.where(done, sigma[a], nxt)
        active[a[done | narrow]] = False
    return sigma
