"""Padding and causal masks really isolate the positions they should."""

import pytest
import torch

from shared.models import Decoder, Encoder, EncoderDecoder
from shared.layers.masks import build_attention_mask, lengths_to_padding_mask
from tests.shared.helpers import POSITIONS, tiny_config


@pytest.mark.parametrize("position", POSITIONS)
@pytest.mark.parametrize("norm,mlp", [("layernorm", "gelu"), ("rmsnorm", "swiglu")])
def test_padding_does_not_change_real_positions(position, norm, mlp):
    cfg = tiny_config(position=position, norm=norm, mlp=mlp)
    encoder = Encoder(cfg).eval()
    x = torch.randn(1, 5, cfg.d_model)
    alone = encoder(x)
    padded = torch.cat([x, torch.randn(1, 4, cfg.d_model) * 10], dim=1)
    mask = lengths_to_padding_mask(torch.tensor([5]), 9)
    with_padding = encoder(padded, mask)
    torch.testing.assert_close(with_padding[:, :5], alone, rtol=1e-5, atol=1e-5)


def test_padding_changes_outputs_without_mask():
    """The test above could fail: without the mask, padding leaks in."""
    cfg = tiny_config()
    encoder = Encoder(cfg).eval()
    x = torch.randn(1, 5, cfg.d_model)
    padded = torch.cat([x, torch.randn(1, 4, cfg.d_model) * 10], dim=1)
    assert not torch.allclose(encoder(padded)[:, :5], encoder(x), atol=1e-3)


@pytest.mark.parametrize("position", POSITIONS)
def test_memory_padding_does_not_change_decoder(position):
    cfg = tiny_config(position=position)
    model = EncoderDecoder(cfg).eval()
    src = torch.randint(4, cfg.vocab_size, (1, 6))
    tgt = torch.randint(4, cfg.vocab_size, (1, 5))
    alone = model({"input_ids": src}, tgt)
    padded_src = torch.cat([src, torch.zeros(1, 3, dtype=torch.long)], dim=1)
    torch.testing.assert_close(model({"input_ids": padded_src}, tgt), alone, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("position", POSITIONS)
def test_future_tokens_do_not_change_the_past(position):
    cfg = tiny_config(position=position)
    decoder = Decoder(cfg, cross_attention=False).eval()
    ids = torch.randint(4, cfg.vocab_size, (2, 10))
    changed = ids.clone()
    changed[:, 6:] = torch.randint(4, cfg.vocab_size, (2, 4))
    a, b = decoder(ids), decoder(changed)
    torch.testing.assert_close(a[:, :6], b[:, :6], rtol=1e-5, atol=1e-5)
    assert not torch.allclose(a[:, 6:], b[:, 6:])


def test_decoder_padding_mask_matches_causal_fast_path():
    cfg = tiny_config()
    decoder = Decoder(cfg, cross_attention=False).eval()
    ids = torch.randint(4, cfg.vocab_size, (2, 7))
    no_padding = torch.zeros(2, 7, dtype=torch.bool)
    torch.testing.assert_close(decoder(ids), decoder(ids, no_padding), rtol=1e-5, atol=1e-5)


def test_build_attention_mask_combines_padding_and_causality():
    padding = torch.tensor([[False, False, True]])
    mask = build_attention_mask(padding, 3, 3, causal=True)
    expected = torch.tensor([[True, False, False], [True, True, False], [True, True, False]])
    assert torch.equal(mask[0, 0], expected)
    assert build_attention_mask(None, 3, 3) is None
