"""``wsbrisk-tui ml evaluate``: does machine learning beat GARCH on this book, out of sample?

Trains every model walk-forward on the book's daily P&L history (today's holdings on past
returns, in percent of NAV; see :mod:`wsbrisk_tui.engine.ml`) and prints the out-of-sample
comparison (model, QLIKE, MSE, Diebold-Mariano statistic and p-value against GARCH, window) for
1- and 5-day volatility, the current regime probabilities with the ``regime_scaled`` VaR, and the
``ml_quantile`` VaR with its Kupiec/Christoffersen backtests. Progress goes to standard error,
one line per model.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any


def add_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("ml", parents=[common], help="machine-learning forecasts judged out of sample",
                       description="Machine-learning volatility forecasts, regimes and quantile VaR, "
                                   "each judged walk-forward against GARCH.")
    actions = p.add_subparsers(dest="ml_command", metavar="ACTION", required=True)
    a = actions.add_parser("evaluate", parents=[common],
                           help="out-of-sample comparison of the volatility models, regimes and "
                                "ml_quantile VaR on the book",
                           description="Walk-forward evaluation on the book's history: QLIKE/MSE "
                                       "and Diebold-Mariano tests against GARCH(1,1).")
    a.add_argument("--format", choices=("text", "json"), default="text", help="output format (default: text)")
    a.add_argument("--output", metavar="FILE", help="write to FILE instead of standard output")
    a.add_argument("--refit-every", type=int, default=None, metavar="DAYS",
                   help="refit the book's models every DAYS trading days (default: the config's "
                        "ml.refit_days, 63)")
    a.add_argument("--regimes", type=int, choices=(2, 3), default=None,
                   help="number of volatility regimes (default: the config's ml.regimes, 2)")
    a.add_argument("--per-asset", action=argparse.BooleanOptionalAction, default=None,
                   help="also compare the volatility models on each underlying's own returns at "
                        "1 and 5 days (default: the config's ml.per_position, on; ~2 s per "
                        "underlying and horizon)")
    a.add_argument("--no-save", action="store_true",
                   help="do not save the trained models (by default they are saved when trained "
                        "with the config's settings, and the dashboard uses them)")


def _f(x: float | None, digits: int = 3) -> str:
    return "n/a" if x is None else f"{x:.{digits}f}"


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.2f}% of NAV"


def render_text(section: dict[str, Any], header: str) -> str:
    """The ``ml evaluate`` text report from :meth:`BookMl.to_dict` output."""
    lines = [header, f"{section['n_returns']} daily returns {section['first_date']} .. "
             f"{section['last_date']}; VIX feature: {'yes' if section['vix_feature'] else 'no'}; "
             f"rates feature (TLT): {'yes' if section.get('rates_feature') else 'no'}", ""]
    for vol in section["volatility"]:
        h = vol["horizon_days"]
        lines.append(f"{h}-day realised volatility, out of sample ({vol['n_scored']} forecasts, "
                     f"refit every {vol['refit_every']} days, {vol['window']} window)")
        lines.append(f"  {'model':<18} {'QLIKE':>8} {'MSE':>10} {'recent':>8} {'DM':>7} "
                     f"{'p-value':>8} {'sigma now':>10}  window")
        for row in vol["table"]:
            cur = vol["current_sigma_pct"].get(row["model"])
            mark = " *" if row["model"] == vol["best"] else ""
            cur_text = "n/a" if cur is None else f"{cur:.2f}%"
            lines.append(f"  {row['model']:<18} {_f(row['loss_qlike']):>8} {_f(row['loss_mse'], 2):>10} "
                         f"{_f(row['recent_qlike']):>8} {_f(row['dm_stat'], 2):>7} "
                         f"{_f(row['dm_p']):>8} {cur_text:>10}  {row['window']}{mark}")
        lines.append(f"  verdict: {vol['verdict']}")
        lines.append("")
    rg = section["regime"]
    rs = section["regime_scaled"]
    if rg is None:
        lines.append(f"regime now: n/a ({rs['reason']})")
    else:
        probs = ", ".join(f"{lab} {p:.0%}" for lab, p in rg["current"].items())
        sig = ", ".join(f"{lab} {s:.2f}%" for lab, s in zip(rg["labels"], rg["state_sigma_pct"]))
        lines.append(f"regime now: {rg['current_label']} ({probs}); daily sigma by state: {sig}")
    lines.append("regime_scaled 1-day VaR: " + ", ".join(
        f"{float(c):.0%} {_pct(v)}" for c, v in rs["var_pct"].items())
        + (f" ({rs['reason']})" if rs["reason"] else ""))
    q = section["ml_quantile"]
    lines.append("ml_quantile 1-day VaR:   " + ", ".join(
        f"{float(c):.0%} {_pct(v)}" for c, v in q["var_pct"].items()))
    lines.append("")
    lines.append(f"  {'backtest':<14} {'conf':>5} {'days':>5} {'exc':>4} {'expected':>8} "
                 f"{'Kupiec p':>9} {'Christ. p':>9}  zone")
    for b in rs["backtests"] + q["backtests"]:
        exp = b["details"].get("expected_exceptions")
        lines.append(f"  {b['method']:<14} {b['confidence']:>5.0%} {b['observations']:>5} "
                     f"{b['exceptions'] if b['exceptions'] is not None else 'n/a':>4} "
                     f"{_f(exp, 1):>8} {_f(b['kupiec_p']):>9} {_f(b['christoffersen_p']):>9}  "
                     f"{b['zone'] or b['reason']}")
    notes = list(section["notes"]) + [n for v in section["volatility"] for n in v["notes"]] \
        + (list(rg["notes"]) if rg is not None else []) + list(q["notes"])
    for key, h in (("assets", 1), ("assets_5d", 5)):
        if not section.get(key):
            continue
        lines += ["", f"{h}-day volatility per underlying (its own returns; out of sample)",
                  f"  {'asset':<10} {'best':<18} {'sigma best':>10} {'GARCH':>7}  verdict"]
        for name, a in section[key].items():
            if "reason" in a:
                lines.append(f"  {name:<10} {a['reason']}")
                continue
            cur = a["current_sigma_pct"]
            best = a["best"]
            lines.append(f"  {name:<10} {best:<18} {_f(cur.get(best), 2):>10} "
                         f"{_f(cur.get('garch'), 2):>7}  {a['verdict']}")
            notes += [f"{name} ({h}-day): {n}" for n in a.get("notes") or []]
    if notes:
        lines += ["", "notes:"] + [f"  - {n}" for n in notes]
    return "\n".join(lines) + "\n"


def run(args: argparse.Namespace) -> int:
    import json
    from dataclasses import replace

    from wsbrisk_tui.commands._output import emit
    from wsbrisk_tui.engine.ml_service import (
        MlSettings,
        book_key,
        save_models,
        train_models,
        training_series,
    )
    from wsbrisk_tui.errors import InputError
    from wsbrisk_tui.runtime import Runtime

    if args.refit_every is not None and args.refit_every < 5:
        raise InputError(f"--refit-every: {args.refit_every} must be at least 5 trading days")
    runtime = Runtime.from_args(args)
    configured = MlSettings.from_config(runtime.config, seed=runtime.seed,
                                        train_in_background=False,
                                        model_dir=runtime.ml_model_dir)
    settings = replace(configured,
                       refit_days=args.refit_every or configured.refit_days,
                       regimes=args.regimes or configured.regimes,
                       per_position=(configured.per_position if args.per_asset is None
                                     else bool(args.per_asset)))
    portfolio = runtime.load_portfolio()
    market = runtime.market(portfolio)

    def progress(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    try:
        series = training_series(portfolio, market, runtime.pipeline_settings(),
                                 settings.history_days)
        models = train_models(series, settings, book_key(portfolio), progress, runtime.clock)
    except ValueError as exc:  # too little history for the walk-forward: one clear message
        raise InputError(f"{portfolio.source}: ml evaluate: {exc}") from None
    section = models.book.to_dict()
    assets = models.assets_dict()
    if assets:
        section["assets"] = assets.get("1")
        section["assets_5d"] = assets.get("5")
    if args.no_save:
        saved = "not saved (--no-save)"
    elif settings.signature() != configured.signature():
        saved = "not saved: trained with flags that differ from the config's [ml] settings"
    else:
        path = save_models(models, settings)
        saved = f"saved to {path}; the dashboard and `report` use them" if path else "not saved"
    section["models"] = saved
    progress(f"ml: trained in {models.train_seconds:.1f} s; models {saved}")
    if args.format == "json":
        text = json.dumps(section, indent=2, allow_nan=False) + "\n"
    else:
        header = (f"ML evaluation: {runtime.description or portfolio.source} ({runtime.mode}), "
                  "book P&L in % of NAV (today's holdings on past returns)")
        text = render_text(section, header)
    emit(text, args.output)
    return 0
