"""The ML service (issue 8): scheduled background training, persistence with version checks,
ladder rows, the snapshot section and the history record. Offline and seeded; the training
series is simulated (700 days of two-regime GARCH-like returns), so a training takes a few
seconds instead of the demo book's ~50."""

from __future__ import annotations

import math
import threading
from datetime import date, datetime, timezone
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from wsbrisk_tui.engine import ml_service as svc
from wsbrisk_tui.engine.model import MarketData, Portfolio, Position
from wsbrisk_tui.engine.suite import METHODS, ML_METHODS, RiskSettings

N = 700
NAV = 2_000_000.0
CLOCK = datetime(2026, 11, 24, 14, 0, tzinfo=timezone.utc)


def simulated_returns(n: int = N, seed: int = 5) -> np.ndarray:
    """Percent returns: calm (sigma 0.6) and stressed (sigma 2.0) stretches, GARCH-like inside."""
    rng = np.random.default_rng(seed)
    sig = np.where((np.arange(n) // 120) % 3 == 2, 2.0, 0.6)
    return sig * rng.standard_normal(n)


def business_dates(n: int, end: str = "2020-12-31") -> np.ndarray:
    return pd.bdate_range(end=end, periods=n).to_numpy().astype("datetime64[D]")


def portfolio(qty: float = 100.0) -> Portfolio:
    return Portfolio(positions=(Position(symbol="SPY", qty=qty, asset_class="etf", price=300.0),),
                     cash=0.0, source="test book", mode="FILE")


def market() -> MarketData:
    idx = pd.bdate_range(end="2020-12-31", periods=10)
    return MarketData(prices=pd.DataFrame({"SPY": np.linspace(300, 310, 10)}, index=idx),
                      source="test", as_of=date(2020, 12, 31))


def inputs_for(r: np.ndarray, dates: np.ndarray) -> SimpleNamespace:
    """What the service reads of RiskInputs: dates, nav and the 1-day P&L (currency)."""
    return SimpleNamespace(dates=dates, nav=NAV, portfolio_pnl=lambda h: r * NAV / 100.0)


class Series:
    """A ``series_for`` that serves a given series and counts its calls (a gate can hold it)."""

    def __init__(self, r: np.ndarray, dates: np.ndarray, gate: threading.Event | None = None,
                 fail: Exception | None = None) -> None:
        self.r, self.dates, self.gate, self.fail, self.calls = r, dates, gate, fail, 0

    def __call__(self, portfolio: Portfolio, market: MarketData) -> svc.TrainingSeries:
        self.calls += 1
        if self.gate is not None:
            assert self.gate.wait(30)
        if self.fail is not None:
            raise self.fail
        return svc.TrainingSeries(returns_pct=self.r, dates=self.dates, vix=None, tlt=None,
                                  asset_returns=self.r[:, None] / 100.0, assets=("SPY",))


def settings(**kw) -> svc.MlSettings:
    base = dict(refit_days=150, per_position=False, seed=3, train_in_background=True,
                retrain_after_book_change_minutes=30.0)
    base.update(kw)
    return svc.MlSettings(**base)


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


RISK = RiskSettings(horizons=(1, 10), methods=METHODS + ML_METHODS)


@pytest.fixture(scope="module")
def trained() -> svc.TrainedModels:
    r, d = simulated_returns(), business_dates(N)
    return svc.train_models(Series(r, d)(portfolio(), market()), settings(), "k",
                            clock=lambda: CLOCK)


# ------------------------------------------------------------------------------ schedule


def test_background_training_then_rows_and_section() -> None:
    r, d = simulated_returns(), business_dates(N)
    gate = threading.Event()
    series = Series(r, d, gate)
    mono = Clock()
    service = svc.MlService(settings(), series, clock=lambda: CLOCK, monotonic=mono)
    parts = service.snapshot_parts(portfolio(), market(), inputs_for(r, d), RISK)
    # training has started and nothing is shown in its place: every ML row n/a with the reason
    assert service.training and parts.section["status"] == "training"
    assert parts.section["book"] is None and parts.section["training"]["running"]
    assert len(parts.var) == 2 * 3 * 2
    assert all(v.status == "n/a" and v.reason.startswith("ML models training now") for v in parts.var)
    assert service.status_line().startswith("ML training 0/")
    gate.set()
    assert service.wait(120)
    assert service.status_line() is None and service.trainings == 1
    parts = service.snapshot_parts(portfolio(), market(), inputs_for(r, d), RISK)
    sec = parts.section
    assert sec["status"] == "ready" and not sec["stale"] and series.calls == 1
    assert sec["trained_through"] == "2020-12-31" and sec["trained_at"] == CLOCK.isoformat()
    assert [v["horizon_days"] for v in sec["book"]["volatility"]] == [1, 5]
    assert set(sec["now"]["volatility"]) == {"1", "5"}
    assert sec["now"]["regime_label"] in ("calm", "crisis")
    # the same book and close again: no retraining
    service.snapshot_parts(portfolio(), market(), inputs_for(r, d), RISK)
    assert not service.training and series.calls == 1
    # the rows: ml_quantile in currency is the section's percent x NAV / 100, ES n/a
    q = {(v.confidence, v.horizon_days): v for v in parts.var if v.method == "ml_quantile"}
    for c in (0.95, 0.99):
        pct = sec["now"]["ml_quantile_var_pct"][str(c)]
        assert q[(c, 1)].var == pytest.approx(pct / 100.0 * NAV, rel=1e-12)
        assert q[(c, 1)].var_pct == pytest.approx(pct / 100.0, rel=1e-12) and q[(c, 1)].es is None
        assert q[(c, 10)].status == "n/a" and "1 day ahead only" in q[(c, 10)].reason
    assert q[(0.999, 1)].status == "n/a" and "95% and 99% only" in q[(0.999, 1)].reason
    # backtests of both methods ride along for the ladder's zone column
    assert sorted((b.method, b.confidence) for b in parts.backtest) == [
        ("ml_quantile", 0.95), ("ml_quantile", 0.99), ("regime_scaled", 0.95),
        ("regime_scaled", 0.99)]


def test_regime_scaled_rows_match_the_mixture_closed_form(trained: svc.TrainedModels) -> None:
    """VaR = -(M + sqrt(V) z_a), ES = -M + sqrt(V) phi(z_a)/a from p P^i by hand (regime module
    doc), computed here independently of regime_var_es; exact to float rounding."""
    r, d = trained.returns_pct, trained.dates
    service = svc.MlService(settings(train_in_background=False), Series(r, d))
    service._models = trained  # what a load would set
    parts = service.snapshot_parts(portfolio(), market(), inputs_for(r, d), RISK)
    fit = trained.book.regime
    p = fit.filtered[-1]
    for h in (1, 10):
        m = v = 0.0
        q = p.copy()
        for _ in range(h):
            q = q @ fit.transition
            mi = float(q @ fit.mu)
            m += mi
            v += float(q @ (fit.sigma ** 2 + fit.mu ** 2)) - mi * mi
        for c in (0.95, 0.99, 0.999):
            a = 1 - c
            z = norm.ppf(a)
            row = next(x for x in parts.var if x.method == "regime_scaled"
                       and x.confidence == c and x.horizon_days == h)
            assert row.var == pytest.approx(-(m + math.sqrt(v) * z) / 100 * NAV, rel=1e-10)
            assert row.es == pytest.approx((-m + math.sqrt(v) * norm.pdf(z) / a) / 100 * NAV,
                                           rel=1e-10)
            assert row.es > row.var > 0
            if h == 1 and c in (0.95, 0.99):  # the pane's figure is the ladder's
                assert parts.section["now"]["regime_scaled_var_pct"][str(c)] == pytest.approx(
                    100 * row.var_pct, rel=1e-12)


def test_new_close_retrains_and_book_change_is_throttled() -> None:
    r, d = simulated_returns(N + 1), business_dates(N + 1)
    series = Series(r[:-1], d[:-1])
    mono = Clock()
    service = svc.MlService(settings(), series, clock=lambda: CLOCK, monotonic=mono)
    service.snapshot_parts(portfolio(), market(), inputs_for(r[:-1], d[:-1]), RISK)
    assert service.wait(120) and series.calls == 1
    # the book changed: numbers for the new book from the old models, marked stale; throttled
    mono.t += 60.0
    parts = service.snapshot_parts(portfolio(200.0), market(), inputs_for(r[:-1], d[:-1]), RISK)
    assert parts.section["stale"] and "book has changed" in parts.section["stale_reason"]
    assert not service.training and series.calls == 1
    assert all(v.status == "ok" for v in parts.var
               if v.method == "regime_scaled")  # still shown, with the stale flag in details
    assert all("stale" in v.details for v in parts.var if v.status == "ok")
    mono.t += 30 * 60.0
    service.snapshot_parts(portfolio(200.0), market(), inputs_for(r[:-1], d[:-1]), RISK)
    assert service.wait(120) and series.calls == 2
    # a new close for the same book retrains at once (no throttle)
    series.r, series.dates = r, d
    parts = service.snapshot_parts(portfolio(200.0), market(), inputs_for(r, d), RISK)
    assert parts.section["stale"] and "prices now run to 2020-12-31" in parts.section["stale_reason"]
    assert service.wait(120) and series.calls == 3
    parts = service.snapshot_parts(portfolio(200.0), market(), inputs_for(r, d), RISK)
    assert not parts.section["stale"] and parts.section["trained_through"] == "2020-12-31"


def test_data_too_short_is_na_not_an_alarm_and_is_retried() -> None:
    """A ValueError from the data (too short a history) is n/a with the reason in the pane and
    the rows; the status bar stays quiet; it is retried after the gap."""
    r, d = simulated_returns(), business_dates(N)
    series = Series(r, d, fail=ValueError("212 usable days: walk-forward evaluation needs at "
                                          "least 500 to train on, plus days to test"))
    mono = Clock()
    service = svc.MlService(settings(), series, monotonic=mono)
    service.snapshot_parts(portfolio(), market(), inputs_for(r, d), RISK)
    assert service.wait(30)
    parts = service.snapshot_parts(portfolio(), market(), inputs_for(r, d), RISK)
    assert parts.section["status"] == "not_trained" and parts.section["error"] is None
    assert parts.section["reason"] == ("ML n/a: 212 usable days: walk-forward evaluation needs "
                                       "at least 500 to train on, plus days to test")
    assert {v.reason for v in parts.var} == {parts.section["reason"]}
    assert service.status_line() is None and series.calls == 1
    mono.t += 30 * 60.0
    series.fail = None
    service.snapshot_parts(portfolio(), market(), inputs_for(r, d), RISK)
    assert service.wait(120) and series.calls == 2 and service.models is not None


def test_a_failed_training_is_shown_and_retried_after_the_gap() -> None:
    r, d = simulated_returns(), business_dates(N)
    series = Series(r, d, fail=RuntimeError("the book has 40 common days, fewer than 60"))
    mono = Clock()
    service = svc.MlService(settings(), series, monotonic=mono)
    service.snapshot_parts(portfolio(), market(), inputs_for(r, d), RISK)
    assert service.wait(30)
    parts = service.snapshot_parts(portfolio(), market(), inputs_for(r, d), RISK)
    assert parts.section["status"] == "failed" and "fewer than 60" in parts.section["error"]
    assert "Traceback" in parts.section["error_detail"]
    assert all(v.reason == "ML training failed: RuntimeError: the book has 40 common days, "
                           "fewer than 60" for v in parts.var)
    assert service.status_line() == ("ML training failed: RuntimeError: the book has 40 common "
                                     "days, fewer than 60")
    assert series.calls == 1  # not retried on every refresh
    mono.t += 30 * 60.0
    series.fail = None
    service.snapshot_parts(portfolio(), market(), inputs_for(r, d), RISK)
    assert service.wait(120) and series.calls == 2 and service.status_line() is None


def test_disabled_and_not_listed_methods() -> None:
    r, d = simulated_returns(), business_dates(N)
    off = svc.MlService(settings(enabled=False), Series(r, d))
    parts = off.snapshot_parts(portfolio(), market(), inputs_for(r, d), RISK)
    assert parts.section is None and parts.reason == svc.DISABLED
    assert {v.reason for v in parts.var} == {svc.DISABLED} and not off.training
    only_suite = RiskSettings(methods=METHODS)
    quiet = svc.MlService(settings(train_in_background=False), Series(r, d))
    parts = quiet.snapshot_parts(portfolio(), market(), inputs_for(r, d), only_suite)
    assert parts.var == () and parts.section["status"] == "not_trained"
    assert parts.section["reason"] == svc.NOT_TRAINED


# ------------------------------------------------------------------------------ persistence


def test_saved_models_load_in_a_one_shot_command_and_a_changed_setting_refits(
        tmp_path, trained: svc.TrainedModels) -> None:
    s = settings(model_dir=tmp_path, train_in_background=False)
    key = svc.book_key(portfolio())
    trained.book_key = key
    path = svc.save_models(trained, s)
    assert path == tmp_path / f"book-{key}.joblib" and (path.stat().st_mode & 0o777) == 0o600
    r, d = trained.returns_pct, trained.dates
    series = Series(r, d)
    loader = svc.MlService(s, series)
    parts = loader.snapshot_parts(portfolio(), market(), inputs_for(r, d), RISK)
    assert parts.section["status"] == "ready" and parts.section["source"] == f"loaded from {path}"
    assert series.calls == 0  # a one-shot command never trains
    # the loaded models give the numbers the trained ones give
    direct = svc.MlService(s, series)
    direct._models = trained
    again = direct.snapshot_parts(portfolio(), market(), inputs_for(r, d), RISK)
    assert [v.var for v in parts.var] == [v.var for v in again.var]
    # other settings (seed) or another feature list: not loaded, refitted, with the reason
    model, why = svc.load_models(settings(model_dir=tmp_path, seed=4), key, trained.features)
    assert model is None and "seed=3" in why and "seed=4" in why
    model, why = svc.load_models(s, key, trained.features + ("vix", "vix_chg_5"))
    assert model is None and "features" in why
    # a damaged file is a reason, not a crash
    path.write_bytes(b"not a joblib file")
    model, why = svc.load_models(s, key, trained.features)
    assert model is None and "cannot be read" in why


def test_background_training_saves_and_a_new_session_reuses(tmp_path) -> None:
    r, d = simulated_returns(), business_dates(N)
    first = svc.MlService(settings(model_dir=tmp_path), Series(r, d))
    first.snapshot_parts(portfolio(), market(), inputs_for(r, d), RISK)
    assert first.wait(120) and first.models.source == "trained"
    series = Series(r, d)
    second = svc.MlService(settings(model_dir=tmp_path), series)
    second.snapshot_parts(portfolio(), market(), inputs_for(r, d), RISK)
    assert second.wait(120)
    # loaded, found up to date: the series is read to check the date, nothing is retrained
    assert second.models.source.startswith("loaded from") and second.trainings == 0
    assert series.calls == 1


# ------------------------------------------------------------------------------ history


def test_record_writes_each_training_once(tmp_path, trained: svc.TrainedModels) -> None:
    from wsbrisk_tui.engine.history import HistoryStore

    service = svc.MlService(settings(), Series(trained.returns_pct, trained.dates))
    service._models = trained
    with HistoryStore(tmp_path / "h.sqlite3") as store:
        n_models = len(trained.book.vol[0].forecasts_var)
        # 5 models x 2 horizons of volatility, plus ml_quantile at 95% and 99%
        assert service.record(store) == (2 * n_models + 2, 0)
        assert service.record(store) is None
        rows = store.predictions("garch", "book_vol")
        assert [(x["as_of"], x["horizon_days"]) for x in rows] == [("2020-12-31", 1),
                                                                   ("2020-12-31", 5)]
        sigma = trained.book.vol[0].current_sigma_pct()["garch"]
        assert rows[0]["prediction"] == pytest.approx(sigma, rel=1e-12)


def test_pipeline_appends_ml_rows_after_the_suite(tmp_path) -> None:
    from wsbrisk_tui.runtime import demo_runtime

    rt = demo_runtime()
    snap = rt.compute(1)
    methods = list(dict.fromkeys(v.method for v in snap.var))
    assert methods == list(METHODS + ML_METHODS)
    assert snap.sections["ml"]["status"] == "not_trained"
    assert {v.reason for v in snap.var if v.method in ML_METHODS} == {svc.NOT_TRAINED}
    assert rt.ml_status() is None and not rt.ml_service().training


def test_book_key_depends_on_holdings_only() -> None:
    assert svc.book_key(portfolio()) == svc.book_key(portfolio())
    assert svc.book_key(portfolio()) != svc.book_key(portfolio(101.0))


def test_ml_evaluate_saves_and_report_uses_the_models(user_dirs, tmp_path, capsys) -> None:
    """`ml evaluate` trains with the config's [ml] settings and saves; `report` (which never
    trains) then shows regime_scaled and ml_quantile from the saved models. A short history
    keeps the training to seconds."""
    import json

    from wsbrisk_tui import cli

    cfg = tmp_path / "config.toml"
    cfg.write_text("[ml]\nhistory_days = 800\nrefit_days = 250\nposition_refit_days = 250\n"
                   "position_test_days = 200\n", encoding="utf-8")
    assert cli.main(["ml", "evaluate", "--demo", "--config", str(cfg), "--format", "json"]) == 0
    out, err = capsys.readouterr()
    section = json.loads(out)
    assert section["n_returns"] == 800 and section["rates_feature"] and section["vix_feature"]
    assert section["models"].startswith("saved to ") and "ml: trained in" in err
    # per position at 1 and 5 days: every underlying but the VIX factor
    assert "VIX" not in section["assets"] and set(section["assets"]) == set(section["assets_5d"])
    # the saved file keeps the book's fits (inference) but not the per-position ones
    import joblib

    saved = joblib.load(section["models"].removeprefix("saved to ").split(";")[0])["model"]
    assert set(saved.book.vol[0].fitted) == {"garch", "random_forest", "gradient_boosting", "mlp"}
    per = [ev for h in saved.assets.values() for ev in h.values() if not isinstance(ev, str)]
    evaluated = [a for h in ("assets", "assets_5d") for a in section[h].values()
                 if "reason" not in a]
    assert len(per) == len(evaluated) > 0 and all(ev.fitted == {} for ev in per)
    assert cli.main(["report", "--demo", "--config", str(cfg), "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    ml = report["ml"]  # sections are top-level keys of the report
    assert ml["status"] == "ready" and ml["source"].startswith("loaded from")
    rows = {(v["method"], v["confidence"], v["horizon_days"]): v for v in report["var"]}
    q99 = rows[("ml_quantile", 0.99, 1)]
    assert q99["status"] == "ok"
    assert q99["var_pct"] == pytest.approx(ml["now"]["ml_quantile_var_pct"]["0.99"] / 100, rel=1e-12)
    assert rows[("regime_scaled", 0.99, 10)]["status"] == "ok"
    # a flag that differs from the config trains but does not overwrite the saved models
    assert cli.main(["ml", "evaluate", "--demo", "--config", str(cfg), "--format", "json",
                     "--regimes", "3", "--no-per-asset"]) == 0
    assert json.loads(capsys.readouterr().out)["models"].startswith("not saved: trained with flags")


def test_daemon_logs_each_ml_change_once(caplog) -> None:
    import logging

    from wsbrisk_tui.commands.daemon import _log_ml

    log = logging.getLogger("wsbrisk-test-ml")
    seen: dict = {}
    training = {"status": "training", "training": {"started_at": "2026-11-24T14:00:00+00:00",
                                                   "steps": 36}}
    ready = {"status": "ready", "trained_at": "2026-11-24T14:01:00+00:00", "source": "trained",
             "trained_through": "2020-12-31", "train_seconds": 46.2,
             "book": {"volatility": [{"verdict": "GARCH is not beaten out of sample (1-day)"}]}}
    failed = {**ready, "error": "ValueError: boom", "error_detail": "Traceback ..."}
    with caplog.at_level(logging.INFO, logger="wsbrisk-test-ml"):
        for sec in (training, training, ready, ready, failed, failed, None):
            _log_ml(log, sec, seen)
    assert [r.getMessage().splitlines()[0] for r in caplog.records] == [
        "ML training started (36 steps)",
        "ML models trained, trained through 2020-12-31 in 46.2 s: GARCH is not beaten out of "
        "sample (1-day)",
        "ML training failed: ValueError: boom"]


def test_recording_runtime_records_ml_predictions_after_the_snapshot(tmp_path) -> None:
    from wsbrisk_tui.attach import RecordingRuntime
    from wsbrisk_tui.engine.history import HistoryStore
    from wsbrisk_tui.runtime import demo_runtime

    rt = demo_runtime()
    calls = []
    rt.record_ml = lambda store: calls.append(store)  # what the service does, observed
    with HistoryStore(tmp_path / "h.sqlite3") as store:
        rec = RecordingRuntime(rt, store, None)
        rec.compute(1)
        assert calls == [store] and rec.last_refresh_id == 1
        RecordingRuntime(rt, store, None, record=False).compute(2)
        assert len(calls) == 1  # a viewer that does not record does not record predictions


def test_deferred_start_trains_only_after_the_refresh() -> None:
    """The runtime's service starts a due training after the snapshot is built (a training
    started mid-refresh slowed the dashboard's first full snapshot by ~1 s); the snapshot
    already says training."""
    r, d = simulated_returns(), business_dates(N)
    series = Series(r, d)
    service = svc.MlService(settings(), series, defer_start=True)
    parts = service.snapshot_parts(portfolio(), market(), inputs_for(r, d), RISK)
    assert parts.section["status"] == "training" and service.training
    assert series.calls == 0 and service.status_line().startswith("ML training 0/1")
    assert not service.wait(0.01)  # scheduled, not started: nothing to wait for yet
    service.start_pending()
    assert service.wait(120) and series.calls == 1 and service.trainings == 1
    service.start_pending()  # nothing pending: no second start
    assert service.trainings == 1 and not service.training
