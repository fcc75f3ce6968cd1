"""One model trained by many processes (torchrun): which process this is, and the few
collectives the trainer needs.

torchrun sets RANK, WORLD_SIZE and LOCAL_RANK (and MASTER_ADDR/MASTER_PORT) in every process
it starts. Each process draws the same global batch for a step and keeps its rows
`rank::world`; gradients are averaged over the processes, so the weights, the optimizer state
and the top-k projection are the same on every one and the run is the run one process would
make with the same global batch. Rank 0 alone writes the checkpoint and the metrics.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

ENV_VARS = ("RANK", "WORLD_SIZE", "LOCAL_RANK")


class DistributedError(ValueError):
    """A launch that cannot train one model (bad torchrun variables, processes that differ)."""


@dataclass(frozen=True)
class Dist:
    rank: int
    world: int
    local_rank: int

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def rows(self, batch_size: int) -> slice:
        """This process's rows of a global batch."""
        return slice(self.rank, batch_size, self.world)

    def device(self, device: torch.device) -> torch.device:
        """The device this process trains on: the CPU, or its own GPU (LOCAL_RANK)."""
        if device.type == "cpu":
            return device
        if device.type != "cuda":
            raise DistributedError(f"several processes train on the CPU or CUDA GPUs, not {device.type}")
        if device.index is not None:
            raise DistributedError(
                f"--device {device}: under torchrun give --device cuda; each process takes the GPU "
                "of its LOCAL_RANK"
            )
        if self.local_rank >= torch.cuda.device_count():
            raise DistributedError(
                f"LOCAL_RANK {self.local_rank}: this machine has {torch.cuda.device_count()} CUDA GPU(s)"
            )
        return torch.device("cuda", self.local_rank)

    def init(self, device: torch.device) -> None:
        """Join the process group: NCCL on CUDA, gloo otherwise."""
        if dist.is_initialized():
            return
        if device.type == "cuda":
            torch.cuda.set_device(device)
            backend = "nccl"
        else:
            backend = "gloo"
        kwargs = {"device_id": device} if device.type == "cuda" else {}
        dist.init_process_group(backend, rank=self.rank, world_size=self.world, **kwargs)

    def close(self) -> None:
        if dist.is_initialized():
            dist.destroy_process_group()

    def barrier(self) -> None:
        dist.barrier()

    def sum(self, values: list[float | torch.Tensor], device: torch.device) -> list[float]:
        """The sum over processes of each value (float64)."""
        t = torch.stack([torch.as_tensor(v, device=device).double().reshape(()) for v in values])
        dist.all_reduce(t)
        return t.tolist()

    def check_same(self, tensors, device: torch.device, what: str) -> None:
        """Raise unless every process holds the same `tensors` (compared by per-tensor sums of
        values and of squares, in float64: cheap, and any divergence shows)."""
        sums = [t.detach().double().sum() for t in tensors] + [
            t.detach().double().pow(2).sum() for t in tensors
        ]
        local = torch.stack(sums).to(device) if sums else torch.zeros(1, dtype=torch.float64, device=device)
        low, high = local.clone(), local.clone()
        dist.all_reduce(low, op=dist.ReduceOp.MIN)
        dist.all_reduce(high, op=dist.ReduceOp.MAX)
        if not torch.equal(low, high):
            raise DistributedError(f"the {self.world} training processes hold different {what}")


def from_env(environ=None) -> Dist | None:
    """The process's place in a torchrun launch, or None when it runs alone (no torchrun, or a
    launch of one process)."""
    environ = os.environ if environ is None else environ
    if not all(name in environ for name in ENV_VARS):
        return None
    try:
        rank, world, local_rank = (int(environ[name]) for name in ENV_VARS)
    except ValueError:
        raise DistributedError(
            "RANK, WORLD_SIZE and LOCAL_RANK must be integers (as torchrun sets them)"
        ) from None
    if world < 1 or not 0 <= rank < world or local_rank < 0:
        raise DistributedError(f"RANK {rank} / WORLD_SIZE {world} / LOCAL_RANK {local_rank} do not fit")
    return Dist(rank, world, local_rank) if world > 1 else None
