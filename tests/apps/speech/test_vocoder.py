"""Griffin-Lim vocoder: right length, and its audio has nearly the same log-mel as the input."""

import math
import shutil
import subprocess

import pytest
import soundfile as sf
import torch
import torchaudio

from apps.speech.features import LogMel
from apps.speech.vocoder import GriffinLimVocoder
from shared.errors import DataError


def _round_trip_error(audio: torch.Tensor) -> tuple[int, float]:
    """Output length and mean |log-mel difference| over bins within 40 dB of the loudest."""
    extractor = LogMel()
    features = extractor(audio[None])[0]
    torch.manual_seed(0)
    out = GriffinLimVocoder()(features)
    again = extractor(out[None])[0]
    loud = features > features.max() - math.log(100.0)
    return out.shape[-1], (again - features).abs()[loud].mean().item()


def test_chirp_round_trip():
    t = torch.arange(8000) / 16000
    chirp = 0.5 * torch.sin(2 * torch.pi * (200 * t + 2500 * t**2))
    length, error = _round_trip_error(chirp)
    assert length == 8000
    assert error < 0.4  # about 0.2 nats; pure tones are Griffin-Lim's hardest case


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")
def test_speech_round_trip(tmp_path):
    subprocess.run(["espeak-ng", "-w", str(tmp_path / "s.wav"), "the birch canoe slid on the smooth planks"], check=True)
    audio, rate = sf.read(tmp_path / "s.wav", dtype="float32")
    speech = torchaudio.functional.resample(torch.from_numpy(audio), rate, 16000)
    speech = speech[: len(speech) // 160 * 160]
    length, error = _round_trip_error(speech)
    assert length == len(speech)
    assert error < 0.15  # about 0.06 nats (0.5 dB)


def test_batches_and_bad_shapes():
    vocoder = GriffinLimVocoder(n_iter=4)
    out = vocoder(torch.zeros(2, 80, 11) - 5.0)
    assert out.shape == (2, 1600) and out.dtype == torch.float32
    with pytest.raises(DataError, match="n_mels=80"):
        vocoder(torch.zeros(40, 11))
