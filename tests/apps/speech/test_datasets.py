"""Sentence sets, real synthesisers and the Fish Fillets dialogue parser (small inputs only)."""

import json
import shutil

import numpy as np
import pytest

from apps.speech.audio import SAMPLE_RATE
from apps.speech.datasets.corpus import sentence_splits
from apps.speech.datasets.fillets import ROOT, Dialog, level_split, parse_dialogs
from apps.speech.datasets.synth import VOICES, build_speech_set, synthesize
from shared.errors import DataError

SENTENCE = "the quick brown fox jumps over the lazy dog"


def test_sentence_splits_are_disjoint_and_deterministic():
    sentences = [f"sentence number {i}" for i in range(50)] + ["sentence number 3"]
    splits = sentence_splits(sentences, {"train": -1, "valid": 5, "test": 5}, seed=1)
    assert [len(splits[s]) for s in ("train", "valid", "test")] == [40, 5, 5]
    assert len(set().union(*splits.values())) == 50
    assert sentence_splits(sentences, {"train": -1, "valid": 5, "test": 5}, seed=1) == splits
    assert sentence_splits(sentences, {"train": -1, "valid": 5, "test": 5}, seed=2) != splits
    with pytest.raises(DataError, match="only 50"):
        sentence_splits(sentences, {"train": 60})


def test_english_sentences_from_a_few_documents():
    pytest.importorskip("pocketsphinx")
    from apps.speech.datasets.corpus import english_sentences, shared_data_dir

    try:
        data = shared_data_dir()
    except DataError:
        pytest.skip("shared data not available")
    sentences = english_sentences(data, max_documents=10)
    assert 5 < len(sentences) == len(set(sentences))
    assert all(4 <= len(s.split()) <= 20 and set(s) <= set("abcdefghijklmnopqrstuvwxyz' ") for s in sentences)
    assert english_sentences(data, max_documents=10) == sentences


@pytest.mark.parametrize("voice", ["flite-slt", "espeak-us-160"])
def test_synthesize_a_short_sentence(voice):
    if shutil.which(VOICES[voice].engine) is None:
        pytest.skip(f"{VOICES[voice].engine} not installed")
    audio = synthesize(SENTENCE, VOICES[voice])
    assert audio.dtype == np.float32 and audio.ndim == 1
    assert 1.5 < len(audio) / SAMPLE_RATE < 6.0  # nine words
    assert np.abs(audio).max() > 0.05
    assert np.array_equal(synthesize(SENTENCE, VOICES[voice]), audio)  # deterministic


def test_speech_set_writes_wavs_and_a_manifest_and_resumes(tmp_path):
    if shutil.which("flite") is None:
        pytest.skip("flite not installed")
    splits = {"test": [(SENTENCE, ["flite-kal16"]), ("hello there", ["flite-kal16"])]}
    paths = build_speech_set(tmp_path, splits, workers=1, progress=False)
    rows = [json.loads(line) for line in paths["test"].read_text().splitlines()]
    assert [(r["audio_filepath"], r["voice"], r["sentence_id"], r["text"]) for r in rows] == [
        ("test/flite-kal16/000000.wav", "flite-kal16", 0, SENTENCE),
        ("test/flite-kal16/000001.wav", "flite-kal16", 1, "hello there")]
    before = (tmp_path / "test/flite-kal16/000000.wav").stat().st_mtime_ns
    build_speech_set(tmp_path, splits, workers=1, progress=False)
    assert (tmp_path / "test/flite-kal16/000000.wav").stat().st_mtime_ns == before
    with pytest.raises(DataError, match="unknown voice"):
        build_speech_set(tmp_path, {"test": [(SENTENCE, ["nobody"])]}, progress=False)


LUA = r'''
-- Intro dialogs: dialogId("commented", "font_big", "out")
dialogId("let-m-divna", "font_small", "What kind of strange ship is that?")
dialogStr("Wat is dit voor raar \"schip\"?")

dialogId("war-v-pohadka", "font_big",
  "the C:\\WINDOWS directory")
dialogStr(
"naar \/etc" .. ' gaan')

dialogId("b1-7", "", "")
dialogStr("")
dialogId("no-translation", "font_big", "Only English")
'''


def test_parse_dialogs_handles_escapes_multi_line_calls_and_comments():
    assert parse_dialogs(LUA) == [
        Dialog("let-m-divna", "font_small", "What kind of strange ship is that?", 'Wat is dit voor raar "schip"?'),
        Dialog("war-v-pohadka", "font_big", "the C:\\WINDOWS directory", "naar /etc gaan"),
        Dialog("b1-7", "", "", ""),
        Dialog("no-translation", "font_big", "Only English", ""),
    ]


@pytest.mark.skipif(not (ROOT / "sound").is_dir(), reason="fillets-ng-data not installed")
def test_real_dutch_utterances_split_by_level():
    from apps.speech.datasets.fillets import fillets_utterances

    utterances = fillets_utterances("nl")
    assert len(utterances) > 1000 and all(u.text and u.audio_path.is_file() for u in utterances)
    first = next(u for u in utterances if u.id == "let-m-divna")
    assert (first.level, first.speaker, first.text) == ("airplane", "font_small", "wat is dit voor raar schip")
    levels = level_split(utterances, seed=0)
    assert not set(levels["train"]) & (set(levels["valid"]) | set(levels["test"]))
    held = {split: sum(u.level in levels[split] for u in utterances) / len(utterances) for split in ("valid", "test")}
    assert all(0.09 < f < 0.2 for f in held.values())
