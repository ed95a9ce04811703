"""Prices CSV: values, gaps, ordering, staleness and one clear message per bad input."""

from __future__ import annotations

import math
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from wsbrisk_tui.engine.sources.prices_csv import business_days_old, read_prices_csv, stale_reason
from wsbrisk_tui.errors import InputError


def write(tmp_path: Path, text: str, name: str = "prices.csv") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


GOOD = """\
# adjusted closes
Date,SPY,AAPL,BRK.B
2024-04-29,510.06,173.50,405.10
2024-04-30,501.98,,401.66

2024-05-01,500.35,169.30,403.90
"""


def test_values_index_and_provenance(tmp_path):
    p = write(tmp_path, GOOD)
    md = read_prices_csv(p, today=date(2024, 5, 2))
    assert md.symbols == ["SPY", "AAPL", "BRK.B"]
    assert isinstance(md.prices.index, pd.DatetimeIndex)
    assert md.prices.index.tz is None
    assert md.prices.index.is_monotonic_increasing and md.prices.index.is_unique
    assert list(md.prices.index.date) == [date(2024, 4, 29), date(2024, 4, 30), date(2024, 5, 1)]
    assert all(md.prices[c].dtype == np.float64 for c in md.symbols)
    # exact decimal parse: the same doubles Python's float() gives
    assert md.prices.loc["2024-04-30", "SPY"] == 501.98
    assert md.prices.loc["2024-05-01", "BRK.B"] == 403.90
    # the gap stays NaN, never 0 and never the previous close
    assert math.isnan(md.prices.loc["2024-04-30", "AAPL"])
    assert md.source == f"csv:{p}"
    assert md.series_notes == {s: f"file {p}" for s in ["SPY", "AAPL", "BRK.B"]}
    assert md.as_of == date(2024, 5, 1)
    assert not md.stale and md.stale_reason is None
    assert md.notes == (f"{p}: gaps (empty cells, left as NaN): AAPL 1",)


def test_symbols_select_and_order_columns_and_name_the_rest(tmp_path):
    p = write(tmp_path, GOOD)
    md = read_prices_csv(p, ["BRK.B", "SPY"], today=date(2024, 5, 2))
    assert md.symbols == ["BRK.B", "SPY"]
    assert md.notes == (f"{p}: columns not in the book, not used: AAPL",)  # AAPL's gap is not ours


def test_rows_in_any_order_are_sorted(tmp_path):
    p = write(tmp_path, "date,SPY\n2024-05-01,3\n2024-04-29,1\n2024-04-30,2\n")
    md = read_prices_csv(p, today=date(2024, 5, 1))
    assert md.prices["SPY"].tolist() == [1.0, 2.0, 3.0]
    assert md.as_of == date(2024, 5, 1)


def test_as_of_is_last_date_with_any_price(tmp_path):
    p = write(tmp_path, "date,SPY,QQQ\n2024-04-29,1,2\n2024-04-30,,3\n")
    assert read_prices_csv(p, today=date(2024, 5, 1)).as_of == date(2024, 4, 30)


def test_stale_after_business_days(tmp_path):
    p = write(tmp_path, "date,SPY\n2024-04-30,1\n2024-05-01,2\n")
    # Wed 2024-05-01 -> Fri 2024-05-10: May 1,2,3,6,7,8,9 = 7 business days
    md = read_prices_csv(p, today=date(2024, 5, 10), stale_after_days=3)
    assert md.stale
    assert md.stale_reason == "last price 2024-05-01 is 7 business days old"
    # the boundary: exactly N business days old is not stale
    fresh = read_prices_csv(p, today=date(2024, 5, 6), stale_after_days=3)  # May 1,2,3 = 3
    assert not fresh.stale
    assert not read_prices_csv(p, today=date(2024, 5, 10), stale_after_days=None).stale


def test_business_day_age():
    assert business_days_old(date(2024, 5, 3), date(2024, 5, 6)) == 1  # Friday close seen on Monday
    assert business_days_old(date(2024, 5, 6), date(2024, 5, 6)) == 0
    assert business_days_old(date(2024, 5, 7), date(2024, 5, 6)) == 0
    assert stale_reason(date(2024, 5, 2), date(2024, 5, 6), 1) == "last price 2024-05-02 is 2 business days old"
    assert stale_reason(date(2024, 5, 3), date(2024, 5, 6), 0) == "last price 2024-05-03 is 1 business day old"


def test_bom_is_tolerated(tmp_path):
    p = tmp_path / "bom.csv"
    p.write_bytes("\ufeffdate,SPY\n2024-05-01,1.5\n".encode("utf-8"))
    assert read_prices_csv(p, today=date(2024, 5, 1)).prices["SPY"].tolist() == [1.5]


def one_error(p: Path, **kw) -> str:
    with pytest.raises(InputError) as info:
        read_prices_csv(p, **kw)
    return str(info.value)


def test_unparseable_date_names_line_and_column(tmp_path):
    p = write(tmp_path, "date,SPY\n2024-04-30,1\n05/01/2024,2\n")
    assert one_error(p) == (f"{p}:3: column 'date': '05/01/2024' is not an ISO date "
                            "(write the date as YYYY-MM-DD, e.g. 2024-05-01)")


def test_impossible_date(tmp_path):
    p = write(tmp_path, "date,SPY\n2024-02-30,1\n")
    assert "'2024-02-30' is not a calendar date" in one_error(p)


def test_duplicate_date_names_both_lines(tmp_path):
    p = write(tmp_path, "date,SPY\n2024-04-30,1\n2024-05-01,2\n2024-04-30,3\n")
    assert one_error(p) == (f"{p}:4: column 'date': date 2024-04-30 already appears on line 2 "
                            "(keep one row per date)")


@pytest.mark.parametrize("cell,what", [
    ("abc", "'abc' is not a number"),
    ("1,234.5", "'1,234.5' has a thousands separator or a decimal comma"),
    ("NaN", "'NaN' is not a finite number"),
    ("$101", "'$101' has a currency sign"),
    ("5%", "'5%' is a percentage"),
    ("0", "price 0 is not positive"),
    ("-3.5", "price -3.5 is not positive"),
    ("1e999", "'1e999' is too large to be a finite number"),
])
def test_bad_price_cells(tmp_path, cell, what):
    p = write(tmp_path, f'date,SPY\n2024-05-01,"{cell}"\n')
    msg = one_error(p)
    assert msg.startswith(f"{p}:2: column 'SPY': {what} (")


def test_every_problem_is_listed(tmp_path):
    p = write(tmp_path, "date,SPY,QQQ\n2024-05-01,x,1\nbad,2,-1\n2024-05-03,1\n")
    with pytest.raises(InputError) as info:
        read_prices_csv(p)
    err = info.value
    assert err.message == f"{p}: the prices file has problems (4 problems):"
    assert err.problems == [
        f"{p}:2: column 'SPY': 'x' is not a number ({'write the adjusted close as a plain positive number such as 101.25, or leave the cell empty for a gap'})",
        f"{p}:3: column 'date': 'bad' is not an ISO date (write the date as YYYY-MM-DD, e.g. 2024-05-01)",
        f"{p}:3: column 'QQQ': price -1 is not positive (write the adjusted close as a plain positive number such as 101.25, or leave the cell empty for a gap)",
        f"{p}:4: has 2 fields, the header has 3 (give one value per header column (leave a cell empty for a gap))",
    ]


def test_missing_symbol_lists_columns_and_suggests(tmp_path):
    p = write(tmp_path, GOOD)
    msg = one_error(p, symbols=["SPY", "BRK-B"])
    assert msg == (f"{p}:2: no column for the book's symbol 'BRK-B' (did you mean 'BRK.B'? "
                   "columns in the file: SPY, AAPL, BRK.B; name the column exactly as the book does)")
    msg = one_error(p, symbols=["aapl"])
    assert "did you mean 'AAPL'?" in msg
    msg = one_error(p, symbols=["TSLA"])
    assert "did you mean" not in msg and "columns in the file: SPY, AAPL, BRK.B" in msg


def test_entirely_empty_column(tmp_path):
    p = write(tmp_path, "date,SPY,QQQ\n2024-04-30,1,\n2024-05-01,2,\n")
    assert one_error(p) == f"{p}:1: column 'QQQ': has no price at all (fill in the adjusted closes, or remove the column)"
    # not an error when that column is not asked for
    assert read_prices_csv(p, ["SPY"], today=date(2024, 5, 1)).symbols == ["SPY"]


@pytest.mark.parametrize("text,what", [
    ("SPY,QQQ\n1,2\n", "has no 'date' column"),
    ("date,SPY,SPY\n2024-05-01,1,2\n", "column 'SPY': appears twice in the header (columns 2 and 3)"),
    ("date,,SPY\n2024-05-01,,1\n", "column 2 has no name"),
    ("date\n2024-05-01\n", "the header names no symbol column"),
    ("date,SPY\n", "the file has a header but no price rows"),
    ("# only a comment\n\n", "the file is empty"),
])
def test_header_problems(tmp_path, text, what):
    p = write(tmp_path, text)
    assert what in one_error(p)


def test_missing_file_and_bad_encoding(tmp_path):
    assert one_error(tmp_path / "nope.csv") == f"{tmp_path / 'nope.csv'}: no such file (check the --prices path)"
    p = tmp_path / "latin1.csv"
    p.write_bytes("date,SPY\n2024-05-01,1\n# caf\xe9\n".encode("latin-1"))
    # "# caf" starts at byte 23: the 0xE9 is byte 28 of the file, on line 3
    assert one_error(p) == f"{p}:3: is not UTF-8 text (byte 28 of the file) (save the file as UTF-8 CSV)"
