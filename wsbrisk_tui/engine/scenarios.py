"""Stress scenarios: the built-in library (``wsbrisk_tui/data/scenarios.toml``) and user scenarios.

A :class:`Scenario` is an instantaneous set of shocks:

* factor shocks, keyed by one of :data:`SHOCK_FACTORS` (units in :data:`SHOCK_UNITS`): fractional
  total returns for ``equity`` (SPY), ``tech`` (QQQ), ``small_caps`` (IWM), ``oil``, ``gold``,
  ``crypto``; basis points for ``rates_bp`` (Treasury yields) and ``credit_bp`` (high-yield
  spread); index points for ``vix_points``;
* symbol shocks, keyed by an upper-case symbol (``NVDA = -0.30``, ``"BTC-USD" = -0.5``): that one
  instrument's total return, the same convention as the config's ``[[scenarios]]`` tables.

What a shock does to a book is :mod:`wsbrisk_tui.engine.stress`'s job; this module only loads and
validates. Every problem raises :class:`~wsbrisk_tui.errors.InputError` naming the scenario and the
key, with a did-you-mean hint for misspelt factors.
"""

from __future__ import annotations

import difflib
import functools
import math
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from importlib import resources
from types import MappingProxyType
from typing import Any, Literal

from wsbrisk_tui.errors import InputError

ScenarioKind = Literal["historical", "hypothetical", "market_move", "user", "what_if"]

#: Factor shock keys, in display order.
SHOCK_FACTORS: tuple[str, ...] = (
    "equity", "tech", "small_caps", "rates_bp", "credit_bp", "oil", "gold", "crypto", "vix_points",
)
#: Unit of each factor shock.
SHOCK_UNITS: dict[str, str] = {
    "equity": "fraction", "tech": "fraction", "small_caps": "fraction", "oil": "fraction",
    "gold": "fraction", "crypto": "fraction", "rates_bp": "bp", "credit_bp": "bp",
    "vix_points": "VIX points",
}
#: Factors whose shock is a price return (a price cannot fall more than 100%).
RETURN_FACTORS = frozenset(k for k, u in SHOCK_UNITS.items() if u == "fraction")
KINDS: tuple[str, ...] = ("historical", "hypothetical", "market_move")
#: An upper-case key is a symbol: letters, digits and . - ^ = / (BRK.B, BTC-USD, ^GSPC).
_SYMBOL_RE = re.compile(r"^[A-Z0-9^][A-Z0-9.\-^=/]*$")
LIBRARY_FILE = "scenarios.toml"


@dataclass(frozen=True)
class Scenario:
    """One stress scenario (see the module docstring for the shock conventions)."""

    id: str
    name: str
    kind: ScenarioKind
    description: str = ""
    sources: tuple[str, ...] = ()
    #: (base date, end date) of a historical episode: the replay starts from the base date's close.
    window: tuple[date, date] | None = None
    shocks: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))
    symbol_shocks: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))

    def all_shocks(self) -> dict[str, float]:
        """Factor shocks then symbol shocks, as one JSON-ready mapping."""
        return {**dict(self.shocks), **dict(self.symbol_shocks)}


def is_symbol_key(key: str) -> bool:
    """True for an upper-case symbol key (``AAPL``, ``BTC-USD``), False for a factor name."""
    return bool(_SYMBOL_RE.match(key)) and any(c.isalpha() for c in key)


def suggest(word: str, choices: Iterable[str]) -> str | None:
    """The closest choice to ``word`` (difflib ratio >= 0.6), for did-you-mean hints."""
    hits = difflib.get_close_matches(word.lower(), list(choices), n=1, cutoff=0.6)
    return hits[0] if hits else None


def validate_shocks(where: str, shocks: Any) -> tuple[dict[str, float], dict[str, float]]:
    """Split and check a shocks table: ``(factor shocks, symbol shocks)``.

    ``where`` names the scenario for the message (``"scenario 'Crash' (scenarios[0])"``).
    Raises :class:`InputError` on the first problem: an unknown factor (with did-you-mean), a
    mis-cased factor, a non-number, a non-finite value, or a price move below -100%.
    """
    if not isinstance(shocks, Mapping) or not shocks:
        raise InputError(f"{where}: 'shocks' must be a non-empty table, e.g. "
                         "shocks = { equity = -0.10, vix_points = 15 }")
    factors: dict[str, float] = {}
    symbols: dict[str, float] = {}
    for key, value in shocks.items():
        key = str(key)
        if key in SHOCK_FACTORS:
            target = factors
        elif key.lower() in SHOCK_FACTORS:
            raise InputError(f"{where}: shock key '{key}': factor names are lower case "
                             f"(write '{key.lower()}')")
        elif key == "VIX":
            raise InputError(f"{where}: shock key 'VIX': the VIX is shocked in index points: write "
                             "vix_points = 15")
        elif is_symbol_key(key):
            target = symbols
        else:
            hint = suggest(key, SHOCK_FACTORS)
            raise InputError(
                f"{where}: shock key '{key}': unknown factor"
                + (f" (did you mean '{hint}'?)" if hint else "")
                + f"; factors are {', '.join(SHOCK_FACTORS)}; a symbol is written in upper case, "
                  'e.g. "NVDA" = -0.3')
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise InputError(f"{where}: shock '{key}': expected a number, got {type(value).__name__} "
                             f"{value!r}")
        value = float(value)
        if not math.isfinite(value):
            raise InputError(f"{where}: shock '{key}': {value} is not a finite number")
        if (target is symbols or key in RETURN_FACTORS) and value < -1.0:
            raise InputError(f"{where}: shock '{key}': {value:g} is a fall of more than 100% "
                             "(write a fraction: -0.2 for -20%)")
        target[key] = value
    return factors, symbols


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_") or "scenario"


def _parse_window(where: str, value: Any) -> tuple[date, date] | None:
    if value is None:
        return None
    if not isinstance(value, list) or len(value) != 2:
        raise InputError(f"{where}: 'window' must be [start, end] ISO dates")
    try:
        start, end = (v if isinstance(v, date) else date.fromisoformat(str(v)) for v in value)
    except ValueError as exc:
        raise InputError(f"{where}: 'window': {exc} (write ISO dates, e.g. [\"2020-02-19\", "
                         "\"2020-03-23\"])") from None
    if end < start:
        raise InputError(f"{where}: 'window' ends ({end}) before it starts ({start})")
    return start, end


def _library_scenario(i: int, table: Mapping[str, Any]) -> Scenario:
    where = f"{LIBRARY_FILE}: scenario[{i}] {table.get('id', '?')!r}"
    allowed = {"id", "name", "kind", "description", "sources", "window", "shocks"}
    for key in table:
        if key not in allowed:
            hint = suggest(key, allowed)
            raise InputError(f"{where}: unknown key '{key}'" + (f" (did you mean '{hint}'?)" if hint else ""))
    for key in ("id", "name", "kind", "shocks"):
        if key not in table:
            raise InputError(f"{where}: missing '{key}'")
    if table["kind"] not in KINDS:
        raise InputError(f"{where}: kind {table['kind']!r} is not one of {', '.join(KINDS)}")
    window = _parse_window(where, table.get("window"))
    if table["kind"] == "historical" and window is None:
        raise InputError(f"{where}: a historical scenario needs a 'window'")
    factors, symbols = validate_shocks(where, table["shocks"])
    return Scenario(id=str(table["id"]), name=str(table["name"]), kind=table["kind"],
                    description=str(table.get("description", "")).strip(),
                    sources=tuple(str(s) for s in table.get("sources", ())), window=window,
                    shocks=MappingProxyType(factors), symbol_shocks=MappingProxyType(symbols))


@functools.lru_cache(maxsize=1)
def library() -> tuple[Scenario, ...]:
    """The built-in scenarios, parsed and validated once."""
    text = resources.files("wsbrisk_tui.data").joinpath(LIBRARY_FILE).read_text(encoding="utf-8")
    data = tomllib.loads(text)
    out = tuple(_library_scenario(i, t) for i, t in enumerate(data.get("scenario", [])))
    ids = [s.id for s in out]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise InputError(f"{LIBRARY_FILE}: duplicate scenario ids: {', '.join(dupes)}")
    return out


def user_scenario(index: int, table: Any, taken_ids: Iterable[str] = ()) -> Scenario:
    """A scenario from a config ``[[scenarios]]`` table (a dict or a ``ScenarioConfig``)."""
    if not isinstance(table, Mapping):
        table = {"name": getattr(table, "name", None), "description": getattr(table, "description", ""),
                 "shocks": getattr(table, "shocks", None)}
    name = table.get("name")
    where = f"scenarios[{index}]" + (f" '{name}'" if name else "")
    for key in table:
        if key not in ("name", "description", "shocks"):
            hint = suggest(str(key), ("name", "description", "shocks"))
            raise InputError(f"{where}: unknown key '{key}'"
                             + (f" (did you mean '{hint}'?)" if hint else
                                " (a scenario has name, description and shocks)"))
    if not isinstance(name, str) or not name.strip():
        raise InputError(f"{where}: a scenario needs a non-empty name (name = \"...\")")
    factors, symbols = validate_shocks(f"scenario '{name}' (scenarios[{index}])", table.get("shocks"))
    base = "user_" + _slug(name)
    sid, n, taken = base, 2, set(taken_ids)
    while sid in taken:
        sid, n = f"{base}_{n}", n + 1
    return Scenario(id=sid, name=name.strip(), kind="user",
                    description=str(table.get("description", "") or ""),
                    sources=("user scenario from the config",), window=None,
                    shocks=MappingProxyType(factors), symbol_shocks=MappingProxyType(symbols))


def load_scenarios(user_tables: Iterable[Any] = (), include_library: bool = True) -> list[Scenario]:
    """The library (unless ``include_library`` is False) followed by the user's scenarios.

    ``user_tables``: the config's ``[[scenarios]]`` entries, as dicts (``name``, ``description``,
    ``shocks``) or :class:`wsbrisk_tui.config.ScenarioConfig` objects. A user scenario named like
    another one is an error (names label the heatmap rows).
    """
    out = list(library()) if include_library else []
    names = {s.name.lower(): s.name for s in out}
    for i, table in enumerate(user_tables):
        sc = user_scenario(i, table, (s.id for s in out))
        if sc.name.lower() in names:
            raise InputError(f"scenarios[{i}] '{sc.name}': the name is already used by the "
                             f"scenario '{names[sc.name.lower()]}' (give it another name)")
        names[sc.name.lower()] = sc.name
        out.append(sc)
    return out
