"""The summarizer's parts: chunking, gap sentences, the copy head, and decoding limits."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from apps.summarization.chunking import chunk_batch, chunk_ids
from apps.summarization.gap_sentences import MASK_TOKEN, central_sentences, gap_sentence_example
from apps.summarization.model import PointerGeneratorSummarizer, SummarizerModelConfig
from shared.models.generation import GenerationConfig
from shared.training import seed_everything

MARK, VOCAB, GENERATOR = 4, 40, 20


def _model(**kw) -> PointerGeneratorSummarizer:
    seed_everything(0)
    base = dict(vocab_size=VOCAB, d_model=32, n_heads=4, encoder_layers=2, decoder_layers=2, d_ff=64, window=16,
                max_chunks=4, dropout=0.0)
    return PointerGeneratorSummarizer(SummarizerModelConfig(**{**base, **kw}))


@pytest.mark.parametrize("length", [0, 1, 15, 16, 17, 64, 100])
def test_chunking_covers_the_whole_document(length):
    ids = list(range(5, 5 + length))
    chunks, dropped = chunk_ids(ids, window=16, max_chunks=4)
    kept = [t for c in chunks for t in c]
    assert kept + ids[len(kept):] == ids and dropped == len(ids) - len(kept)
    assert all(len(c) <= 16 for c in chunks) and len(chunks) <= 4
    assert dropped == max(0, length - 64)


def test_chunk_batch_pads_and_reports_truncation():
    batch, dropped = chunk_batch([list(range(5, 45)), [7, 8]], window=16, max_chunks=2)
    assert batch.shape == (2, 2, 16) and dropped == [8, 0]
    assert batch[0].flatten().tolist() == list(range(5, 37))
    assert batch[1, 0, :2].tolist() == [7, 8] and batch[1].flatten()[2:].eq(0).all()
    short, _ = chunk_batch([[5, 6, 7], [8]], window=16, max_chunks=2)
    assert short.shape == (2, 1, 3)  # one chunk each: no padding to the full window


def test_gap_sentences_mask_the_central_sentences():
    sentences = ["Cats purr.", "The cat sat on the mat with the dog.", "Dogs bark at the cat and the mat.",
                 "Rain fell.", "The dog and the cat share the mat."]
    chosen = central_sentences(sentences, 2)
    assert chosen == sorted(chosen) and set(chosen) <= {1, 2, 4} and len(chosen) == 2
    source, target = gap_sentence_example(sentences, ratio=0.4)
    parts = source.split(MASK_TOKEN)
    assert source.count(MASK_TOKEN) == 2
    assert target == " ".join(sentences[i] for i in chosen)
    kept = [s for i, s in enumerate(sentences) if i not in chosen]
    assert "".join(parts).split() == " ".join(kept).split()  # every other sentence unchanged, in order
    assert gap_sentence_example(["Only one."], 0.5) is None
    source, target = gap_sentence_example(sentences, 0.4, np.random.default_rng(0), random_share=1.0)
    masked = [s for s in sentences if s not in source]
    assert source.count(MASK_TOKEN) == 2 and target == " ".join(masked)


def _copy_batch(rng, names, n):
    rows = []
    for _ in range(n):
        name = list(names[rng.integers(len(names))])
        filler = rng.integers(5, GENERATOR, size=int(rng.integers(3, 7))).tolist()
        at = int(rng.integers(0, len(filler) + 1))
        rows.append((filler[:at] + [MARK] + name + filler[at:] + [2], name + [2]))
    source = torch.zeros(n, 1, max(len(s) for s, _ in rows), dtype=torch.long)
    for i, (s, _) in enumerate(rows):
        source[i, 0, : len(s)] = torch.tensor(s)
    return {"input_ids": source, "labels": torch.tensor([t for _, t in rows])}


def test_copy_head_copies_names_outside_the_generator_vocabulary():
    """Names are ids >= GENERATOR, which the decoder's softmax cannot write: only copying can.
    Test names are pairs never seen in training."""
    pairs = [(a, b) for a in range(GENERATOR, VOCAB) for b in range(GENERATOR, VOCAB) if a != b]
    rng = np.random.default_rng(0)
    rng.shuffle(pairs)
    test_names, train_names = pairs[:40], pairs[40:]
    model = _model(generator_vocab=GENERATOR)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    rng = np.random.default_rng(1)
    for _ in range(160):
        loss = model.loss(_copy_batch(rng, train_names, 32))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    batch = _copy_batch(np.random.default_rng(2), test_names, 100)
    out = model.generate(batch, GenerationConfig(max_new_tokens=3))
    exact = (out[:, :3] == batch["labels"]).all(dim=1).float().mean().item()
    assert exact >= 0.85
    with pytest.raises(ValueError):
        _model(generator_vocab=GENERATOR, copy=False)


@pytest.mark.parametrize("beams", [1, 3])
def test_decoding_respects_no_repeat_ngram_and_lengths(beams):
    model = _model().eval()
    source = torch.randint(5, VOCAB, (3, 2, 16))
    for min_len, max_len in ((5, 5), (2, 9)):
        cfg = GenerationConfig(max_new_tokens=max_len, min_new_tokens=min_len, num_beams=beams, no_repeat_ngram_size=2)
        out = model.generate({"input_ids": source}, cfg)
        assert out.shape[1] <= max_len
        for row in out.tolist():
            body = row[: row.index(2)] if 2 in row else row
            assert len(body) >= min_len  # EOS never comes before min_len tokens
            bigrams = list(zip(body, body[1:]))
            assert len(bigrams) == len(set(bigrams))
            assert 0 not in body and 1 not in body  # never pad or BOS


def test_cached_and_uncached_beam_search_agree():
    model = _model().eval()
    source = torch.randint(5, VOCAB, (2, 1, 12))
    cfg = dict(max_new_tokens=7, num_beams=3, no_repeat_ngram_size=3)
    with_cache = model.generate({"input_ids": source}, GenerationConfig(**cfg, use_cache=True))
    without = model.generate({"input_ids": source}, GenerationConfig(**cfg, use_cache=False))
    assert torch.equal(with_cache, without)
