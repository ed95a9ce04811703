"""``wsbrisk-tui report``: print the risk snapshot without the TUI (for scripts, email, chat)."""

from __future__ import annotations

import argparse
from typing import Any


def add_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("report", parents=[common], help="print the risk report (text or JSON)",
                       description="Compute one snapshot and print it. No terminal UI.")
    p.add_argument("--format", choices=("text", "json"), default="text", help="output format (default: text)")
    p.add_argument("--horizon", type=int, default=1, help="horizon in days for the text ladder (default: 1)")
    p.add_argument("--output", metavar="FILE", help="write to FILE instead of standard output")


def run(args: argparse.Namespace) -> int:
    import json

    from wsbrisk_tui.report import format_report_text, report_dict
    from wsbrisk_tui.runtime import Runtime

    from wsbrisk_tui.engine.limits import AlertMonitor

    runtime = Runtime.from_args(args)
    # Alerts against the configured limits, evaluated for this one snapshot: no store, no hooks
    # (a report is a read, not a watch; the daemon notifies).
    snapshot = AlertMonitor(runtime.config.limits.effective()).apply(runtime.compute(seq=1))
    if args.format == "json":
        text = json.dumps(report_dict(snapshot), indent=2, allow_nan=False) + "\n"
    else:
        text = format_report_text(snapshot, horizon_days=args.horizon)
    from wsbrisk_tui.commands._output import emit

    emit(text, args.output)
    return 0
