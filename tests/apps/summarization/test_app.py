"""Prepare, validate, pretrain, fine-tune and evaluate on the tiny config, through the App."""

import json
import shutil
from pathlib import Path

import pytest

from apps.summarization.app import APP
from apps.summarization.predict import Summarizer
from shared.errors import DataError
from shared.tokenizers import load_tokenizer


def test_prepare_writes_sets_and_tokenizer(tiny_summ):
    data = Path(tiny_summ["data"])
    spec = json.loads((data / "dataset.json").read_text())
    # whole package groups go to a split, so a split may overshoot its size by one group
    assert 16 <= spec["splits"]["valid"] < 40 and 16 <= spec["splits"]["test"] < 40 and spec["splits"]["train"] > 500
    assert spec["transfer_sets"]["abstracts"] == 305 and spec["transfer_sets"]["wikipedia"] >= 50
    tokenizer = load_tokenizer(data / "tokenizer.json")
    assert tokenizer.encode("<mask_1>") == [4]  # the mask is one token, right after the shared specials
    report = APP.validate(tiny_summ["cfg"], tiny_summ["data"])
    assert report.splits["test"] == spec["splits"]["test"]
    assert report.items == sum(spec["splits"].values()) + sum(spec["transfer_sets"].values())
    assert "package groups" in report.details["held out"]
    assert APP.is_prepared(tiny_summ["cfg"], data) and not APP.is_prepared(tiny_summ["cfg"], data / "nothing")


def test_validate_refuses_a_test_document_that_is_trained_on(tiny_summ, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(tiny_summ["data"], data)
    train = (data / "train.jsonl").read_text().splitlines()
    (data / "test.jsonl").write_text("\n".join(train[:1] + (data / "test.jsonl").read_text().splitlines()) + "\n")
    with pytest.raises(DataError, match="also a training document"):
        APP.validate(tiny_summ["cfg"], data)


def test_pretrain_then_finetune_make_loadable_models(tiny_summ):
    assert tiny_summ["pretrained"]["steps"] == 3 and tiny_summ["pretrained"]["metric"] == "val_loss"
    assert tiny_summ["trained"]["steps"] == 4 and tiny_summ["trained"]["metric"] == "val_rougeL"
    record = json.loads(Path(tiny_summ["root"], "run", "train_summary.json").read_text())
    assert record["init"] == tiny_summ["pretrained"]["model_dir"]  # fine-tuned from the pretrained weights
    summarizer = Summarizer.from_folder(tiny_summ["model"])
    found = summarizer.summarize(["A short document about a library for parsing XML files in Python.", "x " * 500])
    assert len(found) == 2 and found[1].chunks == 4 and found[1].truncated_tokens > 0
    assert found[0].truncated_tokens == 0 and found[0].chunks == 1


def test_init_from_another_tokenizer_is_refused(tiny_summ, tmp_path):
    cfg = APP.load_config("tiny", ["model.vocab_size=300"])
    data = APP.prepare(cfg, tmp_path / "data")
    with pytest.raises(DataError, match="another tokenizer"):
        APP.train(cfg, data, tmp_path / "run", "train", init=tiny_summ["pretrained"]["model_dir"])


def test_evaluate_scores_ours_and_every_peer_on_the_same_documents(tiny_summ, tmp_path):
    result = APP.evaluate(tiny_summ["cfg"], tiny_summ["model"], tiny_summ["data"], tmp_path)
    models = {(r["set"], r["model"]) for r in result.table}
    for test_set in ("test", "abstracts", "wikipedia"):
        for model in ("ours", "lead-1", "lead-3", "lexrank", "textrank", "lsa"):
            assert (test_set, model) in models
    assert all(r["documents"] == 4 for r in result.table)
    lead = next(r for r in result.table if r["set"] == "test" and r["model"] == "lead-1")
    assert 5 < lead["rougeL"] < 80  # lead-1 shares words with Debian synopses, never all of them
    assert result.metric == "rougeL" and result.mode == "max" and "rougeL_wikipedia" in result.ours
    assert result.registry_name == "summarization-debian" and "Debian test split" in result.split_rule
    # the headline is the in-domain test split: a peer's scores are its row there
    assert result.best_peer and result.best_peer_scores["set"] == "test"
    assert result.ours["rougeL"] == next(r for r in result.table if r["set"] == "test" and r["model"] == "ours")["rougeL"]
    assert (tmp_path / "metrics.md").is_file() and Path(result.artifacts["plot"]).stat().st_size > 5000
    assert all(Path(p).is_file() for p in result.artifacts.values())
    only = APP.evaluate(tiny_summ["cfg"], tiny_summ["model"], tiny_summ["data"], tmp_path / "one", peers=["lead-1"])
    assert {r["model"] for r in only.table} == {"ours", "lead-1"}
    with pytest.raises(DataError, match="unknown peer"):
        APP.evaluate(tiny_summ["cfg"], tiny_summ["model"], tiny_summ["data"], tmp_path / "x", peers=["gpt"])
