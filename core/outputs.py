"""What the model says about a prompt, with or without interventions: the next-token top k,
the task candidates' probabilities, and every node's activation (for colouring the graph);
and how it scores a task's examples one by one."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .ablation import PatchSource
from .interventions import applied, needs_source
from .taskeval import encode_examples, per_example


@dataclass
class Prediction:
    position: int  # the token position these numbers are for
    top: list[tuple[int, str, float]]  # (token id, text, probability), best first
    probs: np.ndarray  # [vocab] next-token probabilities at `position`
    candidates: list[tuple[str, float]] | None  # [(correct, p), (incorrect, p)]
    logit_diff: float | None  # correct minus incorrect logit
    activations: dict[str, np.ndarray]  # location -> [seq, width]
    logits: np.ndarray | None = None  # [vocab] next-token logits at `position`


@torch.no_grad()
def predict(
    model,
    tokenizer,
    ids: list[int],
    interventions=(),
    means=None,
    candidates: tuple[str, str] | None = None,
    position: int = -1,
    k: int = 10,
    source: list[int] | None = None,
) -> Prediction:
    """`source`: the paired prompt's token ids, which patches take their values from."""
    if not ids:
        raise ValueError("the prompt is empty")
    ids = ids[-model.config.block_size :]
    device = next(model.parameters()).device
    locations = model.topology.sites
    with applied(model, interventions, means, source):
        logits, cache = model.run_with_cache(torch.tensor([ids], device=device), locations)
    position = position % len(ids)
    row = logits[0, position].float()
    probs = torch.softmax(row, dim=-1)
    values, indices = probs.topk(min(k, probs.numel()))
    top = [(int(i), tokenizer.token_text(int(i)), float(v)) for v, i in zip(values, indices)]
    pair, diff = None, None
    if candidates is not None:
        cid = [tokenizer.token_id(c) for c in candidates]
        if None not in cid:
            pair = [(c, float(probs[i])) for c, i in zip(candidates, cid)]
            diff = float(row[cid[0]] - row[cid[1]])
    acts = {loc: cache[loc][0].float().cpu().numpy() for loc in locations}
    return Prediction(position, top, probs.cpu().numpy(), pair, diff, acts, row.cpu().numpy())


@dataclass
class ExampleScores:
    """A task's examples scored by the model as it is and under the interventions."""

    examples: list  # of Example, the ones that could be scored
    loss: list[float]  # two-token loss per example, lower is better
    logit_diff: list[float]  # correct minus incorrect logit
    loss_now: list[float]  # the same under the interventions
    logit_diff_now: list[float]
    rejected: list  # (Example, why it cannot be scored)


def score_examples(model, tokenizer, examples, interventions=(), means=None, twins=None) -> ExampleScores:
    """Each example's loss and logit difference, with and without the interventions. Patches
    take each example's values from its twin (`twins`: example -> its paired example); an
    example without one cannot be scored under them."""
    rejected = []
    if needs_source(interventions):
        twins = twins or {}
        rejected = [(e, "no paired prompt to patch from") for e in examples if twins.get(e) is None]
        examples = [e for e in examples if twins.get(e) is not None]
    batch = encode_examples(examples, tokenizer, model.config.block_size)
    batch = batch.to(next(model.parameters()).device)
    base = per_example(model, batch)
    if interventions:
        source = None
        if needs_source(interventions):
            rows = [tokenizer.encode(twins[e].prompt) for e in batch.examples]
            source = PatchSource(rows, (batch.last_pos + 1).tolist())
        with applied(model, interventions, means, source):
            now = per_example(model, batch)
    else:
        now = base
    return ExampleScores(
        batch.examples,
        base["task_loss"],
        base["logit_diff"],
        now["task_loss"],
        now["logit_diff"],
        rejected + batch.rejected,
    )
