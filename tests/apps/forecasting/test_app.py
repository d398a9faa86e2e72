"""The App end to end on the tiny config: train, backtest vs peers, batch predict."""

import json

import numpy as np
import pandas as pd
import pytest

from apps.forecasting.app import APP, ForecastOptions
from apps.forecasting.predict import make_predict_fn, read_rows
from shared.app import run_predictor
from shared.inference import read_outputs, run_batch_inference
from shared.model_folder import load_model


def test_backtest_scores_ours_and_peers_on_identical_windows(tiny, tmp_path):
    result = APP.evaluate(tiny["cfg"], tiny["model_dir"], tiny["data"], tmp_path)
    forecasts = pd.read_parquet(tmp_path / "forecasts.parquet")
    keys = {m: set(zip(f["unique_id"], f["ds"])) for m, f in forecasts.groupby("model")}
    assert set(keys) == {"ours", "SeasonalNaive", "AutoTheta", "ensemble"}
    assert keys["ours"] == keys["SeasonalNaive"] == keys["AutoTheta"] == keys["ensemble"]
    assert len(keys["ours"]) == tiny["cfg"].data.horizon * tiny["cfg"].data.n_windows
    # Held-out windows are the last points, never seen in training.
    series = pd.read_parquet(f"{tiny['data']}/airpassengers.parquet")
    assert max(ds for _, ds in keys["ours"]) == series["ds"].max()
    assert {r["model"] for r in result.table} == {"ours", "SeasonalNaive", "AutoTheta", "ensemble"}
    assert (tmp_path / "backtest.png").stat().st_size > 10_000
    assert "airpassengers" in (tmp_path / "metrics.md").read_text()


def _write_inputs(path, good_ids=("s1", "s2", "s3")):
    rng = np.random.default_rng(0)
    frames = [pd.DataFrame({"unique_id": uid, "ds": pd.date_range("2001-01-01", periods=40, freq="MS"),
                            "y": 100 + np.cumsum(rng.normal(size=40))}) for uid in good_ids]
    dup = frames[0].assign(unique_id="dup")
    dup.loc[dup.index[3], "ds"] = dup["ds"].iloc[2]
    nan = frames[0].assign(unique_id="all-nan", y=np.nan)
    text = frames[0].assign(unique_id="text").astype({"y": object})
    text["y"] = "abc"
    pd.concat([*frames, dup, nan, text]).to_csv(path, index=False)


def test_predict_bad_rows_are_recorded_and_good_rows_forecast(tiny, tmp_path):
    data = tmp_path / "in"
    data.mkdir()
    _write_inputs(data / "good.csv")
    (data / "empty.csv").write_text("")
    pd.DataFrame({"id": ["a"], "ds": ["2000-01-01"], "value": [1.0]}).to_csv(data / "wrong_columns.csv", index=False)
    result = run_predictor(APP.predictor(tiny["model_dir"], ForecastOptions(horizon=4)), [str(data)], tmp_path / "out",
                           progress=False)
    records = read_outputs(tmp_path / "out")
    assert {r["unique_id"] for r in records} == {"s1", "s2", "s3"}
    assert len(records) == 3 * 4 and all(r["lo80"] <= r["forecast"] <= r["hi80"] for r in records)
    errors = [json.loads(line) for line in (tmp_path / "out" / "errors.jsonl").read_text().splitlines()]
    reasons = {e["row_id"]: e["reason"] for e in errors}
    assert "duplicate" in reasons["good:dup"]
    assert "empty" in reasons["empty:<file>"]
    assert "missing column" in reasons["wrong_columns:<file>"]
    assert "good:all-nan" in reasons and "good:text" in reasons
    assert result["exit_code"] == 0 and result["errors"] == 5
    assert (tmp_path / "out" / "forecast.png").is_file()


def test_batch_forecast_resumes_after_a_kill(tiny, tmp_path):
    ids = [f"s{i:02d}" for i in range(9)]
    _write_inputs(tmp_path / "series.csv", ids)
    loaded = load_model(tiny["model_dir"])
    predict = make_predict_fn(loaded, 3)
    run_batch_inference(read_rows(tmp_path / "series.csv"), predict, tmp_path / "full", shard_size=2, progress=False)
    calls = []

    def dies_on_third_shard(rows):
        calls.append([r.row_id for r in rows])
        if len(calls) == 3:
            raise KeyboardInterrupt
        return predict(rows)

    with pytest.raises(KeyboardInterrupt):
        run_batch_inference(read_rows(tmp_path / "series.csv"), dies_on_third_shard, tmp_path / "cut",
                            shard_size=2, batch_size=2, progress=False)
    rerun_calls = []

    def counting(rows):
        rerun_calls.append([r.row_id for r in rows])
        return predict(rows)

    summary = run_batch_inference(read_rows(tmp_path / "series.csv"), counting, tmp_path / "cut",
                                  shard_size=2, batch_size=2, progress=False)
    # Nothing finished is redone: the rerun starts with exactly the batch that was killed.
    assert summary.skipped_shards >= 2 and rerun_calls[0] == calls[2]
    assert not {r for c in calls[:2] for r in c} & {r for c in rerun_calls for r in c}
    full, cut = read_outputs(tmp_path / "full"), read_outputs(tmp_path / "cut")
    assert [(r["row_id"], r["step"]) for r in cut] == [(r["row_id"], r["step"]) for r in full]
    assert len({(r["row_id"], r["step"]) for r in cut}) == len(cut)


def test_resumed_training_keeps_the_step_count(tiny, tmp_path):
    cfg = APP.load_config("tiny", ["train.max_steps=8", "train.checkpoint_every=2"])
    first = APP.train(cfg, tiny["data"], tmp_path / "run").to_dict()
    again = APP.train(cfg, tiny["data"], tmp_path / "run", resume=True).to_dict()
    assert first["steps"] == again["steps"] == 8


def test_itransformer_trains_on_a_panel_and_backtests(tmp_path):
    cfg = APP.load_config("tiny", ["model.kind=itransformer", "data.datasets=[macrodata]", "peers=[SeasonalNaive]"])
    data = APP.prepare(cfg, tmp_path / "data")
    trained = APP.train(cfg, data, tmp_path / "run").to_dict()
    result = APP.evaluate(cfg, trained["model_dir"], data, tmp_path / "eval")
    windows = pd.read_csv(tmp_path / "eval" / "windows.csv")
    ours = windows[windows["model"] == "ours"]
    assert ours["unique_id"].nunique() == 6 and np.isfinite(ours["mase"]).all()
    assert result.ours["coverage80"] >= 0.0


def test_ensemble_members_average_and_resume(tiny, tmp_path):
    cfg = APP.load_config("tiny", ["model.members=2"])
    trained = APP.train(cfg, tiny["data"], tmp_path / "run").to_dict()
    ensemble = load_model(trained["model_dir"]).model
    assert len(ensemble.members) == 2
    import torch

    x, obs = torch.randn(2, 32), torch.ones(2, 32, dtype=torch.bool)
    expected = (ensemble.members[0](x, obs)[0] + ensemble.members[1](x, obs)[0]) / 2
    torch.testing.assert_close(ensemble(x, obs)[0], expected)
    again = APP.train(cfg, tiny["data"], tmp_path / "run", resume=True).to_dict()  # finished members are skipped
    assert again["best_metric"] == pytest.approx(trained["best_metric"]) and again["steps"] == trained["steps"]
