"""ML pane: do the machine-learning volatility models beat GARCH on this book, out of sample?

Reads ``snapshot.sections["ml"]`` (the engine's ML section; the models train on a background
thread, so the section says where training stands)::

    {"status": "ready" | "training" | "not_trained" | "failed" | "disabled",
     "stale": bool, "stale_reason", "error", "error_detail" (traceback), "reason", "load_note",
     "training": {"running", "step", "steps", "label", "started_at", "elapsed_s"} | null,
     "trained_at" (ISO time), "trained_through" (ISO date), "train_seconds", "source", "next_training",
     "book": {"volatility": [{"horizon_days", "table": [{"model", "loss_qlike", "recent_qlike",
                              "dm_stat", "dm_p", ...}], "best", "verdict", "current_sigma_pct", ...}],
              "regime": {"labels", "current", "current_label", ...} | null,
              "regime_scaled": {"var_pct": {"0.95": pct}, "reason", "backtests": [...]},
              "ml_quantile": {"var_pct", "backtests": [...], "notes"}, "notes", ...} | null,
     "now": {"volatility": {"1": {"sigma_pct", "best", "best_sigma_pct", "verdict"}, "5": ...},
             "ml_quantile_var_pct", "regime_scaled_var_pct", "regime", "regime_label"} | null,
     "assets": {"1": {symbol: evaluation | {"reason"}}, "5": ...} | null}

The table has one row per volatility model: out-of-sample QLIKE (Patton 2011, lower is better) and
the Diebold-Mariano p-value against GARCH(1,1) (Diebold and Mariano 1995; GARCH is the benchmark,
so its own p is ``-``) for the 1- and 5-day horizons, and today's forecast of daily sigma in % of
NAV (at 5 days the root mean square of the next five daily sigmas). ``*`` marks the engine's best
model per horizon (lowest recent QLIKE). The note gives the verdicts, the regime, the
``ml_quantile`` and ``regime_scaled`` 1-day VaR with their backtests, and the training state: an
``error`` is shown even when older good models are (a failed retraining keeps them). Enter opens
the full ``wsbrisk-tui ml evaluate`` report.

Every number is formatted from the section as it is; nothing is computed here. A key that is
missing or of an unexpected type shows as n/a.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.widget import Widget
from textual.widgets import DataTable, Static

from wsbrisk_tui import fmt
from wsbrisk_tui.engine.model import RiskSnapshot
from wsbrisk_tui.widgets.detail import DetailScreen
from wsbrisk_tui.widgets.palette import Cell, Palette, left, na_cell
from wsbrisk_tui.widgets.pane import TablePane, ViewState, as_float, section
from wsbrisk_tui.widgets.table import RiskTable

TITLE = "ML forecasts"
#: Horizons of the table (keys of ``now["volatility"]`` and ``assets``).
HORIZONS: tuple[int, ...] = (1, 5)
#: The benchmark of the Diebold-Mariano tests (its p-value column shows "-").
BENCHMARK = "garch"
#: The model-selection legend under the table.
LEGEND = "* lowest recent QLIKE  ·  DM p vs GARCH"


def _dict(value: Any) -> dict[str, Any] | None:
    return value if isinstance(value, dict) else None


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def sigma_text(value: Any) -> str:
    """A sigma already in percent: 1.0127 -> ``1.01%``."""
    x = as_float(value)
    return fmt.NA if x is None else f"{fmt.num(x, 2)}%"


def p_text(value: Any) -> str:
    """A p-value with three decimals; under 0.001 as ``<0.001``."""
    x = as_float(value)
    if x is None:
        return fmt.NA
    return "<0.001" if 0 <= x < 0.0005 else fmt.num(x, 3)


def conf_key_label(key: Any) -> str:
    """A confidence key of a ``var_pct`` mapping (``"0.95"``) as ``95%``; unknown keys as given."""
    try:
        return fmt.confidence_label(float(key))
    except (TypeError, ValueError):
        return str(key)


def clock_text(iso: Any) -> str | None:
    """``2026-11-24T14:02:11+00:00`` -> ``14:02`` (in the time zone the engine wrote)."""
    if not isinstance(iso, str):
        return None
    try:
        return f"{datetime.fromisoformat(iso):%H:%M}"
    except ValueError:
        return None


def volatility_by_horizon(book: dict[str, Any] | None) -> dict[int, dict[str, Any]]:
    """``book["volatility"]`` keyed by ``horizon_days`` (entries of an unexpected shape left out)."""
    out: dict[int, dict[str, Any]] = {}
    for vol in _list(book.get("volatility") if book else None):
        if isinstance(vol, dict) and isinstance(vol.get("horizon_days"), int):
            out[vol["horizon_days"]] = vol
    return out


def now_for(data: dict[str, Any], h: int) -> dict[str, Any] | None:
    now = _dict(data.get("now"))
    vol = _dict(now.get("volatility")) if now else None
    return _dict(vol.get(str(h))) if vol else None


def best_model(data: dict[str, Any], vol: dict[str, Any] | None, h: int) -> str | None:
    """Today's best model at ``h`` days (``now``), else the evaluation's."""
    now = now_for(data, h)
    return (_str(now.get("best")) if now else None) or (_str(vol.get("best")) if vol else None)


def sigmas(data: dict[str, Any], vol: dict[str, Any] | None, h: int) -> dict[str, Any]:
    """Today's sigma by model (``now``), else the one from the last training."""
    now = now_for(data, h)
    if now is not None and isinstance(now.get("sigma_pct"), dict):
        return now["sigma_pct"]
    return (_dict(vol.get("current_sigma_pct")) if vol else None) or {}


def verdict(data: dict[str, Any], vol: dict[str, Any] | None, h: int) -> str | None:
    now = now_for(data, h)
    return (_str(now.get("verdict")) if now else None) or (_str(vol.get("verdict")) if vol else None)


def training_text(training: Any) -> str | None:
    """``step 4/16 random_forest (1-day), 33 fits, 9s`` from the ``training`` dict."""
    t = _dict(training)
    if t is None:
        return None
    step, steps = t.get("step"), t.get("steps")
    parts = []
    if isinstance(step, int) and isinstance(steps, int):
        parts.append(f"step {step}/{steps}")
    label = _str(t.get("label"))
    if label:
        parts.append(label)
    elapsed = as_float(t.get("elapsed_s"))
    text = " ".join(parts) or "in progress"
    return text + (f", {elapsed:.0f}s" if elapsed is not None else "")


def trained_text(data: dict[str, Any]) -> str:
    """``trained 14:02 through 2020-12-31 (25.6 s)``."""
    at = clock_text(data.get("trained_at"))
    through = _str(data.get("trained_through"))
    secs = as_float(data.get("train_seconds"))
    text = f"trained {at or fmt.NA}"
    if through:
        text += f" through {through}"
    if secs is not None:
        text += f" ({secs:.1f} s)"
    return text


def failure(data: dict[str, Any]) -> str | None:
    """The last training's error: a failed status, or an ``error`` beside older good models."""
    error = _str(data.get("error"))
    if error is None and data.get("status") == "failed":
        return _str(data.get("reason")) or "no error text"
    return error


def status_markers(data: dict[str, Any]) -> list[str]:
    """Title markers: STALE, training progress, FAILED."""
    marks = []
    if data.get("stale") is True:
        marks.append("STALE")
    if failure(data) is not None:
        marks.append("FAILED")
    training = _dict(data.get("training"))
    if training is not None:
        step, steps = training.get("step"), training.get("steps")
        marks.append(f"training {step}/{steps}" if isinstance(step, int) and isinstance(steps, int)
                     else "training")
    return marks


def regime_line(data: dict[str, Any], book: dict[str, Any], p: Palette) -> Text:
    """``regime: calm 96% / crisis 4%`` with today's label in bold."""
    now = _dict(data.get("now")) or {}
    regime = _dict(book.get("regime"))
    probs = _dict(now.get("regime")) or (_dict(regime.get("current")) if regime else None)
    label = _str(now.get("regime_label")) or (_str(regime.get("current_label")) if regime else None)
    text = Text("regime: ")
    if not probs:
        rs = _dict(book.get("regime_scaled")) or {}
        text.append(f"{fmt.NA}" + (f" ({rs['reason']})" if _str(rs.get("reason")) else ""), p.muted)
        return text
    for i, (name, prob) in enumerate(probs.items()):
        if i:
            text.append(" / ")
        x = as_float(prob)
        text.append(f"{name} {fmt.NA if x is None else f'{x:.0%}'}", p.strong if name == label else "")
    return text


def backtest_cell(bt: dict[str, Any] | None) -> tuple[str, str | None]:
    """(``44/733 green``, zone) of one backtest; n/a with nothing else when absent or n/a."""
    if bt is None:
        return fmt.NA, None
    exc, obs, zone = bt.get("exceptions"), bt.get("observations"), _str(bt.get("zone"))
    if not isinstance(exc, int) or not isinstance(obs, int) or zone is None:
        return fmt.NA, None
    return f"{exc}/{obs} {zone}", zone


def backtests_by_conf(block: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for bt in _list(block.get("backtests") if block else None):
        c = as_float(bt.get("confidence")) if isinstance(bt, dict) else None
        if c is not None:
            out[fmt.confidence_label(c)] = bt
    return out


def var_lines(data: dict[str, Any], book: dict[str, Any], p: Palette) -> list[Text]:
    """The ML VaR of today with its backtests, one method a line::

        1-day VaR % of NAV    95%    99%  backtest 95%   backtest 99%
          ml_quantile       1.41%  2.92%  44/733 green   10/733 green
    """
    now = _dict(data.get("now")) or {}
    q = _dict(book.get("ml_quantile"))
    rs = _dict(book.get("regime_scaled"))
    methods = [("ml_quantile", _dict(now.get("ml_quantile_var_pct")) or (_dict(q.get("var_pct")) if q else None), q),
               ("regime_scaled", _dict(now.get("regime_scaled_var_pct"))
                or (_dict(rs.get("var_pct")) if rs else None), rs)]
    confs = list(dict.fromkeys(conf_key_label(k) for _, var, _ in methods for k in (var or {})))
    if not confs:
        confs = ["95%", "99%"]
    cells = {name: [backtest_cell(backtests_by_conf(block).get(c)) for c in confs]
             for name, _, block in methods}
    width = max([len(f"backtest {c}") for c in confs]
                + [len(text) for row in cells.values() for text, _ in row])
    head = Text(f"{'1-day VaR % of NAV':<18}" + "".join(f"{c:>7}" for c in confs) + "  "
                + "  ".join(f"{'backtest ' + c:<{width}}" for c in confs).rstrip())
    lines = [head]
    for name, var, block in methods:
        by_conf = {conf_key_label(k): v for k, v in (var or {}).items()}
        line = Text(f"  {name:<16}")
        for c in confs:
            x = as_float(by_conf.get(c))
            line.append(f"{fmt.NA if x is None else fmt.num(x, 2) + '%':>7}")
        line.append("  ")
        reason = _str(block.get("reason")) if block else None
        if var is None and reason:
            line.append(f"n/a: {reason}", p.muted)
            lines.append(line)
            continue
        for i, (text, zone) in enumerate(cells[name]):
            line.append(text, p.zone(zone))
            if i < len(confs) - 1:
                line.append(" " * (width - len(text) + 2))
        lines.append(line)
    return lines


def notes_count(book: dict[str, Any]) -> int:
    """The notes the full report lists (book, each horizon, regime, ml_quantile)."""
    n = len(_list(book.get("notes")))
    n += sum(len(_list(v.get("notes"))) for v in _list(book.get("volatility")) if isinstance(v, dict))
    for key in ("regime", "ml_quantile"):
        block = _dict(book.get(key))
        n += len(_list(block.get("notes"))) if block else 0
    return n


class MlDetail(DetailScreen):
    """The ``wsbrisk-tui ml evaluate`` report of the section, with the 5-day per-position table.

    The report's tables are wider than 80 columns: lines are not wrapped, the body scrolls
    sideways (arrow keys, or shift+wheel)."""

    DEFAULT_CSS = """
    MlDetail VerticalScroll { overflow-x: auto; }
    MlDetail .ml-report { width: auto; }
    """

    def __init__(self, data: dict[str, Any], book: dict[str, Any], source: str) -> None:
        super().__init__("ML evaluation (as `wsbrisk-tui ml evaluate --per-asset`)",
                         Text(self.report(data, book, source), no_wrap=True))

    def body(self) -> list[Widget]:
        return [Static(self._text or "", classes="ml-report", markup=False)]

    @staticmethod
    def report(data: dict[str, Any], book: dict[str, Any], source: str) -> str:
        from wsbrisk_tui.commands.ml import render_text

        assets = _dict(data.get("assets")) or {}
        header = (f"ML evaluation: {source}, book P&L in % of NAV (today's holdings on past returns); "
                  f"{trained_text(data)}" + (f", {data['source']}" if _str(data.get("source")) else ""))
        status = []
        if data.get("stale") is True:
            status.append(f"STALE: {_str(data.get('stale_reason')) or 'no reason given'}")
        error = failure(data)
        if error is not None:
            status.append(f"the last training failed: {error} (traceback at the end)"
                          if _str(data.get("error_detail")) else f"the last training failed: {error}")
        if _str(data.get("load_note")):
            status.append(f"saved models: {data['load_note']}")
        progress = training_text(data.get("training"))
        if progress:
            status.append(f"retraining now: {progress}")
        one_day = _dict(assets.get("1"))
        try:
            text = render_text({**book, "assets": one_day} if one_day else book, header)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            # The section came from another version of the engine: say so, show what we can.
            text = f"{header}\nfull report n/a: the ML section has an unexpected shape ({type(exc).__name__}: {exc})\n"
        lines = text.rstrip("\n").split("\n")
        if status:
            lines[1:1] = status
        five_day = _dict(assets.get("5"))
        if five_day:
            # Beside the 1-day table, before the report's closing notes.
            at = lines.index("notes:") - 1 if "notes:" in lines else len(lines)
            lines[at:at] = MlDetail.asset_lines(five_day)
        detail = _str(data.get("error_detail")) if error is not None else None
        if detail:
            lines += ["", "last training error:"] + ["  " + line for line in detail.rstrip().split("\n")]
        return "\n".join(lines) + "\n"

    @staticmethod
    def asset_lines(five_day: dict[str, Any]) -> list[str]:
        """The 5-day per-underlying table, in the layout of the report's 1-day one."""
        lines = ["", "5-day volatility per underlying (its own returns; out of sample)",
                 f"  {'asset':<10} {'best':<18} {'sigma best':>10} {'GARCH':>7}  verdict"]
        for name, a in five_day.items():
            a = _dict(a) or {}
            if _str(a.get("reason")):
                lines.append(f"  {name:<10} {a['reason']}")
                continue
            cur = _dict(a.get("current_sigma_pct")) or {}
            best = _str(a.get("best"))
            lines.append(f"  {name:<10} {best or fmt.NA:<18} "
                         f"{fmt.num(as_float(cur.get(best)) if best else None, 2):>10} "
                         f"{fmt.num(as_float(cur.get(BENCHMARK)), 2):>7}  {_str(a.get('verdict')) or fmt.NA}")
        return lines


class MlPane(TablePane):
    PANE = "ml"
    LABEL = "ML"
    INITIAL_TITLE = TITLE
    CURSOR_TYPE = "row"
    HEADER_HEIGHT = 2

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._data: dict[str, Any] | None = None
        self._book: dict[str, Any] | None = None

    def compose(self) -> ComposeResult:
        # The table has a handful of rows: it takes just their height and the note (verdicts,
        # regime, VaR; most important first) the rest, cut at the bottom on a short terminal.
        # Inline styles, because the app's stylesheet gives every pane's table the free height;
        # set here so that a recompose (``clear``) keeps them.
        for widget in super().compose():
            if isinstance(widget, RiskTable):
                widget.styles.height = "auto"
            elif widget.has_class("pane-note"):
                widget.styles.height = "1fr"
                widget.styles.max_height = "100%"
            yield widget

    def render_snapshot(self, snapshot: RiskSnapshot, view: ViewState) -> None:
        self._data = self._book = None
        data, reason = section(snapshot, "ml")
        if data is None:
            self.show_message(TITLE, f"ML: {fmt.NA}: {reason}")
            return
        if not isinstance(data, dict):
            self.show_message(TITLE, f"ML: {fmt.NA}: the ML section has an unexpected shape")
            return
        p = view.palette
        status = data.get("status")
        book = _dict(data.get("book"))
        vols = volatility_by_horizon(book)
        title = "  ·  ".join([TITLE] + ([trained_text(data)] if book else []) + status_markers(data))
        if book is None or not vols:
            self.show_message(title, self._message(data, status))
            return
        self._data, self._book = data, book
        self._render_table(data, vols, p)
        self.title_widget().update(title)
        self.set_note(self._note(data, book, vols, p))

    def _message(self, data: dict[str, Any], status: Any) -> str:
        """What the pane says when there is no trained model to show."""
        reason = _str(data.get("reason"))
        progress = training_text(data.get("training"))
        lines = []
        if status == "failed":
            # The engine's reason says which step failed (training, or today's inference).
            lines.append(reason or f"ML training failed: {_str(data.get('error')) or 'no error text'}")
        elif status == "disabled":
            lines.append(f"ML is off: {reason or 'disabled in the config'}")
        elif progress:
            # The section is as of this refresh; the status bar shows the live progress.
            lines.append("no ML models to show yet: training in the background (live progress in the "
                         "status bar)")
            lines.append(f"at this refresh: {progress}")
            lines.append("the table appears when training finishes")
        elif status in ("ready", "training"):
            lines.append(f"ML: {fmt.NA}: the section has no trained models ({status})")
        else:
            lines.append(reason or f"ML: {fmt.NA}: no models trained (status {status or fmt.NA})")
        load_note = _str(data.get("load_note"))
        if load_note:
            lines.append(f"saved models: {load_note}")
        if data.get("stale") is True and _str(data.get("stale_reason")):
            lines.append(f"STALE: {data['stale_reason']}")
        return "\n".join(lines)

    def _render_table(self, data: dict[str, Any], vols: dict[int, dict[str, Any]], p: Palette) -> None:
        columns: list[tuple[str, str | Text]] = [("model", "Model\n")]
        for h in HORIZONS:
            columns += [(f"qlike-{h}", Text(f"QLIKE\n{h}d", justify="right")),
                        (f"dmp-{h}", Text(f"DM p\n{h}d", justify="right")),
                        (f"sigma-{h}", Text(f"sigma\n{h}d", justify="right"))]
        table = self.table
        table.display = True
        table.set_columns(columns)
        # Models in the order of the evaluation tables (1-day first), each once.
        rows_by_h = {h: {r["model"]: r for r in _list(vols.get(h, {}).get("table"))
                         if isinstance(r, dict) and isinstance(r.get("model"), str)} for h in HORIZONS}
        models = list(dict.fromkeys(m for h in HORIZONS for m in rows_by_h[h]))
        best = {h: best_model(data, vols.get(h), h) for h in HORIZONS}
        sig = {h: sigmas(data, vols.get(h), h) for h in HORIZONS}
        rows = []
        for model in models:
            cells: list[object] = [left(model, p.strong if model in best.values() else "")]
            for h in HORIZONS:
                row = rows_by_h[h].get(model)
                if row is None:
                    cells += [na_cell(p, "-"), na_cell(p, "-"), na_cell(p, "-")]
                    continue
                q = as_float(row.get("loss_qlike"))
                cells.append(Cell(fmt.num(q, 3), sort=q) if q is not None else na_cell(p))
                if model == BENCHMARK:
                    cells.append(na_cell(p, "-"))
                else:
                    dm_p = as_float(row.get("dm_p"))
                    cells.append(Cell(p_text(dm_p), sort=dm_p) if dm_p is not None else na_cell(p))
                s = as_float(sig[h].get(model))
                # The mark leads: a right-justified cell drops trailing blanks, so a trailing
                # mark would shift the best value out of line with the others.
                mark = "*" if model == best[h] else ""
                cells.append(Cell(mark + sigma_text(s), p.strong if mark else "", sort=s) if s is not None
                             else na_cell(p, mark + fmt.NA))
            rows.append((model, cells))
        table.sync(rows)

    def _note(self, data: dict[str, Any], book: dict[str, Any], vols: dict[int, dict[str, Any]],
              p: Palette) -> Text:
        lines: list[Text] = []
        error = failure(data)
        if error is not None:
            lines.append(Text(f"the last training failed: {error}; showing the last good models",
                              p.loss + p.strong))
        if data.get("stale") is True:
            lines.append(Text(f"STALE: {_str(data.get('stale_reason')) or 'no reason given'}", p.warn))
        progress = training_text(data.get("training"))
        if progress:
            lines.append(Text(f"retraining: {progress}", p.accent))
        for h in HORIZONS:
            v = verdict(data, vols.get(h), h)
            if v:
                lines.append(Text(v))
        best1 = best_model(data, vols.get(1), 1)
        now1 = now_for(data, 1)
        best_sigma = as_float(now1.get("best_sigma_pct")) if now1 else None
        if best_sigma is None and best1 is not None:
            best_sigma = as_float(sigmas(data, vols.get(1), 1).get(best1))
        line = Text("best now: ")
        line.append(f"{best1 or fmt.NA} {sigma_text(best_sigma)}/day", p.strong)
        line.append("  ·  ")
        line.append_text(regime_line(data, book, p))
        lines.append(line)
        lines += var_lines(data, book, p)
        nxt = _str(data.get("next_training"))
        if nxt and not progress:
            lines.append(Text(f"next training: {nxt}", p.muted))
        n = notes_count(book)
        lines.append(Text(f"{LEGEND}  ·  Enter: full report"
                          + (f" ({n} note{'s' if n != 1 else ''})" if n else ""), p.muted))
        return Text("\n").join(lines)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if self._data is not None and self._book is not None and self.snapshot is not None:
            self.app.push_screen(MlDetail(self._data, self._book, self.snapshot.meta.portfolio_source))
