"""The positions CSV reader: a valid mixed book, and one exact message per kind of bad input."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from wsbrisk_tui.engine.model import OptionContract, Position
from wsbrisk_tui.engine.sources.positions_csv import apply_side, parse_number, read_positions_csv
from wsbrisk_tui.engine.symbols import KNOWN_ETFS, classify, is_crypto_pair, normalize_symbol
from wsbrisk_tui.errors import InputError

FIXTURES = Path(__file__).parent / "fixtures" / "positions"
NUMBER_FIX = "write a plain number such as 10, -2.5 or 0.25"


def write(tmp_path: Path, text: str, name: str = "book.csv", encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding=encoding)
    return path


def problems_of(path: Path) -> list[str]:
    with pytest.raises(InputError) as info:
        read_positions_csv(path)
    return info.value.problems


def only_problem(path: Path) -> str:
    problems = problems_of(path)
    assert len(problems) == 1, problems
    return problems[0]


# --------------------------------------------------------------------------------------------
# The valid mixed book
# --------------------------------------------------------------------------------------------


def test_mixed_book_reads_every_field():
    path = FIXTURES / "book.csv"
    book = read_positions_csv(path)
    assert book.source == f"csv:{path}"
    assert book.mode == "FILE"
    assert book.cash == 25000.50
    assert book.equity is None
    assert book.notes == ()
    assert book.positions == (
        Position(symbol="AAPL", qty=100.0, asset_class="equity", avg_entry_price=182.50,
                 strategy="core", origin="book.csv:3"),
        Position(symbol="SPY", qty=12.5, asset_class="etf", price=505.10, avg_entry_price=501.20,
                 strategy="hedge-base", origin="book.csv:4"),
        # side=short turns the positive qty into a short; line 5 is blank and still counted
        Position(symbol="TSLA", qty=-40.0, asset_class="equity", avg_entry_price=250.0,
                 strategy="momentum", origin="book.csv:6"),
        Position(symbol="BTC/USD", qty=0.125, asset_class="crypto", avg_entry_price=61000.0,
                 origin="book.csv:7"),
        Position(symbol="SPY260320C00600000", qty=2.0, asset_class="option", price=5.25,
                 avg_entry_price=4.10, strategy="dip-buy", origin="book.csv:8",
                 option=OptionContract(underlying="SPY", expiry=date(2026, 3, 20), right="C",
                                       strike=600.0, multiplier=100.0, root="SPY", adjusted=False)),
        # an option given by columns: the label is replaced by the OCC symbol
        Position(symbol="QQQ260619P00450000", qty=-3.0, asset_class="option", avg_entry_price=7.80,
                 origin="book.csv:9",
                 option=OptionContract(underlying="QQQ", expiry=date(2026, 6, 19), right="P",
                                       strike=450.0, multiplier=100.0, root="QQQ", adjusted=False)),
        Position(symbol="NVDA", qty=0.75, asset_class="equity", avg_entry_price=118.40, origin="book.csv:10"),
    )
    # the multiplier rule: 2 contracts x 5.25 x 100
    assert book.positions[4].market_value_at(5.25) == pytest.approx(1050.0, abs=1e-9)
    assert book.underlyings() == ["AAPL", "SPY", "TSLA", "BTC/USD", "QQQ", "NVDA"]


def test_bom_case_insensitive_header_and_comments(tmp_path):
    path = write(tmp_path, "\ufeff# exported by hand\n Symbol , QTY ,Price\n\n  msft ,3,410.5\n# end\n")
    book = read_positions_csv(path)
    assert book.positions == (Position(symbol="MSFT", qty=3.0, asset_class="equity", price=410.5,
                                       origin="book.csv:4"),)
    assert book.cash is None  # no CASH row: unknown, not zero


def test_crlf_and_trailing_cells_trimmed(tmp_path):
    path = tmp_path / "book.csv"
    path.write_bytes(b"symbol,qty,price,strategy\r\nIWM,-7\r\n")
    book = read_positions_csv(path)
    assert book.positions == (Position(symbol="IWM", qty=-7.0, asset_class="etf", origin="book.csv:2"),)


def test_cash_only_book_is_valid(tmp_path):
    book = read_positions_csv(write(tmp_path, "symbol,qty\n$CASH,-1500.25\n"))
    assert book.positions == ()
    assert book.cash == -1500.25


def test_option_by_occ_with_multiplier_and_underlying_override(tmp_path):
    # an adjusted contract needs its multiplier; the underlying column names the driver
    path = write(tmp_path, "symbol,qty,underlying,multiplier\nAAPL1260116C00150000,1,AAPL,150\n")
    (pos,) = read_positions_csv(path).positions
    assert pos.symbol == "AAPL1260116C00150000"
    assert pos.option == OptionContract(underlying="AAPL", expiry=date(2026, 1, 16), right="C",
                                        strike=150.0, multiplier=150.0, root="AAPL1", adjusted=True)
    assert pos.market_value_at(2.0) == 300.0


def test_explicit_asset_class_and_crypto_inference(tmp_path):
    path = write(tmp_path, "symbol,qty,asset_class\nSPY,1,Stock\nETHUSD,2.5,\nGLD,1,US_EQUITY\nXYZ,1,etf\n")
    kinds = [(p.symbol, p.asset_class) for p in read_positions_csv(path).positions]
    assert kinds == [("SPY", "equity"), ("ETHUSD", "crypto"), ("GLD", "etf"), ("XYZ", "etf")]


# --------------------------------------------------------------------------------------------
# Duplicates
# --------------------------------------------------------------------------------------------


def test_duplicates_merge_qty_and_weighted_entry(tmp_path):
    path = write(tmp_path, "symbol,qty,avg_entry_price,price,strategy\n"
                           "AAPL,100,180,190,core\nMSFT,1,400,,\nAAPL,50,186,,swing\naapl,10,,190,core\n")
    book = read_positions_csv(path)
    aapl = book.positions[0]
    assert aapl.qty == 160.0
    # weighted over the rows that give an entry: (100 x 180 + 50 x 186) / 150 = 182
    assert aapl.avg_entry_price == pytest.approx(182.0, rel=1e-12)
    assert aapl.price == 190.0
    assert aapl.strategy == "core, swing"
    assert aapl.origin == "book.csv:2,4,5"
    assert book.notes == (
        f"{path}: lines 2, 4 and 5 hold AAPL: merged into one position (qty 160, avg_entry_price 182 "
        "weighted by qty over lines 2, 4 (the others give none))",
    )


def test_duplicates_long_and_short_have_no_common_entry(tmp_path):
    path = write(tmp_path, "symbol,qty,avg_entry_price\nTSLA,10,200\nTSLA,-4,210\n")
    book = read_positions_csv(path)
    assert book.positions[0].qty == 6.0
    assert book.positions[0].avg_entry_price is None
    assert book.notes == (f"{path}: lines 2 and 3 hold TSLA: merged into one position (qty 6, "
                          "avg_entry_price left blank (long and short rows have no common entry price))",)


def test_duplicates_with_conflicting_prices_are_rejected(tmp_path):
    path = write(tmp_path, "symbol,qty,price\nAAPL,10,190\nAAPL,5,191\n")
    assert only_problem(path) == (f"{path}:3: column 'price': AAPL has price 191 here but 190 on line 2 "
                                  "(keep one row, or make the rows agree)")


def test_duplicates_with_conflicting_classes_are_rejected(tmp_path):
    path = write(tmp_path, "symbol,qty,asset_class\nGLD,10,etf\nGLD,5,equity\n")
    assert only_problem(path) == (f"{path}:3: column 'asset_class': GLD is equity here but etf on line 2 "
                                  "(keep one row, or make the rows agree)")


def test_duplicates_netting_to_zero_are_rejected(tmp_path):
    path = write(tmp_path, "symbol,qty\nAMD,0.3\nAMD,-0.1\nAMD,-0.2\n")
    assert only_problem(path) == (f"{path}:4: column 'qty': AMD rows on lines 2, 3 and 4 net to a zero quantity "
                                  "(delete the rows of a closed position)")


# --------------------------------------------------------------------------------------------
# Bad input: one exact message each
# --------------------------------------------------------------------------------------------


def test_empty_file(tmp_path):
    path = write(tmp_path, "\n# nothing yet\n\n")
    assert only_problem(path) == (f"{path}: the file is empty (no header, no positions) (start with a header line "
                                  "such as 'symbol,qty,avg_entry_price,price' and one row per position)")


def test_header_only(tmp_path):
    path = write(tmp_path, "symbol,qty\n")
    assert only_problem(path) == (f"{path}: the file has a header but no positions "
                                  "(add one row per position, e.g. 'AAPL,100' under the header)")


def test_missing_header_line(tmp_path):
    path = write(tmp_path, "AAPL,100\n")
    assert only_problem(path) == (f"{path}:1: the first line 'AAPL,100' is not a header (it names no known "
                                  "column) (start the file with a header line such as "
                                  "'symbol,qty,avg_entry_price,price')")


def test_missing_required_column(tmp_path):
    path = write(tmp_path, "symbol,price\nAAPL,10\n")
    assert only_problem(path) == (f"{path}:1: the header has no 'qty' column "
                                  "(the header needs at least 'symbol,qty'; found: symbol, price)")


def test_unknown_column_with_hint(tmp_path):
    path = write(tmp_path, "symbol,qyt\nAAPL,10\n")
    with pytest.raises(InputError) as info:
        read_positions_csv(path)
    assert info.value.problems == [
        f"{path}:1: column 'qyt': unknown column (did you mean 'qty'?)",
        f"{path}:1: the header has no 'qty' column (the header needs at least 'symbol,qty'; found: symbol, qyt)",
    ]
    assert str(info.value).splitlines()[0] == f"{path}: the header has problems (2 problems):"


def test_duplicate_column(tmp_path):
    path = write(tmp_path, "symbol,qty,QTY\nAAPL,1,2\n")
    assert only_problem(path) == f"{path}:1: column 'qty': appears twice in the header (positions 2 and 3) (keep one)"


def test_non_numeric_qty(tmp_path):
    path = write(tmp_path, "symbol,qty\nAAPL,ten\n")
    assert only_problem(path) == f"{path}:2: column 'qty': 'ten' is not a number ({NUMBER_FIX})"


def test_thousands_separator_and_currency_sign_are_rejected(tmp_path):
    path = write(tmp_path, 'symbol,qty,price\nAAPL,"1,200",$190\n')
    assert problems_of(path) == [
        f"{path}:2: column 'qty': '1,200' has a thousands separator or a decimal comma "
        "(write plain digits with '.' as the decimal point, e.g. 1234.5)",
        f"{path}:2: column 'price': '$190' has a currency sign (write the number alone, e.g. 101.25)",
    ]


def test_nan_and_inf_are_rejected(tmp_path):
    path = write(tmp_path, "symbol,qty,price\nAAPL,NaN,\nMSFT,1,inf\nIBM,1e999,\n")
    assert problems_of(path) == [
        f"{path}:2: column 'qty': 'NaN' is not a finite number ({NUMBER_FIX})",
        f"{path}:3: column 'price': 'inf' is not a finite number ({NUMBER_FIX})",
        f"{path}:4: column 'qty': '1e999' is too large to be a finite number ({NUMBER_FIX})",
    ]


def test_zero_qty(tmp_path):
    path = write(tmp_path, "symbol,qty\nAAPL,0.0\n")
    assert only_problem(path) == (f"{path}:2: column 'qty': is 0: a position of zero is meaningless "
                                  "(delete the row or give the quantity held)")


def test_blank_qty(tmp_path):
    path = write(tmp_path, "symbol,qty\nAAPL,\n")
    assert only_problem(path) == (f"{path}:2: column 'qty': is blank "
                                  "(every position needs a quantity (negative for a short))")


def test_bad_occ_symbol(tmp_path):
    path = write(tmp_path, "symbol,qty\nSPY260320X00600000,1\n")
    assert only_problem(path) == (
        f"{path}:2: column 'symbol': 'SPY260320X00600000' is not an OCC option symbol (expected ROOT + YYMMDD + "
        "C/P + 8-digit strike x 1000, e.g. SPY260320C00600000) (or give the contract in the underlying, "
        "expiry, strike and right columns)")


def test_occ_symbol_with_impossible_date(tmp_path):
    path = write(tmp_path, "symbol,qty\nSPY261332C00600000,1\n")
    assert only_problem(path).startswith(
        f"{path}:2: column 'symbol': 'SPY261332C00600000': expiry '261332' is not a valid YYMMDD date")


def test_bad_expiry(tmp_path):
    path = write(tmp_path, "symbol,qty,underlying,expiry,strike,right\n,1,SPY,03/20/2026,600,C\n")
    assert only_problem(path) == (f"{path}:2: column 'expiry': '03/20/2026' is not a YYYY-MM-DD date "
                                  "(write e.g. 2026-03-20)")


def test_impossible_expiry(tmp_path):
    path = write(tmp_path, "symbol,qty,underlying,expiry,strike,right\n,1,SPY,2026-02-30,600,C\n")
    assert only_problem(path) == (f"{path}:2: column 'expiry': '2026-02-30' is not a valid date "
                                  "(day is out of range for month) (write e.g. 2026-03-20)")


def test_bad_right(tmp_path):
    path = write(tmp_path, "symbol,qty,underlying,expiry,strike,right\n,1,SPY,2026-03-20,600,X\n")
    assert only_problem(path) == (f"{path}:2: column 'right': 'X' is not C, P, call or put "
                                  "(write C for a call, P for a put)")


def test_option_columns_incomplete(tmp_path):
    path = write(tmp_path, "symbol,qty,underlying,expiry,strike,right\nmy call,1,SPY,2026-03-20,,\n")
    fix = "an option given by columns needs underlying, expiry, strike and right (or an OCC symbol)"
    assert problems_of(path) == [f"{path}:2: column 'strike': is blank ({fix})",
                                 f"{path}:2: column 'right': is blank ({fix})"]


def test_option_columns_disagree_with_occ_symbol(tmp_path):
    path = write(tmp_path, "symbol,qty,strike\nSPY260320C00600000,1,605\n")
    assert only_problem(path) == (f"{path}:2: column 'strike': '605' disagrees with the OCC symbol "
                                  "SPY260320C00600000 (2026-03-20 600 C) "
                                  "(fix the strike or the symbol, or leave strike blank)")


def test_adjusted_contract_needs_multiplier(tmp_path):
    path = write(tmp_path, "symbol,qty\nSPY1260320C00600000,1\n")
    assert only_problem(path) == (
        f"{path}:2: column 'multiplier': SPY1260320C00600000 is an adjusted contract (root SPY1 ends in a digit): "
        "its deliverable is not 100 plain shares (add a multiplier column with the contract's real multiplier "
        "(and underlying if it differs))")


def test_option_class_without_contract(tmp_path):
    path = write(tmp_path, "symbol,qty,asset_class\nAAPL,1,option\n")
    assert only_problem(path).startswith(f"{path}:2: column 'symbol': 'AAPL' is not an OCC option symbol")


def test_side_conflict(tmp_path):
    path = write(tmp_path, "symbol,qty,side\nAAPL,-10,long\n")
    assert only_problem(path) == (f"{path}:2: column 'side': side 'long' conflicts with the negative qty -10 "
                                  "(use side short, or a positive qty)")


def test_bad_side_and_asset_class(tmp_path):
    path = write(tmp_path, "symbol,qty,side,asset_class\nAAPL,10,hold,bond\n")
    assert problems_of(path) == [
        f"{path}:2: column 'side': 'hold' is not long, short, buy or sell (leave it blank to use the sign of qty)",
        f"{path}:2: column 'asset_class': unknown asset class 'bond' "
        "(expected one of: equity, stock, etf, option, crypto, us_equity, us_option)",
    ]


def test_sell_side_and_negative_qty_agree(tmp_path):
    book = read_positions_csv(write(tmp_path, "symbol,qty,side\nAAPL,-10,sell\nMSFT,3,SELL\nIBM,2,buy\n"))
    assert [p.qty for p in book.positions] == [-10.0, -3.0, 2.0]


def test_multiplier_on_a_stock(tmp_path):
    path = write(tmp_path, "symbol,qty,multiplier\nAAPL,10,100\n")
    assert only_problem(path) == (f"{path}:2: column 'multiplier': applies to options only "
                                  "(remove it, or give the option's contract)")


def test_not_a_ticker(tmp_path):
    path = write(tmp_path, "symbol,qty\nAA PL,10\n")
    assert only_problem(path) == (
        f"{path}:2: column 'symbol': 'AA PL' is not a ticker symbol (use letters, digits, '.', '-' or '/' "
        "(e.g. BRK.B, BTC/USD); options as OCC symbols such as SPY260320C00600000)")


def test_negative_price(tmp_path):
    path = write(tmp_path, "symbol,qty,price\nAAPL,10,-1\n")
    assert only_problem(path) == (f"{path}:2: column 'price': -1 is negative "
                                  "(price is a price per share: write it as a positive number)")


def test_extra_values_and_nameless_column(tmp_path):
    path = write(tmp_path, "symbol,qty,\nAAPL,1,,x\nMSFT,2,oops\n")
    assert problems_of(path) == [
        f"{path}:2: has 4 values but the header has 3 columns (remove the extra values or add their column to the header)",
        f"{path}:3: value 'oops' sits under a column with no name in the header (name the column or remove the value)",
    ]


def test_cash_row_rules(tmp_path):
    path = write(tmp_path, "symbol,qty,price\nCASH,100,1\nCASH,200,\n")
    assert problems_of(path) == [
        f"{path}:2: column 'price': a CASH row takes only qty (the cash balance) (remove the price value(s) from this row)",
        f"{path}:3: column 'symbol': a second CASH row (the first is on line 2) (give the cash balance in one row)",
    ]


def test_unterminated_quote(tmp_path):
    path = write(tmp_path, 'symbol,qty\n"AAPL,10\n')
    assert only_problem(path) == (f"{path}:2: cannot be read as CSV (unexpected end of data) "
                                  "(check the quotes on this line)")


def test_every_problem_is_collected(tmp_path):
    path = write(tmp_path, "symbol,qty\nAAPL,x\nMSFT,0\nGOOG,1\nIBM,\n")
    problems = problems_of(path)
    assert [p.split(": ")[0] for p in problems] == [f"{path}:2", f"{path}:3", f"{path}:5"]
    with pytest.raises(InputError) as info:
        read_positions_csv(path)
    assert str(info.value).splitlines()[0] == f"{path}: the positions file has problems (3 problems):"


def test_not_utf8_and_missing_file(tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes("symbol,qty\nCAF\xc9,1\n".encode("latin-1"))
    assert only_problem(path) == f"{path}:2: is not UTF-8 text (byte 15 of the file) (save the file as UTF-8 CSV)"
    missing = tmp_path / "nope.csv"
    assert only_problem(missing) == f"{missing}: no such file (check the --positions path)"


# --------------------------------------------------------------------------------------------
# Shared helpers and symbols
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("text, value", [("10", 10.0), ("-2.5", -2.5), (" .25 ", 0.25), ("1e3", 1000.0),
                                         ("+7", 7.0), ("0.0123456", 0.0123456)])
def test_parse_number_accepts_plain_numbers(text, value):
    assert parse_number(text) == value


@pytest.mark.parametrize("text", ["1_000", "12abc", "1.2.3", "--1", "0x10", "5%", "€5", "infinity"])
def test_parse_number_rejects_the_rest(text):
    with pytest.raises(ValueError):
        parse_number(text)


def test_apply_side():
    assert apply_side(5.0, "short") == -5.0
    assert apply_side(-5.0, "short") == -5.0
    assert apply_side(-5.0, None) == -5.0
    assert apply_side(5.0, "long") == 5.0
    with pytest.raises(ValueError):
        apply_side(-5.0, "long")


def test_symbols():
    assert normalize_symbol("  brk.b ") == "BRK.B"
    assert normalize_symbol("btc/usd") == "BTC/USD"
    assert {"SPY", "QQQ", "TLT", "XLRE", "UVXY", "SPXS", "KRE", "GDX"} <= KNOWN_ETFS
    assert classify("SPY", "us_equity") == "etf"
    assert classify("AAPL", "us_equity") == "equity"
    assert classify("SPY", "equity") == "equity"  # an explicit class wins
    assert classify("SPY260320C00600000") == "option"
    assert classify("BTC-USD") == "crypto"
    assert classify("DOGEUSDT", "") == "crypto"
    assert is_crypto_pair("BRK-B") is False
    assert is_crypto_pair("ZUSD") is False  # unknown base without separator: a stock ticker
    with pytest.raises(ValueError, match="unknown asset class 'bond'"):
        classify("AGG", "bond")


def test_lastday_price_gives_an_option_its_day_pnl(tmp_path):
    """An option's previous mark (Alpaca's ``lastday_price``) gives its day P&L:
    qty x 100 x (price - lastday_price) = 3 x 100 x (1.09 - 0.94) = +45.00; without it, n/a."""
    from datetime import date

    import pandas as pd

    from wsbrisk_tui.engine.model import MarketData
    from wsbrisk_tui.engine.valuation import value_book

    path = write(tmp_path, "symbol,qty,price,lastday_price\nSPY210104C00380000,3,1.09,0.94\n"
                           "QQQ210129C00305000,5,4.52,\nSPY210104C00380000,2,1.09,0.94\n")
    book = read_positions_csv(path)
    spy = next(p for p in book.positions if p.symbol == "SPY210104C00380000")
    assert spy.lastday_price == 0.94 and spy.qty == 5  # merged rows agree on it
    market = MarketData(prices=pd.DataFrame({"SPY": [370.0, 373.88]},
                                            index=pd.bdate_range(end="2020-12-31", periods=2)),
                        source="test", as_of=date(2020, 12, 31))
    rows = {r.symbol: r for r in value_book(book, market).rows}
    assert rows["SPY210104C00380000"].day_pnl == pytest.approx(5 * 100 * (1.09 - 0.94), abs=1e-9)
    assert rows["QQQ210129C00305000"].day_pnl is None  # no previous mark: n/a, never zero


def test_lastday_price_is_checked_like_a_price(tmp_path):
    path = write(tmp_path, "symbol,qty,price,lastday_price\nAAPL,10,130,-1\n"
                           "MSFT,1,,200\nMSFT,1,,201\n")
    with pytest.raises(InputError) as exc:
        read_positions_csv(path)
    text = str(exc.value)
    assert "book.csv:2: column 'lastday_price':" in text
    assert ("book.csv:4: column 'lastday_price': MSFT has lastday_price 201 here but 200 on line "
            "3 (keep one row, or make the rows agree)") in text
