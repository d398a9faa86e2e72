"""Molecules batch prediction at scale: a 100k-row CSV, ~1% invalid SMILES, killed and resumed.

Builds a CSV of ``--rows`` SMILES drawn (seeded) from B3DB's 7,807 molecules
with ``--bad-fraction`` of them replaced by invalid or empty SMILES, starts
batch prediction, kills it after ``--kill-after`` shards (an interrupt raised
inside the job, as Ctrl-C would), runs it again, and checks that every valid
row was predicted exactly once and every invalid row is in ``errors.jsonl``.
Writes ``results/molecules_batch.{json,md}``.

    python benchmarks/molecules_batch.py                          # trains the demo model first
    python benchmarks/molecules_batch.py --model runs/mol/best --rows 20000
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from pathlib import Path

import pandas as pd
import torch

from apps.molecules.config import load_molecules_config
from apps.molecules.data import load_split
from apps.molecules.smiles import parse_smiles
from apps.molecules.datasets import load_raw
from apps.molecules.predict import featurise_pool, make_predict_fn, read_rows
from apps.molecules.train import fit
from shared.inference import read_outputs, run_batch_inference
from shared.model_folder import load_model

RESULTS = Path(__file__).parent / "results"
INVALID = ["C1CC(", "", "not-a-molecule", "c1ccccc", "CC(C)(C)(C)(C)C"]


def build_csv(path: Path, rows: int, bad_fraction: float, seed: int = 0) -> set[int]:
    """Write the input CSV; returns the row numbers made invalid. Valid rows come from B3DB's SMILES
    that RDKit parses (a few dozen of its 7,807 do not: hypervalent ``[C+]``), so the count is exact."""
    pool = [s for s in load_raw("b3db_classification")["smiles"].tolist() if parse_smiles(s)[0] is not None]
    rng = random.Random(seed)
    smiles = [rng.choice(pool) for _ in range(rows)]
    bad = set(rng.sample(range(rows), int(rows * bad_fraction)))
    for i in bad:
        smiles[i] = INVALID[i % len(INVALID)]
    pd.DataFrame({"id": range(rows), "smiles": smiles}).to_csv(path, index=False)
    return bad


def train_demo_model(work: Path) -> Path:
    cfg = load_molecules_config("demo", ["train.progress=false"])
    fit(cfg, load_split(cfg)[0], work / "model", work / "cache")
    return work / "model" / "best"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=None, help="model folder (default: train the demo config)")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--bad-fraction", type=float, default=0.01)
    parser.add_argument("--kill-after", type=int, default=10, help="shards written before the simulated kill")
    parser.add_argument("--shard-size", type=int, default=2048)
    parser.add_argument("--mc-samples", type=int, default=10)
    parser.add_argument("--workers", type=int, default=2, help="featurisation processes")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    torch.set_num_threads(2)
    work = Path(tempfile.mkdtemp(prefix="sextant-mol-batch-"))
    model_dir = args.model or train_demo_model(work)
    csv = work / "molecules.csv"
    bad = build_csv(csv, args.rows, args.bad_fraction)
    with featurise_pool(args.workers) as pool:
        predict = make_predict_fn(load_model(model_dir), mc_samples=args.mc_samples, pool=pool)
        batches = 0
        per_shard = -(-args.shard_size // 256)  # predict calls per shard (batch size 256)

        def killed(rows):
            nonlocal batches
            if batches == args.kill_after * per_shard:
                raise KeyboardInterrupt("simulated kill")
            batches += 1
            return predict(rows)

        out = work / "predictions"
        start = time.perf_counter()
        try:
            run_batch_inference(read_rows(csv), killed, out, shard_size=args.shard_size, batch_size=256,
                                progress=False, total=args.rows)
        except KeyboardInterrupt:
            pass
        first_seconds = time.perf_counter() - start
        summary = run_batch_inference(read_rows(csv), predict, out, shard_size=args.shard_size, batch_size=256,
                                      progress=True, total=args.rows)
    records = read_outputs(out)
    ids = [r["row_id"] for r in records]
    errors = [json.loads(line) for line in (out / "errors.jsonl").read_text().splitlines()]
    error_rows = {int(e["row_id"].split(":")[1]) for e in errors}
    result = {
        "rows": args.rows, "invalid_injected": len(bad), "mc_samples": args.mc_samples, "shard_size": args.shard_size,
        "model": str(model_dir), "killed_after_shards": args.kill_after, "first_run_seconds": first_seconds,
        "resumed_run": summary.to_dict(), "predicted_rows": len(ids), "unique_predicted_rows": len(set(ids)),
        "error_rows": len(errors),
        "complete": len(ids) == len(set(ids)) == args.rows - len(bad) and error_rows == bad,
    }
    result["resumed_run"].pop("output_dir"), result["resumed_run"].pop("errors_path")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "molecules_batch.json").write_text(json.dumps(result, indent=2) + "\n")
    s = summary
    (args.out / "molecules_batch.md").write_text(
        "# Molecules batch prediction: kill and resume\n\n"
        f"{args.rows:,} SMILES rows ({len(bad):,} invalid injected), MC dropout {args.mc_samples} passes, "
        f"shards of {args.shard_size:,}, 2 torch threads, {args.workers} featurisation processes. The first run was killed after {args.kill_after} shards "
        f"({first_seconds:.0f} s); the rerun skipped them and finished the rest.\n\n"
        "| measure | value |\n|---|---:|\n"
        f"| shards skipped on rerun / written | {s.skipped_shards} / {s.written_shards} |\n"
        f"| rows predicted (unique) | {len(set(ids)):,} of {args.rows - len(bad):,} valid |\n"
        f"| duplicated rows | {len(ids) - len(set(ids))} |\n"
        f"| error rows (all injected ones) | {len(errors):,} ({'yes' if error_rows == bad else 'NO'}) |\n"
        f"| rerun throughput | {s.rows_per_second:,.0f} rows/s |\n"
        f"| complete, no loss, no duplicates | {'yes' if result['complete'] else 'NO'} |\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
