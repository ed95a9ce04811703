"""Typed configuration: TOML in (tomllib), TOML out (tomli-w), platformdirs paths.

The configuration is a tree of frozen dataclasses. Every field is declared once, with
:func:`_opt`, which carries its default, its documentation (what, unit, range) and its
validation rule. That declaration is the single source of truth for three things:

* validation of a user's file (:func:`load_config`): unknown keys get a "did you mean" hint,
  wrong types name the expected type, out-of-range values name the range, and every message
  names the dotted key and the ``file:line`` where it is written;
* the commented default file (:func:`default_config_text`, written by ``wsbrisk-tui config init``
  and committed as ``config.example.toml``, which a test keeps identical);
* the documentation a reader finds next to the field in this module.

Resolution of the file (:func:`locate_config`): an explicit path, else ``$WSBRISK_CONFIG``, else
``<user config dir>/config.toml`` when it exists, else the built-in defaults.

Secrets (the Alpaca and FRED keys) are held in :class:`Secret`, whose ``repr``/``str`` is ``***``;
:meth:`Config.to_dict` masks them and error messages never quote them. The environment wins
over the file (:meth:`Config.alpaca_credentials`, :meth:`Config.fred_api_key`).

Importing this module stays cheap (stdlib, tomllib, platformdirs): ``tomli_w`` is imported only
when a file is written.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import os
import re
import tomllib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import platformdirs

from wsbrisk_tui.errors import InputError, located
from wsbrisk_tui.keys import BINDING_IDS

APP_NAME = "wsbrisk-tui"
#: Environment variable naming the config file (overridden by an explicit path or ``--config``).
CONFIG_ENV_VAR = "WSBRISK_CONFIG"
CONFIG_FILE_NAME = "config.toml"

THEMES: tuple[str, ...] = ("default", "light", "high-contrast", "monochrome")
POSITION_SOURCES: tuple[str, ...] = ("demo", "csv", "alpaca-json", "alpaca")
PRICE_SOURCES: tuple[str, ...] = ("yfinance", "csv", "demo")
RATE_SOURCES: tuple[str, ...] = ("fred", "config")
VAR_METHODS: tuple[str, ...] = (
    "parametric_normal", "cornish_fisher", "student_t", "garch_normal", "garch_t", "historical",
    "historical_weighted", "filtered_historical", "monte_carlo", "monte_carlo_t_copula", "evt_gpd",
    "regime_scaled", "ml_quantile",
)
#: Limit tiers: (max_position_weight, max_total_exposure) as fractions of NAV.
TIER_PRESETS: dict[str, tuple[float, float]] = {
    "conservative": (0.10, 0.30),
    "moderate": (0.20, 0.50),
    "aggressive": (0.35, 0.80),
}
#: Factor shocks a user scenario may set. ``*_bp`` are basis points, ``vix_points`` VIX index
#: points, the others fractional price moves (-0.20 = -20%). Upper-case keys are per-symbol moves.
SCENARIO_FACTORS: tuple[str, ...] = (
    "equity", "tech", "small_caps", "rates_bp", "credit_bp", "oil", "gold", "crypto", "vix_points",
)
_ADDITIVE_FACTORS = frozenset({"rates_bp", "credit_bp", "vix_points"})
#: Factors a ``[betas]`` override may set (the engine's ``factors.FACTOR_NAMES``; a test keeps
#: the two equal without importing NumPy here).
BETA_FACTORS: tuple[str, ...] = ("equity", "tech", "small_caps", "rates", "credit", "oil", "gold", "crypto")

ALPACA_ENV_PAIRS: tuple[tuple[str, str], ...] = (
    ("ALPACA_API_KEY", "ALPACA_SECRET_KEY"),
    ("APCA_API_KEY_ID", "APCA_API_SECRET_KEY"),
)
FRED_ENV_VAR = "FRED_API_KEY"


# --------------------------------------------------------------------------------------------
# Secrets and field declarations
# --------------------------------------------------------------------------------------------


class Secret:
    """A credential that never prints: ``repr``/``str``/``format`` show ``***`` (or nothing when
    unset). Read the value with :meth:`reveal`, only where it is sent to the service."""

    __slots__ = ("_value",)

    def __init__(self, value: str = "") -> None:
        object.__setattr__(self, "_value", str(value))

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Secret is immutable")

    def reveal(self) -> str:
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __repr__(self) -> str:
        return "Secret('***')" if self._value else "Secret('')"

    def __str__(self) -> str:
        return "***" if self._value else ""

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash((Secret, self._value))

    def __reduce__(self) -> tuple[Any, ...]:
        return (Secret, (self._value,))


@dataclass(frozen=True)
class FieldSpec:
    """How one config key is documented and checked. Ranges apply to each item of an array."""

    doc: str
    unit: str = ""
    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False
    hi_open: bool = False
    choices: tuple[Any, ...] = ()
    #: Strings and arrays: must not be empty.
    nonempty: bool = False
    #: A filesystem path: ``~`` is expanded, a relative path is taken from the config file's folder.
    path: bool = False
    #: Must start with http:// or https:// when set.
    url: bool = False
    #: A regular expression a string must match in full, with a description for the message.
    pattern: tuple[str, str] | None = None
    #: For a key that may be absent (no TOML null): the value shown, commented, in the example.
    example: Any = None


def _opt(default: Any, doc: str, **spec: Any) -> Any:
    """Declare a config field: its default, its documentation and its validation rule."""
    return field(default=default, metadata={"spec": FieldSpec(doc, **spec)})


def _table(doc: str) -> Any:
    """Declare a free string -> string table (``[symbols]``, ``[keymap]``)."""
    return field(default_factory=lambda: types.MappingProxyType({}),
                 metadata={"spec": FieldSpec(doc)})


# --------------------------------------------------------------------------------------------
# Sections
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GeneralConfig:
    """General settings: refresh, look, currency, randomness, snapshots."""

    refresh_seconds: float = _opt(
        60.0, "Seconds between refreshes of positions, prices and risk.", unit="seconds", lo=1.0)
    theme: str = _opt("default", "Colour theme.", choices=THEMES)
    base_currency: str = _opt(
        "USD", "Currency of the book: VaR, ES and P&L are reported in it (ISO 4217 code).",
        pattern=(r"[A-Z]{3}", "a three-letter upper-case ISO 4217 code such as USD"))
    seed: int = _opt(
        20240101, "Seed of the one numpy Generator (Monte Carlo, bootstrap): runs repeat exactly.",
        lo=0)
    snapshot_dir: str = _opt(
        "", 'Folder where the "s" key writes text snapshots of the screen. '
            'Empty: "snapshots" in the user data folder.', path=True)


@dataclass(frozen=True)
class SourcesConfig:
    """Where positions, prices and rates come from."""

    positions: str = _opt(
        "demo", "Positions source: demo (bundled demo book), csv (positions_file), alpaca-json "
                "(a saved /v2/positions JSON in positions_file), alpaca (the live API).",
        choices=POSITION_SOURCES)
    positions_file: str = _opt("", "Positions file for csv or alpaca-json.", path=True)
    account_file: str = _opt(
        "", "A saved Alpaca /v2/account JSON (cash and equity) to go with positions_file.",
        path=True)
    prices: str = _opt(
        "yfinance", "Price history source: yfinance (Yahoo, cached), csv (prices_file: a 'date' "
                    "column and one adjusted-close column per symbol), demo (bundled).",
        choices=PRICE_SOURCES)
    prices_file: str = _opt("", "Prices CSV for prices = \"csv\".", path=True)
    offline: bool = _opt(False, "Never touch the network: cached or local data only.")
    history_days: int = _opt(
        1260, "Trading days of daily price history to fetch (1260 = five years).", unit="days",
        lo=60)
    yfinance_timeout_seconds: float = _opt(
        10.0, "Timeout of one Yahoo request.", unit="seconds", lo=0.0, lo_open=True)
    rates: str = _opt(
        "fred", "Risk-free rate source: fred (FRED series, see [fred]) or config (risk_free_rate).",
        choices=RATE_SOURCES)
    risk_free_rate: float = _opt(
        0.04, "Annual risk-free rate used when rates = \"config\" or FRED is unavailable (then "
              "shown as assumed).", unit="fraction per year", lo=-0.05, hi=0.5)
    stale_after_days: int = _opt(
        3, "Market data older than this many business days is marked stale.",
        unit="business days", lo=1)


@dataclass(frozen=True)
class AlpacaConfig:
    """Alpaca broker API (positions = "alpaca"). Keys are better kept in the environment:
    ALPACA_API_KEY / ALPACA_SECRET_KEY (or APCA_API_KEY_ID / APCA_API_SECRET_KEY) win over these."""

    paper: bool = _opt(True, "Use the paper-trading endpoint (false: the live account).")
    api_key: Secret = _opt(Secret(), "API key id (prefer the environment).")
    secret_key: Secret = _opt(Secret(), "API secret key (prefer the environment).")
    base_url: str = _opt(
        "", "Override the API base URL (a proxy or a test server). Empty: Alpaca's own.", url=True)
    timeout_seconds: float = _opt(
        10.0, "Timeout of one Alpaca request.", unit="seconds", lo=0.0, lo_open=True)


@dataclass(frozen=True)
class FredConfig:
    """FRED (St. Louis Fed) series for the risk-free rate and the VIX. The FRED_API_KEY
    environment variable wins over api_key."""

    api_key: Secret = _opt(Secret(), "FRED API key (prefer the environment).")
    timeout_seconds: float = _opt(
        10.0, "Timeout of one FRED request.", unit="seconds", lo=0.0, lo_open=True)
    series_risk_free: str = _opt(
        "DGS3MO", "Series of the risk-free rate (percent per year; DGS3MO = 3-month Treasury).",
        nonempty=True)
    series_vix: str = _opt("VIXCLS", "Series of the VIX close.", nonempty=True)


@dataclass(frozen=True)
class RiskConfig:
    """VaR and ES: levels, horizons, estimation window and method parameters."""

    confidence_levels: tuple[float, ...] = _opt(
        (0.95, 0.99, 0.999), "Confidence levels of the VaR ladder.", lo=0.5, hi=1.0,
        lo_open=True, hi_open=True, nonempty=True)
    horizons: tuple[int, ...] = _opt(
        (1, 5, 10), "Horizons of the VaR ladder.", unit="trading days", lo=1, hi=250,
        nonempty=True)
    window: int = _opt(252, "Estimation window.", unit="trading days", lo=30)
    methods: tuple[str, ...] = _opt(
        (), "VaR methods to run; empty runs all of them.", choices=VAR_METHODS)
    hs_lambda: float = _opt(
        0.98, "Decay of age-weighted historical simulation (Boudoukh, Richardson & Whitelaw 1998).",
        lo=0.0, hi=1.0, lo_open=True, hi_open=True)
    ewma_lambda: float = _opt(
        0.94, "EWMA volatility decay (RiskMetrics 1996: 0.94 for daily data).",
        lo=0.0, hi=1.0, lo_open=True, hi_open=True)
    mc_paths: int = _opt(10000, "Monte Carlo paths.", unit="paths", lo=1000, hi=10_000_000)
    bootstrap_replicates: int = _opt(
        1000, "Bootstrap replicates for confidence intervals.", unit="replicates", lo=100,
        hi=1_000_000)
    backtest_days: int = _opt(
        250, "Days of the VaR backtest (Kupiec and Christoffersen tests).", unit="trading days",
        lo=20)
    garch_refit_days: int = _opt(
        20, "Refit GARCH models every this many new observations.", unit="trading days", lo=1)
    backtest_refit_days: int = _opt(
        60, "In the backtest, re-estimate the models that need a fit (GARCH, FHS, t copula, EVT, "
            "non-linear Monte Carlo) every this many test days; GARCH variance is filtered daily "
            "in between, the others hold their forecast.", unit="trading days", lo=1)
    garch_window: int = _opt(
        1000, "Estimation window of the GARCH methods and filtered historical simulation (GARCH "
              "needs years, not months, to pin its persistence down; the history is used up to "
              "this length).", unit="trading days", lo=250)
    model_risk_factor: float = _opt(
        2.0, "Flag model risk when the largest VaR across methods exceeds the smallest by this "
             "factor.", unit="ratio", lo=1.0, lo_open=True)
    t_copula_regimes: int = _opt(
        1, "Regimes of the Student-t copula Monte Carlo (1, or 2 for calm/stressed).",
        choices=(1, 2))
    t_copula_marginals: str = _opt(
        "empirical", "Marginals of the Student-t copula Monte Carlo: each asset's empirical "
                     "returns, or a fitted Student t.", choices=("empirical", "t"))


@dataclass(frozen=True)
class EffectiveLimits:
    """The limit set in force, with the origin of each value, so the UI can show it explicitly."""

    tier: str
    max_position_weight: float
    max_total_exposure: float
    var99_1d_pct: float
    es99_1d_pct: float
    stress_loss_pct: float
    daily_drawdown_pct: float
    min_effective_positions: float
    correlation_threshold: float
    hysteresis_frac: float
    #: Names of the limits whose value comes from the tier preset (not set in the file).
    from_tier: frozenset[str]

    def origin(self, name: str) -> str:
        """``"tier <name>"`` for a preset value, ``"config"`` otherwise."""
        return f"tier {self.tier}" if name in self.from_tier else "config"

    def rows(self) -> list[tuple[str, float, str]]:
        """(limit name, value, origin) in display order."""
        names = [f.name for f in dataclasses.fields(self) if f.name not in ("tier", "from_tier")]
        return [(n, getattr(self, n), self.origin(n)) for n in names]


@dataclass(frozen=True)
class LimitsConfig:
    """Risk limits the alerts check, as fractions of NAV unless stated. The tier sets the two
    concentration limits unless max_position_weight / max_total_exposure are set explicitly."""

    tier: str = _opt(
        "moderate", "Preset for the concentration limits: conservative (0.10 position / 0.30 "
                    "total), moderate (0.20 / 0.50), aggressive (0.35 / 0.80).",
        choices=tuple(TIER_PRESETS))
    max_position_weight: float | None = _opt(
        None, "Largest |market value| / NAV of one position. Absent: from the tier.",
        unit="fraction of NAV", lo=0.0, hi=1.0, lo_open=True, example=0.20)
    max_total_exposure: float | None = _opt(
        None, "Largest gross exposure (sum of |market value|) / NAV. Absent: from the tier.",
        unit="fraction of NAV", lo=0.0, hi=10.0, lo_open=True, example=0.50)
    var99_1d_pct: float = _opt(
        0.05, "Limit on the 99% 1-day VaR.", unit="fraction of NAV", lo=0.0, hi=1.0, lo_open=True)
    es99_1d_pct: float = _opt(
        0.07, "Limit on the 99% 1-day expected shortfall.", unit="fraction of NAV", lo=0.0,
        hi=1.0, lo_open=True)
    stress_loss_pct: float = _opt(
        0.25, "Limit on the worst stress-scenario loss.", unit="fraction of NAV", lo=0.0, hi=1.0,
        lo_open=True)
    daily_drawdown_pct: float = _opt(
        0.06, "Daily drawdown circuit breaker (loss since the previous close).",
        unit="fraction of NAV", lo=0.0, hi=1.0, lo_open=True)
    min_effective_positions: float = _opt(
        5.0, "Alert when the effective number of positions (1 / sum of squared weights) falls "
             "below this.", unit="positions", lo=1.0)
    correlation_threshold: float = _opt(
        0.8, "Alert on pairs of positions whose return correlation exceeds this.", lo=0.0,
        hi=1.0, lo_open=True, hi_open=True)
    hysteresis_frac: float = _opt(
        0.05, "An alert clears only once the value is back this fraction inside the limit "
              "(0.05: 5% below it), so it does not flap.", unit="fraction of the limit",
        lo=0.0, hi=0.5, hi_open=True)

    def effective(self) -> EffectiveLimits:
        """The active limits: explicit values win; absent concentration limits come from the
        tier preset (:data:`TIER_PRESETS`)."""
        pos_tier, total_tier = TIER_PRESETS[self.tier]
        from_tier = set()
        pos = self.max_position_weight
        if pos is None:
            pos = pos_tier
            from_tier.add("max_position_weight")
        total = self.max_total_exposure
        if total is None:
            total = total_tier
            from_tier.add("max_total_exposure")
        return EffectiveLimits(
            tier=self.tier, max_position_weight=pos, max_total_exposure=total,
            var99_1d_pct=self.var99_1d_pct, es99_1d_pct=self.es99_1d_pct,
            stress_loss_pct=self.stress_loss_pct, daily_drawdown_pct=self.daily_drawdown_pct,
            min_effective_positions=self.min_effective_positions,
            correlation_threshold=self.correlation_threshold,
            hysteresis_frac=self.hysteresis_frac, from_tier=frozenset(from_tier))


@dataclass(frozen=True)
class AlertsConfig:
    """What happens when a limit is breached (besides the alerts pane)."""

    bell: bool = _opt(False, "Ring the terminal bell on a new alert.")
    hook_command: str = _opt(
        "", "Command run on each new alert, with the alert as JSON on its standard input "
            "(e.g. a script that posts to chat). Empty: none.")
    hook_timeout_seconds: float = _opt(
        5.0, "The hook is killed after this long.", unit="seconds", lo=0.0, lo_open=True)


@dataclass(frozen=True)
class HistoryConfig:
    """The local SQLite history of snapshots and alerts."""

    path: str = _opt(
        "", 'Database file. Empty: "history.sqlite3" in the user data folder.', path=True)
    retention_full_days: int = _opt(
        30, "Keep full snapshots this long; 0 keeps them forever.", unit="days", lo=0)
    retention_headline_days: int = _opt(
        0, "Keep headline numbers (VaR, ES, NAV) this long; 0 keeps them forever.", unit="days",
        lo=0)


@dataclass(frozen=True)
class MlConfig:
    """Machine-learning forecasts (ML pane; regime_scaled and ml_quantile VaR rows), judged out
    of sample against GARCH(1,1). The dashboard and the daemon train in the background."""

    enabled: bool = _opt(True, "Train and show the machine-learning forecasts.")
    history_days: int = _opt(
        2520, "Daily history the models train and are judged on (10 years; less when the data "
              "is shorter).", unit="trading days", lo=600)
    refit_days: int = _opt(
        63, "Walk-forward refit interval of the book's models.", unit="trading days", lo=5)
    per_position: bool = _opt(
        True, "Also compare the volatility models on each underlying's own returns.")
    position_refit_days: int = _opt(
        378, "Walk-forward refit interval of the per-position models (three fits over the "
             "3-year test: one model per position and horizon costs ~0.5 s a fit).",
        unit="trading days", lo=5)
    position_test_days: int = _opt(
        756, "Out-of-sample test span of the per-position models (the last 3 years).",
        unit="trading days", lo=100)
    regimes: int = _opt(2, "Volatility regimes of the Markov-switching model.", choices=(2, 3))
    retrain_after_book_change_minutes: float = _opt(
        30.0, "Retrain at most this often when the book changes (models always retrain on a "
              "new daily close).", unit="minutes", lo=0.0)


@dataclass(frozen=True)
class ScenarioConfig:
    """A user stress scenario: instantaneous shocks applied to the book."""

    name: str
    description: str = ""
    #: Factor -> shock: fractional moves for prices (-0.2 = -20%), basis points for ``*_bp``, VIX
    #: points for ``vix_points``; an upper-case key (``"NVDA"``) overrides one symbol's move.
    shocks: Mapping[str, float] = field(default_factory=lambda: types.MappingProxyType({}))


@dataclass(frozen=True)
class Config:
    """The whole configuration. ``source`` is the file it was read from, or ``"defaults"``."""

    general: GeneralConfig = field(default_factory=GeneralConfig)
    sources: SourcesConfig = field(default_factory=SourcesConfig)
    alpaca: AlpacaConfig = field(default_factory=AlpacaConfig)
    fred: FredConfig = field(default_factory=FredConfig)
    symbols: Mapping[str, str] = _table(
        'Book symbol -> data (Yahoo) symbol where the two differ, e.g. "BRK.B" = "BRK-B".')
    betas: Mapping[str, Mapping[str, float]] = _table(
        "Per-symbol factor betas that replace the estimated ones in stress testing, e.g. "
        "NVDA = { equity = 1.8, tech = 1.3 }. Factors: " + ", ".join(BETA_FACTORS) + ".")
    risk: RiskConfig = field(default_factory=RiskConfig)
    limits: LimitsConfig = field(default_factory=LimitsConfig)
    alerts: AlertsConfig = field(default_factory=AlertsConfig)
    history: HistoryConfig = field(default_factory=HistoryConfig)
    ml: MlConfig = field(default_factory=MlConfig)
    scenarios: tuple[ScenarioConfig, ...] = ()
    keymap: Mapping[str, str] = _table(
        'Binding id -> keys, comma-separated (Textual key names), e.g. help = "question_mark,f1".')
    #: The file this was read from, or "defaults". Not part of equality.
    source: str = field(default="defaults", compare=False)
    #: Dotted keys set explicitly (in the file or by an override). Not part of equality.
    keys_set: tuple[str, ...] = field(default=(), compare=False, repr=False)

    # -- secrets --------------------------------------------------------------------------

    def alpaca_credentials(self, env: Mapping[str, str] = os.environ) -> tuple[str, str] | None:
        """(key id, secret) from ``ALPACA_API_KEY``/``ALPACA_SECRET_KEY``, then
        ``APCA_API_KEY_ID``/``APCA_API_SECRET_KEY``, then ``[alpaca]``; ``None`` when none is set.
        A half-set pair is an error, not a silent fall-through to the next source."""
        for key_var, secret_var in ALPACA_ENV_PAIRS:
            key, secret = env.get(key_var, ""), env.get(secret_var, "")
            if key and secret:
                return key, secret
            if key or secret:
                have, missing = (key_var, secret_var) if key else (secret_var, key_var)
                raise InputError(f"environment: {have} is set but {missing} is not "
                                 f"(set both, or neither)")
        if self.alpaca.api_key and self.alpaca.secret_key:
            return self.alpaca.api_key.reveal(), self.alpaca.secret_key.reveal()
        return None

    def fred_api_key(self, env: Mapping[str, str] = os.environ) -> str | None:
        """The FRED key from ``FRED_API_KEY``, then ``[fred] api_key``; ``None`` when unset."""
        value = env.get(FRED_ENV_VAR, "")
        if value:
            return value
        return self.fred.api_key.reveal() or None

    def secret_origins(self, env: Mapping[str, str] = os.environ) -> dict[str, str]:
        """Where each credential would come from (never the value), for ``config locate``."""
        alpaca = "not set"
        for key_var, secret_var in ALPACA_ENV_PAIRS:
            have = [v for v in (key_var, secret_var) if env.get(v)]
            if len(have) == 2:
                alpaca = f"environment ({key_var}, {secret_var})"
                break
            if have:
                missing = secret_var if have[0] == key_var else key_var
                alpaca = f"INCOMPLETE: environment has {have[0]} but not {missing}"
                break
        else:
            if self.alpaca.api_key and self.alpaca.secret_key:
                alpaca = f"config ({self.source})"
        if env.get(FRED_ENV_VAR):
            fred = f"environment ({FRED_ENV_VAR})"
        elif self.fred.api_key:
            fred = f"config ({self.source})"
        else:
            fred = "not set"
        return {"alpaca": alpaca, "fred": fred}

    # -- conversion -----------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """Plain data (JSON/TOML-ready) of every section; secrets masked as ``"***"`` when set.
        Absent optional limits are ``None``."""
        return _config_to_dict(self, reveal_secrets=False)

    def with_overrides(self, values: Mapping[str, Any], *,
                       labels: Mapping[str, str] | None = None) -> Config:
        """A copy with dotted keys replaced (``{"general.theme": "light"}``), validated like a
        file. ``labels`` names where each value came from (``{"general.theme": "--theme"}``) for
        the error message; the default is "command line"."""
        data = _config_to_dict(self, reveal_secrets=True)
        for table in data.values():
            if isinstance(table, dict):
                for key in [k for k, v in table.items() if v is None]:
                    del table[key]  # TOML has no null: an absent key is "not set"
        for dotted, value in values.items():
            parts = dotted.split(".")
            node = data
            for part in parts[:-1]:
                node = node.setdefault(part, {})
            node[parts[-1]] = value
        by_path = {tuple(k.split(".")): v for k, v in (labels or {}).items()}
        where = _Where(None, None, labels=by_path, default_label="command line")
        cfg = _build_config(data, where, set_keys=False)
        keys = tuple(dict.fromkeys((*self.keys_set, *values)))
        return dataclasses.replace(cfg, source=self.source, keys_set=keys)

    def paths(self) -> AppPaths:
        """Where this configuration's files live (see :class:`AppPaths`)."""
        return AppPaths.resolve(self)


def _config_to_dict(cfg: Config, *, reveal_secrets: bool) -> dict[str, Any]:
    def conv(value: Any) -> Any:
        if isinstance(value, Secret):
            if reveal_secrets:
                return value.reveal()
            return "***" if value else ""
        if isinstance(value, tuple):
            return [conv(v) for v in value]
        if isinstance(value, Mapping):
            return {k: conv(v) for k, v in value.items()}
        if dataclasses.is_dataclass(value):
            return {f.name: conv(getattr(value, f.name)) for f in dataclasses.fields(value)}
        return value

    return {name: conv(getattr(cfg, name)) for name in _SECTION_NAMES}


# --------------------------------------------------------------------------------------------
# Paths
# --------------------------------------------------------------------------------------------


def default_config_path() -> Path:
    """``<platformdirs user_config_dir>/config.toml`` (honours ``XDG_CONFIG_HOME`` on Linux)."""
    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False)) / CONFIG_FILE_NAME


@dataclass(frozen=True)
class ConfigLocation:
    """Which config file applies and why."""

    path: Path
    #: "argument" (explicit path / --config), "WSBRISK_CONFIG", or "user config dir".
    origin: str
    exists: bool

    @property
    def required(self) -> bool:
        """A file named explicitly must exist; the user-dir default may be absent."""
        return self.origin != "user config dir"


def locate_config(path: str | Path | None = None,
                  env: Mapping[str, str] = os.environ) -> ConfigLocation:
    """Resolve the config file: explicit ``path``, else ``$WSBRISK_CONFIG``, else the user dir."""
    if path is not None and str(path) != "":
        p, origin = Path(path).expanduser(), "argument"
    elif env.get(CONFIG_ENV_VAR):
        p, origin = Path(env[CONFIG_ENV_VAR]).expanduser(), CONFIG_ENV_VAR
    else:
        p, origin = default_config_path(), "user config dir"
    return ConfigLocation(path=p, origin=origin, exists=p.is_file())


@dataclass(frozen=True)
class AppPaths:
    """Every file and folder the application uses (platformdirs, appname ``wsbrisk-tui``)."""

    config_file: Path
    data_dir: Path
    cache_dir: Path
    log_dir: Path
    snapshot_dir: Path
    history_db: Path

    @classmethod
    def resolve(cls, config: Config | None = None, *, config_file: Path | None = None) -> AppPaths:
        """Paths for ``config`` (its overrides of snapshot_dir and history.path win). The
        platform folders are read from the process environment at call time (``XDG_*``)."""
        cfg = config or Config()
        if config_file is None:
            config_file = Path(cfg.source) if cfg.source != "defaults" else default_config_path()
        data_dir = Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))
        snapshot_dir = (Path(cfg.general.snapshot_dir) if cfg.general.snapshot_dir
                        else data_dir / "snapshots")
        history_db = Path(cfg.history.path) if cfg.history.path else data_dir / "history.sqlite3"
        return cls(
            config_file=config_file,
            data_dir=data_dir,
            cache_dir=Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False)),
            log_dir=Path(platformdirs.user_log_dir(APP_NAME, appauthor=False)),
            snapshot_dir=snapshot_dir,
            history_db=history_db,
        )


# --------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------


def load_config(path: str | Path | None = None, env: Mapping[str, str] = os.environ) -> Config:
    """Read and validate the config (see :func:`locate_config` for which file).

    Raises :class:`InputError` listing every problem, each as ``file:line: key: what (fix)``.
    """
    loc = locate_config(path, env)
    if not loc.exists:
        if loc.path.is_dir():
            raise InputError(located(loc.path, None, "is a folder, not a config file",
                                     "name a .toml file"))
        if loc.required:
            how = "--config / argument" if loc.origin == "argument" else f"${loc.origin}"
            raise InputError(located(loc.path, None, f"config file not found (named by {how})",
                                     f"create it with `wsbrisk-tui config init --path {loc.path}`"))
        return Config()
    try:
        raw = loc.path.read_bytes()
    except OSError as exc:
        raise InputError(located(loc.path, None, f"cannot read the config file: {exc.strerror}",
                                 "check its permissions")) from exc
    return parse_config_text(_decode(raw, loc.path), loc.path)


def _decode(raw: bytes, path: Path) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        col = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise InputError(f"{path}:{line}:{col}: the file is not valid UTF-8 text "
                         f"(save it as UTF-8)") from exc


_TOML_POS = re.compile(r"^(?P<msg>.*) \(at line (?P<line>\d+), column (?P<col>\d+)\)$", re.S)


def parse_config_text(text: str, path: str | Path | None = None) -> Config:
    """Validate TOML ``text`` (read from ``path``, used in messages and for relative paths)."""
    shown = str(path) if path is not None else "<config>"
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(_syntax_message(str(exc), text, shown)) from exc
    base_dir = Path(path).absolute().parent if path is not None else None
    where = _Where(shown, text, base_dir=base_dir)
    cfg = _build_config(data, where, set_keys=True)
    return dataclasses.replace(cfg, source=str(path) if path is not None else "<config>")


def _syntax_message(message: str, text: str, shown: str) -> str:
    m = _TOML_POS.match(message)
    if m:
        msg, line, col = m["msg"], int(m["line"]), int(m["col"])
    else:
        # tomllib says "(at end of document)": point after the last character.
        msg = message.replace(" (at end of document)", " at the end of the file")
        lines = text.split("\n")
        if len(lines) > 1 and lines[-1] == "":
            lines = lines[:-1]
        line, col = max(len(lines), 1), len(lines[-1]) + 1 if lines else 1
    return (f"{shown}:{line}:{col}: TOML syntax error: {msg} "
            f"(fix the syntax; see config.example.toml)")


# --------------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------------

_SECTIONS: dict[str, type] = {
    "general": GeneralConfig, "sources": SourcesConfig, "alpaca": AlpacaConfig,
    "fred": FredConfig, "risk": RiskConfig, "limits": LimitsConfig, "alerts": AlertsConfig,
    "history": HistoryConfig, "ml": MlConfig,
}
_SECTION_NAMES: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(Config)
                                        if f.name not in ("source", "keys_set"))
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_BAD = object()  # a value that failed validation


def _fields(cls: type) -> dict[str, tuple[dataclasses.Field[Any], Any]]:
    hints = typing.get_type_hints(cls)
    return {f.name: (f, hints[f.name]) for f in dataclasses.fields(cls)}


def _key_text(path: tuple[str | int, ...]) -> str:
    """``risk.window``, ``symbols."BRK.B"``, ``scenarios[0].shocks.equity``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            shown = part if _BARE_KEY.fullmatch(part) else f'"{part}"'
            out += ("." if out else "") + shown
    return out


def _show(value: Any) -> str:
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value)


def _type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    return f"a {type(value).__name__}"  # dates and times


def _suggest(word: str, options: typing.Iterable[str]) -> str | None:
    hits = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return hits[0] if hits else None


class _Where:
    """Turns a key path into ``file:line`` by scanning the TOML text (tomllib keeps no lines)."""

    def __init__(self, shown: str | None, text: str | None, *, base_dir: Path | None = None,
                 labels: Mapping[tuple[str, ...], str] | None = None,
                 default_label: str = "<config>") -> None:
        self.shown = shown
        self.base_dir = base_dir
        self.lines = _index_lines(text) if text is not None else {}
        self.labels = dict(labels or {})
        self.default_label = default_label
        self._problems: list[tuple[int, int, str]] = []

    @property
    def problems(self) -> list[str]:
        """Messages in file order (cross-key checks sit at the line of the key they name)."""
        return [msg for _, _, msg in sorted(self._problems)]

    def line_of(self, path: tuple[str | int, ...]) -> int | None:
        for n in range(len(path), 0, -1):
            line = self.lines.get(path[:n])
            if line is not None:
                return line
        return None

    def add(self, path: tuple[str | int, ...], what: str, fix: str | None = None, *,
            section: bool = False) -> None:
        """Record a problem at ``path``; ``section`` shows the key as a table header ``[name]``."""
        if self.shown is None:
            label = self.labels.get(tuple(str(p) for p in path), self.default_label)
            self._problems.append((0, len(self._problems),
                                   located(label, None, f"{_key_text(path)}: {what}", fix)))
        else:
            line = self.line_of(path)
            key = f"[{_key_text(path)}]" if section else _key_text(path)
            self._problems.append((line or 0, len(self._problems),
                                   located(self.shown, line, f"{key}: {what}", fix)))


def _split_key(s: str) -> tuple[list[str], str] | None:
    """Parse a (dotted, possibly quoted) TOML key at the start of ``s``: (parts, rest)."""
    parts: list[str] = []
    i = 0
    while True:
        while i < len(s) and s[i] in " \t":
            i += 1
        if i >= len(s):
            return None
        if s[i] == '"':
            j, buf = i + 1, []
            while j < len(s) and s[j] != '"':
                if s[j] == "\\" and j + 1 < len(s):
                    buf.append(s[j + 1])
                    j += 2
                    continue
                buf.append(s[j])
                j += 1
            if j >= len(s):
                return None
            parts.append("".join(buf))
            i = j + 1
        elif s[i] == "'":
            j = s.find("'", i + 1)
            if j < 0:
                return None
            parts.append(s[i + 1:j])
            i = j + 1
        else:
            m = _BARE_KEY.match(s, i)
            if not m:
                return None
            parts.append(m.group())
            i = m.end()
        while i < len(s) and s[i] in " \t":
            i += 1
        if i < len(s) and s[i] == ".":
            i += 1
            continue
        return parts, s[i:]


def _index_lines(text: str) -> dict[tuple[str | int, ...], int]:
    """Map each table header and key path to its first line. Array-of-tables elements are
    numbered: ``[[scenarios]]`` twice gives ``("scenarios", 0)`` and ``("scenarios", 1)``."""
    index: dict[tuple[str | int, ...], int] = {}
    aot: dict[tuple[str, ...], int] = {}
    current: tuple[str | int, ...] = ()
    in_multiline: str | None = None

    def resolve(parts: list[str], new_element: bool) -> tuple[str | int, ...]:
        out: list[str | int] = []
        for n in range(1, len(parts) + 1):
            out.append(parts[n - 1])
            raw = tuple(parts[:n])
            if raw in aot and not (new_element and n == len(parts)):
                out.append(aot[raw])
        return tuple(out)

    for lineno, line in enumerate(text.splitlines(), 1):
        if in_multiline is not None:
            if in_multiline in line:
                in_multiline = None
            continue
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        if s.startswith("[["):
            parsed = _split_key(s[2:])
            if parsed and parsed[1].lstrip().startswith("]]"):
                raw = tuple(parsed[0])
                aot[raw] = aot.get(raw, -1) + 1
                current = (*resolve(parsed[0], True), aot[raw])
                index.setdefault(current, lineno)
            continue
        if s.startswith("["):
            parsed = _split_key(s[1:])
            if parsed and parsed[1].lstrip().startswith("]"):
                current = resolve(parsed[0], False)
                index.setdefault(current, lineno)
            continue
        parsed = _split_key(s)
        if parsed and parsed[1].startswith("="):
            for n in range(1, len(parsed[0]) + 1):  # a dotted key also defines its prefixes
                index.setdefault((*current, *parsed[0][:n]), lineno)
            value = parsed[1][1:]
            for quote in ('"""', "'''"):
                if value.count(quote) % 2 == 1:
                    in_multiline = quote
                    break
    return index


def _check_scalar(value: Any, kind: type, spec: FieldSpec, path: tuple[str | int, ...],
                  where: _Where, secret: bool = False) -> Any:
    """Check one scalar against its type and spec; report and return ``_BAD`` on failure."""
    if kind is bool:
        if not isinstance(value, bool):
            where.add(path, f"expected true or false, got {_type_name(value)}",
                      "write true or false, without quotes" if isinstance(value, str) else None)
            return _BAD
        return value
    if kind in (int, float):
        ok = isinstance(value, int) and not isinstance(value, bool)
        if kind is float:
            ok = ok or isinstance(value, float)
        if not ok:
            expected = "an integer" if kind is int else "a number"
            got = _type_name(value)
            if not secret and isinstance(value, (int, float, str)) and not isinstance(value, bool):
                got += f" ({_show(value)})"
            fix = None
            if isinstance(value, str) and _is_number(value):
                fix = "remove the quotes"
            elif kind is int and isinstance(value, float) and value.is_integer():
                fix = f"write {int(value)}"
            where.add(path, f"expected {expected}, got {got}", fix)
            return _BAD
        if kind is float:
            value = float(value)
            if not math.isfinite(value):
                where.add(path, f"expected a finite number, got {_show(value)}")
                return _BAD
        return _check_range(value, kind, spec, path, where)
    # strings (and secrets)
    if not isinstance(value, str):
        where.add(path, f"expected a string, got {_type_name(value)}",
                  "put the value in double quotes" if not secret else None)
        return _BAD
    if secret:
        return Secret(value)
    if spec.nonempty and not value.strip():
        where.add(path, "must not be empty")
        return _BAD
    if spec.choices and value not in spec.choices:
        hint = _suggest(value, spec.choices)
        where.add(path, f"{_show(value)} is not one of: {', '.join(spec.choices)}",
                  f"did you mean {_show(hint)}?" if hint else None)
        return _BAD
    if spec.pattern and value and not re.fullmatch(spec.pattern[0], value):
        where.add(path, f"{_show(value)} is not {spec.pattern[1]}")
        return _BAD
    if spec.url and value and not value.startswith(("http://", "https://")):
        where.add(path, f"{_show(value)} is not a URL", "start it with http:// or https://")
        return _BAD
    if spec.path and value:
        expanded = Path(value).expanduser()
        if not expanded.is_absolute():
            expanded = (where.base_dir or Path.cwd()) / expanded
        return str(expanded)
    return value


def _is_number(s: str) -> bool:
    try:
        float(s.replace("_", ""))
    except ValueError:
        return False
    return True


def _range_text(spec: FieldSpec, kind: type) -> str:
    """``an integer >= 30``, ``a number with 0.5 < value < 1``."""
    noun = "an integer" if kind is int else "a number"
    both = spec.lo is not None and spec.hi is not None
    return f"{noun}{' with ' if both else ' '}{_range_short(spec, kind)}"


def _check_range(value: float, kind: type, spec: FieldSpec, path: tuple[str | int, ...],
                 where: _Where) -> Any:
    if spec.choices:
        if value not in spec.choices:
            where.add(path, f"{_show(value)} is not one of: {', '.join(map(str, spec.choices))}")
            return _BAD
        return value
    bad = ((spec.lo is not None and (value <= spec.lo if spec.lo_open else value < spec.lo))
           or (spec.hi is not None and (value >= spec.hi if spec.hi_open else value > spec.hi)))
    if bad:
        where.add(path, f"{_show(value)} is out of range (expected {_range_text(spec, kind)})")
        return _BAD
    return value


def _check_field(value: Any, hint: Any, spec: FieldSpec, path: tuple[str | int, ...],
                 where: _Where) -> Any:
    if hint is Secret:
        return _check_scalar(value, str, spec, path, where, secret=True)
    origin = typing.get_origin(hint)
    if origin is tuple:
        item_kind = typing.get_args(hint)[0]
        noun = {float: "numbers", int: "integers", str: "strings"}[item_kind]
        if not isinstance(value, list):
            where.add(path, f"expected an array of {noun}, got {_type_name(value)}",
                      f"write it as [{value if _is_number(str(value)) else _show(value)}]"
                      if isinstance(value, (int, float, str)) and not isinstance(value, bool)
                      else None)
            return _BAD
        if spec.nonempty and not value:
            where.add(path, "must not be empty")
            return _BAD
        items = [_check_scalar(v, item_kind, spec, (*path, i), where)
                 for i, v in enumerate(value)]
        if any(v is _BAD for v in items):
            return _BAD
        dups = sorted({v for v in items if items.count(v) > 1}, key=str)
        if dups:
            where.add(path, f"repeated value(s): {', '.join(_show(v) for v in dups)}",
                      "list each value once")
            return _BAD
        return tuple(items)
    if origin in (types.UnionType, typing.Union):  # float | None: absent means "not set"
        kind = next(a for a in typing.get_args(hint) if a is not type(None))
        return _check_scalar(value, kind, spec, path, where)
    return _check_scalar(value, hint, spec, path, where)


def _unknown_key(key: str, section: str, known: typing.Iterable[str], path: tuple[str, ...],
                 where: _Where) -> None:
    hint = _suggest(key, known)
    if hint:
        where.add(path, "unknown key", f"did you mean '{hint}'?")
        return
    home = [name for name, cls in _SECTIONS.items() if name != section and key in _fields(cls)]
    if home:
        where.add(path, "unknown key", f"it belongs in [{home[0]}]")
        return
    where.add(path, "unknown key", f"known keys in [{section}]: {', '.join(known)}")


def _build_section(cls: type, name: str, table: Any, where: _Where, keys_set: list[str]) -> Any:
    if not isinstance(table, dict):
        where.add((name,), f"expected a table [{name}], got {_type_name(table)}",
                  f"write the keys under a [{name}] header", section=True)
        return cls()
    fields = _fields(cls)
    kwargs: dict[str, Any] = {}
    for key, value in table.items():
        path = (name, key)
        if key not in fields:
            _unknown_key(key, name, fields, path, where)
            continue
        f, hint = fields[key]
        checked = _check_field(value, hint, f.metadata["spec"], path, where)
        keys_set.append(_key_text(path))
        if checked is not _BAD:
            kwargs[key] = checked
    return cls(**kwargs)


def _dotted_items(table: dict[str, Any], prefix: tuple[str, ...] = ()
                  ) -> typing.Iterator[tuple[tuple[str, ...], Any]]:
    """(key parts, value) of a table whose keys may be dotted: TOML reads an unquoted
    ``pane.var = "v"`` as the table ``pane = {var = "v"}``."""
    for key, value in table.items():
        if isinstance(value, dict):
            yield from _dotted_items(value, (*prefix, key))
        else:
            yield (*prefix, key), value


def _build_str_table(name: str, table: Any, where: _Where, keys_set: list[str],
                     split_keys: bool = False,
                     known: tuple[str, ...] | None = None) -> Mapping[str, str]:
    """A string -> string table. With ``known`` (the keymap's binding ids) keys are dotted ids,
    quoted or not, and must be one of ``known``."""
    if not isinstance(table, dict):
        where.add((name,), f"expected a table [{name}], got {_type_name(table)}", section=True)
        return types.MappingProxyType({})
    out: dict[str, str] = {}
    items = _dotted_items(table) if known is not None else (((k,), v) for k, v in table.items())
    for parts, value in items:
        key, path = ".".join(parts), (name, *parts)
        keys_set.append(_key_text(path))
        if known is not None and key not in known:
            hint = _suggest(key, known)
            where.add(path, "unknown binding id",
                      f"did you mean '{hint}'?" if hint else f"binding ids: {', '.join(known)}")
        elif not isinstance(value, str):
            where.add(path, f"expected a string, got {_type_name(value)}",
                      "put the value in double quotes")
        elif not value.strip():
            where.add(path, "must not be empty")
        elif split_keys and any(not k.strip() for k in value.split(",")):
            where.add(path, f"{_show(value)} has an empty key name",
                      'separate key names with single commas, e.g. "question_mark,f1"')
        else:
            out[key] = value
    return types.MappingProxyType(out)


def _build_betas(table: Any, where: _Where, keys_set: list[str]) -> Mapping[str, Mapping[str, float]]:
    """``[betas]``: symbol -> {factor: finite number}, factors from :data:`BETA_FACTORS`."""
    if not isinstance(table, dict):
        where.add(("betas",), f"expected a table [betas], got {_type_name(table)}", section=True)
        return types.MappingProxyType({})
    out: dict[str, Mapping[str, float]] = {}
    for symbol, betas in table.items():
        path = ("betas", symbol)
        keys_set.append(_key_text(path))
        if not isinstance(betas, dict):
            where.add(path, f"expected a table of factor betas, got {_type_name(betas)}",
                      f"write {symbol} = {{ equity = 1.2 }}")
            continue
        row: dict[str, float] = {}
        for factor, beta in betas.items():
            fpath = (*path, factor)
            if factor not in BETA_FACTORS:
                hint = _suggest(str(factor), BETA_FACTORS)
                where.add(fpath, "unknown factor", f"did you mean '{hint}'?" if hint
                          else f"factors: {', '.join(BETA_FACTORS)}")
            elif isinstance(beta, bool) or not isinstance(beta, (int, float)) or not math.isfinite(beta):
                where.add(fpath, f"expected a finite number, got {_show(beta)}")
            else:
                row[factor] = float(beta)
        out[symbol] = types.MappingProxyType(row)
    return types.MappingProxyType(out)


def _build_scenarios(value: Any, where: _Where, keys_set: list[str]) -> tuple[ScenarioConfig, ...]:
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        where.add(("scenarios",), "expected an array of tables",
                  "write each scenario under its own [[scenarios]] header", section=True)
        return ()
    out: list[ScenarioConfig] = []
    seen: dict[str, int] = {}
    for i, table in enumerate(value):
        base: tuple[str | int, ...] = ("scenarios", i)
        ok = True
        for key in table:
            if key not in ("name", "description", "shocks"):
                _unknown_key_scenario(key, (*base, key), where)
                ok = False
        name = table.get("name")
        if name is None:
            where.add(base, "a scenario needs a name", 'add name = "..."')
            ok = False
        elif not isinstance(name, str) or not name.strip():
            where.add((*base, "name"), "expected a non-empty string")
            ok = False
        elif name in seen:
            where.add((*base, "name"),
                      f"{_show(name)} is already the name of scenarios[{seen[name]}]",
                      "give each scenario its own name")
            ok = False
        else:
            seen[name] = i
        description = table.get("description", "")
        if not isinstance(description, str):
            where.add((*base, "description"), f"expected a string, got {_type_name(description)}")
            ok = False
        shocks = _build_shocks(table.get("shocks"), (*base, "shocks"), where)
        ok = ok and shocks is not None
        keys_set.extend(_key_text((*base, k)) for k in table)
        if ok and shocks is not None:
            out.append(ScenarioConfig(name=name, description=description,
                                      shocks=types.MappingProxyType(shocks)))
    return tuple(out)


def _unknown_key_scenario(key: str, path: tuple[str | int, ...], where: _Where) -> None:
    known = ("name", "description", "shocks")
    hint = _suggest(key, known)
    if hint:
        where.add(path, "unknown key", f"did you mean '{hint}'?")
    elif key in SCENARIO_FACTORS or key.isupper():
        where.add(path, "unknown key", f"shocks go in a table: shocks = {{ {key} = ... }}")
    else:
        where.add(path, "unknown key", "a scenario has name, description and shocks")


def _build_shocks(value: Any, path: tuple[str | int, ...],
                  where: _Where) -> dict[str, float] | None:
    if value is None:
        where.add(path, "a scenario needs shocks", "add shocks = { equity = -0.10 }")
        return None
    if not isinstance(value, dict) or not value:
        where.add(path, f"expected a non-empty table, got {_type_name(value)}",
                  "e.g. shocks = { equity = -0.10, vix_points = 15 }")
        return None
    out: dict[str, float] = {}
    ok = True
    for factor, shock in value.items():
        fpath = (*path, factor)
        if factor not in SCENARIO_FACTORS and factor == factor.lower():
            hint = _suggest(factor, SCENARIO_FACTORS)
            where.add(fpath, "unknown factor",
                      (f"did you mean '{hint}'? " if hint else "")
                      + f"factors: {', '.join(SCENARIO_FACTORS)}; a symbol is written in upper "
                        'case, e.g. "NVDA"')
            ok = False
            continue
        if factor not in SCENARIO_FACTORS and factor.lower() in SCENARIO_FACTORS:
            where.add(fpath, "unknown factor", f"factor names are lower case: '{factor.lower()}'")
            ok = False
            continue
        is_number = isinstance(shock, (int, float)) and not isinstance(shock, bool)
        if not is_number or not math.isfinite(shock):
            where.add(fpath, f"expected a number, got {_type_name(shock)}")
            ok = False
            continue
        if factor not in _ADDITIVE_FACTORS and shock < -1.0:
            where.add(fpath, f"{_show(shock)} is out of range (expected a fractional move >= -1: "
                             "a price cannot fall more than 100%)", "write -0.2 for -20%")
            ok = False
            continue
        out[factor] = float(shock)
    return out if ok else None


def _build_config(data: dict[str, Any], where: _Where, *, set_keys: bool) -> Config:
    keys_set: list[str] = []
    kwargs: dict[str, Any] = {}
    for name, value in data.items():
        if name in _SECTIONS:
            kwargs[name] = _build_section(_SECTIONS[name], name, value, where, keys_set)
        elif name == "symbols":
            kwargs[name] = _build_str_table(name, value, where, keys_set)
        elif name == "keymap":
            kwargs[name] = _build_str_table(name, value, where, keys_set, split_keys=True,
                                            known=BINDING_IDS)
        elif name == "betas":
            kwargs[name] = _build_betas(value, where, keys_set)
        elif name == "scenarios":
            kwargs[name] = _build_scenarios(value, where, keys_set)
        elif isinstance(value, dict):
            hint = _suggest(name, _SECTION_NAMES)
            where.add((name,), "unknown section",
                      f"did you mean [{hint}]?" if hint
                      else f"sections: {', '.join(_SECTION_NAMES)}", section=True)
        else:
            home = [s for s, cls in _SECTIONS.items() if name in _fields(cls)]
            where.add((name,), "unknown key at the top level",
                      f"put it under [{home[0]}]" if home
                      else f"keys belong in a section: {', '.join(_SECTION_NAMES)}")
    cfg = Config(**kwargs, keys_set=tuple(keys_set) if set_keys else ())
    _cross_checks(cfg, where)
    if where.problems:
        if len(where.problems) == 1:
            raise InputError(where.problems[0], problems=where.problems)
        src = where.shown or where.default_label
        raise InputError(f"{src}: {len(where.problems)} problems in the configuration",
                         problems=where.problems)
    return cfg


def _cross_checks(cfg: Config, where: _Where) -> None:
    """Rules that involve two keys; the message names both, located at the one in the file."""
    a = cfg.alpaca
    if bool(a.api_key) != bool(a.secret_key):
        have, missing = ("api_key", "secret_key") if a.api_key else ("secret_key", "api_key")
        where.add(("alpaca", have), f"is set but alpaca.{missing} is not",
                  "set both or neither; the environment is the better place for them")
    lim = cfg.limits.effective()
    if lim.max_position_weight > lim.max_total_exposure:
        key = ("max_position_weight" if "max_position_weight" not in lim.from_tier
               else "max_total_exposure")
        where.add(("limits", key),
                  f"max_position_weight {lim.max_position_weight:g} "
                  f"(from {lim.origin('max_position_weight')}) exceeds max_total_exposure "
                  f"{lim.max_total_exposure:g} (from {lim.origin('max_total_exposure')})",
                  "one position cannot exceed the total: lower the first or raise the second")
    need = cfg.risk.window + cfg.risk.backtest_days
    if need > cfg.sources.history_days:
        candidates = [("sources", "history_days"), ("risk", "window"), ("risk", "backtest_days")]
        at = next((c for c in candidates if where.lines.get(c)), candidates[0])
        where.add(at, f"risk.window ({cfg.risk.window}) + risk.backtest_days "
                      f"({cfg.risk.backtest_days}) = {need} exceeds sources.history_days "
                      f"({cfg.sources.history_days})",
                  "the backtest needs that much history: raise history_days or lower the others")


# --------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------


def write_config(cfg: Config, path: str | Path, *, include_secrets: bool = False) -> Path:
    """Write ``cfg`` as TOML (tomli-w). Absent optional keys are left out; secrets are left out
    too (so the environment supplies them) unless ``include_secrets``. The file is created with
    mode 0600 since it may hold credentials. Returns the path."""
    import tomli_w  # only needed when writing

    data = _config_to_dict(cfg, reveal_secrets=include_secrets)
    for section, table in data.items():
        if isinstance(table, dict):
            for key in [k for k, v in table.items() if v is None]:
                del table[key]
    if not include_secrets:
        for section, cls in _SECTIONS.items():
            for name, (_, hint) in _fields(cls).items():
                if hint is Secret:
                    data[section].pop(name, None)
    if not data["scenarios"]:
        del data["scenarios"]
    text = ("# wsbrisk-tui configuration (written by wsbrisk-tui; every option is described in "
            "config.example.toml)\n\n" + tomli_w.dumps(data))
    return _write_private(Path(path), text)


def _write_private(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    return path


# --------------------------------------------------------------------------------------------
# The commented default file (config.example.toml)
# --------------------------------------------------------------------------------------------

_HEADER = """\
# wsbrisk-tui configuration: every option, with its default.
#
# Every key is optional: delete a line to use its default. `wsbrisk-tui config check FILE`
# validates a file; `wsbrisk-tui config locate` shows where files live. The file is found as:
# --config FILE, else $WSBRISK_CONFIG, else config.toml in the user config folder.
#
# Secrets are better kept in the environment, which wins over this file:
# ALPACA_API_KEY / ALPACA_SECRET_KEY (or APCA_API_KEY_ID / APCA_API_SECRET_KEY), FRED_API_KEY.
# Paths: ~ is expanded; a relative path is taken from this file's folder.
#
# This text is generated from wsbrisk_tui/config.py (where each field is declared):
# regenerate with `wsbrisk-tui config init --path config.example.toml --force`.
"""

_SCENARIOS_TEXT = """\
# [[scenarios]]: your own stress scenarios, added to the built-in library. One block each:
# name, description, and shocks = { factor = shock }. Factors: equity, tech, small_caps, oil,
# gold, crypto (fractional moves: -0.20 = -20%), rates_bp, credit_bp (basis points),
# vix_points (VIX index points). An upper-case key ("NVDA") overrides one symbol's move.
#
# [[scenarios]]
# name = "Tech unwind"
# description = "Crowded tech longs unwind; rates rally."
# shocks = { equity = -0.08, tech = -0.20, rates_bp = -25, vix_points = 12, "NVDA" = -0.30 }
"""

_TABLE_EXAMPLES = {
    "symbols": '# "BRK.B" = "BRK-B"\n',
    "betas": "# NVDA = { equity = 1.8, tech = 1.3 }\n",
    "keymap": '# quit = "q"\n# refresh = "r"\n# pause = "p"\n# help = "question_mark,f1"\n',
}


def _wrap_comment(text: str, width: int = 98) -> str:
    import textwrap  # only for generating the file

    return "\n".join("# " + line for line in textwrap.wrap(text, width - 2)) + "\n"


def _spec_text(spec: FieldSpec, hint: Any) -> str:
    """The comment above a key: its documentation, then unit and range on their own line."""
    text = _wrap_comment(spec.doc)
    facts = []
    if spec.unit:
        facts.append(f"Unit: {spec.unit}.")
    is_array = typing.get_origin(hint) is tuple
    if spec.choices:
        facts.append(f"{'From' if is_array else 'One of'}: {', '.join(map(str, spec.choices))}.")
    elif spec.lo is not None or spec.hi is not None:
        kind = typing.get_args(hint)[0] if is_array else hint
        facts.append(f"Range: {_range_short(spec, int if kind is int else float)}"
                     f"{' (each value)' if is_array else ''}.")
    return text + (_wrap_comment(" ".join(facts)) if facts else "")


def _range_short(spec: FieldSpec, kind: type) -> str:
    def num(x: float) -> str:
        return f"{int(x)}" if kind is int else f"{x:g}"

    if spec.lo is not None and spec.hi is not None:
        lo_w = "<" if spec.lo_open else "<="
        hi_w = "<" if spec.hi_open else "<="
        return f"{num(spec.lo)} {lo_w} value {hi_w} {num(spec.hi)}"
    if spec.lo is not None:
        return f"{'>' if spec.lo_open else '>='} {num(spec.lo)}"
    return f"{'<' if spec.hi_open else '<='} {num(spec.hi)}"  # type: ignore[arg-type]


def default_config_text() -> str:
    """The commented default configuration (``config init`` writes it; it is config.example.toml).

    Generated from the field declarations above, so documentation, defaults and validation
    cannot drift apart. Loading it gives exactly ``Config()``.
    """
    import tomli_w  # value formatting only

    def value_text(value: Any) -> str:
        if isinstance(value, Secret):
            value = value.reveal()
        if isinstance(value, tuple):
            return "[" + ", ".join(value_text(v) for v in value) + "]"
        return tomli_w.dumps({"v": value}).split("=", 1)[1].strip()

    out = [_HEADER]
    for name in _SECTION_NAMES:
        f = next(x for x in dataclasses.fields(Config) if x.name == name)
        if name == "scenarios":
            out.append("\n" + _SCENARIOS_TEXT)
            continue
        if name in _TABLE_EXAMPLES:
            doc = _wrap_comment(f.metadata["spec"].doc)
            out.append(f"\n[{name}]\n{doc}{_TABLE_EXAMPLES[name]}")
            continue
        cls = _SECTIONS[name]
        out.append(f"\n[{name}]\n" + _wrap_comment(" ".join((cls.__doc__ or "").split())))
        for key, (fld, hint) in _fields(cls).items():
            spec: FieldSpec = fld.metadata["spec"]
            out.append("\n" + _spec_text(spec, hint))
            if fld.default is None:
                out.append(f"# {key} = {value_text(spec.example)}\n")
            else:
                out.append(f"{key} = {value_text(fld.default)}\n")
    return "".join(out)


# --------------------------------------------------------------------------------------------
# Command-line overrides
# --------------------------------------------------------------------------------------------


def overrides_from_args(args: Any) -> tuple[dict[str, Any], dict[str, str]]:
    """Dotted-key overrides from the common flags (``--refresh``, ``--theme``, ``--seed``,
    ``--offline``, ``--demo``, ``--positions``, ``--account``, ``--prices``) and the flag that set
    each, for :meth:`Config.with_overrides`. Flags that are absent override nothing."""
    values: dict[str, Any] = {}
    labels: dict[str, str] = {}

    def put(key: str, value: Any, flag: str) -> None:
        values[key] = value
        labels[key] = flag

    def arg(name: str) -> Any:
        return getattr(args, name, None)

    if arg("refresh") is not None:
        put("general.refresh_seconds", arg("refresh"), "--refresh")
    if arg("theme") is not None:
        put("general.theme", arg("theme"), "--theme")
    if arg("seed") is not None:
        put("general.seed", arg("seed"), "--seed")
    if arg("offline"):
        put("sources.offline", True, "--offline")
    if arg("demo"):
        put("sources.positions", "demo", "--demo")
        put("sources.prices", "demo", "--demo")
    if arg("positions"):
        kind = "alpaca-json" if str(arg("positions")).lower().endswith(".json") else "csv"
        put("sources.positions", kind, "--positions")
        put("sources.positions_file", str(arg("positions")), "--positions")
    if arg("account"):
        put("sources.account_file", str(arg("account")), "--account")
    if arg("prices"):
        put("sources.prices", "csv", "--prices")
        put("sources.prices_file", str(arg("prices")), "--prices")
    return values, labels


def config_for_args(args: Any, env: Mapping[str, str] = os.environ) -> Config:
    """The config a subcommand runs with: ``--config``/``$WSBRISK_CONFIG``/user file, then the
    common flags on top (validated like the file)."""
    cfg = load_config(getattr(args, "config", None), env)
    values, labels = overrides_from_args(args)
    return cfg.with_overrides(values, labels=labels) if values else cfg
