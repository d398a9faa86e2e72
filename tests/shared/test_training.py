"""The shared training loop: learning, resume, determinism, early stopping, checkpoints."""

import math
import os

import pytest
import torch

from shared.config import config_to_dict
from shared.model_folder import load_model
from shared.models import EncoderDecoder
from shared.toy import SeqTaskConfig, collate, exact_match, make_splits, seq2seq_loss
from shared.training import TrainConfig, Trainer, TrainingError, epoch_batches, learning_rate, seed_everything
from tests.shared.helpers import tiny_config

TASK = SeqTaskConfig(train_size=600, test_size=50)


def _trainer(tmp_path, train_cfg, model_cfg=None, eval_fn=None, callbacks=(), seed=0):
    seed_everything(seed)
    model_cfg = model_cfg or tiny_config(vocab_size=TASK.vocab_size, dropout=0.1)
    model = EncoderDecoder(model_cfg)
    return Trainer(model, train_cfg, tmp_path, seq2seq_loss, "encoder-decoder", config_to_dict(model_cfg),
                   eval_fn=eval_fn, collate_fn=collate, callbacks=callbacks)


@pytest.mark.slow
def test_copy_and_reverse_reach_99_percent_on_held_out(tmp_path):
    task = SeqTaskConfig(train_size=4000, test_size=500)
    train, test = make_splits(task)
    model_cfg = tiny_config(d_model=64, d_ff=128, vocab_size=task.vocab_size)
    cfg = TrainConfig(max_steps=1200, batch_size=64, lr=1.5e-3, warmup_steps=50, eval_every=1200,
                      monitor="exact_match", monitor_mode="max", progress=False)
    trainer = _trainer(tmp_path, cfg, model_cfg, eval_fn=lambda m: {"exact_match": exact_match(m, test)})
    result = trainer.fit(train)
    assert result.best_metric >= 0.99, result.history
    # The best checkpoint on disk is a model folder giving the same accuracy.
    assert exact_match(load_model(tmp_path / "best").model, test) == result.best_metric


def test_resume_reproduces_uninterrupted_run(tmp_path):
    train, _ = make_splits(TASK)
    cfg = TrainConfig(max_steps=30, batch_size=16, lr=1e-3, warmup_steps=5, eval_every=10,
                      checkpoint_every=5, monitor="train_loss", progress=False)
    full = _trainer(tmp_path / "full", cfg).fit(train)

    def crash(trainer, step):
        if step == 17:
            raise KeyboardInterrupt  # stands in for a kill between checkpoints

    with pytest.raises(KeyboardInterrupt):
        _trainer(tmp_path / "cut", cfg, callbacks=[crash]).fit(train)
    assert os.path.basename(os.readlink(tmp_path / "cut" / "last")) == "step-00000015"
    resumed = _trainer(tmp_path / "cut", cfg, seed=123).fit(train, resume=True)  # seed must not matter
    assert resumed.step == full.step == 30
    assert resumed.final_loss == full.final_loss
    assert [h["train_loss"] for h in resumed.history] == [h["train_loss"] for h in full.history]


def test_same_seed_same_run_different_seed_different_run(tmp_path):
    train, _ = make_splits(TASK)
    cfg = TrainConfig(max_steps=8, batch_size=16, eval_every=8, monitor="train_loss", progress=False)
    a = _trainer(tmp_path / "a", cfg).fit(train)
    b = _trainer(tmp_path / "b", cfg).fit(train)
    c = _trainer(tmp_path / "c", cfg, seed=1).fit(train)
    assert a.final_loss == b.final_loss
    assert a.final_loss != c.final_loss


def test_early_stopping_on_named_metric(tmp_path):
    train, _ = make_splits(TASK)
    cfg = TrainConfig(max_steps=100, batch_size=16, eval_every=2, patience=3, monitor="score",
                      monitor_mode="max", progress=False)
    result = _trainer(tmp_path, cfg, eval_fn=lambda m: {"score": 0.5}).fit(train)
    assert result.stopped_early and result.step == 8  # best at step 2, then 3 evaluations without gain
    assert os.path.basename(os.readlink(tmp_path / "best")) == "step-00000002"
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == ["step-00000002", "step-00000008"]


def test_missing_monitor_metric_is_a_clear_error(tmp_path):
    train, _ = make_splits(TASK)
    cfg = TrainConfig(max_steps=4, batch_size=16, eval_every=2, monitor="val_bleu", progress=False)
    with pytest.raises(TrainingError, match="val_bleu"):
        _trainer(tmp_path, cfg, eval_fn=lambda m: {"val_loss": 1.0}).fit(train)


def test_nan_loss_stops_training(tmp_path):
    train, _ = make_splits(TASK)
    cfg = TrainConfig(max_steps=4, batch_size=16, eval_every=2, monitor="train_loss", progress=False)
    trainer = _trainer(tmp_path, cfg)
    trainer.loss_fn = lambda model, batch: seq2seq_loss(model, batch) * float("nan")
    with pytest.raises(TrainingError, match="nan"):
        trainer.fit(train)


def test_crash_while_checkpointing_keeps_previous_checkpoint(tmp_path, monkeypatch):
    train, _ = make_splits(TASK)
    cfg = TrainConfig(max_steps=10, batch_size=16, eval_every=5, monitor="train_loss", progress=False)
    trainer = _trainer(tmp_path, cfg)
    original = torch.save
    calls = {"n": 0}

    def flaky_save(obj, path, *a, **k):
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError("disk full")
        return original(obj, path, *a, **k)

    monkeypatch.setattr(torch, "save", flaky_save)
    with pytest.raises(OSError):
        trainer.fit(train)
    assert os.path.basename(os.readlink(tmp_path / "last")) == "step-00000005"
    assert not [p for p in (tmp_path / "checkpoints").iterdir() if p.name.endswith(".tmp")]
    load_model(tmp_path / "last")


def test_checkpoints_a_killed_run_left_half_written_or_half_deleted_are_cleared(tmp_path):
    train, _ = make_splits(TASK)
    root = tmp_path / "checkpoints"
    for leftover in (".step-00000003.123.tmp", ".step-00000002.99.deleting", ".step-00000001.7.old"):
        (root / leftover).mkdir(parents=True)
        (root / leftover / "model.safetensors").write_bytes(b"partial")
    cfg = TrainConfig(max_steps=10, batch_size=16, eval_every=5, checkpoint_every=2, monitor="train_loss",
                      progress=False)
    _trainer(tmp_path, cfg).fit(train)
    kept = sorted(p.name for p in root.iterdir())
    assert kept == sorted({os.path.basename(os.readlink(tmp_path / n)) for n in ("last", "best")})
    assert all((root / name / "trainer_state.json").is_file() for name in kept)


def test_learning_rate_schedule():
    cfg = TrainConfig(max_steps=100, lr=1.0, warmup_steps=10, min_lr_ratio=0.1)
    assert learning_rate(0, cfg) == pytest.approx(0.1)
    assert learning_rate(9, cfg) == pytest.approx(1.0)
    assert learning_rate(55, cfg) == pytest.approx(0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * 0.5)))
    assert learning_rate(100, cfg) == pytest.approx(0.1)


def test_epoch_batches_are_a_deterministic_permutation():
    batches = epoch_batches(10, 3, seed=0, epoch=0)
    assert batches == epoch_batches(10, 3, seed=0, epoch=0)
    assert batches != epoch_batches(10, 3, seed=0, epoch=1)
    flat = [i for b in batches for i in b]
    assert len(flat) == 9 and len(set(flat)) == 9
