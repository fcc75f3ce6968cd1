"""Where a circuit starts and ends: the prompt's tokens whose embeddings write the residual
channels it reads, and the answer logits that its residual writes feed.

Inputs. A residual read (`N.attn.act_in.c`, `N.mlp.act_in.c`) sees the residual stream at one
position, and the stream carries that position's token embedding to every layer. An MLP read,
and an attention read that feeds only queries, is read at the current position alone; an
attention read feeding a kept key or value is read at every position up to the current one
(attention moves it from there). A token feeds a read when its embedding is nonzero on the
read's channel; the edge's weight is that entry times the reading norm's gain on the channel,
as a residual link's weight is that gain. There is one input per distinct token, with the
positions where it feeds. The position embedding (the same for every prompt) and the bigram
table (current token straight to the logits, past every node) are not inputs here.

Outputs. A residual write (`N.*.resid_delta.c`) reaches the logits through the final norm and
the unembedding: its edge to an answer token a weighs ln_f's gain on c times lm_head[a, c]. The
final norm's 1/rms scales every channel at a position alike, so it is left out.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .sparse import dense_rows
from .topology import SUBLAYERS, Node

READ_NORMS = {read: norm for _, _, read, norm in SUBLAYERS}  # "attn.act_in" -> "ln_1"
WRITES = {write for _, write, _, _ in SUBLAYERS}
ANSWER_ROLES = ("correct", "incorrect", "predicted")


@dataclass(frozen=True)
class TokenInput:
    name: str  # "token.<id>": never a model node's name
    token: int
    positions: tuple[int, ...]  # where in the prompt it feeds a read, ascending


@dataclass(frozen=True)
class AnswerOutput:
    name: str  # "answer.correct", "answer.incorrect" or "answer.predicted"
    token: int
    role: str


@dataclass
class CircuitIO:
    inputs: list[TokenInput]
    outputs: list[AnswerOutput]
    edges: list[tuple[str, str, float]]  # (token -> read node) and (write node -> answer)


def is_io_name(name: str) -> bool:
    """True for an input's or an output's name (`token.7`, `answer.correct`)."""
    return name.startswith(("token.", "answer."))


@torch.no_grad()
def circuit_io(model, nodes, ids, position: int = -1, answers=()) -> CircuitIO:
    """The inputs and outputs of the circuit `nodes` for the prompt `ids` read at `position`;
    `answers` is [(role, token id), ...]: ("correct", i), ("incorrect", j), or ("predicted", k)."""
    for role, _ in answers:
        if role not in ANSWER_ROLES:
            raise ValueError(f"answer role {role!r} is not one of {', '.join(ANSWER_ROLES)}")
    d_model = model.config.d_model
    kept: dict[str, list[int]] = {}
    for name in nodes:
        node = Node.parse(name)
        kept.setdefault(node.site, []).append(node.index)
    edges: list[tuple[str, str, float]] = []
    inputs = _inputs(model, kept, list(ids)[-model.config.block_size :], position, d_model, edges)
    outputs = [AnswerOutput(f"answer.{role}", int(token), role) for role, token in answers]
    if outputs:
        gain = model.transformer.ln_f.weight.detach().double().cpu()
        device = model.lm_head.weight.device
        rows = dense_rows(
            model.lm_head.weight.detach(), torch.tensor([o.token for o in outputs], device=device)
        )
        unembed = rows.double().cpu() * gain  # [answers, d_model]
        for site, channels in sorted(kept.items()):
            if Node.parse(f"{site}.0").location not in WRITES:
                continue
            for c in sorted(channels):
                for o, w in zip(outputs, unembed[:, c].tolist()):
                    if w != 0:
                        edges.append((f"{site}.{c}", o.name, w))
    return CircuitIO(inputs, outputs, edges)


def _inputs(model, kept, ids, position, d_model, edges) -> list[TokenInput]:
    if not ids:
        return []
    position = position % len(ids)
    seen = ids[: position + 1]
    tokens = list(dict.fromkeys(seen))
    wte = model.transformer.wte.weight.detach()
    emb = dense_rows(wte, torch.tensor(tokens, device=wte.device)).double().cpu()
    far_tokens: set[int] = set()  # tokens that feed a read at a position before the current one
    fed: dict[int, list[tuple[str, float]]] = {}
    for site, channels in sorted(kept.items()):
        layer = int(site.partition(".")[0])
        location = site.partition(".")[2]
        if location not in READ_NORMS:
            continue
        channels = sorted(c for c in channels if c < d_model)  # the rest are position channels
        if not channels:
            continue
        gain = model.submodule(f"{layer}.{READ_NORMS[location]}").weight.detach().double().cpu()
        far = _read_elsewhere(model, kept, layer, channels) if location == "attn.act_in" else set()
        for c in channels:
            for t, w in zip(tokens, (emb[:, c] * gain[c]).tolist()):
                if w == 0 or (c not in far and t != seen[-1]):
                    continue
                fed.setdefault(t, []).append((f"{site}.{c}", w))
                if c in far:
                    far_tokens.add(t)
    inputs = []
    for t in tokens:
        if t not in fed:
            continue
        where = [p for p, s in enumerate(seen) if s == t] if t in far_tokens else [position]
        inputs.append(TokenInput(f"token.{t}", t, tuple(where)))
        edges.extend((f"token.{t}", read, w) for read, w in fed[t])
    return inputs


def _read_elsewhere(model, kept, layer: int, channels: list[int]) -> set[int]:
    """The attention-read channels that a kept key or value of the layer reads (nonzero weight):
    those are read at every position, not the current one alone."""
    width = model.topology.heads_width
    rows = [width + k for k in kept.get(f"{layer}.attn.k", [])]
    rows += [2 * width + v for v in kept.get(f"{layer}.attn.v", [])]
    if not rows:
        return set()
    w = model.submodule(f"{layer}.attn.c_attn").weight.detach()
    sub = dense_rows(w, torch.tensor(sorted(rows), device=w.device)).cpu()[:, channels]
    return {c for c, used in zip(channels, (sub != 0).any(dim=0).tolist()) if used}
