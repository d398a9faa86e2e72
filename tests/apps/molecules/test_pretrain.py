"""Self-supervised pretraining on a corpus of unlabelled molecules, fine-tuning from it (--init),
and refitting on train + valid rows."""

import numpy as np
import pytest
import torch

from apps.molecules.app import APP, main
from apps.molecules.config import load_molecules_config
from apps.molecules import data
from apps.molecules.data import load_split
from apps.molecules.datasets import corpus
from apps.molecules.train import ENCODER_PREFIXES, fit, refit_steps
from shared.errors import ConfigError
from shared.model_folder import load_model

SMALL_SOURCES = {
    "nci": ["CCO", "c1ccccc1O", "CC(=O)Nc1ccc(O)cc1", "CCN(CC)CC", "Clc1ccccc1", "OC(=O)c1ccccc1", "CCCCCCO",
            "c1ccncc1", "CC(C)Cc1ccc(C(C)C(=O)O)cc1", "O=C1NC(=O)C(N1)(c1ccccc1)c1ccccc1"],
    "chembl": ["Br.CC(N)Cc1ccc(O)cc1", "CCO", "CN1CCC[C@H]1c1cccnc1", "not a smiles", "CC(=O)Oc1ccccc1C(=O)O"],
    "moses": ["CCCS(=O)c1ccc2[nH]c(=NC(=O)OC)[nH]c2c1", "CC(C)(C)C(=O)C(Oc1ccc(Cl)cc1)n1ccnc1",
              "Cc1c(Cl)cccc1Nc1ncccc1C(=O)OCC(O)CO", "COc1ccc(CCN)cc1", "CCOC(=O)c1ccc(N)cc1", "Nc1ccc(S(N)(=O)=O)cc1",
              "CC1=CC(=O)C=CC1=O", "OCC1OC(O)C(O)C(O)C1O", "CCCCOC(=O)C=C", "NCCc1c[nH]c2ccccc12"] * 3,
}
HELD_OUT = {"CN1CCC[C@H]1c1cccnc1", "Clc1ccccc1"}


@pytest.fixture()
def small_corpus(monkeypatch):
    """The corpus recipe on a handful of molecules (the real sources: test_the_real_sources_...)."""
    monkeypatch.setattr(corpus, "source_smiles", lambda molecules, seed=0: SMALL_SOURCES)
    monkeypatch.setattr(data, "held_out_smiles", lambda: HELD_OUT)


def test_the_corpus_drops_held_out_molecules_and_duplicates_and_standardises_descriptors(small_corpus):
    frame = corpus.pretraining_corpus(18, HELD_OUT, workers=1)
    smiles = frame["smiles"].tolist()
    assert len(smiles) == len(set(smiles)) == 18  # duplicates ("CCO" twice, MOSES three times) once
    assert not HELD_OUT & set(smiles)
    assert "CC(N)Cc1ccc(O)cc1" in smiles and not any("Br" in s for s in smiles)  # the salt's largest fragment
    moses = set(corpus.canonical_smiles(SMALL_SOURCES["moses"])[0])
    assert not moses & set(smiles[:11]) and set(smiles[11:]) <= moses  # 11 from the small sources, then MOSES fills
    targets = frame.drop(columns="smiles")
    assert all(c.startswith("d_") for c in targets) and 50 < targets.shape[1] < 217  # constant descriptors dropped
    assert np.abs(targets.to_numpy()).max() <= 6.0 and np.allclose(targets.mean(0), 0, atol=0.2)


def test_the_real_sources_load_and_benchmark_test_molecules_are_held_out():
    sources = corpus.source_smiles(20)
    assert len(sources["moses"]) == 20 and all(len(v) > 40 for k, v in sources.items() if k != "moses")
    held = data.held_out_smiles()
    solubility, _ = load_split(load_molecules_config("tiny", ["data.dataset=solubility", "data.split=shipped"]))
    assert set(solubility.frame.loc[solubility.frame["split"] == "test", "smiles"]) <= held
    assert not set(solubility.frame.loc[solubility.frame["split"] == "train", "smiles"]) <= held


def _pretrain_overrides(tmp_path):
    return ["data.dataset=pretraining", "data.split=random", "data.corpus_molecules=30", "model.descriptors=false",
            "target_mask=0.15", "peers=[]", f"data.cache_dir={tmp_path / 'cache'}"]


def test_pretrain_then_fine_tune_from_the_cli(small_corpus, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    pre = ["--set", *_pretrain_overrides(tmp_path)]
    assert main(["train", "--config", "tiny", *pre, "--run", str(tmp_path / "pre")]) == 0
    pretrained = load_model(tmp_path / "pre" / "best").model
    assert pretrained.cfg.num_targets > 50 and not pretrained.cfg.descriptors

    assert main(["train", "--config", "tiny", "--set", "model.descriptors=true", f"data.cache_dir={tmp_path / 'c2'}",
                 "train.max_steps=1", "train.lr=1e-9", "train.warmup_steps=0", "--init", str(tmp_path / "pre" / "best"),
                 "--run", str(tmp_path / "ft")]) == 0
    tuned = load_model(tmp_path / "ft" / "best")
    assert tuned.model.cfg.num_targets == 1 and tuned.model.cfg.descriptors
    assert tuned.metadata["init_transfer"] == "encoder" and tuned.metadata["init"] == str(tmp_path / "pre" / "best")
    before, after = pretrained.state_dict(), tuned.model.state_dict()
    encoder = [k for k in after if k.startswith(ENCODER_PREFIXES)]
    assert encoder and all(torch.allclose(before[k], after[k], atol=1e-6) for k in encoder)  # lr ~0: still the encoder
    readout = [k for k in after if k.startswith("head.")]
    assert readout and any(after[k].shape != before[k].shape for k in readout)  # a fresh readout for one target


def test_init_refuses_an_encoder_for_the_smiles_model(small_corpus, tmp_path):
    cfg = load_molecules_config("tiny", _pretrain_overrides(tmp_path))
    data, _ = load_split(cfg)
    fit(cfg, data, tmp_path / "pre", tmp_path / "cache")
    smiles_cfg = load_molecules_config("tiny", ["model.kind=smiles"])
    target, _ = load_split(smiles_cfg)
    with pytest.raises(ConfigError, match="only a graph model's encoder carries over"):
        fit(smiles_cfg, target, tmp_path / "ft", tmp_path / "cache", init=tmp_path / "pre" / "best")


def test_refit_trains_again_on_train_and_valid_for_the_selected_steps(tmp_path):
    cfg = load_molecules_config("tiny", ["refit=true"])
    data, _ = load_split(cfg)
    fitted = fit(cfg, data, tmp_path / "run", tmp_path / "cache")
    n = {s: int((data.frame["split"] == s).sum()) for s in ("train", "valid")}
    assert fitted.selection is not None and fitted.model_dir == tmp_path / "run" / "refit" / "best"
    assert fitted.result.step == refit_steps(fitted.selection, "val_rmse", n["train"], n["valid"])
    best_step = next(h["step"] for h in fitted.selection.history if h["val_rmse"] == fitted.selection.best_metric)
    assert fitted.result.step == round(best_step * (n["train"] + n["valid"]) / n["train"])
    summary = APP.train(cfg, APP.prepare(cfg, tmp_path / "data"), tmp_path / "app-run")
    assert summary.model_dir.endswith("refit/best") and summary.metric == "val_rmse"
