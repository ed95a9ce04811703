"""Prediction of a few rows by the fitted scikit-learn models, without sklearn's per-call cost.

Why: a refresh predicts ONE row (today's features) with ~9 models, and the per-refresh
inference budget is 10 ms. ``estimator.predict`` spends most of its time on input validation
and thread-pool set-up, not on the model: one row costs ~9 ms for a 50-tree random forest,
~1.5 ms for a 100-iteration histogram gradient boosting model and ~1.5 ms for the MLP pipeline.
The functions here compute the same numbers from the fitted attributes:

* random forest: the mean of the trees' ``tree_.predict`` (sklearn's own order of summation);
* histogram gradient boosting: the baseline plus each tree's leaf value, all trees traversed at
  once level by level on stacked node arrays (a sample goes left when x <= threshold, and a
  missing value where the tree says, as ``TreePredictor.predict`` does);
* the MLP pipeline of :func:`wsbrisk_tui.engine.ml.make_regressor`: signed log, standardising,
  one ReLU layer, identity output, then the target scaler's inverse.

:func:`fast_predict` dispatches on the model and uses ``model.predict`` for anything else. A test
checks each path against ``predict`` on fitted models; the saved-model meta carries the
scikit-learn version, so a model from another version is refitted, never read with these paths.
"""

from __future__ import annotations

import weakref
from typing import Any

import numpy as np

_HGB_CACHE: "weakref.WeakKeyDictionary[Any, tuple[np.ndarray, ...]]" = weakref.WeakKeyDictionary()


#: Up to this many rows the fast paths run; more (the walk-forward's blocks) go to sklearn's own
#: vectorised predict, whose fixed cost is then small per row.
FAST_MAX_ROWS = 8


def fast_predict(model: Any, X: np.ndarray) -> np.ndarray:
    """``model.predict(X)`` as a float array (n,), by the fast path where there is one."""
    from sklearn.ensemble import HistGradientBoostingRegressor, RandomForestRegressor
    from sklearn.pipeline import Pipeline

    if np.shape(X)[0] > FAST_MAX_ROWS and not isinstance(model, RandomForestRegressor):
        return np.asarray(model.predict(X), dtype=float)
    if isinstance(model, RandomForestRegressor):
        return forest_predict(model, X)
    if isinstance(model, HistGradientBoostingRegressor) and model.is_categorical_ is None:
        return hgb_predict(model, X)
    if isinstance(model, Pipeline) and _is_mlp_pipeline(model):
        return mlp_pipeline_predict(model, X)
    return np.asarray(model.predict(X), dtype=float)


def forest_predict(forest: Any, X: np.ndarray) -> np.ndarray:
    """The mean of the forest's trees, summed in the order ``forest.predict`` sums them."""
    x32 = np.ascontiguousarray(X, dtype=np.float32)
    out = np.zeros(x32.shape[0])
    for tree in forest.estimators_:
        out += tree.tree_.predict(x32).reshape(x32.shape[0])
    return out / len(forest.estimators_)


def _hgb_arrays(model: Any) -> tuple[np.ndarray, ...]:
    """Every tree's nodes stacked into flat arrays (child indices made global), built once per
    fitted model."""
    cached = _HGB_CACHE.get(model)
    if cached is not None:
        return cached
    trees = [p[0].nodes for p in model._predictors]  # one tree per iteration (regression)
    offsets = np.cumsum([0] + [len(t) for t in trees[:-1]])
    nodes = np.concatenate(trees)
    off = np.repeat(offsets, [len(t) for t in trees])
    arrays = (offsets.astype(np.intp), nodes["is_leaf"].astype(bool),
              nodes["feature_idx"].astype(np.intp), nodes["num_threshold"].astype(float),
              nodes["missing_go_to_left"].astype(bool),
              (nodes["left"].astype(np.intp) + off), (nodes["right"].astype(np.intp) + off),
              nodes["value"].astype(float), int(nodes["depth"].max()) + 1)
    _HGB_CACHE[model] = arrays
    return arrays


def hgb_predict(model: Any, X: np.ndarray) -> np.ndarray:
    """Baseline + the sum of each tree's leaf value for every row of ``X``."""
    roots, is_leaf, feat, thr, miss_left, left, right, value, levels = _hgb_arrays(model)
    X = np.asarray(X, dtype=float)
    base = float(np.ravel(model._baseline_prediction)[0])
    out = np.empty(X.shape[0])
    for i, x in enumerate(X):
        cur = roots.copy()
        for _ in range(levels):
            leaf = is_leaf[cur]
            if leaf.all():
                break
            xv = x[feat[cur]]
            go_left = np.where(np.isnan(xv), miss_left[cur], xv <= thr[cur])
            cur = np.where(leaf, cur, np.where(go_left, left[cur], right[cur]))
        out[i] = base + float(value[cur].sum())
    return out


def _is_mlp_pipeline(pipe: Any) -> bool:
    from sklearn.compose import TransformedTargetRegressor
    from sklearn.neural_network import MLPRegressor
    from sklearn.preprocessing import FunctionTransformer, StandardScaler

    steps = [s for _, s in pipe.steps]
    return (len(steps) == 3 and isinstance(steps[0], FunctionTransformer)
            and isinstance(steps[1], StandardScaler)
            and isinstance(steps[2], TransformedTargetRegressor)
            and isinstance(steps[2].regressor_, MLPRegressor)
            and isinstance(steps[2].transformer_, StandardScaler)
            and steps[2].regressor_.activation == "relu"
            and steps[2].regressor_.out_activation_ == "identity")


def mlp_pipeline_predict(pipe: Any, X: np.ndarray) -> np.ndarray:
    """Forward pass of FunctionTransformer -> StandardScaler -> MLP (ReLU) with a standardised
    target, from the fitted attributes."""
    transform, scaler, target = (s for _, s in pipe.steps)
    h = transform.func(np.asarray(X, dtype=float))
    h = (h - scaler.mean_) / scaler.scale_
    net = target.regressor_
    for k, (w, b) in enumerate(zip(net.coefs_, net.intercepts_)):
        h = h @ w + b
        if k < len(net.coefs_) - 1:
            h = np.maximum(h, 0.0)
    ts = target.transformer_
    return (h[:, 0] * ts.scale_[0] + ts.mean_[0]).astype(float)
