"""The speech Apps on the tiny config: data, validation, user manifests and their split, evaluation tables and plots."""

import json
from dataclasses import replace
from pathlib import Path

import pytest

from apps.speech.app import ASR, TTS
from apps.speech.data import load_split, split_manifest
from apps.speech.manifest import ManifestEntry, read_manifest, write_manifest
from shared.errors import ConfigError, DataError


def test_prepared_english_set_holds_out_voice_and_sentences(tiny_speech):
    report = ASR.validate(tiny_speech["cfg"], tiny_speech["data"])
    assert report.splits == {"train": 8, "valid": 3, "test": 3} and report.details["test voices"] == "flite-slt"
    train = load_split(tiny_speech["data"], "train")
    test = load_split(tiny_speech["data"], "test")
    assert {e.extra["voice"] for e in train} <= {"flite-kal", "espeak-us-160"}
    assert not {e.text for e in train} & {e.text for e in test}
    lm_text = Path(tiny_speech["data"], "lm.txt").read_text().splitlines()
    assert not set(lm_text) & {e.text for e in test + load_split(tiny_speech["data"], "valid")}
    assert "festival" not in report.details["held out"] and "never in training" in report.details["held out"]


def test_validation_refuses_a_sentence_in_two_splits(tiny_speech, tmp_path):
    data = Path(tiny_speech["data"])
    spec = json.loads((data / "dataset.json").read_text())
    test = read_manifest(spec["splits"]["test"])
    leaked = read_manifest(spec["splits"]["train"])[:2] + test[:1]
    write_manifest(tmp_path / "test.jsonl", leaked)
    spec["splits"]["test"] = str(tmp_path / "test.jsonl")
    (tmp_path / "dataset.json").write_text(json.dumps(spec))
    with pytest.raises(DataError, match="in both train and test"):
        ASR.validate(tiny_speech["cfg"], tmp_path)


def test_asr_evaluation_scores_ours_and_pocketsphinx_per_voice(tiny_speech, tmp_path):
    result = ASR.evaluate(tiny_speech["cfg"], tiny_speech["asr"]["model_dir"], tiny_speech["data"], tmp_path)
    models = {(row["model"], row["voice"]) for row in result.table}
    assert models == {("ours", "flite-slt"), ("pocketsphinx", "flite-slt")}
    assert result.best_peer == "pocketsphinx" and 0 <= result.ours["wer"]
    assert result.best_peer_scores["wer"] < 0.6  # pocketsphinx understands flite slt
    assert Path(result.artifacts["plot"]).read_bytes()[:4] == b"\x89PNG"
    assert "| pocketsphinx | flite-slt |" in (tmp_path / "metrics.md").read_text()
    assert result.registry_name == "speech-asr-english" and result.split_rule


@pytest.mark.slow
def test_tts_evaluation_reports_round_trip_wer_mcd_and_speed(tiny_speech, tmp_path):
    cfg = TTS.load_config("tiny", [f"round_trip_asr={tiny_speech['asr']['model_dir']}"])
    result = TTS.evaluate(cfg, tiny_speech["tts"]["model_dir"], tiny_speech["data"], tmp_path)
    ours, reference = result.table[0], result.table[1]
    assert {"wer_pocketsphinx", "wer_our_asr", "mcd_db", "rtf"} <= set(ours)
    assert reference["mcd_db"] == 0.0 and reference["wer_pocketsphinx"] < ours["wer_pocketsphinx"] + 1e-9
    assert ours["mcd_db"] > 0 and ours["rtf"] > 0
    assert Path(result.artifacts["plot"]).is_file() and len(list(Path(result.artifacts["samples"]).glob("*.wav"))) == 6
    assert result.registry_name == "speech-tts" and result.metric == "wer_pocketsphinx"


def test_tts_trains_in_two_stages_chained_by_init(tiny_speech, tmp_path):
    """The align stage's RUN/best is the train stage's --init; without it the aligner is trained first."""
    cfg = TTS.load_config("tiny", ["train.max_steps=2", "train.align.max_steps=2"])
    aligner = TTS.train(cfg, tiny_speech["data"], tmp_path / "align", "align")
    assert aligner.metric == "val_per" and Path(aligner.model_dir).is_dir()
    fastspeech = TTS.train(cfg, tiny_speech["data"], tmp_path / "train", "train", init=aligner.model_dir)
    assert fastspeech.steps == 2 and not (tmp_path / "train" / "aligner").exists()
    assert Path(tiny_speech["tts"]["model_dir"]).parent.joinpath("aligner", "best").is_dir()
    with pytest.raises(ConfigError, match="not a TTS aligner"):
        TTS.train(cfg, tiny_speech["data"], tmp_path / "bad", "train", init=tiny_speech["asr"]["model_dir"])


def test_tts_refuses_a_non_english_dataset(tiny_speech, tmp_path):
    cfg = TTS.load_config("tiny", ["data.language=nl"])
    with pytest.raises(Exception, match="English phoneme front end"):
        TTS.train(cfg, tiny_speech["data"], tmp_path)


def test_a_users_manifest_dataset_needs_every_split(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = ASR.load_config("tiny", ["data.dataset=manifest", f"data.manifests.train={tmp_path / 'train.jsonl'}"])
    with pytest.raises(DataError, match="valid, test"):
        ASR.prepare(cfg, tmp_path / "data")
    (tmp_path / "mine").mkdir()
    with pytest.raises(DataError, match="missing train.jsonl, valid.jsonl, test.jsonl"):
        ASR.with_data(cfg, "mine")
    (tmp_path / "clips.csv").write_text("a,b\n")
    with pytest.raises(DataError, match="NeMo JSONL manifest"):
        ASR.with_data(cfg, "clips.csv")


def test_a_users_manifests_train_and_evaluate_like_the_shipped_set(tiny_speech, tmp_path, monkeypatch):
    """Your own NeMo-style manifests (here copies of the tiny set's, without voice names) are a dataset."""
    monkeypatch.chdir(tmp_path)
    spec = json.loads(Path(tiny_speech["data"], "dataset.json").read_text())
    for split in ("train", "valid", "test"):
        entries = [replace(e, extra={}) for e in read_manifest(spec["splits"][split])]
        write_manifest(tmp_path / "mine" / f"{split}.jsonl", entries)
    cfg = ASR.with_data(ASR.load_config("tiny", ["peers=[]"]), "mine")
    data = ASR.prepare(cfg, ASR.prepared_dir(cfg))
    assert ASR.validate(cfg, data).splits == {"train": 8, "valid": 3, "test": 3}
    trained = ASR.train(cfg, data, tmp_path / "run")
    result = ASR.evaluate(cfg, trained.model_dir, data, tmp_path / "eval")
    assert [row["voice"] for row in result.table] == ["all"] and result.best_peer is None
    assert result.split_rule == "your test.jsonl (validation: valid.jsonl)"
    assert result.registry_name == "speech-asr-manifest"


def _entries(voices: dict[str, int]) -> list[ManifestEntry]:
    return [ManifestEntry(f"{v}/{i}.wav", 1.0, f"sentence {i} of {v}", {"voice": v} if v else {})
            for v, n in voices.items() for i in range(n)]


def test_one_manifest_is_split_by_voice_with_a_seeded_rule():
    entries = _entries({f"v{k}": 3 for k in range(10)})
    rows, rule = split_manifest(entries, "voice", seed=0)
    voices = {s: {entries[i].extra["voice"] for i in rows[s]} for s in rows}
    assert [len(voices[s]) for s in ("train", "valid", "test")] == [8, 1, 1]
    assert not (voices["train"] & voices["test"]) and not (voices["train"] & voices["valid"])
    assert sorted(i for r in rows.values() for i in r) == list(range(30))
    assert split_manifest(entries, "voice", seed=0) == (rows, rule)
    assert split_manifest(entries, "voice", seed=1)[0] != rows
    assert "1 of 10 voices for test" in rule and "no voice is on two sides" in rule


def test_without_voices_or_for_tts_one_manifest_is_split_by_sentence():
    rows, rule = split_manifest(_entries({"": 20}), "voice")
    assert [len(rows[s]) for s in ("train", "valid", "test")] == [16, 2, 2] and "sentences" in rule
    tts_rows, tts_rule = split_manifest(_entries({"alice": 20, "bob": 5}), "text", voice="alice")
    assert sum(len(r) for r in tts_rows.values()) == 20 and "only alice's 20 rows" in tts_rule
    with pytest.raises(DataError, match="set data.voice"):
        split_manifest(_entries({"alice": 20, "bob": 5}), "text", voice="carol")
    with pytest.raises(DataError, match="at least 3"):
        split_manifest(_entries({"": 2}), "voice")


def test_a_changed_manifest_is_prepared_again(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_manifest(tmp_path / "speech.jsonl", _entries({"": 5}))
    cfg = ASR.with_data(ASR.load_config("tiny"), "speech.jsonl")
    assert cfg.data.manifests == {"all": str(tmp_path / "speech.jsonl")}
    before = ASR.prepared_dir(cfg)
    write_manifest(tmp_path / "speech.jsonl", _entries({"": 6}))
    assert ASR.prepared_dir(cfg) != before
    assert ASR.prepared_dir(cfg) != TTS.prepared_dir(TTS.with_data(TTS.load_config("tiny"), "speech.jsonl"))


def test_registry_names_come_from_the_config():
    assert ASR.registry_name(ASR.load_config("dutch")) == "speech-asr-fillets-nl"
    assert ASR.registry_name(ASR.load_config("tiny")) == "speech-asr-english"
    assert TTS.registry_name(TTS.load_config("tiny")) == "speech-tts"
    assert TTS.load_config("tiny", ["train.max_steps=3"]).train.max_steps == 3
    assert TTS.load_config("tiny", ["train.align.max_steps=3"]).train.align.max_steps == 3
