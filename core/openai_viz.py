"""OpenAI's published circuits (`viz_data.pt`, read by circuit_sparsity's Streamlit viewer) as
our Circuits.

Layout of the published files: `viz/<model>/<task>/<sweep>/<k>/viz_data.pt` (k a node budget
or `k_optim`), with the model itself in `models/<model>/` beside `viz/`. A viz_data.pt is a
torch pickle of plain containers and tensors, read with weights_only=True (no pickled code
runs). What we use of it:

    circuit_data   {"0.mlp.post_act": int tensor of kept channels, ...}: the circuit's nodes;
                   its locations are ours (core/topology.py), so a node is `site.channel`
    importances    {"loss": task loss of the full model, "interv_loss": of the circuit,
                    "ch_interv_losses": {site: [loss with that kept channel ablated, ...]}
                    (in circuit_data's order), "task_samples": (int tensor [docs, ctx], zero
                    padded, ...), "beeg_model_config", "pair_data", ...}
    all_loss       [(step, loss), ...] of the pruning run (the viewer's loss-vs-k plot uses the
                   last); num_total_nodes; prune_config

Every stored task loss is twice ours: the reference's task loss adds the cross-entropy of the
prompt and of its contrasting twin (registries.last_token_contrast_loss_fn), and its viewer
halves every stored loss before showing it (viz.py: "off by a factor of 2"). We halve them
too (LOSS_SCALE), so loss_full and loss_circuit read on the scale of our two-token loss.

Edges are not stored in a form we can use: they are the model's nonzero weights between kept
nodes, taken from the model (core/circuit.py extract_edges), which is why the model is needed.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import torch

from .circuit import Circuit, extract_edges
from .fileio import FileFormatError, check_size
from .formats import Checkpoint, load_checkpoint, torch_load_reason
from .provenance import fingerprint
from .topology import sort_nodes, split_site

MAX_VIZ_BYTES = 4 << 30
LOSS_SCALE = 0.5  # stored losses are two cross-entropies summed; ours is one (see above)
FORMAT_NAME = "openai-circuit-sparsity-viz"


def viz_layout(path: Path) -> dict | None:
    """{"model", "task", "sweep", "k"} read from `.../viz/<model>/<task>/<sweep>/<k>/viz_data.pt`,
    or None when the file is not laid out that way."""
    parents = Path(path).resolve().parents
    if len(parents) < 6 or parents[4].name != "viz":
        return None
    return {"model": parents[3].name, "task": parents[2].name, "sweep": parents[1].name, "k": parents[0].name}


def find_model_dir(path: Path) -> Path | None:
    """`models/<model>/` beside the `viz/` folder the file is in, if it exists."""
    layout = viz_layout(path)
    if layout is None:
        return None
    folder = Path(path).resolve().parents[5] / "models" / layout["model"]
    return folder if (folder / "beeg_config.json").is_file() else None


def read_viz(path) -> dict:
    """The viz_data.pt's top-level dict, or a FileFormatError naming the file."""
    path = Path(path)
    check_size(path, MAX_VIZ_BYTES)
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises many types for a bad or unsafe file
        raise FileFormatError(f"{path}: not a readable viz_data.pt ({torch_load_reason(e)})") from None
    if not isinstance(data, dict):
        raise FileFormatError(f"{path}: expected a dict at the top level, got {type(data).__name__}")
    return data


class _Reader:
    """Fields of one file, with errors that name the file and the field."""

    def __init__(self, path: Path):
        self.path = path

    def fail(self, field: str, problem: str):
        raise FileFormatError(f"{self.path}: field '{field}': {problem}")

    def get(self, d: dict, key: str, field: str, kind: type | tuple = dict):
        if key not in d:
            raise FileFormatError(f"{self.path}: missing field '{field}'")
        value = d[key]
        if not isinstance(value, kind):
            names = " or ".join(k.__name__ for k in (kind if isinstance(kind, tuple) else (kind,)))
            self.fail(field, f"must be a {names} (got {type(value).__name__})")
        return value

    def number(self, value, field: str) -> float:
        if isinstance(value, torch.Tensor) and value.numel() == 1:
            value = value.item()
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            self.fail(field, f"must be a finite number (got {_shown(value)})")
        return float(value)

    def channels(self, value, field: str) -> list[int]:
        if isinstance(value, torch.Tensor):
            if value.is_floating_point() or value.is_complex() or value.dim() > 1:
                self.fail(
                    field, f"must be a 1-D integer tensor (got {value.dtype}, shape {list(value.shape)})"
                )
            value = value.reshape(-1).tolist()
        if not isinstance(value, (list, tuple)) or not all(
            isinstance(i, int) and not isinstance(i, bool) and i >= 0 for i in value
        ):
            self.fail(field, "must be a list of channel numbers")
        return list(value)


def _shown(value) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:39] + "…"


def circuit_from_viz(
    path, model_dir=None, tokenizer=None, *, checkpoint: Checkpoint | None = None, model_fingerprint=None
) -> Circuit:
    """The circuit in a viz_data.pt, with its edges from the model in `model_dir` (default:
    `models/<model>/` beside the `viz/` folder the file is in), or from an already opened
    `checkpoint` (the app's, whose `model_fingerprint` it may know already)."""
    path = Path(path)
    data = read_viz(path)
    r = _Reader(path)
    if checkpoint is None:
        if model_dir is None:
            model_dir = find_model_dir(path)
            if model_dir is None:
                raise FileFormatError(
                    f"{path}: cannot find its model (expected models/<model>/ beside the viz/ folder "
                    f"of viz/<model>/<task>/<sweep>/<k>/viz_data.pt); name the model folder"
                )
        checkpoint = load_checkpoint(model_dir, "cpu", tokenizer)
    ckpt = checkpoint
    model, topo = ckpt.model, ckpt.model.topology

    # Nodes: circuit_data maps a site to its kept channels.
    circuit_data = r.get(data, "circuit_data", "circuit_data")
    kept: dict[str, list[int]] = {}
    for site, channels in circuit_data.items():
        field = f"circuit_data[{site!r}]"
        if site == "prune_config":  # some runs store their settings here
            continue
        try:
            split_site(str(site))
        except ValueError as e:
            r.fail(field, str(e))
        kept[site] = r.channels(channels, field)
        for c in kept[site]:
            try:
                topo.check_node(f"{site}.{c}")
            except ValueError as e:
                r.fail(field, f"{e} (is {ckpt.path} the model it was pruned from?)")
    nodes = sort_nodes({f"{site}.{c}" for site, cs in kept.items() for c in cs})

    # Losses, halved to our scale.
    imp = r.get(data, "importances", "importances")
    loss_full = LOSS_SCALE * r.number(r.get(imp, "loss", "importances.loss", object), "importances.loss")
    loss_circuit = LOSS_SCALE * r.number(
        r.get(imp, "interv_loss", "importances.interv_loss", object), "importances.interv_loss"
    )

    # How much the circuit's loss rises when one of its nodes is ablated.
    deltas: dict[str, float] = {}
    if "ch_interv_losses" in imp:
        per_site = r.get(imp, "ch_interv_losses", "importances.ch_interv_losses")
        for site, losses in per_site.items():
            field = f"importances.ch_interv_losses[{site!r}]"
            if site not in kept:
                r.fail(field, "names a site that circuit_data does not keep")
            if isinstance(losses, torch.Tensor):
                losses = losses.reshape(-1).tolist()
            if not isinstance(losses, (list, tuple)) or len(losses) != len(kept[site]):
                r.fail(field, f"must list one loss per kept channel ({len(kept[site])})")
            for c, loss in zip(kept[site], losses):
                deltas[f"{site}.{c}"] = LOSS_SCALE * r.number(loss, field) - loss_circuit

    extra: dict = {"model_fingerprint": model_fingerprint or fingerprint(model)}
    if deltas:
        extra["node_ablation_delta"] = {n: deltas[n] for n in nodes if n in deltas}
    prompts = _task_samples(imp, r)
    if prompts:
        extra["task_sample_tokens"] = prompts
        if ckpt.tokenizer is not None:
            extra["prompts"] = [ckpt.tokenizer.decode(p) for p in prompts]
    layout = viz_layout(path) or {}
    extra["openai_viz"] = {
        "format": FORMAT_NAME,
        "file": str(path),
        **layout,
        **_optional(data, r),
    }
    return Circuit(
        task=layout.get("task", "openai"),
        target_loss=loss_circuit,  # not stored; the circuit reached its own loss
        ablation="mean",  # the reference prunes by mean-ablating nodes
        nodes=nodes,
        edges=extract_edges(model, nodes),
        loss_full=loss_full,
        loss_circuit=loss_circuit,
        n_examples=len(prompts),
        model=str(ckpt.path),
        extra=extra,
    )


def _task_samples(imp: dict, r: _Reader) -> list[list[int]]:
    """importances.task_samples[0]: the task's prompts as token ids, zero padding cut off."""
    samples = imp.get("task_samples")
    if samples is None:
        return []
    if not isinstance(samples, (list, tuple)) or not samples:
        r.fail("importances.task_samples", "must be a list whose first item is the prompts' tokens")
    docs = samples[0]
    if isinstance(docs, torch.Tensor):
        if docs.is_floating_point() or docs.dim() != 2:
            r.fail("importances.task_samples[0]", "must be an integer tensor [prompts, tokens]")
        docs = docs.tolist()
    prompts = []
    for i, doc in enumerate(docs):
        ids = r.channels(doc, f"importances.task_samples[0][{i}]")
        while ids and ids[-1] == 0:
            ids.pop()
        prompts.append(ids)
    return prompts


def _optional(data: dict, r: _Reader) -> dict:
    """What else the file says that JSON can hold: node count, pruning settings and losses."""
    out = {}
    if "num_total_nodes" in data:
        out["num_total_nodes"] = int(r.number(data["num_total_nodes"], "num_total_nodes"))
    if isinstance(data.get("all_loss"), (list, tuple)):
        losses = []
        for i, pair in enumerate(data["all_loss"]):
            field = f"all_loss[{i}]"
            if not isinstance(pair, (list, tuple)) or len(pair) != 2:
                r.fail(field, "must be a (step, loss) pair")
            losses.append([int(r.number(pair[0], field)), LOSS_SCALE * r.number(pair[1], field)])
        out["pruning_losses"] = losses  # halved, like every stored task loss
    config = data.get("prune_config", (data.get("circuit_data") or {}).get("prune_config"))
    if config is not None:
        try:
            out["prune_config"] = json.loads(json.dumps(config, default=str))
        except (TypeError, ValueError):  # keys that JSON cannot hold
            out["prune_config"] = _shown(config)
    return out
