"""The molecules app's typed config, loaded from ``configs/<name>.yaml``::

    data:  {dataset: freesolv, split: auto, seed: 0}       # or csv: my.csv (what --data sets)
    model: {kind: graph, d_model: 128, layers: 4, descriptors: true, ...}
    train: {max_steps: 3000, batch_size: 64, lr: 0.0005, ...}
    peers: [rf_morgan, rf_descriptors]
    peer_trees: 500
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from apps.molecules.model import MoleculeModelConfig
from apps.molecules.peers import PEERS
from shared.config import check_names, config_file, load_config
from shared.training import TrainConfig

CONFIG_DIR = Path(__file__).parent / "configs"
SplitRule = Literal["auto", "shipped", "column", "random", "scaffold"]


@dataclass
class DataConfig:
    """Which molecules, which targets, and how they are split.

    ``dataset`` names a shipped set (see :mod:`apps.molecules.datasets`). ``csv`` is the user's
    own file (``--data`` sets it, and ``dataset`` to the file's stem): a SMILES column
    (``smiles_column``), numeric target columns (``targets``; default: every other numeric
    column) and an optional ``split`` column (train/valid/test).

    ``split``: ``auto`` uses the split the data ships with (a shipped test set, a file's
    ``split`` column), else the dataset's usual rule (scaffold for a user's file);
    ``shipped`` (or ``column``) insists on the data's own split: a shipped set's, or the ``split``
    column of the user's CSV (train/valid/test); ``random`` is a seeded 80/10/10 split;
    ``scaffold`` puts whole Bemis-Murcko scaffold groups on one side (80/10/10).
    ``task``: regression or classification; by default a shipped set's own, and for a
    user's file classification when every target value is 0 or 1.
    """

    dataset: str = "freesolv"
    csv: str | None = None
    smiles_column: str = "smiles"
    targets: list[str] = field(default_factory=list)
    task: Literal["regression", "classification"] | None = None
    split: SplitRule = "auto"
    seed: int = 0  # the random split's seed; also added to train.seed
    cache_dir: str = "data/cache/molecules"
    corpus_molecules: int = 50000  # dataset=pretraining: the corpus's size (MOSES fills what the smaller sources leave)


@dataclass
class MoleculesConfig:
    data: DataConfig = field(default_factory=DataConfig)
    model: MoleculeModelConfig = field(default_factory=MoleculeModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    peers: list[str] = field(default_factory=lambda: list(PEERS))
    peer_trees: int = 500
    # after selecting the step count on valid rows, train again on train + valid rows (as the peers fit)
    refit: bool = False
    # the share of known targets left out of each step's loss at random (the pretraining config's masking)
    target_mask: float = 0.0
    # models trained from different seeds whose mean is the prediction (a seed ensemble when > 1)
    ensemble: int = 1

    def __post_init__(self) -> None:
        check_names(self.peers, PEERS, "peer")
        if not 0.0 <= self.target_mask < 1.0:
            raise ValueError(f"target_mask must be in [0, 1), got {self.target_mask}")
        if self.ensemble < 1:
            raise ValueError(f"ensemble must be at least 1, got {self.ensemble}")
        if self.model.descriptors and self.model.kind != "graph":
            raise ValueError("model.descriptors is an option of the graph model (model.kind=graph)")


def load_molecules_config(name_or_path: str = "default", overrides: list[str] | None = None) -> MoleculesConfig:
    """``default``, ``demo``, ``tiny`` or ``pretrain`` (shipped configs), or a path to a YAML file."""
    return load_config(MoleculesConfig, config_file(name_or_path, CONFIG_DIR), overrides)
