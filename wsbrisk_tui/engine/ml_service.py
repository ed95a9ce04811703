"""Scheduled ML training and the ML numbers of every refresh (issue 8).

:class:`MlService` sits beside the refresh loop. Each refresh (engine thread) asks it for
:meth:`MlService.snapshot_parts`: the ``ml`` section of the snapshot, the ``regime_scaled`` and
``ml_quantile`` rows of the VaR ladder and their backtests. The models themselves are trained
on a schedule, never per tick:

* **when** - no model for this book yet; a new daily close (the history's last date moved past
  the one the models were trained through: once a trading day); or the book changed (another
  set of positions or quantities), at most every ``retrain_after_book_change_minutes``. A
  failed training is retried after the same gap, not on every refresh.
* **where** - on one background thread (``train_in_background``, the dashboard and the daemon),
  so the risk numbers keep refreshing during the ~30 s a training takes; progress goes to
  :meth:`MlService.status_line` (the status bar). The one-shot commands (``report``,
  ``snapshot``) never train: they load the models the dashboard or daemon saved, or say n/a.
* **what** - :func:`~wsbrisk_tui.engine.ml.evaluate_book` on the book's daily P&L in % of NAV
  (today's holdings on up to ``history_days`` of past returns), then, with ``per_position``, the
  volatility comparison on each underlying's own returns at 1 and 5 days.
* **persistence** - the trained models are saved (joblib) with the scikit-learn and NumPy
  versions, the feature list and the settings (:func:`~wsbrisk_tui.engine.ml.model_meta`); a
  saved file whose meta differs is refitted, not loaded. A loaded model trained through an
  older close is used (marked stale) while the retraining runs.

Between trainings a refresh runs only inference (:func:`~wsbrisk_tui.engine.ml.refresh_latest`
on the refresh's own return series), recomputed when the book or the price history changes.
Models trained on another book or through an older close still give numbers for the current
book, marked ``stale`` with the reason, until the retraining lands.
"""

from __future__ import annotations

import math
import os
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from wsbrisk_tui.engine.model import BacktestResult, MarketData, Portfolio, VarResult
from wsbrisk_tui.engine.suite import ML_METHODS

#: ``ml_quantile`` is trained at these confidences, 1 day ahead only.
QUANTILE_CONFIDENCES: tuple[float, ...] = (0.95, 0.99)
VOL_HORIZONS: tuple[int, ...] = (1, 5)
#: Version of the saved-model payload; a change refits every saved model.
FORMAT_VERSION = 2  # 2: failed GARCH refits keep the previous parameters
NOT_TRAINED = ("ML models not trained for this book yet: the dashboard and the daemon train them "
               "in the background (about 30 s), or run `wsbrisk-tui ml evaluate`")
DISABLED = "ml.enabled = false in the config"


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class MlSettings:
    """The config's ``[ml]`` table plus where models are saved and whether this process trains."""

    enabled: bool = True
    history_days: int = 2520
    refit_days: int = 63
    per_position: bool = True
    position_refit_days: int = 378
    position_test_days: int = 756
    regimes: int = 2
    retrain_after_book_change_minutes: float = 30.0
    seed: int = 0
    #: Folder of the saved models (None: nothing saved or loaded).
    model_dir: Path | None = None
    #: True: train on a background thread when due (dashboard, daemon). False: only load saved
    #: models (one-shot commands).
    train_in_background: bool = False

    @classmethod
    def from_config(cls, cfg: Any, *, seed: int, train_in_background: bool,
                    model_dir: Path | None) -> "MlSettings":
        m = cfg.ml
        return cls(enabled=bool(m.enabled), history_days=int(m.history_days),
                   refit_days=int(m.refit_days), per_position=bool(m.per_position),
                   position_refit_days=int(m.position_refit_days),
                   position_test_days=int(m.position_test_days), regimes=int(m.regimes),
                   retrain_after_book_change_minutes=float(m.retrain_after_book_change_minutes),
                   seed=int(seed), model_dir=model_dir, train_in_background=train_in_background)

    def signature(self) -> dict[str, Any]:
        """What a saved model must have been trained with (besides versions and features)."""
        return {"history_days": self.history_days, "refit_days": self.refit_days,
                "per_position": self.per_position,
                "position_refit_days": self.position_refit_days,
                "position_test_days": self.position_test_days, "regimes": self.regimes,
                "seed": self.seed}


# --------------------------------------------------------------------------------------------
# The training series and the trained models
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class TrainingSeries:
    """What the models train on: the book's daily P&L in % of NAV (n,) dated ``dates``, VIX and
    TLT closes (pandas Series by date, None when the data has none) and the underlyings' own
    simple returns (n, k)."""

    returns_pct: np.ndarray
    dates: np.ndarray
    vix: Any
    tlt: Any
    asset_returns: np.ndarray
    assets: tuple[str, ...]


def market_series(market: MarketData, symbol: str) -> Any:
    """The closes of ``symbol`` in the market data as a Series (NaN dropped), or None."""
    if symbol == "VIX":
        return market.vix
    prices = market.prices
    if symbol not in prices.columns:
        return None
    s = prices[symbol].dropna()
    return s if len(s) else None


def expected_features(market: MarketData) -> tuple[str, ...]:
    """The feature names a model trained on this market data has (VIX and TLT when present)."""
    from wsbrisk_tui.engine.ml_features import BASE_FEATURES, RATES_FEATURES, VIX_FEATURES

    names = BASE_FEATURES
    if market_series(market, "VIX") is not None:
        names = names + VIX_FEATURES
    if market_series(market, "TLT") is not None:
        names = names + RATES_FEATURES
    return names


def training_series(portfolio: Portfolio, market: MarketData, pipeline_settings: Any,
                    history_days: int) -> TrainingSeries:
    """The book's series over up to ``history_days`` returns (longer than the VaR suite's: the
    walk-forward needs years). Raises ValueError with the reason when the book has none."""
    from dataclasses import replace

    from wsbrisk_tui.engine.pipeline import prepare_book

    long = replace(pipeline_settings, risk=None, sections=(), history_rows=int(history_days) + 1)
    # no shared cache: this runs on the training thread, the engine's FitCache is not thread-safe
    prepared = prepare_book(portfolio, market, long, None)
    inputs = prepared.inputs
    if inputs is None:
        raise ValueError(prepared.reason or "no risk inputs for this book")
    return TrainingSeries(returns_pct=100.0 * inputs.portfolio_pnl(1) / inputs.nav,
                          dates=np.asarray(inputs.dates, dtype="datetime64[D]"),
                          vix=market_series(market, "VIX"), tlt=market_series(market, "TLT"),
                          asset_returns=np.asarray(inputs.asset_returns, dtype=float),
                          assets=tuple(inputs.assets))


def book_key(portfolio: Portfolio) -> str:
    """A short hash of the book's holdings (symbol and quantity of every position): the models
    of one book are not the models of another."""
    from wsbrisk_tui.engine.model import holdings_key

    return holdings_key((p.symbol, p.qty) for p in portfolio.positions)


@dataclass(eq=False)
class TrainedModels:
    """One training: the book's models, the per-position comparisons (horizon -> underlying ->
    :class:`~wsbrisk_tui.engine.ml.VolEvaluation` or the reason it is n/a), and what they were
    trained on."""

    book: Any
    assets: dict[int, dict[str, Any]]
    book_key: str
    trained_at: datetime
    train_seconds: float
    dates: np.ndarray
    returns_pct: np.ndarray
    features: tuple[str, ...]
    source: str = "trained"

    @property
    def trained_through(self) -> date:
        return date.fromisoformat(self.book.last_date)

    def book_dict(self) -> dict[str, Any]:
        """``book.to_dict()``, made once (every refresh carries it; the models do not change)."""
        cached = getattr(self, "_book_dict", None)
        if cached is None:
            cached = self._book_dict = self.book.to_dict()
        return cached

    def assets_dict(self) -> dict[str, dict[str, Any]]:
        """Per horizon and underlying, the summary a snapshot carries (every refresh stores it,
        so not the whole table): best model, verdict, today's forecasts, each model's QLIKE and
        DM p-value; or the reason. Made once."""
        cached = getattr(self, "_assets_dict", None)
        if cached is not None:
            return cached
        self._assets_dict: dict[str, dict[str, Any]] = {str(h): {name: ({"reason": ev} if isinstance(ev, str) else _asset_summary(ev))
                         for name, ev in per.items()}
                for h, per in self.assets.items()}
        return self._assets_dict


def _asset_summary(ev: Any) -> dict[str, Any]:
    return {"best": ev.best(), "verdict": ev.verdict(),
            "current_sigma_pct": ev.current_sigma_pct(),
            "qlike": {s.model: s.loss_qlike for s in ev.scores},
            "dm_p": {s.model: s.dm_p for s in ev.scores},
            "n_scored": int(ev.scored.sum()), "refit_every": ev.refit_every,
            "notes": list(ev.notes)}


def train_models(series: TrainingSeries, settings: MlSettings, book_key_: str,
                 progress: Callable[[str], None] | None = None,
                 clock: Callable[[], datetime] = _utcnow) -> TrainedModels:
    """Train every model on ``series`` (blocking: ~25 s for the demo book's 10 years, plus ~2 s
    per underlying with ``per_position``)."""
    from wsbrisk_tui.engine.ml import evaluate_assets, evaluate_book
    from wsbrisk_tui.engine.ml_features import align_vix

    started = time.perf_counter()
    book = evaluate_book(series.returns_pct, series.dates, vix=series.vix, tlt=series.tlt,
                         seed=settings.seed, horizons=VOL_HORIZONS,
                         refit_every=settings.refit_days, k_regimes=settings.regimes,
                         confidences=QUANTILE_CONFIDENCES, progress=progress)
    assets: dict[int, dict[str, Any]] = {}
    if settings.per_position:
        v = None if series.vix is None else align_vix(series.dates, series.vix)
        t = None if series.tlt is None else align_vix(series.dates, series.tlt)
        for h in VOL_HORIZONS:
            assets[h] = evaluate_assets(series.asset_returns, series.assets, vix=v, tlt=t,
                                        horizon_days=h, refit_every=settings.position_refit_days,
                                        test_days=settings.position_test_days,
                                        seed=settings.seed, progress=progress)
            # the per-position numbers are the training's (a new close retrains): their fitted
            # models are not used again, and keeping them made the saved file 13.5 MB, not 2
            for ev in assets[h].values():
                if not isinstance(ev, str):
                    ev.fitted = {}
    return TrainedModels(book=book, assets=assets, book_key=book_key_, trained_at=clock(),
                         train_seconds=time.perf_counter() - started, dates=series.dates,
                         returns_pct=np.asarray(series.returns_pct, dtype=float),
                         features=tuple(book.vol[0].feature_names))


def training_steps(settings: MlSettings, n_assets: int) -> int:
    """Progress lines a training reports: 5 models x 2 horizons, regimes, the regime backtest,
    2 quantile models, and (per position) one line per underlying and horizon."""
    from wsbrisk_tui.engine.ml import VOL_MODELS

    steps = len(VOL_MODELS) * len(VOL_HORIZONS) + 2 + len(QUANTILE_CONFIDENCES)
    return steps + (n_assets * len(VOL_HORIZONS) if settings.per_position else 0)


# --------------------------------------------------------------------------------------------
# Saving and loading
# --------------------------------------------------------------------------------------------


def model_path(model_dir: Path, key: str) -> Path:
    return Path(model_dir) / f"book-{key}.joblib"


def saved_meta(settings: MlSettings, key: str, features: tuple[str, ...]) -> dict[str, Any]:
    from wsbrisk_tui.engine.ml import model_meta

    return model_meta(features, format=FORMAT_VERSION, book_key=key, **settings.signature())


def save_models(models: TrainedModels, settings: MlSettings) -> Path | None:
    """Write the models (atomically: a temporary file renamed over the old one); None when
    there is no model folder."""
    from wsbrisk_tui.engine.ml import save_model

    if settings.model_dir is None:
        return None
    path = model_path(settings.model_dir, models.book_key)
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    save_model(tmp, models, saved_meta(settings, models.book_key, models.features))
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
    return path


def load_models(settings: MlSettings, key: str, features: tuple[str, ...]
                ) -> tuple[TrainedModels | None, str]:
    """(models, where from) or (None, why not): a file saved with other versions, features or
    settings is not loaded (the caller retrains)."""
    from wsbrisk_tui.engine.ml import load_model

    if settings.model_dir is None:
        return None, "no model folder"
    path = model_path(settings.model_dir, key)
    model, reason = load_model(path, saved_meta(settings, key, features))
    if model is None:
        return None, str(reason)
    if not isinstance(model, TrainedModels):
        return None, f"{path}: not a saved wsbrisk-tui book model; refitting"
    model.source = f"loaded from {path}"
    return model, model.source


# --------------------------------------------------------------------------------------------
# The service
# --------------------------------------------------------------------------------------------


@dataclass
class MlParts:
    """What one refresh gets: the section (None with ``reason``), ladder rows and backtests."""

    section: dict[str, Any] | None
    reason: str | None
    var: tuple[VarResult, ...] = ()
    backtest: tuple[BacktestResult, ...] = ()


@dataclass
class _Progress:
    step: int
    steps: int
    label: str
    started: float  # monotonic
    started_at: datetime


@dataclass
class _Attempt:
    key: str
    last_date: date
    started: float  # monotonic
    failed: bool = False


@dataclass
class _Inference:
    token: tuple[Any, ...]
    now: dict[str, Any]
    regime_prob: np.ndarray | None
    seconds: float


class MlService:
    """The ML models of one session: schedule, background training, inference (module doc).

    ``series_for(portfolio, market)`` builds the :class:`TrainingSeries` (on the training
    thread); ``monotonic`` and ``clock`` are injectable for tests."""

    def __init__(self, settings: MlSettings,
                 series_for: Callable[[Portfolio, MarketData], TrainingSeries], *,
                 clock: Callable[[], datetime] = _utcnow,
                 monotonic: Callable[[], float] = time.monotonic,
                 defer_start: bool = False) -> None:
        self.settings = settings
        #: With ``defer_start`` a due training starts at :meth:`start_pending` (the runtime calls
        #: it once the snapshot is built: a training started mid-refresh made the dashboard's
        #: first full snapshot 1 s slower), else at once.
        self.defer_start = defer_start
        self._launched = False
        self._series_for = series_for
        self._clock = clock
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._models: TrainedModels | None = None
        self._thread: threading.Thread | None = None
        self._progress: _Progress | None = None
        self._attempt: _Attempt | None = None
        self._error: str | None = None
        self._error_detail: str | None = None
        #: Why the book's data cannot carry the models (too short a history...): n/a, not a
        #: failure; shown in the pane and the rows, not as an alarm in the status bar.
        self._unavailable: str | None = None
        self._load_tried: set[str] = set()
        self._load_note: str | None = None
        self._inference: _Inference | None = None
        self._recorded: TrainedModels | None = None
        #: Trainings finished (tests, benchmarks).
        self.trainings = 0

    # -- state (any thread) ------------------------------------------------------------------

    @property
    def models(self) -> TrainedModels | None:
        with self._lock:
            return self._models

    @property
    def training(self) -> bool:
        with self._lock:
            return self._running()

    def _running(self) -> bool:
        """A training is scheduled or running (lock held)."""
        return self._thread is not None and (not self._launched or self._thread.is_alive())

    def start_pending(self) -> None:
        """Start the training scheduled by the last refresh, if any (``defer_start``)."""
        with self._lock:
            if self._thread is not None and not self._launched:
                self._launched = True
                self._thread.start()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for a background training to end; True when none is running or scheduled."""
        with self._lock:
            if self._thread is not None and not self._launched:
                return False  # scheduled, not started (start_pending): it cannot end yet
            thread = self._thread
        if thread is not None:
            thread.join(timeout)
            return not thread.is_alive()
        return True

    def status_line(self) -> str | None:
        """One line for the status bar while training ("ML training 4/36: random_forest (1-day)
        9s"), the failure while the last attempt failed, else None."""
        with self._lock:
            p = self._progress
            running = self._running()
            error = self._error
        if running and p is not None:
            return (f"ML training {min(p.step, p.steps)}/{p.steps}: {p.label} "
                    f"{self._monotonic() - p.started:.0f}s")
        if running:
            return "ML: loading saved models"
        if error:
            return f"ML training failed: {error}"
        return None

    # -- per refresh (engine thread) ---------------------------------------------------------

    def snapshot_parts(self, portfolio: Portfolio, market: MarketData, inputs: Any,
                       risk: Any) -> MlParts:
        """The refresh's ML section, ladder rows and backtests (starting a training when due)."""
        methods = [m for m in ML_METHODS if risk is not None and m in risk.methods]
        confs = tuple(risk.confidences) if risk is not None else ()
        horizons = tuple(risk.horizons) if risk is not None else ()
        if not self.settings.enabled:
            return MlParts(None, DISABLED, _na_rows(methods, confs, horizons, DISABLED))
        key = book_key(portfolio)
        last = date.fromisoformat(str(np.asarray(inputs.dates, dtype="datetime64[D]")[-1]))
        self._maybe_train(portfolio, market, key, last)
        with self._lock:
            models, error, unavailable = self._models, self._error, self._unavailable
            progress = self._progress_dict()
        section: dict[str, Any] = {
            "status": "ready", "stale": False, "stale_reason": None, "training": progress,
            "error": error, "error_detail": self._error_detail if error else None,
            "reason": None, "trained_at": None, "trained_through": None, "train_seconds": None,
            "source": None, "next_training": self._next_training_text(), "book": None,
            "now": None, "assets": None, "load_note": self._load_note}
        if models is None:
            reason = (f"ML training failed: {error}" if error else
                      f"ML models training now ({progress['label']})" if progress else
                      f"ML n/a: {unavailable}" if unavailable else NOT_TRAINED)
            section.update(status="failed" if error else "training" if progress else
                           "not_trained", reason=reason)
            return MlParts(section, None, _na_rows(methods, confs, horizons, reason))
        stale = _stale_reason(models, key, last)
        try:
            inf = self._infer(models, inputs, market, key)
        except ValueError as exc:  # e.g. VIX or TLT gone from the data since the training
            reason = f"ML inference n/a: {exc}"
            section.update(status="failed", reason=reason, error=str(exc))
            return MlParts(section, None, _na_rows(methods, confs, horizons, reason))
        nav = float(inputs.nav)
        rows = _var_rows(methods, confs, horizons, models, inf, nav, stale)
        backtests = tuple(b for b in (*models.book.regime_backtests, *models.book.quantile.backtests)
                          if b.method in methods)
        section.update(
            status="training" if progress else "ready", stale=stale is not None,
            stale_reason=stale, trained_at=models.trained_at.isoformat(),
            trained_through=models.trained_through.isoformat(),
            train_seconds=models.train_seconds, source=models.source,
            book=models.book_dict(), now=inf.now, assets=models.assets_dict() or None)
        return MlParts(section, None, rows, backtests)

    def record(self, store: Any) -> tuple[int, int] | None:
        """Store the latest training's predictions (and fill the realised values of earlier
        ones) in the history's ML table, once per training; None when there is nothing new."""
        from wsbrisk_tui.engine.ml import record_forecasts, record_quantiles

        with self._lock:
            models = self._models
            if models is None or models is self._recorded:
                return None
            self._recorded = models
        recorded = filled = 0
        for ev in models.book.vol:
            a, b = record_forecasts(store, ev, models.dates, "book_vol")
            recorded, filled = recorded + a, filled + b
        a, b = record_quantiles(store, models.book.quantile, models.returns_pct, models.dates,
                                "book_var")
        recorded, filled = recorded + a, filled + b
        for per in models.assets.values():
            for name, ev in per.items():
                if not isinstance(ev, str):
                    a, b = record_forecasts(store, ev, models.dates, f"vol:{name}")
                    recorded, filled = recorded + a, filled + b
        return recorded, filled

    # -- scheduling --------------------------------------------------------------------------

    def _gap_seconds(self) -> float:
        return 60.0 * self.settings.retrain_after_book_change_minutes

    def _due(self, key: str, last: date) -> bool:
        m = self._models
        a = self._attempt
        now = self._monotonic()
        if m is not None and m.book_key == key and last <= m.trained_through:
            return False  # up to date
        if a is not None and a.key == key and a.last_date == last:
            # this very target was tried: retry a failure after the gap, never a success
            return a.failed and now - a.started >= self._gap_seconds()
        if m is not None and m.book_key != key and a is not None:
            return now - a.started >= self._gap_seconds()  # book changed: throttled
        return True

    def _maybe_train(self, portfolio: Portfolio, market: MarketData, key: str, last: date) -> None:
        if not self.settings.train_in_background:
            self._load_once(key, market)
            return
        with self._lock:
            if self._running():
                return
            if not self._due(key, last):
                return
            self._attempt = _Attempt(key, last, self._monotonic())
            self._progress = _Progress(0, 1, "loading saved models", self._monotonic(),
                                       self._clock())
            self._thread = threading.Thread(target=self._job, args=(portfolio, market, key),
                                            name="wsbrisk-ml", daemon=True)
            self._launched = False
            if not self.defer_start:
                self._launched = True
                self._thread.start()

    def _load_once(self, key: str, market: MarketData) -> None:
        """One-shot commands: load the saved models of this book once; never train."""
        with self._lock:
            if key in self._load_tried or (self._models is not None
                                           and self._models.book_key == key):
                return
            self._load_tried.add(key)
        models, note = load_models(self.settings, key, expected_features(market))
        with self._lock:
            if models is not None:
                self._models = models
            self._load_note = None if models is not None else note

    def _job(self, portfolio: Portfolio, market: MarketData, key: str) -> None:
        """The training thread: load a saved model if any, retrain when it is behind."""
        try:
            have = self.models
            if have is None or have.book_key != key:
                loaded, note = load_models(self.settings, key, expected_features(market))
                with self._lock:
                    self._load_note = None if loaded is not None else note
                    if loaded is not None:
                        self._models = have = loaded
            self._set_progress(0, "preparing the 10-year series")
            series = self._series_for(portfolio, market)
            last = date.fromisoformat(str(series.dates[-1]))
            if have is not None and have.book_key == key and last <= have.trained_through:
                with self._lock:
                    self._error = self._error_detail = self._unavailable = None
                return
            n_assets = sum(1 for a in series.assets if a != "VIX")
            with self._lock:
                assert self._progress is not None
                self._progress.steps = training_steps(self.settings, n_assets)
            step = [0]

            def progress(line: str) -> None:
                step[0] += 1
                self._set_progress(step[0], line.removeprefix("ml: "))

            models = train_models(series, self.settings, key, progress, self._clock)
            save_models(models, self.settings)
            with self._lock:
                self._models = models
                self._error = self._error_detail = self._unavailable = None
                self._inference = None
                self.trainings += 1
        except ValueError as exc:
            # the data cannot carry the models (e.g. fewer than 500 usable days): n/a with the
            # reason, retried after the gap (more history may have arrived), not an alarm
            with self._lock:
                self._unavailable = str(exc).splitlines()[0]
                self._error = self._error_detail = None
                if self._attempt is not None:
                    self._attempt.failed = True
        # A failed training must reach the ML pane and the status bar (not kill the thread
        # silently, not stop the refreshes): every error is kept with its traceback.
        except Exception as exc:  # noqa: BLE001
            with self._lock:
                self._error = f"{type(exc).__name__}: {exc}".splitlines()[0]
                self._error_detail = traceback.format_exc()
                if self._attempt is not None:
                    self._attempt.failed = True
        finally:
            with self._lock:
                self._progress = None

    def _set_progress(self, step: int, label: str) -> None:
        with self._lock:
            if self._progress is not None:
                self._progress.step = step
                self._progress.label = label

    def _progress_dict(self) -> dict[str, Any] | None:
        p = self._progress
        if p is None or not self._running():
            return None
        return {"running": True, "step": min(p.step, p.steps), "steps": p.steps,
                "label": p.label, "started_at": p.started_at.isoformat(),
                "elapsed_s": round(self._monotonic() - p.started, 1)}

    def _next_training_text(self) -> str:
        if not self.settings.train_in_background:
            return "not in this command: the dashboard and the daemon train"
        return (f"on the next daily close, or when the book changes (at most every "
                f"{self.settings.retrain_after_book_change_minutes:g} min)")

    # -- inference ---------------------------------------------------------------------------

    def _infer(self, models: TrainedModels, inputs: Any, market: MarketData, key: str
               ) -> _Inference:
        """Today's forecasts on the refresh's series; recomputed only when the models, the book
        or the price history changed (the numbers depend on nothing else)."""
        from wsbrisk_tui.engine.ml import refresh_latest
        from wsbrisk_tui.engine.ml_features import align_vix
        from wsbrisk_tui.engine.regime import regime_var_es

        dates = np.asarray(inputs.dates, dtype="datetime64[D]")
        token = (id(models), key, str(dates[-1]), dates.shape[0])
        cached = self._inference
        if cached is not None and cached.token == token:
            return cached
        started = time.perf_counter()
        r = 100.0 * inputs.portfolio_pnl(1) / inputs.nav
        names = models.features
        vix = market_series(market, "VIX") if "vix" in names else None
        tlt = market_series(market, "TLT") if "rates_chg_5" in names else None
        if ("vix" in names and vix is None) or ("rates_chg_5" in names and tlt is None):
            raise ValueError("the models were trained with VIX and TLT features the current "
                             "market data lacks; they retrain on the next close")
        v = None if vix is None else align_vix(dates, vix)
        t = None if tlt is None else align_vix(dates, tlt)
        out = refresh_latest(models.book, r, v, t, dates)
        fit = models.book.regime
        # refresh_latest filtered the regime on over the days since training: reuse it
        prob = (None if fit is None or out["regime"] is None
                else np.array([out["regime"][lab] for lab in fit.labels]))
        if prob is not None and fit.converged:
            var1 = regime_var_es(fit, QUANTILE_CONFIDENCES, [1], prob)[1][0]
            out["regime_scaled_var_pct"] = {str(c): float(x)
                                            for c, x in zip(QUANTILE_CONFIDENCES, var1)}
        seconds = time.perf_counter() - started
        now = _now_dict(out, seconds)
        inf = _Inference(token=token, now=now, regime_prob=prob, seconds=seconds)
        self._inference = inf
        return inf


def _now_dict(out: dict[str, Any], seconds: float) -> dict[str, Any]:
    regime = out.get("regime")
    return {"volatility": {str(h): dict(v) for h, v in out["volatility"].items()},
            "ml_quantile_var_pct": {str(c): v for c, v in out["ml_quantile_var_pct"].items()},
            # today's 1-day regime_scaled VaR (the regime filtered on since the training)
            "regime_scaled_var_pct": out.get("regime_scaled_var_pct"),
            "regime": regime,
            "regime_label": max(regime, key=regime.get) if regime else None,
            "inference_ms": round(1000.0 * seconds, 2)}


def _stale_reason(models: TrainedModels, key: str, last: date) -> str | None:
    if models.book_key != key:
        return (f"trained on the book as of {models.trained_at:%Y-%m-%d %H:%M} UTC; the book "
                "has changed since (retraining is scheduled)")
    if last > models.trained_through:
        return (f"trained through {models.trained_through}; prices now run to {last} "
                "(retraining is scheduled)")
    return None


def _na_rows(methods: list[str], confs: tuple[float, ...], horizons: tuple[int, ...],
             reason: str) -> tuple[VarResult, ...]:
    return tuple(VarResult.unavailable(m, c, h, reason)
                 for m in methods for h in horizons for c in confs)


def _var_rows(methods: list[str], confs: tuple[float, ...], horizons: tuple[int, ...],
              models: TrainedModels, inf: _Inference, nav: float, stale: str | None
              ) -> tuple[VarResult, ...]:
    """Ladder rows in currency: percent-of-NAV forecasts x NAV / 100."""
    from wsbrisk_tui.engine.regime import regime_var_es

    book = models.book
    base = {"trained_through": models.trained_through.isoformat(),
            "trained_on": "book P&L in % of NAV (today's holdings on past returns)",
            **({"stale": stale} if stale else {})}
    rows: list[VarResult] = []
    for method in methods:
        if method == "regime_scaled":
            fit = book.regime
            if fit is None or not fit.converged or inf.regime_prob is None:
                reason = book.regime_reason or "the regime model did not converge"
                rows += [VarResult.unavailable(method, c, h, reason) for h in horizons for c in confs]
                continue
            table = regime_var_es(fit, confs, horizons, inf.regime_prob)
            details = {**base, "model": f"Markov-switching variance, {fit.k} regimes, normal "
                                        "mixture moments over the horizon",
                       "regime": inf.now.get("regime_label")}
            for h in horizons:
                var, es = table[int(h)]
                for j, c in enumerate(confs):
                    rows.append(_row(method, c, h, float(var[j]), float(es[j]), nav, details))
        elif method == "ml_quantile":
            q = inf.now["ml_quantile_var_pct"]
            details = {**base, "model": "gradient-boosted quantile regression of the next-day "
                                        "return (EWMA-scaled), 1 day at 95% and 99%",
                       "es": "n/a: a quantile regression estimates the quantile only"}
            for h in horizons:
                for c in confs:
                    value = q.get(str(float(c)))
                    if int(h) != 1:
                        rows.append(VarResult.unavailable(
                            method, c, h, "ml_quantile forecasts 1 day ahead only (no "
                                          "square-root-of-time scaling of a quantile model)"))
                    elif not any(math.isclose(c, k) for k in QUANTILE_CONFIDENCES):
                        rows.append(VarResult.unavailable(
                            method, c, h, "ml_quantile is trained at 95% and 99% only (a "
                                          "99.9% quantile of ~2,500 days rests on ~2 days)"))
                    elif value is None:
                        rows.append(VarResult.unavailable(
                            method, c, h, "ml_quantile: today's features are incomplete (a "
                                          "VIX or TLT close is missing)"))
                    else:
                        rows.append(_row(method, c, h, float(value), None, nav, details))
    return tuple(rows)


def _row(method: str, c: float, h: int, var_pct: float, es_pct: float | None, nav: float,
         details: dict[str, Any]) -> VarResult:
    if not math.isfinite(var_pct) or (es_pct is not None and not math.isfinite(es_pct)):
        return VarResult.unavailable(method, c, h, "the estimate is not a finite number")
    return VarResult(method=method, confidence=float(c), horizon_days=int(h),
                     var=var_pct / 100.0 * nav,
                     es=None if es_pct is None else es_pct / 100.0 * nav,
                     var_pct=var_pct / 100.0, es_pct=None if es_pct is None else es_pct / 100.0,
                     details=dict(details))

