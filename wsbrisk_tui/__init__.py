"""wsbrisk-tui: a terminal risk desk for a trading book.

The package is split in three areas that never mix:

* :mod:`wsbrisk_tui.engine`: pure risk maths and data sources (NumPy/SciPy/pandas; no Textual, no Rich);
* :mod:`wsbrisk_tui.widgets` and :mod:`wsbrisk_tui.app`: the Textual dashboard, which only formats;
* :mod:`wsbrisk_tui.themes`: colour themes.

Importing this package must stay cheap: ``wsbrisk-tui --version`` is budgeted at 0.5 s cold, so
nothing heavy is imported here.
"""

__version__ = "0.1.0"
