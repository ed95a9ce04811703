"""The engine's values: positions, portfolios, market data and the risk snapshot.

Everything here is a frozen dataclass (or a thin wrapper around a pandas frame that is never
mutated after construction). Sources build :class:`Portfolio` and :class:`MarketData`; the pipeline
(:mod:`wsbrisk_tui.engine.pipeline`) turns them into one :class:`RiskSnapshot`, the single value every
renderer (TUI panes, text/JSON report, SQLite history) reads. A renderer never computes risk.

Conventions (see the README, "Conventions for the numbers"):

* quantities are signed: a short has ``qty < 0`` and a negative market value;
* prices are per share (per unit for crypto); an option's market value is
  ``qty x price x multiplier`` (multiplier 100 for standard US equity options). The rule lives in
  :meth:`Position.market_value_at` and nowhere else;
* VaR and ES are positive losses in the base currency, and as a fraction of NAV in ``*_pct``;
* a number that could not be computed is ``None`` with ``status="n/a"`` and a ``reason``.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import types
import typing
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal

if typing.TYPE_CHECKING:  # pandas is heavy; model import must stay cheap for the CLI
    import pandas as pd

AssetClass = Literal["equity", "etf", "option", "crypto"]
BookMode = Literal["DEMO", "PAPER", "LIVE", "FILE"]
Status = Literal["ok", "n/a"]

ASSET_CLASSES: tuple[str, ...] = ("equity", "etf", "option", "crypto")


# --------------------------------------------------------------------------------------------
# Positions and books
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OptionContract:
    """A listed option. ``underlying`` is the symbol whose price drives it (e.g. ``SPY``)."""

    underlying: str
    expiry: date
    right: Literal["C", "P"]
    strike: float
    multiplier: float = 100.0
    #: The OCC root as written in the symbol; differs from ``underlying`` for adjusted contracts.
    root: str = ""
    #: Adjusted contract (root with a digit suffix, non-standard deliverable): check the multiplier.
    adjusted: bool = False

    def dte(self, as_of: date) -> int:
        """Calendar days to expiry from ``as_of`` (0 on expiry day, negative once expired)."""
        return (self.expiry - as_of).days

    @property
    def occ_symbol(self) -> str:
        from wsbrisk_tui.engine.occ import format_occ

        return format_occ(self.root or self.underlying, self.expiry, self.right, self.strike)


@dataclass(frozen=True)
class Position:
    """One holding as reported by a source.

    ``price`` is the source's mark (per share, per unit); ``None`` means the source had none and
    the price must come from market data. ``origin`` says where the position came from
    (``"book.csv:4"``, ``"positions.json[2]"``) so every later message can point back at it.
    """

    symbol: str
    qty: float
    asset_class: AssetClass
    price: float | None = None
    avg_entry_price: float | None = None
    #: Previous close per share, when the source gives it (Alpaca ``lastday_price``): day P&L.
    lastday_price: float | None = None
    #: Market value as reported by the source (Alpaca), kept to reconcile, never trusted blindly.
    reported_market_value: float | None = None
    strategy: str | None = None
    option: OptionContract | None = None
    origin: str = ""

    @property
    def multiplier(self) -> float:
        return self.option.multiplier if self.option is not None else 1.0

    @property
    def underlying(self) -> str:
        """The symbol whose price history drives this position's risk."""
        return self.option.underlying if self.option is not None else self.symbol

    @property
    def side(self) -> Literal["long", "short"]:
        return "short" if self.qty < 0 else "long"

    def market_value_at(self, price: float) -> float:
        """Signed market value at ``price`` per share: ``qty x price x multiplier``."""
        return self.qty * price * self.multiplier


@dataclass(frozen=True)
class Portfolio:
    """A book: positions, cash and the account's equity when the broker reports it.

    ``cash`` is ``None`` when the source does not know it (a bare CSV of positions); NAV is then
    the sum of market values and the snapshot says so. ``equity`` is the broker's figure (Alpaca
    ``/v2/account`` equity) and is preferred for NAV when present.
    """

    positions: tuple[Position, ...]
    cash: float | None
    source: str
    mode: BookMode
    equity: float | None = None
    as_of: datetime | None = None
    base_currency: str = "USD"
    notes: tuple[str, ...] = ()

    def symbols(self) -> list[str]:
        return [p.symbol for p in self.positions]

    def underlyings(self) -> list[str]:
        """Distinct symbols whose prices the book needs, in first-seen order."""
        seen: dict[str, None] = {}
        for p in self.positions:
            seen.setdefault(p.underlying, None)
        return list(seen)


# --------------------------------------------------------------------------------------------
# Market data
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rate:
    """A rate as a fraction per year (0.0432 = 4.32%), with where it came from.

    ``assumed`` is True when the value is the config's fallback, not an observation.
    """

    value: float
    source: str
    as_of: date | None = None
    assumed: bool = False


@dataclass(frozen=True)
class MarketData:
    """A dates x symbols panel of adjusted closes, plus provenance.

    ``prices`` has a tz-naive ``DatetimeIndex`` (ascending, unique) and one float column per data
    symbol; missing observations are NaN, never filled with zeros. ``series_notes`` says, per
    symbol, where each series comes from (e.g. ``"real: S&P 500 (arch.data.sp500 Adj Close)"`` or
    ``"generated: ..."``) so the UI can say plainly what is real.
    """

    prices: "pd.DataFrame"
    source: str
    as_of: date
    stale: bool = False
    stale_reason: str | None = None
    fetched_at: datetime | None = None
    series_notes: dict[str, str] = field(default_factory=dict)
    risk_free: Rate | None = None
    #: VIX level (index points) by date, when available.
    vix: "pd.Series | None" = None
    vix_source: str | None = None
    notes: tuple[str, ...] = ()

    @property
    def symbols(self) -> list[str]:
        return [str(c) for c in self.prices.columns]


# --------------------------------------------------------------------------------------------
# The snapshot: one immutable value per refresh, everything a pane shows
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PositionRow:
    """A valued position as the positions pane and the report show it."""

    symbol: str
    kind: str  # equity | etf | option | crypto
    description: str  # e.g. "SPY 2026-03-20 600 C" for options, the symbol otherwise
    qty: float
    price: float | None
    price_source: str  # "market data 2018-12-31", "broker mark", ...
    market_value: float | None
    weight: float | None  # market value / NAV
    day_pnl: float | None
    status: Status = "ok"
    reason: str | None = None
    strategy: str | None = None
    avg_entry_price: float | None = None
    unrealized_pnl: float | None = None
    underlying: str | None = None
    #: Decoded contract and Greeks for options (keys documented in the README).
    option: dict[str, Any] | None = None
    origin: str = ""


@dataclass(frozen=True)
class VarResult:
    """VaR and ES of the book for one method, confidence and horizon.

    ``var``/``es`` are positive losses in base currency; ``var_pct``/``es_pct`` are fractions of
    NAV. ``ci`` is a confidence interval for VaR (and ``details["es_ci"]`` for ES) when the
    method provides one. ``details`` carries method specifics: df, threshold/shape, MC standard
    error, window, etc.
    """

    method: str
    confidence: float
    horizon_days: int
    var: float | None
    es: float | None
    var_pct: float | None = None
    es_pct: float | None = None
    ci: tuple[float, float] | None = None
    status: Status = "ok"
    reason: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def unavailable(cls, method: str, confidence: float, horizon_days: int, reason: str,
                    **details: Any) -> "VarResult":
        return cls(method=method, confidence=confidence, horizon_days=horizon_days, var=None,
                   es=None, status="n/a", reason=reason, details=dict(details))


@dataclass(frozen=True)
class Contribution:
    """Per-position VaR attribution for one method and confidence (1-day)."""

    symbol: str
    method: str
    confidence: float
    marginal: float | None  # d VaR / d (position value), per unit of currency
    component: float | None  # Euler component; sums to the total for parametric methods
    incremental: float | None  # VaR(book) - VaR(book without this position)


@dataclass(frozen=True)
class BacktestResult:
    """Out-of-sample coverage tests of 1-day VaR forecasts."""

    method: str
    confidence: float
    observations: int
    exceptions: int | None
    kupiec_lr: float | None = None
    kupiec_p: float | None = None
    christoffersen_lr: float | None = None
    christoffersen_p: float | None = None
    cc_lr: float | None = None
    cc_p: float | None = None
    zone: str | None = None  # green | yellow | red
    status: Status = "ok"
    reason: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SnapshotMeta:
    """Provenance of the whole snapshot: where the data came from and when it was computed."""

    seq: int
    computed_at: datetime
    compute_seconds: float
    mode: str  # DEMO | PAPER | LIVE | FILE | REPLAY
    portfolio_source: str
    market_source: str
    as_of: date | None  # last price date used
    stale: bool = False
    stale_reason: str | None = None
    base_currency: str = "USD"
    version: str = ""
    risk_free: float | None = None
    risk_free_source: str | None = None
    risk_free_assumed: bool = False
    series_notes: dict[str, str] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    #: A quick first pass (fast methods only) published so the screen fills at once; the full
    #: computation follows immediately. Never recorded to history.
    partial: bool = False


@dataclass(frozen=True)
class RiskSnapshot:
    """Everything the screen and the report show for one refresh.

    Sections that a later stage has not computed are ``None`` and ``unavailable[section]`` holds
    the reason, so panes can say "n/a: <reason>" rather than show a plausible blank.
    """

    meta: SnapshotMeta
    nav: float | None
    cash: float | None
    gross_exposure: float | None
    net_exposure: float | None
    positions: tuple[PositionRow, ...]
    var: tuple[VarResult, ...] = ()
    contributions: tuple[Contribution, ...] = ()
    backtest: tuple[BacktestResult, ...] = ()
    #: Later sections (stress, correlation, factors, exposures, alerts, ml) as JSON-ready dicts.
    sections: dict[str, Any] = field(default_factory=dict)
    unavailable: dict[str, str] = field(default_factory=dict)
    day_pnl: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (dates as ISO strings, NaN/inf as ``None``)."""
        return to_jsonable(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "RiskSnapshot":
        """Inverse of :meth:`to_dict` (used by history replay)."""
        return from_jsonable(cls, data)

    def var_for(self, method: str, confidence: float, horizon_days: int) -> VarResult | None:
        for r in self.var:
            if r.method == method and math.isclose(r.confidence, confidence) and r.horizon_days == horizon_days:
                return r
        return None


def holdings_key(holdings: "typing.Iterable[tuple[str, float]]") -> str:
    """A short hash of a book's holdings, (symbol, signed quantity) pairs in any order: the
    ML models of one book are not another's (``ml_service``), and a VaR backtest compares a
    close's VaR with the next day's P&L only when the holdings did not change (``history``)."""
    import hashlib

    lines = sorted(f"{symbol}:{float(qty)!r}" for symbol, qty in holdings)
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()[:16]


# --------------------------------------------------------------------------------------------
# JSON conversion (generic over the frozen dataclasses above)
# --------------------------------------------------------------------------------------------


def to_jsonable(value: Any) -> Any:
    """Convert dataclasses, dates, tuples, NumPy scalars and non-finite floats to JSON values."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    # NumPy scalars and arrays without importing NumPy here
    if hasattr(value, "tolist"):
        return to_jsonable(value.tolist())
    if hasattr(value, "item"):
        return to_jsonable(value.item())
    raise TypeError(f"cannot convert {type(value).__name__} to JSON")


@functools.lru_cache(maxsize=None)
def _field_hints(cls: type) -> tuple[tuple[str, Any], ...]:
    """(field name, resolved type) of a dataclass; resolved once per class (replaying history
    decodes thousands of snapshots, and ``get_type_hints`` is the slow part)."""
    hints = typing.get_type_hints(cls)
    return tuple((f.name, hints[f.name]) for f in dataclasses.fields(cls))


def from_jsonable(cls: Any, data: Any) -> Any:
    """Rebuild ``cls`` (a dataclass or a typing annotation) from :func:`to_jsonable` output."""
    if data is None:
        return None
    origin = typing.get_origin(cls)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(cls) if a is not type(None)]
        if len(args) == 1:
            return from_jsonable(args[0], data)
        return data
    if origin is tuple:
        args = typing.get_args(cls)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(from_jsonable(args[0], v) for v in data)
        return tuple(from_jsonable(a, v) for a, v in zip(args, data))
    if origin is Literal:
        return data
    if origin in (dict, list) or cls in (dict, list, Any) or cls is typing.Any:
        return data
    if isinstance(cls, type) and dataclasses.is_dataclass(cls):
        hints = _field_hints(cls)
        kwargs = {name: from_jsonable(hint, data[name]) for name, hint in hints if name in data}
        return cls(**kwargs)
    if cls is datetime:
        return datetime.fromisoformat(data)
    if cls is date:
        return date.fromisoformat(data)
    if cls is float:
        return float(data)
    return data
