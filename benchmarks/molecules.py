"""Molecules benchmark: our model variants against random-forest peers, 3 seeds.

For each (dataset, split) of the issue's table and each seed: train a variant of ours (train rows,
selected on valid rows; with ``--set refit=true`` refit on train + valid), fit RF on Morgan
fingerprints and RF on RDKit 2D descriptors (on train + valid rows), and score all on the same test
rows. Random splits change with the seed; shipped and scaffold splits are fixed, so there the seed
changes only the models. Results are written after every run, so an interrupted benchmark still
leaves what it measured; each run is keyed by (variant, pair, seed).

    python benchmarks/molecules.py                   # variant "graph": all pairs, seeds 0 1 2
    python benchmarks/molecules.py --variant graph_pretrained --init runs/mol-pretrain/best --resume
    python benchmarks/molecules.py --variant smiles --set model.kind=smiles model.descriptors=false --resume
    python benchmarks/molecules.py --pairs freesolv:random --seeds 0
    python benchmarks/molecules.py --jobs 7           # runs in parallel processes (2 threads each)
    python benchmarks/molecules.py --report           # rewrite the markdown from molecules.json
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from apps.molecules.config import load_molecules_config
from apps.molecules.data import load_split
from apps.molecules.featurize import cached_descriptors
from apps.molecules.metrics import score
from apps.molecules.peers import PEERS
from apps.molecules.stacking import choose_stack, stacked_test_predictions
from apps.molecules.train import evaluate, fit, model_inputs, predict
from shared.model_folder import load_model

RESULTS = Path(__file__).parent / "results"
PAIRS = ["solubility:shipped", "solubility:scaffold", "freesolv:random", "b3db_regression:scaffold", "b3db_classification:scaffold"]
REFERENCE = {"solubility:shipped": 1.085, "solubility:scaffold": 1.838, "freesolv:random": 1.756,
             "b3db_regression:scaffold": 0.479, "b3db_classification:scaffold": 0.816}


def run_one(pair: str, seed: int, config: str, overrides: list[str], work: Path, threads: int = 2,
            variant: str = "graph", init: str | None = None, peers: bool = True) -> dict:
    torch.set_num_threads(threads)
    dataset, split = pair.split(":")
    # One model per seed: the default's seed ensemble is the "N-seed ensemble" row, made from these runs.
    cfg = load_molecules_config(config, [f"data.dataset={dataset}", f"data.split={split}", f"data.seed={seed}",
                                         "train.progress=false", "ensemble=1", *overrides])
    data, _ = load_split(cfg)
    cache = work / "cache"
    run_dir = work / f"{variant}-{dataset}-{split}-{seed}"
    start = time.perf_counter()
    fitted = fit(cfg, data, run_dir, cache, init=init)
    train_seconds = time.perf_counter() - start
    selection = fitted.selection or fitted.result
    sides = {s: data.frame[data.frame["split"] == s] for s in ("train", "valid", "test")}
    inputs = model_inputs(fitted.model.cfg, sides["test"], data.targets, fitted.tokenizer, cache)
    start = time.perf_counter()
    ours_test = predict(fitted.model, inputs)[:, 0]
    per_second = len(sides["test"]) / (time.perf_counter() - start)
    # Valid predictions of the model selected on the valid rows (with refit, not the refit model, which saw them).
    selected = load_model(fitted.selected_dirs[0]).model if fitted.selection is not None else fitted.model
    ours_valid = predict(selected, model_inputs(selected.cfg, sides["valid"], data.targets, fitted.tokenizer, cache))[:, 0]
    scores = evaluate(cfg, data, fitted, cache, None if peers else [])
    stack = stack_scores(data.task, sides, data.targets[0], ours_valid, ours_test, seed, cache)
    return {"variant": variant, "pair": pair, "seed": seed, "task": data.task,
            "n_train": len(sides["train"]), "n_test": len(sides["test"]), "train_seconds": train_seconds,
            "steps": fitted.result.step, "selected_steps": selection.step, "best_valid_metric": selection.best_metric,
            "molecules_per_second": per_second, "scores": {**scores, "stacked": stack["score"]},
            "stack": stack["choice"], "stack_seconds": stack["seconds"],
            "predictions": {"valid": _rounded(ours_valid), "test": _rounded(ours_test)},
            "test_y": _rounded(sides["test"][data.targets[0]].to_numpy(dtype=np.float64))}


def stack_scores(task: str, sides: dict[str, pd.DataFrame], target: str, ours_valid: np.ndarray, ours_test: np.ndarray,
                 seed: int, cache: Path) -> dict:
    """Ours stacked with a descriptor model (learner and weight chosen on the valid rows), scored on
    test; the descriptors come from the features cache the graph model's training filled."""
    start = time.perf_counter()
    x = {s: cached_descriptors(rows["smiles"].tolist(), cache) for s, rows in sides.items()}
    y = {s: rows[target].to_numpy(dtype=np.float64) for s, rows in sides.items()}
    choice = choose_stack(task, y["valid"], ours_valid, x["train"], y["train"], x["valid"], seed)
    blended = stacked_test_predictions(choice, task, ours_test, np.concatenate([x["train"], x["valid"]]),
                                       np.concatenate([y["train"], y["valid"]]), x["test"], seed)
    return {"score": score(task, y["test"][:, None], blended[:, None]), "choice": choice.to_dict(),
            "seconds": time.perf_counter() - start}


def _rounded(values: np.ndarray) -> list[float]:
    return [round(float(v), 5) for v in values]


def machine() -> str:
    """The processor, for the results header (train times depend on it)."""
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                   if line.startswith("model name"))
    except (OSError, StopIteration):
        cpu = platform.processor() or "unknown CPU"
    return f"{cpu}, {os.cpu_count()} cores"


def variant_of(run: dict) -> str:
    return run.get("variant", "graph")  # runs recorded before variants existed


def ours_rows(rs: list[dict], variant: str, metric: str) -> list[tuple[str, np.ndarray, str]]:
    """(label, test metric per seed, valid cell) for ours alone, ours stacked with a descriptor model
    (where the runs recorded it) and the seeds' averaged prediction (one model; only where every
    seed has the same test rows, i.e. not on random splits)."""
    rows = [(variant, np.array([r["scores"]["ours"][metric] for r in rs]),
             f"{np.mean([r['best_valid_metric'] for r in rs]):.3f}")]
    if all("stacked" in r["scores"] for r in rs):
        learners = sorted({f"{r['stack']['learner']} w={r['stack']['weight']:.1f}" for r in rs})
        rows.append((f"{variant} + stack ({', '.join(learners)})",
                     np.array([r["scores"]["stacked"][metric] for r in rs]),
                     f"{np.mean([r['stack']['valid_metric'] for r in rs]):.3f}"))
    same_rows = all("test_y" in r and r["test_y"] == rs[0]["test_y"] for r in rs)
    if len(rs) > 1 and same_rows and all("predictions" in r for r in rs):
        mean = np.mean([r["predictions"]["test"] for r in rs], axis=0)
        value = score(rs[0]["task"], np.array(rs[0]["test_y"])[:, None], mean[:, None])[metric]
        rows.append((f"{variant}, {len(rs)}-seed ensemble", np.array([value]), "n/a"))
    return rows


def summarise(runs: list[dict], variants: dict[str, dict]) -> str:
    """Per (dataset, split) and variant: mean ± sd over seeds for ours next to each peer's mean
    (peers from every run of that pair and seed), and whether ours beats both forests by more
    than its seeds' standard deviation (the issue's bar)."""
    lines = ["| data, split | metric | variant | ours (mean ± sd) | valid (mean) | RF Morgan | RF descriptors "
             "| ours vs best RF | beats both by > sd | issue's RF reference | seeds | ours train s | ours model-only mol/s |",
             "|---|---|---|---:|---:|---:|---:|---:|:---:|---:|---:|---:|---:|"]
    for pair in PAIRS:
        for variant in variants:
            rs = [r for r in runs if r["pair"] == pair and variant_of(r) == variant]
            if not rs:
                continue
            metric = "rmse" if rs[0]["task"] == "regression" else "roc_auc"
            sign = 1.0 if metric == "rmse" else -1.0  # > 0: ours is worse
            seeds = {r["seed"] for r in rs}
            peer_means = {}
            for peer in PEERS:
                by_seed = {r["seed"]: r["scores"][peer][metric] for r in runs
                           if r["pair"] == pair and r["seed"] in seeds and peer in r["scores"]}
                if by_seed:
                    peer_means[peer] = float(np.mean(list(by_seed.values())))
            cells = [f"{peer_means[p]:.3f}" if p in peer_means else "n/a" for p in PEERS]
            for label, ours, valid in ours_rows(rs, variant, metric):
                if peer_means:
                    best = min(peer_means.values(), key=lambda v: sign * v)
                    gap = sign * (ours.mean() - best)
                    verdict = ("yes" if gap < 0 and -gap > ours.std() else "no") if len(ours) > 1 else \
                        ("wins" if gap < 0 else "loses")
                    delta = f"{ours.mean() - best:+.3f}"
                else:
                    delta, verdict = "n/a", "n/a"
                spread = f"{ours.mean():.3f} ± {ours.std():.3f}" if len(ours) > 1 else f"{ours[0]:.3f}"
                lines.append(f"| {pair.replace(':', ', ')} | {metric} | {label} | {spread} | {valid} | "
                             + " | ".join(cells) + f" | {delta} | {verdict} | {REFERENCE[pair]} | {len(rs)} "
                             f"| {np.mean([r['train_seconds'] for r in rs]):.0f} "
                             f"| {np.mean([r['molecules_per_second'] for r in rs]):,.0f} |")
    described = [f"- `{name}`: `{v.get('config', 'default')}` config"
                 + (f", `{' '.join(v['overrides'])}`" if v.get("overrides") else "")
                 + (f", fine-tuned from `{v['init']}`" if v.get("init") else "") for name, v in variants.items()]
    return "\n".join(lines) + "\n\nVariants:\n" + "\n".join(described) + "\n\n" + ROW_KINDS


ROW_KINDS = """Row kinds:
- `<variant>`: ours alone, mean ± sd of the seeds' test metrics.
- `<variant> + stack (...)`: ours blended with a descriptor model (scikit-learn gradient boosting or SVM on
  signed-log RDKit descriptors), the learner and the weight `w` on ours chosen on the valid rows with the
  descriptor model fit on train rows, then refit on train + valid for the test rows
  (`apps/molecules/stacking.py`); `valid` is the blend's valid metric (its weight was chosen there, and our
  valid predictions come from the checkpoint selected on them, so it is optimistic).
- `<variant>, N-seed ensemble`: the seeds' test predictions averaged, one model, so no sd: `wins`/`loses`
  against the better forest; only where every seed has the same test rows (not on random splits)."""


def write_results(out: Path, variants: dict[str, dict], runs: list[dict], notes: list[str] = ()) -> None:
    """``molecules.json`` (every run) and ``molecules.md`` (the summary table)."""
    (out / "molecules.json").write_text(json.dumps({"variants": variants, "notes": list(notes), "runs": runs}, indent=2) + "\n")
    header = ("# Molecules benchmark\n\n"
              "Our model: the GPS-style graph transformer (GINE + shared-core attention, random-walk encodings) "
              "with RDKit 2D descriptors as a global input to its readout, in the variants listed under the table. "
              "Test-set metric per (dataset, split), mean ± sd over the seeds run (seeds column); lower RMSE / higher "
              "ROC-AUC is better; `valid` is the selected checkpoint's validation metric. Peers: scikit-learn "
              "RandomForest (500 trees) on RDKit Morgan fingerprints (radius 2, 2048 bits) and on the same RDKit 2D "
              "descriptors, fit on train + valid rows; their columns are means over the same seeds. `beats both by "
              "> sd`: ours is better than the better forest by more than ours' standard deviation over seeds. "
              "Random splits change with the seed; the shipped and scaffold splits are fixed, so there the seed "
              "changes only the models. Train seconds depend on the machine, threads and parallel runs of each run "
              "(all recorded per run in molecules.json); model-only mol/s is inference on featurised test molecules.\n\n")
    run_notes = [f"- {variant_of(r)} {r['pair']} seed {r['seed']}: {r['note']}" for r in runs if r.get("note")]
    all_notes = [*notes, *run_notes]
    (out / "molecules.md").write_text(header + summarise(runs, variants) + "\n"
                                      + ("\nNotes:\n" + "\n".join(all_notes) + "\n" if all_notes else ""))


def load_saved(path: Path) -> tuple[dict[str, dict], list[dict], list[str]]:
    """Variants, runs and notes of a results file (older files: one variant, ``graph``)."""
    if not path.is_file():
        return {}, [], []
    saved = json.loads(path.read_text())
    variants = saved.get("variants") or {"graph": {"config": saved.get("config", "default"),
                                                   "overrides": saved.get("overrides", []), "init": None}}
    return variants, saved["runs"], saved.get("notes", [])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", nargs="*", default=PAIRS)
    parser.add_argument("--seeds", nargs="*", type=int, default=[0, 1, 2])
    parser.add_argument("--variant", default="graph", help="the name these runs are reported under")
    parser.add_argument("--config", default="default")
    parser.add_argument("--set", nargs="*", default=[])
    parser.add_argument("--init", default=None, help="fine-tune from this model folder (e.g. the pretrained encoder)")
    parser.add_argument("--no-peers", action="store_true", help="skip the forests (another variant's runs fit them)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--resume", action="store_true", help="keep the runs already in OUT/molecules.json")
    parser.add_argument("--jobs", type=int, default=1, help="runs in parallel, each a process of its own")
    parser.add_argument("--threads", type=int, default=2, help="torch threads per run")
    parser.add_argument("--report", action="store_true", help="only rewrite OUT/molecules.md from OUT/molecules.json")
    args = parser.parse_args()
    previous = args.out / "molecules.json"
    variants, runs, notes = load_saved(previous)
    if args.report:
        write_results(args.out, variants, runs, notes)
        print(summarise(runs, variants))
        return
    if not args.resume:
        variants, runs, notes = {}, [], []
    setting = {"config": args.config, "overrides": args.set, "init": args.init}
    if variants.get(args.variant, setting) != setting:
        raise SystemExit(f"variant {args.variant!r} was run with {variants[args.variant]}; name this one differently")
    variants[args.variant] = setting
    work = Path(tempfile.mkdtemp(prefix="sextant-mol-bench-"))
    args.out.mkdir(parents=True, exist_ok=True)
    done = {(variant_of(r), r["pair"], r["seed"]) for r in runs}
    todo = [(pair, seed) for pair in args.pairs for seed in args.seeds if (args.variant, pair, seed) not in done]

    def record(run: dict) -> None:
        runs.append({**run, "machine": machine(), "threads": args.threads, "parallel_runs": args.jobs})
        print(json.dumps({k: v for k, v in run.items() if k not in ("predictions", "test_y")}), flush=True)
        write_results(args.out, variants, runs, notes)

    job = dict(config=args.config, overrides=args.set, work=work, threads=args.threads, variant=args.variant,
               init=args.init, peers=not args.no_peers)
    if args.jobs <= 1:
        for pair, seed in todo:
            record(run_one(pair, seed, **job))
    else:
        # Fresh interpreters ("spawn"): forking a process that already runs torch threads can deadlock.
        with ProcessPoolExecutor(args.jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
            futures = [pool.submit(run_one, pair, seed, **job) for pair, seed in todo]
            for future in as_completed(futures):
                record(future.result())
    print(summarise(runs, variants))


if __name__ == "__main__":
    main()
