"""Small builders shared by the core tests."""

from shared.models import TransformerConfig

POSITIONS = ["sinusoidal", "learned", "rotary", "alibi"]


def tiny_config(**overrides) -> TransformerConfig:
    """The test-sized model: 2 layers, width 32."""
    base = dict(d_model=32, n_heads=4, encoder_layers=2, decoder_layers=2, d_ff=64, dropout=0.0, vocab_size=23, max_len=128)
    base.update(overrides)
    return TransformerConfig(**base)
