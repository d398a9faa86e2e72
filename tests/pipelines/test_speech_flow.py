"""The speech flows end to end under Prefect (tiny config): ASR champion + batch error rows, TTS champion."""

import shutil
from pathlib import Path

from apps.speech.audio import write_wav
from apps.speech.steps import load_split
from shared.inference import read_outputs
from shared.registry import ModelRegistry


def test_speech_flows_end_to_end(prefect_server, tmp_path):
    import numpy as np

    from pipelines.speech import batch_transcribe, retrain_asr, retrain_tts

    common = {"config": "tiny", "data_dir": str(tmp_path / "data"), "registry": str(tmp_path / "registry")}
    asr = retrain_asr(run_root=str(tmp_path / "asr"), **common)
    assert asr["registered"]["name"] == "speech-asr-english" and asr["registered"]["promoted"]
    assert asr["best_peer"] == "pocketsphinx" and "wer" in asr["ours"] and Path(asr["plot"]).is_file()
    assert ModelRegistry(tmp_path / "registry").champion("speech-asr-english").path.joinpath("lm.json").is_file()

    incoming = tmp_path / "incoming"
    incoming.mkdir()
    for i, entry in enumerate(load_split(asr["data_path"], "test")[:2]):
        shutil.copy(entry.audio_filepath, incoming / f"clip{i}.wav")
    (incoming / "broken.wav").write_bytes(b"RIFF....WAVEfmt nonsense")
    write_wav(incoming / "silent.wav", np.zeros(8000, np.float32))
    batch = batch_transcribe(str(incoming), str(tmp_path / "batch"), registry=str(tmp_path / "registry"))
    assert batch["succeeded"] == 2 and batch["errors"] == 2
    assert len(read_outputs(tmp_path / "batch")) == 2 and (tmp_path / "batch/transcripts.jsonl").is_file()

    tts = retrain_tts(run_root=str(tmp_path / "tts"), **common)
    assert tts["registered"]["name"] == "speech-tts" and tts["registered"]["promoted"]
    assert {"wer_pocketsphinx", "mcd_db", "rtf"} <= set(tts["ours"])
