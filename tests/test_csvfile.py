"""The shared CSV machinery: problem cap, data-line numbering, located CSV and encoding errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from wsbrisk_tui.engine.sources.csvfile import (MAX_PROBLEMS_LISTED, Problems, data_lines, read_csv_text,
                                                split_cells)
from wsbrisk_tui.errors import InputError


def test_problems_are_capped_at_50_with_a_count_of_the_rest(tmp_path):
    p = tmp_path / "x.csv"
    problems = Problems(p)
    for line in range(1, 57):
        problems.bad(line, "qty", "is bad", "fix it")
    with pytest.raises(InputError) as info:
        problems.raise_if_any(f"{p}: the file has problems")
    err = info.value
    assert err.message == f"{p}: the file has problems (56 problems):"
    assert len(err.problems) == MAX_PROBLEMS_LISTED + 1 == 51
    assert err.problems[0] == f"{p}:1: column 'qty': is bad (fix it)"
    assert err.problems[49] == f"{p}:50: column 'qty': is bad (fix it)"
    assert err.problems[50] == "... and 6 more problems"


def test_one_problem_is_the_whole_message_and_none_raises_nothing(tmp_path):
    problems = Problems(tmp_path / "x.csv")
    problems.raise_if_any("unused")
    problems.bad(3, None, "broken")
    with pytest.raises(InputError) as info:
        problems.raise_if_any("unused")
    assert str(info.value) == f"{tmp_path / 'x.csv'}:3: broken"


def test_data_lines_keep_physical_numbers_across_mixed_line_ends(tmp_path):
    p = tmp_path / "x.csv"
    p.write_bytes(b"\xef\xbb\xbfa,b\r\n\r\n# note\r1,2\n  \n3,4")
    assert data_lines(read_csv_text(p)) == [(1, "a,b"), (4, "1,2"), (6, "3,4")]


def test_split_cells_records_a_located_problem_for_broken_quotes():
    problems = Problems(Path("q.csv"))
    assert split_cells(problems, 7, 'a,"b ""c"" d",e') == ["a", 'b "c" d', "e"]
    assert split_cells(problems, 8, 'a,"b"x') is None
    assert problems.problems == ["q.csv:8: cannot be read as CSV (',' expected after '\"') "
                                 "(check the quotes on this line)"]
