"""Where books and market data come from. Each module reads one kind of source:

* :mod:`.positions_csv`: a positions CSV (``symbol,qty,...``) -> :class:`~wsbrisk_tui.engine.model.Portfolio`;
* :mod:`.alpaca`: a saved Alpaca ``/v2/positions`` (+ ``/v2/account``) JSON, or the live API;
* :mod:`.prices_csv`: a prices CSV (``date`` + one adjusted-close column per symbol);
* :mod:`.yahoo`: daily adjusted closes from Yahoo Finance (yfinance) with a local cache;
* :mod:`.fred`: the risk-free rate and VIX from FRED;
* :mod:`.demo`: the bundled offline demo book and its prices.

This package imports nothing on purpose: each source pulls in its own (sometimes heavy)
dependencies only when it is used.
"""
