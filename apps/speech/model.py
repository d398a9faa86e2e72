"""The speech models on the shared core.

- :class:`SpeechRecognizer` (ASR): audio -> log-mels (+ SpecAugment while training) ->
  convolutional subsampling (the modality adapter) -> the shared :class:`Encoder`, with
  optional Conformer convolution modules interleaved -> a CTC head, and optionally a
  shared cross-attending :class:`Decoder` trained jointly with CTC (decoded by the core's
  ``generate()``).
- :class:`FastSpeech` (TTS): token ids -> shared encoder -> duration predictor and length
  regulator -> shared encoder over frames -> mel frames, refined by a post-net.

Both take raw 16 kHz audio or token ids and keep their feature settings in their config,
so a model folder is enough to transcribe or synthesise.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from apps.speech.features import FeatureConfig, LogMel, SpecAugment
from apps.speech.modules import (ConformerConvolution, ConvSubsampling, DurationPredictor, PostNet, length_regulate,
                                 subsampled_lengths)
from shared.config import config_from_dict
from shared.models import Encoder, TransformerConfig
from shared.models.adapters import Adapter, TokenEmbedding
from shared.models.ctc_recognizer import CTCRecognizer
from shared.model_folder import register_builder
from shared.tokenizers import Tokenizer


def padding_from_lengths(lengths: Tensor, width: int) -> Tensor:
    """``[B, width]`` mask, True past each row's length."""
    return torch.arange(width, device=lengths.device)[None, :] >= lengths[:, None]


def normalise_features(features: Tensor, lengths: Tensor) -> Tensor:
    """Per-utterance, per-band mean and variance normalisation over the valid frames."""
    valid = (~padding_from_lengths(lengths, features.shape[-1])).unsqueeze(1).float()
    count = valid.sum(-1, keepdim=True).clamp(min=1)
    mean = (features * valid).sum(-1, keepdim=True) / count
    var = (((features - mean) * valid) ** 2).sum(-1, keepdim=True) / count
    return (features - mean) / (var + 1e-5).sqrt() * valid


@dataclass
class AsrModelConfig:
    vocab_size: int = 0  # CTC vocabulary (the tokenizer's); id 0 (<pad>) is the blank
    features: FeatureConfig = field(default_factory=FeatureConfig)
    d_model: int = 144
    n_heads: int = 4
    layers: int = 8
    d_ff: int = 576
    dropout: float = 0.1
    position: str = "rotary"
    subsample: int = 4  # 1, 2 or 4: frames per encoder token (10 ms frames)
    subsample_channels: int = 32
    conv_kernel: int = 15  # Conformer convolution after each block; 0 = a plain transformer encoder
    spec_augment: bool = True
    decoder_layers: int = 0  # > 0: an attention decoder trained jointly with CTC
    max_len: int = 4096


class AudioAdapter(Adapter):
    """``{"audio": [B, S], "audio_lengths": [B]}`` -> ``(tokens [B, T, D], padding [B, T])``."""

    def __init__(self, cfg: AsrModelConfig):
        super().__init__()
        self.output_dim = cfg.d_model
        self.hop = cfg.features.hop_length
        self.logmel = LogMel(cfg.features)
        self.augment = SpecAugment() if cfg.spec_augment else None
        self.subsample = ConvSubsampling(cfg.features.n_mels, cfg.d_model, cfg.subsample_channels, cfg.subsample)

    def frame_lengths(self, audio_lengths: Tensor) -> Tensor:
        return audio_lengths // self.hop + 1

    def forward(self, batch: Mapping[str, Tensor]) -> tuple[Tensor, Tensor]:
        lengths = self.frame_lengths(batch["audio_lengths"])
        features = normalise_features(self.logmel(batch["audio"]), lengths)
        if self.augment is not None and self.training:
            features = self.augment(features, lengths)
        tokens = self.subsample(features)
        token_lengths = subsampled_lengths(lengths, self.subsample.factor).clamp(max=tokens.shape[1])
        return tokens, padding_from_lengths(token_lengths, tokens.shape[1])


class SpeechRecognizer(CTCRecognizer):
    """CTC (and optionally attention) speech recogniser on the shared encoder."""

    def __init__(self, cfg: AsrModelConfig):
        if cfg.vocab_size <= 4:
            raise ValueError("an ASR model needs a vocabulary (vocab_size > 4)")
        core = TransformerConfig(d_model=cfg.d_model, n_heads=cfg.n_heads, encoder_layers=cfg.layers,
                                 decoder_layers=max(cfg.decoder_layers, 1), d_ff=cfg.d_ff, dropout=cfg.dropout,
                                 position=cfg.position, max_len=cfg.max_len, vocab_size=cfg.vocab_size)
        convs = ([ConformerConvolution(cfg.d_model, cfg.conv_kernel, cfg.dropout) for _ in range(cfg.layers)]
                 if cfg.conv_kernel else None)
        super().__init__(AudioAdapter(cfg), core, with_decoder=cfg.decoder_layers > 0, interleaved=convs)
        self.cfg = cfg


@dataclass
class TtsModelConfig:
    vocab_size: int = 0  # input symbols (phonemes or characters) incl. the 4 special ids
    features: FeatureConfig = field(default_factory=FeatureConfig)
    d_model: int = 192
    n_heads: int = 2
    encoder_layers: int = 4
    decoder_layers: int = 4
    d_ff: int = 768
    conv_kernel: int = 9  # convolution module after each block (FastSpeech's conv FFN role); 0 = none
    dropout: float = 0.1
    duration_channels: int = 256
    postnet_layers: int = 5
    postnet_channels: int = 256
    mel_mean: float = 0.0  # target log-mel normalisation, measured on the training set
    mel_std: float = 1.0
    max_len: int = 4096


@dataclass
class Synthesis:
    mel: Tensor  # [B, n_mels, T] log-mel (denormalised)
    mel_padding: Tensor  # [B, T]
    durations: Tensor  # [B, S] frames per input token


class FastSpeech(nn.Module):
    """Non-autoregressive text-to-mel model with explicit token durations."""

    def __init__(self, cfg: TtsModelConfig):
        super().__init__()
        if cfg.vocab_size <= 4:
            raise ValueError("a TTS model needs an input vocabulary (vocab_size > 4)")
        self.cfg = cfg
        core = TransformerConfig(d_model=cfg.d_model, n_heads=cfg.n_heads, encoder_layers=cfg.encoder_layers,
                                 decoder_layers=cfg.decoder_layers, d_ff=cfg.d_ff, dropout=cfg.dropout,
                                 position="sinusoidal", max_len=cfg.max_len, vocab_size=cfg.vocab_size)

        def convs(n: int) -> list[nn.Module] | None:
            return [ConformerConvolution(cfg.d_model, cfg.conv_kernel, cfg.dropout) for _ in range(n)] if cfg.conv_kernel else None

        self.embedding = TokenEmbedding(cfg.vocab_size, cfg.d_model)
        self.encoder = Encoder(core, cfg.encoder_layers, interleaved=convs(cfg.encoder_layers))
        self.durations = DurationPredictor(cfg.d_model, cfg.duration_channels, dropout=cfg.dropout)
        self.decoder = Encoder(core, cfg.decoder_layers, interleaved=convs(cfg.decoder_layers))
        self.to_mel = nn.Linear(cfg.d_model, cfg.features.n_mels)
        self.postnet = PostNet(cfg.features.n_mels, cfg.postnet_channels, cfg.postnet_layers, dropout=cfg.dropout)

    def _frames(self, hidden: Tensor, durations: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        frames, padding = length_regulate(hidden, durations)
        out = self.decoder(frames, padding)
        coarse = self.to_mel(out).transpose(1, 2)  # [B, M, T], normalised units
        return coarse, coarse + self.postnet(coarse), padding

    def forward(self, tokens: Tensor, durations: Tensor) -> dict[str, Tensor]:
        """Teacher-forced outputs: ``log_durations`` ``[B, S]``, ``coarse``/``mel`` ``[B, M, T]`` (normalised)."""
        padding = tokens == 0
        hidden = self.encoder(self.embedding.embed(tokens), padding)
        coarse, mel, mel_padding = self._frames(hidden, durations)
        return {"log_durations": self.durations(hidden, padding), "coarse": coarse, "mel": mel, "mel_padding": mel_padding}

    def normalise(self, log_mel: Tensor) -> Tensor:
        return (log_mel - self.cfg.mel_mean) / self.cfg.mel_std

    @torch.no_grad()
    def synthesize(self, tokens: Tensor, speed: float = 1.0) -> Synthesis:
        """Log-mels for padded token ids ``[B, S]`` with predicted durations (``speed`` > 1 is faster)."""
        padding = tokens == 0
        hidden = self.encoder(self.embedding.embed(tokens), padding)
        frames = torch.clamp(torch.round((torch.exp(self.durations(hidden, padding)) - 1) / speed), min=0).long()
        frames = frames.masked_fill(padding, 0)
        frames[frames.sum(1) == 0, 0] = 1  # never an empty utterance
        _, mel, mel_padding = self._frames(hidden, frames)
        return Synthesis(mel * self.cfg.mel_std + self.cfg.mel_mean, mel_padding, frames)


@register_builder("speech-asr")
def _build_asr(config: dict[str, Any], tokenizer: Tokenizer | None) -> nn.Module:
    return SpeechRecognizer(config_from_dict(AsrModelConfig, config))


@register_builder("speech-tts")
def _build_tts(config: dict[str, Any], tokenizer: Tokenizer | None) -> nn.Module:
    return FastSpeech(config_from_dict(TtsModelConfig, config))
