"""Text to speech: phoneme front end, a CTC aligner for durations, FastSpeech, Griffin-Lim.

Training runs in three stages on one voice's (text, audio) pairs:

1. an aligner (the ASR model over phonemes) is trained on the target voice;
2. CTC forced alignment over the aligner's output gives every phoneme a duration in
   mel frames, adding up to the utterance's frame count;
3. FastSpeech learns phonemes + durations -> mel frames (and to predict the durations).

The model folder of a synthesizer holds FastSpeech and, in ``config.json`` metadata, the
phoneme alphabet; the vocoder (Griffin-Lim) needs no weights.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
from torch import nn

from apps.speech.asr import AsrTrainConfig, fit_asr
from apps.speech.audio import SAMPLE_RATE
from shared.ctc import forced_align_durations
from apps.speech.data import TtsTrainingSet, Utterance, collate_tts
from apps.speech.features import LogMel
from apps.speech.model import AsrModelConfig, FastSpeech, TtsModelConfig
from apps.speech.phonemes import PhonemeAlphabet
from apps.speech.text import normalize_english, phonemize
from apps.speech.vocoder import GriffinLimVocoder
from shared.config import config_to_dict
from shared.errors import ConfigError, DataError
from shared.model_folder import load_model
from shared.training import TrainConfig, Trainer, TrainResult, length_bucketed_batches, seed_everything


def _aligner_defaults() -> AsrTrainConfig:
    return AsrTrainConfig(model=AsrModelConfig(d_model=128, layers=4, d_ff=512, subsample=2, conv_kernel=15,
                                               spec_augment=False),
                          train=TrainConfig(max_steps=1500, batch_size=16, lr=1e-3, warmup_steps=100, eval_every=250),
                          speeds=[1.0], gain_db=0.0, lm_order=0)


@dataclass
class TtsTrainConfig:
    aligner: AsrTrainConfig = field(default_factory=_aligner_defaults)
    model: TtsModelConfig = field(default_factory=TtsModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    duration_loss_weight: float = 1.0
    griffin_lim_iters: int = 32


def phoneme_strings(texts: list[str], alphabet: PhonemeAlphabet | None = None) -> tuple[list[str], PhonemeAlphabet]:
    """Normalised English texts -> one-character-per-phoneme strings (and the alphabet used)."""
    sequences = phonemize([normalize_english(t) for t in texts])
    alphabet = alphabet or PhonemeAlphabet.from_sequences(sequences)
    return [alphabet.encode(s) for s in sequences], alphabet


def frame_durations(aligner_durations: list[int], factor: int, frames: int) -> list[int]:
    """Aligner durations (encoder frames) scaled to mel frames, adjusted to add up to ``frames``."""
    durations = [d * factor for d in aligner_durations]
    diff = frames - sum(durations)
    order = sorted(range(len(durations)), key=lambda i: -durations[i])
    k = 0
    while diff:
        i = order[k % len(order)]
        step = 1 if diff > 0 else -1
        if durations[i] + step >= 0:
            durations[i] += step
            diff -= step
        k += 1
    return durations


@dataclass
class FittedTts:
    model_dir: Path
    aligner_dir: Path
    result: TrainResult
    aligner_per: float | None
    aligner_seconds: float  # aligner training plus aligning every training utterance


def fit_tts(cfg: TtsTrainConfig, train: list[Utterance], valid: list[Utterance], out_dir: str | Path,
            resume: bool = False, progress: bool = True) -> FittedTts:
    """Aligner, durations, then FastSpeech on one voice's utterances (texts in plain English)."""
    if not train or not valid:
        raise DataError("TTS training needs training and validation utterances")
    out = Path(out_dir)
    train_phonemes, alphabet = phoneme_strings([u.text for u in train])
    valid_phonemes, _ = phoneme_strings([u.text for u in valid], alphabet)
    as_phonemes = lambda us, ps: [replace(u, text=p) for u, p in zip(us, ps, strict=True) if p]  # noqa: E731
    aligner = fit_asr(cfg.aligner, as_phonemes(train, train_phonemes), as_phonemes(valid, valid_phonemes),
                      out / "aligner", resume=resume, metadata={"task": "aligner", "alphabet": alphabet.to_dict()})
    history = aligner.result.history
    aligner_per = min((h["val_cer"] for h in history if "val_cer" in h), default=None)
    align_start = time.perf_counter()

    logmel = LogMel(cfg.model.features)
    tokenizer = aligner.recognizer.tokenizer
    tokens, durations, mels = [], [], []
    factor = cfg.aligner.model.subsample
    for u, text in zip(train, train_phonemes, strict=True):
        ids = tokenizer.encode(text)
        if not ids:
            continue
        audio = u.load()
        mel = logmel(torch.from_numpy(audio)[None])[0]
        log_probs = aligner.recognizer.log_probs([audio])[0]
        try:
            aligned = forced_align_durations(log_probs, ids, blank=0)
        except ValueError:
            continue  # too fast for its frame count; rare
        tokens.append(ids)
        durations.append(frame_durations(aligned, factor, mel.shape[-1]))
        mels.append(mel)
    if not tokens:
        raise DataError("no training utterance could be aligned")
    aligner_seconds = aligner.result.seconds + time.perf_counter() - align_start
    stacked = torch.cat(mels, dim=-1)
    model_cfg = replace(cfg.model, vocab_size=tokenizer.vocab_size, mel_mean=float(stacked.mean()),
                        mel_std=float(stacked.std()))
    seed_everything(cfg.train.seed)
    model = FastSpeech(model_cfg)
    data = TtsTrainingSet(tokens, durations, [model.normalise(m) for m in mels])
    valid_ids = [tokenizer.encode(p) for p in valid_phonemes[:64]]
    valid_mels = [model.normalise(logmel(torch.from_numpy(u.load())[None])[0]) for u in valid[:64]]

    def loss_fn(m: nn.Module, batch: dict) -> tuple[torch.Tensor, dict[str, float]]:
        return tts_loss(m, batch, cfg.duration_loss_weight)

    def eval_fn(m: nn.Module) -> dict[str, float]:
        return {"val_mel_l1": predicted_mel_l1(m, valid_ids, valid_mels)}

    train_cfg = replace(cfg.train, monitor="val_mel_l1", monitor_mode="min", progress=progress and cfg.train.progress)
    lengths = data.lengths()
    trainer = Trainer(model, train_cfg, out / "tts", loss_fn, "speech-tts", config_to_dict(model_cfg), eval_fn=eval_fn,
                      collate_fn=collate_tts, tokenizer=tokenizer,
                      metadata={"task": "tts", "alphabet": alphabet.to_dict(), "aligner_per": aligner_per},
                      batches_fn=lambda n, bs, seed, epoch: length_bucketed_batches(lengths, bs, seed, epoch))
    result = trainer.fit(data, resume=resume)
    return FittedTts(out / "tts" / "best", aligner.model_dir, result, aligner_per, aligner_seconds)


def tts_loss(model: FastSpeech, batch: dict, duration_weight: float = 1.0) -> tuple[torch.Tensor, dict[str, float]]:
    """L1 on mel frames before and after the post-net, MSE on log(1 + duration)."""
    out = model(batch["tokens"], batch["durations"])
    target = batch["mel"][..., : out["mel"].shape[-1]]
    valid = (~out["mel_padding"]).unsqueeze(1).float()
    count = valid.sum() * target.shape[1]
    mel_l1 = ((out["mel"] - target).abs() * valid).sum() / count
    coarse_l1 = ((out["coarse"] - target).abs() * valid).sum() / count
    tokens = (batch["tokens"] != 0).float()
    log_target = torch.log1p(batch["durations"].float())
    duration = (((out["log_durations"] - log_target) ** 2) * tokens).sum() / tokens.sum()
    loss = mel_l1 + coarse_l1 + duration_weight * duration
    return loss, {"mel": mel_l1.item(), "dur": duration.item()}


@torch.no_grad()
def predicted_mel_l1(model: FastSpeech, token_ids: list[list[int]], mels: list[torch.Tensor]) -> float:
    """Mean L1 between synthesised (predicted durations) and true normalised log-mels, after
    stretching the synthesis to the true length, so duration errors count too."""
    errors = []
    for ids, mel in zip(token_ids, mels, strict=True):
        if not ids:
            continue
        pred = model.normalise(model.synthesize(torch.tensor([ids])).mel)  # [1, M, T']
        stretched = nn.functional.interpolate(pred, size=mel.shape[-1], mode="linear", align_corners=False)[0]
        errors.append(float((stretched - mel).abs().mean()))
    return float(np.mean(errors)) if errors else float("nan")


class Synthesizer:
    """Text -> 16 kHz audio with a trained FastSpeech folder and the Griffin-Lim vocoder."""

    def __init__(self, folder: str | Path, griffin_lim_iters: int = 32):
        loaded = load_model(folder)
        if not isinstance(loaded.model, FastSpeech) or loaded.tokenizer is None:
            raise ConfigError(f"{folder} is not a speech synthesis model")
        self.model: FastSpeech = loaded.model
        self.tokenizer = loaded.tokenizer
        self.alphabet = PhonemeAlphabet.from_dict(loaded.metadata["alphabet"])
        self.vocoder = GriffinLimVocoder(self.model.cfg.features, n_iter=griffin_lim_iters)
        self.hop = self.model.cfg.features.hop_length

    def token_ids(self, texts: list[str]) -> list[list[int]]:
        strings, _ = phoneme_strings(texts, self.alphabet)
        return [self.tokenizer.encode(s) for s in strings]

    def log_mels(self, texts: list[str], speed: float = 1.0) -> list[torch.Tensor]:
        """Predicted log-mels ``[n_mels, T]`` per text."""
        mels = []
        for ids in self.token_ids(texts):
            if not ids:
                raise DataError("nothing to say: the text has no pronounceable words")
            synthesis = self.model.synthesize(torch.tensor([ids]), speed)
            frames = int((~synthesis.mel_padding[0]).sum())
            mels.append(synthesis.mel[0, :, :frames])
        return mels

    def synthesize(self, texts: list[str], speed: float = 1.0) -> list[np.ndarray]:
        """Float32 16 kHz audio per text."""
        return [self.vocoder(mel).numpy().astype(np.float32) for mel in self.log_mels(texts, speed)]

    def timed(self, texts: list[str]) -> tuple[list[np.ndarray], float]:
        """Audio and the real-time factor (compute seconds per second of audio made)."""
        start = time.perf_counter()
        audios = self.synthesize(texts)
        return audios, (time.perf_counter() - start) / max(sum(len(a) for a in audios) / SAMPLE_RATE, 1e-9)


def expected_samples(frames: int, hop: int) -> int:
    """Audio samples Griffin-Lim makes for ``frames`` mel frames (centred STFT)."""
    return (frames - 1) * hop

