"""RDKit molecules -> ``torch_geometric.data.Data`` graphs.

Atom features (one-hot unless noted): element, degree, formal charge,
hybridisation, aromaticity (flag), total H count, ring membership (flag).
Bond features: bond type, conjugation (flag), ring membership (flag). Edges
are stored in both directions.

Molecule-level features: RDKit's 2D descriptors (``Descriptors.descList``,
about 200 values: logP, TPSA, charges, VSA bins, fragment counts...), the same
values the descriptor random-forest peer reads. The graph model can take them
as a global input (as Chemprop does with ``rdkit_2d``).

Featurised datasets are cached as safetensors (concatenated node/edge
tensors plus per-graph counts; descriptor matrices) keyed by a hash of the
SMILES list and this module's feature layout, so nothing is ever unpickled.
Large inputs are featurised in chunks on several processes.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import torch
from rdkit import Chem
from rdkit.Chem import Descriptors
from safetensors.torch import load, load_file, save
from torch_geometric.data import Data

from apps.molecules.smiles import parse_smiles
from shared.atomic import atomic_write_bytes

ELEMENTS = ["H", "B", "C", "N", "O", "F", "Si", "P", "S", "Cl", "Se", "Br", "I"]
DEGREES = [0, 1, 2, 3, 4, 5]
CHARGES = [-2, -1, 0, 1, 2]
HYBRIDISATIONS = [Chem.HybridizationType.SP, Chem.HybridizationType.SP2, Chem.HybridizationType.SP3,
                  Chem.HybridizationType.SP3D, Chem.HybridizationType.SP3D2]
H_COUNTS = [0, 1, 2, 3, 4]
BOND_TYPES = [Chem.BondType.SINGLE, Chem.BondType.DOUBLE, Chem.BondType.TRIPLE, Chem.BondType.AROMATIC]

FEATURE_LAYOUT = "v1"


def _one_hot(value, choices: list) -> list[float]:
    """One-hot over ``choices`` plus a final "other" slot."""
    out = [0.0] * (len(choices) + 1)
    out[choices.index(value) if value in choices else len(choices)] = 1.0
    return out


ATOM_DIM = len(ELEMENTS) + len(DEGREES) + len(CHARGES) + len(HYBRIDISATIONS) + len(H_COUNTS) + 5 + 2
BOND_DIM = len(BOND_TYPES) + 1 + 2


def atom_features(atom: Chem.Atom) -> list[float]:
    return (
        _one_hot(atom.GetSymbol(), ELEMENTS)
        + _one_hot(atom.GetDegree(), DEGREES)
        + _one_hot(atom.GetFormalCharge(), CHARGES)
        + _one_hot(atom.GetHybridization(), HYBRIDISATIONS)
        + _one_hot(atom.GetTotalNumHs(), H_COUNTS)
        + [float(atom.GetIsAromatic()), float(atom.IsInRing())]
    )


def bond_features(bond: Chem.Bond) -> list[float]:
    return _one_hot(bond.GetBondType(), BOND_TYPES) + [float(bond.GetIsConjugated()), float(bond.IsInRing())]


def mol_to_graph(mol: Chem.Mol) -> Data:
    """One molecule as a graph with ``x [N, ATOM_DIM]``, ``edge_index [2, 2E]``, ``edge_attr [2E, BOND_DIM]``."""
    x = torch.tensor([atom_features(a) for a in mol.GetAtoms()], dtype=torch.float32)
    src, dst, attrs = [], [], []
    for bond in mol.GetBonds():
        i, j = bond.GetBeginAtomIdx(), bond.GetEndAtomIdx()
        f = bond_features(bond)
        src += [i, j]
        dst += [j, i]
        attrs += [f, f]
    edge_index = torch.tensor([src, dst], dtype=torch.long) if src else torch.zeros(2, 0, dtype=torch.long)
    edge_attr = torch.tensor(attrs, dtype=torch.float32) if attrs else torch.zeros(0, BOND_DIM)
    return Data(x=x, edge_index=edge_index, edge_attr=edge_attr)


def smiles_to_graph(smiles: str) -> Data:
    mol, reason = parse_smiles(smiles)
    if mol is None:
        raise ValueError(reason)
    return mol_to_graph(mol)


def _one_torch_thread() -> None:
    torch.set_num_threads(1)


def process_pool(workers: int) -> ProcessPoolExecutor:
    """Worker processes started fresh ("spawn": forking a process that runs threads, such as
    torch or a Prefect server, can deadlock), each with one torch thread: the per-molecule
    tensor work is tiny, and several threads per worker oversubscribe the cores (10x slower)."""
    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_one_torch_thread)


def _featurise_chunk(smiles: list[str]) -> bytes:
    """A worker's graphs as safetensors bytes: returning tensors would pass one file descriptor
    per tensor between processes, and thousands of them exhaust the limit."""
    return save(pack_graphs([smiles_to_graph(s) for s in smiles]))


def featurise(smiles: list[str], workers: int = 1, chunk: int = 2000) -> list[Data]:
    """Graphs for valid SMILES (callers clean first), in chunks on ``workers`` processes."""
    if workers <= 1 or len(smiles) <= chunk:
        return [smiles_to_graph(s) for s in smiles]
    chunks = [smiles[i : i + chunk] for i in range(0, len(smiles), chunk)]
    with process_pool(workers) as pool:
        return [g for part in pool.map(_featurise_chunk, chunks) for g in unpack_graphs(load(part))]


DESCRIPTOR_NAMES = [name for name, _ in Descriptors.descList]


def mol_descriptors(mol: Chem.Mol, names: list[str] | None = None) -> np.ndarray:
    """RDKit 2D descriptors of one molecule (``float64 [len(names)]``) from RDKit's
    ``CalcMolDescriptors``; failures and non-finite values -> 0, magnitudes clipped at 1e6."""
    values = Descriptors.CalcMolDescriptors(mol, missingVal=0.0)
    out = np.array([values.get(name, 0.0) for name in names or DESCRIPTOR_NAMES], dtype=np.float64)
    out[~np.isfinite(out)] = 0.0
    return np.clip(out, -1e6, 1e6)


def _descriptor_chunk(smiles: list[str]) -> np.ndarray:
    return np.stack([mol_descriptors(Chem.MolFromSmiles(s)) for s in smiles]) if smiles else np.zeros((0, len(DESCRIPTOR_NAMES)))


def descriptor_matrix(smiles: list[str], workers: int = 1, chunk: int = 1000) -> np.ndarray:
    """``[N, len(DESCRIPTOR_NAMES)]`` descriptors of valid SMILES, in chunks on ``workers`` processes."""
    if workers <= 1 or len(smiles) <= chunk:
        return _descriptor_chunk(smiles)
    chunks = [smiles[i : i + chunk] for i in range(0, len(smiles), chunk)]
    with process_pool(workers) as pool:
        return np.concatenate(list(pool.map(_descriptor_chunk, chunks)))


def cached_descriptors(smiles: list[str], cache_dir: str | Path, workers: int = 2) -> np.ndarray:
    """:func:`descriptor_matrix`, reusing ``<cache_dir>/descriptors-<content hash>.safetensors``."""
    path = Path(cache_dir) / f"descriptors-{cache_key(smiles, ','.join(DESCRIPTOR_NAMES))}.safetensors"
    if path.is_file():
        return load_file(str(path))["descriptors"].numpy()
    values = descriptor_matrix(smiles, workers)
    atomic_write_bytes(path, save({"descriptors": torch.from_numpy(values)}))
    return values


def cache_key(smiles: list[str], layout: str = FEATURE_LAYOUT) -> str:
    digest = hashlib.sha256(layout.encode())
    digest.update(json.dumps(smiles).encode())
    return digest.hexdigest()[:20]


def pack_graphs(graphs: list[Data]) -> dict[str, torch.Tensor]:
    """Graphs as flat tensors: concatenated nodes and edges plus per-graph counts."""
    tensors = {
        "x": torch.cat([g.x for g in graphs]),
        "edge_index": torch.cat([g.edge_index for g in graphs], dim=1),
        "edge_attr": torch.cat([g.edge_attr for g in graphs]),
        "num_nodes": torch.tensor([g.num_nodes for g in graphs]),
        "num_edges": torch.tensor([g.edge_index.shape[1] for g in graphs]),
    }
    return {k: v.contiguous() for k, v in tensors.items()}


def unpack_graphs(t: dict[str, torch.Tensor]) -> list[Data]:
    graphs, n0, e0 = [], 0, 0
    for n, e in zip(t["num_nodes"].tolist(), t["num_edges"].tolist()):
        graphs.append(Data(x=t["x"][n0 : n0 + n], edge_index=t["edge_index"][:, e0 : e0 + e],
                           edge_attr=t["edge_attr"][e0 : e0 + e]))
        n0, e0 = n0 + n, e0 + e
    return graphs


def save_graphs(path: Path, graphs: list[Data]) -> None:
    """Write graphs as safetensors (:func:`pack_graphs`)."""
    atomic_write_bytes(path, save(pack_graphs(graphs)))


def load_graphs(path: Path) -> list[Data]:
    return unpack_graphs(load_file(str(path)))


def cached_featurise(smiles: list[str], cache_dir: str | Path, workers: int = 2) -> list[Data]:
    """:func:`featurise`, reusing ``<cache_dir>/<content hash>.safetensors`` when present."""
    path = Path(cache_dir) / f"graphs-{cache_key(smiles)}.safetensors"
    if path.is_file():
        return load_graphs(path)
    graphs = featurise(smiles, workers)
    save_graphs(path, graphs)
    return graphs
