"""Core demo: train the encoder-decoder to copy and reverse symbol sequences.

Prints held-out exact-match accuracy (greedy and beam search) and speed:
training tokens/s, and decoding tokens/s with and without the KV cache.
Everything it writes goes under ``--out`` (the best checkpoint is a model
folder you can load with ``shared.model_folder.load_model``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

from shared.config import config_to_dict
from shared.errors import SextantError
from shared.models import EncoderDecoder, GenerationConfig, TransformerConfig
from shared.toy import SeqTaskConfig, collate, exact_match, make_splits, seq2seq_loss
from shared.training import TrainConfig, Trainer, seed_everything

EXAMPLES = """examples:
  python -m shared.demo                      # the default run (about a minute on 2 cores)
  python -m shared.demo --steps 500 --out /tmp/demo
"""


def decode_speed(model: EncoderDecoder, data, use_cache: bool, new_tokens: int = 32, batch: int = 32) -> float:
    """Generated tokens per second for a fixed number of new tokens."""
    pairs = [data[i] for i in range(batch)]
    source = {"input_ids": collate(pairs)["input_ids"]}
    cfg = GenerationConfig(max_new_tokens=new_tokens, min_new_tokens=new_tokens, use_cache=use_cache)
    model.generate(source, GenerationConfig(max_new_tokens=2))  # warm-up
    start = time.perf_counter()
    model.generate(source, cfg)
    return batch * new_tokens / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], epilog=EXAMPLES,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=1500, help="training steps (default 1500)")
    parser.add_argument("--out", type=Path, default=Path("runs/core-demo"), help="output folder")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    try:
        return run(args.steps, args.out, args.seed)
    except SextantError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


def run(steps: int, out: Path, seed: int) -> int:
    torch.set_num_threads(max(1, min(2, torch.get_num_threads())))
    task = SeqTaskConfig(num_symbols=20, min_len=4, max_len=16, train_size=20000, test_size=1000, seed=seed)
    train, test = make_splits(task)
    model_cfg = TransformerConfig(d_model=128, n_heads=4, encoder_layers=3, decoder_layers=3, d_ff=512,
                                  dropout=0.0, vocab_size=task.vocab_size, position="rotary")
    seed_everything(seed)
    model = EncoderDecoder(model_cfg)
    train_cfg = TrainConfig(max_steps=steps, batch_size=64, lr=1e-3, warmup_steps=100, eval_every=max(1, steps // 3),
                            monitor="exact_match", monitor_mode="max", seed=seed)
    held_out = torch.utils.data.Subset(test, range(200))
    trainer = Trainer(model, train_cfg, out, seq2seq_loss, "encoder-decoder", config_to_dict(model_cfg),
                      eval_fn=lambda m: {"exact_match": exact_match(m, held_out)}, collate_fn=collate,
                      metadata={"task": config_to_dict(task)})
    print(f"Training a {sum(p.numel() for p in model.parameters()) / 1e6:.2f}M-parameter encoder-decoder "
          f"to copy/reverse sequences of {task.min_len}-{task.max_len} symbols ({steps} steps)...")
    result = trainer.fit(train)

    tokens_per_step = sum(len(s) + len(t) + 1 for s, t in train.pairs) / len(train) * train_cfg.batch_size
    model.eval()
    greedy = exact_match(model, test)
    beam = exact_match(model, test, generation=GenerationConfig(max_new_tokens=task.max_len + 2, num_beams=4))
    cached = decode_speed(model, test, use_cache=True)
    uncached = decode_speed(model, test, use_cache=False)
    summary = {
        "held_out_examples": len(test),
        "exact_match_greedy": greedy,
        "exact_match_beam4": beam,
        "train_tokens_per_s": tokens_per_step * result.step / result.seconds,
        "train_seconds": result.seconds,
        "decode_tokens_per_s_kv_cache": cached,
        "decode_tokens_per_s_no_cache": uncached,
        "best_checkpoint": str(result.best_dir),
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print()
    print("| metric | value |\n|---|---|")
    print(f"| held-out exact match, greedy ({len(test)} sequences) | {greedy:.1%} |")
    print(f"| held-out exact match, beam 4 | {beam:.1%} |")
    print(f"| training speed | {summary['train_tokens_per_s']:,.0f} tokens/s ({result.seconds:.0f} s) |")
    print(f"| decoding, KV cache | {cached:,.0f} tokens/s |")
    print(f"| decoding, no cache | {uncached:,.0f} tokens/s ({cached / uncached:.1f}x slower) |")
    print(f"\nBest checkpoint (a loadable model folder): {out / 'best'}")
    print(f"Summary JSON: {out / 'summary.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
