"""Predicting molecular properties with a trained model: the batch job of ``sextant molecules predict``
on the shared batch-inference contract.

Input: CSV files with a SMILES column (``--smiles-col``), folders of them, or manifests listing
them. Each CSV row is one input row (``row_id`` = file stem + row number); invalid or empty
SMILES become error rows while the rest are predicted, with an MC dropout standard deviation
per prediction. Large inputs are featurised on worker processes.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from concurrent.futures import Executor
from contextlib import nullcontext
from functools import partial
from pathlib import Path
from types import TracebackType

import pandas as pd
import torch
from torch_geometric.data import Data
from torch_geometric.transforms import AddRandomWalkPE

from apps.molecules.smiles import parse_smiles
from apps.molecules.featurize import DESCRIPTOR_NAMES, mol_descriptors, mol_to_graph, process_pool
from apps.molecules.train import MAX_SMILES_TOKENS, graph_input, predict_with_uncertainty
from shared.errors import DataError
from shared.inference import InferenceSummary, InputRow, RowError, resolve_inputs
from shared.model_folder import LoadedModel, load_model

SUFFIXES = (".csv", ".smi", ".txt")


def featurise_pool(workers: int):
    """A process pool for :func:`featurise_row` (``workers`` > 1), else no pool."""
    return process_pool(workers) if workers > 1 else nullcontext(None)


def read_rows(path: str | Path, smiles_col: str = "smiles", chunk: int = 10_000) -> Iterator[InputRow]:
    """Rows of every CSV under ``path`` in order, read in chunks (100k-row files stay small in memory)."""
    files = resolve_inputs(path, SUFFIXES)
    for file in files:
        prefix = f"{file.stem}:"
        try:
            reader = pd.read_csv(file, chunksize=chunk, dtype=str, keep_default_na=False)
            for frame in reader:
                if smiles_col not in frame.columns:
                    raise DataError(f"no column {smiles_col!r} (columns: {list(frame.columns)}); set --smiles-col")
                for index, smiles in frame[smiles_col].items():
                    yield InputRow(f"{prefix}{index}", payload=smiles)
        except (DataError, OSError, pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
            yield InputRow(f"{prefix}<file>", error=f"{file.name}: {str(err).splitlines()[0] or 'empty file'}")


def featurise_row(smiles: str, pe_steps: int, descriptor_names: list[str] | None) -> Data | str:
    """One SMILES as the graph model's input (random-walk encodings, descriptors when
    ``descriptor_names``), or a one-line reason why it cannot be."""
    mol, reason = parse_smiles(smiles)
    if mol is None:
        return reason or "invalid SMILES"
    descriptors = None
    if descriptor_names is not None:
        descriptors = torch.from_numpy(mol_descriptors(mol, descriptor_names)).float()[None]
    return graph_input(mol_to_graph(mol), AddRandomWalkPE(pe_steps), descriptors)


def make_predict_fn(loaded: LoadedModel, mc_samples: int = 10, pool: Executor | None = None):
    """Featurise (on ``pool``'s worker processes when given), predict with MC dropout,
    one record per row (target mean + std)."""
    model, tokenizer = loaded.model, loaded.tokenizer
    targets = loaded.metadata.get("targets") or [f"target_{i}" for i in range(model.cfg.num_targets)]
    is_graph = model.cfg.kind == "graph"
    names = (model.cfg.descriptor_names or DESCRIPTOR_NAMES) if model.cfg.descriptors else None
    featurise = partial(featurise_row, pe_steps=model.cfg.pe_steps, descriptor_names=names)

    def to_inputs(smiles: list[str]) -> list:
        if is_graph:
            return list(pool.map(featurise, smiles, chunksize=16)) if pool else [featurise(s) for s in smiles]
        inputs: list = []
        for s in smiles:
            mol, reason = parse_smiles(s)
            inputs.append(reason if mol is None else
                          (tokenizer.encode(s.strip(), add_bos=True)[:MAX_SMILES_TOKENS], torch.zeros(1, model.cfg.num_targets)))
        return inputs

    def predict(rows: list[InputRow]) -> list[list[dict] | RowError]:
        results: list[list[dict] | RowError | None] = [None] * len(rows)
        inputs, where = [], []
        for i, item in enumerate(to_inputs([row.payload for row in rows])):
            if isinstance(item, str):
                results[i] = RowError(item)
            else:
                inputs.append(item)
                where.append(i)
        if inputs:
            mean, std = predict_with_uncertainty(model, inputs, samples=mc_samples)
            for j, i in enumerate(where):
                record = {"row_id": rows[i].row_id, "smiles": rows[i].payload}
                for t, name in enumerate(targets):
                    record[name] = float(mean[j, t])
                    record[f"{name}_std"] = float(std[j, t])
                results[i] = [record]
        return results  # type: ignore[return-value]

    return predict


POOL_MIN_BYTES = 64_000  # about 1,000 SMILES: below that, starting worker processes costs more than it saves


class MoleculesPredictor:
    """The batch job of ``sextant molecules predict``: one row per CSV row, one record per
    molecule (each target's MC-dropout mean and ``<target>_std``). For inputs of more than about
    1,000 rows, ``workers`` > 1 featurises on that many processes (RDKit descriptors are
    single-threaded and dominate the cost); use it as a context manager so they are stopped."""

    shard_size = 2048
    batch_size = 256

    def __init__(self, model_dir: str | Path, smiles_col: str = "smiles", mc_samples: int = 10, fmt: str = "parquet",
                 workers: int = 2):
        if mc_samples < 1:
            raise DataError(f"mc_samples must be at least 1, got {mc_samples}")
        self.loaded = load_model(model_dir)
        self.smiles_col, self.mc_samples, self.fmt, self.workers = smiles_col, mc_samples, fmt, workers
        self._pool_context = None
        self._predict = make_predict_fn(self.loaded, mc_samples)

    def __enter__(self) -> MoleculesPredictor:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        if self._pool_context is not None:
            self._pool_context.__exit__(kind, error, tb)
            self._pool_context = None

    def rows(self, inputs: Sequence[str]) -> Iterator[InputRow]:
        size = sum(f.stat().st_size for path in inputs for f in _files(path) if f.is_file())
        if size >= POOL_MIN_BYTES and self.workers > 1 and self._pool_context is None:
            self._pool_context = featurise_pool(self.workers)
            self._predict = make_predict_fn(self.loaded, self.mc_samples, self._pool_context.__enter__())
        for path in inputs:
            yield from read_rows(path, self.smiles_col)

    def predict(self, batch: list[InputRow]) -> list[list[dict] | RowError]:
        return self._predict(batch)

    def finish(self, out_dir: Path, summary: InferenceSummary) -> dict[str, str]:
        return {}


def _files(path: str | Path) -> list[Path]:
    try:
        return resolve_inputs(path, SUFFIXES)
    except (DataError, OSError):  # read_rows reports it as an error row or a refusal
        return []
