"""Spreading the style stage over CPU cores, processes and machines.

Threads: `configure_threads` gives torch every physical core of this process's CPU
affinity (one per core: hyper-threads share a core's arithmetic units), shared out between the processes
torchrun starts on one machine; COMICC_THREADS overrides it.

Processes: `torchrun --nproc-per-node N -m comicc build ...` starts N ranks (RANK,
WORLD_SIZE, LOCAL_RANK come from torchrun). One distributed build works like this:

- rank 0 runs the whole build: the cache, the classifiers, the PDF and the report;
  the other ranks only take part in the style stage's training.
- when the style stage has to run, rank 0 sends a `StyleJob` (the classifiers trained on
  rank 0, as their safetensors bytes, and the warm-start state) to the other ranks; when
  it is reused from the cache it sends None.
- `fit_comic(..., distributed=True)` wraps the network and the per-panel conditions in
  one DistributedDataParallel module; rank r trains on its shard of panels (r, r + W, ...)
  and scales its loss by W, so DDP's gradient average is the gradient of the loss summed
  over all ranks' panels: the update a single process makes on the same panels.
- after training every rank holds the same network; rank 0 renders all panels.
- rank 0 writes; the others wait at a barrier and exit 0.

Gloo carries the collectives on CPU, NCCL on CUDA; the job and the final barrier always
go over a gloo group, so a long PDF write on rank 0 never times out a GPU collective.
torch is imported inside the functions: the command line asks `launch_from_environ`
whether it runs under torchrun without paying for a torch import.
"""

from __future__ import annotations

import inspect
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    import torch
    from torch import nn

    from comicc.ml.train import WarmStart

# The other ranks wait at the final barrier while rank 0 renders, lays out and writes.
CONTROL_TIMEOUT = timedelta(hours=6)
THREADS_VARIABLE = "COMICC_THREADS"
_OWNS_THREADS = False
_THREADS_BEFORE: int | None = None  # torch's thread count before an owned build changed it


@dataclass(frozen=True)
class Launch:
    """Where this process sits in a torchrun launch."""

    rank: int
    world_size: int
    local_rank: int
    local_world_size: int

    @property
    def is_main(self) -> bool:
        """Rank 0: the process that owns the cache and writes the outputs."""
        return self.rank == 0


def launch_from_environ(environ: Mapping[str, str] = os.environ) -> Launch | None:
    """The torchrun launch this process belongs to, or None when it runs alone.

    A launch of one process (`--nproc-per-node 1`) counts as running alone.
    """
    world_size = int(environ.get("WORLD_SIZE", "1"))
    if world_size <= 1 or "RANK" not in environ:
        return None
    local_world = int(environ.get("LOCAL_WORLD_SIZE", str(world_size)))
    return Launch(
        rank=int(environ["RANK"]),
        world_size=world_size,
        local_rank=int(environ.get("LOCAL_RANK", "0")),
        local_world_size=local_world,
    )


def physical_cores(cpus: set[int] | None = None, sysfs: Path = Path("/sys/devices/system/cpu")) -> int:
    """Physical cores among the logical CPUs this process may run on (hyper-threads count once)."""
    if cpus is None:
        cpus = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else set()
    if not cpus:
        return os.cpu_count() or 1
    cores = set()
    for cpu in cpus:
        topology = sysfs / f"cpu{cpu}" / "topology"
        try:
            package = (topology / "physical_package_id").read_text().strip()
            core = (topology / "core_id").read_text().strip()
        except OSError:
            return len(cpus)  # no topology (not Linux, or hidden): count logical CPUs
        cores.add((package, core))
    return max(1, len(cores))


def default_threads(local_world_size: int = 1, environ: Mapping[str, str] = os.environ) -> int:
    """CPU threads for one process: COMICC_THREADS, else its share of the physical cores."""
    value = environ.get(THREADS_VARIABLE, "").strip()
    if value:
        threads = int(value)
        if threads < 1:
            raise ValueError(f"{THREADS_VARIABLE} must be a positive number of threads, not {value}")
        return threads
    return max(1, physical_cores() // max(1, local_world_size))


def own_threads() -> None:
    """Let comicc choose torch's CPU threads in this process until `release_threads` (its
    command line does; a program that uses comicc as a library keeps its own choice).

    Called before torch is imported, it also makes idle threads sleep rather than spin
    (OMP_WAIT_POLICY=PASSIVE, unless set): on a machine shared with other programs,
    spinning threads fight them for the cores; docs/performance.md measured draft steps
    up to 18x slower with 2 spinning threads on 2 busy cores.
    """
    global _OWNS_THREADS
    _OWNS_THREADS = True
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def release_threads() -> None:
    """End `own_threads`: torch's thread count goes back to what it was before comicc set it
    (a program or test that runs the command line in-process keeps its own setting)."""
    global _OWNS_THREADS, _THREADS_BEFORE
    _OWNS_THREADS = False
    if _THREADS_BEFORE is not None:
        import torch

        torch.set_num_threads(_THREADS_BEFORE)
        _THREADS_BEFORE = None


def configure_threads(local_world_size: int = 1) -> int | None:
    """Set torch's intra-op threads for the ML stages; returns the number, None if left alone.

    COMICC_THREADS always applies. Otherwise, in a process comicc owns (`own_threads`) and
    without OMP_NUM_THREADS (which torch already follows), its share of the physical cores.
    """
    import torch

    global _THREADS_BEFORE
    if THREADS_VARIABLE not in os.environ and (not _OWNS_THREADS or "OMP_NUM_THREADS" in os.environ):
        return None
    threads = default_threads(local_world_size)
    if torch.get_num_threads() != threads:
        if _OWNS_THREADS and _THREADS_BEFORE is None:
            _THREADS_BEFORE = torch.get_num_threads()
        torch.set_num_threads(threads)
    return threads


def shard(n: int, rank: int, world_size: int) -> list[int]:
    """The panels rank `rank` trains on: every world_size-th panel from its own rank."""
    return list(range(rank, n, world_size))


def rank_batch(global_batch: int, world_size: int) -> int:
    """Panels per step on each rank, so all ranks together see `global_batch` per step."""
    return max(1, math.ceil(global_batch / world_size))


def is_distributed() -> bool:
    """Whether a torch.distributed process group is up in this process."""
    import torch.distributed as dist

    return dist.is_available() and dist.is_initialized()


def wrap_module(module: nn.Module, device: torch.device) -> nn.Module:
    """`module` under DistributedDataParallel (its state is broadcast from rank 0 here)."""
    import torch
    from torch.nn.parallel import DistributedDataParallel

    ids = None
    if device.type == "cuda":
        ids = [device.index if device.index is not None else torch.cuda.current_device()]
    # No batch-norm statistics to keep in step: buffers never change, so they are synced
    # once at wrapping and not before every forward (the option's name changed in torch 2.14).
    options = inspect.signature(DistributedDataParallel).parameters
    sync = "forward_sync_buffers" if "forward_sync_buffers" in options else "broadcast_buffers"
    extra: dict[str, Any] = {sync: False}
    return DistributedDataParallel(module, device_ids=ids, **extra)


def all_reduce_sum(values: torch.Tensor) -> torch.Tensor:
    """The sum of `values` over all ranks (in place; returned for chaining)."""
    import torch.distributed as dist

    dist.all_reduce(values, op=dist.ReduceOp.SUM)
    return values


def any_rank(flag: bool, device: torch.device) -> bool:
    """True on every rank when `flag` is true on any rank (e.g. a stop request)."""
    import torch

    value = torch.tensor([1.0 if flag else 0.0], device=device)
    return bool(all_reduce_sum(value).item() > 0)


@dataclass
class StyleJob:
    """What rank 0 sends the other ranks when the style stage runs."""

    classifiers: bytes  # the bank trained on rank 0, as safetensors bytes
    init: WarmStart | None  # the previous build's network, conditions and optimizer
    steps: int
    focus: tuple[int, ...] = ()  # panels in every step's batch (fit_comic's focus)


class BuildGroup:
    """The processes of one distributed build, joined for the style stage.

    Created on every rank; rank 0 calls `send` at most once (or `close` sends None for
    it), the other ranks `receive` once, and every rank ends with `close`.
    """

    def __init__(self, launch: Launch, device: torch.device) -> None:
        import torch
        import torch.distributed as dist

        self.launch = launch
        if device.type == "cuda":
            torch.cuda.set_device(launch.local_rank)
            self.device = torch.device("cuda", launch.local_rank)
        else:
            self.device = device
        backend = "nccl" if device.type == "cuda" else "gloo"
        dist.init_process_group(backend, rank=launch.rank, world_size=launch.world_size)
        # Every rank is a member, so this is a real group (not the non-member marker).
        self.control = cast("dist.ProcessGroup", dist.new_group(backend="gloo", timeout=CONTROL_TIMEOUT))
        self.sent = False

    def send(self, job: StyleJob | None) -> None:
        """Rank 0: hand the style stage's inputs (or None: nothing to train) to the others."""
        import torch.distributed as dist

        if not self.launch.is_main or self.sent:
            raise RuntimeError("only rank 0 sends, and only once per build")
        dist.broadcast_object_list([job], src=0, group=self.control)
        self.sent = True

    def receive(self) -> StyleJob | None:
        """Ranks > 0: wait for rank 0's job (None when the style stage does not run)."""
        import torch.distributed as dist

        box: list[Any] = [None]
        dist.broadcast_object_list(box, src=0, group=self.control)
        return box[0]

    def close(self, failed: bool = False) -> None:
        """Release the other ranks if rank 0 never sent a job, wait for all, leave the group.

        failed: this rank stops on an error. Before a job was sent the other ranks are
        released as usual; after it, they may be inside a training collective, so this
        rank leaves without waiting and torchrun ends the others when it exits non-zero.
        """
        import torch.distributed as dist

        if self.launch.is_main and not self.sent:
            self.send(None)
        elif failed:
            dist.destroy_process_group()
            return
        dist.barrier(group=self.control)
        dist.destroy_process_group()
