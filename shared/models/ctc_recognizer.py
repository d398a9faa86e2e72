"""Sequence recognition on the shared encoder: any input adapter -> encoder -> CTC head, with an
optional cross-attending decoder trained jointly with CTC and decoded by ``generate()``.

An app supplies the adapter (``batch -> (tokens [B, T, D], padding [B, T])``) and, if it
wants, modules interleaved after each encoder block (for example convolutions). Targets
are token ids padded with 0, which is also the CTC blank.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import Tensor, nn

from shared.models.adapters import Adapter
from shared.models.config import TransformerConfig
from shared.models.decoder import Decoder
from shared.models.encoder import Encoder
from shared.models.generation import GenerationConfig, generate
from shared.models.heads import CTCHead


class CTCRecognizer(nn.Module):
    """Adapter -> shared :class:`Encoder` -> :class:`CTCHead` (+ optional attention :class:`Decoder`)."""

    def __init__(self, adapter: Adapter, core: TransformerConfig, with_decoder: bool = False,
                 interleaved: Sequence[nn.Module] | None = None):
        super().__init__()
        self.core = core
        self.adapter = adapter
        self.encoder = Encoder(core, interleaved=interleaved)
        self.ctc = CTCHead(core.d_model, core.vocab_size, blank_id=0)
        self.decoder = Decoder(core, cross_attention=True) if with_decoder else None

    def encode(self, batch: Mapping[str, Tensor]) -> tuple[Tensor, Tensor]:
        """Encoder output ``[B, T, D]`` and its padding mask."""
        tokens, padding = self.adapter(batch)
        return self.encoder(tokens, padding), padding

    def forward(self, batch: Mapping[str, Tensor]) -> tuple[Tensor, Tensor]:
        """CTC log-probabilities ``[B, T, V]`` and the padding mask."""
        memory, padding = self.encode(batch)
        return self.ctc(memory), padding

    def losses(self, batch: Mapping[str, Tensor], ctc_weight: float = 1.0) -> dict[str, Tensor]:
        """``ctc`` (and ``attention``, teacher-forced cross-entropy) for ``batch["targets"]`` (padded with 0)."""
        memory, padding = self.encode(batch)
        targets, target_lengths = batch["targets"], batch["target_lengths"]
        out = {"ctc": self.ctc.loss(self.ctc(memory), padding, targets, target_lengths)}
        if self.decoder is not None and ctc_weight < 1.0:
            b = targets.shape[0]
            bos = torch.full((b, 1), self.core.bos_id, dtype=torch.long)
            inputs = torch.cat([bos, targets], 1)
            labels = torch.cat([targets, torch.zeros(b, 1, dtype=torch.long)], 1)
            labels[torch.arange(b), target_lengths] = self.core.eos_id
            logits = self.decoder(inputs, inputs == 0, memory, padding)
            out["attention"] = nn.functional.cross_entropy(logits.flatten(0, 1), labels.flatten(), ignore_index=0,
                                                           label_smoothing=0.1)
        return out

    def joint_loss(self, batch: Mapping[str, Tensor], ctc_weight: float = 1.0) -> tuple[Tensor, dict[str, float]]:
        """``ctc_weight * ctc + (1 - ctc_weight) * attention`` and each part's value, for a training loop."""
        losses = self.losses(batch, ctc_weight)
        loss = ctc_weight * losses["ctc"] + (1 - ctc_weight) * losses.get("attention", 0.0)
        return loss, {k: v.item() for k, v in losses.items()}

    @torch.no_grad()
    def generate(self, batch: Mapping[str, Tensor], cfg: GenerationConfig | None = None) -> Tensor:
        """Attention-decoder output ids ``[B, <=max_new_tokens]`` (needs the decoder)."""
        if self.decoder is None:
            raise ValueError("this model has no attention decoder (decoder_layers=0)")
        cfg = cfg or GenerationConfig(max_new_tokens=256)
        memory, padding = self.encode(batch)
        if cfg.num_beams > 1:
            memory, padding = memory.repeat_interleave(cfg.num_beams, 0), padding.repeat_interleave(cfg.num_beams, 0)
        start = torch.full((memory.shape[0], 1), self.core.bos_id, dtype=torch.long)
        return generate(self.decoder.step_fn(memory, padding), start, cfg, self.core.eos_id, self.core.pad_id,
                        self.decoder.new_cache)
