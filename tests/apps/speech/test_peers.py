"""PocketSphinx peer: transcript normalisation and a real synthesised sentence."""

import shutil
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from apps.speech.peers import PocketSphinx, normalise_transcript
from shared.errors import ConfigError, DataError

pytest.importorskip("pocketsphinx")


def test_normalise_strips_fillers_and_pronunciation_marks():
    assert normalise_transcript("<s> The(2) <sil> [NOISE] don't ++BREATH++ STOP! </s>") == "the don't stop"
    assert normalise_transcript("") == ""


@pytest.mark.skipif(shutil.which("flite") is None, reason="flite is not installed")
def test_transcribes_a_flite_sentence(tmp_path):
    wav = tmp_path / "fox.wav"
    subprocess.run(["flite", "-voice", "slt", "-t", "the quick brown fox jumps over the lazy dog", "-o", str(wav)], check=True)
    audio, rate = sf.read(wav, dtype="float32")
    peer = PocketSphinx()
    assert peer.transcribe(audio, sample_rate=rate) == "the quick brown fox jumps over the lazy dog"
    with pytest.raises(DataError, match="mono"):
        peer.transcribe(np.zeros((2, 100), np.float32))


def test_missing_pocketsphinx_is_a_clear_config_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "pocketsphinx", None)
    with pytest.raises(ConfigError, match="pip install pocketsphinx"):
        PocketSphinx().transcribe(np.zeros(1600, np.float32))
