"""A node's activations on a task's two classes, and their paired difference.

A task is made of minimal pairs (core/tasks.py): two prompts, each one's correct answer the
other's incorrect one. Class 1 is, in every pair, the prompt whose correct answer is the task's
first candidate: the correct answer of the first pair's first prompt (`')` for
single_double_quote, `]` for bracket_counting); class 2 is its twin. A pair in which neither
prompt has that answer (a task file whose pairs use other tokens) keeps its own order: its
first prompt is class 1. The activation read is the node's at the answer position, the
prompt's last token, with the caller's interventions applied through core/ablation.py.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch

from .interventions import applied
from .taskeval import TaskBatch, check_example, encode_examples
from .tasks import Pair, Task
from .topology import Node

N_EXAMPLES = 256  # 128 held-out pairs


@dataclass(frozen=True)
class ClassPairs:
    """A task's pairs as one batch: rows 2i (class 1) and 2i + 1 (class 2) are pair i."""

    batch: TaskBatch
    labels: tuple[str, str]  # each class's correct answer ("…" after it when it varies)

    @property
    def n_pairs(self) -> int:
        return len(self.batch) // 2


@dataclass(frozen=True)
class ClassActivations:
    """One node's activation at the last token of each pair's two prompts."""

    node: str
    labels: tuple[str, str]
    class1: np.ndarray  # [n_pairs] float32
    class2: np.ndarray

    @property
    def diff(self) -> np.ndarray:
        """Class 1 minus class 2, pair by pair."""
        return self.class1 - self.class2

    @property
    def separation(self) -> float:
        """The fraction of pairs whose difference has the majority sign (a zero difference has
        neither): 1 when the node tells every pair apart the same way round."""
        d = self.diff
        return float(max((d > 0).sum(), (d < 0).sum()) / len(d)) if len(d) else 0.0


def oriented(pairs: list[Pair]) -> list[Pair]:
    """The pairs with class 1 first (see the module's docstring)."""
    if not pairs:
        return []
    first = pairs[0].a.correct
    return [Pair(p.b, p.a) if p.b.correct == first != p.a.correct else p for p in pairs]


def _label(answers: list[str]) -> str:
    common, _ = Counter(answers).most_common(1)[0]
    return common if len(set(answers)) == 1 else common + "…"


def class_pairs(task: Task, tokenizer, block_size: int, n_examples: int = N_EXAMPLES) -> ClassPairs:
    """Up to n_examples held-out prompts of `task`, both of each pair, class 1 first. A pair
    either of whose prompts cannot be scored (core/taskeval.py says why) is left out."""
    kept = []
    for p in oriented(task.pairs(n_examples // 2, "heldout")):
        if all(not isinstance(check_example(e, tokenizer, block_size), str) for e in p.examples()):
            kept.append(p)
    if not kept:
        raise ValueError(f"task {task.name}: no held-out pair whose two prompts can be scored")
    batch = encode_examples([e for p in kept for e in p.examples()], tokenizer, block_size)
    labels = (_label([p.a.correct for p in kept]), _label([p.b.correct for p in kept]))
    return ClassPairs(batch, labels)


@torch.no_grad()
def class_activations(
    model, pairs: ClassPairs, nodes: list[str], interventions=(), means=None, batch_size: int = 64
) -> Iterator:
    """Yields (prompts done, total) after each batch, then {node: ClassActivations}. One pass
    serves every node asked for."""
    parsed = [model.topology.check_node(n) for n in nodes]
    sites = sorted({n.site for n in parsed})
    batch = pairs.batch.to(next(model.parameters()).device)
    n = len(batch)
    values = {site: np.zeros((n, model.topology.width(site)), dtype=np.float32) for site in sites}
    rows, last = slice(0, 0), batch.last_pos

    def capture(x, name):
        at = last[rows]
        values[name][rows] = x[torch.arange(len(at), device=x.device), at].float().cpu().numpy()

    for start in range(0, n, batch_size):
        rows = slice(start, min(start + batch_size, n))
        with applied(model, interventions, means), model.hooks([(s, capture) for s in sites]):
            model(batch.input_ids[rows], last=last[rows])
        yield rows.stop, n
    yield {str(node): _of(node, values[node.site], pairs.labels) for node in parsed}


def _of(node: Node, site_values: np.ndarray, labels) -> ClassActivations:
    column = site_values[:, node.index]
    return ClassActivations(str(node), labels, column[0::2].copy(), column[1::2].copy())
