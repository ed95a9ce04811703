"""``wsbrisk-tui history list|show|export|backtest|check``: read the recorded history (read-only).

``backtest`` tests the VaR the program recorded at each close against the next day's P&L
(:mod:`wsbrisk_tui.engine.recorded_backtest`).

Times are UTC. ``--since``/``--until`` take an ISO date or date-time (``2025-01-15``,
``2025-01-15T14:00``, with or without an offset; without one it is UTC); a bare date in
``--until`` includes that whole day.
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime, time, timezone
from typing import Any


def add_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("history", parents=[common], help="list, show and export recorded snapshots",
                       description="Read the history database the daemon or the dashboard records "
                                   "(read-only). Times are UTC.")
    store = argparse.ArgumentParser(add_help=False)
    store.add_argument("--store", metavar="FILE",
                       help="history database (default: history.path, else the user data folder)")
    window = argparse.ArgumentParser(add_help=False)
    window.add_argument("--since", metavar="ISO", help="from this date/time (UTC unless an offset is given)")
    window.add_argument("--until", metavar="ISO", help="up to this date/time (a bare date includes the day)")
    actions = p.add_subparsers(dest="history_command", metavar="ACTION", required=True)
    a = actions.add_parser("list", parents=[common, store, window], help="list recorded refreshes, newest first")
    a.add_argument("--limit", type=int, default=50, help="at most this many rows (default: 50; 0: all)")
    a = actions.add_parser("show", parents=[common, store], help="print one recorded snapshot as the report does")
    a.add_argument("id", type=int, help="refresh id (from `history list`)")
    a.add_argument("--format", choices=("text", "json"), default="text", help="output format (default: text)")
    a.add_argument("--horizon", type=int, default=1, help="horizon in days for the text ladder (default: 1)")
    a = actions.add_parser("export", parents=[common, store, window],
                           help="export headline numbers (NAV, VaR/ES per method) as CSV or JSON")
    a.add_argument("--format", choices=("csv", "json"), default="csv", help="output format (default: csv)")
    a.add_argument("--output", metavar="FILE", help="write to FILE instead of standard output")
    a = actions.add_parser("backtest", parents=[common, store],
                           help="backtest the recorded close-of-day VaR against the next day's P&L",
                           description="Each close's recorded 1-day VaR against the book's day P&L "
                                       "at the next weekday's close, on unchanged holdings: "
                                       "exceptions, Kupiec, Christoffersen, Basel zone.")
    a.add_argument("--method", action="append", metavar="METHOD",
                   help="a VaR method (repeatable; default: every recorded method)")
    a.add_argument("--confidence", type=float, default=0.99, help="confidence (default: 0.99)")
    a.add_argument("--since", metavar="DATE", help="from this market date (YYYY-MM-DD)")
    a.add_argument("--format", choices=("text", "json"), default="text", help="output format (default: text)")
    actions.add_parser("check", parents=[common, store], help="run SQLite's integrity check on the history")


def parse_when(text: str | None, flag: str, *, end_of_day: bool = False) -> datetime | None:
    """An ISO date or date-time as an aware UTC datetime (``None`` passes through)."""
    from wsbrisk_tui.errors import InputError

    if text is None:
        return None
    raw = text.strip()
    try:
        if len(raw) == 10:
            d = datetime.strptime(raw, "%Y-%m-%d").date()
            t = time.max if end_of_day else time.min
            return datetime.combine(d, t, tzinfo=timezone.utc)
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise InputError(f"{flag}: '{text}' is not an ISO date or date-time (e.g. 2025-01-15 or "
                         "2025-01-15T14:00)") from None
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def _store(args: argparse.Namespace) -> Any:
    from pathlib import Path

    from wsbrisk_tui.config import config_for_args
    from wsbrisk_tui.engine.history import HistoryStore

    cfg = config_for_args(args)
    path = Path(args.store).expanduser() if getattr(args, "store", None) else cfg.paths().history_db
    return HistoryStore.from_config(cfg, readonly=True, path=path)


def _window(args: argparse.Namespace) -> tuple[datetime | None, datetime | None]:
    from wsbrisk_tui.errors import InputError

    since = parse_when(getattr(args, "since", None), "--since")
    until = parse_when(getattr(args, "until", None), "--until", end_of_day=True)
    if since and until and since > until:
        raise InputError(f"--since {args.since} is after --until {args.until}")
    return since, until


def format_list(rows: list[Any]) -> str:
    from wsbrisk_tui import fmt
    from wsbrisk_tui.report import _table

    method = rows[0].method if rows else "historical"
    table = [[str(r.id), f"{r.computed_at:%Y-%m-%d %H:%M:%S}", r.as_of.isoformat() if r.as_of else fmt.NA,
              r.mode, fmt.money(r.nav), fmt.money(r.var99), fmt.money(r.es99), "STALE" if r.stale else "",
              "full" if r.has_full else "headline"] for r in rows]
    headers = ["id", "computed (UTC)", "as of", "mode", "NAV", f"VaR99 1d {method}", "ES99 1d", "stale", "kept"]
    return "\n".join(_table(headers, table, "lllrrrrll")) + "\n"


def _backtest(store: Any, args: argparse.Namespace) -> int:
    import json
    from datetime import date

    from wsbrisk_tui import fmt
    from wsbrisk_tui.engine.model import to_jsonable
    from wsbrisk_tui.engine.recorded_backtest import SCHEME, recorded_backtest
    from wsbrisk_tui.errors import InputError

    if not 0.5 < args.confidence < 1.0:
        raise InputError(f"--confidence: {args.confidence:g} must be between 0.5 and 1 (e.g. 0.99)")
    try:
        since = date.fromisoformat(args.since) if args.since else None
    except ValueError:
        raise InputError(f"--since: '{args.since}' is not a date (YYYY-MM-DD)") from None
    recorded = store.daily_var_methods(args.confidence)
    methods = args.method or recorded
    unknown = [m for m in methods if m not in recorded]
    if unknown:
        raise InputError(f"--method: no daily VaR recorded for {', '.join(unknown)} at "
                         f"{args.confidence:g} in {store.path} (recorded: "
                         f"{', '.join(recorded) or 'none'})")
    results = [recorded_backtest(store, m, args.confidence, since) for m in methods]
    if args.format == "json":
        sys.stdout.write(json.dumps([to_jsonable(r) for r in results], indent=2,
                                    allow_nan=False) + "\n")
        return 0
    if not results:
        print(f"no daily VaR recorded in {store.path} yet: the dashboard and the daemon record one "
              "per market day", file=sys.stderr)
        return 0
    lines = [f"recorded VaR backtest, {fmt.confidence_label(args.confidence)} 1-day, {store.path}",
             f"({SCHEME})", "",
             f"  {'method':<22} {'days':>5} {'exc':>4} {'expected':>8} {'Kupiec p':>9} "
             f"{'Christ. p':>9}  zone"]
    for r in results:
        d = r.details
        exc = "n/a" if r.exceptions is None else str(r.exceptions)
        lines.append(f"  {r.method:<22} {r.observations:>5} {exc:>4} "
                     f"{fmt.num(d.get('expected_exceptions'), 1):>8} {fmt.num(r.kupiec_p, 3):>9} "
                     f"{fmt.num(r.christoffersen_p, 3):>9}  {r.zone or r.reason}")
    d = results[0].details
    lines += ["", f"days recorded {d['days_recorded']}, with the next day's P&L "
                  f"{d['days_with_realised_pnl']}; left out: holdings changed "
                  f"{d['excluded_holdings_changed']}, holdings unknown (recorded before this "
                  f"version) {d['excluded_holdings_unknown']}, VaR n/a that day "
                  f"(first method) {d['excluded_var_na']}"]
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


def run(args: argparse.Namespace) -> int:
    command = args.history_command
    with _store(args) as store:
        if command == "list":
            since, until = _window(args)
            rows = store.list_refreshes(since, until, args.limit or None)
            if not rows:
                print(f"no refreshes recorded in {store.path}"
                      + (" in that window" if since or until else ""), file=sys.stderr)
                return 0
            sys.stdout.write(format_list(rows))
            return 0
        if command == "show":
            import json

            from wsbrisk_tui.report import format_report_text, report_dict

            snapshot = store.load_snapshot(args.id)
            if args.format == "json":
                sys.stdout.write(json.dumps(report_dict(snapshot), indent=2, allow_nan=False) + "\n")
            else:
                sys.stdout.write(f"recorded refresh #{args.id} from {store.path}\n")
                sys.stdout.write(format_report_text(snapshot, horizon_days=args.horizon))
            return 0
        if command == "export":
            since, until = _window(args)
            if args.output:
                from pathlib import Path

                out = Path(args.output).expanduser()
                with open(out, "w", encoding="utf-8", newline="") as fh:
                    n = store.export(fh, since, until, fmt=args.format)
                print(f"wrote {n} refresh(es) to {out}", file=sys.stderr)
            else:
                store.export(sys.stdout, since, until, fmt=args.format)
            return 0
        if command == "backtest":
            return _backtest(store, args)
        if command == "check":
            problems = store.check()
            if problems == ["ok"]:
                print(f"{store.path}: ok ({store.count()} refreshes, {store.size_bytes():,} bytes)")
                return 0
            print(f"{store.path}: integrity check failed:", *problems[:20], sep="\n  ", file=sys.stderr)
            return 1
    raise AssertionError(f"unknown history action {command!r}")
