"""CTC reading for OCR: decoding, confidences, and a tiny model that learns 10 lines exactly."""

import math

import numpy as np
import torch

from apps.ocr.data import LineDataset, LineRow, collate_lines
from apps.ocr.fonts import family_fonts
from apps.ocr.model import LineRecognizerModel, OcrModelConfig
from apps.ocr.read import LineReader, ReadConfig, ctc_confidence
from apps.ocr.render import render_line
from apps.ocr.train import line_tokenizer
from shared.ctc import greedy_decode
from shared.text_metrics import cer


def _log_probs(path: list[int], vocab: int = 6, p: float = 0.9) -> torch.Tensor:
    rows = torch.full((len(path), vocab), (1 - p) / (vocab - 1))
    rows[torch.arange(len(path)), torch.tensor(path)] = p
    return rows.log()


def test_greedy_decoding_collapses_repeats_and_drops_blanks():
    # frames: a a _ a b b _ _ b  ->  a a b b  (a blank separates a true repeat)
    assert greedy_decode(_log_probs([4, 4, 0, 4, 5, 5, 0, 0, 5])) == [4, 4, 5, 5]
    assert greedy_decode(_log_probs([0, 0, 0])) == []


def test_confidence_is_the_geometric_mean_of_the_emitting_frames():
    lp = _log_probs([4, 4, 0, 5], p=0.8)
    assert math.isclose(ctc_confidence(lp, [4, 5]), 0.8, rel_tol=1e-5)
    assert math.isclose(ctc_confidence(_log_probs([0, 0], p=0.6), []), 0.6, rel_tol=1e-5)


def test_a_tiny_model_overfits_ten_lines_to_cer_zero():
    torch.manual_seed(0)
    font = family_fonts("comic-neue")[0]
    texts = ["cat sat", "dog ran", "Go 42", "red box", "tea pot", "map it", "sun up", "buy now", "ok 7", "zip fox"]
    rows = [LineRow(t, group="comic-neue", font=font.path, seed=i) for i, t in enumerate(texts)]
    tokenizer = line_tokenizer(texts)
    model = LineRecognizerModel(OcrModelConfig(vocab_size=tokenizer.vocab_size, d_model=64, n_heads=4, layers=2,
                                               d_ff=128, channels=(16, 32, 32)))
    batch = collate_lines([LineDataset(rows, tokenizer.encode, 32, 800)[i] for i in range(10)])
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    model.train()
    for _ in range(300):
        loss, _ = model.joint_loss(batch)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    reader = LineReader(model, tokenizer, None, ReadConfig(method="greedy"))
    images = [render_line(t, font, np.random.default_rng(i)) for i, t in enumerate(texts)]
    found = [r.text for r in reader.read(images)]
    assert cer(texts, found) == 0.0, found
    assert all(0.5 < r.confidence <= 1.0 for r in reader.read(images))
