"""Featurisation on known molecules, and the no-pickle cache."""

import numpy as np
import torch
from rdkit import Chem
from rdkit.Chem import Descriptors

from apps.molecules.featurize import (ATOM_DIM, BOND_DIM, DESCRIPTOR_NAMES, ELEMENTS, cached_featurise, featurise,
                                      mol_descriptors, smiles_to_graph)


def test_benzene_and_ethanol():
    benzene = smiles_to_graph("c1ccccc1")
    assert benzene.num_nodes == 6 and benzene.edge_index.shape[1] == 12  # 6 bonds, both directions
    assert benzene.x.shape == (6, ATOM_DIM) and benzene.edge_attr.shape == (12, BOND_DIM)
    aromatic_flag = ATOM_DIM - 2
    assert benzene.x[:, aromatic_flag].sum() == 6 and benzene.x[:, ATOM_DIM - 1].sum() == 6  # aromatic, in ring
    assert benzene.edge_attr[:, 3].sum() == 12  # every bond aromatic
    ethanol = smiles_to_graph("CCO")
    assert ethanol.num_nodes == 3 and ethanol.edge_index.shape[1] == 4
    assert ethanol.x[:, ELEMENTS.index("O")].tolist() == [0, 0, 1]
    assert ethanol.x[:, aromatic_flag].sum() == 0


def test_charges_and_unknown_elements():
    g = smiles_to_graph("[NH4+].[Cl-]")
    charge_start = len(ELEMENTS) + 1 + 7
    assert g.x[0, charge_start + 3] == 1 and g.x[1, charge_start + 1] == 1  # +1 and -1 slots
    assert smiles_to_graph("[Fe]").x[0, len(ELEMENTS)] == 1  # "other" element slot
    assert smiles_to_graph("C").edge_index.shape == (2, 0)


def test_cache_round_trip_is_exact(tmp_path):
    smiles = ["CCO", "c1ccccc1O", "CC(=O)Nc1ccc(O)cc1"]
    graphs = cached_featurise(smiles, tmp_path)
    again = cached_featurise(smiles, tmp_path)  # from the safetensors file
    assert len(list(tmp_path.glob("*.safetensors"))) == 1
    for a, b in zip(graphs, again):
        assert torch.equal(a.x, b.x) and torch.equal(a.edge_index, b.edge_index) and torch.equal(a.edge_attr, b.edge_attr)


def test_parallel_featurisation_matches_serial():
    smiles = ["CCO", "CCN", "c1ccncc1", "CC(C)O"] * 5
    serial, parallel = featurise(smiles), featurise(smiles, workers=2, chunk=6)
    assert all(torch.equal(a.x, b.x) and torch.equal(a.edge_index, b.edge_index) for a, b in zip(serial, parallel))


def test_descriptors_are_rdkits_and_cached_exactly(tmp_path):
    from rdkit import Chem
    from rdkit.Chem import Crippen

    from apps.molecules.featurize import DESCRIPTOR_NAMES, cached_descriptors, descriptor_matrix

    smiles = ["CCO", "c1ccccc1O", "CC(=O)Nc1ccc(O)cc1"]
    values = cached_descriptors(smiles, tmp_path)
    assert values.shape == (3, len(DESCRIPTOR_NAMES)) and len(DESCRIPTOR_NAMES) > 150
    logp = values[:, DESCRIPTOR_NAMES.index("MolLogP")]
    assert logp.tolist() == [Crippen.MolLogP(Chem.MolFromSmiles(s)) for s in smiles]
    assert (cached_descriptors(smiles, tmp_path) == values).all()  # from the safetensors file
    assert (descriptor_matrix(smiles * 3, workers=2, chunk=4)[:3] == values).all()  # parallel chunks agree


def _descriptors_one_by_one(mol: Chem.Mol) -> np.ndarray:
    """The hand-written loop ``mol_descriptors`` replaced: each ``Descriptors.descList`` function in turn."""
    out = np.zeros(len(Descriptors.descList))
    for i, (_, function) in enumerate(Descriptors.descList):
        try:
            out[i] = function(mol)
        except Exception:  # noqa: BLE001
            out[i] = 0.0
    out[~np.isfinite(out)] = 0.0
    return np.clip(out, -1e6, 1e6)


def test_calc_mol_descriptors_gives_the_values_of_the_one_by_one_loop():
    for smiles in ["CCO", "c1ccccc1O", "CC(=O)Nc1ccc(O)cc1", "[NH4+].[Cl-]", "[Fe]", "C[Si](C)(C)OP(=O)(O)O"]:
        mol = Chem.MolFromSmiles(smiles)
        np.testing.assert_array_equal(mol_descriptors(mol), _descriptors_one_by_one(mol))
    subset = ["MolLogP", "TPSA"]
    assert mol_descriptors(Chem.MolFromSmiles("CCO"), subset).tolist() == [
        Descriptors.MolLogP(Chem.MolFromSmiles("CCO")), Descriptors.TPSA(Chem.MolFromSmiles("CCO"))]
    assert len(DESCRIPTOR_NAMES) == len(Descriptors.descList)
