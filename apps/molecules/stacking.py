"""Stacking ours with a descriptor model: a blend chosen on validation rows only.

The descriptor model is scikit-learn gradient boosting (``HistGradientBoosting*``) or a support
vector machine (``SVR`` / ``SVC`` on standardised signed-log descriptors); which one, and the
blend weight ``w`` in ``w * ours + (1 - w) * descriptor model``, are picked on the valid rows with
the descriptor model fit on the train rows. For the test rows the chosen descriptor model is fit
again on train + valid rows, as the forests are. Our valid predictions come from the checkpoint
selected on those rows, so they are a little optimistic and lean the weight toward ours.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from apps.molecules.metrics import score

LEARNERS = ("gbm", "svm")
WEIGHTS = tuple(round(w, 2) for w in np.linspace(0.0, 1.0, 11))


@dataclass
class StackChoice:
    learner: str
    weight: float  # on ours; 1 - weight on the descriptor model
    valid_metric: float  # of the blend on the valid rows
    valid_learners: dict[str, float]  # each descriptor model alone on the valid rows

    def to_dict(self) -> dict:
        return asdict(self)


def _features(x: np.ndarray) -> np.ndarray:
    """Signed-log descriptors with non-finite values at 0 (descriptors span many orders of magnitude)."""
    x = np.nan_to_num(np.asarray(x, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    return np.sign(x) * np.log1p(np.abs(x))


def fit_predict_learner(name: str, task: str, x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray,
                        seed: int) -> np.ndarray:
    """One descriptor model for one target: fit on (x_train, y_train), predict x_test (probabilities
    of class 1 for classification)."""
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC, SVR

    x_train, x_test = _features(x_train), _features(x_test)
    if name == "gbm":
        kind = HistGradientBoostingRegressor if task == "regression" else HistGradientBoostingClassifier
        model = kind(max_iter=500, learning_rate=0.05, early_stopping=False, random_state=seed)
    elif name == "svm":
        svm = SVR(C=1.0) if task == "regression" else SVC(C=1.0, probability=True, random_state=seed)
        model = make_pipeline(StandardScaler(), svm)
    else:
        raise ValueError(f"unknown descriptor learner {name!r}; available: {', '.join(LEARNERS)}")
    if task == "regression":
        mean, std = y_train.mean(), y_train.std() or 1.0  # SVR's epsilon is in target units
        model.fit(x_train, (y_train - mean) / std)
        return model.predict(x_test) * std + mean
    model.fit(x_train, y_train.astype(int))
    return model.predict_proba(x_test)[:, 1]


def _metric(task: str, y: np.ndarray, pred: np.ndarray) -> float:
    scores = score(task, y[:, None], pred[:, None])
    return scores["rmse"] if task == "regression" else scores["roc_auc"]


def choose_stack(task: str, y_valid: np.ndarray, ours_valid: np.ndarray, x_train: np.ndarray, y_train: np.ndarray,
                 x_valid: np.ndarray, seed: int) -> StackChoice:
    """The descriptor learner and blend weight that score best on the valid rows (one target)."""
    better = min if task == "regression" else max
    learner_valid = {name: fit_predict_learner(name, task, x_train, y_train, x_valid, seed) for name in LEARNERS}
    alone = {name: _metric(task, y_valid, pred) for name, pred in learner_valid.items()}
    learner = better(alone, key=alone.get)
    blends = {w: _metric(task, y_valid, w * ours_valid + (1 - w) * learner_valid[learner]) for w in WEIGHTS}
    weight = better(blends, key=blends.get)
    return StackChoice(learner, float(weight), float(blends[weight]), {k: float(v) for k, v in alone.items()})


def stacked_test_predictions(choice: StackChoice, task: str, ours_test: np.ndarray, x_fit: np.ndarray,
                             y_fit: np.ndarray, x_test: np.ndarray, seed: int) -> np.ndarray:
    """The chosen blend on the test rows, its descriptor model fit on ``x_fit`` (train + valid rows)."""
    if choice.weight >= 1.0:
        return ours_test
    learned = fit_predict_learner(choice.learner, task, x_fit, y_fit, x_test, seed)
    return choice.weight * ours_test + (1 - choice.weight) * learned
