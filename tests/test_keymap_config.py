"""``[keymap]`` ids are checked against the dashboard's bindings, without importing Textual.

:data:`wsbrisk_tui.keys.BINDING_IDS` is the Textual-free list the config check uses; the first
test pins it to the ids the live binding classes define, so a new binding cannot be missed by
the check (and a renamed one cannot linger in it).
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from wsbrisk_tui.cli import main
from wsbrisk_tui.config import load_config, write_config
from wsbrisk_tui.errors import InputError
from wsbrisk_tui.keys import BINDING_IDS

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    for var in ("WSBRISK_CONFIG", "ALPACA_API_KEY", "ALPACA_SECRET_KEY", "APCA_API_KEY_ID",
                "APCA_API_SECRET_KEY", "FRED_API_KEY"):
        monkeypatch.delenv(var, raising=False)
    for var in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME"):
        monkeypatch.setenv(var, str(tmp_path / var.lower()))


def write(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def problems(path: Path) -> list[str]:
    with pytest.raises(InputError) as info:
        load_config(path, env={})
    return info.value.problems


def test_the_textual_free_ids_are_the_apps_binding_ids():
    from wsbrisk_tui.app import binding_ids

    assert BINDING_IDS == tuple(binding_ids())
    assert len(set(BINDING_IDS)) == len(BINDING_IDS)
    assert {"quit", "refresh", "pane.var", "replay.previous", "table.open", "detail.close"} <= set(BINDING_IDS)


def test_config_and_keys_modules_load_without_textual():
    code = ("import sys, wsbrisk_tui.config, wsbrisk_tui.keys; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'rich')))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_known_ids_load_quoted_or_dotted(tmp_path):
    p = write(tmp_path / "c.toml", '''
        [keymap]
        refresh = "f5"
        "pane.var" = "v"
        replay.previous = "b"
        table.left = "a,left"
        ''')
    keymap = dict(load_config(p, env={}).keymap)
    assert keymap == {"refresh": "f5", "pane.var": "v", "replay.previous": "b", "table.left": "a,left"}


def test_a_written_keymap_reads_back_the_same(tmp_path):
    cfg = load_config(write(tmp_path / "c.toml", '[keymap]\npane.var = "v"\nquit = "ctrl+q"\n'), env={})
    again = load_config(write_config(cfg, tmp_path / "out.toml"), env={})
    assert dict(again.keymap) == {"pane.var": "v", "quit": "ctrl+q"}


def test_unknown_ids_are_located_with_a_did_you_mean(tmp_path):
    p = write(tmp_path / "c.toml", '''
        [general]
        theme = "light"

        [keymap]
        quit = "q"
        refesh = "f5"
        pane.vat = "v"
        "replay.prev" = "b"
        ''')
    assert problems(p) == [
        f"{p}:6: keymap.refesh: unknown binding id (did you mean 'refresh'?)",
        f"{p}:7: keymap.pane.vat: unknown binding id (did you mean 'pane.var'?)",
        f"{p}:8: keymap.\"replay.prev\": unknown binding id (did you mean 'replay.previous'?)",
    ]


def test_an_id_like_nothing_lists_every_id(tmp_path):
    p = write(tmp_path / "c.toml", '[keymap]\nxyzzy = "x"\n')
    assert problems(p) == [f"{p}:2: keymap.xyzzy: unknown binding id (binding ids: {', '.join(BINDING_IDS)})"]


def test_value_checks_still_apply_to_known_ids(tmp_path):
    p = write(tmp_path / "c.toml", '[keymap]\nquit = ""\nhelp = 1\n')
    assert problems(p) == [
        f"{p}:2: keymap.quit: must not be empty",
        f"{p}:3: keymap.help: expected a string, got an integer (put the value in double quotes)",
    ]


def test_config_check_rejects_an_unknown_id_with_exit_2(tmp_path, capsys):
    bad = write(tmp_path / "bad.toml", '[keymap]\nrefersh = "f5"\n')
    assert main(["config", "check", str(bad)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == f"wsbrisk-tui: error: {bad}:2: keymap.refersh: unknown binding id (did you mean 'refresh'?)\n"
    good = write(tmp_path / "good.toml", '[keymap]\nrefresh = "f5"\n')
    assert main(["config", "check", str(good)]) == 0
    assert capsys.readouterr().out == f"{good}: ok (1 key set)\n"


def test_the_dashboard_refuses_an_unknown_id_given_directly():
    from wsbrisk_tui.app import RiskDeskApp

    with pytest.raises(ValueError, match="unknown binding id.* refersh"):
        RiskDeskApp(lambda seq: None, keymap={"refersh": "f5"})
