"""Which model a circuit belongs to: a fingerprint of the model's configuration and weights,
recorded in the circuit when it is pruned and checked whenever the circuit is applied, so that
a circuit is never silently measured on a model it was not found in."""

from __future__ import annotations

import hashlib
import json

import torch

from .sparse import dense
from .topology import Node


@torch.no_grad()
def fingerprint(model) -> str:
    """16 hex digits of SHA-256 over the config and every parameter and buffer by name, the
    same whether the weights are held dense or sparse (a sparse layout keeps no -0.0, so zeros
    are hashed without their sign)."""
    h = hashlib.sha256(b"v2" + json.dumps(model.config.to_dict(), sort_keys=True).encode())
    tensors = dict([*model.named_parameters(), *model.named_buffers()])
    for name in sorted(tensors):
        h.update(name.encode())
        values = dense(tensors[name].detach()).to("cpu", torch.float32).contiguous()
        h.update((values + 0.0).numpy().tobytes())  # -0.0 + 0.0 is +0.0
    return h.hexdigest()[:16]


@torch.no_grad()
def legacy_fingerprint(model) -> str:
    """The fingerprint circuits recorded before it was made layout-independent (the shipped
    ones among them): parameters then buffers, in module order, zeros with their sign."""
    h = hashlib.sha256(json.dumps(model.config.to_dict(), sort_keys=True).encode())
    for name, tensor in [*model.named_parameters(), *model.named_buffers()]:
        h.update(name.encode())
        h.update(dense(tensor.detach()).to("cpu", torch.float32).contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


class CircuitMismatch(ValueError):
    """A circuit applied to a model it does not belong to; the message names both."""


def check_circuit_fits(
    circuit, model, model_fingerprint: str, model_ref: str, source: str = "circuit", same_model: bool = True
) -> None:
    """CircuitMismatch unless `circuit` was found in this model (when it records a fingerprint;
    `same_model=False`: in any model of this shape, another checkpoint of its training run)
    and every node and edge it names exists in the model."""
    recorded = circuit.extra.get("model_fingerprint")
    if not same_model:
        recorded = None
    if recorded and recorded != model_fingerprint and recorded != legacy_fingerprint(model):
        raise CircuitMismatch(
            f"{source}: the circuit belongs to the model {circuit.model or 'unknown'} "
            f"(fingerprint {recorded}), not to {model_ref} (fingerprint {model_fingerprint})"
        )
    topo = model.topology
    names = list(circuit.nodes) + [n for e in circuit.edges for n in (e["src"], e["dst"])]
    for name in names:
        try:
            topo.check_node(name)
        except ValueError as e:
            raise CircuitMismatch(f"{source}: node {e} — not a node of {model_ref}") from None
    for e in circuit.edges:
        src, dst = Node.parse(e["src"]), Node.parse(e["dst"])
        if topo.wire(src, dst) is None and topo.residual_link(src, dst) is None:
            raise CircuitMismatch(f"{source}: edge {e['src']}->{e['dst']} joins nothing in {model_ref}")
