"""What a user (or a check) does to the model, as plain data, and the one code path that
applies it. Used by the GUI, the CLI, the checks and the tests alike.

- A node intervention replaces one channel at one location by its mean or by zero.
- An edge intervention removes one weight's contribution (src -> dst): for a weight edge, the
  linear layer's output gets W[dst, src] * (replacement - input); for a residual edge (a write
  read by a later layer), the reader sees the residual without that write on that channel.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch

from .hooks import split_node_name
from .means import linear_layers


@dataclass(frozen=True)
class Intervention:
    kind: str          # "node" or "edge"
    target: str        # "0.mlp.post_act.12" or "0.mlp.act_in.3->0.mlp.post_act.12"
    mode: str = "mean"  # "mean" or "zero"

    def __post_init__(self):
        if self.kind not in ("node", "edge"):
            raise ValueError(f"intervention kind must be node or edge, got {self.kind!r}")
        if self.mode not in ("mean", "zero"):
            raise ValueError(f"ablation mode must be mean or zero, got {self.mode!r}")

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


def weight_edge(model, src: str, dst: str) -> tuple[str, int, int] | None:
    """(linear key, row, column) of the weight carrying src -> dst, or None if the pair is not
    joined by one weight (it may be a residual edge)."""
    (sloc, si), (dloc, di) = split_node_name(src), split_node_name(dst)
    slayer, spart = sloc.split(".", 1)
    dlayer, dpart = dloc.split(".", 1)
    width = model.config.n_head * model.config.d_head
    if slayer != dlayer:
        return None
    if spart == "attn.act_in" and dpart in ("attn.q", "attn.k", "attn.v"):
        offset = {"attn.q": 0, "attn.k": width, "attn.v": 2 * width}[dpart]
        return f"{slayer}.attn.c_attn", offset + di, si
    if spart == "attn.v" and dpart == "attn.resid_delta":
        return f"{slayer}.attn.c_proj", di, si
    if spart == "mlp.act_in" and dpart == "mlp.post_act":
        return f"{slayer}.mlp.c_fc", di, si
    if spart == "mlp.post_act" and dpart == "mlp.resid_delta":
        return f"{slayer}.mlp.c_proj", di, si
    return None


def residual_edge(src: str, dst: str) -> tuple[str, str, int] | None:
    """(writer location, reader location, channel) if src writes the residual channel dst reads."""
    (sloc, si), (dloc, di) = split_node_name(src), split_node_name(dst)
    if not sloc.endswith("resid_delta") or not dloc.endswith("act_in") or si != di:
        return None
    order = {"attn": 0, "mlp": 1}
    s_layer, s_part = int(sloc.split(".")[0]), order[sloc.split(".")[1]]
    d_layer, d_part = int(dloc.split(".")[0]), order[dloc.split(".")[1]]
    if (d_layer, d_part) <= (s_layer, s_part):
        return None
    return sloc, dloc, si


def _replacement(means, key, index, mode, like: torch.Tensor) -> torch.Tensor:
    if mode == "zero":
        return torch.zeros((), dtype=like.dtype, device=like.device)
    return means[key][index].to(like.device, like.dtype)


@contextlib.contextmanager
def applied(model, interventions, means: dict[str, torch.Tensor] | None):
    """Install the interventions on `model` for the duration of the block."""
    interventions = list(interventions)
    if means is None and any(iv.mode == "mean" for iv in interventions):
        raise ValueError("mean ablation needs the model's mean activations")
    node_hooks: dict[str, list[tuple[int, str]]] = {}
    linear_edits: dict[str, list[tuple[int, int, str]]] = {}
    resid_edits: list[tuple[str, str, int, str]] = []
    for iv in interventions:
        if iv.kind == "node":
            location, index = split_node_name(iv.target)
            if location not in model.hook_points:
                raise ValueError(f"no node location {location!r} in this model")
            if index >= model.location_width(location):
                raise ValueError(f"{iv.target}: index out of range for {location}")
            node_hooks.setdefault(location, []).append((index, iv.mode))
            continue
        src, dst = iv.endpoints
        found = weight_edge(model, src, dst)
        if found is not None:
            linear_edits.setdefault(found[0], []).append((found[1], found[2], iv.mode))
            continue
        resid = residual_edge(src, dst)
        if resid is None:
            raise ValueError(f"{iv.target}: no weight or residual channel joins these nodes")
        resid_edits.append((*resid, iv.mode))

    node_values = {}
    for location, edits in node_hooks.items():
        index = torch.tensor([i for i, _ in edits])
        mean = means[location][index] if means is not None else torch.zeros(len(edits))
        is_mean = torch.tensor([mode == "mean" for _, mode in edits])
        node_values[location] = (index, torch.where(is_mean, mean, torch.zeros(len(edits))))

    def node_hook(x, name):
        index, values = node_values[name]
        x = x.clone()
        x[..., index.to(x.device)] = values.to(x.device, x.dtype)
        return x

    handles = []
    layers = linear_layers(model)
    for key, edits in linear_edits.items():
        def edit_output(module, args, out, key=key, edits=edits):
            out = out.clone()
            inp = args[0]
            for row, col, mode in edits:
                repl = _replacement(means, f"{key}:in", col, mode, inp)
                out[..., row] = out[..., row] + module.weight[row, col] * (repl - inp[..., col])
            return out
        handles.append(layers[key].register_forward_hook(edit_output))

    written: dict[tuple[str, int], torch.Tensor] = {}
    hooks = [(loc, node_hook) for loc in node_hooks]
    for writer, reader, channel, mode in resid_edits:
        def record(x, name, channel=channel):
            written[(name, channel)] = x[..., channel]
        hooks.append((writer, record))
        layer, part = reader.split(".")[0], reader.split(".")[1]
        block = model.transformer.h[int(layer)]
        norm = block.ln_1 if part == "attn" else block.ln_2

        def remove_write(module, args, writer=writer, channel=channel, mode=mode):
            x = args[0].clone()
            repl = _replacement(means, writer, channel, mode, x)
            x[..., channel] = x[..., channel] - written[(writer, channel)] + repl
            return (x,)
        handles.append(norm.register_forward_pre_hook(remove_write))
    try:
        with model.hooks(hooks):
            yield model
    finally:
        for h in handles:
            h.remove()
