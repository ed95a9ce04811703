"""Typed configuration: resolution, strict validation with file:line, secrets, round trips, and
the ``config init|check|locate`` subcommand.

Every test isolates the platform folders (``XDG_*`` pointed at tmp dirs) and clears the variables
that would leak a developer's real config or keys into the run.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from wsbrisk_tui import config as C
from wsbrisk_tui.config import (
    TIER_PRESETS,
    AppPaths,
    Config,
    Secret,
    default_config_text,
    load_config,
    locate_config,
    overrides_from_args,
    parse_config_text,
    write_config,
)
from wsbrisk_tui.errors import InputError

REPO = Path(__file__).resolve().parents[1]
SECRET_KEY_ID = "PKTESTKEYID0123456789"
SECRET_VALUE = "sEcReT-vAlUe-9876543210abcdef"

pytestmark = pytest.mark.skipif(sys.platform != "linux",
                                reason="paths are asserted through XDG variables (Linux layout)")


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """Fresh XDG folders and no config/credential variables from the developer's shell."""
    for var in ("WSBRISK_CONFIG", "ALPACA_API_KEY", "ALPACA_SECRET_KEY", "APCA_API_KEY_ID",
                "APCA_API_SECRET_KEY", "FRED_API_KEY"):
        monkeypatch.delenv(var, raising=False)
    dirs = {}
    for var, name in (("XDG_CONFIG_HOME", "xdg_config"), ("XDG_DATA_HOME", "xdg_data"),
                      ("XDG_CACHE_HOME", "xdg_cache"), ("XDG_STATE_HOME", "xdg_state")):
        d = tmp_path / name
        monkeypatch.setenv(var, str(d))
        dirs[var] = d
    return dirs


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def problems(path: Path) -> list[str]:
    with pytest.raises(InputError) as info:
        load_config(path, env={})
    return info.value.problems


def one_problem(tmp_path: Path, text: str) -> tuple[Path, str]:
    p = write(tmp_path / "c.toml", text)
    found = problems(p)
    assert len(found) == 1, found
    return p, found[0]


# --------------------------------------------------------------------------------------------
# Resolution: explicit > $WSBRISK_CONFIG > user config dir > defaults
# --------------------------------------------------------------------------------------------


def user_config(isolated) -> Path:
    return isolated["XDG_CONFIG_HOME"] / "wsbrisk-tui" / "config.toml"


def test_defaults_when_no_file_anywhere(isolated):
    cfg = load_config(env={})
    assert cfg.source == "defaults"
    assert cfg == Config()
    assert locate_config(env={}).path == user_config(isolated)
    assert cfg.general.refresh_seconds == 60.0 and cfg.risk.window == 252


def test_user_dir_file_is_used(isolated):
    p = write(user_config(isolated), "[general]\nrefresh_seconds = 5\n")
    cfg = load_config(env={})
    assert cfg.source == str(p)
    assert cfg.general.refresh_seconds == 5.0
    assert isinstance(cfg.general.refresh_seconds, float)


def test_env_var_beats_user_dir(isolated, tmp_path):
    write(user_config(isolated), "[general]\nrefresh_seconds = 5\n")
    env_file = write(tmp_path / "env.toml", "[general]\nrefresh_seconds = 7\n")
    cfg = load_config(env={"WSBRISK_CONFIG": str(env_file)})
    assert (cfg.source, cfg.general.refresh_seconds) == (str(env_file), 7.0)


def test_explicit_path_beats_env_var(isolated, tmp_path):
    env_file = write(tmp_path / "env.toml", "[general]\nrefresh_seconds = 7\n")
    explicit = write(tmp_path / "explicit.toml", "[general]\nrefresh_seconds = 9\n")
    cfg = load_config(explicit, env={"WSBRISK_CONFIG": str(env_file)})
    assert (cfg.source, cfg.general.refresh_seconds) == (str(explicit), 9.0)


def test_env_var_from_process_environment(isolated, tmp_path, monkeypatch):
    env_file = write(tmp_path / "env.toml", "[general]\nseed = 11\n")
    monkeypatch.setenv("WSBRISK_CONFIG", str(env_file))
    assert load_config().general.seed == 11


def test_explicit_missing_is_an_error(tmp_path):
    missing = tmp_path / "nope.toml"
    with pytest.raises(InputError) as info:
        load_config(missing, env={})
    assert str(info.value) == (f"{missing}: config file not found (named by --config / argument) "
                               f"(create it with `wsbrisk-tui config init --path {missing}`)")
    assert info.value.exit_code == 2


def test_env_var_missing_is_an_error(tmp_path):
    missing = tmp_path / "nope.toml"
    with pytest.raises(InputError, match=r"named by \$WSBRISK_CONFIG"):
        load_config(env={"WSBRISK_CONFIG": str(missing)})


def test_empty_env_var_means_unset(isolated):
    assert load_config(env={"WSBRISK_CONFIG": ""}).source == "defaults"


def test_folder_instead_of_file(tmp_path):
    with pytest.raises(InputError, match="is a folder, not a config file"):
        load_config(tmp_path, env={})


# --------------------------------------------------------------------------------------------
# Validation: every kind of error names the dotted key and file:line
# --------------------------------------------------------------------------------------------


def test_unknown_key_with_did_you_mean(tmp_path):
    p, msg = one_problem(tmp_path, """
        [risk]
        window = 252
        windw = 100
    """)
    assert msg == f"{p}:3: risk.windw: unknown key (did you mean 'window'?)"


def test_unknown_key_that_belongs_elsewhere(tmp_path):
    p, msg = one_problem(tmp_path, """
        [general]
        stale_after_days = 3
    """)
    assert msg == f"{p}:2: general.stale_after_days: unknown key (it belongs in [sources])"


def test_unknown_key_without_close_match_lists_known_keys(tmp_path):
    p, msg = one_problem(tmp_path, "[alerts]\nzzz = 1\n")
    assert msg == (f"{p}:2: alerts.zzz: unknown key "
                   f"(known keys in [alerts]: bell, hook_command, hook_timeout_seconds)")


def test_unknown_section_with_did_you_mean(tmp_path):
    p, msg = one_problem(tmp_path, """
        # comment
        [risks]
        window = 10
    """)
    assert msg == f"{p}:2: [risks]: unknown section (did you mean [risk]?)"


def test_top_level_key_points_to_its_section(tmp_path):
    p, msg = one_problem(tmp_path, 'theme = "light"\n')
    assert msg == f"{p}:1: theme: unknown key at the top level (put it under [general])"


def test_section_that_is_not_a_table(tmp_path):
    p, msg = one_problem(tmp_path, "general = 5\n")
    assert msg == (f"{p}:1: [general]: expected a table [general], got an integer "
                   f"(write the keys under a [general] header)")


def test_wrong_type_string_for_integer(tmp_path):
    p, msg = one_problem(tmp_path, '[risk]\nwindow = "252"\n')
    assert msg == (f'{p}:2: risk.window: expected an integer, got a string ("252") '
                   f"(remove the quotes)")


def test_wrong_type_float_for_integer(tmp_path):
    p, msg = one_problem(tmp_path, "[risk]\nwindow = 252.0\n")
    assert msg == f"{p}:2: risk.window: expected an integer, got a number (252.0) (write 252)"


def test_wrong_type_boolean(tmp_path):
    p, msg = one_problem(tmp_path, '[sources]\noffline = "yes"\n')
    assert msg == (f"{p}:2: sources.offline: expected true or false, got a string "
                   f"(write true or false, without quotes)")


def test_boolean_is_not_a_number(tmp_path):
    p, msg = one_problem(tmp_path, "[general]\nseed = true\n")
    assert msg == f"{p}:2: general.seed: expected an integer, got a boolean"


def test_wrong_type_array(tmp_path):
    p, msg = one_problem(tmp_path, '[risk]\nhorizons = "1"\n')
    assert msg == (f"{p}:2: risk.horizons: expected an array of integers, got a string "
                   f"(write it as [1])")


def test_wrong_type_array_item(tmp_path):
    p, msg = one_problem(tmp_path, '[risk]\nmethods = ["historical", 3]\n')
    assert msg == (f"{p}:2: risk.methods[1]: expected a string, got an integer "
                   f"(put the value in double quotes)")


def test_out_of_range_scalar(tmp_path):
    p, msg = one_problem(tmp_path, "[risk]\nwindow = 10\n")
    assert msg == f"{p}:2: risk.window: 10 is out of range (expected an integer >= 30)"


def test_out_of_range_open_interval(tmp_path):
    p, msg = one_problem(tmp_path, "[risk]\nhs_lambda = 1.0\n")
    assert msg == (f"{p}:2: risk.hs_lambda: 1.0 is out of range "
                   f"(expected a number with 0 < value < 1)")


def test_out_of_range_array_item(tmp_path):
    p, msg = one_problem(tmp_path, """
        [risk]
        confidence_levels = [0.95, 1.2]
    """)
    assert msg == (f"{p}:2: risk.confidence_levels[1]: 1.2 is out of range "
                   f"(expected a number with 0.5 < value < 1)")


def test_out_of_range_integer_interval(tmp_path):
    p, msg = one_problem(tmp_path, "[risk]\nhorizons = [1, 500]\n")
    assert msg == (f"{p}:2: risk.horizons[1]: 500 is out of range "
                   f"(expected an integer with 1 <= value <= 250)")


def test_range_edges_are_inclusive_where_documented(tmp_path):
    p = write(tmp_path / "c.toml", """
        [general]
        refresh_seconds = 1
        seed = 0
        [sources]
        risk_free_rate = -0.05
        [risk]
        window = 30
        horizons = [1, 250]
        backtest_days = 20
        [limits]
        hysteresis_frac = 0.0
    """)
    cfg = load_config(p, env={})
    assert (cfg.general.refresh_seconds, cfg.general.seed, cfg.sources.risk_free_rate) == (1.0, 0, -0.05)
    assert (cfg.risk.window, cfg.risk.horizons, cfg.limits.hysteresis_frac) == (30, (1, 250), 0.0)


def test_choice_with_did_you_mean(tmp_path):
    p, msg = one_problem(tmp_path, '[general]\ntheme = "ligth"\n')
    assert msg == (f'{p}:2: general.theme: "ligth" is not one of: default, light, high-contrast, '
                   f'monochrome (did you mean "light"?)')


def test_integer_choice(tmp_path):
    p, msg = one_problem(tmp_path, "[risk]\nt_copula_regimes = 3\n")
    assert msg == f"{p}:2: risk.t_copula_regimes: 3 is not one of: 1, 2"


def test_repeated_array_values(tmp_path):
    p, msg = one_problem(tmp_path, "[risk]\nhorizons = [1, 5, 5]\n")
    assert msg == f"{p}:2: risk.horizons: repeated value(s): 5 (list each value once)"


def test_empty_array_where_values_are_needed(tmp_path):
    p, msg = one_problem(tmp_path, "[risk]\nconfidence_levels = []\n")
    assert msg == f"{p}:2: risk.confidence_levels: must not be empty"


def test_not_finite(tmp_path):
    p, msg = one_problem(tmp_path, "[sources]\nrisk_free_rate = nan\n")
    assert msg == f"{p}:2: sources.risk_free_rate: expected a finite number, got nan"


def test_pattern_currency(tmp_path):
    p, msg = one_problem(tmp_path, '[general]\nbase_currency = "usd"\n')
    assert msg == (f'{p}:2: general.base_currency: "usd" is not a three-letter upper-case '
                   f"ISO 4217 code such as USD")


def test_url(tmp_path):
    p, msg = one_problem(tmp_path, '[alpaca]\nbase_url = "localhost:8080"\n')
    assert msg == (f'{p}:2: alpaca.base_url: "localhost:8080" is not a URL '
                   f"(start it with http:// or https://)")


def test_all_problems_collected_in_file_order(tmp_path):
    p = write(tmp_path / "c.toml", """
        [risk]
        window = 10
        [general]
        theme = "nope"
        refresh_seconds = 0
    """)
    with pytest.raises(InputError) as info:
        load_config(p, env={})
    exc = info.value
    assert exc.message == f"{p}: 3 problems in the configuration"
    assert [m.split(": ", 2)[:2] for m in exc.problems] == [
        [f"{p}:2", "risk.window"], [f"{p}:4", "general.theme"], [f"{p}:5", "general.refresh_seconds"]]
    assert str(exc).splitlines()[0] == exc.message
    assert len(str(exc).splitlines()) == 4


def test_dotted_key_at_top_level_is_located(tmp_path):
    p, msg = one_problem(tmp_path, "[general]\nseed = 1\n\n[sources]\nrisk.window = 10\n")
    # `risk.window` under [sources] is sources.risk.window: an unknown key named `risk`.
    assert msg.startswith(f"{p}:5: sources.risk: unknown key")
    p2, msg2 = one_problem(tmp_path, "risk.window = 10\n")
    assert msg2 == f"{p2}:1: risk.window: 10 is out of range (expected an integer >= 30)"


def test_line_found_after_multiline_array_and_string(tmp_path):
    p, msg = one_problem(tmp_path, '''
        [alerts]
        hook_command = """
        window = 1
        """
        [risk]
        confidence_levels = [
            0.95,
            0.99,
        ]
        window = 10
    ''')
    assert msg == f"{p}:10: risk.window: 10 is out of range (expected an integer >= 30)"


def test_quoted_keys_are_located(tmp_path):
    p, msg = one_problem(tmp_path, """
        [symbols]
        "BRK.B" = "BRK-B"
        'BF.B' = 5
    """)
    assert msg == (f'{p}:3: symbols."BF.B": expected a string, got an integer '
                   f"(put the value in double quotes)")


def test_keymap_values(tmp_path):
    p = write(tmp_path / "c.toml", '[keymap]\nquit = "q"\nhelp = "question_mark,f1"\n')
    assert dict(load_config(p, env={}).keymap) == {"quit": "q", "help": "question_mark,f1"}
    found = problems(write(tmp_path / "d.toml", '[keymap]\nquit = ""\nhelp = "a,,b"\npause = 1\n'))
    d = tmp_path / "d.toml"
    assert found == [
        f"{d}:2: keymap.quit: must not be empty",
        f'{d}:3: keymap.help: "a,,b" has an empty key name (separate key names with single '
        f'commas, e.g. "question_mark,f1")',
        f"{d}:4: keymap.pause: expected a string, got an integer (put the value in double quotes)",
    ]


def test_symbols_loaded():
    cfg = parse_config_text('[symbols]\n"BRK.B" = "BRK-B"\n', "x.toml")
    assert dict(cfg.symbols) == {"BRK.B": "BRK-B"}
    with pytest.raises(TypeError):
        cfg.symbols["X"] = "Y"  # read-only mapping


SCENARIOS = """
[[scenarios]]
name = "Tech unwind"
description = "Crowded longs unwind"
shocks = { equity = -0.08, tech = -0.2, rates_bp = -25, vix_points = 12, "NVDA" = -0.3 }

[[scenarios]]
name = "Oil spike"
[scenarios.shocks]
oil = 0.4
equity = -0.05
"""


def test_scenarios_loaded(tmp_path):
    cfg = load_config(write(tmp_path / "s.toml", SCENARIOS), env={})
    assert [s.name for s in cfg.scenarios] == ["Tech unwind", "Oil spike"]
    first, second = cfg.scenarios
    assert dict(first.shocks) == {"equity": -0.08, "tech": -0.2, "rates_bp": -25.0,
                                  "vix_points": 12.0, "NVDA": -0.3}
    assert first.description == "Crowded longs unwind" and second.description == ""
    assert dict(second.shocks) == {"oil": 0.4, "equity": -0.05}


def test_scenario_errors_located_per_element(tmp_path):
    p = write(tmp_path / "s.toml", SCENARIOS + """
[[scenarios]]
description = "no name"
shocks = { equty = -0.1 }

[[scenarios]]
name = "Tech unwind"
shocks = { Equity = -0.1, "AAPL" = -1.5, gold = "up" }
""")
    assert problems(p) == [
        f"{p}:12: scenarios[2]: a scenario needs a name (add name = \"...\")",
        f"{p}:14: scenarios[2].shocks.equty: unknown factor (did you mean 'equity'? factors: "
        f"equity, tech, small_caps, rates_bp, credit_bp, oil, gold, crypto, vix_points; a symbol "
        f'is written in upper case, e.g. "NVDA")',
        f'{p}:17: scenarios[3].name: "Tech unwind" is already the name of scenarios[0] '
        f"(give each scenario its own name)",
        f"{p}:18: scenarios[3].shocks.Equity: unknown factor (factor names are lower case: 'equity')",
        f"{p}:18: scenarios[3].shocks.AAPL: -1.5 is out of range (expected a fractional move >= -1: "
        f"a price cannot fall more than 100%) (write -0.2 for -20%)",
        f"{p}:18: scenarios[3].shocks.gold: expected a number, got a string",
    ]


def test_scenarios_must_be_array_of_tables(tmp_path):
    p, msg = one_problem(tmp_path, "[scenarios]\nname = \"x\"\n")
    assert msg == (f"{p}:1: [scenarios]: expected an array of tables "
                   f"(write each scenario under its own [[scenarios]] header)")


def test_scenario_needs_shocks(tmp_path):
    p, msg = one_problem(tmp_path, '[[scenarios]]\nname = "x"\n')
    assert msg == f"{p}:1: scenarios[0].shocks: a scenario needs shocks (add shocks = {{ equity = -0.10 }})"


def test_cross_check_history_too_short(tmp_path):
    p, msg = one_problem(tmp_path, "[sources]\nhistory_days = 400\n")
    assert msg == (f"{p}:2: sources.history_days: risk.window (252) + risk.backtest_days (250) = "
                   f"502 exceeds sources.history_days (400) (the backtest needs that much history: "
                   f"raise history_days or lower the others)")


def test_cross_check_position_above_total(tmp_path):
    p, msg = one_problem(tmp_path, "[limits]\nmax_position_weight = 0.6\n")
    assert msg == (f"{p}:2: limits.max_position_weight: max_position_weight 0.6 (from config) "
                   f"exceeds max_total_exposure 0.5 (from tier moderate) (one position cannot "
                   f"exceed the total: lower the first or raise the second)")


def test_cross_check_alpaca_half_pair(tmp_path):
    p, msg = one_problem(tmp_path, f'[alpaca]\nsecret_key = "{SECRET_VALUE}"\n')
    assert msg == (f"{p}:2: alpaca.secret_key: is set but alpaca.api_key is not "
                   f"(set both or neither; the environment is the better place for them)")
    assert SECRET_VALUE not in msg


# --------------------------------------------------------------------------------------------
# TOML syntax and encoding errors
# --------------------------------------------------------------------------------------------


def test_toml_syntax_error_has_line_and_column(tmp_path):
    p = write(tmp_path / "c.toml", "[risk]\nwindow = 252 30\n")
    with pytest.raises(InputError) as info:
        load_config(p, env={})
    assert str(info.value) == (
        f"{p}:2:14: TOML syntax error: Expected newline or end of document after a statement "
        f"(fix the syntax; see config.example.toml)")


def test_toml_syntax_error_at_end_of_document(tmp_path):
    p = write(tmp_path / "c.toml", "[risk]\nconfidence_levels = [0.95,\n")
    with pytest.raises(InputError) as info:
        load_config(p, env={})
    # The file's last line is "confidence_levels = [0.95," (26 characters): column 27 is its end.
    assert str(info.value) == (f"{p}:2:27: TOML syntax error: Invalid value at the end of the file "
                               f"(fix the syntax; see config.example.toml)")


def test_duplicate_key_is_a_syntax_error_with_line(tmp_path):
    p = write(tmp_path / "c.toml", "[risk]\nwindow = 100\nwindow = 200\n")
    with pytest.raises(InputError, match=rf"^{p}:3:\d+: TOML syntax error: Cannot overwrite a value"):
        load_config(p, env={})


def test_not_utf8(tmp_path):
    p = tmp_path / "c.toml"
    p.write_bytes(b'[general]\ntheme = "caf\xe9"\n')
    with pytest.raises(InputError) as info:
        load_config(p, env={})
    assert str(info.value) == f"{p}:2:13: the file is not valid UTF-8 text (save it as UTF-8)"


# --------------------------------------------------------------------------------------------
# Limits: tiers and explicit values
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("tier,pos,total", [("conservative", 0.10, 0.30), ("moderate", 0.20, 0.50),
                                            ("aggressive", 0.35, 0.80)])
def test_tier_presets(tier, pos, total):
    eff = parse_config_text(f'[limits]\ntier = "{tier}"\n', "x.toml").limits.effective()
    assert (eff.tier, eff.max_position_weight, eff.max_total_exposure) == (tier, pos, total)
    assert eff.from_tier == {"max_position_weight", "max_total_exposure"}
    assert eff.origin("max_position_weight") == f"tier {tier}"
    assert eff.origin("var99_1d_pct") == "config"


def test_explicit_limits_override_the_tier():
    cfg = parse_config_text('[limits]\ntier = "conservative"\nmax_total_exposure = 0.9\n', "x.toml")
    eff = cfg.limits.effective()
    assert (eff.max_position_weight, eff.max_total_exposure) == (0.10, 0.9)
    assert eff.from_tier == {"max_position_weight"}
    rows = eff.rows()
    assert rows[0] == ("max_position_weight", 0.10, "tier conservative")
    assert rows[1] == ("max_total_exposure", 0.9, "config")
    assert [r[0] for r in rows] == ["max_position_weight", "max_total_exposure", "var99_1d_pct",
                                    "es99_1d_pct", "stress_loss_pct", "daily_drawdown_pct",
                                    "min_effective_positions", "correlation_threshold",
                                    "hysteresis_frac"]


def test_default_limits():
    eff = Config().limits.effective()
    assert (eff.var99_1d_pct, eff.es99_1d_pct, eff.stress_loss_pct, eff.daily_drawdown_pct) == (
        0.05, 0.07, 0.25, 0.06)
    assert (eff.min_effective_positions, eff.correlation_threshold, eff.hysteresis_frac) == (
        5.0, 0.8, 0.05)
    assert TIER_PRESETS["moderate"] == (eff.max_position_weight, eff.max_total_exposure)


# --------------------------------------------------------------------------------------------
# Secrets
# --------------------------------------------------------------------------------------------

SECRETS_TOML = f"""
[alpaca]
api_key = "{SECRET_KEY_ID}"
secret_key = "{SECRET_VALUE}"
[fred]
api_key = "{SECRET_VALUE}fred"
"""


@pytest.fixture
def secret_cfg(tmp_path) -> Config:
    return load_config(write(tmp_path / "secret.toml", SECRETS_TOML), env={})


def assert_no_secret(text: str) -> None:
    assert SECRET_KEY_ID not in text and SECRET_VALUE not in text


def test_secrets_never_in_repr_str_or_format(secret_cfg):
    for text in (repr(secret_cfg), str(secret_cfg), repr(secret_cfg.alpaca), str(secret_cfg.fred),
                 f"{secret_cfg.alpaca.api_key}", "%s" % secret_cfg.alpaca.secret_key):
        assert_no_secret(text)
    assert repr(secret_cfg.alpaca.api_key) == "Secret('***')"
    assert str(Secret("")) == "" and repr(Secret("")) == "Secret('')"


def test_secrets_masked_in_to_dict(secret_cfg):
    d = secret_cfg.to_dict()
    assert d["alpaca"]["api_key"] == "***" and d["alpaca"]["secret_key"] == "***"
    assert d["fred"]["api_key"] == "***"
    assert Config().to_dict()["alpaca"]["api_key"] == ""
    assert_no_secret(repr(d))


def test_secrets_not_logged(secret_cfg, caplog):
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("wsbrisk_tui.test").info("config loaded: %s", secret_cfg)
        logging.getLogger("wsbrisk_tui.test").info("alpaca: %r", secret_cfg.alpaca)
    assert "config loaded" in caplog.text
    assert_no_secret(caplog.text)


def test_secret_values_never_quoted_in_errors(tmp_path):
    p, msg = one_problem(tmp_path, "[fred]\napi_key = 1234567890123\n")
    assert msg == f"{p}:2: fred.api_key: expected a string, got an integer"
    assert "1234567890123" not in msg


def test_alpaca_credentials_precedence(secret_cfg):
    both = {"ALPACA_API_KEY": "a1", "ALPACA_SECRET_KEY": "a2",
            "APCA_API_KEY_ID": "b1", "APCA_API_SECRET_KEY": "b2"}
    assert secret_cfg.alpaca_credentials(both) == ("a1", "a2")
    assert secret_cfg.alpaca_credentials({"APCA_API_KEY_ID": "b1", "APCA_API_SECRET_KEY": "b2"}) == ("b1", "b2")
    assert secret_cfg.alpaca_credentials({}) == (SECRET_KEY_ID, SECRET_VALUE)
    assert Config().alpaca_credentials({}) is None


def test_alpaca_half_pair_in_env_is_an_error(secret_cfg):
    with pytest.raises(InputError) as info:
        secret_cfg.alpaca_credentials({"ALPACA_API_KEY": "a1"})
    assert str(info.value) == ("environment: ALPACA_API_KEY is set but ALPACA_SECRET_KEY is not "
                               "(set both, or neither)")
    assert secret_cfg.secret_origins({"APCA_API_SECRET_KEY": "x"})["alpaca"] == (
        "INCOMPLETE: environment has APCA_API_SECRET_KEY but not APCA_API_KEY_ID")


def test_fred_key_precedence(secret_cfg):
    assert secret_cfg.fred_api_key({"FRED_API_KEY": "envkey"}) == "envkey"
    assert secret_cfg.fred_api_key({}) == SECRET_VALUE + "fred"
    assert Config().fred_api_key({}) is None


def test_secret_origins_name_sources_not_values(secret_cfg):
    origins = secret_cfg.secret_origins({"FRED_API_KEY": "envkey"})
    assert origins == {"alpaca": f"config ({secret_cfg.source})",
                       "fred": "environment (FRED_API_KEY)"}
    assert Config().secret_origins({}) == {"alpaca": "not set", "fred": "not set"}


# --------------------------------------------------------------------------------------------
# Writing and round trips
# --------------------------------------------------------------------------------------------

FULL = """
[general]
refresh_seconds = 15.5
theme = "high-contrast"
base_currency = "EUR"
seed = 7
snapshot_dir = "/srv/snaps"

[sources]
positions = "alpaca-json"
positions_file = "/data/positions.json"
account_file = "/data/account.json"
prices = "csv"
prices_file = "/data/prices.csv"
offline = true
history_days = 800
rates = "config"
risk_free_rate = 0.031
stale_after_days = 5

[alpaca]
paper = false
base_url = "http://127.0.0.1:8999"

[fred]
series_risk_free = "DGS1MO"

[symbols]
"BRK.B" = "BRK-B"

[risk]
confidence_levels = [0.9, 0.975]
horizons = [1, 20]
window = 500
methods = ["historical", "evt_gpd"]
mc_paths = 50000
t_copula_regimes = 2

[limits]
tier = "aggressive"
max_position_weight = 0.25

[alerts]
bell = true
hook_command = "notify-send wsbrisk"

[history]
path = "/var/lib/wsbrisk/h.sqlite3"
retention_headline_days = 365

[keymap]
quit = "ctrl+q"
""" + SCENARIOS


def test_round_trip_write_read(tmp_path):
    original = load_config(write(tmp_path / "full.toml", FULL), env={})
    assert original.general.theme == "high-contrast" and original.risk.window == 500
    out = write_config(original, tmp_path / "sub" / "written.toml")
    again = load_config(out, env={})
    assert again == original
    assert again.limits.max_total_exposure is None  # absent stays absent
    assert again.scenarios[0].shocks["NVDA"] == -0.3
    assert stat.S_IMODE(out.stat().st_mode) == 0o600


# Keys in cross-key rules are left at their defaults so every drawn config is valid.
_CROSS_KEYS = {"sources.history_days", "risk.window", "risk.backtest_days", "limits.tier",
               "limits.max_position_weight", "limits.max_total_exposure"}


def _value_strategy(hint, spec):
    """Any valid value for a field, drawn from its declared type and range (None: not drawn)."""
    import typing

    from hypothesis import strategies as st

    is_array = typing.get_origin(hint) is tuple
    kind = typing.get_args(hint)[0] if is_array else hint
    if spec.choices:
        item = st.sampled_from(spec.choices)
    elif kind is bool:
        item = st.booleans()
    elif kind is int:
        lo = int(spec.lo) if spec.lo is not None else 0
        item = st.integers(lo, int(spec.hi) if spec.hi is not None else lo + 10**9)
    elif kind is float:
        lo = spec.lo if spec.lo is not None else -1e9
        item = st.floats(lo, spec.hi if spec.hi is not None else lo + 1e9,
                         exclude_min=spec.lo_open, exclude_max=spec.hi_open)
    else:
        return None  # strings, paths and secrets have their own tests
    if is_array:
        return st.lists(item, min_size=1 if spec.nonempty else 0, max_size=4, unique=True)
    return item


def test_round_trip_any_valid_values(tmp_path):
    """Every drawn value survives write (tomli-w) and read (tomllib) exactly: floats are written
    with repr precision, ints of any size in range stay ints."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    fields = {}
    for section, cls in C._SECTIONS.items():
        for name, (f, hint) in C._fields(cls).items():
            strat = _value_strategy(hint, f.metadata["spec"])
            if strat is not None and f"{section}.{name}" not in _CROSS_KEYS:
                fields[f"{section}.{name}"] = strat
    assert len(fields) >= 30  # most of the schema is drawn (34 keys when written)

    @settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
    @given(st.fixed_dictionaries({}, optional=fields))
    def check(values):
        cfg = Config().with_overrides(values)
        again = load_config(write_config(cfg, tmp_path / "rt.toml"), env={})
        assert again == cfg
        for dotted, value in values.items():
            section, key = dotted.split(".")
            got = getattr(getattr(again, section), key)
            assert got == (tuple(value) if isinstance(value, list) else value)
            assert type(got) is (tuple if isinstance(value, list) else type(value))

    check()


def test_write_leaves_secrets_out_unless_asked(tmp_path, secret_cfg):
    plain = write_config(secret_cfg, tmp_path / "plain.toml")
    assert_no_secret(plain.read_text())
    assert "***" not in plain.read_text()
    assert load_config(plain, env={}).alpaca_credentials({}) is None
    full = write_config(secret_cfg, tmp_path / "full.toml", include_secrets=True)
    again = load_config(full, env={})
    assert again == secret_cfg
    assert again.alpaca_credentials({}) == (SECRET_KEY_ID, SECRET_VALUE)


def test_to_dict_is_toml_data(tmp_path):
    cfg = load_config(write(tmp_path / "full.toml", FULL), env={})
    d = cfg.to_dict()
    assert d["risk"]["horizons"] == [1, 20]
    assert d["limits"]["max_total_exposure"] is None
    assert d["scenarios"][1] == {"name": "Oil spike", "description": "",
                                 "shocks": {"oil": 0.4, "equity": -0.05}}
    assert list(d) == ["general", "sources", "alpaca", "fred", "symbols", "betas", "risk", "limits",
                       "alerts", "history", "ml", "scenarios", "keymap"]


def test_relative_paths_from_config_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    p = write(tmp_path / "cfgdir" / "c.toml", """
        [sources]
        positions_file = "book.csv"
        prices_file = "~/prices.csv"
        [history]
        path = "../db/h.sqlite3"
    """)
    cfg = load_config(p, env={})
    assert cfg.sources.positions_file == str(tmp_path / "cfgdir" / "book.csv")
    assert cfg.sources.prices_file == str(tmp_path / "home" / "prices.csv")
    assert cfg.history.path == str(tmp_path / "cfgdir" / ".." / "db" / "h.sqlite3")


def test_keys_set_counts_explicit_keys(tmp_path):
    cfg = load_config(write(tmp_path / "c.toml", "[risk]\nwindow = 300\n[symbols]\nX = \"Y\"\n"), env={})
    assert cfg.keys_set == ("risk.window", "symbols.X")


def test_config_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        Config().general.theme = "light"  # type: ignore[misc]


# --------------------------------------------------------------------------------------------
# The commented default file
# --------------------------------------------------------------------------------------------


def test_example_file_is_the_generated_default():
    committed = (REPO / "config.example.toml").read_text(encoding="utf-8")
    assert committed == default_config_text(), (
        "config.example.toml is out of date: regenerate it with "
        "`wsbrisk-tui config init --path config.example.toml --force`")


def test_example_parses_to_the_defaults(tmp_path):
    text = default_config_text()
    cfg = parse_config_text(text, tmp_path / "example.toml")
    assert cfg == Config()
    active = [ln for ln in text.splitlines() if ln and not ln.startswith(("#", "["))]
    assert len(cfg.keys_set) == len(active) == 62


def test_example_documents_every_field():
    text = default_config_text()
    lines = text.splitlines()
    for section, cls in C._SECTIONS.items():
        assert f"[{section}]" in lines
        for f in dataclasses.fields(cls):
            spec = f.metadata["spec"]
            assert spec.doc.strip(), f"{section}.{f.name} has no documentation"
            key_lines = [i for i, ln in enumerate(lines)
                         if ln.startswith((f"{f.name} = ", f"# {f.name} = "))]
            assert key_lines, f"{section}.{f.name} missing from the example"
            assert lines[key_lines[0] - 1].startswith("# "), f"{section}.{f.name} has no comment"
    for table in ("[symbols]", "[keymap]", "# [[scenarios]]"):
        assert table in lines
    # The commented examples are valid config once uncommented.
    examples = ("# [[scenarios]]\n", "# name = ", "# description = ", "# shocks = ", '# "BRK.B" = ',
                "# quit = ", "# help = ", "# max_position_weight = ", "# max_total_exposure = ")
    uncommented = "\n".join(ln[2:] if (ln + "\n").startswith(examples) else ln for ln in lines)
    cfg = parse_config_text(uncommented, "uncommented.toml")
    assert cfg.scenarios[0].name == "Tech unwind"
    assert cfg.symbols["BRK.B"] == "BRK-B" and cfg.keymap["help"] == "question_mark,f1"
    assert (cfg.limits.max_position_weight, cfg.limits.max_total_exposure) == (0.2, 0.5)


def test_import_stays_light():
    code = ("import sys, wsbrisk_tui.config; "
            "print(sorted(m for m in ('tomli_w', 'numpy', 'pandas', 'textual', 'rich', 'scipy') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                         check=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert out.stdout.strip() == "[]"


# --------------------------------------------------------------------------------------------
# Paths
# --------------------------------------------------------------------------------------------


def test_app_paths_follow_xdg(isolated):
    paths = AppPaths.resolve(Config())
    assert paths.config_file == isolated["XDG_CONFIG_HOME"] / "wsbrisk-tui" / "config.toml"
    assert paths.data_dir == isolated["XDG_DATA_HOME"] / "wsbrisk-tui"
    assert paths.cache_dir == isolated["XDG_CACHE_HOME"] / "wsbrisk-tui"
    assert paths.log_dir == isolated["XDG_STATE_HOME"] / "wsbrisk-tui" / "log"
    assert paths.snapshot_dir == isolated["XDG_DATA_HOME"] / "wsbrisk-tui" / "snapshots"
    assert paths.history_db == isolated["XDG_DATA_HOME"] / "wsbrisk-tui" / "history.sqlite3"
    assert not paths.data_dir.exists()  # resolving never creates folders


def test_app_paths_honour_config_overrides(tmp_path):
    p = write(tmp_path / "c.toml", '[general]\nsnapshot_dir = "snaps"\n[history]\npath = "/x/h.db"\n')
    paths = load_config(p, env={}).paths()
    assert paths.config_file == p
    assert paths.snapshot_dir == tmp_path / "snaps"
    assert paths.history_db == Path("/x/h.db")


# --------------------------------------------------------------------------------------------
# Command-line overrides (the common flags)
# --------------------------------------------------------------------------------------------


def test_overrides_from_common_flags():
    args = argparse.Namespace(refresh=5.0, theme="light", seed=3, offline=True, demo=False,
                              positions="/b/positions.json", account="/b/account.json",
                              prices="/b/prices.csv", config=None)
    values, labels = overrides_from_args(args)
    cfg = Config().with_overrides(values, labels=labels)
    assert (cfg.general.refresh_seconds, cfg.general.theme, cfg.general.seed) == (5.0, "light", 3)
    assert (cfg.sources.positions, cfg.sources.positions_file) == ("alpaca-json", "/b/positions.json")
    assert (cfg.sources.prices, cfg.sources.prices_file, cfg.sources.offline) == (
        "csv", "/b/prices.csv", True)
    assert cfg.sources.account_file == "/b/account.json"
    assert "general.theme" in cfg.keys_set


def test_override_errors_name_the_flag():
    values, labels = overrides_from_args(argparse.Namespace(theme="dark", refresh=0.1))
    with pytest.raises(InputError) as info:
        Config().with_overrides(values, labels=labels)
    assert info.value.problems == [
        "--refresh: general.refresh_seconds: 0.1 is out of range (expected a number >= 1)",
        '--theme: general.theme: "dark" is not one of: default, light, high-contrast, monochrome',
    ]


def test_config_for_args_applies_flags_on_top_of_file(tmp_path):
    p = write(tmp_path / "c.toml", '[general]\ntheme = "light"\nseed = 5\n')
    cfg = C.config_for_args(argparse.Namespace(config=str(p), theme="monochrome", demo=True), env={})
    assert (cfg.general.theme, cfg.general.seed) == ("monochrome", 5)
    assert (cfg.sources.positions, cfg.sources.prices) == ("demo", "demo")
    assert cfg.source == str(p)


# --------------------------------------------------------------------------------------------
# `wsbrisk-tui config ...` through the module's add_parser/run (argparse harness)
# --------------------------------------------------------------------------------------------


def run_config(argv: list[str], capsys) -> tuple[int, str, str]:
    """Parse with the real common parser and this module's add_parser; run like cli.main does."""
    from wsbrisk_tui.cli import _common_parser
    from wsbrisk_tui.commands import config_cmd

    common = _common_parser()
    parser = argparse.ArgumentParser(prog="wsbrisk-tui", parents=[common])
    config_cmd.add_parser(parser.add_subparsers(dest="command"), common)
    args = parser.parse_args(argv)
    try:
        code = config_cmd.run(args)
    except InputError as exc:
        print(f"wsbrisk-tui: error: {exc}", file=sys.stderr)
        code = exc.exit_code
    out = capsys.readouterr()
    return code, out.out, out.err


def test_init_writes_default_to_user_dir(isolated, capsys):
    code, out, _ = run_config(["config", "init"], capsys)
    target = user_config(isolated)
    assert (code, out) == (0, f"{target}\n")
    assert target.read_text() == default_config_text()
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert load_config(env={}) == Config()


def test_init_refuses_to_overwrite(tmp_path, capsys):
    target = write(tmp_path / "deep" / "c.toml", "[general]\nseed = 1\n")
    code, out, err = run_config(["config", "init", "--path", str(target)], capsys)
    assert (code, out) == (2, "")
    assert err == (f"wsbrisk-tui: error: {target}: already exists; not overwritten "
                   f"(pass --force to replace it, or --path FILE to write elsewhere)\n")
    assert target.read_text() == "[general]\nseed = 1\n"
    code, out, _ = run_config(["config", "init", "--path", str(target), "--force"], capsys)
    assert (code, out) == (0, f"{target}\n")
    assert target.read_text() == default_config_text()


def test_init_creates_parent_folders_and_honours_config_flag(tmp_path, capsys):
    target = tmp_path / "a" / "b" / "c.toml"
    code, out, _ = run_config(["config", "init", "--config", str(target)], capsys)
    assert (code, out, target.is_file()) == (0, f"{target}\n", True)


def test_check_ok_counts_keys(tmp_path, capsys):
    p = write(tmp_path / "c.toml", "[risk]\nwindow = 300\nhorizons = [1]\n[alerts]\nbell = true\n")
    assert run_config(["config", "check", str(p)], capsys) == (0, f"{p}: ok (3 keys set)\n", "")
    one = write(tmp_path / "one.toml", "[risk]\nwindow = 300\n")
    assert run_config(["config", "check", str(one)], capsys)[1] == f"{one}: ok (1 key set)\n"


def test_check_reports_problems_with_exit_2(tmp_path, capsys):
    p = write(tmp_path / "c.toml", '[risk]\nwindw = 300\n[general]\ntheme = "ligth"\n')
    code, out, err = run_config(["config", "check", str(p)], capsys)
    assert (code, out) == (2, "")
    assert err.splitlines() == [
        f"wsbrisk-tui: error: {p}: 2 problems in the configuration",
        f"  - {p}:2: risk.windw: unknown key (did you mean 'window'?)",
        f'  - {p}:4: general.theme: "ligth" is not one of: default, light, high-contrast, '
        f'monochrome (did you mean "light"?)',
    ]


def test_check_without_file_uses_resolution(isolated, tmp_path, capsys, monkeypatch):
    code, out, _ = run_config(["config", "check"], capsys)
    assert (code, out) == (0, f"{user_config(isolated)}: not found; the built-in defaults are in "
                              f"use: ok (0 keys set)\n")
    p = write(tmp_path / "env.toml", "[general]\nseed = 3\n")
    monkeypatch.setenv("WSBRISK_CONFIG", str(p))
    assert run_config(["config", "check"], capsys)[1] == f"{p}: ok (1 key set)\n"


def test_check_and_locate_never_print_secrets(tmp_path, capsys, monkeypatch):
    p = write(tmp_path / "secret.toml", SECRETS_TOML)
    monkeypatch.setenv("ALPACA_API_KEY", SECRET_KEY_ID + "env")
    monkeypatch.setenv("ALPACA_SECRET_KEY", SECRET_VALUE + "env")
    code, out, err = run_config(["config", "check", str(p)], capsys)
    assert (code, out) == (0, f"{p}: ok (3 keys set)\n")
    code, out, err = run_config(["config", "locate", "--config", str(p)], capsys)
    assert code == 0
    assert_no_secret(out + err)
    assert "alpaca keys   environment (ALPACA_API_KEY, ALPACA_SECRET_KEY)" in out
    assert f"fred key      config ({p})" in out


def test_locate_prints_every_path(isolated, capsys):
    code, out, _ = run_config(["config", "locate"], capsys)
    data = isolated["XDG_DATA_HOME"] / "wsbrisk-tui"
    assert code == 0
    assert out.splitlines() == [
        f"config file   {user_config(isolated)} (not found: built-in defaults in use; "
        f"`wsbrisk-tui config init` writes one)",
        f"data dir      {data}",
        f"cache dir     {isolated['XDG_CACHE_HOME'] / 'wsbrisk-tui'}",
        f"log dir       {isolated['XDG_STATE_HOME'] / 'wsbrisk-tui' / 'log'}",
        f"snapshot dir  {data / 'snapshots'}",
        f"history db    {data / 'history.sqlite3'}",
        "alpaca keys   not set",
        "fred key      not set",
    ]


def test_locate_with_existing_file_and_overrides(isolated, tmp_path, capsys):
    p = write(user_config(isolated), '[history]\npath = "/srv/h.sqlite3"\n')
    code, out, _ = run_config(["config", "locate"], capsys)
    assert code == 0
    assert out.splitlines()[0] == f"config file   {p} (exists)"
    assert "history db    /srv/h.sqlite3" in out.splitlines()


def test_locate_missing_explicit_and_invalid(tmp_path, capsys):
    missing = tmp_path / "missing.toml"
    code, out, err = run_config(["config", "locate", "--config", str(missing)], capsys)
    assert code == 2
    assert out.splitlines()[0] == f"config file   {missing} (MISSING, from --config)"
    assert "config file not found" in err
    bad = write(tmp_path / "bad.toml", "[risk]\nwindow = 1\n")
    code, out, err = run_config(["config", "locate", "--config", str(bad)], capsys)
    assert code == 2
    assert out.splitlines()[0] == (f"config file   {bad} (exists, INVALID: run `wsbrisk-tui config "
                                   f"check`, from --config)")
    assert err == f"wsbrisk-tui: error: {bad}:2: risk.window: 1 is out of range (expected an integer >= 30)\n"


def test_config_without_action_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as info:
        run_config(["config"], capsys)
    assert info.value.code == 2
    assert "{init,check,locate}" in capsys.readouterr().err


# --------------------------------------------------------------------------------------------
# Through wsbrisk_tui.cli.main (needs every module in cli.COMMANDS to import)
# --------------------------------------------------------------------------------------------


def _cli_ready() -> str | None:
    """None when cli.build_parser() works, else why (another subcommand module is missing)."""
    from wsbrisk_tui import cli

    try:
        cli.build_parser()
    except ModuleNotFoundError as exc:
        return f"cli.main cannot build its parser yet: {exc}"
    return None


# LEAD: these run by themselves once every module listed in cli.COMMANDS exists.
cli_level = pytest.mark.skipif(_cli_ready() is not None, reason=str(_cli_ready()))


@cli_level
def test_cli_main_config_exit_codes(tmp_path, capsys):
    from wsbrisk_tui.cli import main

    good = write(tmp_path / "good.toml", "[risk]\nwindow = 300\n")
    bad = write(tmp_path / "bad.toml", "[risk]\nwindow = 3\n")
    assert main(["config", "check", str(good)]) == 0
    assert capsys.readouterr().out == f"{good}: ok (1 key set)\n"
    assert main(["config", "check", str(bad)]) == 2
    assert capsys.readouterr().err == (f"wsbrisk-tui: error: {bad}:2: risk.window: 3 is out of "
                                       f"range (expected an integer >= 30)\n")
    target = tmp_path / "new" / "config.toml"
    assert main(["config", "init", "--path", str(target)]) == 0
    assert main(["config", "init", "--path", str(target)]) == 2
    assert main(["config", "locate"]) == 0


@cli_level
def test_cli_main_config_flag_before_subcommand(tmp_path, capsys):
    """`wsbrisk-tui --config FILE config check` must check FILE (see the report: argparse
    sub-parsers reset parent-level defaults unless the common flags default to SUPPRESS)."""
    from wsbrisk_tui.cli import main

    good = write(tmp_path / "good.toml", "[risk]\nwindow = 300\n")
    assert main(["--config", str(good), "config", "check"]) == 0
    assert capsys.readouterr().out == f"{good}: ok (1 key set)\n"
