"""The ablation effect of each node, or each edge, on the model's answer to one prompt: it alone
mean-ablated, on top of the interventions already active, measured as it goes."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import numpy as np

from ..interventions import Intervention
from ..outputs import Prediction, predict
from .events import EffectsBatch


def effect_metric(prediction: Prediction) -> tuple[str, Callable[[Prediction], float]]:
    """What an ablation effect measures: the task's logit difference when the prompt has its
    two candidates, else the log-probability of the token the model predicts now."""
    if prediction.logit_diff is not None:
        return "logit difference", lambda p: p.logit_diff
    token, text, _ = prediction.top[0]
    return f"log p({text!r})", lambda p: float(np.log(p.probs[token]))


def ablation_effects(
    model,
    tokenizer,
    ids,
    interventions,
    means,
    candidates,
    position,
    targets,
    batch_s: float = 0.05,
    source=None,
) -> Iterator[EffectsBatch]:
    """Each target's effect on the metric when it alone is mean-ablated on top of the active
    interventions: the metric then minus the metric now. A target is a node, or an edge
    ('src->dst': its weight, or its residual channel). Yields EffectsBatch about every `batch_s`
    seconds, so that a display fills in as it goes. `source`: the paired prompt's tokens, for
    interventions that patch from it."""
    interventions = list(interventions)
    now = predict(model, tokenizer, ids, interventions, means, candidates, position, source=source)
    _, metric = effect_metric(now)
    start, batch = metric(now), {}
    last = time.monotonic()
    for i, target in enumerate(targets):
        kind = "edge" if "->" in target else "node"
        ablated = [iv for iv in interventions if iv.target != target] + [Intervention(kind, target)]
        after = predict(model, tokenizer, ids, ablated, means, candidates, position, source=source)
        batch[target] = metric(after) - start
        if time.monotonic() - last >= batch_s or i == len(targets) - 1:
            yield EffectsBatch(batch)
            batch, last = {}, time.monotonic()
