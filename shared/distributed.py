"""Data-parallel training across processes started by ``torchrun`` (gloo on CPU, nccl on GPU).

Every app's ``train --nproc N`` re-runs its own command under ``torchrun``
(:func:`relaunch_under_torchrun`); :class:`shared.training.Trainer` then sees the
``RANK``/``WORLD_SIZE`` variables torchrun sets and trains data-parallel:

- each global batch of ``batch_size`` items (the same seeded order as one process)
  is split across ranks, ``batch[rank::world_size]``: a distributed sampler that keeps
  the single-process batches, so resume positions and loss curves line up;
- after each backward pass the gradients are averaged over ranks with one all-reduce of
  a flat buffer, the synchronisation ``DistributedDataParallel`` performs. The wrapper
  itself is not used because loss functions call model methods (``model.loss(batch)``),
  which would bypass its forward hooks;
- rank 0 evaluates, logs and writes checkpoints; the metrics it computed are broadcast,
  so every rank takes the same early-stopping decision.

Multi-node: the same command under ``torchrun --nnodes N --node-rank K
--rdzv-endpoint HOST:PORT`` (see the README's scaling section).
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from torch import nn

# torch is imported inside the functions that need it, so CLIs can offer --nproc without
# paying for the import on --help.


@dataclass(frozen=True)
class World:
    """This process's place among the training processes."""

    rank: int = 0
    size: int = 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.size > 1


def launched_by_torchrun() -> bool:
    """True in a process torchrun started as one of several."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def setup() -> World:
    """Join the process group torchrun describes (once); a lone process gets ``World()``."""
    import torch
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return World(dist.get_rank(), dist.get_world_size())
    if not launched_by_torchrun():
        return World()
    backend = "nccl" if torch.cuda.is_available() else "gloo"
    if backend == "nccl":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    dist.init_process_group(backend)
    return World(dist.get_rank(), dist.get_world_size())


def current() -> World:
    """The world as it stands, without joining anything."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return World(dist.get_rank(), dist.get_world_size())
    return World(int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1")))


def broadcast_parameters(model: nn.Module) -> None:
    """Give every rank rank 0's parameters and buffers."""
    import torch.distributed as dist

    for tensor in [*model.parameters(), *model.buffers()]:
        dist.broadcast(tensor.data, src=0)


def average_gradients(model: nn.Module, world: World) -> None:
    """Replace each gradient by its mean over ranks (one all-reduce of a flat buffer).

    A parameter without a gradient on this step contributes zeros, so every rank
    takes part in the same collective.
    """
    import torch
    import torch.distributed as dist

    params = [p for p in model.parameters() if p.requires_grad]
    grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    flat /= world.size
    offset = 0
    for p in params:
        n = p.numel()
        p.grad = flat[offset:offset + n].view_as(p).clone()
        offset += n


def mean_over_ranks(value: float, world: World) -> float:
    """The mean of a scalar over ranks (the global training loss of a step)."""
    if not world.distributed:
        return value
    import torch
    import torch.distributed as dist

    tensor = torch.tensor([value], dtype=torch.float64)
    dist.all_reduce(tensor)
    return float(tensor.item() / world.size)


def broadcast_object(obj: Any, world: World) -> Any:
    """Rank 0's ``obj`` on every rank (small, picklable things: metric dicts)."""
    if not world.distributed:
        return obj
    import torch.distributed as dist

    holder = [obj]
    dist.broadcast_object_list(holder, src=0)
    return holder[0]


def barrier(world: World) -> None:
    if world.distributed:
        import torch.distributed as dist

        dist.barrier()


def relaunch_under_torchrun(nproc: int, module: str, argv: list[str]) -> int:
    """Run ``python -m module *argv`` as ``nproc`` processes on this machine; returns 0, or 1 if a rank failed.

    torchrun is driven through its Python API: on its command line, the command's own options
    (``--run``) would be taken for abbreviations of torchrun's (``--run-path``).
    """
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import get_args_parser, run

    args = get_args_parser().parse_args(["--standalone", f"--nproc-per-node={nproc}", "-m", module])
    args.training_script_args = list(argv)
    try:
        run(args)
    except ChildFailedError as err:
        print(f"error: {len(err.failures)} of {nproc} training processes failed; see their output above",
              file=sys.stderr)
        return 1
    return 0


def without_option(argv: list[str], option: str) -> list[str]:
    """``argv`` with ``option VALUE`` / ``option=VALUE`` removed (to re-run a command without ``--nproc``)."""
    out, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg == option:
            skip = True
        elif not arg.startswith(option + "="):
            out.append(arg)
    return out


NPROC_HELP = "train data-parallel in N processes on this machine (torchrun; gloo on CPU, nccl on GPU)"


def add_nproc_option(parser) -> None:
    """The ``--nproc N`` option of every app's ``train`` command."""
    parser.add_argument("--nproc", type=int, default=1, metavar="N", help=NPROC_HELP)


def run_under_torchrun_if_asked(nproc: int, module: str, argv: list[str] | None) -> int | None:
    """With ``nproc > 1`` outside torchrun: run this same command (``python -m module argv`` without
    ``--nproc``) as ``nproc`` processes and return its exit code. Otherwise None: train here."""
    if nproc <= 1 or launched_by_torchrun():
        return None
    return relaunch_under_torchrun(nproc, module, without_option(list(sys.argv[1:] if argv is None else argv),
                                                                  "--nproc"))
