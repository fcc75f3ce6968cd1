"""The graph's inputs and outputs, as the graph view draws them: core/circuit_io.py's token and
answer nodes with their labels, what hovering one says, and the answers' colours.

Only the circuit and neighbours views get them. In the whole model every read channel is kept,
so every token of the prompt feeds it and every write feeds the answers: a column of all the
prompt's tokens, joined to a hundred channels each, says nothing about a circuit.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass

import numpy as np

from core.circuit_io import CircuitIO, circuit_io


@dataclass
class GraphIO:
    names: list[str]  # inputs first (`token.7`), then outputs (`answer.correct`)
    labels: list[str]  # shown beside each node, on two lines
    n_inputs: int
    details: list[str]  # the tooltip of each (rich text)
    summaries: list[str]  # a line on each, for the status bar
    values: np.ndarray  # colour in [-1, 1]: tokens 0; an answer, how strongly the model prefers it
    src: list[str]  # edges: token -> read node, write node -> answer
    dst: list[str]
    weight: np.ndarray

    def same_shape(self, other: "GraphIO | None") -> bool:
        """The same nodes and edges (only colours and tooltips may differ)."""
        return other is not None and (self.names, self.src, self.dst) == (other.names, other.src, other.dst)


def token_label(text: str) -> str:
    """A token as the graph shows it: quoted, its spaces and newlines visible."""
    return repr(text)


def answers(candidates, tokenizer, baseline) -> list[tuple[str, int]]:
    """(role, token id) of the task's two candidates; else the unmodified model's top token;
    else none."""
    if candidates is not None:
        ids = [tokenizer.token_id(c) for c in candidates]
        if None not in ids:
            return [("correct", ids[0]), ("incorrect", ids[1])]
    if baseline is not None and baseline.top:
        return [("predicted", baseline.top[0][0])]
    return []


def graph_io(bench, nodes, ids, position, candidates, baseline, current, cache=None) -> GraphIO:
    """The inputs and outputs of the graph of `nodes`, for the prompt `ids` read at `position`.
    `cache` (a dict the caller keeps) holds the last core answer, reused while nothing it
    depends on has changed (interventions change only the colours and the tooltips)."""
    wanted = answers(candidates, bench.tokenizer, baseline)
    key = (bench.model, tuple(ids), position, tuple(wanted))
    hit = cache is not None and cache.get("nodes") is nodes and cache.get("key") == key
    io: CircuitIO = cache["io"] if hit else circuit_io(bench.model, nodes, ids, position, wanted)
    if cache is not None:
        cache.update(nodes=nodes, key=key, io=io)  # holding `nodes`: its id is not reused
    tok = bench.tokenizer
    names, labels, details, summaries, values = [], [], [], [], []
    for t in io.inputs:
        text = token_label(tok.token_text(t.token))
        where = ", ".join(map(str, t.positions))
        names.append(t.name)
        labels.append(f"{text}\n@{where}")
        details.append(
            f"<b>input: token {html.escape(text)}</b> (id {t.token}) at "
            f"position{'s' * (len(t.positions) > 1)} {where}<br>edges: its embedding on each "
            f"residual channel it feeds, times the reading norm's gain"
        )
        summaries.append(
            f"Input: token {text} (id {t.token}) at position {where}, feeding "
            f"{len(io_edges(io, t.name))} read channels"
        )
        values.append(0.0)
    diff_now = current.logit_diff if current is not None else None
    for o in io.outputs:
        text = token_label(tok.token_text(o.token))
        names.append(o.name)
        labels.append(f"{o.role}\n{text}")
        details.append(_answer_details(o, text, baseline, current))
        summaries.append(_answer_summary(o, text, baseline, current))
        if o.role == "predicted" or diff_now is None:
            values.append(0.0)
        else:
            values.append(math.tanh(diff_now / 2) * (1 if o.role == "correct" else -1))
    return GraphIO(
        names,
        labels,
        len(io.inputs),
        details,
        summaries,
        np.array(values),
        [e[0] for e in io.edges],
        [e[1] for e in io.edges],
        np.array([e[2] for e in io.edges]),
    )


def _answer_details(o, text: str, baseline, current) -> str:
    lines = [f"<b>output: the {o.role} answer's logit, {html.escape(text)}</b> (id {o.token})"]
    for what, p in (("unmodified", baseline), ("with your interventions", current)):
        if p is None or p.logits is None or (what != "unmodified" and p is baseline):
            continue
        lines.append(f"{what}: logit {p.logits[o.token]:+.3f}, probability {p.probs[o.token]:.3f}")
    if current is not None and current.logit_diff is not None and o.role != "predicted":
        lines.append(f"logit difference (correct − incorrect) {current.logit_diff:+.3f}")
    lines.append("edges: ln_f's gain × the unembedding (lm_head) on each residual channel written")
    return "<br>".join(lines)


def io_edges(io: CircuitIO, name: str) -> list[tuple[str, str, float]]:
    return [e for e in io.edges if name in (e[0], e[1])]


def _answer_summary(o, text: str, baseline, current) -> str:
    parts = [f"Output: the {o.role} answer {text}"]
    if baseline is not None and baseline.logits is not None:
        parts.append(f"logit {baseline.logits[o.token]:+.3f} unmodified")
        if current is not None and current is not baseline and current.logits is not None:
            parts.append(f"{current.logits[o.token]:+.3f} with your interventions")
    return ", ".join(parts)


def io_summary(io: GraphIO, name: str) -> str:
    return io.summaries[io.names.index(name)]


def io_legend_text(io: GraphIO) -> tuple[str, str]:
    """The figure's two lines on the inputs and on the outputs (plain text)."""
    outputs = io.names[io.n_inputs :]
    if outputs == ["answer.predicted"]:
        out = "the model's top next token (the prompt has no correct/incorrect answers)"
    elif outputs:
        out = "the correct and incorrect answers' logits, red where the model prefers that answer"
    else:
        out = "no answer"
    return (
        "left: the prompt's tokens whose embedding feeds a read, token @position "
        "(edge: the embedding times the reading norm's gain)",
        f"right: {out} (edge: ln_f's gain times the unembedding)",
    )


def io_legend(io: GraphIO | None, mode: str | None) -> str:
    """The legend's words on the inputs and outputs (rich text, starting with a separator);
    `mode` is the graph's view, None without a circuit."""
    square = f"<span style='color:rgb{(200, 170, 60)}'>■</span>"
    if mode == "model":
        return " &nbsp;·&nbsp; the prompt's tokens and the answers are drawn in the circuit views"
    if io is None or not io.names:
        return ""
    outputs = io.names[io.n_inputs :]
    if not outputs:
        out = "no answer (no prompt)"
    elif outputs == ["answer.predicted"]:
        out = "the model's top next token (this prompt has no correct/incorrect answers)"
    else:
        out = "the correct and incorrect answers' logits, red where the model prefers that answer"
    return (
        f" &nbsp;·&nbsp; {square} left: the prompt's tokens whose embedding feeds a read (token @position);"
        f" {square} right: {out}"
    )
