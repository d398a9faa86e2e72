"""Train the OCR line model on the shared training loop.

The checkpoint is chosen on validation lines only (greedy CER); validation uses
training fonts on sentences never trained on, so held-out fonts and test lines
are read by evaluation alone. The character LM learns from training text only.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path

import torch
from torch import nn

from apps.ocr.corpus import PRINTABLE
from apps.ocr.data import LineDataset, LineRow, collate_lines
from apps.ocr.model import LineRecognizerModel, OcrModelConfig
from apps.ocr.read import LM_FILE, LineReader, ReadConfig
from shared.char_lm import CharNgramLM
from shared.config import config_to_dict
from shared.errors import DataError
from shared.text_metrics import cer, wer
from shared.tokenizers import CharTokenizer
from shared.training import TrainConfig, Trainer, TrainResult, length_bucketed_batches, seed_everything


@dataclass
class OcrTrainConfig:
    model: OcrModelConfig = field(default_factory=OcrModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    ctc_weight: float = 1.0  # < 1 with model.decoder_layers > 0: joint CTC/attention training
    valid_limit: int = 300
    lm_order: int = 6  # 0 = no character LM


@dataclass
class FittedOcr:
    reader: LineReader
    result: TrainResult
    model_dir: Path


def line_tokenizer(texts: list[str]) -> CharTokenizer:
    """Every printable ASCII character plus any other character in the training text."""
    return CharTokenizer.train(["".join(sorted(PRINTABLE)), *texts])


def fit_ocr(cfg: OcrTrainConfig, train: list[LineRow], valid: list[LineRow], out_dir: str | Path,
            lm_texts: list[str] | None = None, resume: bool = False, metadata: dict | None = None) -> FittedOcr:
    """Train on ``train`` (files or recipes); keep the checkpoint with the lowest validation CER; add the LM."""
    if not train or not valid:
        raise DataError("OCR training needs training and validation lines")
    tokenizer = line_tokenizer([r.text for r in train])
    model_cfg = replace(cfg.model, vocab_size=tokenizer.vocab_size)
    seed_everything(cfg.train.seed)
    model = LineRecognizerModel(model_cfg)
    held_out = valid[: cfg.valid_limit]
    valid_images = [r.load() for r in held_out]
    refs = [r.text for r in held_out]

    def loss_fn(m: nn.Module, batch: dict) -> tuple[torch.Tensor, dict[str, float]]:
        return m.joint_loss(batch, cfg.ctc_weight)

    def eval_fn(m: nn.Module) -> dict[str, float]:
        texts = [t.text for t in LineReader(m, tokenizer, None, ReadConfig(method="greedy")).read(valid_images)]
        return {"val_cer": cer(refs, texts), "val_wer": wer(refs, texts)}

    data = LineDataset(train, tokenizer.encode, model_cfg.height, model_cfg.max_width)
    # batches of similar text length; not of similar image width, which groups lines by font and was
    # measured to slow CTC training down (val CER 1.0 vs 0.55 after 200 steps)
    lengths = [len(r.text) for r in train]
    train_cfg = replace(cfg.train, monitor="val_cer", monitor_mode="min")
    trainer = Trainer(model, train_cfg, out_dir, loss_fn, "ocr-line", config_to_dict(model_cfg), eval_fn=eval_fn,
                      collate_fn=collate_lines, tokenizer=tokenizer, metadata={"task": "ocr", **(metadata or {})},
                      batches_fn=partial(_bucketed, lengths))
    result = trainer.fit(data, resume=resume)
    best = Path(out_dir) / "best"
    if cfg.lm_order:
        alphabet = "".join(tokenizer.chars)
        texts = [t for t in (lm_texts if lm_texts is not None else [r.text for r in train]) if set(t) <= set(alphabet)]
        CharNgramLM.train(texts, order=cfg.lm_order, alphabet=alphabet).save(best / LM_FILE)
    return FittedOcr(LineReader.from_folder(best), result, best)


def _bucketed(lengths: list[int], num_items: int, batch_size: int, seed: int, epoch: int) -> list[list[int]]:
    return length_bucketed_batches(lengths, batch_size, seed, epoch)

