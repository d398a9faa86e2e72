"""Graph and SMILES transformers: permutation invariance, training/eval on the tiny config, persistence."""

import numpy as np
import pytest
import torch
from rdkit import Chem
from torch_geometric.data import Batch
from torch_geometric.transforms import AddRandomWalkPE

from apps.molecules.config import load_molecules_config
from apps.molecules.data import load_split
from apps.molecules.featurize import DESCRIPTOR_NAMES, mol_descriptors, mol_to_graph
from apps.molecules.model import GraphTransformer, MoleculeModelConfig, shortest_path_lengths
from apps.molecules.train import evaluate, fit, graph_input, graphs_for, model_inputs, predict, predict_with_uncertainty
from shared.model_folder import load_model


def _graph(mol):
    desc = torch.from_numpy(mol_descriptors(mol)).float()[None]
    return graph_input(mol_to_graph(mol), AddRandomWalkPE(8), desc)


@pytest.mark.parametrize("options", [{}, {"descriptors": True}, {"graph_bias": True}])
def test_invariant_to_atom_order(options):
    torch.manual_seed(0)
    model = GraphTransformer(MoleculeModelConfig(d_model=32, n_heads=4, layers=2, d_ff=64, dropout=0.0, pe_steps=8,
                                              **options)).eval()
    mol = Chem.MolFromSmiles("CC(=O)Nc1ccc(O)cc1")
    order = list(range(mol.GetNumAtoms()))
    np.random.default_rng(0).shuffle(order)
    shuffled = Chem.RenumberAtoms(mol, order)
    a = model(Batch.from_data_list([_graph(mol), _graph(Chem.MolFromSmiles("CCO"))]))
    b = model(Batch.from_data_list([_graph(shuffled), _graph(Chem.MolFromSmiles("OCC"))]))
    torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


def test_shortest_paths_on_known_molecules():
    propanol, salt = _graph(Chem.MolFromSmiles("CCCO")), _graph(Chem.MolFromSmiles("[Na+].[Cl-]"))
    batch = Batch.from_data_list([propanol, salt])
    dist = shortest_path_lengths(batch.edge_index, batch.batch, max_distance=2)
    assert dist[0].tolist() == [[0, 1, 2, 3], [1, 0, 1, 2], [2, 1, 0, 1], [3, 2, 1, 0]]  # 3 = "beyond 2"
    assert dist[1, :2, :2].tolist() == [[0, 4], [4, 0]]  # two fragments: unreachable bucket


def test_descriptor_model_changes_with_descriptors_only_where_it_reads_them():
    torch.manual_seed(0)
    cfg = MoleculeModelConfig(d_model=32, n_heads=4, layers=2, d_ff=64, dropout=0.0, pe_steps=8, descriptors=True)
    model = GraphTransformer(cfg).eval()
    g = _graph(Chem.MolFromSmiles("CCO"))
    shifted = g.clone()
    shifted.descriptors = shifted.descriptors.clone()
    shifted.descriptors[0, DESCRIPTOR_NAMES.index("MolLogP")] += 3.0
    assert not torch.allclose(model(Batch.from_data_list([g])), model(Batch.from_data_list([shifted])))


def test_descriptor_graph_bias_model_trains_and_reloads(tmp_path):
    cfg = load_molecules_config("tiny", ["model.descriptors=true", "model.graph_bias=true"])
    data, _ = load_split(cfg)
    fitted = fit(cfg, data, tmp_path / "run", tmp_path / "c")
    saved = fitted.model.cfg
    assert saved.descriptor_names == DESCRIPTOR_NAMES and len(saved.descriptor_mean) == len(DESCRIPTOR_NAMES)
    reloaded = load_model(tmp_path / "run" / "best").model
    graphs = graphs_for(data.frame[data.frame["split"] == "test"].head(5), data.targets, saved, tmp_path / "c")
    np.testing.assert_allclose(predict(reloaded, graphs), predict(fitted.model, graphs), rtol=1e-5)


@pytest.mark.parametrize("dataset,split", [("freesolv", "scaffold"), ("solubility", "shipped")])
def test_tiny_regression_run_scores_ours_and_peers(tmp_path, dataset, split):
    cfg = load_molecules_config("tiny", [f"data.dataset={dataset}", f"data.split={split}"])
    data, _ = load_split(cfg)
    if split == "shipped":
        assert (data.frame["split"] == "test").sum() == 257  # the shipped test set, untouched
    fitted = fit(cfg, data, tmp_path / "run", tmp_path / "cache")
    assert fitted.result.step == 6 and (tmp_path / "run" / "best").exists()
    scores = evaluate(cfg, data, fitted, tmp_path / "cache")
    assert set(scores) == {"ours", "rf_morgan"} and np.isfinite(scores["ours"]["rmse"])
    reloaded = load_model(tmp_path / "run" / "best").model
    test = data.frame[data.frame["split"] == "test"].head(5)
    graphs = graphs_for(test, data.targets, cfg.model, tmp_path / "cache")
    np.testing.assert_allclose(predict(reloaded, graphs), predict(fitted.model, graphs), rtol=1e-5)


@pytest.mark.slow
def test_tiny_classification_run(tmp_path):
    cfg = load_molecules_config("tiny", ["data.dataset=b3db_classification", "data.split=random",
                                         "train.max_steps=4", "train.eval_every=2"])
    data, _ = load_split(cfg)
    assert data.task == "classification"
    scores = evaluate(cfg, data, fit(cfg, data, tmp_path / "run", tmp_path), tmp_path, peers=[])
    assert 0.0 <= scores["ours"]["roc_auc"] <= 1.0 and "pr_auc" in scores["ours"]


def test_smiles_transformer_trains_saves_with_tokenizer_and_reloads(tmp_path):
    cfg = load_molecules_config("tiny", ["model.kind=smiles"])
    data, _ = load_split(cfg)
    fitted = fit(cfg, data, tmp_path / "run", tmp_path)
    assert (tmp_path / "run" / "best" / "tokenizer.json").is_file()
    loaded = load_model(tmp_path / "run" / "best")
    test = data.frame[data.frame["split"] == "test"].head(4)
    inputs = model_inputs(cfg.model, test, data.targets, loaded.tokenizer, tmp_path)
    np.testing.assert_allclose(predict(loaded.model, inputs), predict(fitted.model, inputs), rtol=1e-5)
    assert np.isfinite(evaluate(cfg, data, fitted, tmp_path, peers=[])["ours"]["rmse"])


def test_mc_dropout_gives_a_spread_only_with_dropout():
    smiles = ["CCO", "c1ccccc1", "CC(=O)O"]
    graphs = [_graph(Chem.MolFromSmiles(s)) for s in smiles]
    noisy = GraphTransformer(MoleculeModelConfig(d_model=32, n_heads=4, layers=2, d_ff=64, dropout=0.3, pe_steps=8))
    mean, std = predict_with_uncertainty(noisy, graphs, samples=8)
    assert mean.shape == std.shape == (3, 1) and (std > 0).all()
    assert not any(m.training for m in noisy.modules())  # modes restored
    exact = GraphTransformer(MoleculeModelConfig(d_model=32, n_heads=4, layers=2, d_ff=64, dropout=0.0, pe_steps=8))
    _, std0 = predict_with_uncertainty(exact, graphs, samples=4)
    assert np.allclose(std0, 0.0)

