"""The forecasting flow end to end under Prefect, and the deployments in prefect.yaml."""

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pandas as pd

from shared.inference import read_outputs
from shared.registry import ModelRegistry

ROOT = Path(__file__).resolve().parents[2]


def test_retrain_flow_end_to_end(prefect_server, tmp_path):
    from pipelines.flows import forecasting_batch as batch_forecast
    from pipelines.flows import forecasting_retrain as retrain

    data, registry = tmp_path / "data", tmp_path / "registry"
    batch_in = tmp_path / "incoming.csv"
    first = retrain(config="tiny", prepared=str(data), run_root=str(tmp_path / "runs"), registry=str(registry))
    assert first["registered"]["promoted"] and first["registered"]["version"] == "v0001"
    assert {"mase", "smape", "coverage80"} <= set(first["ours"])
    assert first["best_peer"] in {"SeasonalNaive", "AutoTheta"}
    assert Path(first["metrics_md"]).is_file() and Path(first["plot"]).is_file()
    artifacts = asyncio.run(_latest_artifacts(["forecasting-metrics", "forecasting-plot"]))
    assert {"ours", "SeasonalNaive", "AutoTheta"} <= {row["model"] for row in json.loads(artifacts["forecasting-metrics"])}
    assert "backtest.png" in artifacts["forecasting-plot"]

    # A second run with another seed is promoted only if it beats the champion.
    second = retrain(config="tiny", prepared=str(data), run_root=str(tmp_path / "runs"), registry=str(registry),
                     overrides=["train.seed=1"])
    champion = ModelRegistry(registry).champion("forecasting")
    better = second["ours"]["mase"] < first["ours"]["mase"]
    assert second["registered"]["promoted"] == better
    assert champion.version == ("v0002" if better else "v0001")

    series = pd.read_parquet(data / "airpassengers.parquet")
    series.to_csv(batch_in, index=False)
    summary = batch_forecast(input_path=str(batch_in), output_dir=str(tmp_path / "out"), registry=str(registry))
    assert summary["succeeded"] == 1 and len(read_outputs(tmp_path / "out")) == 6


async def _latest_artifacts(keys):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    async with get_client() as client:
        found = {}
        for key in keys:
            artifacts = await client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])))
            found[key] = artifacts[-1].data
        return found


def test_serve_builds_the_deployments_prefect_yaml_declares():
    import yaml

    from pipelines.serve import all_deployments

    declared = {d["name"]: d for d in yaml.safe_load((ROOT / "prefect.yaml").read_text())["deployments"]}
    served = all_deployments()
    assert {d.name for d in served} == set(declared)
    for deployment in served:
        assert deployment.schedules[0].schedule.cron == declared[deployment.name]["schedules"][0]["cron"]
        assert deployment.parameters == declared[deployment.name]["parameters"]


def test_ingest_is_cached_on_its_inputs(prefect_server, tmp_path):
    from prefect import flow

    from apps.forecasting.app import APP
    from pipelines.template import ingest_task, recipe_version

    @flow
    def twice(folder: str) -> list:
        params = {"config": "tiny", "overrides": []}
        version = recipe_version(APP)
        return [ingest_task("forecasting", params, folder, version, return_state=True).name for _ in range(2)]

    assert twice(str(tmp_path / "d")) == ["Completed", "Cached"]
    assert recipe_version(APP) != recipe_version(SimpleNamespace(recipe_modules=("apps.forecasting.data",)))


def test_prefect_yaml_deploys(prefect_server, tmp_path):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate

    async def make_pool():
        async with get_client() as client:
            await client.create_work_pool(WorkPoolCreate(name="sextant-process", type="process"))

    asyncio.run(make_pool())
    env = {**os.environ, "PREFECT_API_URL": prefect_server}
    done = subprocess.run([sys.executable, "-m", "prefect", "--no-prompt", "deploy", "--all"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]

    async def read():
        async with get_client() as client:
            return await client.read_deployments()

    deployments = {d.name: d for d in asyncio.run(read())}
    assert {"forecasting-nightly-retrain", "forecasting-hourly-batch"} <= set(deployments)
    nightly = deployments["forecasting-nightly-retrain"]
    assert nightly.schedules[0].schedule.cron == "0 2 * * *"
    assert nightly.parameters["config"] == "default"
    assert deployments["forecasting-hourly-batch"].schedules[0].schedule.cron == "0 * * * *"
    assert deployments["molecules-nightly-retrain"].schedules[0].schedule.cron == "0 3 * * *"
    assert deployments["vision-nightly-retrain"].schedules[0].schedule.cron == "0 4 * * *"


def test_base_model_forecasts_zero_shot_and_fine_tunes_through_the_flows(prefect_server, tmp_path):
    """A base model folder forecasts a user's CSV through the batch flow with no training, and the
    retrain flow fine-tunes it on that CSV (``init``)."""
    from apps.forecasting.app import main
    from pipelines.flows import forecasting_batch as batch_forecast
    from pipelines.flows import forecasting_retrain as retrain
    from shared.model_folder import load_model
    from tests.apps.forecasting.test_base_model import PRETRAIN
    from tests.apps.forecasting.test_user_data import _user_series

    base = tmp_path / "base"
    assert main(["train", "--config", "tiny", *[a for kv in PRETRAIN for a in ("--set", kv)], "--run", str(base)]) == 0
    csv = _user_series(tmp_path / "sales.csv")
    summary = batch_forecast(input_path=str(csv), output_dir=str(tmp_path / "zero-shot"), model=str(base / "best"),
                             options={"horizon": 4})
    assert summary["succeeded"] == 2 and len(read_outputs(tmp_path / "zero-shot")) == 2 * 4

    tuned = retrain(config="tiny", data=str(csv), init=str(base / "best"), run_root=str(tmp_path / "runs"),
                    registry=str(tmp_path / "registry"), overrides=["data.horizon=6", "peers=[SeasonalNaive]"])
    assert tuned["registered"]["version"] == "v0001"
    model = load_model(ModelRegistry(tmp_path / "registry").verified("forecasting").path).model
    assert model.cfg.skip == load_model(base / "best").model.cfg.skip == "seasonal"  # the base's architecture
