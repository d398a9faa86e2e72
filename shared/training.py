"""The one training loop every app uses.

AdamW with linear warm-up and cosine decay, gradient clipping, validation
every N steps, early stopping on a named metric, atomic checkpoints, exact
resume and a progress bar.

With ``ema_decay`` > 0 the trainer also keeps an exponential moving average of
the weights (timm's :class:`~timm.utils.ModelEmaV3`, its decay warming up as
``1 - step ** -3/4`` over the optimizer steps, to at most ``ema_decay``). The averaged weights are
the ones evaluated, selected and saved as the model; each checkpoint also
holds the raw training weights (``training_weights.safetensors``), so a resumed
run continues both exactly.

Checkpoints live in ``<out_dir>/checkpoints/step-XXXXXXXX/``: a complete
model folder (see :mod:`shared.model_folder`) plus ``optimizer.pt`` and
``trainer_state.json``. Each is built under a temporary name and renamed into
place when complete; ``<out_dir>/last`` and ``<out_dir>/best`` are symlinks
swapped atomically afterwards, so a killed run never leaves a half-written
checkpoint that could be loaded. Resuming restores weights, optimizer, RNG
states and the position in the epoch's (seeded) batch order, so a resumed
run ends with the same loss as an uninterrupted one.

Under ``torchrun`` (several processes) training is data-parallel: see
:mod:`shared.distributed`. Rank 0 alone evaluates, logs and checkpoints.
"""

from __future__ import annotations

import json
import math
import os
import random
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor, nn
from safetensors.torch import load_model as load_safetensors_into
from safetensors.torch import save_model as save_safetensors_from
from timm.utils import ModelEmaV3
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm

from shared import distributed
from shared.atomic import atomic_directory
from shared.config import config_to_dict
from shared.errors import CheckpointError, SextantError
from shared.model_folder import load_model, write_model_files
from shared.tokenizers import Tokenizer

LossFn = Callable[[nn.Module, Any], "Tensor | tuple[Tensor, dict[str, float]]"]
EvalFn = Callable[[nn.Module], dict[str, float]]
TRAINING_WEIGHTS = "training_weights.safetensors"  # a checkpoint's raw weights when the model folder holds the EMA


class TrainingError(SextantError):
    """Training cannot go on (for example the loss became NaN)."""


@dataclass
class TrainConfig:
    """Optimisation, evaluation and checkpointing settings."""

    max_steps: int = 1000
    batch_size: int = 32
    lr: float = 3e-4
    min_lr_ratio: float = 0.1
    warmup_steps: int = 100
    weight_decay: float = 0.01
    betas: tuple[float, float] = (0.9, 0.98)
    grad_clip: float = 1.0
    eval_every: int = 100
    checkpoint_every: int = 0
    monitor: str = "val_loss"
    monitor_mode: Literal["min", "max"] = "min"
    patience: int = 0
    seed: int = 0
    num_workers: int = 0
    progress: bool = True
    ema_decay: float = 0.0  # > 0: evaluate and save an exponential moving average of the weights

    def __post_init__(self) -> None:
        if self.max_steps < 1 or self.batch_size < 1 or self.eval_every < 1:
            raise ValueError("max_steps, batch_size and eval_every must be positive")
        if not 0.0 <= self.ema_decay < 1.0:
            raise ValueError(f"ema_decay must be in [0, 1) (0 = off), got {self.ema_decay}")
        if self.lr <= 0:
            raise ValueError("lr must be positive")


@dataclass
class TrainResult:
    """What :meth:`Trainer.fit` returns."""

    step: int
    final_loss: float
    best_metric: float | None
    best_dir: Path | None
    last_dir: Path | None
    history: list[dict[str, float]]
    stopped_early: bool
    seconds: float  # this call's
    samples_per_second: float
    total_seconds: float = 0.0  # over every call that trained this run, up to its last checkpoint + this call


@dataclass
class _State:
    step: int = 0
    epoch: int = 0
    batch_in_epoch: int = 0
    best_metric: float | None = None
    bad_evals: int = 0
    last_loss: float = float("nan")
    pending_losses: list[float] = field(default_factory=list)
    history: list[dict[str, float]] = field(default_factory=list)
    train_seconds: float = 0.0  # wall-clock training time up to this checkpoint, across resumes


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch RNGs."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def learning_rate(step: int, cfg: TrainConfig) -> float:
    """Linear warm-up to ``cfg.lr``, then cosine decay to ``lr * min_lr_ratio``."""
    if cfg.warmup_steps and step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    span = max(1, cfg.max_steps - cfg.warmup_steps)
    progress = min(1.0, (step - cfg.warmup_steps) / span)
    floor = cfg.lr * cfg.min_lr_ratio
    return floor + (cfg.lr - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))


def make_optimizer(model: nn.Module, cfg: TrainConfig) -> torch.optim.AdamW:
    """AdamW; biases, norms and embeddings-as-vectors get no weight decay."""
    decay, no_decay = [], []
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        (no_decay if param.ndim < 2 else decay).append(param)
    groups = [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=cfg.betas)


def epoch_batches(num_items: int, batch_size: int, seed: int, epoch: int) -> list[list[int]]:
    """The shuffled batches of one epoch, a pure function of (seed, epoch)."""
    generator = torch.Generator().manual_seed(seed * 100_003 + epoch)
    order = torch.randperm(num_items, generator=generator).tolist()
    usable = len(order) - len(order) % batch_size if len(order) >= batch_size else len(order)
    return [order[i : i + batch_size] for i in range(0, usable, batch_size)]


def length_bucketed_batches(lengths: Sequence[int], batch_size: int, seed: int, epoch: int,
                            bucket_batches: int = 50) -> list[list[int]]:
    """Batches of similar-length items (little padding), still a pure function of (seed, epoch).

    Items are shuffled, cut into windows of ``bucket_batches * batch_size``, sorted by length
    inside each window and cut into batches; the batches are then shuffled.
    """
    generator = torch.Generator().manual_seed(seed * 100_003 + epoch)
    order = torch.randperm(len(lengths), generator=generator).tolist()
    window = bucket_batches * batch_size
    batches = []
    for start in range(0, len(order), window):
        chunk = sorted(order[start : start + window], key=lambda i: lengths[i])
        batches += [chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size)]
    if len(order) >= batch_size:
        batches = [b for b in batches if len(b) == batch_size] or batches
    return [batches[i] for i in torch.randperm(len(batches), generator=generator).tolist()]


BatchesFn = Callable[[int, int, int, int], list[list[int]]]


class Trainer:
    """Fits ``model`` by minimising ``loss_fn(model, batch)``.

    ``eval_fn(model)`` returns metrics (it runs under ``torch.no_grad`` in
    eval mode); ``cfg.monitor`` names the one used for the best checkpoint
    and early stopping. Without ``eval_fn`` the mean training loss since the
    last evaluation is monitored as ``train_loss``. ``builder``,
    ``model_config`` and ``tokenizer`` make each checkpoint a loadable model
    folder. ``callbacks`` are called as ``cb(trainer, step)`` after each step.
    ``batches_fn`` orders each epoch (default: shuffled fixed-size batches; see
    :func:`length_bucketed_batches` for variable-length data). With ``cfg.ema_decay``,
    :attr:`evaluated` is the moving average (``eval_fn`` and checkpoints see it).
    """

    def __init__(
        self,
        model: nn.Module,
        cfg: TrainConfig,
        out_dir: str | Path,
        loss_fn: LossFn,
        builder: str,
        model_config: dict[str, Any],
        eval_fn: EvalFn | None = None,
        collate_fn: Callable[[list[Any]], Any] | None = None,
        tokenizer: Tokenizer | None = None,
        metadata: dict[str, Any] | None = None,
        callbacks: Sequence[Callable[[Trainer, int], None]] = (),
        batches_fn: BatchesFn = epoch_batches,
    ):
        self.model = model
        self.cfg = cfg
        self.out_dir = Path(out_dir)
        self.loss_fn = loss_fn
        self.eval_fn = eval_fn
        self.collate_fn = collate_fn
        self.builder = builder
        self.model_config = model_config
        self.tokenizer = tokenizer
        self.metadata = metadata or {}
        self.callbacks = list(callbacks)
        self.batches_fn = batches_fn  # (num_items, batch_size, seed, epoch) -> index batches
        self.optimizer = make_optimizer(model, cfg)
        self.ema = (ModelEmaV3(model, decay=cfg.ema_decay, use_warmup=True, warmup_power=0.75)
                    if cfg.ema_decay > 0 else None)
        self.state = _State()
        self.world = distributed.World()
        self._started, self._seconds_before = time.perf_counter(), 0.0

    @property
    def evaluated(self) -> nn.Module:
        """The weights that are evaluated and saved: the moving average when there is one."""
        return self.ema.module if self.ema is not None else self.model

    # ----------------------------------------------------------------- checkpoints
    @property
    def checkpoint_root(self) -> Path:
        return self.out_dir / "checkpoints"

    def _point(self, name: str, target: Path) -> None:
        """Atomically make ``out_dir/name`` a relative symlink to ``target``."""
        link = self.out_dir / name
        tmp = self.out_dir / f".{name}.{os.getpid()}.tmp"
        if tmp.is_symlink() or tmp.exists():
            tmp.unlink()
        os.symlink(os.path.relpath(target, self.out_dir), tmp)
        os.replace(tmp, link)

    def _save_checkpoint(self, best: bool) -> Path:
        step_dir = self.checkpoint_root / f"step-{self.state.step:08d}"
        self.state.train_seconds = self._seconds_before + time.perf_counter() - self._started
        metadata = {**self.metadata, "step": self.state.step, "train_config": config_to_dict(self.cfg)}
        if self.state.history:
            metadata["metrics"] = self.state.history[-1]
        with atomic_directory(step_dir) as tmp:
            write_model_files(tmp, self.evaluated, self.builder, self.model_config, self.tokenizer, metadata)
            if self.ema is not None:
                save_safetensors_from(self.model, str(tmp / TRAINING_WEIGHTS))
            torch.save(
                {"optimizer": self.optimizer.state_dict(), "torch_rng": torch.get_rng_state()},
                tmp / "optimizer.pt",
            )
            py_state = random.getstate()
            np_state = np.random.get_state()
            state = {
                **self.state.__dict__,
                "python_rng": [py_state[0], list(py_state[1]), py_state[2]],
                "numpy_rng": [np_state[0], np_state[1].tolist(), *np_state[2:]],
                "model_config": self.model_config,
            }
            (tmp / "trainer_state.json").write_text(json.dumps(state))
        self._point("last", step_dir)
        if best:
            self._point("best", step_dir)
        self._prune()
        return step_dir

    def _prune(self) -> None:
        """Delete step folders that neither ``last`` nor ``best`` points to, and the hidden folders
        killed runs left (``.tmp`` writes, ``.old`` and ``.deleting`` ones). A step folder is renamed
        to a hidden name before it is deleted, so a kill mid-delete never leaves a half-deleted
        ``step-*`` that looks like a checkpoint."""
        keep = {(self.out_dir / n).resolve() for n in ("last", "best") if (self.out_dir / n).is_symlink()}
        for child in list(self.checkpoint_root.iterdir()):
            if not child.is_dir():
                continue
            if child.name.startswith("step-") and child.resolve() not in keep:
                doomed = child.with_name(f".{child.name}.{os.getpid()}.deleting")
                shutil.rmtree(doomed, ignore_errors=True)
                os.replace(child, doomed)
                shutil.rmtree(doomed, ignore_errors=True)
            elif child.name.startswith(".") and child.name.endswith((".tmp", ".old", ".deleting")):
                shutil.rmtree(child, ignore_errors=True)

    def _load_checkpoint(self) -> None:
        last = self.out_dir / "last"
        if not last.exists():
            raise CheckpointError(f"nothing to resume: {last} does not exist")
        state = json.loads((last / "trainer_state.json").read_text())
        if state.pop("model_config") != self.model_config:
            raise CheckpointError(f"{last}: checkpoint was trained with a different model config")
        loaded = load_model(last)
        if self.ema is not None:
            if not (last / TRAINING_WEIGHTS).is_file():
                raise CheckpointError(f"{last}: saved without a moving average; resume with the ema_decay it had")
            self.ema.module.load_state_dict(loaded.model.state_dict())
            load_safetensors_into(self.model, str(last / TRAINING_WEIGHTS))
        else:
            if (last / TRAINING_WEIGHTS).is_file():
                raise CheckpointError(f"{last}: saved with a moving average (train.ema_decay); resume with it on")
            self.model.load_state_dict(loaded.model.state_dict())
        extra = torch.load(last / "optimizer.pt", weights_only=True)
        self.optimizer.load_state_dict(extra["optimizer"])
        torch.set_rng_state(extra["torch_rng"])
        py = state.pop("python_rng")
        random.setstate((py[0], tuple(py[1]), py[2]))
        np_state = state.pop("numpy_rng")
        np.random.set_state((np_state[0], np.array(np_state[1], dtype=np.uint32), *np_state[2:]))
        self.state = _State(**state)

    # ----------------------------------------------------------------- loop
    def _evaluate(self, train_losses: list[float]) -> dict[str, float]:
        """Rank 0's evaluation, on every rank."""
        metrics = self._evaluate_here(train_losses) if self.world.is_main else None
        return distributed.broadcast_object(metrics, self.world)

    def _evaluate_here(self, train_losses: list[float]) -> dict[str, float]:
        metrics: dict[str, float] = {"step": float(self.state.step)}
        if train_losses:
            metrics["train_loss"] = float(np.mean(train_losses))
        if self.eval_fn is not None:
            model = self.evaluated
            was_training = model.training
            model.eval()
            with torch.no_grad():
                metrics.update({k: float(v) for k, v in self.eval_fn(model).items()})
            model.train(was_training)
        return metrics

    def _improved(self, value: float) -> bool:
        best = self.state.best_metric
        if best is None:
            return True
        return value < best if self.cfg.monitor_mode == "min" else value > best

    def fit(self, train_data: Dataset, resume: bool = False) -> TrainResult:
        """Train until ``max_steps`` or early stopping; returns the run summary."""
        cfg = self.cfg
        if len(train_data) == 0:
            raise TrainingError("the training set is empty")
        world = self.world = distributed.setup()
        if world.distributed and cfg.batch_size < world.size:
            raise TrainingError(f"batch_size {cfg.batch_size} is smaller than the {world.size} processes")
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.checkpoint_root.mkdir(exist_ok=True)
        if resume and (self.out_dir / "last").exists():
            self._load_checkpoint()
        elif resume and world.is_main:
            tqdm.write(f"no checkpoint in {self.out_dir}; starting from scratch")
        if world.distributed:
            distributed.broadcast_parameters(self.model)
            if self.ema is not None and self.state.step == 0:
                self.ema.set(self.model)  # every rank averages rank 0's starting weights
        state = self.state
        self.model.train()
        stopped_early = False
        start, start_step = time.perf_counter(), state.step
        self._started, self._seconds_before = start, state.train_seconds
        bar = tqdm(total=cfg.max_steps, initial=state.step, disable=not cfg.progress or not world.is_main,
                   desc="train", dynamic_ncols=True, mininterval=0.5 if sys.stderr.isatty() else 30.0)
        while state.step < cfg.max_steps and not stopped_early:
            batches = self.batches_fn(len(train_data), cfg.batch_size, cfg.seed, state.epoch)[state.batch_in_epoch :]
            if world.distributed:  # this rank's share of each global batch
                batches = [batch[world.rank :: world.size] for batch in batches]
            # A private generator: a new iterator must not draw from the global RNG
            # (it would shift dropout masks after a resume).
            # Workers are spawned, not forked: a worker forked from a process running a Prefect flow
            # inherits its threads and log handlers and exited with code 1 when the loader closed.
            loader = DataLoader(train_data, batch_sampler=batches, collate_fn=self.collate_fn,
                                num_workers=cfg.num_workers, generator=torch.Generator().manual_seed(cfg.seed),
                                multiprocessing_context="spawn" if cfg.num_workers else None)
            for batch in loader:
                lr = learning_rate(state.step, cfg)
                for group in self.optimizer.param_groups:
                    group["lr"] = lr
                out = self.loss_fn(self.model, batch)
                loss, logs = out if isinstance(out, tuple) else (out, {})
                step_loss = distributed.mean_over_ranks(loss.item(), world)
                if not math.isfinite(step_loss):
                    raise TrainingError(f"loss became {step_loss} at step {state.step}; try a lower lr")
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                if world.distributed:
                    distributed.average_gradients(self.model, world)
                if cfg.grad_clip > 0:
                    nn.utils.clip_grad_norm_(self.model.parameters(), cfg.grad_clip)
                self.optimizer.step()
                state.step += 1
                if self.ema is not None:
                    self.ema.update(self.model, step=state.step)
                state.batch_in_epoch += 1
                state.last_loss = step_loss
                state.pending_losses.append(state.last_loss)
                bar.update(1)
                bar.set_postfix(loss=f"{state.last_loss:.4f}", lr=f"{lr:.2e}", refresh=False,
                                **{k: f"{v:.3g}" for k, v in logs.items()})
                evaluate_now = state.step % cfg.eval_every == 0 or state.step == cfg.max_steps
                if evaluate_now:
                    metrics = self._evaluate(state.pending_losses)
                    state.pending_losses = []
                    state.history.append(metrics)
                    if cfg.monitor not in metrics:
                        raise TrainingError(f"monitored metric {cfg.monitor!r} not in evaluation {sorted(metrics)}")
                    improved = self._improved(metrics[cfg.monitor])
                    if improved:
                        state.best_metric, state.bad_evals = metrics[cfg.monitor], 0
                    else:
                        state.bad_evals += 1
                    stopped_early = bool(cfg.patience) and state.bad_evals >= cfg.patience
                    if world.is_main:
                        self._save_checkpoint(best=improved)
                        shown = ", ".join(f"{k}={v:.4g}" for k, v in metrics.items() if k != "step")
                        tqdm.write(f"step {state.step}: {shown}{'  (best)' if improved else ''}")
                elif cfg.checkpoint_every and state.step % cfg.checkpoint_every == 0 and world.is_main:
                    self._save_checkpoint(best=False)
                for callback in self.callbacks:
                    callback(self, state.step)
                if state.step >= cfg.max_steps or stopped_early:
                    break
            else:
                state.epoch += 1
                state.batch_in_epoch = 0
        bar.close()
        distributed.barrier(world)  # rank 0's last checkpoint is on disk before anyone returns
        seconds = time.perf_counter() - start
        steps = state.step - start_step
        best = self.out_dir / "best"
        last = self.out_dir / "last"
        return TrainResult(
            step=state.step,
            final_loss=state.last_loss,
            best_metric=state.best_metric,
            best_dir=best.resolve() if best.exists() else None,
            last_dir=last.resolve() if last.exists() else None,
            history=state.history,
            stopped_early=stopped_early,
            seconds=seconds,
            samples_per_second=steps * cfg.batch_size / seconds if seconds > 0 else 0.0,
            total_seconds=self._seconds_before + seconds,
        )

