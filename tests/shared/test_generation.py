"""Greedy and beam search, with and without the KV cache."""

import math

import pytest
import torch

from shared.layers.kv_cache import LayerKVCache
from shared.models import Decoder, EncoderDecoder, GenerationConfig, beam_search, greedy_search
from tests.shared.helpers import POSITIONS, tiny_config


def _model(position="sinusoidal", **kw):
    return EncoderDecoder(tiny_config(position=position, **kw)).eval()


def _source(cfg, batch=3, length=7):
    src = torch.randint(4, cfg.vocab_size, (batch, length))
    src[0, length - 2 :] = cfg.pad_id
    return {"input_ids": src}


@pytest.mark.parametrize("position", POSITIONS)
@pytest.mark.parametrize("num_beams", [1, 3])
def test_kv_cache_gives_the_same_tokens(position, num_beams):
    model = _model(position)
    batch = _source(model.cfg)
    cached = model.generate(batch, GenerationConfig(max_new_tokens=20, num_beams=num_beams, use_cache=True))
    uncached = model.generate(batch, GenerationConfig(max_new_tokens=20, num_beams=num_beams, use_cache=False))
    assert torch.equal(cached, uncached)


def test_cached_logits_equal_full_forward():
    model = _model("rotary")
    memory, memory_mask = model.encode(_source(model.cfg))
    ids = torch.randint(4, model.cfg.vocab_size, (3, 9))
    full = model.decoder(ids, memory=memory, memory_padding_mask=memory_mask)
    cache = model.decoder.new_cache()
    first = model.decoder(ids[:, :4], memory=memory, memory_padding_mask=memory_mask, cache=cache)
    steps = [model.decoder(ids[:, i : i + 1], memory=memory, memory_padding_mask=memory_mask, cache=cache) for i in range(4, 9)]
    torch.testing.assert_close(torch.cat([first, *steps], dim=1), full, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("seed", range(3))
def test_beam_width_one_equals_greedy(seed):
    torch.manual_seed(seed)
    model = _model()
    batch = _source(model.cfg, batch=4)
    greedy = model.generate(batch, GenerationConfig(max_new_tokens=15))
    beam = beam_search(
        model.decoder.step_fn(*model.encode(batch)),
        torch.full((4, 1), model.cfg.bos_id),
        GenerationConfig(max_new_tokens=15, num_beams=1),
        model.cfg.eos_id, model.cfg.pad_id, model.decoder.new_cache,
    )
    assert torch.equal(greedy, beam)


def _table_step(table):
    """A step function whose next-token log-probs depend only on the last token."""

    def step(tokens, cache):
        return torch.log(table[tokens[:, -1]])

    return step


def test_beam_search_finds_what_greedy_misses():
    # From BOS(1): token 3 looks best (0.6) but leads only to weak continuations;
    # token 4 (0.4) leads to EOS with certainty. Best full sequence: 4, EOS.
    v = 6
    table = torch.full((v, v), 1e-6)
    table[1, 3], table[1, 4] = 0.6, 0.4
    table[3, 5], table[3, 2] = 0.5, 0.5
    table[4, 2] = 1.0
    table[5, 2] = 1.0
    table = table / table.sum(1, keepdim=True)
    start = torch.full((1, 1), 1)
    cfg = GenerationConfig(max_new_tokens=5, length_penalty=0.0)
    greedy = greedy_search(_table_step(table), start, cfg, eos_id=2, pad_id=0, new_cache=None)
    beams = beam_search(_table_step(table), start.repeat(2, 1), GenerationConfig(max_new_tokens=5, num_beams=2, length_penalty=0.0), eos_id=2, pad_id=0, new_cache=None)
    assert greedy.tolist() == [[3, 2]]  # argmax breaks the 0.5/0.5 tie towards the lower id
    assert beams.tolist() == [[4, 2]]


def test_length_penalty_prefers_longer_outputs():
    # EOS now (p=0.5) vs. two more near-certain tokens then EOS.
    v = 6
    table = torch.full((v, v), 1e-4)
    table[1, 2], table[1, 3] = 0.5, 0.5
    table[3, 4] = 0.95
    table[4, 2] = 0.95
    table = table / table.sum(1, keepdim=True)
    start = torch.full((2, 1), 1)
    short = beam_search(_table_step(table), start, GenerationConfig(max_new_tokens=6, num_beams=2, length_penalty=0.0, early_stopping=False), 2, 0, None)
    long = beam_search(_table_step(table), start, GenerationConfig(max_new_tokens=6, num_beams=2, length_penalty=2.0, early_stopping=False), 2, 0, None)
    assert short.tolist() == [[2]]
    assert long.tolist() == [[3, 4, 2]]


def test_eos_stops_rows_and_pads_after_it():
    v = 6
    table = torch.full((v, v), 1e-4)
    table[1, 3], table[3, 2], table[4, 5], table[5, 4] = 1, 1, 1, 1
    table = table / table.sum(1, keepdim=True)
    start = torch.tensor([[1], [4]])
    out = greedy_search(_table_step(table), start, GenerationConfig(max_new_tokens=4), 2, 0, None)
    assert out.tolist() == [[3, 2, 0, 0], [5, 4, 5, 4]]


def test_min_new_tokens_and_max_new_tokens():
    model = _model()
    batch = _source(model.cfg)
    out = model.generate(batch, GenerationConfig(max_new_tokens=7, min_new_tokens=7))
    assert out.shape == (3, 7)
    assert not (out == model.cfg.eos_id).any()


def test_no_repeat_ngram_size_blocks_repeats():
    v = 6
    table = torch.full((v, v), 1e-3)
    table[1, 3], table[3, 4], table[4, 3] = 1, 1, 1  # loops 3 4 3 4 ...
    table = table / table.sum(1, keepdim=True)
    out = greedy_search(_table_step(table), torch.ones(1, 1, dtype=torch.long), GenerationConfig(max_new_tokens=6, no_repeat_ngram_size=2), 2, 0, None)
    seq = out[0].tolist()
    bigrams = list(zip(seq, seq[1:]))
    assert len(bigrams) == len(set(bigrams))


def test_decoder_only_generation_uses_prompt():
    decoder = Decoder(tiny_config(), cross_attention=False).eval()
    prompt = torch.randint(4, 23, (2, 5))
    a = decoder.generate(prompt, GenerationConfig(max_new_tokens=8))
    b = decoder.generate(prompt, GenerationConfig(max_new_tokens=8, use_cache=False))
    assert torch.equal(a, b) and a.shape[0] == 2


def test_kv_cache_grows_past_capacity_and_reorders():
    cache = LayerKVCache()
    chunks = [torch.randn(2, 1, 1, 4) for _ in range(40)]
    for c in chunks:
        k, v = cache.append(c, -c)
    assert k.shape == (2, 1, 40, 4)
    torch.testing.assert_close(k, torch.cat(chunks, dim=2))
    cache.reorder(torch.tensor([1, 1]))
    k, _ = cache.append(torch.zeros(2, 1, 1, 4), torch.zeros(2, 1, 1, 4))
    torch.testing.assert_close(k[0, :, :40], torch.cat(chunks, dim=2)[1])


def test_generation_config_rejects_nonsense():
    with pytest.raises(ValueError):
        GenerationConfig(max_new_tokens=0)
    assert math.isfinite(GenerationConfig().length_penalty)
