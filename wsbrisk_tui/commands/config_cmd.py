"""``wsbrisk-tui config init|check|locate``: write, validate and find the configuration.

* ``init [--path FILE] [--force]`` writes the commented default (every option with its default)
  to ``--path``, else ``--config``, else ``$WSBRISK_CONFIG``, else the user config folder. It
  refuses to replace an existing file without ``--force`` (exit 2), creates missing folders and
  prints the path.
* ``check [FILE]`` validates FILE (or the resolved config) and prints ``FILE: ok (N keys set)``;
  problems go to standard error, one per line with ``file:line``, and exit 2.
* ``locate`` prints where every file and folder lives, and where credentials come from (never
  their values).
"""

from __future__ import annotations

import argparse
import os
from typing import Any

ACTIONS = ("init", "check", "locate")


def add_parser(subparsers: Any, common: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "config", parents=[common], help="write, check or locate the config file",
        description="Write the commented default config, validate a config file, or show where "
                    "files live.")
    actions = parser.add_subparsers(dest="config_action", metavar="{init,check,locate}",
                                    required=True)
    init = actions.add_parser(
        "init", parents=[common], help="write the commented default config",
        description="Write the commented default config (every option with its default). "
                    "Target: --path, else --config, else $WSBRISK_CONFIG, else the user config "
                    "folder.")
    init.add_argument("--path", metavar="FILE", help="where to write (default: see above)")
    init.add_argument("--force", action="store_true", help="replace an existing file")
    check = actions.add_parser(
        "check", parents=[common], help="validate a config file",
        description="Validate a config file; with no FILE, the one wsbrisk-tui would use.")
    check.add_argument("file", nargs="?", metavar="FILE", help="the file to check")
    actions.add_parser(
        "locate", parents=[common], help="print where files and folders live",
        description="Print the config file (and whether it exists), data, cache, log and "
                    "snapshot folders, and the history database.")
    return parser


def run(args: argparse.Namespace) -> int:
    action = getattr(args, "config_action", None)
    if action == "init":
        return _init(args)
    if action == "check":
        return _check(args)
    if action == "locate":
        return _locate(args)
    from wsbrisk_tui.errors import InputError

    raise InputError(f"config: choose one of {', '.join(ACTIONS)} (see `wsbrisk-tui config -h`)")


def _init(args: argparse.Namespace) -> int:
    from pathlib import Path

    from wsbrisk_tui.config import default_config_text, locate_config
    from wsbrisk_tui.errors import InputError, located

    target = args.path or getattr(args, "config", None)
    path = Path(target).expanduser() if target else locate_config(None, os.environ).path
    if path.is_dir():
        raise InputError(located(path, None, "is a folder", "name a file, e.g. config.toml"))
    if path.exists() and not args.force:
        raise InputError(located(path, None, "already exists; not overwritten",
                                 "pass --force to replace it, or --path FILE to write elsewhere"))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # 0600: the file is where a user may later put API keys.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(default_config_text())
    except OSError as exc:
        raise InputError(located(path, None, f"cannot write: {exc.strerror}",
                                 "choose another --path or fix the folder's permissions")) from exc
    print(path)
    return 0


def _check(args: argparse.Namespace) -> int:
    from wsbrisk_tui.config import load_config, locate_config

    target = args.file or getattr(args, "config", None)
    loc = locate_config(target, os.environ)
    cfg = load_config(target, os.environ)  # raises InputError (exit 2) listing every problem
    if cfg.source == "defaults":
        print(f"{loc.path}: not found; the built-in defaults are in use: ok (0 keys set)")
    else:
        n = len(cfg.keys_set)
        print(f"{cfg.source}: ok ({n} key{'s' if n != 1 else ''} set)")
    return 0


def _locate(args: argparse.Namespace) -> int:
    from wsbrisk_tui.config import AppPaths, Config, load_config, locate_config
    from wsbrisk_tui.errors import InputError

    loc = locate_config(getattr(args, "config", None), os.environ)
    problem: InputError | None = None
    cfg = Config()
    if loc.exists:
        try:
            cfg = load_config(loc.path, os.environ)
        except InputError as exc:
            # Still show every location (that is what the user asked for), then fail.
            problem = exc
    if loc.exists:
        state = "exists" if problem is None else "exists, INVALID: run `wsbrisk-tui config check`"
    elif loc.required:
        state = "MISSING"
    else:
        state = "not found: built-in defaults in use; `wsbrisk-tui config init` writes one"
    paths = AppPaths.resolve(cfg, config_file=loc.path)
    named_by = {"argument": "--config", "user config dir": ""}.get(loc.origin, loc.origin)
    origin = f", from {named_by}" if named_by else ""
    secrets = cfg.secret_origins(os.environ)
    rows = [
        ("config file", f"{paths.config_file} ({state}{origin})"),
        ("data dir", str(paths.data_dir)),
        ("cache dir", str(paths.cache_dir)),
        ("log dir", str(paths.log_dir)),
        ("snapshot dir", str(paths.snapshot_dir)),
        ("history db", str(paths.history_db)),
        ("alpaca keys", secrets["alpaca"]),
        ("fred key", secrets["fred"]),
    ]
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    if problem is not None:
        raise problem
    if loc.required and not loc.exists:
        load_config(loc.path, os.environ)  # raises the "not found" InputError (exit 2)
    return 0
