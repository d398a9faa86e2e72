"""Train and score molecular property models on the shared training loop.

``fit`` trains on the ``train`` rows and selects the checkpoint on the ``valid`` rows; the
``test`` rows are never seen until :func:`evaluate` scores ours next to the random-forest
peers (fit on train + valid rows) on them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn
from torch_geometric.data import Batch, Data
from torch_geometric.transforms import AddRandomWalkPE

from apps.molecules.config import MoleculesConfig
from apps.molecules.data import SplitData
from apps.molecules.featurize import DESCRIPTOR_NAMES, cached_descriptors, cached_featurise
from apps.molecules.metrics import score
from apps.molecules.model import (GraphTransformer, MoleculeModelConfig, SeedEnsemble, SmilesTransformer, TokenBatch,
                                  collate_tokens, signed_log, train_tokenizer)
from apps.molecules.peers import PEERS, fit_predict_peer
from shared.config import config_to_dict
from shared.errors import ConfigError
from shared.model_folder import load_model, save_model
from shared.tokenizers import Tokenizer
from shared.training import Trainer, TrainResult, seed_everything

MAX_SMILES_TOKENS = 256


def graph_input(graph: Data, pe: AddRandomWalkPE, descriptors: torch.Tensor | None = None,
                y: torch.Tensor | None = None) -> Data:
    """What the graph model reads for one molecule: its graph with random-walk encodings, plus raw RDKit
    descriptors ``[1, D]`` when the model uses them and targets ``y [1, T]`` when known."""
    extra = {k: v for k, v in (("descriptors", descriptors), ("y", y)) if v is not None}
    return pe(Data(x=graph.x, edge_index=graph.edge_index, edge_attr=graph.edge_attr, num_nodes=graph.num_nodes,
                   **extra))


def graphs_for(frame: pd.DataFrame, targets: list[str], model: MoleculeModelConfig, cache_dir: str | Path) -> list[Data]:
    """Cached featurisation of ``frame``'s molecules as :func:`graph_input` items with their targets."""
    pe = AddRandomWalkPE(model.pe_steps)
    smiles = frame["smiles"].tolist()
    graphs = cached_featurise(smiles, cache_dir)
    y = torch.tensor(frame[targets].to_numpy(dtype=np.float32))
    desc = torch.from_numpy(cached_descriptors(smiles, cache_dir).astype(np.float32)) if model.descriptors else None
    return [graph_input(g, pe, None if desc is None else desc[i : i + 1], y[i : i + 1]) for i, g in enumerate(graphs)]


def descriptor_statistics(train_smiles: list[str], cache_dir: str | Path) -> dict:
    """Names and training-set mean/std of the signed-log descriptors, for the model config."""
    z = signed_log(torch.from_numpy(cached_descriptors(train_smiles, cache_dir)))
    return {"descriptor_names": DESCRIPTOR_NAMES, "descriptor_mean": z.mean(0).tolist(),
            "descriptor_std": z.std(0).clamp_min(1e-3).tolist()}


def make_loss(target_mask: float = 0.0):
    """The training loss over known targets (MSE on standardised values, or BCE). ``target_mask``:
    the share of known targets left out of each step's loss at random (pretraining's masking)."""

    def loss(model: nn.Module, batch: Batch | TokenBatch) -> torch.Tensor:
        out, y = model(batch), batch.y
        known = torch.isfinite(y)
        if target_mask > 0:
            known &= torch.rand(y.shape) >= target_mask
        if model.cfg.task == "classification":
            return F.binary_cross_entropy_with_logits(out[known], y[known])
        mean, std = torch.tensor(model.cfg.target_mean), torch.tensor(model.cfg.target_std)
        return F.mse_loss(out[known], ((y - mean) / std)[known])

    return loss


def model_inputs(model: MoleculeModelConfig, frame: pd.DataFrame, targets: list[str], tokenizer: Tokenizer | None,
                 cache_dir: str | Path) -> list:
    """What the model reads: graphs, or (token ids, y) pairs for the SMILES model."""
    if model.kind == "graph":
        return graphs_for(frame, targets, model, cache_dir)
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
    """MC dropout: mean and standard deviation over ``samples`` stochastic passes (dropout on); for a
    :class:`SeedEnsemble`, over every member's passes (so the spread between seeds counts too)."""
    torch.manual_seed(seed)
    model.eval()
    for module in model.modules():
        if isinstance(module, nn.Dropout):
            module.train()
    try:
        if isinstance(model, SeedEnsemble):
            draws = np.concatenate([predict_batches(model, inputs, members=True) for _ in range(samples)])
        else:
            draws = np.stack([predict_batches(model, inputs) for _ in range(samples)])
    finally:
        model.eval()
    return draws.mean(0), draws.std(0)


@torch.no_grad()
def predict_batches(model: nn.Module, inputs: list, batch_size: int = 256, members: bool = False) -> np.ndarray:
    """Like :func:`predict` but leaves the module modes (e.g. MC dropout) as they are; ``members``:
    a :class:`SeedEnsemble`'s predictions per member, ``[members, N, T]``."""
    collate = collate_for(model.cfg.kind)
    run = model.predict_members if members else model.predict
    return np.concatenate([run(collate(inputs[i : i + batch_size])).numpy() for i in range(0, len(inputs), batch_size)],
                          axis=1 if members else 0)


@dataclass
class Fitted:
    """A trained model with its tokenizer (SMILES models) and, right after training, the run
    summary, the folder the model was saved in, (with ``refit``) the selection run's summary and
    the validation metric of the model(s) selected on the valid rows (of their mean, for a seed
    ensemble)."""

    model: nn.Module
    tokenizer: Tokenizer | None
    result: TrainResult | None = None
    model_dir: Path | None = None
    selection: TrainResult | None = None
    valid_metric: float | None = None
    seconds: float = 0.0  # training time of every run (selection, refit, each seed)
    selected_dirs: list[Path] | None = None  # the model(s) chosen on the valid rows (not refit on them)


@dataclass
class _Member:
    """One trained model of :func:`fit`: its selection run in ``run`` and, with refit, the refit run."""

    run: Path
    selection: TrainResult
    refit: TrainResult | None = None

    @property
    def folder(self) -> Path:
        """The model to predict with: the refit one when there is one."""
        return self.run / "best" if self.refit is None else self.run / "refit" / "best"

    @property
    def seconds(self) -> float:
        return self.selection.seconds + (self.refit.seconds if self.refit is not None else 0.0)


def fit(cfg: MoleculesConfig, data: SplitData, out_dir: str | Path, cache_dir: str | Path, resume: bool = False,
        init: str | Path | None = None) -> Fitted:
    """Train on ``train`` rows, select on ``valid`` rows; ``test`` rows are never seen.

    ``init``: start from the weights of that model folder. One that predicts the same targets is
    fine-tuned whole (its config and statistics kept); a graph model trained on other targets, such
    as the pretrained encoder (``--config pretrain``), passes on its encoder (widths and message
    passing / attention weights) while the readout and descriptor input start fresh for this data.

    ``cfg.refit``: then train again from the same start on train + valid rows for the selected
    number of steps (scaled by the rows added, so the same epochs), as the peers are fit on both;
    the refit model is the result and ``Fitted.selection`` the selection run.

    ``cfg.ensemble`` > 1: train that many models, seeds ``train.seed + data.seed + i``, each in
    ``out_dir/seed-<i>``, and save their :class:`SeedEnsemble` in ``out_dir/best`` (where one model would be)."""
    out_dir = Path(out_dir)
    parts = {s: data.frame[data.frame["split"] == s] for s in ("train", "valid")}
    start = load_model(init) if init is not None else None
    model_cfg, whole = _model_config(cfg, data, parts["train"], cache_dir, None if start is None else start.model.cfg)
    tokenizer = (start.tokenizer if start is not None else train_tokenizer(parts["train"]["smiles"].tolist())) \
        if model_cfg.kind == "smiles" else None
    valid_inputs = model_inputs(model_cfg, parts["valid"], data.targets, tokenizer, cache_dir)
    y_valid = parts["valid"][data.targets].to_numpy(dtype=np.float64)
    monitor = "val_rmse" if data.task == "regression" else "val_roc_auc"
    builder = "molecules-graph" if model_cfg.kind == "graph" else "molecules-smiles"
    metadata = {"dataset": cfg.data.dataset, "split": data.rule, "targets": data.targets,
                "init": None if init is None else str(init),
                "init_transfer": None if start is None else ("whole model" if whole else "encoder")}

    def evaluate_valid(m: nn.Module) -> dict[str, float]:
        return {f"val_{k}": v for k, v in score(data.task, y_valid, predict(m, valid_inputs)).items()}

    def train_on(rows: pd.DataFrame, run: Path, train_cfg, eval_fn) -> TrainResult:
        seed_everything(train_cfg.seed)
        model = GraphTransformer(model_cfg) if model_cfg.kind == "graph" else SmilesTransformer(model_cfg, tokenizer.vocab_size)
        if start is not None:
            _load_start(model, start.model, whole)
        trainer = Trainer(model, train_cfg, run, make_loss(cfg.target_mask), builder, config_to_dict(model_cfg),
                          eval_fn=eval_fn, collate_fn=collate_for(model_cfg.kind), tokenizer=tokenizer,
                          metadata={**metadata, "trained_on": sorted(set(rows["split"]))})
        return trainer.fit(model_inputs(model_cfg, rows, data.targets, tokenizer, cache_dir), resume=resume)

    def fit_member(run: Path, seed: int) -> _Member:
        """One model, selected on the valid rows, then refit on train + valid rows if asked."""
        selecting = replace(cfg.train, monitor=monitor, monitor_mode="min" if data.task == "regression" else "max",
                            seed=seed)
        selection = train_on(parts["train"], run, selecting, evaluate_valid)
        if not cfg.refit:
            return _Member(run, selection)
        steps = refit_steps(selection, monitor, len(parts["train"]), len(parts["valid"]))
        # One evaluation, at the last step: the refit model is the last one (valid rows are in its training data).
        refitting = replace(selecting, max_steps=steps, eval_every=steps, patience=0, monitor="train_loss",
                            monitor_mode="min", warmup_steps=min(cfg.train.warmup_steps, steps // 2))
        refit = train_on(pd.concat([parts["train"], parts["valid"]]), run / "refit", refitting, None)
        return _Member(run, selection, refit)

    seed = cfg.train.seed + cfg.data.seed
    members = [fit_member(out_dir, seed)] if cfg.ensemble == 1 else \
        [fit_member(out_dir / f"seed-{i}", seed + i) for i in range(cfg.ensemble)]
    first, seconds = members[0], sum(m.seconds for m in members)
    selected_dirs = [m.run / "best" for m in members]
    if cfg.ensemble == 1:
        return Fitted(load_model(first.folder).model, tokenizer, first.refit or first.selection, first.folder,
                      first.selection if first.refit else None, first.selection.best_metric, seconds, selected_dirs)
    ensemble = SeedEnsemble([load_model(m.folder).model for m in members])
    # The ensemble's valid metric: the mean of the models selected on the valid rows (not the refit ones).
    valid_metric = evaluate_valid(SeedEnsemble([load_model(d).model for d in selected_dirs]))[monitor]
    folder = save_model(out_dir / "best", ensemble, "molecules-ensemble",
                        {"members": cfg.ensemble, "member_builder": builder, "member": config_to_dict(model_cfg)},
                        tokenizer, {**metadata, "members": [str(m.folder) for m in members],
                                    "member_valid_metrics": [m.selection.best_metric for m in members],
                                    "valid_metric": valid_metric, "monitor": monitor,
                                    "trained_on": ["train", "valid"] if cfg.refit else ["train"]})
    return Fitted(ensemble, tokenizer, first.refit or first.selection, folder, first.selection if first.refit else None,
                  valid_metric, seconds, selected_dirs)


def refit_steps(selection: TrainResult, monitor: str, n_train: int, n_valid: int) -> int:
    """The selected checkpoint's step, scaled by (train + valid) / train rows: the same epochs."""
    best = next(int(h["step"]) for h in selection.history if h.get(monitor) == selection.best_metric)
    return max(1, round(best * (n_train + n_valid) / n_train))


def _model_config(cfg: MoleculesConfig, data: SplitData, train_rows: pd.DataFrame, cache_dir: str | Path,
                  start: MoleculeModelConfig | None) -> tuple[MoleculeModelConfig, bool]:
    """This run's model config, and whether the ``--init`` model (config ``start``) is taken whole."""
    y_train = train_rows[data.targets].to_numpy(dtype=np.float64)
    ours = replace(cfg.model, num_targets=len(data.targets), task=data.task,
                   target_mean=np.nanmean(y_train, 0).tolist() if data.task == "regression" else None,
                   target_std=np.nanstd(y_train, 0).clip(1e-6).tolist() if data.task == "regression" else None)
    whole = start is not None and start.num_targets == ours.num_targets and start.task == ours.task
    if whole:
        return start, True
    if start is not None:
        if start.kind != "graph" or ours.kind != "graph":
            raise ConfigError(f"--init model predicts {start.num_targets} {start.task} target(s) and this data has "
                              f"{ours.num_targets} {ours.task} target(s): only a graph model's encoder carries over "
                              "to new targets (model.kind=graph)")
        ours = replace(ours, **{k: getattr(start, k) for k in ENCODER_FIELDS})
    if ours.descriptors:
        ours = replace(ours, **descriptor_statistics(train_rows["smiles"].tolist(), cache_dir))
    return ours, False


# What the encoder's weights depend on: an --init encoder brings these settings along.
ENCODER_FIELDS = ("d_model", "n_heads", "layers", "d_ff", "pe_steps", "graph_bias", "max_distance")
ENCODER_PREFIXES = ("atom_embed.", "pe_embed.", "bond_embed.", "layers.", "degree_embed.", "distance_bias.", "norm.")


def _load_start(model: nn.Module, start: nn.Module, whole: bool) -> None:
    """Copy ``start``'s weights: all of them, or only the graph encoder's."""
    state = start.state_dict()
    if whole:
        model.load_state_dict(state)
        return
    encoder = {k: v for k, v in state.items() if k.startswith(ENCODER_PREFIXES)}
    missing = [k for k in model.state_dict() if k.startswith(ENCODER_PREFIXES) and k not in encoder]
    if missing:
        raise ConfigError(f"--init model lacks encoder weights {missing[:3]}")
    model.load_state_dict(encoder, strict=False)


def evaluate(cfg: MoleculesConfig, data: SplitData, fitted: Fitted, cache_dir: str | Path,
             peers: list[str] | None = None) -> dict[str, dict[str, float]]:
    """Test-set metrics of ours and each peer (peers fit on train+valid, as we select on valid)."""
    names = list(cfg.peers if peers is None else peers)
    unknown = sorted(set(names) - set(PEERS))
    if unknown:
        raise ConfigError(f"unknown peer(s) {unknown}; available: {', '.join(PEERS)}")
    test = data.frame[data.frame["split"] == "test"]
    fit_rows = data.frame[data.frame["split"] != "test"]
    y_test = test[data.targets].to_numpy(dtype=np.float64)
    inputs = model_inputs(fitted.model.cfg, test, data.targets, fitted.tokenizer, cache_dir)
    results = {"ours": score(data.task, y_test, predict(fitted.model, inputs))}
    for name in names:
        pred = fit_predict_peer(name, data.task, fit_rows["smiles"].tolist(), fit_rows[data.targets].to_numpy(dtype=np.float64),
                                test["smiles"].tolist(), cfg.data.seed, trees=cfg.peer_trees)
        results[name] = score(data.task, y_test, pred)
    return results
