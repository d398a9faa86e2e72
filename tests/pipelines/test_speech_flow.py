"""The speech flows end to end under Prefect (tiny config): ASR champion + batch error rows, TTS champion."""

import shutil
from pathlib import Path

from apps.speech.audio import write_wav
from apps.speech.data import load_split
from shared.inference import read_outputs
from shared.registry import ModelRegistry


def test_speech_flows_end_to_end(prefect_server, tmp_path):
    import numpy as np

    from pipelines.flows import speech_asr_batch, speech_asr_retrain, speech_tts_retrain

    common = {"config": "tiny", "prepared": str(tmp_path / "data"), "registry": str(tmp_path / "registry")}
    asr = speech_asr_retrain(run_root=str(tmp_path / "asr"), **common)
    assert asr["registered"]["name"] == "speech-asr-english" and asr["registered"]["promoted"]
    assert asr["best_peer"] == "pocketsphinx" and "wer" in asr["ours"] and Path(asr["plot"]).is_file()
    assert ModelRegistry(tmp_path / "registry").champion("speech-asr-english").path.joinpath("lm.json").is_file()

    incoming = tmp_path / "incoming"
    incoming.mkdir()
    for i, entry in enumerate(load_split(asr["data_path"], "test")[:2]):
        shutil.copy(entry.audio_filepath, incoming / f"clip{i}.wav")
    (incoming / "broken.wav").write_bytes(b"RIFF....WAVEfmt nonsense")
    write_wav(incoming / "silent.wav", np.zeros(8000, np.float32))
    # The batch flow finds the champion under the config's registry name (the same rule as retrain's).
    batch = speech_asr_batch(str(incoming), str(tmp_path / "batch"), registry=str(tmp_path / "registry"), config="tiny",
                             options={"decode": "greedy", "align": True})
    assert batch["succeeded"] == 2 and batch["errors"] == 2
    assert len(read_outputs(tmp_path / "batch")) == 2 and (tmp_path / "batch/transcripts.jsonl").is_file()
    assert all("words" in r for r in read_outputs(tmp_path / "batch"))

    tts = speech_tts_retrain(run_root=str(tmp_path / "tts"), **common)
    assert tts["registered"]["name"] == "speech-tts" and tts["registered"]["promoted"]
    assert {"wer_pocketsphinx", "mcd_db", "rtf"} <= set(tts["ours"])
    assert set(tts["trained"]) == {"align", "train"}  # the aligner's RUN/best chained into FastSpeech's --init
