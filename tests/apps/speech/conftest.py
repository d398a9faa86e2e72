"""Tiny generated English speech and one tiny trained ASR and TTS model, shared by the speech tests."""

import pytest

from apps.speech import steps


@pytest.fixture(scope="session")
def tiny_speech(tmp_path_factory):
    root = tmp_path_factory.mktemp("speech")
    cfg = steps.config("tiny")
    data = steps.prepare_data(cfg, root / "data", progress=False)
    asr = steps.train_model(cfg, data, root / "asr")
    tts_cfg = steps.config("tiny", ["task=tts"])
    tts = steps.train_model(tts_cfg, data, root / "tts")
    return {"cfg": cfg, "tts_cfg": tts_cfg, "data": data, "asr": asr, "tts": tts, "root": root}
