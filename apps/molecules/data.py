"""Molecular property data: the shipped sets (:mod:`apps.molecules.datasets`) or the user's CSV,
cleaned, split and written as a prepared folder.

A user's CSV has a SMILES column (``data.smiles_column``, default ``smiles``), one or more
numeric target columns (``data.targets``; default: every other numeric column; several
targets train one multi-task model) and optionally a ``split`` column (train/valid/test).
Invalid SMILES, empty rows and unparseable targets become dropped rows with a reason
(listed in the prepared report); they never crash a run or silently vanish.

Split rules (``data.split``): the split the data ships with (a shipped test set, the file's
``split`` column; validation carved from its training part when it marks none), a seeded
random 80/10/10 split, or a deterministic Bemis-Murcko scaffold split (80/10/10; whole
scaffold groups, so no scaffold is on two sides). ``auto`` takes the shipped split where there
is one, else the dataset's usual rule: scaffold for a user's file.
"""

from __future__ import annotations

import json
import random
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from rdkit import Chem
from rdkit.Chem.Scaffolds import MurckoScaffold

from apps.molecules.datasets import DATASETS, load_raw
from apps.molecules.datasets.corpus import HELD_OUT_SPLITS, canonical_smiles, pretraining_corpus
from apps.molecules.smiles import parse_smiles
from shared.atomic import atomic_write_bytes, atomic_write_text
from shared.errors import DataError
from shared.paths import config_path

if TYPE_CHECKING:
    from apps.molecules.config import MoleculesConfig

SIDES = ("train", "valid", "test")
SPLIT_ALIASES = {"val": "valid", "validation": "valid", "dev": "valid", "training": "train", "testing": "test"}


@dataclass
class CleanReport:
    rows: int = 0
    kept: int = 0
    errors: list[dict] = field(default_factory=list)  # {"row": index, "smiles": ..., "reason": ...}


def clean(frame: pd.DataFrame, smiles_col: str, targets: list[str]) -> tuple[pd.DataFrame, CleanReport]:
    """Keep rows with a valid SMILES and numeric targets; every other row becomes an error with a reason.

    Returns ``smiles`` (canonical), the targets, and any other columns (e.g. ``split``)."""
    missing = [c for c in [smiles_col, *targets] if c not in frame.columns]
    if missing:
        raise DataError(f"missing column(s) {missing}; have {list(frame.columns)}")
    report = CleanReport(rows=len(frame))
    keep, canonical = [], []
    values = frame[targets].apply(pd.to_numeric, errors="coerce").astype(np.float64)  # booleans as 0/1
    for i, (idx, smi) in enumerate(frame[smiles_col].items()):
        mol, reason = parse_smiles(smi)
        if reason is None and values.iloc[i].isna().all():
            reason = f"no numeric target in {targets}"
        if reason is None and not np.isfinite(values.iloc[i].dropna().to_numpy()).all():
            reason = "non-finite target"
        if reason:
            report.errors.append({"row": int(idx) if isinstance(idx, (int, np.integer)) else str(idx),
                                  "smiles": str(smi)[:200], "reason": reason})
            continue
        keep.append(i)
        canonical.append(Chem.MolToSmiles(mol))
    others = frame.iloc[keep].drop(columns=[smiles_col, *targets]).reset_index(drop=True)
    # one concat, not a column at a time (the pretraining corpus has ~200 targets)
    out = pd.concat([pd.DataFrame({"smiles": canonical}), pd.DataFrame(values.iloc[keep].to_numpy(), columns=targets),
                     others], axis=1)
    report.kept = len(out)
    return out, report


def scaffold(smiles: str) -> str:
    """Bemis-Murcko scaffold (empty for acyclic molecules)."""
    return MurckoScaffold.MurckoScaffoldSmiles(smiles=smiles, includeChirality=False)


def scaffold_split(smiles: list[str], fractions: tuple[float, float, float] = (0.8, 0.1, 0.1)) -> np.ndarray:
    """Deterministic scaffold split: whole scaffold groups, largest first, fill train,
    then valid, then test, so no scaffold appears on two sides."""
    groups: dict[str, list[int]] = defaultdict(list)
    for i, smi in enumerate(smiles):
        groups[scaffold(smi)].append(i)
    ordered = sorted(groups.values(), key=lambda g: (-len(g), g[0]))
    n = len(smiles)
    split = np.empty(n, dtype=object)
    train_cap, valid_cap = fractions[0] * n, (fractions[0] + fractions[1]) * n
    filled = 0
    for group in ordered:
        side = "train" if filled + len(group) <= train_cap else "valid" if filled + len(group) <= valid_cap else "test"
        split[group] = side
        filled += len(group)
    return split


def random_split(n: int, seed: int, fractions: tuple[float, float, float] = (0.8, 0.1, 0.1)) -> np.ndarray:
    """Seeded random split into train/valid/test."""
    order = list(range(n))
    random.Random(seed).shuffle(order)
    split = np.empty(n, dtype=object)
    a, b = int(round(fractions[0] * n)), int(round((fractions[0] + fractions[1]) * n))
    split[order[:a]], split[order[a:b]], split[order[b:]] = "train", "valid", "test"
    return split


@dataclass
class SplitData:
    """One dataset, cleaned and split (``split`` column: train/valid/test)."""

    frame: pd.DataFrame
    targets: list[str]
    task: str
    rule: str = "random"  # how it was split: shipped, file, random or scaffold
    seed: int = 0


def numeric_columns(frame: pd.DataFrame, exclude: set[str]) -> list[str]:
    """Columns (other than ``exclude``) whose values pandas reads as numbers or booleans."""
    return [c for c in frame.columns if c not in exclude and pd.api.types.is_numeric_dtype(frame[c])]


def read_user_csv(path: str | Path, smiles_column: str = "smiles", targets: list[str] | None = None,
                  key: str = "data.csv") -> tuple[pd.DataFrame, list[str]]:
    """The user's CSV (confined like every path a config names) and its target columns:
    ``targets``, or every numeric column but the SMILES and ``split`` columns."""
    file = config_path(path, key)
    if not file.is_file():
        raise DataError(f"{path}: file not found")
    try:
        frame = pd.read_csv(file, dtype={smiles_column: str, "split": str})
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as err:
        raise DataError(f"{file.name}: cannot be read as CSV ({str(err).splitlines()[0] or 'empty file'})") from None
    if smiles_column not in frame.columns:
        raise DataError(f"{file.name}: no SMILES column {smiles_column!r} (columns: {list(frame.columns)}); "
                        "set data.smiles_column")
    if targets:
        missing = [t for t in targets if t not in frame.columns]
        if missing:
            raise DataError(f"{file.name}: no target column(s) {missing} (columns: {list(frame.columns)})")
        return frame, list(targets)
    found = numeric_columns(frame, {smiles_column, "split"})
    if not found:
        raise DataError(f"{file.name}: no numeric target column (columns: {list(frame.columns)}); "
                        "name them with data.targets=[...]")
    return frame, found


def infer_task(frame: pd.DataFrame, targets: list[str]) -> str:
    """Classification when every known target value is 0 or 1 (and both occur), else regression."""
    values = frame[targets].to_numpy(dtype=np.float64)
    values = values[np.isfinite(values)]
    return "classification" if len(values) and set(np.unique(values)) == {0.0, 1.0} else "regression"


def resolved_rule(cfg: MoleculesConfig, frame: pd.DataFrame) -> str:
    """The split rule ``cfg.data.split`` means for this data: shipped, random or scaffold."""
    d = cfg.data
    has_split = "split" in frame.columns
    if d.split == "auto":
        if has_split:
            return "shipped"
        info = None if d.csv else DATASETS.get(d.dataset)
        return info.default_split if info is not None and info.default_split != "shipped" else "scaffold"
    if d.split in ("shipped", "column"):
        if not has_split:
            what = f"{Path(d.csv).name} has no split column (train/valid/test)" if d.csv else f"{d.dataset} ships no split"
            raise DataError(f"{what}; use data.split=random or data.split=scaffold")
        return "shipped"
    return d.split


def shipped_split(values: pd.Series, seed: int, where: str) -> np.ndarray:
    """The data's own ``split`` column (train/valid/test; val, validation, dev also read as valid).
    Without valid rows, a seeded 10% of the training rows validates; test rows stay untouched."""
    split = values.astype(str).str.strip().str.lower().replace(SPLIT_ALIASES).to_numpy(dtype=object)
    unknown = sorted(set(split) - set(SIDES))
    if unknown:
        raise DataError(f"{where}: the split column holds {unknown[:5]}; expected train, valid or test")
    if not (split == "valid").any():
        inner = random_split(int((split == "train").sum()), seed, (0.9, 0.1, 0.0))
        split[np.flatnonzero(split == "train")] = np.where(inner == "train", "train", "valid")
    return split


def load_split(cfg: MoleculesConfig) -> tuple[SplitData, CleanReport]:
    """Read, clean and split the data ``cfg`` names (a shipped set, or ``data.csv``)."""
    d = cfg.data
    if d.csv:
        raw, targets = read_user_csv(d.csv, d.smiles_column, d.targets)
        raw.index = raw.index + 2  # dropped rows are reported by their line in the file (1 is the header)
        frame, report = clean(raw, d.smiles_column, targets)
        task = d.task or infer_task(frame, targets)
        where = Path(d.csv).name
    else:
        info = DATASETS.get(d.dataset)
        if info is None:
            raise DataError(f"unknown dataset {d.dataset!r}; available: {', '.join(DATASETS)} (or your own CSV with --data)")
        raw = (pretraining_corpus(d.corpus_molecules, held_out_smiles()) if d.dataset == "pretraining"
               else load_raw(d.dataset))
        targets = list(info.targets) or [c for c in raw.columns if c not in ("smiles", "split")]
        frame, report = clean(raw, "smiles", targets)
        task, where = d.task or info.task, d.dataset
    if frame.empty:
        first = report.errors[0]["reason"] if report.errors else "no rows"
        raise DataError(f"{where}: no usable molecules in {report.rows} row(s) (first problem: {first})")
    rule = resolved_rule(cfg, frame)
    if rule == "shipped":
        split = shipped_split(frame["split"], d.seed, where)
    elif rule == "scaffold":
        split = scaffold_split(frame["smiles"].tolist())
    else:
        split = random_split(len(frame), d.seed)
    frame = frame.assign(split=split).reset_index(drop=True)
    empty = [s for s in SIDES if not (frame["split"] == s).any()]
    if empty:
        raise DataError(f"{where}: the {rule} split of {len(frame)} molecules leaves no {' and no '.join(empty)} "
                        "molecules; use more data or another data.split")
    return SplitData(frame, targets, task, "file" if rule == "shipped" and d.csv else rule, d.seed), report


def held_out_smiles() -> set[str]:
    """Canonical SMILES the pretraining corpus must not hold: the test side of every benchmark split
    (``HELD_OUT_SPLITS``) and all of FreeSolv (its random test split changes with the seed)."""
    from apps.molecules.config import load_molecules_config

    held: list[str] = load_raw("freesolv")["smiles"].tolist()
    for dataset, rule in HELD_OUT_SPLITS:
        data, _ = load_split(load_molecules_config("tiny", [f"data.dataset={dataset}", f"data.split={rule}"]))
        held += data.frame.loc[data.frame["split"] == "test", "smiles"].tolist()
    return set(held) | set(canonical_smiles(held)[0])  # as written, and as the corpus writes them (largest fragment)


def prepared_stem(cfg: MoleculesConfig) -> str:
    size = f"-{cfg.data.corpus_molecules}" if cfg.data.dataset == "pretraining" else ""
    return f"{cfg.data.dataset}-{cfg.data.split}-{cfg.data.seed}{size}"


def is_prepared(cfg: MoleculesConfig, folder: str | Path) -> bool:
    stem = Path(folder) / prepared_stem(cfg)
    return stem.with_suffix(".json").is_file() and stem.with_suffix(".parquet").is_file()


def prepare(cfg: MoleculesConfig, out: str | Path) -> Path:
    """Clean and split the configured data into ``out``: ``<dataset>-<split>-<seed>.parquet``
    (smiles, targets, split) and a ``.json`` report (rows per side, the rule, dropped rows)."""
    out = Path(out)
    data, cleaned = load_split(cfg)
    stem = prepared_stem(cfg)
    info = None if cfg.data.csv else DATASETS[cfg.data.dataset]
    report = {"dataset": cfg.data.dataset, "csv": cfg.data.csv, "split": cfg.data.split, "rule": data.rule,
              "seed": data.seed, "task": data.task, "targets": data.targets,
              "rows": {s: int((data.frame["split"] == s).sum()) for s in SIDES},
              "source": cfg.data.csv or info.source, "licence": "user data" if info is None else info.licence,
              "rows_read": cleaned.rows, "dropped": cleaned.errors}
    atomic_write_bytes(out / f"{stem}.parquet", data.frame[["smiles", *data.targets, "split"]].to_parquet(index=False))
    atomic_write_text(out / f"{stem}.json", json.dumps(report, indent=2) + "\n")
    return out


def prepared_report(cfg: MoleculesConfig, folder: str | Path) -> dict:
    path = Path(folder) / f"{prepared_stem(cfg)}.json"
    if not path.is_file():
        raise DataError(f"{cfg.data.dataset} (split {cfg.data.split}, seed {cfg.data.seed}) is not prepared in {folder}: "
                        "run prepare first")
    return json.loads(path.read_text())


def load_prepared(cfg: MoleculesConfig, folder: str | Path) -> SplitData:
    """The prepared data ``cfg`` names in ``folder``."""
    report = prepared_report(cfg, folder)
    frame = pd.read_parquet(Path(folder) / f"{prepared_stem(cfg)}.parquet")
    return SplitData(frame, report["targets"], report["task"], report.get("rule", "random"), report.get("seed", 0))


def features_dir(folder: str | Path) -> Path:
    """Where featurised graphs and descriptors of a prepared folder's molecules are cached."""
    return Path(folder) / "features"


def split_rule(data: SplitData, where: str) -> str:
    """One sentence: which molecules were held out, and how."""
    n = {s: int((data.frame["split"] == s).sum()) for s in SIDES}
    counts = f"test {n['test']}, valid {n['valid']}, train {n['train']} molecules"
    if data.rule == "scaffold":
        return (f"{where}: Bemis-Murcko scaffold split ({counts}): whole scaffold groups, largest first, fill train, "
                "then valid, then test, so no scaffold is on two sides")
    if data.rule == "random":
        return f"{where}: seeded random 80/10/10 split (seed {data.seed}; {counts})"
    source = "your file's split column" if data.rule == "file" else "the test set the dataset ships"
    return f"{where}: {source} ({counts}; valid rows are carved from train, seed {data.seed}, where none are marked)"
