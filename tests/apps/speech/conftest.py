"""Tiny generated English speech and one tiny trained ASR and TTS model, shared by the speech tests."""

import pytest

from apps.speech.app import ASR, TTS


@pytest.fixture(scope="session")
def tiny_speech(tmp_path_factory):
    root = tmp_path_factory.mktemp("speech")
    cfg = ASR.load_config("tiny")
    data = ASR.prepare(cfg, root / "data")
    asr = ASR.train(cfg, data, root / "asr")
    tts_cfg = TTS.load_config("tiny")
    tts = TTS.train(tts_cfg, data, root / "tts")  # without --init: the aligner first, in RUN/aligner
    return {"cfg": cfg, "tts_cfg": tts_cfg, "data": data, "asr": asr.to_dict(), "tts": tts.to_dict(), "root": root}
