"""The molecules app's pipeline steps, shared by the CLI and the Prefect flow."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from apps.molecules.batch import batch_predict
from apps.molecules.data import DATASETS
from apps.molecules.model import GraphTransformer
from apps.molecules.train import (Fitted, MoleculesConfig, SplitData, evaluate, fit, load_molecules_config, load_split,
                                  model_inputs, predict)
from shared.atomic import atomic_write_bytes, atomic_write_text
from shared.errors import DataError
from shared.model_folder import load_model


def config(name: str = "default", overrides: list[str] | None = None) -> MoleculesConfig:
    return load_molecules_config(name, overrides)


def prepare_data(cfg: MoleculesConfig, out_dir: str | Path | None = None) -> str:
    """Clean and split the configured dataset; writes ``<dataset>-<split>-<seed>.parquet`` and a report."""
    out = Path(out_dir or cfg.cache_dir)
    data = load_split(cfg)
    stem = f"{cfg.dataset}-{cfg.split}-{cfg.seed}"
    atomic_write_bytes(out / f"{stem}.parquet", data.frame.to_parquet(index=False))
    report = {"dataset": cfg.dataset, "split": cfg.split, "task": data.task, "targets": data.targets,
              "rows": {s: int((data.frame["split"] == s).sum()) for s in ("train", "valid", "test")},
              "source": cfg.csv or DATASETS[cfg.dataset].source,
              "licence": "user data" if cfg.csv else DATASETS[cfg.dataset].licence}
    atomic_write_text(out / f"{stem}.json", json.dumps(report, indent=2) + "\n")
    return str(out)


def _split_data(cfg: MoleculesConfig, data_dir: str | Path) -> SplitData:
    stem = Path(data_dir) / f"{cfg.dataset}-{cfg.split}-{cfg.seed}"
    if not stem.with_suffix(".json").is_file():
        raise DataError(f"{cfg.dataset} ({cfg.split}, seed {cfg.seed}) is not prepared in {data_dir}: run prepare first")
    report = json.loads(stem.with_suffix(".json").read_text())
    return SplitData(pd.read_parquet(stem.with_suffix(".parquet")), report["targets"], report["task"])


def validate_data(cfg: MoleculesConfig, data_dir: str | Path) -> dict:
    data = _split_data(cfg, data_dir)
    sides = {s: set(data.frame.loc[data.frame["split"] == s, "smiles"]) for s in ("train", "valid", "test")}
    if sides["train"] & sides["test"]:
        raise DataError(f"{len(sides['train'] & sides['test'])} molecule(s) on both train and test sides")
    return {"series": len(data.frame), "rows": {s: len(v) for s, v in sides.items()}, "task": data.task}


def train_model(cfg: MoleculesConfig, data_dir: str | Path, run_dir: str | Path, resume: bool = False) -> dict:
    fitted = fit(cfg, _split_data(cfg, data_dir), run_dir, resume=resume)
    return {"model_dir": str(Path(run_dir) / "best"), "val_metric": fitted.result.best_metric,
            "steps": fitted.result.step, "train_seconds": fitted.result.seconds}


def evaluate_model(cfg: MoleculesConfig, model_dir: str | Path, data_dir: str | Path, out_dir: str | Path,
                   peers: list[str] | None = None) -> dict:
    """Test metrics of ours next to each peer, a results table, and a best/worst molecule grid."""
    data = _split_data(cfg, data_dir)
    loaded = load_model(model_dir)
    cfg = inputs_config(cfg, loaded.model)
    fitted = Fitted(loaded.model, loaded.tokenizer)
    scores = evaluate(cfg, data, fitted, peers)
    metric, mode = ("rmse", "min") if data.task == "regression" else ("roc_auc", "max")
    peer_names = [k for k in scores if k != "ours"]
    best_peer = (min if mode == "min" else max)(peer_names, key=lambda k: scores[k][metric]) if peer_names else None
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    table = [{"model": k, **v} for k, v in scores.items()]
    atomic_write_text(out / "metrics.json", json.dumps(table, indent=2) + "\n")
    plot = molecule_grid(cfg, data, fitted, out / "best_worst.png") if data.task == "regression" else None
    return {"table": table, "ours": scores["ours"], "best_peer": best_peer,
            "best_peer_scores": scores.get(best_peer) if best_peer else None, "plot": str(plot) if plot else None,
            "registry_name": f"molecules-{cfg.dataset}", "metric": metric, "mode": mode}


def inputs_config(cfg: MoleculesConfig, model) -> MoleculesConfig:
    """``cfg`` with the input settings the trained ``model`` reads (its kind, encodings, descriptors),
    so a model is evaluated on the inputs it was trained on whatever config is passed."""
    kind = "graph" if isinstance(model, GraphTransformer) else "smiles"
    saved = model.cfg
    return replace(cfg, kind=kind, model=replace(cfg.model, pe_steps=saved.pe_steps, descriptors=saved.descriptors))


def molecule_grid(cfg: MoleculesConfig, data: SplitData, fitted: Fitted, path: Path, n: int = 6) -> Path:
    """RDKit grid of the best and worst predicted test molecules (first target)."""
    from rdkit import Chem
    from rdkit.Chem import Draw

    test = data.frame[data.frame["split"] == "test"].reset_index(drop=True)
    pred = predict(fitted.model, model_inputs(cfg, test, data.targets, fitted.tokenizer))[:, 0]
    err = np.abs(pred - test[data.targets[0]].to_numpy())
    order = np.argsort(err)
    picks = list(order[:n]) + list(order[-n:])
    mols = [Chem.MolFromSmiles(test.loc[i, "smiles"]) for i in picks]
    legends = [f"{'best' if k < n else 'worst'}: true {test.loc[i, data.targets[0]]:.2f} pred {pred[i]:.2f}"
               for k, i in enumerate(picks)]
    Draw.MolsToGridImage(mols, molsPerRow=n, subImgSize=(220, 180), legends=legends).save(path)
    return path


def predict_file(model_dir: str | Path, input_path: str | Path, output_dir: str | Path, smiles_col: str = "smiles",
                 mc_samples: int = 10, fmt: str = "parquet", progress: bool = True) -> dict:
    summary = batch_predict(load_model(model_dir), input_path, output_dir, smiles_col, mc_samples, fmt=fmt, progress=progress)
    return {**summary.to_dict(), "line": summary.line()}
