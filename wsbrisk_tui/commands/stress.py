"""``wsbrisk-tui stress``: run the stress scenarios (or one what-if shock) on the book and print them.

Without ``--shock``: every scenario of the library and the config's ``[[scenarios]]``, with the
historical replays. With ``--shock 'SPY=-7%,VIX=+15,rates=+50bp'``: that custom shock only
(syntax in :func:`wsbrisk_tui.engine.stress.parse_shock_text`). ``--format json`` prints the
``stress`` section (the same keys the snapshot carries) or the what-if result.
"""

from __future__ import annotations

import argparse
from typing import Any


def add_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("stress", parents=[common], help="stress scenarios and what-if shocks",
                       description="Apply the stress scenarios (library + config) or one custom shock "
                                   "to the book and print the P&L per scenario and position.")
    p.add_argument("--shock", metavar="TEXT",
                   help="a what-if shock, e.g. 'SPY=-7%%,VIX=+15,rates=+50bp' (factors in lower case: "
                        "equity tech small_caps oil gold crypto in %%, rates credit in bp, vix in "
                        "points; symbols in upper case in %%)")
    p.add_argument("--format", choices=("text", "json"), default="text", help="output format (default: text)")
    p.add_argument("--output", metavar="FILE", help="write to FILE instead of standard output")


def _text_section(section: dict[str, Any], nav: float, currency: str, header: str) -> str:
    from wsbrisk_tui import fmt

    lines = [header, ""]
    width = max([len(s["name"]) for s in section["scenarios"]] + [8])
    lines.append(f"{'scenario':<{width}}  {'P&L':>14}  {'% NAV':>8}  {'replay P&L':>14}  {'max DD':>7}  recovery")
    for s in section["scenarios"]:
        rep = s["replay"]
        if rep is None:
            rep_text = f"{'-':>14}  {'-':>7}  -"
        else:
            days = rep["days_to_recover"]
            rec = f"{days} days" if days is not None else rep["recovery_note"]
            rep_text = f"{fmt.money(rep['pnl'], signed=True):>14}  {fmt.pct(rep['max_drawdown_pct'], 1):>7}  {rec}"
        mark = " *" if s["id"] == section["worst"] else ""
        lines.append(f"{s['name']:<{width}}  {fmt.money(s['total_pnl'], signed=True):>14}  "
                     f"{fmt.pct(s['total_pct'], 1, signed=True):>8}  {rep_text}{mark}")
    lim = section["limit"]
    lines.append("")
    if section["worst"] is not None:
        lines.append(f"worst (*): {section['worst_name']}, loss {fmt.pct(lim['worst_loss_pct'], 1)} of NAV "
                     f"({fmt.money(nav, 0)} {currency})")
    if lim["stress_loss_pct"] is not None:
        state = "BREACHED" if lim["breached"] else "within"
        lines.append(f"stress-loss limit {fmt.pct(lim['stress_loss_pct'], 1)} of NAV: {state}")
    notes = [f"{s['name']}: {n}" for s in section["scenarios"] for n in s["notes"]] + section["notes"]
    if notes:
        lines += ["", "notes:"] + [f"  - {n}" for n in notes]
    return "\n".join(lines) + "\n"


def _text_what_if(res: dict[str, Any], currency: str, header: str) -> str:
    from wsbrisk_tui import fmt

    lines = [header, "", f"what-if: {res['name'][len('What-if: '):]}",
             f"total P&L {fmt.money(res['total_pnl'], signed=True)} {currency} "
             f"({fmt.pct(res['total_pct'], 2, signed=True)} of NAV)", ""]
    items = sorted(res["positions"].items(), key=lambda kv: (kv[1] is None, kv[1] if kv[1] is not None else 0))
    width = max([len(k) for k in res["positions"]] + [8])
    lines += [f"  {k:<{width}}  {fmt.money(v, signed=True) if v is not None else 'n/a':>14}" for k, v in items]
    if res["notes"]:
        lines += ["", "notes:"] + [f"  - {n}" for n in res["notes"]]
    return "\n".join(lines) + "\n"


def run(args: argparse.Namespace) -> int:
    import json

    from wsbrisk_tui.engine.model import to_jsonable
    from wsbrisk_tui.engine.stress import StressSettings, build_stress_model, parse_shock_text, stress_section
    from wsbrisk_tui.runtime import Runtime

    spec = parse_shock_text(args.shock) if args.shock is not None else None  # bad text fails fast
    runtime = Runtime.from_args(args)
    portfolio, market, prepared, inputs = runtime.risk_context()
    notes = list(prepared.notes)
    cfg = runtime.config
    overrides = {sym: dict(b) for sym, b in dict(runtime.config.betas).items()}
    model = build_stress_model(inputs, market, StressSettings(replay=spec is None, overrides=overrides))
    currency = portfolio.base_currency
    header = (f"Stress: {runtime.description or portfolio.source} ({runtime.mode}), NAV "
              f"{inputs.nav:,.0f} {currency}, prices as of {market.as_of}")
    if spec is not None:
        out: dict[str, Any] = model.what_if(spec)
        out["notes"] = out["notes"] + notes
        text = (json.dumps(to_jsonable(out), indent=2, allow_nan=False) + "\n" if args.format == "json"
                else _text_what_if(out, currency, header))
    else:
        limit = cfg.limits.effective().stress_loss_pct
        section = stress_section(inputs, market, user_scenarios=cfg.scenarios, limit_pct=limit, model=model)
        section["notes"] = section["notes"] + notes
        text = (json.dumps(to_jsonable(section), indent=2, allow_nan=False) + "\n" if args.format == "json"
                else _text_section(section, inputs.nav, currency, header))
    from wsbrisk_tui.commands._output import emit

    emit(text, args.output)
    return 0
