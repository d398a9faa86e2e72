"""Train the OCR line model on the shared training loop.

The checkpoint is chosen on validation lines only (greedy CER): on the rendered set,
training fonts on sentences never trained on; on the user's data, the valid split. Test
lines are read by evaluation alone. The character LM learns from training text only.
Training starts from scratch, or fine-tunes the model folder given as ``init`` (its
architecture and alphabet are kept).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import nn

from apps.ocr.config import DecodeConfig
from apps.ocr.data import LineDataset, LineRow, collate_lines
from apps.ocr.datasets.corpus import PRINTABLE
from apps.ocr.model import LineRecognizerModel
from apps.ocr.predict import LM_FILE, LineReader
from shared import distributed
from shared.char_lm import CharNgramLM
from shared.config import config_to_dict
from shared.errors import ConfigError, DataError
from shared.model_folder import load_model
from shared.text_metrics import cer, wer
from shared.tokenizers import CharTokenizer, Tokenizer
from shared.training import Trainer, TrainResult, length_bucketed_batches, seed_everything

if TYPE_CHECKING:
    from apps.ocr.config import OcrConfig


@dataclass
class FittedOcr:
    result: TrainResult
    model_dir: Path


def line_tokenizer(texts: list[str]) -> CharTokenizer:
    """Every printable ASCII character plus any other character in the training text."""
    return CharTokenizer.train(["".join(sorted(PRINTABLE)), *texts])


def _start(cfg: OcrConfig, train: list[LineRow], init: str | None) -> tuple[LineRecognizerModel, Tokenizer]:
    """A fresh model for ``cfg.model``, or the weights, architecture and alphabet of the model folder ``init``
    (fine-tuning: every character of the training text must be in its alphabet)."""
    if init is None:
        tokenizer = line_tokenizer([r.text for r in train])
        seed_everything(cfg.train.seed)
        return LineRecognizerModel(replace(cfg.model, vocab_size=tokenizer.vocab_size)), tokenizer
    loaded = load_model(init)
    if not isinstance(loaded.model, LineRecognizerModel) or loaded.tokenizer is None:
        raise ConfigError(f"--init {init} is not an OCR line model")
    alphabet = set(getattr(loaded.tokenizer, "chars", []))
    if missing := sorted({ch for r in train for ch in r.text} - alphabet - {" "}):
        raise DataError(f"--init {init}: the training text has characters its model cannot write: "
                        f"{''.join(missing[:20])!r}; train from scratch instead")
    seed_everything(cfg.train.seed)
    return loaded.model, loaded.tokenizer


def fit_ocr(cfg: OcrConfig, train: list[LineRow], valid: list[LineRow], out_dir: str | Path,
            lm_texts: list[str] | None = None, resume: bool = False, metadata: dict | None = None,
            init: str | None = None) -> FittedOcr:
    """Train on ``train`` (files or recipes), from scratch or from the model folder ``init``; keep the
    checkpoint with the lowest validation CER; add the character LM."""
    if not train or not valid:
        raise DataError("OCR training needs training and validation lines")
    t = cfg.train
    model, tokenizer = _start(cfg, train, init)
    model_cfg = model.cfg
    held_out = valid[: t.valid_limit]
    valid_images = [r.load() for r in held_out]
    refs = [r.text for r in held_out]

    def loss_fn(m: nn.Module, batch: dict) -> tuple[torch.Tensor, dict[str, float]]:
        return m.joint_loss(batch, t.ctc_weight)

    def eval_fn(m: nn.Module) -> dict[str, float]:
        texts = [x.text for x in LineReader(m, tokenizer, None, DecodeConfig(method="greedy")).read(valid_images)]
        return {"val_cer": cer(refs, texts), "val_wer": wer(refs, texts)}

    data = LineDataset(train, tokenizer.encode, model_cfg.height, model_cfg.max_width)
    # batches of similar text length; not of similar image width, which groups lines by font and was
    # measured to slow CTC training down (val CER 1.0 vs 0.55 after 200 steps)
    lengths = [len(r.text) for r in train]
    train_cfg = replace(t, monitor="val_cer", monitor_mode="min")
    trainer = Trainer(model, train_cfg, out_dir, loss_fn, "ocr-line", config_to_dict(model_cfg), eval_fn=eval_fn,
                      collate_fn=collate_lines, tokenizer=tokenizer,
                      metadata={"task": "ocr", **(metadata or {}), **({"init": str(init)} if init else {})},
                      batches_fn=partial(_bucketed, lengths))
    result = trainer.fit(data, resume=resume)
    best = Path(out_dir) / "best"
    if t.lm_order and distributed.current().is_main:  # rank 0 wrote the checkpoints; it writes the LM
        alphabet = "".join(tokenizer.chars)
        texts = [x for x in (lm_texts if lm_texts is not None else [r.text for r in train]) if set(x) <= set(alphabet)]
        CharNgramLM.train(texts, order=t.lm_order, alphabet=alphabet).save(best / LM_FILE)
    return FittedOcr(result, best)


def _bucketed(lengths: list[int], num_items: int, batch_size: int, seed: int, epoch: int) -> list[list[int]]:
    return length_bucketed_batches(lengths, batch_size, seed, epoch)
