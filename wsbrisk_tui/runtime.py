"""The runtime: command-line flags + config -> sources -> a ``compute(seq)`` that yields snapshots.

One object serves the TUI, the report, the snapshot command and the daemon, so they cannot
disagree about which book or which data they show.

Source selection (first match wins):

* positions: ``--demo`` -> demo book; ``--positions FILE`` (``.json`` = saved Alpaca
  ``/v2/positions``, with ``--account FILE`` for cash and equity; anything else = CSV); else the
  config's ``sources.positions`` (``demo`` | ``csv`` | ``alpaca-json`` | ``alpaca``). With no config
  at all this is the demo book.
* prices: ``--prices FILE`` (CSV); else the demo history for the demo book; else the config's
  ``sources.prices`` (``yfinance`` with a local cache | ``csv`` | ``demo``).
* risk-free rate: the demo's series for the demo book; else FRED (``DGS3MO``) when a key is set and
  the network is allowed, else the config's ``sources.risk_free_rate`` marked *assumed*.

Market data is loaded once and refreshed when older than ``MARKET_TTL_SECONDS`` (daily closes do
not change intraday); positions are re-read every refresh (the bot may have traded).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from wsbrisk_tui.errors import InputError

MARKET_TTL_SECONDS = 15 * 60


@dataclass
class Runtime:
    """Sources and settings for one session; ``compute(seq)`` builds a snapshot (engine thread)."""

    config: Any
    load_portfolio: Callable[[], Any]
    load_market: Callable[[Any], Any]
    mode: str
    seed: int
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(timezone.utc))
    offline: bool = False
    description: str = ""
    #: Publish a quick first pass (fast methods, no backtests or correlation) before the first
    #: full computation, so the dashboard shows numbers in about a second (the TUI sets it).
    quick_first: bool = False
    #: Train the ML models on a background thread when due (the dashboard and the daemon set
    #: it); otherwise the ML rows come from saved models or are n/a.
    ml_training: bool = False
    #: Where saved ML models live (None: nothing saved or loaded; tests and benchmarks).
    ml_model_dir: Path | None = None
    _market: Any = None
    _market_loaded_at: float = 0.0
    _cache: Any = None
    _full_done: bool = False
    _ml: Any = None

    @classmethod
    def from_args(cls, args: Any, env: dict[str, str] | None = None,
                  clock: Callable[[], datetime] | None = None) -> "Runtime":
        """The config file (``--config``/``$WSBRISK_CONFIG``/user dir) with the flags on top."""
        import os

        from wsbrisk_tui.config import config_for_args

        env = dict(os.environ if env is None else env)
        return cls.from_config(config_for_args(args, env), env=env, clock=clock)

    @classmethod
    def from_config(cls, cfg: Any, env: dict[str, str] | None = None,
                    clock: Callable[[], datetime] | None = None) -> "Runtime":
        import os

        env = dict(os.environ if env is None else env)
        src = cfg.sources
        offline = bool(src.offline)
        if src.positions == "demo":
            from wsbrisk_tui.engine.sources import demo

            load_portfolio = demo.demo_portfolio
            mode, description = "DEMO", "demo book (bundled, offline)"
        else:
            load_portfolio, mode, description = _positions_loader(cfg, env)

        if src.prices == "csv":
            if not src.prices_file:
                raise InputError(f"{cfg.source}: sources.prices is 'csv' but sources.prices_file is empty "
                                 "(set the file, or pass --prices FILE)")
            load_market = _csv_market_loader(Path(src.prices_file), cfg)
        elif src.prices == "demo" or (src.positions == "demo" and not src.prices_file):
            from wsbrisk_tui.engine.sources import demo

            load_market = lambda portfolio: demo.demo_market_data()  # noqa: E731
        else:
            load_market = _yahoo_market_loader(cfg, offline, env)
        return cls(config=cfg, load_portfolio=load_portfolio, load_market=load_market, mode=mode,
                   seed=int(cfg.general.seed), clock=clock or (lambda: datetime.now(timezone.utc)),
                   offline=offline, description=description,
                   ml_model_dir=cfg.paths().data_dir / "models")

    # -- computing ---------------------------------------------------------------------------

    def market(self, portfolio: Any) -> Any:
        """Market data, reloaded when older than the TTL."""
        now = time.monotonic()
        if self._market is None or now - self._market_loaded_at > MARKET_TTL_SECONDS:
            self._market = self.load_market(portfolio)
            self._market_loaded_at = now
        return self._market

    def pipeline_settings(self) -> Any:
        from wsbrisk_tui.engine.pipeline import PipelineSettings

        cfg = self.config
        return PipelineSettings(risk=risk_settings_from_config(cfg),
                                user_scenarios=tuple(cfg.scenarios),
                                stress_loss_limit_pct=cfg.limits.effective().stress_loss_pct,
                                correlation_threshold=cfg.limits.correlation_threshold,
                                beta_overrides=cfg.betas)

    def _fit_cache(self) -> Any:
        if self._cache is None:
            from wsbrisk_tui.engine.volatility import FitCache

            self._cache = FitCache(refit_days=int(self.config.risk.garch_refit_days))
        return self._cache

    def ml_service(self) -> Any:
        """The session's :class:`~wsbrisk_tui.engine.ml_service.MlService` (made on first use,
        with :attr:`ml_training` as it is then)."""
        if self._ml is None:
            from wsbrisk_tui.engine.ml_service import MlService, MlSettings, training_series

            settings = MlSettings.from_config(self.config, seed=self.seed,
                                              train_in_background=self.ml_training,
                                              model_dir=self.ml_model_dir)
            pipeline = self.pipeline_settings()
            self._ml = MlService(
                settings, lambda portfolio, market: training_series(
                    portfolio, market, pipeline, settings.history_days),
                clock=self.clock, defer_start=True)
        return self._ml

    def ml_status(self) -> str | None:
        """The status bar's ML line (training progress or failure), None when idle."""
        return None if self._ml is None else self._ml.status_line()

    def record_ml(self, store: Any) -> Any:
        """Store a new training's predictions in the history's ML table (engine thread)."""
        return None if self._ml is None else self._ml.record(store)

    def risk_context(self) -> tuple[Any, Any, Any, Any]:
        """``(portfolio, market, prepared book, RiskInputs)`` for commands that need the inputs
        without a whole snapshot (``stress``). Raises InputError when risk cannot be computed."""
        from wsbrisk_tui.engine.pipeline import prepare_book

        portfolio = self.load_portfolio()
        market = self.market(portfolio)
        prepared = prepare_book(portfolio, market, self.pipeline_settings(), self._fit_cache())
        if prepared.inputs is None:
            raise InputError(f"{portfolio.source}: {prepared.reason}")
        return portfolio, market, prepared, prepared.inputs

    def compute(self, seq: int = 0) -> Any:
        """Load, value and compute one snapshot. Blocking; call from the engine thread."""
        import numpy as np

        from wsbrisk_tui.engine.pipeline import build_snapshot

        portfolio = self.load_portfolio()
        market = self.market(portfolio)
        # One seeded Generator per refresh: the same book and data give the same numbers.
        rng = np.random.default_rng(self.seed)
        settings = self.pipeline_settings()
        if self.quick_first and not self._full_done:
            self._full_done = True  # the next call is the full computation
            return quick_snapshot(portfolio, market, settings, seq=seq, rng=rng,
                                  cache=self._fit_cache(), clock=self.clock, mode=self.mode)
        self._full_done = True
        ml = self.ml_service()
        snapshot = build_snapshot(portfolio, market, settings, seq=seq, rng=rng,
                                  cache=self._fit_cache(), clock=self.clock, mode=self.mode,
                                  ml=ml)
        ml.start_pending()  # a due training starts once the refresh is done, not during it
        return snapshot


#: Methods of the quick first pass: closed forms and plain quantiles, no fits to wait for.
QUICK_METHODS = ("parametric_normal", "cornish_fisher", "historical", "historical_weighted")
QUICK_REASON = "computing: the first pass shows the fast methods; the full suite follows"


def quick_snapshot(portfolio: Any, market: Any, settings: Any, **kwargs: Any) -> Any:
    """The quick first pass: valuation, the fast VaR methods and stress; everything else ``n/a``
    with :data:`QUICK_REASON` and ``meta.partial`` set (the worker runs the full pass next)."""
    from wsbrisk_tui.engine.model import VarResult
    from wsbrisk_tui.engine.pipeline import build_snapshot

    risk = settings.risk
    quick = replace(settings, sections=("stress",),
                    risk=replace(risk, methods=tuple(m for m in risk.methods if m in QUICK_METHODS),
                                 backtest_days=0, bootstrap_replicates=100))
    snap = build_snapshot(portfolio, market, quick, **kwargs)
    pending = [VarResult.unavailable(m, c, h, QUICK_REASON)
               for m in risk.methods if m not in QUICK_METHODS
               for h in risk.horizons for c in risk.confidences]
    order = {m: i for i, m in enumerate(risk.methods)}
    var = tuple(sorted((*snap.var, *pending), key=lambda r: order.get(r.method, len(order))))
    unavailable = {**snap.unavailable, "ml": QUICK_REASON}
    for name in settings.sections:
        if name not in snap.sections:
            unavailable.setdefault(name, QUICK_REASON)
    return replace(snap, var=var, backtest=(), unavailable={**unavailable, "backtest": QUICK_REASON},
                   meta=replace(snap.meta, partial=True, notes=(*snap.meta.notes, QUICK_REASON)))


def risk_settings_from_config(cfg: Any) -> Any:
    """The engine's RiskSettings from the typed config's ``[risk]`` table."""
    from wsbrisk_tui.engine.suite import METHODS, ML_METHODS, RiskSettings

    r = cfg.risk
    return RiskSettings(
        confidences=tuple(float(c) for c in r.confidence_levels),
        horizons=tuple(int(h) for h in r.horizons),
        window=int(r.window),
        methods=tuple(r.methods) if r.methods else (
            tuple(METHODS) + (ML_METHODS if cfg.ml.enabled else ())),
        hs_lambda=float(r.hs_lambda),
        mc_paths=int(r.mc_paths),
        bootstrap_replicates=int(r.bootstrap_replicates),
        backtest_days=int(r.backtest_days),
        garch_refit_days=int(r.garch_refit_days),
        garch_window=int(r.garch_window),
        backtest_refit_days=int(r.backtest_refit_days),
        t_copula_marginals=str(r.t_copula_marginals),
        t_copula_regimes=int(r.t_copula_regimes),
    )


def demo_runtime(seed: int = 20240101, clock: Callable[[], datetime] | None = None,
                 config: Any = None, ml_model_dir: Path | None = None) -> Runtime:
    """A runtime on the demo book (tests, benchmarks, snapshots); ``config`` defaults to defaults.
    No saved ML models are read unless ``ml_model_dir`` is given (the user's would make tests
    depend on what the machine's dashboard trained)."""
    from wsbrisk_tui.config import Config

    cfg = config if config is not None else Config()
    cfg = cfg.with_overrides({"general.seed": seed, "sources.positions": "demo", "sources.prices": "demo",
                              "sources.offline": True})
    return replace(Runtime.from_config(cfg, env={}, clock=clock), ml_model_dir=ml_model_dir)


def _positions_loader(cfg: Any, env: dict[str, str]) -> tuple[Callable[[], Any], str, str]:
    kind = cfg.sources.positions
    path = cfg.sources.positions_file or None
    account_file = cfg.sources.account_file or None
    if kind == "alpaca":
        creds = cfg.alpaca_credentials(env)
        if creds is None:
            raise InputError("sources.positions is 'alpaca' but no Alpaca keys were found: set "
                             "ALPACA_API_KEY and ALPACA_SECRET_KEY (or APCA_API_KEY_ID and "
                             "APCA_API_SECRET_KEY), or pass --positions FILE or --demo")
        from wsbrisk_tui.engine.sources.alpaca import fetch_alpaca_portfolio

        paper = bool(cfg.alpaca.paper)
        key, secret = creds

        def load() -> Any:
            return fetch_alpaca_portfolio(key, secret, paper=paper, base_url=cfg.alpaca.base_url or None,
                                          timeout=cfg.alpaca.timeout_seconds)

        return load, "PAPER" if paper else "LIVE", f"Alpaca {'paper' if paper else 'LIVE'} account"
    if not path:
        raise InputError(f"{cfg.source}: sources.positions is '{kind}' but no file is set "
                         "(set sources.positions_file, or pass --positions FILE, or --demo)")
    file_path = Path(path)
    if kind == "alpaca-json":
        from wsbrisk_tui.engine.sources.alpaca import read_alpaca_positions_json

        account = Path(account_file) if account_file else None
        return (lambda: read_alpaca_positions_json(file_path, account)), "FILE", f"Alpaca JSON {file_path}"
    from wsbrisk_tui.engine.sources.positions_csv import read_positions_csv

    return (lambda: read_positions_csv(file_path)), "FILE", f"CSV {file_path}"


def _csv_market_loader(path: Path, cfg: Any) -> Callable[[Any], Any]:
    from wsbrisk_tui.engine.sources.prices_csv import read_prices_csv

    def load(portfolio: Any) -> Any:
        market = read_prices_csv(path, stale_after_days=cfg.sources.stale_after_days)
        return _with_rate(market, cfg, offline=True, env={})

    return load


def _yahoo_market_loader(cfg: Any, offline: bool, env: dict[str, str]) -> Callable[[Any], Any]:
    from wsbrisk_tui.engine.sources.price_cache import PriceCache
    from wsbrisk_tui.engine.sources.yahoo import fetch_yahoo_prices

    paths = cfg.paths()

    def load(portfolio: Any) -> Any:
        from wsbrisk_tui.engine.factors import FACTOR_PROXY_SYMBOLS

        book = portfolio.underlyings()
        if not book:
            raise InputError(f"{portfolio.source}: the book has no positions to fetch prices for")
        # The factor proxies (SPY, QQQ, IWM, TLT, HYG, USO, GLD, BTC-USD) and the VIX feed the
        # stress betas, factor risk and option vol shifts; a proxy Yahoo cannot serve is n/a with
        # its reason, it never blocks the book's own prices.
        symbols = list(dict.fromkeys([*book, *FACTOR_PROXY_SYMBOLS]))
        symbol_map = {"VIX": "^VIX", **dict(cfg.symbols)}
        crypto = [p.underlying for p in portfolio.positions if p.asset_class == "crypto"] + ["BTC-USD"]
        today = date.today()
        start = today - timedelta(days=int(cfg.sources.history_days * 365 / 252) + 10)
        paths.cache_dir.mkdir(parents=True, exist_ok=True)
        cache = PriceCache(paths.cache_dir / "prices.sqlite3")
        market = fetch_yahoo_prices(symbols, start, today, cache=cache, offline=offline,
                                    timeout=cfg.sources.yfinance_timeout_seconds,
                                    symbol_map=symbol_map,
                                    stale_after_days=cfg.sources.stale_after_days,
                                    crypto=crypto)
        return _with_rate(market, cfg, offline=offline, env=env)

    return load


def _with_rate(market: Any, cfg: Any, *, offline: bool, env: dict[str, str]) -> Any:
    """Attach the risk-free rate (FRED, or the config's value marked assumed)."""
    from wsbrisk_tui.engine.sources.fred import fetch_fred_rate

    key = cfg.fred_api_key(env) if cfg.sources.rates == "fred" else None
    rate = fetch_fred_rate(key, cfg.fred.series_risk_free, fallback_rate=cfg.sources.risk_free_rate,
                           timeout=cfg.fred.timeout_seconds, offline=offline or cfg.sources.rates != "fred")
    return replace(market, risk_free=rate)
