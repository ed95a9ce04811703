"""Ticker symbols: normalise them and decide their asset class.

Small and pure on purpose: every source (CSV, Alpaca, demo) uses the same rules, so a symbol
means the same thing wherever it came from.

Asset-class rules (:func:`classify`):

* an explicit class wins: ``equity``/``stock`` -> equity, ``etf`` -> etf, ``option``/``us_option``
  -> option, ``crypto`` -> crypto (case-insensitive);
* ``us_equity`` (Alpaca's class for every US-listed security) and a blank hint are refined: an OCC
  option shape -> option, a crypto pair -> crypto, a ticker in :data:`KNOWN_ETFS` -> etf, anything
  else -> equity.

:data:`KNOWN_ETFS` is a display aid only (the "kind" column, grouping by kind). Risk never depends
on it: an ETF missing from the list is valued and shocked exactly like the same ticker marked
``etf``.
"""

from __future__ import annotations

import re

from wsbrisk_tui.engine.model import AssetClass
from wsbrisk_tui.engine.occ import looks_like_occ

#: Common US-listed ETFs and ETNs (broad index, sector, bond, commodity, volatility, leveraged).
#: Used only to label ``us_equity`` holdings as "etf" for display; see the module docstring.
KNOWN_ETFS: frozenset[str] = frozenset({
    # broad US equity
    "SPY", "QQQ", "IWM", "DIA", "VTI", "VOO", "IVV", "RSP", "MDY", "IJH", "IJR", "VB", "VO", "VV",
    "SCHB", "SCHX", "ITOT", "SPLG", "QQQM", "VUG", "VTV", "IWF", "IWD", "MTUM", "USMV", "QUAL",
    # international
    "EEM", "EFA", "VEA", "VWO", "IEMG", "IEFA", "VXUS", "FXI", "EWJ", "EWZ", "INDA", "KWEB", "EWT",
    "EWG", "EWU", "EWC", "EWY", "MCHI", "ACWI", "VT",
    # sectors and industries
    "XLF", "XLK", "XLE", "XLV", "XLY", "XLI", "XLP", "XLU", "XLB", "XLRE", "XLC", "SMH", "SOXX",
    "KRE", "KBE", "XBI", "IBB", "XHB", "ITB", "XRT", "XME", "XOP", "OIH", "JETS", "IYR", "VNQ",
    "VGT", "VHT", "VFH", "VDE", "IGV", "CIBR", "HACK", "TAN", "ICLN", "LIT", "URA", "ARKK", "ARKG",
    "ARKW", "ARKQ", "ARKF",
    # bonds
    "TLT", "IEF", "SHY", "AGG", "BND", "LQD", "HYG", "JNK", "TIP", "SCHP", "BIL", "SHV", "SGOV",
    "GOVT", "VGSH", "VGIT", "VGLT", "EDV", "ZROZ", "MUB", "EMB", "BNDX", "VCIT", "VCSH", "IGSB",
    "TMF", "TBT", "TMV",
    # commodities and currencies
    "GLD", "IAU", "SLV", "USO", "UNG", "DBC", "DBA", "PDBC", "GDX", "GDXJ", "SIL", "CPER", "UUP",
    "FXE", "FXY", "BITO", "IBIT", "FBTC", "GBTC", "ETHA",
    # volatility
    "VXX", "UVXY", "SVXY", "VIXY", "UVIX", "SVIX",
    # leveraged and inverse
    "SQQQ", "TQQQ", "SPXL", "SPXS", "SPXU", "UPRO", "SSO", "SDS", "SH", "PSQ", "QLD", "QID",
    "SOXL", "SOXS", "TNA", "TZA", "LABU", "LABD", "FAS", "FAZ", "TECL", "TECS", "NUGT", "DUST",
    "UCO", "SCO", "BOIL", "KOLD", "YINN", "YANG", "TSLL", "NVDL", "DPST", "FNGU", "FNGD", "UDOW",
    "SDOW", "URTY", "SRTY",
    # dividend and income
    "SCHD", "VIG", "VYM", "DVY", "SDY", "NOBL", "JEPI", "JEPQ", "QYLD", "XYLD", "DGRO", "HDV",
})

#: Base currencies recognised in a crypto pair written without a separator (``BTCUSD``).
KNOWN_CRYPTO_BASES: frozenset[str] = frozenset({
    "BTC", "ETH", "SOL", "DOGE", "LTC", "BCH", "AVAX", "LINK", "UNI", "AAVE", "DOT", "SHIB", "XRP",
    "XTZ", "MKR", "CRV", "GRT", "SUSHI", "YFI", "BAT", "PEPE", "TRUMP", "USDT", "USDC", "ADA",
    "MATIC", "ALGO", "ATOM", "FIL", "NEAR", "XLM", "ETC", "ARB", "OP",
})

#: Quote currencies of the crypto pairs we recognise.
CRYPTO_QUOTES: tuple[str, ...] = ("USDT", "USDC", "USD")

_PAIR_WITH_SEPARATOR = re.compile(r"^(?P<base>[A-Z0-9]{2,10})[-/](?P<quote>USDT|USDC|USD)$")

_HINTS: dict[str, AssetClass | None] = {
    "equity": "equity",
    "stock": "equity",
    "etf": "etf",
    "option": "option",
    "us_option": "option",
    "crypto": "crypto",
    # refined by the symbol, see the module docstring
    "us_equity": None,
    "": None,
}

#: The hints :func:`classify` accepts, for error messages.
ACCEPTED_HINTS: tuple[str, ...] = ("equity", "stock", "etf", "option", "crypto", "us_equity", "us_option")


def normalize_symbol(text: str) -> str:
    """Strip surrounding whitespace and upper-case; ``.``, ``-`` and ``/`` are kept as typed."""
    return text.strip().upper()


def is_crypto_pair(symbol: str) -> bool:
    """True for ``BTC/USD``, ``BTC-USD`` (any base, quote USD/USDT/USDC) and ``BTCUSD``, ``ETHUSDT``
    (base in :data:`KNOWN_CRYPTO_BASES`: without a separator a short stock ticker could end in "USD")."""
    s = normalize_symbol(symbol)
    if _PAIR_WITH_SEPARATOR.match(s):
        return True
    for quote in CRYPTO_QUOTES:
        if s.endswith(quote) and s[: -len(quote)] in KNOWN_CRYPTO_BASES:
            return True
    return False


def classify(symbol: str, hint: str | None = None) -> AssetClass:
    """The asset class of ``symbol`` given an optional ``hint`` (a CSV ``asset_class`` cell or
    Alpaca's ``asset_class``). Raises ``ValueError`` naming the accepted hints for an unknown one.

    The hint is trusted as given; the caller checks that an ``option`` really carries a contract.
    """
    key = (hint or "").strip().lower()
    if key not in _HINTS:
        raise ValueError(f"unknown asset class '{hint}' (expected one of: {', '.join(ACCEPTED_HINTS)})")
    explicit = _HINTS[key]
    if explicit is not None:
        return explicit
    s = normalize_symbol(symbol)
    if looks_like_occ(s):
        return "option"
    if is_crypto_pair(s):
        return "crypto"
    if s in KNOWN_ETFS:
        return "etf"
    return "equity"
