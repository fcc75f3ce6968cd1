"""What a user does to the model, as plain data: ablate a node, or an edge (a weight, or a
residual channel from a write to a later read), by its mean or by zero, or patch it with its
value on the paired prompt (a minimal pair's twin). Applying them is core/ablation.py's one
code path, shared with the pruner and the checks.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch

from .ablation import ablated

MODES = ("mean", "zero", "patch")


@dataclass(frozen=True)
class Intervention:
    kind: str  # "node" or "edge"
    target: str  # "0.mlp.post_act.12" or "0.mlp.act_in.3->0.mlp.post_act.12"
    mode: str = "mean"  # "mean", "zero" or "patch" (from the paired prompt)

    def __post_init__(self):
        if self.kind not in ("node", "edge"):
            raise ValueError(f"intervention kind must be node or edge, got {self.kind!r}")
        if self.mode not in MODES:
            raise ValueError(f"intervention mode must be mean, zero or patch, got {self.mode!r}")

    @property
    def endpoints(self) -> tuple[str, str]:
        src, sep, dst = self.target.partition("->")
        if not sep:
            raise ValueError(f"edge {self.target!r} is not written 'src->dst'")
        return src, dst

    def to_dict(self) -> dict:
        return {"kind": self.kind, "target": self.target, "mode": self.mode}

    @classmethod
    def from_dict(cls, d: dict) -> "Intervention":
        return cls(d["kind"], d["target"], d.get("mode", "mean"))


def check_intervention(model, iv: Intervention) -> None:
    """ValueError naming the target unless the model has its node, or a weight or residual
    channel joining its two nodes."""
    topo = model.topology
    if iv.kind == "node":
        topo.check_node(iv.target)
        return
    src, dst = (topo.check_node(n) for n in iv.endpoints)
    if topo.wire(src, dst) is None and topo.residual_link(src, dst) is None:
        raise ValueError(f"{iv.target}: no weight or residual channel joins these nodes")


def needs_source(interventions) -> bool:
    """Some intervention patches from the paired prompt."""
    return any(iv.mode == "patch" for iv in interventions)


@contextlib.contextmanager
def applied(model, interventions, means: dict[str, torch.Tensor] | None, source=None):
    """Install the interventions on `model` for the duration of the block (this thread only);
    patches take their values from `source` (see core/ablation.py `ablated`)."""
    with ablated(model, interventions=interventions, means=means, source=source):
        yield model
