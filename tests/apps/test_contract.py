"""The App contract, for every installed App: on a small data set in the user's own format,
``prepare -> train (tiny) -> evaluate -> predict`` through the one CLI, exactly as the README shows.

Each App writes its sample files (``App.sample_files``): a data set in its ecosystem's format
and a batch input that includes at least one bad item. The test checks what a user sees: exit
codes, the prepared split counts, a model folder, an evaluation table with ours next to at
least one peer on the held-out part, and predictions with the bad item recorded as an error row.
"""

import json
from pathlib import Path

import pytest

from shared.app import Evaluation, app_names, get_app
from shared.cli import main
from shared.inference import read_outputs

pytestmark = pytest.mark.integration


@pytest.fixture(params=app_names())
def app(request):
    return get_app(request.param)


def test_app_declares_the_contract(app):
    assert app.stages and app.stages[-1] == "train"
    assert app.mode in ("min", "max") and app.metric and app.items
    assert "tiny" in app.configs and app.examples and app.data_help and app.input_help
    cfg = app.load_config("tiny", ["train.max_steps=3"])
    assert cfg.train.max_steps == 3  # the same key in every app
    for stage in app.stages[:-1]:
        assert getattr(cfg.train, stage).max_steps >= 1  # other stages under train.<stage>
    assert app.registry_name(cfg).startswith(app.name)


def test_prepare_train_evaluate_predict_on_the_users_format(app, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    sample = app.sample_files(tmp_path / "mine")
    tiny = ["--config", "tiny", "--data", sample.data, "--set", *sample.overrides, "train.max_steps=2"]

    assert main([app.name, "prepare", *tiny]) == 0, capsys.readouterr().err
    assert "prepared in" in capsys.readouterr().out
    cfg = app.with_data(app.load_config("tiny", list(sample.overrides)), sample.data)
    report = app.validate(cfg, app.prepared_dir(cfg))
    assert report.items > 0 and all(n >= 0 for n in report.splits.values())

    init = None
    for stage in app.stages:
        args = [app.name, stage, *tiny, "--run", f"run-{stage}"] + (["--init", init] if init else [])
        assert main(args) == 0, capsys.readouterr().err
        out = capsys.readouterr().out
        summary = json.loads(out[out.index("{"):])
        assert Path(summary["model_dir"]).is_dir() and summary["steps"] >= 1
        init = summary["model_dir"]

    seen: dict[str, Evaluation] = {}
    evaluate = app.evaluate

    def recording(*args, **kwargs):  # the CLI's own evaluation, kept for the checks below
        seen["evaluation"] = evaluate(*args, **kwargs)
        return seen["evaluation"]

    monkeypatch.setattr(app, "evaluate", recording)
    assert main([app.name, "evaluate", *tiny, "--model", init, "--out", "eval"]) == 0, capsys.readouterr().err
    printed = capsys.readouterr().out
    evaluation = seen["evaluation"]
    assert f"held out: {evaluation.split_rule}" in printed and "ours" in printed
    models = {row["model"] for row in evaluation.table}
    assert "ours" in models and len(models) >= 2, models  # ours next to at least one peer
    assert evaluation.metric in evaluation.ours and evaluation.split_rule
    assert all(Path(p).exists() for p in evaluation.artifacts.values())

    code = main([app.name, "predict", sample.predict_input, "--model", init, "--out", "predictions"])
    assert code == 0, capsys.readouterr().err
    assert "ok" in capsys.readouterr().out
    assert read_outputs(tmp_path / "predictions")
    errors = (tmp_path / "predictions" / "errors.jsonl").read_text().splitlines()
    assert errors, "the sample batch input has a bad item, which must be an error row"
