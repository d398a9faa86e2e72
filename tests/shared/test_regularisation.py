"""timm in the core: stochastic depth in the shared blocks, and the EMA option of the trainer."""

import os

import pytest
import torch
from safetensors.torch import load_file

from shared.config import config_to_dict
from shared.layers.block import TransformerBlock
from shared.models import Encoder, EncoderDecoder
from shared.models.stack import drop_path_rates
from shared.toy import SeqTaskConfig, collate, make_splits, seq2seq_loss
from shared.errors import CheckpointError
from shared.training import TRAINING_WEIGHTS, TrainConfig, Trainer, seed_everything
from tests.shared.helpers import tiny_config

TASK = SeqTaskConfig(train_size=300, test_size=20)


def test_drop_path_rates_rise_linearly_from_zero_to_the_rate():
    assert drop_path_rates(0.3, 4) == pytest.approx([0.0, 0.1, 0.2, 0.3])
    assert drop_path_rates(0.2, 1) == [0.2]
    encoder = Encoder(tiny_config(encoder_layers=3, drop_path=0.2))
    rates = [getattr(block.drop_path, "drop_prob", 0.0) for block in encoder.stack.layers]
    assert rates == pytest.approx([0.0, 0.1, 0.2])


def test_drop_path_drops_whole_samples_in_training_and_nothing_in_eval():
    torch.manual_seed(0)
    plain = TransformerBlock(32, 4, 64, dropout=0.0)
    dropped = TransformerBlock(32, 4, 64, dropout=0.0, drop_path=0.5)
    dropped.load_state_dict(plain.state_dict())  # DropPath has no weights: the same block
    x = torch.randn(64, 5, 32)
    plain.eval(), dropped.eval()
    assert torch.equal(plain(x), dropped(x))
    dropped.train()
    out = dropped(x)
    untouched = [torch.equal(out[i], x[i]) for i in range(len(x))]  # both branches dropped for this sample
    assert 0 < sum(untouched) < len(x)


def test_drop_path_must_be_a_probability():
    with pytest.raises(ValueError, match="drop_path"):
        tiny_config(drop_path=1.0)


def _trainer(out, cfg, callbacks=(), seed=0):
    seed_everything(seed)
    model_cfg = tiny_config(vocab_size=TASK.vocab_size, drop_path=0.2, dropout=0.1)
    return Trainer(EncoderDecoder(model_cfg), cfg, out, seq2seq_loss, "encoder-decoder", config_to_dict(model_cfg),
                   collate_fn=collate, callbacks=callbacks)


EMA = TrainConfig(max_steps=24, batch_size=16, lr=2e-3, warmup_steps=4, eval_every=8, checkpoint_every=4,
                  monitor="train_loss", progress=False, ema_decay=0.9)


def test_ema_weights_are_what_is_saved_and_differ_from_the_training_weights(tmp_path):
    trainer = _trainer(tmp_path, EMA)
    trainer.fit(make_splits(TASK)[0])
    saved = load_file(tmp_path / "last" / "model.safetensors")
    raw = load_file(tmp_path / "last" / TRAINING_WEIGHTS)
    ema_state, model_state = trainer.ema.module.state_dict(), trainer.model.state_dict()
    name = "encoder.stack.layers.0.mlp.fc1.weight" if "encoder.stack.layers.0.mlp.fc1.weight" in saved else next(iter(saved))
    assert torch.equal(saved[name], ema_state[name])
    assert torch.equal(raw[name], model_state[name])
    assert not torch.equal(saved[name], raw[name])


def test_resume_with_ema_and_drop_path_is_bit_exact(tmp_path):
    train, _ = make_splits(TASK)
    full = _trainer(tmp_path / "full", EMA).fit(train)

    def crash(trainer, step):
        if step == 14:
            raise KeyboardInterrupt  # a kill between checkpoints

    with pytest.raises(KeyboardInterrupt):
        _trainer(tmp_path / "cut", EMA, callbacks=[crash]).fit(train)
    assert os.path.basename(os.readlink(tmp_path / "cut" / "last")) == "step-00000012"
    resumed = _trainer(tmp_path / "cut", EMA, seed=99).fit(train, resume=True)
    assert resumed.final_loss == full.final_loss
    for name in ("model.safetensors", TRAINING_WEIGHTS):
        a, b = load_file(tmp_path / "full" / "last" / name), load_file(tmp_path / "cut" / "last" / name)
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), name


def test_resuming_with_the_ema_switched_is_a_clear_error(tmp_path):
    train, _ = make_splits(TASK)
    short = TrainConfig(**{**config_to_dict(EMA), "max_steps": 4, "betas": tuple(EMA.betas)})
    _trainer(tmp_path, short).fit(train)
    plain = TrainConfig(**{**config_to_dict(short), "max_steps": 8, "ema_decay": 0.0, "betas": tuple(EMA.betas)})
    with pytest.raises(CheckpointError, match="ema_decay"):
        _trainer(tmp_path, plain).fit(train, resume=True)
