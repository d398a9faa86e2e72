"""Train and evaluate molecular property models on the shared training loop."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn
from torch_geometric.data import Batch, Data
from torch_geometric.transforms import AddRandomWalkPE

from apps.molecules.data import DATASETS, clean, load_raw, random_split, scaffold_split
from apps.molecules.featurize import DESCRIPTOR_NAMES, cached_descriptors, cached_featurise
from apps.molecules.metrics import score
from apps.molecules.model import GraphModelConfig, GraphTransformer, signed_log
from apps.molecules.peers import fit_predict_peer
from apps.molecules.smiles_model import SmilesTransformer, TokenBatch, collate_tokens, train_tokenizer
from shared.config import config_to_dict, load_config
from shared.errors import ConfigError, DataError
from shared.model_folder import load_model
from shared.paths import config_path
from shared.tokenizers import Tokenizer
from shared.training import TrainConfig, Trainer, TrainResult, seed_everything

CONFIG_DIR = Path(__file__).parent / "configs"


@dataclass
class MoleculesConfig:
    kind: Literal["graph", "smiles"] = "graph"
    dataset: str = "freesolv"
    # A user's own data: a CSV with a SMILES column and one or more target columns
    # (several targets train one multi-task model). ``dataset`` then only names it.
    csv: str | None = None
    smiles_col: str = "smiles"
    targets: list[str] = field(default_factory=list)
    task: Literal["regression", "classification"] = "regression"
    split: Literal["shipped", "random", "scaffold"] = "random"
    seed: int = 0
    cache_dir: str = "data/cache/molecules"
    model: GraphModelConfig = field(default_factory=GraphModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    peers: list[str] = field(default_factory=lambda: ["rf_morgan", "rf_descriptors"])
    peer_trees: int = 500


def load_molecules_config(name: str = "default", overrides: list[str] | None = None) -> MoleculesConfig:
    path = Path(name) if Path(name).suffix else CONFIG_DIR / f"{name}.yaml"
    return load_config(MoleculesConfig, path, overrides)


@dataclass
class SplitData:
    """One dataset, cleaned and split (``split`` column: train/valid/test)."""

    frame: pd.DataFrame
    targets: list[str]
    task: str


def load_split(cfg: MoleculesConfig) -> SplitData:
    if cfg.csv:
        if not cfg.targets:
            raise DataError("a CSV dataset needs targets=[column, ...]")
        try:
            raw = pd.read_csv(config_path(cfg.csv, "csv"))
        except (FileNotFoundError, pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as err:
            raise DataError(f"{cfg.csv}: cannot be read ({str(err).splitlines()[0]})") from None
        frame, _ = clean(raw, cfg.smiles_col, cfg.targets)
        targets, task = cfg.targets, cfg.task
    else:
        info = DATASETS.get(cfg.dataset)
        if info is None:
            raise DataError(f"unknown dataset {cfg.dataset!r}; available: {', '.join(DATASETS)} (or set csv=...)")
        frame, _ = clean(load_raw(cfg.dataset), "smiles", list(info.targets))
        targets, task = list(info.targets), info.task
    if cfg.split == "shipped":
        if "split" not in frame:
            raise DataError(f"{cfg.dataset} ships no split; use random or scaffold")
        # Validation comes out of the shipped training part; the shipped test set stays untouched.
        inner = random_split(int((frame["split"] == "train").sum()), cfg.seed, (0.9, 0.1, 0.0))
        split = frame["split"].to_numpy().copy()
        split[np.flatnonzero(split == "train")] = np.where(inner == "train", "train", "valid")
        frame = frame.assign(split=split)
    elif cfg.split == "scaffold":
        frame = frame.assign(split=scaffold_split(frame["smiles"].tolist()))
    else:
        frame = frame.assign(split=random_split(len(frame), cfg.seed))
    return SplitData(frame.reset_index(drop=True), targets, task)


def graph_input(graph: Data, pe: AddRandomWalkPE, descriptors: torch.Tensor | None = None,
                y: torch.Tensor | None = None) -> Data:
    """What the graph model reads for one molecule: its graph with random-walk encodings, plus raw RDKit
    descriptors ``[1, D]`` when the model uses them and targets ``y [1, T]`` when known."""
    extra = {k: v for k, v in (("descriptors", descriptors), ("y", y)) if v is not None}
    return pe(Data(x=graph.x, edge_index=graph.edge_index, edge_attr=graph.edge_attr, num_nodes=graph.num_nodes,
                   **extra))


def graphs_for(frame: pd.DataFrame, targets: list[str], cfg: MoleculesConfig) -> list[Data]:
    """Cached featurisation of ``frame``'s molecules as :func:`graph_input` items with their targets."""
    pe = AddRandomWalkPE(cfg.model.pe_steps)
    smiles = frame["smiles"].tolist()
    graphs = cached_featurise(smiles, cfg.cache_dir)
    y = torch.tensor(frame[targets].to_numpy(dtype=np.float32))
    desc = torch.from_numpy(cached_descriptors(smiles, cfg.cache_dir).astype(np.float32)) if cfg.model.descriptors else None
    return [graph_input(g, pe, None if desc is None else desc[i : i + 1], y[i : i + 1]) for i, g in enumerate(graphs)]


def descriptor_statistics(cfg: MoleculesConfig, train_smiles: list[str]) -> dict:
    """Names and training-set mean/std of the signed-log descriptors, for the model config."""
    z = signed_log(torch.from_numpy(cached_descriptors(train_smiles, cfg.cache_dir)))
    return {"descriptor_names": DESCRIPTOR_NAMES, "descriptor_mean": z.mean(0).tolist(),
            "descriptor_std": z.std(0).clamp_min(1e-3).tolist()}


def _loss(model: nn.Module, batch: Batch | TokenBatch) -> torch.Tensor:
    out, y = model(batch), batch.y
    known = torch.isfinite(y)
    if model.cfg.task == "classification":
        return F.binary_cross_entropy_with_logits(out[known], y[known])
    mean, std = torch.tensor(model.cfg.target_mean), torch.tensor(model.cfg.target_std)
    return F.mse_loss(out[known], ((y - mean) / std)[known])


MAX_SMILES_TOKENS = 256


def model_inputs(cfg: MoleculesConfig, frame: pd.DataFrame, targets: list[str], tokenizer: Tokenizer | None) -> list:
    """What the model reads: graphs, or (token ids, y) pairs for the SMILES model."""
    if cfg.kind == "graph":
        return graphs_for(frame, targets, cfg)
    y = torch.tensor(frame[targets].to_numpy(dtype=np.float32))
    return [(tokenizer.encode(s, add_bos=True)[:MAX_SMILES_TOKENS], y[i : i + 1]) for i, s in enumerate(frame["smiles"])]


def collate_for(kind: str):
    return Batch.from_data_list if kind == "graph" else collate_tokens


@torch.no_grad()
def predict(model: nn.Module, inputs: list, batch_size: int = 256) -> np.ndarray:
    """Predictions in target units (probabilities for classification), ``[N, T]``."""
    model.eval()
    return predict_batches(model, inputs, batch_size)


@torch.no_grad()
def predict_with_uncertainty(model: nn.Module, inputs: list, samples: int = 20, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """MC dropout: mean and standard deviation over ``samples`` stochastic passes (dropout on)."""
    torch.manual_seed(seed)
    model.eval()
    for module in model.modules():
        if isinstance(module, nn.Dropout):
            module.train()
    try:
        draws = np.stack([predict_batches(model, inputs) for _ in range(samples)])
    finally:
        model.eval()
    return draws.mean(0), draws.std(0)


@torch.no_grad()
def predict_batches(model: nn.Module, inputs: list, batch_size: int = 256) -> np.ndarray:
    """Like :func:`predict` but leaves the module modes (e.g. MC dropout) as they are."""
    collate = Batch.from_data_list if isinstance(model, GraphTransformer) else collate_tokens
    return np.concatenate([model.predict(collate(inputs[i : i + batch_size])).numpy() for i in range(0, len(inputs), batch_size)])


@dataclass
class Fitted:
    """A trained model with its tokenizer (SMILES models) and, right after training, the run summary."""

    model: nn.Module
    tokenizer: Tokenizer | None
    result: TrainResult | None = None


def fit(cfg: MoleculesConfig, data: SplitData, out_dir: str | Path, resume: bool = False) -> Fitted:
    """Train on ``train`` rows, select on ``valid`` rows; ``test`` rows are never seen."""
    parts = {s: data.frame[data.frame["split"] == s] for s in ("train", "valid")}
    y_train = parts["train"][data.targets].to_numpy(dtype=np.float64)
    model_cfg = replace(cfg.model, num_targets=len(data.targets), task=data.task,
                        target_mean=np.nanmean(y_train, 0).tolist() if data.task == "regression" else None,
                        target_std=np.nanstd(y_train, 0).clip(1e-6).tolist() if data.task == "regression" else None)
    if cfg.model.descriptors:
        if cfg.kind != "graph":
            raise ConfigError("model.descriptors is an option of the graph model (kind=graph)")
        model_cfg = replace(model_cfg, **descriptor_statistics(cfg, parts["train"]["smiles"].tolist()))
    tokenizer = train_tokenizer(parts["train"]["smiles"].tolist()) if cfg.kind == "smiles" else None
    train_inputs = model_inputs(cfg, parts["train"], data.targets, tokenizer)
    valid_inputs = model_inputs(cfg, parts["valid"], data.targets, tokenizer)
    y_valid = parts["valid"][data.targets].to_numpy(dtype=np.float64)
    seed_everything(cfg.train.seed + cfg.seed)
    if cfg.kind == "graph":
        model, builder = GraphTransformer(model_cfg), "molecules-graph"
    else:
        model, builder = SmilesTransformer(model_cfg, tokenizer.vocab_size), "molecules-smiles"
    monitor = "val_rmse" if data.task == "regression" else "val_roc_auc"

    def evaluate_valid(m: nn.Module) -> dict[str, float]:
        return {f"val_{k}": v for k, v in score(data.task, y_valid, predict(m, valid_inputs)).items()}

    train_cfg = replace(cfg.train, monitor=monitor, monitor_mode="min" if data.task == "regression" else "max",
                        seed=cfg.train.seed + cfg.seed)
    trainer = Trainer(model, train_cfg, out_dir, _loss, builder, config_to_dict(model_cfg), eval_fn=evaluate_valid,
                      collate_fn=collate_for(cfg.kind), tokenizer=tokenizer,
                      metadata={"dataset": cfg.dataset, "split": cfg.split, "targets": data.targets})
    result = trainer.fit(train_inputs, resume=resume)
    return Fitted(load_model(result.best_dir).model, tokenizer, result)


def evaluate(cfg: MoleculesConfig, data: SplitData, fitted: Fitted, peers: list[str] | None = None) -> dict:
    """Test-set metrics of ours and each peer (peers fit on train+valid, as we select on valid)."""
    test = data.frame[data.frame["split"] == "test"]
    fit_rows = data.frame[data.frame["split"] != "test"]
    y_test = test[data.targets].to_numpy(dtype=np.float64)
    inputs = model_inputs(cfg, test, data.targets, fitted.tokenizer)
    results = {"ours": score(data.task, y_test, predict(fitted.model, inputs))}
    for name in cfg.peers if peers is None else peers:
        pred = fit_predict_peer(name, data.task, fit_rows["smiles"].tolist(), fit_rows[data.targets].to_numpy(dtype=np.float64),
                                test["smiles"].tolist(), cfg.seed, trees=cfg.peer_trees)
        results[name] = score(data.task, y_test, pred)
    return results
