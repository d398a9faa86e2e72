"""Training on the shared loop: the recogniser (ASR), and TTS's two stages.

ASR checkpoints are selected on the validation split only (greedy CER on up to
``valid_limit`` utterances); test utterances are read by evaluation alone. The character LM
is trained on text that never includes a validation or test sentence.

TTS trains on one voice's (text, audio) pairs in two stages:

1. ``align``: an aligner (the ASR model over phonemes) is trained on the target voice;
2. ``train``: CTC forced alignment over the aligner's output gives every phoneme a duration
   in mel frames, adding up to the utterance's frame count, and FastSpeech learns phonemes +
   durations -> mel frames (and to predict the durations).

The synthesizer's model folder holds FastSpeech and, in ``config.json`` metadata, the phoneme
alphabet; the vocoder (Griffin-Lim) needs no weights.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, fields, replace
from functools import partial
from pathlib import Path

import numpy as np
import torch
from torch import nn

from apps.speech.config import AsrTrainConfig, DecodeConfig, TtsTrainConfig
from apps.speech.data import AsrTrainingSet, TtsTrainingSet, Utterance, collate_asr, collate_tts
from apps.speech.features import LogMel
from apps.speech.metrics import cer, wer
from apps.speech.model import AsrModelConfig, FastSpeech, SpeechRecognizer, TtsModelConfig
from apps.speech.phonemes import PhonemeAlphabet, phoneme_strings
from apps.speech.predict import LM_FILE, Recognizer
from shared.char_lm import CharNgramLM
from shared.config import config_to_dict
from shared.ctc import forced_align_durations
from shared.errors import ConfigError, DataError
from shared.model_folder import load_model
from shared.tokenizers import CharTokenizer
from shared.training import TrainConfig, Trainer, TrainResult, length_bucketed_batches, seed_everything


@dataclass
class FittedAsr:
    recognizer: Recognizer
    result: TrainResult
    model_dir: Path


def texts_tokenizer(texts: list[str]) -> CharTokenizer:
    return CharTokenizer.train(texts)


def loop_config(cfg: TrainConfig, **changes) -> TrainConfig:
    """The shared loop's settings of ``cfg`` (a subclass with stage settings) as a plain TrainConfig."""
    return replace(TrainConfig(**{f.name: getattr(cfg, f.name) for f in fields(TrainConfig)}), **changes)


def fit_asr(model_cfg: AsrModelConfig, cfg: AsrTrainConfig, train: list[Utterance], valid: list[Utterance],
            out_dir: str | Path, lm_texts: list[str] | None = None, resume: bool = False,
            metadata: dict | None = None) -> FittedAsr:
    """Train on ``train``; keep the checkpoint with the lowest validation CER; add the LM to it."""
    train = [u for u in train if u.duration <= cfg.max_train_seconds]
    if not train or not valid:
        raise DataError("ASR training needs training and validation utterances")
    tokenizer = texts_tokenizer([u.text for u in train])
    model_cfg = replace(model_cfg, vocab_size=tokenizer.vocab_size)
    seed_everything(cfg.seed)
    model = SpeechRecognizer(model_cfg)
    held_out = valid[: cfg.valid_limit]
    valid_audio = [u.load() for u in held_out]

    def loss_fn(m: nn.Module, batch: dict) -> tuple[torch.Tensor, dict[str, float]]:
        return m.joint_loss(batch, cfg.ctc_weight)

    def eval_fn(m: nn.Module) -> dict[str, float]:
        texts = [t.text for t in Recognizer(m, tokenizer, None, DecodeConfig(method="greedy")).transcribe(valid_audio)]
        refs = [u.text for u in held_out]
        return {"val_cer": cer(refs, texts), "val_wer": wer(refs, texts)}

    data = AsrTrainingSet(train, tokenizer.encode, cfg.speeds, cfg.gain_db)
    lengths = data.lengths()
    trainer = Trainer(model, loop_config(cfg, monitor="val_cer", monitor_mode="min"), out_dir, loss_fn, "speech-asr",
                      config_to_dict(model_cfg), eval_fn=eval_fn, collate_fn=collate_asr, tokenizer=tokenizer,
                      metadata={"task": "asr", **(metadata or {})}, batches_fn=partial(_bucketed, lengths))
    result = trainer.fit(data, resume=resume)
    best = Path(out_dir) / "best"
    if cfg.lm_order:
        alphabet = "".join(tokenizer.chars)
        texts = [t for t in (lm_texts if lm_texts is not None else [u.text for u in train]) if set(t) <= set(alphabet)]
        lm = CharNgramLM.train(texts, order=cfg.lm_order, alphabet=alphabet)
        lm.save(best / LM_FILE)
    return FittedAsr(Recognizer.from_folder(best), result, best)


def _bucketed(lengths: list[int], num_items: int, batch_size: int, seed: int, epoch: int) -> list[list[int]]:
    return length_bucketed_batches(lengths, batch_size, seed, epoch)


# --- TTS ---------------------------------------------------------------------------------------

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


def _as_phonemes(utterances: list[Utterance], phonemes: list[str]) -> list[Utterance]:
    return [replace(u, text=p) for u, p in zip(utterances, phonemes, strict=True) if p]


def fit_aligner(model_cfg: AsrModelConfig, cfg: AsrTrainConfig, train: list[Utterance], valid: list[Utterance],
                out_dir: str | Path, resume: bool = False) -> FittedAsr:
    """TTS's first stage: a CTC recogniser of the voice's phonemes (the alphabet in its metadata)."""
    if not train or not valid:
        raise DataError("TTS training needs training and validation utterances")
    train_phonemes, alphabet = phoneme_strings([u.text for u in train])
    valid_phonemes, _ = phoneme_strings([u.text for u in valid], alphabet)
    return fit_asr(model_cfg, cfg, _as_phonemes(train, train_phonemes), _as_phonemes(valid, valid_phonemes), out_dir,
                   resume=resume, metadata={"task": "aligner", "alphabet": alphabet.to_dict()})


def load_aligner(folder: str | Path) -> tuple[Recognizer, PhonemeAlphabet, float | None]:
    """An aligner model folder (the ``align`` stage's RUN/best): recogniser, alphabet, validation PER."""
    loaded = load_model(folder)
    if loaded.metadata.get("task") != "aligner" or "alphabet" not in loaded.metadata:
        raise ConfigError(f"{folder} is not a TTS aligner (train one with the align stage and pass its RUN/best to --init)")
    return Recognizer.from_folder(folder), PhonemeAlphabet.from_dict(loaded.metadata["alphabet"]), _best_per(loaded.metadata)


def _best_per(metadata: dict) -> float | None:
    """The validation phoneme error rate the best checkpoint was chosen on (its ``val_cer``)."""
    value = (metadata.get("metrics") or {}).get("val_cer")
    return float(value) if isinstance(value, (int, float)) else None


@dataclass
class FittedTts:
    model_dir: Path
    result: TrainResult
    aligner_per: float | None
    align_seconds: float  # aligning every training utterance


def fit_fastspeech(model_cfg: TtsModelConfig, cfg: TtsTrainConfig, aligner_dir: str | Path, train: list[Utterance],
                   valid: list[Utterance], out_dir: str | Path, resume: bool = False) -> FittedTts:
    """TTS's last stage: durations by forced alignment with the aligner, then FastSpeech."""
    if not train or not valid:
        raise DataError("TTS training needs training and validation utterances")
    recognizer, alphabet, aligner_per = load_aligner(aligner_dir)
    train_phonemes, _ = phoneme_strings([u.text for u in train], alphabet)
    valid_phonemes, _ = phoneme_strings([u.text for u in valid], alphabet)
    align_start = time.perf_counter()
    logmel = LogMel(model_cfg.features)
    tokenizer = recognizer.tokenizer
    factor = recognizer.model.cfg.subsample
    tokens, durations, mels = [], [], []
    for u, text in zip(train, train_phonemes, strict=True):
        ids = tokenizer.encode(text)
        if not ids:
            continue
        audio = u.load()
        mel = logmel(torch.from_numpy(audio)[None])[0]
        log_probs = recognizer.log_probs([audio])[0]
        try:
            aligned = forced_align_durations(log_probs, ids, blank=0)
        except ValueError:
            continue  # too fast for its frame count; rare
        tokens.append(ids)
        durations.append(frame_durations(aligned, factor, mel.shape[-1]))
        mels.append(mel)
    if not tokens:
        raise DataError("no training utterance could be aligned")
    align_seconds = time.perf_counter() - align_start
    stacked = torch.cat(mels, dim=-1)
    model_cfg = replace(model_cfg, vocab_size=tokenizer.vocab_size, mel_mean=float(stacked.mean()),
                        mel_std=float(stacked.std()))
    seed_everything(cfg.seed)
    model = FastSpeech(model_cfg)
    data = TtsTrainingSet(tokens, durations, [model.normalise(m) for m in mels])
    valid_ids = [tokenizer.encode(p) for p in valid_phonemes[:64]]
    valid_mels = [model.normalise(logmel(torch.from_numpy(u.load())[None])[0]) for u in valid[:64]]

    def loss_fn(m: nn.Module, batch: dict) -> tuple[torch.Tensor, dict[str, float]]:
        return tts_loss(m, batch, cfg.duration_loss_weight)

    def eval_fn(m: nn.Module) -> dict[str, float]:
        return {"val_mel_l1": predicted_mel_l1(m, valid_ids, valid_mels)}

    lengths = data.lengths()
    trainer = Trainer(model, loop_config(cfg, monitor="val_mel_l1", monitor_mode="min"), out_dir, loss_fn, "speech-tts",
                      config_to_dict(model_cfg), eval_fn=eval_fn, collate_fn=collate_tts, tokenizer=tokenizer,
                      metadata={"task": "tts", "alphabet": alphabet.to_dict(), "aligner_per": aligner_per},
                      batches_fn=lambda n, bs, seed, epoch: length_bucketed_batches(lengths, bs, seed, epoch))
    result = trainer.fit(data, resume=resume)
    return FittedTts(Path(out_dir) / "best", result, aligner_per, align_seconds)


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
