"""The molecules models on the shared core: a graph transformer (``model.kind: graph``) and a
SMILES sequence transformer (``model.kind: smiles``), with one config and one target handling.

Graph transformer: GPS-style layers.

Each layer runs local message passing (PyG ``GINEConv``, which uses bond
features) and then global self-attention over all atoms of a molecule with
the shared core's :class:`~shared.layers.block.TransformerBlock` (SDPA
attention, padding masks, pre-norm MLP). Random-walk structural encodings
(PyG ``AddRandomWalkPE``) give attention a sense of graph position without
depending on atom order, so the model is invariant to atom permutations. The
readout is the shared :class:`~shared.models.heads.SequenceHead` (masked mean
pooling), giving one output per target. With ``descriptors: true`` the pooled
graph vector is joined by an embedding of the molecule's RDKit 2D descriptors
(signed-log, then standardised with training-set statistics), as Chemprop
does with its ``rdkit_2d`` features.

``graph_bias: true`` adds Graphormer's structural encodings: a learned
embedding of each atom's degree (centrality) added to its input, and a
learned per-head attention bias for each shortest-path distance between two
atoms (distances above ``max_distance`` share one bucket; atoms in different
fragments another).

SMILES transformer: the comparison model. A SMILES-regex tokenizer (``Cl``, ``Br``, ``[nH]``
are single tokens), the shared encoder and head read the molecule as a string (no graph
structure), with the same targets and standardisation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import Tensor, nn
from torch_geometric.nn import GINEConv
from torch_geometric.utils import degree, to_dense_adj, to_dense_batch

from apps.molecules.featurize import ATOM_DIM, BOND_DIM, DESCRIPTOR_NAMES
from shared.config import config_from_dict
from shared.layers.block import TransformerBlock
from shared.model_folder import register_builder
from shared.models import Encoder, TokenEmbedding, TransformerConfig
from shared.models.heads import SequenceHead
from shared.tokenizers import PAD_ID, RegexTokenizer, Tokenizer, pad_sequences


@dataclass
class MoleculeModelConfig:
    """The ``model`` section of a molecules config, saved with every model folder."""

    kind: Literal["graph", "smiles"] = "graph"
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
    # Molecule-level RDKit 2D descriptors as a global input to the readout. Their names and
    # the training-set mean/std of signed_log(descriptor) are filled in when training starts.
    descriptors: bool = False
    descriptor_names: list[str] | None = None
    descriptor_mean: list[float] | None = None
    descriptor_std: list[float] | None = None
    # Graphormer-style degree embedding and shortest-path attention bias.
    graph_bias: bool = False
    max_distance: int = 8


def shortest_path_lengths(edge_index: Tensor, batch: Tensor, max_distance: int) -> Tensor:
    """Hop distances ``[B, N, N]`` between the atoms of each molecule (dense, padded like
    :func:`to_dense_batch`). Pairs further apart than ``max_distance`` get ``max_distance + 1``,
    pairs with no path (other fragments, padding) ``max_distance + 2``."""
    adjacency = to_dense_adj(edge_index, batch) > 0
    n = adjacency.shape[-1]
    unreachable = max_distance + 2
    dist = torch.full(adjacency.shape, unreachable, dtype=torch.long, device=edge_index.device)
    reached = torch.eye(n, dtype=torch.bool, device=edge_index.device).expand_as(adjacency).clone()
    dist[reached] = 0
    frontier = reached.float()
    adj = adjacency.float()
    for hops in range(1, n):
        new = (frontier @ adj > 0) & ~reached
        if not new.any():
            break
        dist[new] = min(hops, max_distance + 1)
        reached |= new
        frontier = new.float()
    return dist


def signed_log(x: Tensor) -> Tensor:
    """``sign(x) * log1p(|x|)``: tames descriptors that span many orders of magnitude."""
    return torch.sign(x) * torch.log1p(x.abs())


class GPSLayer(nn.Module):
    """Local GINE message passing, then global attention (shared core) over each molecule."""

    def __init__(self, cfg: MoleculeModelConfig):
        super().__init__()
        d = cfg.d_model
        mlp = nn.Sequential(nn.Linear(d, d), nn.GELU(), nn.Linear(d, d))
        self.local_norm = nn.LayerNorm(d)
        self.local = GINEConv(mlp, edge_dim=d)
        self.dropout = nn.Dropout(cfg.dropout)
        self.globl = TransformerBlock(d, cfg.n_heads, cfg.d_ff, cfg.dropout)

    def forward(self, h: Tensor, edge_index: Tensor, edge_attr: Tensor, batch: Tensor,
                bias: Tensor | None = None) -> Tensor:
        h = h + self.dropout(self.local(self.local_norm(h), edge_index, edge_attr))
        dense, mask = to_dense_batch(h, batch)
        dense = self.globl(dense, attn_mask=mask[:, None, None, :], position_bias=bias)
        return dense[mask]


class GraphTransformer(nn.Module):
    """Molecule graph -> ``[B, num_targets]`` (regression values or classification logits)."""

    def __init__(self, cfg: MoleculeModelConfig):
        super().__init__()
        self.cfg = cfg
        d = cfg.d_model
        self.atom_embed = nn.Linear(ATOM_DIM, d)
        self.pe_embed = nn.Linear(cfg.pe_steps, d)
        self.bond_embed = nn.Linear(BOND_DIM, d)
        self.layers = nn.ModuleList(GPSLayer(cfg) for _ in range(cfg.layers))
        if cfg.graph_bias:
            self.degree_embed = nn.Embedding(8, d)  # degrees 0..6, then "7 or more"
            self.distance_bias = nn.Embedding(cfg.max_distance + 3, cfg.n_heads)
        self.norm = nn.LayerNorm(d)
        self.descriptor_embed: nn.Module | None = None
        if cfg.descriptors:
            n = len(cfg.descriptor_names or DESCRIPTOR_NAMES)
            self.register_buffer("descriptor_mean", torch.tensor(cfg.descriptor_mean or [0.0] * n), persistent=False)
            self.register_buffer("descriptor_std", torch.tensor(cfg.descriptor_std or [1.0] * n), persistent=False)
            self.descriptor_embed = nn.Sequential(nn.Linear(n, d), nn.GELU(), nn.Dropout(cfg.dropout))
        # Mean pooling over atoms; the head's MLP reads [pooled graph, descriptor embedding] when there is one.
        self.head = SequenceHead(d * (2 if cfg.descriptors else 1), cfg.num_targets, pooling="mean", dropout=cfg.dropout)

    def forward(self, data: Any) -> Tensor:
        h = self.atom_embed(data.x) + self.pe_embed(data.random_walk_pe)
        e = self.bond_embed(data.edge_attr)
        bias = None
        if self.cfg.graph_bias:
            deg = degree(data.edge_index[0], h.shape[0]).long().clamp_max(7)
            h = h + self.degree_embed(deg)
            dist = shortest_path_lengths(data.edge_index, data.batch, self.cfg.max_distance)
            bias = self.distance_bias(dist).permute(0, 3, 1, 2)  # [B, H, N, N]
        for layer in self.layers:
            h = layer(h, data.edge_index, e, data.batch, bias)
        dense, mask = to_dense_batch(self.norm(h), data.batch)
        pooled = self.head.pool(dense, ~mask)
        if self.descriptor_embed is not None:
            z = ((signed_log(data.descriptors) - self.descriptor_mean) / self.descriptor_std).clamp(-6.0, 6.0)
            pooled = torch.cat([pooled, self.descriptor_embed(z)], dim=-1)
        return self.head.mlp(pooled)

    def predict(self, data: Any) -> Tensor:
        return to_target_units(self(data), self.cfg)


def to_target_units(out: Tensor, cfg: MoleculeModelConfig) -> Tensor:
    """Raw model outputs -> probabilities (classification) or de-standardised values."""
    if cfg.task == "classification":
        return torch.sigmoid(out)
    if cfg.target_mean is not None:
        out = out * torch.tensor(cfg.target_std) + torch.tensor(cfg.target_mean)
    return out


@register_builder("molecules-graph")
def _graph_builder(config: dict[str, Any], tokenizer: Any = None) -> nn.Module:
    return GraphTransformer(config_from_dict(MoleculeModelConfig, {**config, "kind": "graph"}))


@dataclass
class TokenBatch:
    """Padded token ids and targets ``y [B, T]`` (the attribute the training loss reads)."""

    input_ids: Tensor
    y: Tensor


def collate_tokens(items: list[tuple[list[int], Tensor]]) -> TokenBatch:
    return TokenBatch(pad_sequences([ids for ids, _ in items], PAD_ID), torch.cat([y for _, y in items]))


class SmilesTransformer(nn.Module):
    """Token ids -> ``[B, num_targets]``; shares :class:`MoleculeModelConfig`'s widths and target handling."""

    def __init__(self, cfg: MoleculeModelConfig, vocab_size: int, max_len: int = 256):
        super().__init__()
        self.cfg = cfg
        core = TransformerConfig(d_model=cfg.d_model, n_heads=cfg.n_heads, encoder_layers=cfg.layers, d_ff=cfg.d_ff,
                                 dropout=cfg.dropout, position="learned", max_len=max_len)
        self.embed = TokenEmbedding(vocab_size, cfg.d_model, PAD_ID)
        self.encoder = Encoder(core)
        self.head = SequenceHead(cfg.d_model, cfg.num_targets, pooling="mean", dropout=cfg.dropout)

    def forward(self, batch: TokenBatch) -> Tensor:
        tokens, padding = self.embed({"input_ids": batch.input_ids})
        return self.head(self.encoder(tokens, padding), padding)

    def predict(self, batch: TokenBatch) -> Tensor:
        return to_target_units(self(batch), self.cfg)


class SeedEnsemble(nn.Module):
    """Models of one architecture trained from different seeds: predicts their mean.
    ``predict_members`` gives each member's prediction, so MC dropout can sample every member."""

    def __init__(self, members: list[nn.Module]):
        super().__init__()
        if not members:
            raise ValueError("a seed ensemble needs at least one member")
        self.members = nn.ModuleList(members)
        self.cfg = members[0].cfg

    def forward(self, batch: Any) -> Tensor:
        return torch.stack([m(batch) for m in self.members]).mean(0)

    def predict_members(self, batch: Any) -> Tensor:
        """``[members, B, num_targets]`` in target units."""
        return torch.stack([m.predict(batch) for m in self.members])

    def predict(self, batch: Any) -> Tensor:
        return self.predict_members(batch).mean(0)


@register_builder("molecules-ensemble")
def _ensemble_builder(config: dict[str, Any], tokenizer: Tokenizer | None = None) -> nn.Module:
    """``{"members": K, "member_builder": "molecules-graph" | "molecules-smiles", "member": {...}}``."""
    if config.get("member_builder") not in ("molecules-graph", "molecules-smiles"):
        raise ValueError(f"unknown ensemble member builder {config.get('member_builder')!r}")
    build = _graph_builder if config["member_builder"] == "molecules-graph" else _smiles_builder
    return SeedEnsemble([build(config["member"], tokenizer) for _ in range(int(config["members"]))])


# Schwaller et al.'s SMILES regex (Molecular Transformer): bracket atoms ("[nH]", "[C@@H]"), two-letter
# elements ("Cl", "Br"), ring-bond numbers ("%10") and bonds are single tokens.
SMILES_PATTERN = r"(\[[^\]]+]|Br?|Cl?|N|O|S|P|F|I|b|c|n|o|s|p|\(|\)|\.|=|#|-|\+|\\|\/|:|~|@|\?|>|\*|\$|%[0-9]{2}|[0-9])"


def train_tokenizer(smiles: list[str]) -> RegexTokenizer:
    """The SMILES model's tokenizer: :data:`SMILES_PATTERN` tokens seen in ``smiles``."""
    return RegexTokenizer.train(smiles, SMILES_PATTERN)


@register_builder("molecules-smiles")
def _smiles_builder(config: dict[str, Any], tokenizer: Tokenizer | None = None) -> nn.Module:
    if tokenizer is None:
        raise ValueError("a SMILES model folder needs its tokenizer.json")
    return SmilesTransformer(config_from_dict(MoleculeModelConfig, {**config, "kind": "smiles"}), tokenizer.vocab_size)
