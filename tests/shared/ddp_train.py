"""A toy copy/reverse training run for the data-parallel tests; run it plain or under torchrun.

    python tests/shared/ddp_train.py OUT [--die-at STEP] [--resume]

Every rank writes its final weights to OUT/rank-<r>.safetensors; rank 0 also writes
OUT/history.json (the training-loss curve) and the checkpoints under OUT/run.
"""

import argparse
import json
import sys
from pathlib import Path

import torch
from safetensors.torch import save_file

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from shared import distributed  # noqa: E402
from shared.config import config_to_dict  # noqa: E402
from shared.models import EncoderDecoder  # noqa: E402
from shared.toy import SeqTaskConfig, collate, make_splits, seq2seq_loss  # noqa: E402
from shared.training import TrainConfig, Trainer, seed_everything  # noqa: E402
from tests.shared.helpers import tiny_config  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--die-at", type=int, default=0, help="stop the run abruptly after this step")
    parser.add_argument("--resume", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(1)
    out = Path(args.out)
    task = SeqTaskConfig(train_size=640, test_size=10, min_len=6, max_len=6)  # equal lengths: same loss weights
    train, _ = make_splits(task)
    seed_everything(0)
    model_cfg = tiny_config(vocab_size=task.vocab_size)
    cfg = TrainConfig(max_steps=24, batch_size=16, lr=2e-3, warmup_steps=4, eval_every=4, monitor="train_loss",
                      progress=False)

    def die(trainer, step):
        if step == args.die_at:
            raise SystemExit(3)  # stands in for a killed job

    trainer = Trainer(EncoderDecoder(model_cfg), cfg, out / "run", seq2seq_loss, "encoder-decoder",
                      config_to_dict(model_cfg), collate_fn=collate, callbacks=[die] if args.die_at else [])
    result = trainer.fit(train, resume=args.resume)
    world = distributed.current()
    save_file({k: v.detach().clone() for k, v in trainer.model.state_dict().items()},
              str(out / f"rank-{world.rank}.safetensors"))
    if world.is_main:
        (out / "history.json").write_text(json.dumps({"world": world.size, "history": result.history}))


if __name__ == "__main__":
    main()
