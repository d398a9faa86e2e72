"""The base model: pretrained on synthetic + corpus + shipped series, it forecasts a user's CSV
with no training (zero-shot) and fine-tunes on it with ``train --init``."""

import json
from pathlib import Path

import pandas as pd
import pytest
import torch

from apps.forecasting.app import BASE_MODEL, main
from apps.forecasting.pretrain import PretrainConfig, PretrainWindows, synthetic_pool
from shared.model_folder import load_model

from .test_user_data import _user_series

PRETRAIN = ["pretrain.enabled=true", "pretrain.corpus=[nile,elnino]", "pretrain.synthetic_series=20",
            "pretrain.synthetic_length=64", "model.skip=seasonal"]


def test_pretraining_windows_mix_their_sources_and_are_pure_in_the_index():
    datasets = {"shipped": [(torch.arange(50.0).numpy(), 12)]}
    corpus = {"nile": [(torch.full((40,), 7.0).numpy(), 1)]}
    synthetic = synthetic_pool(seed=0, count=5, length=64)
    cfg = PretrainConfig(synthetic_share=0.5, corpus_share=0.25, corpus=["nile"])
    windows = PretrainWindows(datasets, corpus, synthetic, cfg, lookback=16, horizon=4, count=400, seed=1)
    seasons = [int(windows[i]["season"]) for i in range(400)]
    from_corpus = sum(s == 1 and bool((windows[i]["context"][windows[i]["observed"]] == 7).all())
                      for i, s in enumerate(seasons))
    from_shipped = sum(s == 12 and float(windows[i]["context"].max()) <= 49 for i, s in enumerate(seasons))
    assert 60 < from_corpus < 140 and 40 < from_shipped < 160  # about 25% each (synthetic seasons vary)
    again = PretrainWindows(datasets, corpus, synthetic_pool(0, 5, 64), cfg, 16, 4, 400, seed=1)
    for i in (0, 17, 399):
        for key in ("context", "observed", "target", "target_mask", "season"):
            torch.testing.assert_close(again[i][key], windows[i][key])
    with pytest.raises(ValueError, match="sum to at most 1"):
        PretrainConfig(synthetic_share=0.8, corpus_share=0.3)


def test_zero_shot_and_fine_tuning_on_a_users_csv(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    tiny = ["--config", "tiny"]
    assert main(["train", *tiny, *[a for kv in PRETRAIN for a in ("--set", kv)], "--run", "runs/forecasting/base"]) == 0
    assert (tmp_path / BASE_MODEL / "config.json").is_file()
    base = load_model(BASE_MODEL).model
    assert base.cfg.skip == "seasonal"

    _user_series(tmp_path / "sales.csv")
    capsys.readouterr()
    assert main(["predict", "sales.csv", "--model", str(BASE_MODEL), "--out", "zero-shot"]) == 0  # no training
    assert "2 rows: 2 ok" in capsys.readouterr().out

    user = ["--config", "tiny", "--data", "sales.csv", "--set", "peers=[SeasonalNaive]", "--set", "data.horizon=6"]
    assert main(["train", *user, "--init", "base", "--run", "tuned"]) == 0
    out = capsys.readouterr().out
    assert json.loads(out[out.index("{"):])["steps"] == 6
    tuned = load_model("tuned/best").model
    assert tuned.cfg.skip == "seasonal" and tuned.cfg.lookback == base.cfg.lookback  # the base's architecture
    assert not torch.equal(tuned.head[-1].weight, base.head[-1].weight)  # and it trained on from there
    assert main(["evaluate", *user, "--model", "tuned/best", "--out", "eval"]) == 0
    table = pd.DataFrame(json.loads(Path("eval/metrics.json").read_text())["table"])
    assert set(table["model"]) == {"ours", "SeasonalNaive", "ensemble"}


def test_init_names_a_missing_base_model_in_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    _user_series(tmp_path / "sales.csv")
    assert main(["train", "--config", "tiny", "--data", "sales.csv", "--init", "base", "--run", "r"]) != 0
    err = capsys.readouterr().err
    assert "no model folder at runs/forecasting/base/best" in err and "--config base" in err and "Traceback" not in err
