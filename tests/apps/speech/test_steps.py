"""The speech steps on the tiny config: data, validation, evaluation tables and plots."""

import json
from dataclasses import replace
from pathlib import Path

import pytest

from apps.speech import steps
from apps.speech.manifest import read_manifest, write_manifest
from shared.errors import DataError


def test_prepared_english_set_holds_out_voice_and_sentences(tiny_speech):
    report = steps.validate_data(tiny_speech["cfg"], tiny_speech["data"])
    assert report["utterances"] == {"train": 8, "valid": 3, "test": 3} and report["voices"] == ["flite-slt"]
    train = steps.load_split(tiny_speech["data"], "train")
    test = steps.load_split(tiny_speech["data"], "test")
    assert {e.extra["voice"] for e in train} <= {"flite-kal", "espeak-us-160"}
    assert not {e.text for e in train} & {e.text for e in test}
    lm_text = Path(tiny_speech["data"], "lm.txt").read_text().splitlines()
    assert not set(lm_text) & {e.text for e in test + steps.load_split(tiny_speech["data"], "valid")}


def test_validation_refuses_a_sentence_in_two_splits(tiny_speech, tmp_path):
    data = Path(tiny_speech["data"])
    spec = json.loads((data / "dataset.json").read_text())
    test = read_manifest(spec["splits"]["test"])
    leaked = read_manifest(spec["splits"]["train"])[:2] + test[:1]
    write_manifest(tmp_path / "test.jsonl", leaked)
    spec["splits"]["test"] = str(tmp_path / "test.jsonl")
    (tmp_path / "dataset.json").write_text(json.dumps(spec))
    with pytest.raises(DataError, match="in both train and test"):
        steps.validate_data(tiny_speech["cfg"], tmp_path)


def test_asr_evaluation_scores_ours_and_pocketsphinx_per_voice(tiny_speech, tmp_path):
    result = steps.evaluate_model(tiny_speech["cfg"], tiny_speech["asr"]["model_dir"], tiny_speech["data"], tmp_path)
    models = {(row["model"], row["voice"]) for row in result["table"]}
    assert models == {("ours", "flite-slt"), ("pocketsphinx", "flite-slt")}
    assert result["best_peer"] == "pocketsphinx" and 0 <= result["ours"]["wer"]
    assert result["best_peer_scores"]["wer"] < 0.6  # pocketsphinx understands flite slt
    assert Path(result["plot"]).read_bytes()[:4] == b"\x89PNG"
    assert "| pocketsphinx | flite-slt |" in (tmp_path / "metrics.md").read_text()


def test_tts_evaluation_reports_round_trip_wer_mcd_and_speed(tiny_speech, tmp_path):
    cfg = steps.config("tiny", ["task=tts", f"round_trip_asr={tiny_speech['asr']['model_dir']}"])
    result = steps.evaluate_model(cfg, tiny_speech["tts"]["model_dir"], tiny_speech["data"], tmp_path)
    ours, reference = result["table"][0], result["table"][1]
    assert {"wer_pocketsphinx", "wer_our_asr", "mcd_db", "rtf"} <= set(ours)
    assert reference["mcd_db"] == 0.0 and reference["wer_pocketsphinx"] < ours["wer_pocketsphinx"] + 1e-9
    assert ours["mcd_db"] > 0 and ours["rtf"] > 0
    assert Path(result["plot"]).is_file() and len(list(Path(result["samples"]).glob("*.wav"))) == 6


def test_tts_refuses_a_non_english_dataset(tiny_speech, tmp_path):
    cfg = steps.config("tiny", ["task=tts", "language=nl"])
    with pytest.raises(Exception, match="English phoneme front end"):
        steps.train_model(cfg, tiny_speech["data"], tmp_path)


def test_a_users_manifest_dataset_needs_every_split(tmp_path):
    cfg = steps.config("tiny", ["dataset=manifest", f"manifests.train={tmp_path / 'train.jsonl'}"])
    with pytest.raises(DataError, match="valid, test"):
        steps.prepare_data(cfg, tmp_path)


def test_a_users_manifests_train_and_evaluate_like_the_shipped_set(tiny_speech, tmp_path):
    """Your own NeMo-style manifests (here copies of the tiny set's, without voice names) are a dataset."""
    spec = json.loads(Path(tiny_speech["data"], "dataset.json").read_text())
    overrides = ["dataset=manifest", "peers=[]"]
    for split in ("train", "valid", "test"):
        entries = [replace(e, extra={}) for e in read_manifest(spec["splits"][split])]
        write_manifest(tmp_path / "mine" / f"{split}.jsonl", entries)
        overrides.append(f"manifests.{split}={tmp_path / 'mine' / f'{split}.jsonl'}")
    cfg = steps.config("tiny", overrides)
    data = steps.prepare_data(cfg, tmp_path / "data")
    assert steps.validate_data(cfg, data)["utterances"] == {"train": 8, "valid": 3, "test": 3}
    trained = steps.train_model(cfg, data, tmp_path / "run")
    result = steps.evaluate_model(cfg, trained["model_dir"], data, tmp_path / "eval")
    assert [row["voice"] for row in result["table"]] == ["all"] and result["best_peer"] is None
