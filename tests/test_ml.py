"""ML volatility forecasts and ml_quantile VaR (issue 8): features, walk-forward, losses, DM test,
persistence and the history record. Offline, seeded, small data (1,500 days, refit every 126)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from wsbrisk_tui.engine import ml
from wsbrisk_tui.engine.ml_features import (
    BASE_FEATURES,
    VIX_FEATURES,
    build_features,
    next_return_target,
    realised_vol_target,
)


def simulate_garch(n: int, rng: np.random.Generator, omega: float = 0.05, alpha: float = 0.10,
                   beta: float = 0.85) -> np.ndarray:
    """GARCH(1,1) returns in percent with normal innovations, started at the long-run variance."""
    r = np.empty(n)
    s2 = omega / (1.0 - alpha - beta)
    for t in range(n):
        r[t] = math.sqrt(s2) * rng.standard_normal()
        s2 = omega + alpha * r[t] ** 2 + beta * s2
    return r


@pytest.fixture(scope="module")
def garch_series() -> np.ndarray:
    return simulate_garch(1500, np.random.default_rng(11))


@pytest.fixture(scope="module")
def garch_eval(garch_series: np.ndarray) -> ml.VolEvaluation:
    return ml.evaluate_volatility(garch_series, horizon_days=1, refit_every=126, seed=3)


# ------------------------------------------------------------------------------ features


def test_features_match_hand_computation() -> None:
    rng = np.random.default_rng(1)
    r = rng.standard_normal(200)
    vix = 20 + rng.standard_normal(200)
    fs = build_features(r, vix)
    assert fs.names == BASE_FEATURES + VIX_FEATURES
    t = 150
    col = {name: fs.X[t, i] for i, name in enumerate(fs.names)}
    # exact up to float rounding of a mean of 5-66 squares
    assert col["rv_5"] == pytest.approx(math.sqrt(np.mean(r[t - 4:t + 1] ** 2)), rel=1e-12)
    assert col["rv_66"] == pytest.approx(math.sqrt(np.mean(r[t - 65:t + 1] ** 2)), rel=1e-12)
    assert col["abs_r_1"] == abs(r[t]) and col["abs_r_5"] == abs(r[t - 4])
    assert col["vix"] == vix[t] and col["vix_chg_5"] == pytest.approx(vix[t] - vix[t - 5])
    # the first 65 rows lack a 66-day window: invalid, not filled
    assert not fs.valid[:65].any() and fs.valid[65:].all() and fs.n_invalid == 65
    y5 = realised_vol_target(r, 5)
    assert y5[t] == pytest.approx(math.sqrt(np.mean(r[t + 1:t + 6] ** 2)), rel=1e-12)
    assert np.isnan(y5[-5:]).all() and np.isfinite(y5[-6])
    assert realised_vol_target(r, 1)[t] == pytest.approx(abs(r[t + 1]))
    assert next_return_target(r)[t] == r[t + 1] and np.isnan(next_return_target(r)[-1])


def test_features_use_no_data_after_t() -> None:
    """Altering every return and VIX level after t leaves the features at and before t unchanged
    (bit for bit), while the features after t do change: the test can see a leak."""
    rng = np.random.default_rng(2)
    r = rng.standard_normal(400)
    vix = 20 + rng.standard_normal(400)
    t = 250
    r2, vix2 = r.copy(), vix.copy()
    r2[t + 1:] = rng.standard_normal(400 - t - 1) * 5
    vix2[t + 1:] += 7
    a, b = build_features(r, vix), build_features(r2, vix2)
    np.testing.assert_array_equal(a.X[:t + 1], b.X[:t + 1])
    assert not np.array_equal(a.X[t + 1], b.X[t + 1])


def test_vix_gap_makes_row_invalid_not_filled() -> None:
    r = np.random.default_rng(3).standard_normal(120)
    vix = np.full(120, 20.0)
    vix[100] = np.nan
    fs = build_features(r, vix)
    # the gap invalidates its own row and the 5-day change that reaches back to it
    assert not fs.valid[100] and not fs.valid[105] and fs.valid[101] and fs.valid[106]


def test_rates_feature_is_the_tlt_implied_yield_change_and_looks_back_only() -> None:
    """rates_chg_5 = -(1e4 / 17) ln(TLT_t / TLT_{t-5}) bp: a 17-year duration bond losing 1.7%
    over 5 days is a ~10 bp rise in its yield (first order). No value after t is used."""
    from wsbrisk_tui.engine.ml_features import RATES_FEATURES, TLT_DURATION_YEARS
    from wsbrisk_tui.engine.stress import RATES_DURATION_YEARS

    assert TLT_DURATION_YEARS == RATES_DURATION_YEARS  # one duration for stress and features
    rng = np.random.default_rng(9)
    r = rng.standard_normal(120)
    tlt = 140.0 * np.exp(np.cumsum(rng.normal(0, 0.008, 120)))
    tlt[80] = tlt[75] * (1 - 0.017)
    fs = build_features(r, None, tlt)
    assert fs.names == BASE_FEATURES + RATES_FEATURES
    col = fs.names.index("rates_chg_5")
    assert fs.X[80, col] == pytest.approx(-1e4 / 17.0 * math.log(1 - 0.017), rel=1e-12)
    assert fs.X[80, col] == pytest.approx(10.08, abs=0.01)
    later = tlt.copy()
    later[81:] *= 1.3
    np.testing.assert_array_equal(build_features(r, None, later).X[:81], fs.X[:81])
    gap = tlt.copy()
    gap[90] = np.nan
    g = build_features(r, None, gap)
    assert not g.valid[90] and not g.valid[95] and g.valid[96]  # never filled
    with pytest.raises(ValueError, match="positive prices"):
        build_features(r, None, -tlt)


def test_refresh_latest_on_a_shorter_window_filters_regimes_by_date(garch_series) -> None:
    """A refresh's series is the VaR window (shorter than the training's) and may run past the
    training's last date: the regime filter runs over the dates after it, and the forecasts are
    those of the full series (EWMA/GARCH filters forget their start; features look back 66d)."""
    from wsbrisk_tui.engine.regime import hamilton_step

    r = garch_series
    dates = np.arange(np.datetime64("2015-01-01"), np.datetime64("2015-01-01") + r.size)
    book = ml.evaluate_book(r[:-3], dates[:-3], seed=2, refit_every=400, horizons=(1,))
    full = ml.refresh_latest(book, r, dates=dates)
    window = ml.refresh_latest(book, r[-1000:], dates=dates[-1000:])
    fit = book.regime
    prob = fit.filtered[-1]
    for x in r[-3:]:
        prob = hamilton_step(prob, float(x), fit.mu, fit.sigma, fit.transition)
    expected = dict(zip(fit.labels, prob))
    for out in (full, window):
        assert out["regime"] == pytest.approx(expected, rel=1e-12)
    for m in ("ewma", "garch", "mlp"):
        assert window["volatility"][1]["sigma_pct"][m] == pytest.approx(
            full["volatility"][1]["sigma_pct"][m], rel=1e-9)
    with pytest.raises(ValueError, match="dates for"):
        ml.refresh_latest(book, r, dates=dates[:-1])


# ------------------------------------------------------------------------------ losses and DM


def test_losses_closed_form() -> None:
    # QLIKE is 0 for a perfect forecast; s/f = 2: 2 - ln 2 - 1
    assert ml.qlike(np.array([1.5]), np.array([1.5]))[0] == pytest.approx(0.0, abs=1e-15)
    assert ml.qlike(np.array([1.0]), np.array([2.0]))[0] == pytest.approx(1.0 - math.log(2.0))
    assert ml.mse(np.array([1.0]), np.array([3.0]))[0] == 4.0


def test_diebold_mariano_against_hand_computation() -> None:
    a = np.array([1.0, 0.4, 2.0, 0.9, 1.7, 0.2, 1.5, 1.1])
    b = np.array([0.0, 0.9, 0.0, 0.6, 1.0, 1.4, 0.6, 0.0])
    d = a - b  # 1.0 -0.5 2.0 0.3 0.7 -1.2 0.9 1.1
    T = 8
    dbar = sum(d) / T
    g0 = sum((x - dbar) ** 2 for x in d) / T
    g1 = sum((d[t] - dbar) * (d[t - 1] - dbar) for t in range(1, T)) / T
    from scipy.stats import t as student_t

    # h = 1: no lags, HLN factor sqrt((T - 1) / T)
    dm1 = dbar / math.sqrt(g0 / T) * math.sqrt((T + 1 - 2) / T)
    stat, p = ml.diebold_mariano(a, b, 1)
    assert stat == pytest.approx(dm1, rel=1e-12)
    assert p == pytest.approx(2 * student_t.sf(abs(dm1), T - 1), rel=1e-12)
    # h = 2: one Bartlett lag with weight 1/2; HLN factor sqrt((T + 1 - 4 + 2 / T) / T)
    dm2 = dbar / math.sqrt((g0 + 2 * 0.5 * g1) / T) * math.sqrt((T + 1 - 4 + 2 / T) / T)
    stat2, p2 = ml.diebold_mariano(a, b, 2)
    assert stat2 == pytest.approx(dm2, rel=1e-12)
    assert p2 == pytest.approx(2 * student_t.sf(abs(dm2), T - 1), rel=1e-12)
    # identical losses: no test, not a number pretending to be one
    assert all(math.isnan(x) for x in ml.diebold_mariano(a, a))


# ------------------------------------------------------------------------------ walk-forward


def test_walk_forward_uses_no_data_after_the_origin() -> None:
    """Forecasts made at origins <= T are unchanged when every return after T is replaced."""
    rng = np.random.default_rng(5)
    r = simulate_garch(900, rng)
    T = 700
    r2 = r.copy()
    r2[T + 1:] = simulate_garch(900 - T - 1, np.random.default_rng(99)) * 3
    kw = dict(horizon_days=5, refit_every=150, min_train=300, seed=1,
              models=("ewma", "garch", "gradient_boosting"))
    a, b = ml.evaluate_volatility(r, **kw), ml.evaluate_volatility(r2, **kw)
    for m in kw["models"]:
        np.testing.assert_array_equal(a.forecasts_var[m][:T + 1], b.forecasts_var[m][:T + 1])
        assert np.isfinite(a.forecasts_var[m][T])
        assert not np.allclose(a.forecasts_var[m][T + 1:], b.forecasts_var[m][T + 1:])
    qa = ml.ml_quantile(r, refit_every=150, min_train=300, seed=1, confidences=(0.95,))
    qb = ml.ml_quantile(r2, refit_every=150, min_train=300, seed=1, confidences=(0.95,))
    np.testing.assert_array_equal(qa.forecasts_pct[:T + 1], qb.forecasts_pct[:T + 1])


def test_same_seed_same_numbers_other_seed_differs() -> None:
    r = simulate_garch(1000, np.random.default_rng(6))
    kw = dict(horizon_days=1, refit_every=250, min_train=400)
    a = ml.evaluate_volatility(r, seed=7, **kw)
    b = ml.evaluate_volatility(r, seed=7, **kw)
    c = ml.evaluate_volatility(r, seed=8, models=("garch", "random_forest"), **kw)
    for m in ml.VOL_MODELS:
        np.testing.assert_array_equal(a.forecasts_var[m], b.forecasts_var[m])
    assert a.table() == b.table()
    assert not np.array_equal(a.forecasts_var["random_forest"], c.forecasts_var["random_forest"])


def test_garch_is_not_beaten_on_garch_data(garch_eval: ml.VolEvaluation) -> None:
    """On data simulated from GARCH(1,1) no model beats the GARCH baseline: each has a higher
    QLIKE or a DM p-value above 5% (an honest evaluation)."""
    garch = garch_eval.score("garch")
    for s in garch_eval.scores:
        if s.model == "garch":
            continue
        assert s.loss_qlike >= garch.loss_qlike or (s.dm_p is not None and s.dm_p > 0.05), s
    assert garch_eval.verdict().startswith("GARCH is not beaten out of sample")
    # 1,500 days, first origin after 500 training rows + 65 warm-up days + 1
    assert garch.n_forecasts == 1500 - 566 and garch.window == "expanding"
    assert all(s.n_forecasts == garch.n_forecasts for s in garch_eval.scores)


def test_table_and_current_forecasts(garch_eval: ml.VolEvaluation, garch_series: np.ndarray) -> None:
    rows = garch_eval.table()
    assert [r["model"] for r in rows] == list(ml.VOL_MODELS)
    assert set(rows[0]) == {"model", "horizon_days", "loss_qlike", "loss_mse", "recent_qlike",
                            "dm_stat", "dm_p", "window", "n_forecasts"}
    g = next(r for r in rows if r["model"] == "garch")
    assert g["dm_stat"] is None and g["dm_p"] is None
    # the table's QLIKE is the mean of Patton's loss over the scored days (independent recompute)
    f, y, sc = garch_eval.forecasts_var["garch"], garch_eval.realised_var, garch_eval.scored
    ratio = y[sc] / f[sc]
    assert g["loss_qlike"] == pytest.approx(float(np.mean(ratio - np.log(ratio) - 1)), rel=1e-12)
    cur = garch_eval.current_sigma_pct()
    assert set(cur) == set(ml.VOL_MODELS) and all(v is not None and v > 0 for v in cur.values())
    # EWMA today is the RiskMetrics recursion over the whole series
    s = float(np.mean(garch_series[:22] ** 2))
    for x in garch_series[22:]:
        s = 0.94 * s + 0.06 * x * x
    assert cur["ewma"] == pytest.approx(math.sqrt(s), rel=1e-12)
    assert garch_eval.best() in ml.VOL_MODELS
    # per-refresh inference with the last fits reproduces the walk-forward's last forecasts
    # (GARCH: refiltered from the backcast vs filtered on since the last refit, 1e-6)
    latest = ml.predict_latest(garch_eval, garch_series)
    for m in ("ewma", "random_forest", "gradient_boosting", "mlp"):
        assert latest[m] == pytest.approx(cur[m], rel=1e-12)
    assert latest["garch"] == pytest.approx(cur["garch"], rel=1e-6)
    # the forest's fast path gives sklearn's own prediction (to float rounding of the tree mean)
    rf = garch_eval.fitted["random_forest"]
    X = build_features(garch_series).X[-50:]
    expected = np.exp(np.clip(rf.regressor.predict(X), rf.log_min, rf.log_max)) * rf.scale
    np.testing.assert_allclose(rf.predict(X), expected, rtol=1e-12)


def test_fast_predict_paths_equal_sklearn_predict(garch_eval: ml.VolEvaluation,
                                                  garch_series: np.ndarray) -> None:
    """One-row predictions (the refresh's) by the fast paths equal ``predict`` of the fitted
    forest, boosting model, MLP pipeline and quantile model: the same arithmetic, so equal to
    float rounding (1e-12 relative), row by row over 40 days, NaN features included."""
    from wsbrisk_tui.engine import ml_predict

    X = build_features(garch_series).X[-40:]
    q = ml.ml_quantile(garch_series, refit_every=400, seed=2).fitted[0.99]
    models = {m: garch_eval.fitted[m].regressor for m in ("random_forest", "gradient_boosting",
                                                          "mlp")}
    models["quantile"] = q
    for name, model in models.items():
        for i in range(X.shape[0]):
            row = X[i:i + 1]
            fast = ml_predict.fast_predict(model, row)
            assert fast == pytest.approx(np.asarray(model.predict(row), dtype=float),
                                         rel=1e-12, abs=1e-15), name
    # a missing feature goes the way each boosting tree was told (sklearn's missing_go_to_left)
    gb = models["gradient_boosting"]
    holey = X[:3].copy()
    holey[:, 0] = np.nan
    np.testing.assert_allclose(ml_predict.hgb_predict(gb, holey), gb.predict(holey), rtol=1e-12)
    # many rows go to sklearn's own vectorised predict
    np.testing.assert_array_equal(ml_predict.fast_predict(gb, X), gb.predict(X))


def test_ml_quantile_coverage_on_iid_student_t() -> None:
    """i.i.d. Student t (5 df) returns: the exceptions of the walk-forward quantile forecasts lie
    in the Kupiec acceptance region (p > 0.05) and today's VaR is near the true quantile."""
    from scipy.stats import t as student_t

    x = np.random.default_rng(4).standard_t(5, size=1500)
    q = ml.ml_quantile(x, refit_every=126, seed=1)
    assert [b.confidence for b in q.backtests] == [0.95, 0.99]
    for b in q.backtests:
        assert b.status != "n/a" and b.observations == 1500 - 566
        assert b.kupiec_p > 0.05, (b.confidence, b.exceptions)
    # today's VaR is the EWMA sigma known today times the learnt quantile of scaled returns
    s_today = math.sqrt(ml.ewma_forecasts(x)[-1])
    X_today = build_features(x).X[-1:]
    for c in (0.95, 0.99):
        assert q.var_pct[c] == pytest.approx(-s_today * q.fitted[c].predict(X_today)[0], rel=1e-12)
        assert ml.quantile_latest(q, x)[c] == pytest.approx(q.var_pct[c], rel=1e-12)
        # 25%: the EWMA sigma (~30 effective days) of t(5) data is off by ~15%, and the 1%
        # quantile of ~1,400 scaled draws by ~10%
        assert q.var_pct[c] == pytest.approx(-student_t.ppf(1 - c, 5), rel=0.25)


def test_cli_ml_evaluate_json(monkeypatch, capsys) -> None:
    """``wsbrisk-tui ml evaluate --demo --format json`` through the real CLI (the lead adds the
    COMMANDS entry; the test adds it for the run)."""
    import json

    from wsbrisk_tui import cli

    monkeypatch.setitem(cli.COMMANDS, "ml", "ml")
    code = cli.main(["ml", "evaluate", "--demo", "--format", "json", "--refit-every", "252",
                     "--no-per-asset"])
    out, err = capsys.readouterr()
    assert code == 0
    data = json.loads(out)
    assert [v["horizon_days"] for v in data["volatility"]] == [1, 5]
    for v in data["volatility"]:
        assert [r["model"] for r in v["table"]] == list(ml.VOL_MODELS)
        assert v["verdict"] and v["best"] in ml.VOL_MODELS
    assert set(data["regime"]["current"]) == {"calm", "crisis"}
    assert [b["method"] for b in data["ml_quantile"]["backtests"]] == ["ml_quantile"] * 2
    assert [b["method"] for b in data["regime_scaled"]["backtests"]] == ["regime_scaled"] * 2
    # one progress line per model and horizon, plus regimes and quantiles, on stderr
    assert err.count("ml: garch") == 2 and "ml: ml_quantile 99%" in err
    text_code = cli.main(["ml", "evaluate", "--demo", "--refit-every", "252", "--regimes", "2",
                          "--no-per-asset"])
    text = capsys.readouterr().out
    assert text_code == 0 and "verdict:" in text and "regime now:" in text


# ------------------------------------------------------------------------------ persistence


def test_save_and_load_model_with_meta(tmp_path, garch_eval: ml.VolEvaluation) -> None:
    model = garch_eval.fitted["gradient_boosting"]
    meta = ml.model_meta(garch_eval.feature_names, horizon_days=1)
    path = tmp_path / "models" / "gb.joblib"
    ml.save_model(path, model, meta)
    loaded, reason = ml.load_model(path, meta)
    assert reason is None
    X = build_features(np.random.default_rng(0).standard_normal(100)).X[-3:]
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    other = dict(meta, sklearn="0.0.1")
    loaded, reason = ml.load_model(path, other)
    assert loaded is None and "sklearn" in reason and "refitting" in reason
    loaded, reason = ml.load_model(path, dict(meta, features=meta["features"] + ["vix"]))
    assert loaded is None and "features" in reason
    loaded, reason = ml.load_model(tmp_path / "missing.joblib", meta)
    assert loaded is None and "no saved model" in reason
    (tmp_path / "bad.joblib").write_bytes(b"not a pickle")
    loaded, reason = ml.load_model(tmp_path / "bad.joblib", meta)
    assert loaded is None and "cannot be read" in reason


def test_record_forecasts_and_fill_realised(tmp_path, garch_series: np.ndarray,
                                            garch_eval: ml.VolEvaluation) -> None:
    from wsbrisk_tui.engine.history import HistoryStore

    n = garch_series.size
    dates = np.arange(np.datetime64("2020-01-01"), np.datetime64("2020-01-01") + n)
    # yesterday's run: the same series without its last day
    early = ml.evaluate_volatility(garch_series[:-1], horizon_days=1, refit_every=126, seed=3,
                                   models=("ewma", "garch"))
    with HistoryStore(tmp_path / "h.sqlite") as store:
        assert ml.record_forecasts(store, early, dates[:-1]) == (2, 0)
        rows = store.predictions("garch", "book_vol")
        assert len(rows) == 1 and rows[0]["realised"] is None
        assert rows[0]["as_of"] == str(dates[-2])
        assert rows[0]["prediction"] == pytest.approx(early.current_sigma_pct()["garch"])
        # today's run: records today's forecasts and fills yesterday's realised |r_T|
        recorded, filled = ml.record_forecasts(store, garch_eval, dates)
        assert recorded == len(ml.VOL_MODELS) and filled == 2
        rows = store.predictions("garch", "book_vol")
        assert [r["as_of"] for r in rows] == [str(dates[-2]), str(dates[-1])]
        assert rows[0]["realised"] == pytest.approx(abs(garch_series[-1]), rel=1e-12)
        assert rows[1]["realised"] is None


def test_evaluate_book_and_refresh_latest(garch_series: np.ndarray) -> None:
    """The book section trains everything once; a refresh re-uses the fits: on the training
    series it reproduces the section's current numbers, and one new day moves the regime
    probabilities by one Hamilton filter step."""
    from wsbrisk_tui.engine.regime import hamilton_step

    r = garch_series[:-1]
    dates = np.arange(np.datetime64("2019-01-01"), np.datetime64("2019-01-01") + r.size)
    book = ml.evaluate_book(r, dates, seed=2, refit_every=252)
    assert [v.horizon_days for v in book.vol] == [1, 5] and not book.vix_used
    assert any("no VIX" in n for n in book.notes)
    same = ml.refresh_latest(book, r)
    for v in book.vol:
        got = same["volatility"][v.horizon_days]
        assert got["best"] == v.best()
        for m, sig in v.current_sigma_pct().items():
            assert got["sigma_pct"][m] == pytest.approx(sig, rel=1e-6)  # GARCH refiltered
    for c, var in book.quantile.var_pct.items():
        assert same["ml_quantile_var_pct"][c] == pytest.approx(var, rel=1e-12)
    assert list(same["regime"].values()) == pytest.approx(list(book.regime.current.values()))
    nxt = ml.refresh_latest(book, garch_series)
    fit = book.regime
    step = hamilton_step(fit.filtered[-1], float(garch_series[-1]), fit.mu, fit.sigma,
                         fit.transition)
    assert list(nxt["regime"].values()) == pytest.approx(list(step), rel=1e-12)
    with pytest.raises(ValueError, match="retrain"):
        ml.refresh_latest(book, r[:-1])


def test_regime_failure_leaves_the_rest_of_the_section(monkeypatch, garch_series: np.ndarray) -> None:
    """A regime model that cannot be fitted makes only the regime part n/a, with the reason."""
    from wsbrisk_tui.commands.ml import render_text
    from wsbrisk_tui.engine import regime

    def singular(r: np.ndarray, k: int = 2) -> regime.RegimeFit:
        raise np.linalg.LinAlgError("Singular matrix")

    monkeypatch.setattr(regime, "fit_regimes", singular)
    r = garch_series[:900]
    dates = np.arange(np.datetime64("2019-01-01"), np.datetime64("2019-01-01") + r.size)
    book = ml.evaluate_book(r, dates, seed=2, refit_every=400, horizons=(1,))
    assert book.regime is None and book.regime_backtests == []
    assert book.regime_var_pct == {0.95: None, 0.99: None}
    assert book.regime_reason == "regime model n/a: Singular matrix"
    section = book.to_dict()
    text = render_text(section, "header")
    assert "regime now: n/a (regime model n/a: Singular matrix)" in text
    assert "regime_scaled 1-day VaR: 95% n/a, 99% n/a (regime model n/a: Singular matrix)" in text
    assert "n/a%" not in text
    assert ml.refresh_latest(book, r)["regime"] is None
    # the per-asset table: one line per underlying, the reason where there is no evaluation
    section["assets"] = {"AAA": book.vol[0].to_dict(), "BBB": {"reason": "n/a: too short"}}
    lines = render_text(section, "header").splitlines()
    aaa = next(line for line in lines if line.startswith("  AAA"))
    assert book.vol[0].best() in aaa and book.vol[0].verdict() in aaa
    assert "  BBB        n/a: too short" in lines
    assert section["ml_quantile"]["var_pct"]["0.99"] is not None


def test_record_quantiles(tmp_path) -> None:
    from wsbrisk_tui.engine.history import HistoryStore

    x = np.random.default_rng(9).standard_t(5, size=800)
    dates = np.arange(np.datetime64("2021-03-01"), np.datetime64("2021-03-01") + x.size)
    kw = dict(refit_every=400, min_train=300, seed=1)
    early = ml.ml_quantile(x[:-1], **kw)
    with HistoryStore(tmp_path / "h.sqlite") as store:
        assert ml.record_quantiles(store, early, x[:-1], dates[:-1]) == (2, 0)
        today = ml.ml_quantile(x, **kw)
        assert ml.record_quantiles(store, today, x, dates) == (2, 2)
        rows = store.predictions("ml_quantile_99", "book_var")
        assert [r["as_of"] for r in rows] == [str(dates[-2]), str(dates[-1])]
        assert rows[0]["prediction"] == pytest.approx(early.var_pct[0.99])
        assert rows[0]["realised"] == pytest.approx(x[-1]) and rows[1]["realised"] is None


def test_rolling_window_trains_on_the_last_rows_only() -> None:
    ok = np.ones(100, dtype=bool)
    ok[:10] = False
    sched = ml.make_schedule(ok, horizon_days=5, refit_every=20, min_train=30, window=30)
    # 30 usable rows are first reached at row 39; its target is observed 5 days later
    # refits at the first origin, then every 20 days counted back from the last date (99), so
    # today's forecast comes from a fit on every observed target
    assert sched.first_origin == 44 and sched.refits == (44, 59, 79, 99)
    np.testing.assert_array_equal(sched.train_rows(64, ok), np.arange(30, 60))
    np.testing.assert_array_equal(sched.train_rows(99, ok), np.arange(65, 95))
    expanding = ml.make_schedule(ok, horizon_days=5, refit_every=20, min_train=30, window=None)
    np.testing.assert_array_equal(expanding.train_rows(64, ok), np.arange(10, 60))
    assert sched.blocks(100) == [(44, 59), (59, 79), (79, 99), (99, 100)]
    r = simulate_garch(900, np.random.default_rng(3))
    ev = ml.evaluate_volatility(r, horizon_days=1, refit_every=300, min_train=300, window=400,
                                seed=1, models=("garch", "gradient_boosting"))
    assert ev.window == "rolling 400d" and ev.table()[0]["window"] == "rolling 400d"


def test_evaluate_assets_per_underlying() -> None:
    rng = np.random.default_rng(12)
    a = simulate_garch(800, rng) / 100.0  # simple returns, as RiskInputs holds them
    R = np.column_stack([a, 20 + rng.standard_normal(800), a[::-1]])
    out = ml.evaluate_assets(R[:300], ("AAA", "VIX", "BBB"), min_train=300)
    assert set(out) == {"AAA", "BBB"}  # the VIX factor is a feature, not a holding
    assert all(isinstance(v, str) and v.startswith("n/a: ") for v in out.values())  # too short
    out = ml.evaluate_assets(R, ("AAA", "VIX", "BBB"), min_train=300, refit_every=300, seed=4)
    direct = ml.evaluate_volatility(100.0 * a, min_train=300, refit_every=300, seed=4)
    assert out["AAA"].table() == direct.table()
    with pytest.raises(ValueError, match="one column per asset"):
        ml.evaluate_assets(R, ("AAA",))


def test_a_failed_garch_refit_keeps_the_previous_parameters(monkeypatch, garch_series) -> None:
    """A refit whose optimiser fails (e.g. alpha + beta at 1) keeps the last estimated
    parameters and filters on (with a note), instead of leaving the block without forecasts;
    the forecasts equal those of a schedule that never refitted there."""
    from dataclasses import replace

    from wsbrisk_tui.engine import volatility

    r = garch_series[:900]
    ok = np.ones(r.size, dtype=bool)
    sched = ml.make_schedule(ok, 1, 200, 300, None)
    real = volatility.fit_garch
    assert sched.refits[:3] == (300, 499, 699)

    def failing(x, dist, starting_values=None):
        fit = real(x, dist, starting_values=starting_values)
        return replace(fit, converged=False, reason="persistence at 1") if x.size == 500 else fit

    monkeypatch.setattr(volatility, "fit_garch", failing)
    notes: list[str] = []
    f, _ = ml.garch_forecasts(r, sched, notes)
    assert notes == ["garch: refit at origin 499 failed (persistence at 1); the previous "
                     "parameters are kept until the next refit"]
    assert np.isfinite(f[300:]).all()
    monkeypatch.setattr(volatility, "fit_garch", real)
    merged = ml.Schedule(refits=(300, 699, 899), first_origin=300, refit_every=200, window=None,
                         horizon_days=1)
    g, _ = ml.garch_forecasts(r, merged, [])
    np.testing.assert_allclose(f[300:], g[300:], rtol=1e-12)
