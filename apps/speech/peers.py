"""Classic ASR peer: CMU PocketSphinx with the US-English acoustic model, LM and dictionary in its wheel.

``hyp().hypstr`` already leaves out ``<s>``, ``</s>``, ``<sil>`` and noise
fillers and prints alternate pronunciations (``the(2)`` in ``seg()``) as the
base word; :func:`normalise_transcript` still strips any ``<...>``,
``[...]``, ``++...++`` filler and ``(n)`` suffix so the output is lower-case
``a-z``, apostrophes and single spaces. On silence or noise PocketSphinx
often outputs a short word such as "if" rather than nothing.
"""

from __future__ import annotations

import re

import numpy as np
import torch
import torchaudio

from shared.errors import ConfigError, DataError

SAMPLE_RATE = 16000
PEERS = ("pocketsphinx",)  # the names evaluate and the configs' peers take
_FILLERS = re.compile(r"<[^>]*>|\[[^\]]*\]|\+\+[^+]*\+\+|\(\d+\)")
_NOT_ALLOWED = re.compile(r"[^a-z' ]+")


def normalise_transcript(text: str) -> str:
    """Lower-case, fillers and pronunciation suffixes removed, only ``a-z'`` and single spaces."""
    text = _FILLERS.sub(" ", text.lower())
    return " ".join(_NOT_ALLOWED.sub(" ", text).split())


class PocketSphinx:
    """``transcribe(float32 mono audio) -> normalised text``; the decoder is created on first use.

    ``options`` go to ``pocketsphinx.Decoder`` (e.g. ``hmm``, ``lm``, ``dict``
    paths); none are needed for the bundled US-English model.
    """

    def __init__(self, **options):
        self.options = options
        self._decoder = None

    @property
    def decoder(self):
        if self._decoder is None:
            try:
                import pocketsphinx
            except ImportError as err:
                raise ConfigError("pocketsphinx not installed: pip install pocketsphinx") from err
            self._decoder = pocketsphinx.Decoder(**self.options)
        return self._decoder

    def transcribe(self, audio: np.ndarray, sample_rate: int = SAMPLE_RATE) -> str:
        """Decode one utterance (float samples in [-1, 1]); resampled to 16 kHz if needed."""
        wave = np.asarray(audio, dtype=np.float32)
        if wave.ndim != 1:
            raise DataError(f"pocketsphinx expects mono audio [samples], got shape {wave.shape}")
        if sample_rate != SAMPLE_RATE:
            wave = torchaudio.functional.resample(torch.from_numpy(wave), sample_rate, SAMPLE_RATE).numpy()
        pcm = (np.clip(wave, -1.0, 1.0) * 32767.0).round().astype(np.int16)
        decoder = self.decoder
        decoder.start_utt()
        decoder.process_raw(pcm.tobytes(), full_utt=True)
        decoder.end_utt()
        hyp = decoder.hyp()
        return normalise_transcript(hyp.hypstr) if hyp is not None else ""
