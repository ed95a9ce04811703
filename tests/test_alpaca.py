"""Alpaca positions: saved /v2/positions + /v2/account JSON, and the live path through alpaca-py
against a local fake HTTP server (tests/fake_alpaca.py), so alpaca-py's real request code runs."""

from __future__ import annotations

import dataclasses
import json
import socket
import sys
from datetime import date, datetime
from pathlib import Path

import pytest

from fake_alpaca import FakeAlpaca
from wsbrisk_tui.engine.model import OptionContract, Position
from wsbrisk_tui.engine.sources.alpaca import fetch_alpaca_portfolio, read_alpaca_positions_json
from wsbrisk_tui.errors import InputError

FIXTURES = Path(__file__).parent / "fixtures" / "positions"
POSITIONS = FIXTURES / "alpaca_positions.json"
ACCOUNT = FIXTURES / "alpaca_account.json"
KEY = "PKTESTKEY0000000001"
SECRET = "sEcReT-do-not-print-0123456789abcdef"
NUMBER_FIX = "write a plain number such as 10, -2.5 or 0.25"


def load(path: Path):
    return json.loads(path.read_text())


def expected_positions(origin_prefix: str) -> tuple[Position, ...]:
    """The fixture book as positions; every number comes from a JSON string in the fixture."""
    return (
        Position(symbol="AAPL", qty=10.0, asset_class="equity", price=190.0, avg_entry_price=180.0,
                 lastday_price=188.0, reported_market_value=1900.0, origin=f"{origin_prefix}[0]"),
        Position(symbol="TSLA", qty=-5.0, asset_class="equity", price=240.0, avg_entry_price=250.0,
                 lastday_price=245.0, reported_market_value=-1200.0, origin=f"{origin_prefix}[1]"),
        Position(symbol="SPY260320C00600000", qty=2.0, asset_class="option", price=5.25,
                 avg_entry_price=4.10, lastday_price=5.00, reported_market_value=1050.0,
                 option=OptionContract(underlying="SPY", expiry=date(2026, 3, 20), right="C", strike=600.0,
                                       multiplier=100.0, root="SPY", adjusted=False),
                 origin=f"{origin_prefix}[2]"),
        Position(symbol="BTCUSD", qty=0.0123456, asset_class="crypto", price=60000.0, avg_entry_price=58000.0,
                 lastday_price=60500.0, reported_market_value=740.736, origin=f"{origin_prefix}[3]"),
        Position(symbol="QQQ", qty=3.0, asset_class="etf", price=450.0, avg_entry_price=440.0,
                 lastday_price=448.0, reported_market_value=1350.0, origin=f"{origin_prefix}[4]"),
    )


def write_json(tmp_path: Path, data, name: str = "positions.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data, indent=1))
    return path


def problems_of(path: Path, account: Path | None = None) -> list[str]:
    with pytest.raises(InputError) as info:
        read_alpaca_positions_json(path, account)
    return info.value.problems


# --------------------------------------------------------------------------------------------
# Saved files
# --------------------------------------------------------------------------------------------


def test_positions_and_account_files():
    book = read_alpaca_positions_json(POSITIONS, ACCOUNT)
    assert book.positions == expected_positions("alpaca_positions.json")
    assert book.cash == 10159.264
    assert book.equity == 14000.0
    assert book.base_currency == "USD"
    assert book.mode == "FILE"
    assert book.source == f"alpaca-json:{POSITIONS}"
    assert book.notes == ()  # every reported market value reconciles within 1%
    # the broker's market values equal qty x price x multiplier (x100 for the option) to the cent
    for p in book.positions:
        assert p.market_value_at(p.price) == pytest.approx(p.reported_market_value, abs=0.005)
    # and equity = cash + sum of market values (the fixture is consistent)
    total = book.cash + sum(p.market_value_at(p.price) for p in book.positions)
    assert total == pytest.approx(book.equity, abs=1e-6)


def test_positions_without_account_have_unknown_cash():
    book = read_alpaca_positions_json(POSITIONS)
    assert book.cash is None and book.equity is None
    assert len(book.positions) == 5


def test_combined_snapshot_file(tmp_path):
    path = write_json(tmp_path, {"positions": load(POSITIONS), "account": load(ACCOUNT)}, "snapshot.json")
    book = read_alpaca_positions_json(path)
    assert book.positions == expected_positions("snapshot.json:positions")
    assert (book.cash, book.equity) == (10159.264, 14000.0)


def test_combined_file_and_account_file_together_is_an_error(tmp_path):
    path = write_json(tmp_path, {"positions": [], "account": load(ACCOUNT)}, "snapshot.json")
    assert problems_of(path, ACCOUNT) == [
        f"{path}: already holds an 'account'; a second account file was given too "
        "(drop --account, or remove 'account' from the snapshot)"]


def test_empty_positions_array_is_a_flat_book(tmp_path):
    book = read_alpaca_positions_json(write_json(tmp_path, []), ACCOUNT)
    assert book.positions == ()
    assert book.cash == 10159.264


def test_json_numbers_are_accepted(tmp_path):
    records = load(POSITIONS)[:1]
    records[0]["qty"] = 10
    records[0]["current_price"] = 190.0
    (pos,) = read_alpaca_positions_json(write_json(tmp_path, records)).positions
    assert (pos.qty, pos.price) == (10.0, 190.0)


def test_bad_numbers_name_index_and_field(tmp_path):
    records = load(POSITIONS)
    records[1]["qty"] = "abc"
    records[2]["current_price"] = "1,050.00"
    records[3]["market_value"] = "NaN"
    records[4]["avg_entry_price"] = True
    path = write_json(tmp_path, records)
    with pytest.raises(InputError) as info:
        read_alpaca_positions_json(path)
    assert info.value.problems == [
        f"{path}: [1].qty: 'abc' is not a number ({NUMBER_FIX})",
        f"{path}: [2].current_price: '1,050.00' has a thousands separator or a decimal comma "
        "(write plain digits with '.' as the decimal point, e.g. 1234.5)",
        f"{path}: [3].market_value: 'NaN' is not a finite number ({NUMBER_FIX})",
        f"{path}: [4].avg_entry_price: true is not a number (Alpaca sends numbers as strings such as \"182.35\")",
    ]
    assert str(info.value).splitlines()[0] == f"{path}: 4 problems:"


def test_unknown_asset_class(tmp_path):
    records = load(POSITIONS)[:1]
    records[0]["asset_class"] = "crypto_perp"
    path = write_json(tmp_path, records)
    assert problems_of(path) == [
        f"{path}: [0].asset_class: \"crypto_perp\" is not supported (expected one of us_equity, us_option, "
        "crypto; this position cannot be valued, remove it from the file)"]


def test_missing_qty_zero_qty_bad_side_and_bad_option_symbol(tmp_path):
    records = load(POSITIONS)
    del records[0]["qty"]
    records[1]["qty"] = "0"
    records[3]["side"] = "flat"
    records[2]["symbol"] = "SPY260320C600"
    path = write_json(tmp_path, records)
    assert problems_of(path) == [
        f"{path}: [0].qty: is missing (every position needs its quantity)",
        f"{path}: [1].qty: is 0: a position of zero is meaningless (remove the position)",
        f"{path}: [2].symbol: 'SPY260320C600' is not an OCC option symbol (expected ROOT + YYMMDD + C/P + "
        "8-digit strike x 1000, e.g. SPY260320C00600000) (a us_option position needs its OCC symbol)",
        f"{path}: [3].side: \"flat\" is not \"long\" or \"short\"",
    ]


def test_short_side_with_positive_qty_is_made_negative_and_long_negative_is_an_error(tmp_path):
    records = load(POSITIONS)[:2]
    records[1]["qty"] = "5"  # side stays "short"
    book = read_alpaca_positions_json(write_json(tmp_path, records))
    assert book.positions[1].qty == -5.0
    records[0]["qty"] = "-10"  # side stays "long"
    path = write_json(tmp_path, records)
    assert problems_of(path) == [f"{path}: [0].side: side 'long' conflicts with the negative qty -10 "
                                 "(use side short, or a positive qty)"]


def test_duplicate_symbols_are_an_error(tmp_path):
    records = load(POSITIONS)
    records.append(dict(records[0]))
    path = write_json(tmp_path, records)
    assert problems_of(path) == [f"{path}: [5].symbol: AAPL also appears at [0] "
                                 "(Alpaca reports one position per symbol: keep one)"]


def test_market_value_disagreement_is_noted(tmp_path):
    records = load(POSITIONS)[2:3]
    records[0]["market_value"] = "10.50"  # the x100 forgotten: 2 x 5.25 = 10.50, not 1050
    path = write_json(tmp_path, records)
    book = read_alpaca_positions_json(path)
    assert book.positions[0].reported_market_value == 10.5
    assert book.notes == (f"{path}: [0]: reported market_value 10.50 differs from qty x current_price x "
                          "multiplier = 1,050.00 by more than 1%; the computed value is used",)


def test_market_value_within_one_percent_is_not_noted(tmp_path):
    records = load(POSITIONS)[:1]
    records[0]["market_value"] = "1918.00"  # 0.95% above 10 x 190 = 1900
    assert read_alpaca_positions_json(write_json(tmp_path, records)).notes == ()


def test_adjusted_option_is_noted(tmp_path):
    records = load(POSITIONS)[2:3]
    records[0]["symbol"] = "SPY1260320C00600000"
    path = write_json(tmp_path, records)
    book = read_alpaca_positions_json(path)
    assert book.positions[0].option.adjusted is True
    assert book.positions[0].option.underlying == "SPY"
    assert book.notes == (f"{path}: [0]: SPY1260320C00600000 is an adjusted contract (root SPY1): its deliverable "
                          "is not 100 plain shares, yet it is valued with multiplier 100; check it against the broker",)


def test_bad_account_file(tmp_path):
    account = load(ACCOUNT)
    del account["equity"]
    account["cash"] = "lots"
    account["status"] = "ACCOUNT_UPDATED"
    path = write_json(tmp_path, account, "account.json")
    assert problems_of(POSITIONS, path) == [
        f"{path}: equity: is missing (save the full answer of GET /v2/account)",
        f"{path}: cash: 'lots' is not a number ({NUMBER_FIX})",
    ]


def test_account_status_is_noted(tmp_path):
    account = load(ACCOUNT)
    account["status"] = "ACCOUNT_UPDATED"
    path = write_json(tmp_path, account, "account.json")
    assert read_alpaca_positions_json(POSITIONS, path).notes == (
        f"{path}: status: the account status is ACCOUNT_UPDATED, not ACTIVE",)


def test_account_file_given_as_positions():
    assert problems_of(ACCOUNT) == [
        f"{ACCOUNT}: this is an account file (GET /v2/account), not positions "
        "(pass it as --account and the /v2/positions file as --positions)"]


def test_invalid_json_names_the_line(tmp_path):
    path = tmp_path / "positions.json"
    path.write_text('[\n  {"symbol": "AAPL",}\n]\n')
    (problem,) = problems_of(path)
    assert problem.startswith(f"{path}:2: is not valid JSON: Expecting property name enclosed in double quotes")


def test_not_an_array(tmp_path):
    path = write_json(tmp_path, {"symbol": "AAPL"})
    assert problems_of(path) == [
        f"{path}: expected a JSON array of positions (GET /v2/positions) or an object with 'positions' and "
        "'account', found an object (save the answer of GET /v2/positions as it is)"]


# --------------------------------------------------------------------------------------------
# Live, through alpaca-py against the local fake
# --------------------------------------------------------------------------------------------


@pytest.fixture
def no_proxy(monkeypatch):
    # requests honours proxy variables; the fake lives on loopback and must be reached directly
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)


def test_live_paper_matches_the_saved_files(no_proxy):
    with FakeAlpaca(load(POSITIONS), load(ACCOUNT), api_key=KEY, secret_key=SECRET) as fake:
        book = fetch_alpaca_portfolio(KEY, SECRET, paper=True, base_url=fake.url)
    assert book.mode == "PAPER"
    assert book.source == f"alpaca:paper:{fake.url}"
    assert book.positions == expected_positions("alpaca-paper")
    assert (book.cash, book.equity) == (10159.264, 14000.0)
    assert isinstance(book.as_of, datetime) and book.as_of.tzinfo is not None
    # one mapping serves files and the API: the same positions up to their origin
    saved = read_alpaca_positions_json(POSITIONS, ACCOUNT)
    assert [dataclasses.replace(p, origin="") for p in book.positions] == \
        [dataclasses.replace(p, origin="") for p in saved.positions]
    # alpaca-py's real request path ran: both endpoints, with the key headers
    assert [(m, path) for m, path, _ in fake.requests] == [("GET", "/v2/positions"), ("GET", "/v2/account")]
    assert all(h["APCA-API-KEY-ID"] == KEY for _, _, h in fake.requests)


def test_live_mode(no_proxy):
    with FakeAlpaca([], load(ACCOUNT), api_key=KEY, secret_key=SECRET) as fake:
        book = fetch_alpaca_portfolio(KEY, SECRET, paper=False, base_url=fake.url + "/")
    assert (book.mode, book.positions, book.equity) == ("LIVE", (), 14000.0)


def test_refused_key_names_the_variables_and_hides_the_secret(no_proxy):
    with FakeAlpaca([], {}, api_key="another-key", secret_key="another-secret") as fake:
        with pytest.raises(InputError) as info:
            fetch_alpaca_portfolio(KEY, SECRET, base_url=fake.url, key_env=("MY_KEY", "MY_SECRET"))
    message = str(info.value)
    assert message == (f"Alpaca refused the API key at {fake.url}/v2/positions (HTTP 401: request is not "
                       "authorized): check MY_KEY and MY_SECRET; paper keys work only with paper trading "
                       "and live keys only with live")
    assert SECRET not in message and KEY not in message
    assert info.value.exit_code == 2


def test_server_error(no_proxy):
    with FakeAlpaca([], {}, api_key=KEY, secret_key=SECRET, status=500) as fake:
        with pytest.raises(InputError) as info:
            fetch_alpaca_portfolio(KEY, SECRET, base_url=fake.url)
    assert str(info.value) == f"Alpaca answered HTTP 500 at {fake.url}/v2/positions: internal failure; try again later"


def test_bad_answer_from_the_api_names_the_endpoint(no_proxy):
    records = load(POSITIONS)
    records[0]["qty"] = "ten"
    with FakeAlpaca(records, load(ACCOUNT), api_key=KEY, secret_key=SECRET) as fake:
        with pytest.raises(InputError) as info:
            fetch_alpaca_portfolio(KEY, SECRET, base_url=fake.url)
    assert str(info.value) == f"Alpaca {fake.url}/v2/positions: [0].qty: 'ten' is not a number ({NUMBER_FIX})"


def test_timeout(no_proxy):
    with FakeAlpaca([], {}, api_key=KEY, secret_key=SECRET, delay_s=5.0) as fake:
        with pytest.raises(InputError) as info:
            fetch_alpaca_portfolio(KEY, SECRET, base_url=fake.url, timeout=0.3)
    assert str(info.value) == (f"Alpaca did not answer within 0.3 s at {fake.url}/v2/positions: check the "
                               "network, or raise the timeout")


def test_connection_refused(no_proxy):
    with socket.socket() as s:  # find a free port, then close it so nothing listens there
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    with pytest.raises(InputError) as info:
        fetch_alpaca_portfolio(KEY, SECRET, base_url=url)
    assert str(info.value) == (f"cannot connect to Alpaca at {url}/v2/positions (connection failed): check the "
                               "network and the base URL")


def test_missing_keys():
    with pytest.raises(InputError) as info:
        fetch_alpaca_portfolio(KEY, "", base_url="http://127.0.0.1:9")
    assert str(info.value) == ("no Alpaca credentials: ALPACA_SECRET_KEY is empty "
                               "(set ALPACA_API_KEY and ALPACA_SECRET_KEY)")


def test_missing_alpaca_py(monkeypatch):
    # a None entry in sys.modules makes the import fail exactly as if the package were absent
    monkeypatch.setitem(sys.modules, "alpaca.trading.client", None)
    with pytest.raises(InputError) as info:
        fetch_alpaca_portfolio(KEY, SECRET)
    assert str(info.value) == ("live Alpaca positions need alpaca-py, which is not installed "
                               "(pip install 'wsbrisk-tui[alpaca]')")


def test_combined_file_positions_must_be_an_array(tmp_path):
    path = write_json(tmp_path, {"positions": {"AAPL": "10"}}, "snapshot.json")
    assert problems_of(path) == [f"{path}: positions: expected a JSON array of positions, found an object "
                                 "(GET /v2/positions answers a JSON array; keep it unchanged)"]
