"""The ``wsbrisk-tui`` command line.

Each subcommand lives in :mod:`wsbrisk_tui.commands` as a module exposing
``add_parser(subparsers, common)`` (argument definitions only: cheap to import) and
``run(args) -> int`` (which does the heavy imports). ``wsbrisk-tui`` with no subcommand opens the
dashboard. Exit codes: 0 ok, 2 bad input or config (one clear line, no traceback), 1 internal error.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from wsbrisk_tui import __version__

#: Subcommand name -> module under wsbrisk_tui.commands. Order is the order in ``--help``.
COMMANDS: dict[str, str] = {
    "tui": "tui",
    "report": "report",
    "snapshot": "snapshot",
    "stress": "stress",
    "daemon": "daemon",
    "history": "history",
    "ml": "ml",
    "config": "config_cmd",
}


def _common_parser(suppress_defaults: bool = False) -> argparse.ArgumentParser:
    """Flags shared by every subcommand (and the bare command).

    Subcommands get a copy whose defaults are ``SUPPRESS``: otherwise argparse lets the
    subparser's ``None`` default overwrite a flag already given before the subcommand
    (``wsbrisk-tui --config F report`` would lose ``--config``).
    """
    common = argparse.ArgumentParser(add_help=False)
    if suppress_defaults:
        common.argument_default = argparse.SUPPRESS
    g = common.add_argument_group("common options")
    g.add_argument("--config", metavar="FILE", help="config file (default: $WSBRISK_CONFIG, then the user config dir)")
    g.add_argument("--positions", metavar="FILE", help="positions: a CSV or a saved Alpaca /v2/positions JSON")
    g.add_argument("--account", metavar="FILE", help="a saved Alpaca /v2/account JSON (cash and equity) to go with --positions")
    g.add_argument("--prices", metavar="FILE", help="prices CSV: a 'date' column and one adjusted-close column per symbol")
    g.add_argument("--demo", action="store_true", help="use the bundled demo book (offline)")
    g.add_argument("--offline", action="store_true", help="never touch the network (cached or local data only)")
    g.add_argument("--refresh", type=float, metavar="SECONDS", help="refresh interval in seconds")
    g.add_argument("--theme", help="colour theme: default, light, high-contrast, monochrome")
    g.add_argument("--no-color", action="store_true", help="no colour (also honoured: the NO_COLOR variable)")
    g.add_argument("--seed", type=int, help="seed for the random number generator (Monte Carlo, bootstrap)")
    return common


def build_parser() -> argparse.ArgumentParser:
    common = _common_parser()
    sub_common = _common_parser(suppress_defaults=True)
    parser = argparse.ArgumentParser(
        prog="wsbrisk-tui",
        description="A terminal risk desk for a trading book. With no subcommand, opens the dashboard.",
        parents=[common],
    )
    parser.add_argument("--version", action="version", version=f"wsbrisk-tui {__version__}")
    parser.add_argument("--attach", action="store_true", help="watch a running daemon's store instead of computing")
    parser.add_argument("--replay", nargs="?", const="last", metavar="WHEN",
                        help="open the dashboard replaying the recorded history at WHEN: first, last "
                             "(the default) or an ISO time such as 2025-01-15T15:30 (UTC unless it has an offset)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module_name in COMMANDS.items():
        module = importlib.import_module(f"wsbrisk_tui.commands.{module_name}")
        module.add_parser(sub, sub_common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # --version must stay fast (budget 0.5 s cold): answer it before building every subparser.
    if argv[:1] in (["--version"], ["-V"]):
        print(f"wsbrisk-tui {__version__}")
        return 0
    from wsbrisk_tui.threads import limit_blas_threads

    limit_blas_threads()
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "no_color", False):
        os.environ["NO_COLOR"] = "1"
    command = args.command or "tui"
    module = importlib.import_module(f"wsbrisk_tui.commands.{COMMANDS[command]}")
    from wsbrisk_tui.errors import InputError

    try:
        return int(module.run(args) or 0)
    except InputError as exc:
        print(f"wsbrisk-tui: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `wsbrisk-tui report | head` closes the pipe early: not an error for the user.
        try:
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - silence the interpreter's flush at exit
        except OSError as exc:
            print(f"wsbrisk-tui: {exc}", file=sys.stderr)
        return 0
