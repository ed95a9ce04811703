"""A DataTable that updates in place by row key (the dolphie habit) and moves with hjkl.

:meth:`RiskTable.sync` diffs the new rows against the table: changed cells are updated with
``update_cell``, new keys are added, vanished keys removed, all inside ``App.batch_update`` so the
screen repaints once and the cursor stays where the user left it. Only a change of columns
rebuilds the table.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.widgets import DataTable

from wsbrisk_tui.widgets.palette import Cell


def _signature(value: object) -> object:
    if isinstance(value, Cell):
        return value.signature
    if isinstance(value, Text):
        return (value.plain, str(value.style), repr(value.spans))
    return value


class RiskTable(DataTable):
    """DataTable with vim keys and keyed in-place updates."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("h", "cursor_left", "Left", show=False, id="table.left"),
        Binding("j", "cursor_down", "Down", show=False, id="table.down"),
        Binding("k", "cursor_up", "Up", show=False, id="table.up"),
        Binding("l", "cursor_right", "Right", show=False, id="table.right"),
        Binding("enter", "select_cursor", "Open", show=True, id="table.open"),
    ]

    def __init__(self, *, cursor_type: str = "cell", id: str | None = None,
                 classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes, cursor_type=cursor_type, zebra_stripes=False,
                         cell_padding=1)
        self._column_signature: tuple = ()
        #: Cells updated, rows added, rows removed by the last :meth:`sync` (tests, benchmarks).
        self.last_sync: tuple[int, int, int] = (0, 0, 0)

    def set_columns(self, columns: Sequence[tuple[str, str | Text]]) -> bool:
        """Define columns as (key, label); rebuild only when they differ. True when rebuilt."""
        signature = tuple((key, _signature(label)) for key, label in columns)
        if signature == self._column_signature:
            return False
        self.clear(columns=True)
        for key, label in columns:
            self.add_column(label, key=key)
        self._column_signature = signature
        return True

    def sync(self, rows: Sequence[tuple[str, Sequence[object]]], labels: dict[str, str] | None = None) -> None:
        """Make the table show ``rows`` (key, cells in column order), updating in place."""
        column_keys = [c.key for c in self.ordered_columns]
        wanted = {key for key, _ in rows}
        updated = added = removed = 0
        with self.app.batch_update():
            for row_key in [rk for rk in self.rows if rk.value not in wanted]:
                self.remove_row(row_key)
                removed += 1
            for key, cells in rows:
                if key in self.rows:
                    old = self.get_row(key)
                    for col, old_cell, new_cell in zip(column_keys, old, cells):
                        if _signature(old_cell) != _signature(new_cell):
                            self.update_cell(key, col, new_cell, update_width=True)
                            updated += 1
                else:
                    label = labels.get(key) if labels else None
                    self.add_row(*cells, key=key, label=label)
                    added += 1
        self.last_sync = (updated, added, removed)

    def sort_by(self, column_key: str, reverse: bool) -> None:
        """Sort rows by the cells' raw values (``Cell.sort_value``); n/a sorts last either way."""

        def key(cell: object) -> tuple:
            value = cell.sort_value if isinstance(cell, Cell) else cell
            missing = value is None
            # n/a last in both directions: flip the flag when reversing.
            return (missing != reverse, value if not missing else 0)

        self.sort(column_key, key=key, reverse=reverse)
