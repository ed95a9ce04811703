"""Read a book from Alpaca: a saved ``/v2/positions`` JSON file, or the live trading API.

Wire format (Alpaca Trading API v2, checked against alpaca-py 0.44 ``alpaca.trading.models``):

* ``GET /v2/positions`` answers a JSON array of objects with ``asset_id, symbol, exchange,
  asset_class`` (``us_equity``, ``us_option``, ``crypto``), ``avg_entry_price, qty, qty_available,
  side`` (``long``/``short``), ``market_value, cost_basis, unrealized_pl, unrealized_plpc,
  unrealized_intraday_pl, unrealized_intraday_plpc, current_price, lastday_price, change_today``.
  Every number is a JSON *string* (``"-10"``, ``"182.35"``); JSON numbers are accepted too. A short
  has a negative ``qty`` and a negative ``market_value``; quantities may be fractional.
* Options (``us_option``): ``symbol`` is the unpadded OCC code, ``qty`` counts contracts, prices
  are per share and ``market_value`` already includes the x100 multiplier. The multiplier rule
  lives in :meth:`Position.market_value_at` only; the reported ``market_value`` is kept as
  ``reported_market_value`` and reconciled against ``qty x current_price x multiplier``: a gap
  above 1% becomes a note in :attr:`Portfolio.notes`.
* ``GET /v2/account`` gives ``equity``, ``cash``, ``buying_power``, ``status``, ``currency``, ...
  (strings). ``equity`` and ``cash`` go to :attr:`Portfolio.equity` and :attr:`Portfolio.cash`.

Saved files (:func:`read_alpaca_positions_json`) are either

* the ``/v2/positions`` array as saved (``curl ... /v2/positions > positions.json``), with the
  ``/v2/account`` object in a separate file (``account_path``), optional; or
* one combined snapshot object ``{"positions": [...], "account": {...}}`` (``account`` optional).

Without an account the book's cash is unknown (``None``), never assumed to be zero.

The live path (:func:`fetch_alpaca_portfolio`) calls alpaca-py's ``TradingClient`` with
``raw_data=True``, so the live answer and a saved file go through the very same mapping
(:func:`positions_from_alpaca`, :func:`account_from_alpaca`) and give identical positions and
identical messages. It also keeps a new ``exchange`` value, which alpaca-py's pydantic models would
reject, from breaking the book. Keys and secrets are never printed, logged or put in a message.

Unknown fields are ignored (Alpaca adds fields over time). Unknown ``asset_class`` values, such
as ``crypto_perp``, are an error: a position we cannot value is never dropped silently.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from wsbrisk_tui.engine.model import AssetClass, BookMode, OptionContract, Portfolio, Position
from wsbrisk_tui.engine.occ import parse_occ
from wsbrisk_tui.engine.sources.positions_csv import FieldError, apply_side, parse_number
from wsbrisk_tui.engine.symbols import classify, normalize_symbol
from wsbrisk_tui.errors import InputError, located

#: The key variables messages name by default (never their values): the config reads these first
#: (then APCA_API_KEY_ID / APCA_API_SECRET_KEY); callers that read others pass ``key_env``.
KEY_ENV = "ALPACA_API_KEY"
SECRET_ENV = "ALPACA_SECRET_KEY"

#: Numeric fields of a ``/v2/positions`` item; each one present must parse as a finite number.
POSITION_NUMBER_FIELDS: tuple[str, ...] = (
    "avg_entry_price", "qty", "qty_available", "market_value", "cost_basis", "unrealized_pl",
    "unrealized_plpc", "unrealized_intraday_pl", "unrealized_intraday_plpc", "current_price",
    "lastday_price", "change_today",
)
#: Numeric fields of ``/v2/account`` we read or check; ``equity`` and ``cash`` are required.
ACCOUNT_NUMBER_FIELDS: tuple[str, ...] = ("equity", "cash", "buying_power", "last_equity", "portfolio_value")
ASSET_CLASSES: tuple[str, ...] = ("us_equity", "us_option", "crypto")
#: Reported market value may differ from qty x price x multiplier by this fraction before a note.
MARKET_VALUE_TOLERANCE = 0.01


@dataclass
class _Context:
    """Where the records came from (``label``: a file or URL) and what went wrong or was noticed."""

    label: str
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def bad(self, key: str, what: str, fix: str | None = None) -> None:
        self.problems.append(located(self.label, None, f"{key}: {what}" if key else what, fix))

    def note(self, key: str, what: str) -> None:
        self.notes.append(f"{self.label}: {key}: {what}")


# --------------------------------------------------------------------------------------------
# The one mapping, shared by saved files and the live API
# --------------------------------------------------------------------------------------------


def _number(ctx: _Context, key: str, value: Any) -> float | None:
    """A JSON string or number as a finite float; records a problem and returns None when bad."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        ctx.bad(key, f"{json.dumps(value)} is not a number", "Alpaca sends numbers as strings such as \"182.35\"")
        return None
    if isinstance(value, str):
        try:
            return parse_number(value)
        except FieldError as exc:
            ctx.bad(key, exc.what, exc.fix)
            return None
    if not math.isfinite(value):
        ctx.bad(key, f"{value} is not a finite number")
        return None
    return float(value)


def positions_from_alpaca(records: Any, ctx: _Context, *, key_prefix: str, origin_prefix: str) -> list[Position]:
    """Map a ``/v2/positions`` array to positions; problems and notes go to ``ctx``.

    ``key_prefix`` names the array in messages (``""`` for a bare array, ``"positions"`` in a
    combined file); ``origin_prefix`` starts each position's origin (``"positions.json"`` gives
    ``"positions.json[2]"``).
    """
    if not isinstance(records, list):
        ctx.bad(key_prefix or "top level", f"expected a JSON array of positions, found {_json_kind(records)}",
                "GET /v2/positions answers a JSON array; keep it unchanged")
        return []
    positions: list[Position] = []
    first_index: dict[str, int] = {}
    for index, record in enumerate(records):
        position = _position(ctx, f"{key_prefix}[{index}]", record, f"{origin_prefix}[{index}]")
        if position is None:
            continue
        if position.symbol in first_index:
            ctx.bad(f"{key_prefix}[{index}].symbol",
                    f"{position.symbol} also appears at {key_prefix}[{first_index[position.symbol]}]",
                    "Alpaca reports one position per symbol: keep one")
            continue
        first_index[position.symbol] = index
        positions.append(position)
    return positions


def _position(ctx: _Context, key: str, record: Any, origin: str) -> Position | None:
    if not isinstance(record, dict):
        ctx.bad(key, f"expected a position object, found {_json_kind(record)}")
        return None
    n_before = len(ctx.problems)

    symbol = record.get("symbol")
    if not isinstance(symbol, str) or not symbol.strip():
        ctx.bad(f"{key}.symbol", "is missing or blank" if not symbol else f"{json.dumps(symbol)} is not a symbol")
        symbol = ""
    symbol = normalize_symbol(symbol)

    numbers: dict[str, float | None] = {}
    for name in POSITION_NUMBER_FIELDS:
        value = record.get(name)
        numbers[name] = None if value is None else _number(ctx, f"{key}.{name}", value)

    qty = numbers["qty"]
    if "qty" not in record or record["qty"] is None:
        ctx.bad(f"{key}.qty", "is missing", "every position needs its quantity")
    elif qty == 0:
        ctx.bad(f"{key}.qty", "is 0: a position of zero is meaningless", "remove the position")
        qty = None

    side = record.get("side")
    if side is not None and side not in ("long", "short"):
        ctx.bad(f"{key}.side", f"{json.dumps(side)} is not \"long\" or \"short\"")
        side = None
    if qty is not None and side is not None:
        try:
            qty = apply_side(qty, side)
        except FieldError as exc:
            ctx.bad(f"{key}.side", exc.what, exc.fix)

    asset_class: AssetClass | None = None
    option: OptionContract | None = None
    raw_class = record.get("asset_class")
    if raw_class == "us_equity":
        asset_class = classify(symbol, "us_equity") if symbol else "equity"
    elif raw_class == "crypto":
        asset_class = "crypto"
    elif raw_class == "us_option":
        asset_class = "option"
        if symbol:
            option = _option_contract(ctx, key, symbol)
    elif raw_class is None:
        ctx.bad(f"{key}.asset_class", "is missing", f"expected one of {', '.join(ASSET_CLASSES)}")
    else:
        ctx.bad(f"{key}.asset_class", f"{json.dumps(raw_class)} is not supported",
                f"expected one of {', '.join(ASSET_CLASSES)}; this position cannot be valued, remove it from the file")

    if len(ctx.problems) > n_before or qty is None or asset_class is None:
        return None
    position = Position(
        symbol=symbol, qty=qty, asset_class=asset_class, price=numbers["current_price"],
        avg_entry_price=numbers["avg_entry_price"], lastday_price=numbers["lastday_price"],
        reported_market_value=numbers["market_value"], option=option, origin=origin,
    )
    _reconcile_market_value(ctx, key, position)
    return position


def _option_contract(ctx: _Context, key: str, symbol: str) -> OptionContract | None:
    try:
        parts = parse_occ(symbol)
    except ValueError as exc:
        ctx.bad(f"{key}.symbol", str(exc), "a us_option position needs its OCC symbol")
        return None
    if parts.adjusted:
        ctx.note(key, f"{symbol} is an adjusted contract (root {parts.root}): its deliverable is not 100 "
                      "plain shares, yet it is valued with multiplier 100; check it against the broker")
    return OptionContract(underlying=parts.root.rstrip("0123456789"), expiry=parts.expiry,
                          right="C" if parts.right == "C" else "P", strike=parts.strike,
                          multiplier=100.0, root=parts.root, adjusted=parts.adjusted)


def _reconcile_market_value(ctx: _Context, key: str, position: Position) -> None:
    """Note when the broker's market value is not qty x price x multiplier (within 1%)."""
    reported, price = position.reported_market_value, position.price
    if reported is None or price is None:
        return
    expected = position.market_value_at(price)
    scale = max(abs(reported), abs(expected))
    if scale > 0 and abs(reported - expected) > MARKET_VALUE_TOLERANCE * scale:
        ctx.note(key, f"reported market_value {reported:,.2f} differs from qty x current_price x multiplier "
                      f"= {expected:,.2f} by more than {MARKET_VALUE_TOLERANCE:.0%}; the computed value is used")


@dataclass(frozen=True)
class AccountFigures:
    """What the book takes from ``/v2/account``."""

    cash: float | None
    equity: float | None
    currency: str


def account_from_alpaca(record: Any, ctx: _Context, *, key_prefix: str) -> AccountFigures | None:
    """Map a ``/v2/account`` object; ``equity`` and ``cash`` are required. Problems go to ``ctx``."""
    def k(name: str) -> str:
        return f"{key_prefix}.{name}" if key_prefix else name

    if not isinstance(record, dict):
        ctx.bad(key_prefix or "top level", f"expected the account object of GET /v2/account, found {_json_kind(record)}")
        return None
    n_before = len(ctx.problems)
    figures: dict[str, float | None] = {}
    for name in ACCOUNT_NUMBER_FIELDS:
        value = record.get(name)
        if value is None:
            if name in ("equity", "cash"):
                ctx.bad(k(name), "is missing", "save the full answer of GET /v2/account")
            figures[name] = None
        else:
            figures[name] = _number(ctx, k(name), value)
    currency = record.get("currency") or "USD"
    if not isinstance(currency, str):
        ctx.bad(k("currency"), f"{json.dumps(currency)} is not a currency code")
        currency = "USD"
    status = record.get("status")
    if status is not None and status != "ACTIVE":
        ctx.note(k("status"), f"the account status is {status}, not ACTIVE")
    if len(ctx.problems) > n_before:
        return None
    return AccountFigures(cash=figures["cash"], equity=figures["equity"], currency=currency.upper())


def _portfolio(ctx: _Context, positions: list[Position], account: AccountFigures | None, *, source: str,
               mode: BookMode, as_of: datetime | None) -> Portfolio:
    if ctx.problems:
        _raise(ctx)
    return Portfolio(
        positions=tuple(positions),
        cash=account.cash if account else None,
        equity=account.equity if account else None,
        source=source, mode=mode, as_of=as_of,
        base_currency=account.currency if account else "USD",
        notes=tuple(ctx.notes),
    )


def _raise(ctx: _Context) -> None:
    if len(ctx.problems) == 1:
        raise InputError(ctx.problems[0])
    raise InputError(f"{ctx.label}: {len(ctx.problems)} problems:", problems=ctx.problems)


def _json_kind(value: Any) -> str:
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean",
            type(None): "null"}.get(type(value), "a number")


# --------------------------------------------------------------------------------------------
# Saved files
# --------------------------------------------------------------------------------------------


def _load_json(path: Path) -> Any:
    try:
        with path.open(encoding="utf-8-sig") as fh:
            return json.load(fh)
    except FileNotFoundError:
        raise InputError(located(path, None, "no such file", "check the path")) from None
    except IsADirectoryError:
        raise InputError(located(path, None, "is a directory, not a JSON file", "give the file's path")) from None
    except UnicodeDecodeError as exc:
        raise InputError(located(path, None, f"is not UTF-8 text (byte {exc.start})", "save the file as UTF-8")) from None
    except json.JSONDecodeError as exc:
        raise InputError(located(path, exc.lineno, f"is not valid JSON: {exc.msg} at column {exc.colno}",
                                 "save the API answer unchanged")) from None


def read_alpaca_positions_json(path: str | Path, account_path: str | Path | None = None) -> Portfolio:
    """Read a saved ``/v2/positions`` array (and optionally a ``/v2/account`` file) or a combined
    ``{"positions": [...], "account": {...}}`` snapshot. Mode ``FILE``; see the module docstring.

    Raises :class:`InputError` listing every problem, each as ``file: [index].field: what (fix)``.
    """
    p = Path(path)
    data = _load_json(p)
    ctx = _Context(str(p))
    account_raw: Any = None
    account_key = ""
    if isinstance(data, list):
        records, key_prefix, origin_prefix = data, "", p.name
    elif isinstance(data, dict) and "positions" in data:
        records, key_prefix, origin_prefix = data["positions"], "positions", f"{p.name}:positions"
        if data.get("account") is not None:
            account_raw, account_key = data["account"], "account"
    elif isinstance(data, dict) and "equity" in data:
        raise InputError(located(p, None, "this is an account file (GET /v2/account), not positions",
                                 "pass it as --account and the /v2/positions file as --positions"))
    else:
        raise InputError(located(p, None, f"expected a JSON array of positions (GET /v2/positions) or an object "
                                          f"with 'positions' and 'account', found {_json_kind(data)}",
                                 "save the answer of GET /v2/positions as it is"))

    positions = positions_from_alpaca(records, ctx, key_prefix=key_prefix, origin_prefix=origin_prefix)
    account: AccountFigures | None = None
    if account_path is not None:
        if account_raw is not None:
            raise InputError(located(p, None, "already holds an 'account'; a second account file was given too",
                                     "drop --account, or remove 'account' from the snapshot"))
        ap = Path(account_path)
        account_ctx = _Context(str(ap))
        account = account_from_alpaca(_load_json(ap), account_ctx, key_prefix="")
        ctx.problems.extend(account_ctx.problems)
        ctx.notes.extend(account_ctx.notes)
    elif account_raw is not None:
        account = account_from_alpaca(account_raw, ctx, key_prefix=account_key)
    return _portfolio(ctx, positions, account, source=f"alpaca-json:{p}", mode="FILE", as_of=None)


# --------------------------------------------------------------------------------------------
# Live API
# --------------------------------------------------------------------------------------------


def fetch_alpaca_portfolio(api_key: str | None, secret_key: str | None, *, paper: bool = True,
                           base_url: str | None = None, timeout: float = 10.0,
                           key_env: tuple[str, str] = (KEY_ENV, SECRET_ENV)) -> Portfolio:
    """Fetch positions and account from the Alpaca trading API through alpaca-py.

    ``paper`` picks the paper or live endpoint (mode ``PAPER``/``LIVE``); ``base_url`` overrides
    it (a proxy, or a local fake in tests). ``timeout`` (seconds) bounds each HTTP request: alpaca-py
    sets none. ``key_env`` names the variables the caller read the keys from, for messages.

    Raises :class:`InputError` for a missing alpaca-py, missing or refused keys (HTTP 401/403),
    unreachable or slow servers, and malformed answers. The keys never appear in any message.
    """
    try:
        import requests
        from alpaca.common.enums import BaseURL
        from alpaca.common.exceptions import APIError
        from alpaca.trading.client import TradingClient
    except ImportError:
        raise InputError("live Alpaca positions need alpaca-py, which is not installed "
                         "(pip install 'wsbrisk-tui[alpaca]')") from None
    if not api_key or not secret_key:
        missing = key_env[0] if not api_key else key_env[1]
        raise InputError(f"no Alpaca credentials: {missing} is empty (set {key_env[0]} and {key_env[1]})")

    base = (base_url or (BaseURL.TRADING_PAPER if paper else BaseURL.TRADING_LIVE).value).rstrip("/")
    client = TradingClient(api_key, secret_key, paper=paper, raw_data=True, url_override=base)
    # alpaca-py sends every request through this requests.Session without a timeout; a hung
    # server would hang the engine thread. Replace it with one that applies ours.
    client._session = _timeout_session(requests, timeout)
    secrets = (api_key, secret_key)

    def call(endpoint: str, fetch: Callable[[], Any]) -> Any:
        url = f"{base}/v2{endpoint}"
        try:
            return fetch()
        except APIError as exc:
            status = exc.status_code
            detail = _server_message(str(exc), secrets)
            if status in (401, 403):
                raise InputError(
                    f"Alpaca refused the API key at {url} (HTTP {status}{detail}): check {key_env[0]} and "
                    f"{key_env[1]}; paper keys work only with paper trading and live keys only with live"
                ) from None
            raise InputError(f"Alpaca answered HTTP {status} at {url}{detail}; try again later") from None
        except requests.Timeout:
            raise InputError(f"Alpaca did not answer within {timeout:g} s at {url}: check the network, "
                             "or raise the timeout") from None
        except requests.ConnectionError:
            raise InputError(f"cannot connect to Alpaca at {url} (connection failed): check the network "
                             "and the base URL") from None
        except requests.RequestException as exc:
            raise InputError(f"Alpaca's answer at {url} could not be read ({type(exc).__name__})") from None

    raw_positions = call("/positions", client.get_all_positions)
    raw_account = call("/account", client.get_account)

    label = "live" if not paper else "paper"
    ctx = _Context(f"Alpaca {base}/v2/positions")
    positions = positions_from_alpaca(raw_positions, ctx, key_prefix="", origin_prefix=f"alpaca-{label}")
    account_ctx = _Context(f"Alpaca {base}/v2/account")
    account = account_from_alpaca(raw_account, account_ctx, key_prefix="")
    ctx.problems.extend(account_ctx.problems)
    ctx.notes.extend(account_ctx.notes)
    source = f"alpaca:{label}" if base_url is None else f"alpaca:{label}:{base}"
    return _portfolio(ctx, positions, account, source=source, mode="PAPER" if paper else "LIVE",
                      as_of=datetime.now(timezone.utc))


def _timeout_session(requests: Any, timeout: float) -> Any:
    class TimeoutSession(requests.Session):
        def request(self, method: str, url: str, **kwargs: Any) -> Any:  # type: ignore[override]
            kwargs.setdefault("timeout", timeout)
            return super().request(method, url, **kwargs)

    return TimeoutSession()


def _server_message(body: str, secrets: tuple[str, ...]) -> str:
    """``": <message>"`` from an Alpaca error body, scrubbed of the keys, or ``""``."""
    try:
        message = json.loads(body).get("message")
    except (ValueError, AttributeError):
        message = None
    if not isinstance(message, str) or not message.strip():
        return ""
    for secret in secrets:
        if secret:
            message = message.replace(secret, "***")
    return f": {message.strip()[:200]}"
