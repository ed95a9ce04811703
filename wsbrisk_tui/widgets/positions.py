"""Positions pane: one row per holding, options decoded with their Greeks, sortable, VaR contribution per row.

Greek columns (from the engine's ``PositionRow.option``, position figures = per-share Greek x qty x
multiplier): ``Δ sh`` delta in underlying shares (a stock, ETF or coin counts its quantity: delta
1 per unit), ``Θ/d`` theta in $ per calendar day, ``Vega`` vega in $ per implied-vol point.
Theta and vega are ``-`` for positions that have none (not options). Enter on a row opens the
position; for an option: the decoded contract, IV and its source, model, every Greek with its units,
and the structure and expiry flags of ``sections["exposures"]`` that involve it.
"""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.widgets import DataTable

from wsbrisk_tui import fmt
from wsbrisk_tui.engine.model import Contribution, PositionRow, RiskSnapshot
from wsbrisk_tui.widgets.detail import DetailScreen
from wsbrisk_tui.widgets.palette import Cell, left, na_cell, pnl_cell
from wsbrisk_tui.widgets.pane import TablePane, ViewState, as_float, section

COLUMNS: tuple[tuple[str, str], ...] = (
    ("symbol", "Symbol"),
    ("qty", "Qty"),
    ("mv", "Value"),
    ("weight", "Weight"),
    ("pnl", "Day P&L"),
    ("varc", "VaR contr"),
    ("delta", "Δ sh"),
    ("theta", "Θ/d"),
    ("vega", "Vega"),
    ("type", "Type"),
    ("price", "Price"),
)
"""Numbers first, descriptions last: a narrow pane cuts the type and price, never the risk. Short
labels keep the demo book's numbers whole at 80 columns (the title states the Greeks' units)."""
#: Units of the Greek columns, said in the title.
GREEK_UNITS = "Δ sh: delta in shares, Θ/d: theta $/day, Vega: $/vol pt"

#: Preferred source of per-position VaR contribution: (method, confidence), first found wins.
CONTRIBUTION_PREFERENCE: tuple[tuple[str, float], ...] = (("historical", 0.99), ("parametric", 0.99))


def option_fields(row: PositionRow) -> dict[str, Any] | None:
    """Underlying, expiry, strike, right, dte from ``row.option`` when it has that shape."""
    opt = row.option
    if not isinstance(opt, dict):
        return None
    right = opt.get("right") or opt.get("type") or opt.get("put_call")
    right = str(right)[:1].upper() if right else None
    return {"underlying": opt.get("underlying") or row.underlying or row.symbol,
            "expiry": opt.get("expiry"), "strike": as_float(opt.get("strike")), "right": right,
            "dte": opt.get("dte") if isinstance(opt.get("dte"), int) else None}


def short_label(row: PositionRow) -> str:
    """A column header for a position: ``SPY 600C`` for an option, the symbol otherwise."""
    o = option_fields(row)
    if o and o["strike"] is not None and o["right"]:
        return f"{o['underlying']} {o['strike']:g}{o['right']}"
    return row.symbol


def type_text(row: PositionRow) -> str:
    """``option 2025-03-21 65d`` (expiry and days to expiry) for options, the kind otherwise."""
    if row.kind != "option":
        return row.kind
    o = option_fields(row)
    if o is None:
        return f"option {row.description}" if row.description != row.symbol else "option"
    parts = ["option", str(o["expiry"] or "?")]
    if o["dte"] is not None:
        parts.append(f"{o['dte']}d")
    return " ".join(parts)


def greek_cells(row: PositionRow, p: Any) -> list[Cell]:
    """Delta shares, theta $/day and vega $/vol point of a row (formatting only).

    A non-option holds delta 1 per unit, so its delta shares are its quantity; it has no theta or
    vega (``-``). An option's figures come from the engine (n/a with the reason in the detail)."""
    if row.kind != "option":
        return [Cell(fmt.qty(row.qty), sort=row.qty), na_cell(p, "-"), na_cell(p, "-")]
    opt = row.option if isinstance(row.option, dict) else {}
    delta, theta, vega = (as_float(opt.get(k)) for k in ("delta_shares", "theta_usd", "vega_usd"))
    return [Cell(fmt.num(delta, 0), sort=delta) if delta is not None else na_cell(p),
            Cell(fmt.money(theta, signed=True), p.signed(theta), sort=theta) if theta is not None else na_cell(p),
            Cell(fmt.money(vega, signed=True), sort=vega) if vega is not None else na_cell(p)]


def pick_contributions(snapshot: RiskSnapshot) -> tuple[str, dict[str, Contribution]]:
    """(label, symbol -> contribution) from the preferred method with any component."""
    for method, conf in CONTRIBUTION_PREFERENCE:
        found = {c.symbol: c for c in snapshot.contributions
                 if c.method == method and abs(c.confidence - conf) < 1e-9}
        if any(c.component is not None for c in found.values()):
            return f"{method} {fmt.confidence_label(conf)} component", found
    return "", {}


def row_keys(rows: tuple[PositionRow, ...]) -> list[str]:
    seen: dict[str, int] = {}
    keys = []
    for r in rows:
        n = seen.get(r.symbol, 0)
        seen[r.symbol] = n + 1
        keys.append(r.symbol if n == 0 else f"{r.symbol}#{n + 1}")
    return keys


def _per_share(x: float | None, decimals: int = 4) -> str:
    return fmt.NA if x is None else f"{x:+.{decimals}f}"


def option_lines(row: PositionRow, exposures: Any) -> list[str]:
    """The decoded contract, IV and its source, the model, every Greek with its units (per share
    and for the position), and the structures and expiry flags of the exposures section that
    name this position. Formatting only: every figure is the engine's. Gamma's position figure is
    the dollar gamma: the change of delta dollars (Δ$) for a 1% move of the underlying."""
    opt = row.option if isinstance(row.option, dict) else {}
    o = option_fields(row) or {}
    right = {"C": "call", "P": "put"}.get(o.get("right") or "", fmt.NA)
    strike = o.get("strike")
    mult = as_float(opt.get("multiplier"))
    dte = o.get("dte")
    contract = (f"{o.get('underlying', row.underlying)} {o.get('expiry') or fmt.NA} "
                f"{fmt.NA if strike is None else f'{strike:g}'} {right}")
    contract += f" x{mult:g}" if mult is not None else f", multiplier {fmt.NA}"
    contract += f", {dte}d to expiry" if dte is not None else ""
    if isinstance(opt.get("style"), str):
        contract += f", {opt['style']}"
    if opt.get("adjusted"):
        contract += " (adjusted contract)"
    iv = as_float(opt.get("iv"))
    lines = [f"contract      {contract}",
             f"implied vol   {fmt.pct(iv, 2)}  ({opt.get('iv_source') or 'source n/a'})"]
    if isinstance(opt.get("iv_note"), str) and opt["iv_note"]:
        lines.append(f"              {opt['iv_note']}")
    lines.append(f"model         {opt.get('model') or fmt.NA}   spot {fmt.num(as_float(opt.get('spot')))}")
    g = {k: as_float(opt.get(k)) for k in ("delta", "gamma", "vega", "theta", "rho", "delta_shares",
                                           "delta_dollars", "dollar_gamma_1pct", "vega_usd",
                                           "theta_usd", "rho_usd")}
    lines += [
        f"Greeks        {'per share':<24}position (qty x multiplier)",
        f"  delta       {_per_share(g['delta']):<24}{fmt.num(g['delta_shares'], 1)} shares, "
        f"{fmt.money(g['delta_dollars'], signed=True)} $ delta",
        f"  gamma       {_per_share(g['gamma']) + ' per $1':<24}{fmt.money(g['dollar_gamma_1pct'], signed=True)} "
        "Δ$ per 1% move",
        f"  vega        {_per_share(g['vega']) + ' $/vol pt':<24}{fmt.money(g['vega_usd'], 2, signed=True)} $ per vol point",
        f"  theta       {_per_share(g['theta']) + ' $/day':<24}{fmt.money(g['theta_usd'], 2, signed=True)} $ per calendar day",
        f"  rho         {_per_share(g['rho']) + ' $/1% rate':<24}{fmt.money(g['rho_usd'], 2, signed=True)} $ per 1% rate",
    ]
    if opt.get("status") not in (None, "ok"):
        lines.append(f"n/a: {opt.get('reason') or 'no reason given'}")
    lines += structure_lines(row.symbol, exposures)
    return lines + [""]


def structure_lines(symbol: str, exposures: Any) -> list[str]:
    """The structures (spreads) and expiry flags of ``sections["exposures"]`` naming ``symbol``."""
    if not isinstance(exposures, dict):
        return ["structure     n/a: no exposures section in this snapshot"]
    lines = []
    for st in exposures.get("structures") or []:
        if not isinstance(st, dict) or symbol not in (st.get("legs") or []):
            continue
        legs = len(st.get("legs") or [])
        risk = st.get("risk") or fmt.NA
        lines.append(f"structure     {st.get('description') or fmt.NA} ({st.get('kind') or fmt.NA}, "
                     f"{legs} leg{'s' if legs != 1 else ''}, {st.get('underlying', '?')} {st.get('expiry', '?')})")
        lines.append(f"              {risk} risk, max loss {fmt.money(as_float(st.get('max_loss_usd')))} $, "
                     f"premium {fmt.money(as_float(st.get('net_premium_usd')), signed=True)} $")
        if isinstance(st.get("note"), str) and st["note"]:
            lines.append(f"              {st['note']}")
    if not lines:
        lines.append("structure     none found for this position")
    flags = [f for f in exposures.get("flags") or [] if isinstance(f, dict) and f.get("symbol") == symbol]
    if flags:
        lines += [f"flag          {str(f.get('kind', '?')).replace('_', ' ')}: {f.get('message', '')}" for f in flags]
    else:
        lines.append("flags         none (pin, assignment, ex-dividend, adjusted root)")
    return lines


class PositionDetail(DetailScreen):
    """Everything the snapshot knows about one position (options: contract, Greeks, structure)."""

    def __init__(self, row: PositionRow, contribution: Contribution | None, currency: str,
                 exposures: Any = None) -> None:
        lines = [f"symbol        {row.symbol}"]
        if row.kind == "option":
            # The contract and its Greeks first: what an option's detail is opened for.
            lines += option_lines(row, exposures)
        lines += [
            f"type          {type_text(row)}",
            f"description   {row.description}",
            f"quantity      {fmt.qty(row.qty)}",
            f"price         {fmt.num(row.price)}  ({row.price_source})",
            f"market value  {fmt.money(row.market_value)} {currency}",
            f"weight        {fmt.pct(row.weight)} of NAV",
            f"day P&L       {fmt.arrow(row.day_pnl)} {fmt.money(row.day_pnl, signed=True)}",
            f"avg entry     {fmt.num(row.avg_entry_price)}",
            f"unrealized    {fmt.money(row.unrealized_pnl, signed=True)}",
            f"strategy      {row.strategy or '-'}",
            f"origin        {row.origin or '-'}",
        ]
        if contribution is not None:
            lines += [f"VaR ({contribution.method} {fmt.confidence_label(contribution.confidence)}, 1-day)",
                      f"  component   {fmt.money(contribution.component)}",
                      f"  marginal    {fmt.num(contribution.marginal, 4)}",
                      f"  incremental {fmt.money(contribution.incremental)}"]
        if row.status != "ok":
            lines.append(f"n/a: {row.reason or 'no reason given'}")
        super().__init__(f"Position {row.symbol}", Text("\n".join(lines)))


class PositionsPane(TablePane):
    PANE = "positions"
    LABEL = "Positions"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("o", "sort", "Sort", id="positions.sort"),
    ]

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.sort_column: str | None = None
        self.sort_reverse = False
        self._rows_by_key: dict[str, PositionRow] = {}
        self._contrib: dict[str, Contribution] = {}

    def render_snapshot(self, snapshot: RiskSnapshot, view: ViewState) -> None:
        p = view.palette
        table = self.table
        # Headers stay fixed (a relabel would rebuild the table and reset the cursor); the title
        # says which column sorts.
        table.set_columns(COLUMNS)
        contrib_label, contrib = pick_contributions(snapshot)
        self._contrib = contrib
        nav = snapshot.nav
        rows = []
        notes = []
        keys = row_keys(snapshot.positions)
        self._rows_by_key = dict(zip(keys, snapshot.positions))
        for key, r in zip(keys, snapshot.positions):
            c = contrib.get(r.symbol)
            comp = c.component if c is not None else None
            if comp is None:
                varc = na_cell(p)
            elif view.units == "pct" and nav:
                varc = Cell(fmt.pct(comp / nav), sort=comp)
            else:
                varc = Cell(fmt.money(comp), sort=comp)
            weight_style = p.muted if r.weight is None else ""
            symbol = short_label(r) + ("†" if r.status != "ok" else "")
            rows.append((key, [
                left(symbol, p.strong),
                Cell(fmt.qty(r.qty), p.loss if r.qty < 0 else "", sort=r.qty),
                Cell(fmt.money(r.market_value), sort=r.market_value),
                Cell(fmt.pct(r.weight, 1), weight_style, sort=r.weight),
                pnl_cell(p, r.day_pnl),
                varc,
                *greek_cells(r, p),
                left(type_text(r)),
                Cell(fmt.num(r.price), sort=r.price),
            ]))
            if r.status != "ok":
                notes.append(f"† {r.symbol}: n/a: {r.reason or 'no reason given'}")
        table.sync(rows)
        if self.sort_column:
            table.sort_by(self.sort_column, self.sort_reverse)
        ccy = snapshot.meta.base_currency
        title = f"Positions ({len(rows)})  {ccy}"
        if contrib_label:
            title += f"  ·  VaR contr: {contrib_label}, 1-day"
        else:
            notes.append("VaR contr: n/a: no per-position contributions in this snapshot")
        if any(r.kind == "option" for r in snapshot.positions):
            title += f"  ·  {GREEK_UNITS}"
        if self.sort_column:
            title += f"  ·  sorted by {dict(COLUMNS)[self.sort_column]} {'▼' if self.sort_reverse else '▲'}"
        self.title_widget().update(title)
        self.set_note("\n".join(notes))

    def action_sort(self) -> None:
        """Sort by the column under the cursor; the same column again reverses the order."""
        table = self.table
        if not table.columns:
            return
        column = str(table.ordered_columns[table.cursor_column].key.value)
        if column == self.sort_column:
            self.sort_reverse = not self.sort_reverse
        else:
            self.sort_column, self.sort_reverse = column, False
        self.refresh_view(force=True)

    def on_data_table_cell_selected(self, event: DataTable.CellSelected) -> None:
        event.stop()
        if self.snapshot is None:
            return
        row = self._rows_by_key.get(str(event.cell_key.row_key.value))
        if row is not None:
            exposures, _ = section(self.snapshot, "exposures")
            self.app.push_screen(PositionDetail(row, self._contrib.get(row.symbol),
                                                self.snapshot.meta.base_currency, exposures))
