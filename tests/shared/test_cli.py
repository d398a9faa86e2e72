"""The generated command line (shared/cli.py) on a small App defined here."""

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Optional

import pytest

from shared.app import DataReport, Evaluation, TrainSummary
from shared.cli import app_cli, expand_set, run
from shared.errors import DataError
from shared.inference import InputRow, RowError


@dataclass
class ToyConfig:
    @dataclass
    class Train:
        max_steps: int = 5
        lr: float = 0.1

    train: Train = field(default_factory=Train)
    data: str = "shipped"


@dataclass
class ToyOptions:
    scale: float = field(default=1.0, metadata={"help": "multiply every value"})
    labels: Optional[list[str]] = field(default=None, metadata={"help": "labels to keep"})
    shout: bool = field(default=False, metadata={"help": "upper-case the names"})
    format: Literal["parquet", "jsonl"] = field(default="jsonl", metadata={"help": "shard format"})


class ToyPredictor:
    shard_size, batch_size = 4, 2

    def __init__(self, options: ToyOptions):
        self.options, self.fmt = options, options.format

    def rows(self, inputs):
        for path in inputs:
            for i, line in enumerate(Path(path).read_text().splitlines()):
                yield InputRow(f"{Path(path).stem}:{i}", payload=line)

    def predict(self, batch):
        return [RowError("not a number") if not row.payload.isdigit()
                else [{"row_id": row.row_id, "value": float(row.payload) * self.options.scale}] for row in batch]

    def finish(self, out_dir, summary):
        return {"report": str(out_dir / "summary.json")}


class ToyApp:
    name, title, items = "toy", "A toy app for the CLI tests.", "numbers"
    stages = ("pretrain", "train")
    metric, mode = "error", "min"
    batch_options = ToyOptions
    data_help, input_help = "a text file", "text files, one number a line"
    examples = ("train --config tiny",)
    configs = ("tiny",)
    recipe_modules = ()

    def __init__(self):
        self.calls = []

    def load_config(self, name="default", overrides=()):
        if name == "missing":
            raise DataError("no such config")
        cfg = ToyConfig()
        for item in overrides:
            key, value = item.split("=")
            if key != "train.max_steps":
                raise DataError(f"unknown key {key}")
            cfg.train.max_steps = int(value)
        return cfg

    def with_data(self, cfg, source):
        cfg.data = source
        return cfg

    def prepared_dir(self, cfg):
        return Path("prepared") / Path(cfg.data).name

    def is_prepared(self, cfg, data):
        return (Path(data) / "ok").is_file()

    def prepare(self, cfg, out):
        self.calls.append(("prepare", cfg.data))
        Path(out).mkdir(parents=True, exist_ok=True)
        (Path(out) / "ok").write_text("")
        return Path(out)

    def validate(self, cfg, data):
        return DataReport(3, {"train": 2, "test": 1}, {"source": cfg.data})

    def train(self, cfg, data, run_dir, stage="train", *, resume=False, init=None):
        self.calls.append((stage, cfg.train.max_steps, init, resume))
        return TrainSummary(str(Path(run_dir) / "best"), 0.5, "val_error", cfg.train.max_steps, 0.1)

    def evaluate(self, cfg, model_dir, data, out_dir, peers=None):
        self.calls.append(("evaluate", model_dir, peers))
        return Evaluation([{"model": "ours", "error": 0.25}, {"model": "zero", "error": 0.5}], {"error": 0.25},
                          "error", "min", "toy", "zero", "the last third of the lines")

    def predictor(self, model_dir, options):
        return ToyPredictor(options)

    def registry_name(self, cfg):
        return "toy"

    def sample_files(self, folder):
        raise NotImplementedError


@pytest.fixture
def toy(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return ToyApp()


def _run(app, argv):
    return run(app_cli(app), argv, prog="sextant toy")


def test_set_takes_several_pairs_after_one_flag():
    assert expand_set(["train", "--set", "a=1", "b=2", "--run", "r", "x=y"]) == [
        "train", "--set", "a=1", "--set", "b=2", "--run", "r", "x=y"]


def test_stages_prepare_once_and_chain_through_init(toy, capsys):
    assert _run(toy, ["pretrain", "--data", "mine.txt", "--set", "train.max_steps=7", "--run", "r1"]) == 0
    assert _run(toy, ["train", "--data", "mine.txt", "--run", "r2", "--init", "r1/best", "--resume"]) == 0
    assert toy.calls == [("prepare", "mine.txt"), ("pretrain", 7, None, False), ("train", 5, "r1/best", True)]
    assert '"best_metric": 0.5' in capsys.readouterr().out


def test_evaluate_prints_a_table_and_the_split_rule(toy, capsys):
    assert _run(toy, ["evaluate", "--model", "run/best", "--peers", "none"]) == 0
    out = capsys.readouterr().out
    assert "ours" in out and "zero" in out and "held out: the last third of the lines" in out
    assert toy.calls[-1] == ("evaluate", "run/best", [])
    assert _run(toy, ["evaluate", "--model", "elsewhere/model"]) == 2
    assert "pass --out" in capsys.readouterr().err


def test_predict_flags_come_from_the_options_dataclass(toy, tmp_path, capsys):
    (tmp_path / "in.txt").write_text("1\n2\nthree\n4\n")
    code = _run(toy, ["predict", "in.txt", "--model", "m", "--out", "o", "--scale", "2", "--shout",
                      "--labels", "a", "--labels", "b"])
    out = capsys.readouterr().out
    assert code == 0 and "4 rows: 3 ok, 1 error" in out and "report: o/summary.json" in out
    assert _run(toy, ["predict", "--help"]) == 0
    help_text = capsys.readouterr().out
    assert "--scale" in help_text and "multiply every value" in help_text and "--no-shout" in help_text


@pytest.mark.parametrize("argv", [
    ["predict", "in.txt", "--model", "m", "--out", "o", "--format", "xml"],  # not a choice
    ["train", "--bogus"],  # no such option
    ["train", "--config", "missing"],  # the App's own one-line error
    ["train", "--set", "model.width=3"],  # an unknown config key
    ["nonsense"],  # no such command
])
def test_every_error_is_one_line_with_exit_code_2(toy, argv, capsys):
    assert _run(toy, argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and err.count("\n") == 1 and "Traceback" not in err
