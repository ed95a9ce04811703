"""The ``tui`` and ``snapshot`` commands: sessions (record / attach) and headless rendering."""

from __future__ import annotations


import pytest
from tui_helpers import demo_args

from wsbrisk_tui.cli import main
from wsbrisk_tui.commands.snapshot import parse_size
from wsbrisk_tui.commands.tui import open_session
from wsbrisk_tui.errors import InputError


def test_parse_size_accepts_wxh_and_refuses_nonsense():
    assert parse_size("120x40") == (120, 40)
    assert parse_size(" 80X24 ") == (80, 24)
    with pytest.raises(InputError, match="expected COLUMNSxROWS"):
        parse_size("120*40")
    with pytest.raises(InputError, match="at least 40x12"):
        parse_size("30x10")


def test_dashboard_session_records_and_a_second_one_watches_it(user_dirs):
    import os

    from wsbrisk_tui.attach import AttachedRuntime

    first = open_session(demo_args(), record=True)
    try:
        store_path = first.config.paths().history_db
        assert first.runtime.record is True and store_path.exists()
        assert first.notes == []
        second = open_session(demo_args(), record=True)
        try:
            # One writer per store: the second dashboard attaches to the first one's store.
            assert isinstance(second.runtime, AttachedRuntime) and second.runtime.path == store_path
            assert second.notes == [f"another wsbrisk-tui (pid {os.getpid()}) is recording to "
                                    f"{store_path}: watching it (attached)"]
            # Its refresh interval is not in the store (only a daemon writes it): the config's is used.
            assert second.runtime.daemon_interval() == first.config.general.refresh_seconds
        finally:
            second.close()
    finally:
        first.close()


def test_snapshot_session_never_creates_a_store(user_dirs):
    session = open_session(demo_args(), record=False)
    try:
        assert session.runtime.record is False
        assert not session.config.paths().history_db.exists()
    finally:
        session.close()


def test_attach_without_a_store_says_what_to_do(user_dirs):
    with pytest.raises(InputError, match="start `wsbrisk-tui daemon` first"):
        open_session(demo_args(attach=True), record=False)


def test_bad_theme_is_one_clear_error(user_dirs, capsys):
    assert main(["snapshot", "--demo", "--theme", "neon"]) == 2
    err = capsys.readouterr().err
    assert "neon" in err and "Traceback" not in err


@pytest.mark.slow
def test_snapshot_command_prints_the_demo_ladder_as_text(user_dirs, capsys):
    assert main(["snapshot", "--demo", "--size", "100x30", "--pane", "var"]) == 0
    out = capsys.readouterr().out
    assert "VaR ladder  1-day  USD" in out
    assert "historical" in out and "DEMO" in out
    assert "\x1b" not in out
    lines = out.splitlines()
    assert len(lines) <= 30 and max(len(x) for x in lines) <= 100


@pytest.mark.slow
def test_snapshot_command_writes_svg(user_dirs, tmp_path, capsys):
    target = tmp_path / "dash.svg"
    assert main(["snapshot", "--demo", "--format", "svg", "--size", "80x24", "--output", str(target)]) == 0
    text = target.read_text(encoding="utf-8")
    assert text.lstrip().startswith("<svg") and "Positions" in text
