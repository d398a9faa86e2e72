"""Attention masks: one boolean type for padding and causality.

Conventions used across the core:

* a *padding mask* is ``[B, T]`` bool, **True at padded positions** (the
  convention of ``torch.nn.MultiheadAttention``'s ``key_padding_mask``);
* an *attention mask* is bool, broadcastable to ``[B, H, Tq, Tk]``, **True
  where a query may attend to a key** (the convention of
  ``scaled_dot_product_attention``).

:func:`build_attention_mask` turns a padding mask and/or causality into one
attention mask, so every attention call takes the same kind of object.
"""

from __future__ import annotations

import torch
from torch import Tensor


def causal_mask(q_len: int, k_len: int, q_offset: int = 0, device: torch.device | None = None) -> Tensor:
    """``[Tq, Tk]`` bool: query ``i`` (at absolute position ``q_offset + i``) sees keys ``<=`` it."""
    q_pos = torch.arange(q_offset, q_offset + q_len, device=device)
    k_pos = torch.arange(k_len, device=device)
    return k_pos[None, :] <= q_pos[:, None]


def build_attention_mask(
    key_padding_mask: Tensor | None,
    q_len: int,
    k_len: int,
    causal: bool = False,
    q_offset: int = 0,
) -> Tensor | None:
    """Combine a key padding mask and causality into one ``[B|1, 1, Tq, Tk]`` bool mask.

    Returns ``None`` when nothing is masked, so callers can take SDPA's fast path.
    """
    mask = None
    if key_padding_mask is not None:
        if key_padding_mask.shape[-1] != k_len:
            raise ValueError(f"padding mask covers {key_padding_mask.shape[-1]} keys, attention has {k_len}")
        mask = (~key_padding_mask)[:, None, None, :]
    if causal:
        device = key_padding_mask.device if key_padding_mask is not None else None
        c = causal_mask(q_len, k_len, q_offset, device=device)[None, None]
        mask = c if mask is None else mask & c
    return mask


def lengths_to_padding_mask(lengths: Tensor, max_len: int | None = None) -> Tensor:
    """``[B]`` lengths -> ``[B, T]`` padding mask (True at padded positions)."""
    max_len = int(lengths.max()) if max_len is None else max_len
    return torch.arange(max_len, device=lengths.device)[None, :] >= lengths[:, None]
