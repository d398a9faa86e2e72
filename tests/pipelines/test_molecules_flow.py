"""The molecules flow end to end under Prefect (tiny config)."""

from pathlib import Path

import pandas as pd

from shared.inference import read_outputs
from shared.registry import ModelRegistry


def test_molecules_flow_end_to_end(prefect_server, tmp_path):
    from pipelines.molecules import retrain

    batch_in = tmp_path / "incoming.csv"
    pd.DataFrame({"smiles": ["CCO", "not-a-smiles", "c1ccccc1"]}).to_csv(batch_in, index=False)
    summary = retrain(config="tiny", overrides=[f"cache_dir={tmp_path / 'cache'}"], data_dir=str(tmp_path / "data"),
                      run_root=str(tmp_path / "runs"), registry=str(tmp_path / "registry"), batch_input=str(batch_in))
    assert summary["registered"]["name"] == "molecules-freesolv" and summary["registered"]["promoted"]
    assert ModelRegistry(tmp_path / "registry").champion("molecules-freesolv").version == "v0001"
    assert summary["batch"]["succeeded"] == 2 and summary["batch"]["errors"] == 1
    assert len(read_outputs(Path(summary["run_dir"]) / "batch")) == 2
