"""Graph transformer for molecules: GPS-style layers on the shared core.

Each layer runs local message passing (PyG ``GINEConv``, which uses bond
features) and then global self-attention over all atoms of a molecule with
the shared core's :class:`~shared.layers.block.TransformerBlock` (SDPA
attention, padding masks, pre-norm MLP). Random-walk structural encodings
(PyG ``AddRandomWalkPE``) give attention a sense of graph position without
depending on atom order, so the model is invariant to atom permutations. The
readout is the shared :class:`~shared.models.heads.SequenceHead` (masked mean
pooling), giving one output per target.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import Tensor, nn
from torch_geometric.nn import GINEConv
from torch_geometric.utils import to_dense_batch

from apps.molecules.featurize import ATOM_DIM, BOND_DIM
from shared.config import config_from_dict
from shared.layers.block import TransformerBlock
from shared.model_folder import register_builder
from shared.models.heads import SequenceHead


@dataclass
class GraphModelConfig:
    d_model: int = 128
    n_heads: int = 4
    layers: int = 4
    d_ff: int = 256
    dropout: float = 0.1
    pe_steps: int = 16
    num_targets: int = 1
    task: Literal["regression", "classification"] = "regression"
    # Regression targets are standardised with training-set statistics stored here.
    target_mean: list[float] | None = None
    target_std: list[float] | None = None


class GPSLayer(nn.Module):
    """Local GINE message passing, then global attention (shared core) over each molecule."""

    def __init__(self, cfg: GraphModelConfig):
        super().__init__()
        d = cfg.d_model
        mlp = nn.Sequential(nn.Linear(d, d), nn.GELU(), nn.Linear(d, d))
        self.local_norm = nn.LayerNorm(d)
        self.local = GINEConv(mlp, edge_dim=d)
        self.dropout = nn.Dropout(cfg.dropout)
        self.globl = TransformerBlock(d, cfg.n_heads, cfg.d_ff, cfg.dropout)

    def forward(self, h: Tensor, edge_index: Tensor, edge_attr: Tensor, batch: Tensor) -> Tensor:
        h = h + self.dropout(self.local(self.local_norm(h), edge_index, edge_attr))
        dense, mask = to_dense_batch(h, batch)
        dense = self.globl(dense, attn_mask=mask[:, None, None, :])
        return dense[mask]


class GraphTransformer(nn.Module):
    """Molecule graph -> ``[B, num_targets]`` (regression values or classification logits)."""

    def __init__(self, cfg: GraphModelConfig):
        super().__init__()
        self.cfg = cfg
        d = cfg.d_model
        self.atom_embed = nn.Linear(ATOM_DIM, d)
        self.pe_embed = nn.Linear(cfg.pe_steps, d)
        self.bond_embed = nn.Linear(BOND_DIM, d)
        self.layers = nn.ModuleList(GPSLayer(cfg) for _ in range(cfg.layers))
        self.norm = nn.LayerNorm(d)
        self.head = SequenceHead(d, cfg.num_targets, pooling="mean", dropout=cfg.dropout)

    def forward(self, data: Any) -> Tensor:
        h = self.atom_embed(data.x) + self.pe_embed(data.random_walk_pe)
        e = self.bond_embed(data.edge_attr)
        for layer in self.layers:
            h = layer(h, data.edge_index, e, data.batch)
        dense, mask = to_dense_batch(self.norm(h), data.batch)
        return self.head(dense, ~mask)

    def predict(self, data: Any) -> Tensor:
        return to_target_units(self(data), self.cfg)


def to_target_units(out: Tensor, cfg: GraphModelConfig) -> Tensor:
    """Raw model outputs -> probabilities (classification) or de-standardised values."""
    if cfg.task == "classification":
        return torch.sigmoid(out)
    if cfg.target_mean is not None:
        out = out * torch.tensor(cfg.target_std) + torch.tensor(cfg.target_mean)
    return out


@register_builder("molecules-graph")
def _builder(config: dict[str, Any], tokenizer: Any = None) -> nn.Module:
    return GraphTransformer(config_from_dict(GraphModelConfig, config))
