"""Train a speech recogniser on the shared training loop.

Checkpoints are selected on the validation split only (greedy CER on up to
``valid_limit`` utterances); test utterances are read by evaluation alone. The
character LM is trained on text that never includes a validation or test sentence.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path

import torch
from torch import nn

from apps.speech.data import AsrTrainingSet, Utterance, collate_asr
from shared.char_lm import CharNgramLM
from apps.speech.metrics import cer, wer
from apps.speech.model import AsrModelConfig, SpeechRecognizer
from apps.speech.recognize import LM_FILE, DecodeConfig, Recognizer
from shared.config import config_to_dict
from shared.errors import DataError
from shared.tokenizers import CharTokenizer
from shared.training import TrainConfig, Trainer, TrainResult, length_bucketed_batches, seed_everything


@dataclass
class AsrTrainConfig:
    model: AsrModelConfig = field(default_factory=AsrModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    ctc_weight: float = 1.0  # < 1 with model.decoder_layers > 0: joint CTC/attention training
    speeds: list[float] = field(default_factory=lambda: [0.9, 1.0, 1.1])  # speed perturbation
    gain_db: float = 6.0
    max_train_seconds: float = 16.0
    valid_limit: int = 200
    lm_order: int = 6  # 0 = no character LM


@dataclass
class FittedAsr:
    recognizer: Recognizer
    result: TrainResult
    model_dir: Path


def texts_tokenizer(texts: list[str]) -> CharTokenizer:
    return CharTokenizer.train(texts)


def fit_asr(cfg: AsrTrainConfig, train: list[Utterance], valid: list[Utterance], out_dir: str | Path,
            lm_texts: list[str] | None = None, resume: bool = False, metadata: dict | None = None) -> FittedAsr:
    """Train on ``train``; keep the checkpoint with the lowest validation CER; add the LM to it."""
    train = [u for u in train if u.duration <= cfg.max_train_seconds]
    if not train or not valid:
        raise DataError("ASR training needs training and validation utterances")
    tokenizer = texts_tokenizer([u.text for u in train])
    model_cfg = replace(cfg.model, vocab_size=tokenizer.vocab_size)
    seed_everything(cfg.train.seed)
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
    train_cfg = replace(cfg.train, monitor="val_cer", monitor_mode="min")
    trainer = Trainer(model, train_cfg, out_dir, loss_fn, "speech-asr", config_to_dict(model_cfg), eval_fn=eval_fn,
                      collate_fn=collate_asr, tokenizer=tokenizer, metadata={"task": "asr", **(metadata or {})},
                      batches_fn=partial(_bucketed, lengths))
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
