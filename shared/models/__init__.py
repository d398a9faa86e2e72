"""Encoder, decoder, encoder-decoder, generation and heads."""

from shared.models.adapters import Adapter, TokenEmbedding
from shared.models.config import TransformerConfig
from shared.models.decoder import Decoder
from shared.models.encoder import Encoder
from shared.models.encoder_decoder import EncoderDecoder
from shared.models.generation import GenerationConfig, beam_search, generate, greedy_search
from shared.models.heads import CTCHead, SequenceHead, TokenClassificationHead

__all__ = [
    "Adapter",
    "CTCHead",
    "Decoder",
    "Encoder",
    "EncoderDecoder",
    "GenerationConfig",
    "SequenceHead",
    "TokenClassificationHead",
    "TokenEmbedding",
    "TransformerConfig",
    "beam_search",
    "generate",
    "greedy_search",
]
