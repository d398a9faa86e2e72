"""The seed ensemble (``ensemble: K``, the default config's prediction) and stacking ours with a
descriptor model (learner and weight chosen on the valid rows)."""

import numpy as np
import pandas as pd
import torch

from apps.molecules.app import main
from apps.molecules.model import SeedEnsemble
from apps.molecules.predict import MoleculesPredictor
from apps.molecules.stacking import choose_stack, fit_predict_learner, stacked_test_predictions
from apps.molecules.train import predict_with_uncertainty
from shared.model_folder import load_model

ENSEMBLE = ["train.max_steps=4", "ensemble=2"]


def test_an_ensemble_of_two_seeds_trains_saves_and_predicts_their_mean(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["train", "--config", "tiny", "--set", *ENSEMBLE, f"data.cache_dir={tmp_path / 'cache'}",
                 "--run", str(tmp_path / "run")]) == 0
    loaded = load_model(tmp_path / "run" / "best")
    model = loaded.model
    assert isinstance(model, SeedEnsemble) and len(model.members) == 2
    first, second = (load_model(tmp_path / "run" / f"seed-{i}" / "best").model for i in range(2))
    assert not all(torch.equal(a, b) for a, b in zip(first.state_dict().values(), second.state_dict().values()))
    assert loaded.metadata["members"] == [str(tmp_path / "run" / f"seed-{i}" / "best") for i in range(2)]

    assert main(["evaluate", "--config", "tiny", "--set", *ENSEMBLE, f"data.cache_dir={tmp_path / 'cache'}",
                 "--model", str(tmp_path / "run" / "best")]) == 0
    assert "ours" in (tmp_path / "run" / "evaluate" / "metrics.md").read_text()

    csv = tmp_path / "new.csv"
    pd.DataFrame({"smiles": ["CCO", "c1ccccc1O", "not a smiles"]}).to_csv(csv, index=False)
    with MoleculesPredictor(tmp_path / "run" / "best", mc_samples=3, workers=1) as predictor:
        rows = list(predictor.rows([str(csv)]))
        results = predictor.predict(rows)
    assert [type(r).__name__ for r in results] == ["list", "list", "RowError"]
    target = loaded.metadata["targets"][0]
    # tiny has no dropout, so the spread is the two seeds' disagreement alone: mean and std of the members
    single = [MoleculesPredictor(tmp_path / "run" / f"seed-{i}" / "best", mc_samples=1, workers=1) for i in range(2)]
    each = np.array([[r[0][target] for r in p.predict(rows[:2])] for p in single])
    assert np.allclose([r[0][target] for r in results[:2]], each.mean(0), atol=1e-5)
    assert np.allclose([r[0][f"{target}_std"] for r in results[:2]], each.std(0), atol=1e-5)
    assert each.std(0).min() > 0


def test_mc_dropout_samples_every_member():
    torch.manual_seed(0)

    class Member(torch.nn.Module):
        def __init__(self, offset: float):
            super().__init__()
            self.offset = offset
            self.cfg = type("Cfg", (), {"kind": "smiles"})()
            self.drop = torch.nn.Dropout(0.5)

        def predict(self, batch):
            return self.drop(torch.ones(len(batch.input_ids), 1)) + self.offset

    ensemble = SeedEnsemble([Member(0.0), Member(10.0)])
    inputs = [([1, 2], torch.zeros(1, 1)) for _ in range(4)]
    mean, std = predict_with_uncertainty(ensemble, inputs, samples=50)
    assert mean.shape == (4, 1) and 5.0 < mean.mean() < 7.0  # both members and their dropout draws
    assert std.min() > 4.0  # the members' disagreement (10 apart) is part of the spread


def _descriptor_data(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 6))
    return x, 2.0 * x[:, 0] - x[:, 1] ** 2 + 0.1 * rng.normal(size=n)


def test_the_stack_weight_follows_the_valid_rows():
    x_train, y_train = _descriptor_data(300, 0)
    x_valid, y_valid = _descriptor_data(100, 1)
    perfect = choose_stack("regression", y_valid, y_valid.copy(), x_train, y_train, x_valid, seed=0)
    assert perfect.weight == 1.0 and perfect.valid_metric == 0.0
    noise = np.random.default_rng(2).normal(size=len(y_valid)) * 5
    useless = choose_stack("regression", y_valid, noise, x_train, y_train, x_valid, seed=0)
    assert useless.weight <= 0.1 and set(useless.valid_learners) == {"gbm", "svm"}
    assert useless.learner == min(useless.valid_learners, key=useless.valid_learners.get)
    x_test, _ = _descriptor_data(20, 3)
    ours_test = np.zeros(20)
    assert np.array_equal(stacked_test_predictions(perfect, "regression", ours_test, x_train, y_train, x_test, 0), ours_test)
    learned = fit_predict_learner(useless.learner, "regression", x_train, y_train, x_test, 0)
    blended = stacked_test_predictions(useless, "regression", ours_test, x_train, y_train, x_test, 0)
    assert np.allclose(blended, (1 - useless.weight) * learned)


def test_stacking_classification_blends_probabilities():
    x_train, y_train = _descriptor_data(300, 0)
    x_valid, y_valid = _descriptor_data(100, 1)
    labels_train, labels_valid = (y_train > 0).astype(float), (y_valid > 0).astype(float)
    choice = choose_stack("classification", labels_valid, np.full(len(labels_valid), 0.5), x_train, labels_train,
                          x_valid, seed=0)
    assert choice.weight < 1.0 and choice.valid_metric > 0.8  # ROC-AUC: the constant 0.5 of "ours" adds nothing
    pred = stacked_test_predictions(choice, "classification", np.full(20, 0.5), x_train, labels_train,
                                    _descriptor_data(20, 3)[0], 0)
    assert ((pred >= 0) & (pred <= 1)).all()


def test_an_ensemble_with_refit_refits_every_member_and_reports_the_selected_models_valid_metric(tmp_path):
    from apps.molecules.config import load_molecules_config
    from apps.molecules.data import load_split
    from apps.molecules.train import fit

    cfg = load_molecules_config("tiny", [*ENSEMBLE, "refit=true", f"data.cache_dir={tmp_path / 'cache'}"])
    data, _ = load_split(cfg)
    fitted = fit(cfg, data, tmp_path / "run", tmp_path / "cache")
    metadata = load_model(fitted.model_dir).metadata
    assert fitted.model_dir == tmp_path / "run" / "best" and metadata["trained_on"] == ["train", "valid"]
    assert metadata["members"] == [str(tmp_path / "run" / f"seed-{i}" / "refit" / "best") for i in range(2)]
    selected = [load_model(tmp_path / "run" / f"seed-{i}" / "best").metadata["trained_on"] for i in range(2)]
    assert selected == [["train"], ["train"]] and np.isfinite(fitted.valid_metric)
    assert fitted.valid_metric == metadata["valid_metric"] and len(metadata["member_valid_metrics"]) == 2
