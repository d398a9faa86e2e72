"""The molecules App: graph and SMILES transformers for molecular properties, against random
forests on Morgan fingerprints and RDKit descriptors.

Data: the shipped sets (FreeSolv, Huuskonen solubility, B3DB; :mod:`apps.molecules.datasets`)
or the user's CSV (a SMILES column, numeric target columns, an optional ``split`` column).
Without a split column a user's file is split by Bemis-Murcko scaffold (80/10/10), so no
scaffold is on two sides; ``data.split`` picks another rule.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from shared.app import DataReport, Evaluation, SampleFiles, TrainSummary, best_of

if TYPE_CHECKING:
    from apps.molecules.config import MoleculesConfig
    from apps.molecules.predict import MoleculesPredictor


@dataclass
class MoleculesOptions:
    """``sextant molecules predict``'s options, and the batch flow's."""

    smiles_col: str = field(default="smiles", metadata={"help": "the input CSVs' SMILES column"})
    mc_samples: int = field(default=10, metadata={"help": "MC dropout passes for each target's _std column"})
    format: Literal["parquet", "jsonl"] = field(default="parquet", metadata={"help": "output shard format"})


class MoleculesApp:
    name = "molecules"
    title = "Molecular properties: graph and SMILES transformers, against random forests on fingerprints and descriptors."
    items = "molecules"
    stages = ("train",)
    metric, mode = "rmse", "min"  # regression; a classification data set is scored by roc_auc (higher is better)
    batch_options = MoleculesOptions
    data_help = ("a CSV with a SMILES column (smiles, or data.smiles_column), numeric target columns (every other "
                 "numeric column, or data.targets=[...]; 0/1 targets mean classification) and an optional split "
                 "column (train/valid/test); without one, a Bemis-Murcko scaffold split (80/10/10)")
    input_help = "CSV files with a SMILES column (--smiles-col), folders of them, or manifests listing them"
    examples = (
        "train --data my_molecules.csv --run runs/mol-mine  # your own CSV (scaffold split unless it has a split column)",
        "evaluate --data my_molecules.csv --model runs/mol-mine/best  # ours vs RF on Morgan / RDKit descriptors",
        "predict new_molecules.csv --model runs/mol-mine/best --out predictions/",
        "train --set data.dataset=solubility --run runs/mol-solubility  # shipped data sets",
        "train --set model.kind=smiles model.descriptors=false --run runs/mol-smiles  # the SMILES transformer",
        "train --config pretrain --run runs/mol-pretrain  # self-supervised encoder (descriptors of ~50k molecules)",
        "train --set data.dataset=solubility --init runs/mol-pretrain/best --run runs/mol-sol-ft  # fine-tune it",
        "train --data my.csv --set refit=true --run runs/mol-refit  # pick steps on valid, refit on train + valid",
        "train --config demo --run runs/mol-demo --resume  # continue a killed run",
        "train --config demo --run runs/mol-ddp --nproc 2  # data-parallel (torchrun)",
        "evaluate --set data.dataset=freesolv data.split=random --model runs/mol-demo/best --peers rf_morgan",
    )
    configs = ("default", "demo", "tiny", "pretrain")
    recipe_modules = ("apps.molecules.data", "apps.molecules.datasets", "apps.molecules.datasets.datamol",
                      "apps.molecules.datasets.b3db", "apps.molecules.datasets.corpus", "apps.molecules.app")

    def load_config(self, name: str = "default", overrides: Sequence[str] = ()) -> MoleculesConfig:
        from apps.molecules.config import load_molecules_config

        return load_molecules_config(name, list(overrides))

    def with_data(self, cfg: MoleculesConfig, source: str) -> MoleculesConfig:
        """``cfg`` reading the user's CSV (named after the file's stem)."""
        from shared.errors import DataError
        from shared.paths import config_path

        path = config_path(source, "--data")
        if path.is_dir():
            raise DataError(f"{source}: a folder; --data takes one CSV file (smiles, targets, optional split)")
        if not path.is_file():
            raise DataError(f"file not found: {source}")
        if path.suffix.lower() != ".csv":
            raise DataError(f"{path.name}: expected a .csv file (smiles, targets, optional split)")
        return replace(cfg, data=replace(cfg.data, csv=str(source), dataset=path.stem))

    def prepared_dir(self, cfg: MoleculesConfig) -> Path:
        """The cache folder for shipped data; for a user's CSV a sub-folder keyed on the file
        (path, size, time) and the settings that read it."""
        from shared.paths import config_path

        d = cfg.data
        if not d.csv:
            return Path(d.cache_dir)
        path = config_path(d.csv, "data.csv")
        stat = [path.stat().st_size, path.stat().st_mtime_ns] if path.is_file() else None
        key = json.dumps([str(path), stat, d.smiles_column, d.targets, d.task, d.split, d.seed])
        return Path(d.cache_dir) / f"user-{hashlib.sha256(key.encode()).hexdigest()[:10]}"

    def is_prepared(self, cfg: MoleculesConfig, data: Path) -> bool:
        from apps.molecules.data import is_prepared

        return is_prepared(cfg, data)

    def prepare(self, cfg: MoleculesConfig, out: Path) -> Path:
        from apps.molecules.data import prepare

        return prepare(cfg, out)

    def validate(self, cfg: MoleculesConfig, data: Path) -> DataReport:
        """Rows per side, the targets and task, and dropped rows; a molecule on both the train
        and the test side is refused."""
        from apps.molecules.data import SIDES, load_prepared, prepared_report, prepared_stem
        from shared.errors import DataError

        report = prepared_report(cfg, data)
        split = load_prepared(cfg, data)
        sides = {s: set(split.frame.loc[split.frame["split"] == s, "smiles"]) for s in SIDES}
        both = sides["train"] & sides["test"]
        if both:
            raise DataError(f"{len(both)} molecule(s) on both the train and the test side (duplicates in the data?), "
                            f"e.g. {sorted(both)[0]}: remove them or use data.split=scaffold")
        dropped = report.get("dropped", [])
        details = {"source": report["source"], "task": report["task"], "targets": ", ".join(report["targets"]),
                   "split": report["rule"] + (f" (seed {report['seed']})" if report["rule"] == "random" else "")}
        if dropped:
            first = dropped[0]
            where = "line" if report.get("csv") else "row"
            details["dropped"] = (f"{len(dropped)} of {report['rows_read']} rows (first: {where} {first['row']}: "
                                  f"{first['reason']}); every one in {Path(data) / prepared_stem(cfg)}.json")
        return DataReport(items=len(split.frame), splits=dict(report["rows"]), details=details)

    def train(self, cfg: MoleculesConfig, data: Path, run_dir: Path, stage: str = "train", *, resume: bool = False,
              init: str | None = None) -> TrainSummary:
        from apps.molecules.data import features_dir, load_prepared
        from apps.molecules.train import fit

        split = load_prepared(cfg, data)
        fitted = fit(cfg, split, run_dir, features_dir(data), resume=resume, init=init)
        # fitted.valid_metric: the selection run's (with refit), the seed ensemble's (with ensemble > 1)
        metric = "val_rmse" if split.task == "regression" else "val_roc_auc"
        return TrainSummary(str(fitted.model_dir), fitted.valid_metric, metric, fitted.result.step, fitted.seconds)

    def evaluate(self, cfg: MoleculesConfig, model_dir: str, data: Path, out_dir: Path,
                 peers: Sequence[str] | None = None) -> Evaluation:
        """Test-set metrics of ours next to each peer (fit on train + valid rows), a table, and a
        grid of the best and worst predicted test molecules (regression). The model reads the
        inputs it was trained on (its saved kind, encodings and descriptors), whatever ``cfg`` says."""
        from apps.molecules.data import features_dir, load_prepared, split_rule
        from apps.molecules.plots import molecule_grid
        from apps.molecules.train import Fitted, evaluate
        from shared.atomic import atomic_write_text
        from shared.model_folder import load_model

        split = load_prepared(cfg, data)
        loaded = load_model(model_dir)
        fitted = Fitted(loaded.model, loaded.tokenizer)
        cache = features_dir(data)
        scores = evaluate(cfg, split, fitted, cache, None if peers is None else list(peers))
        metric, mode = ("rmse", "min") if split.task == "regression" else ("roc_auc", "max")
        best_peer = best_of({k: v[metric] for k, v in scores.items() if k != "ours"}, mode)
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        table = [{"model": k, **v} for k, v in scores.items()]
        rule = split_rule(split, cfg.data.dataset)
        atomic_write_text(out / "metrics.json", json.dumps(table, indent=2) + "\n")
        markdown = _markdown(table, metric, mode, rule)
        atomic_write_text(out / "metrics.md", markdown)
        artifacts = {"metrics_md": str(out / "metrics.md"), "metrics_json": str(out / "metrics.json")}
        plot = molecule_grid(split, fitted, cache, out / "best_worst.png") if split.task == "regression" else None
        if plot is not None:
            artifacts["plot"] = str(plot)
        return Evaluation(table=table, ours=scores["ours"], metric=metric, mode=mode, registry_name=self.registry_name(cfg),
                          best_peer=best_peer, split_rule=rule, artifacts=artifacts, markdown=markdown)

    def predictor(self, model_dir: str, options: MoleculesOptions) -> MoleculesPredictor:
        from apps.molecules.predict import MoleculesPredictor

        return MoleculesPredictor(model_dir, options.smiles_col, options.mc_samples, options.format)

    def registry_name(self, cfg: MoleculesConfig) -> str:
        """``molecules-<dataset>``; for a user's CSV ``molecules-<file stem>``."""
        return f"{self.name}-{Path(cfg.data.csv).stem if cfg.data.csv else cfg.data.dataset}"

    def sample_files(self, folder: Path) -> SampleFiles:
        """160 FreeSolv molecules as a user's CSV (name, smiles, a numeric target), and 20 others
        to predict plus one invalid SMILES (an error row)."""
        import pandas as pd

        from apps.molecules.datasets.datamol import freesolv

        folder.mkdir(parents=True, exist_ok=True)
        frame = freesolv(("iupac", "smiles", "dG_hydration")).rename(columns={"iupac": "name"})
        frame = frame.rename(columns={"dG_hydration": "hydration_free_energy"})
        frame.head(160).to_csv(folder / "solvation.csv", index=False)
        batch = frame.iloc[160:180][["name", "smiles"]]
        bad = pd.DataFrame({"name": ["typo"], "smiles": ["C1CC(=O"]})
        pd.concat([batch.iloc[:10], bad, batch.iloc[10:]], ignore_index=True).to_csv(folder / "candidates.csv", index=False)
        return SampleFiles(str(folder / "solvation.csv"), str(folder / "candidates.csv"))


def _markdown(table: list[dict], metric: str, mode: str, rule: str) -> str:
    columns = list(dict.fromkeys(k for row in table for k in row))
    lines = [f"# Molecules: {metric} ({'lower' if mode == 'min' else 'higher'} is better) on held-out molecules", "",
             f"Held out: {rule}.", "", "| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in table:
        lines.append("| " + " | ".join(f"{row[c]:.4g}" if isinstance(row.get(c), float) else str(row.get(c, ""))
                                       for c in columns) + " |")
    return "\n".join(lines) + "\n"


APP = MoleculesApp()


def main(argv: list[str] | None = None) -> int:
    """``sextant-molecules``: the same as ``sextant molecules``."""
    from shared.cli import app_main

    return app_main(APP, argv)
