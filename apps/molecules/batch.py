"""Batch prediction over SMILES files on the shared batch-inference contract.

Each CSV row is one input row (``row_id`` = file stem + row number); invalid
or empty SMILES become error rows while the rest are predicted, with an MC
dropout standard deviation per prediction.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import torch
from torch_geometric.data import Data
from torch_geometric.transforms import AddRandomWalkPE

from apps.molecules.data import parse_smiles
from apps.molecules.featurize import mol_to_graph
from apps.molecules.model import GraphTransformer
from apps.molecules.train import MAX_SMILES_TOKENS, predict_with_uncertainty
from shared.errors import DataError
from shared.inference import InferenceSummary, InputRow, RowError, resolve_inputs, run_batch_inference
from shared.model_folder import LoadedModel

SUFFIXES = (".csv", ".smi", ".txt")


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
        except (DataError, pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
            yield InputRow(f"{prefix}<file>", error=f"{file.name}: {str(err).splitlines()[0] or 'empty file'}")


def make_predict_fn(loaded: LoadedModel, mc_samples: int = 10):
    """Featurise, predict with MC dropout, one record per row (target mean + std)."""
    model, tokenizer = loaded.model, loaded.tokenizer
    targets = loaded.metadata.get("targets") or [f"target_{i}" for i in range(model.cfg.num_targets)]
    pe = AddRandomWalkPE(model.cfg.pe_steps)  # only used by graph models

    def to_input(smiles: str):
        mol, reason = parse_smiles(smiles)
        if mol is None:
            raise RowError(reason)
        if isinstance(model, GraphTransformer):
            g = mol_to_graph(mol)
            return pe(Data(x=g.x, edge_index=g.edge_index, edge_attr=g.edge_attr, num_nodes=g.num_nodes))
        return tokenizer.encode(smiles.strip(), add_bos=True)[:MAX_SMILES_TOKENS], torch.zeros(1, model.cfg.num_targets)

    def predict(rows: list[InputRow]) -> list[list[dict] | RowError]:
        results: list[list[dict] | RowError | None] = [None] * len(rows)
        inputs, where = [], []
        for i, row in enumerate(rows):
            try:
                inputs.append(to_input(row.payload))
                where.append(i)
            except RowError as err:
                results[i] = err
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


def batch_predict(loaded: LoadedModel, input_path: str | Path, output_dir: str | Path, smiles_col: str = "smiles",
                  mc_samples: int = 10, shard_size: int = 2048, fmt: str = "parquet", progress: bool = True) -> InferenceSummary:
    return run_batch_inference(read_rows(input_path, smiles_col), make_predict_fn(loaded, mc_samples), output_dir,
                               shard_size=shard_size, batch_size=256, fmt=fmt, progress=progress)
