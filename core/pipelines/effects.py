"""The ablation effect of each node on the model's answer to one prompt: the node alone
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
    model, tokenizer, ids, interventions, means, candidates, position, nodes, batch_s: float = 0.05
) -> Iterator[EffectsBatch]:
    """Each node's effect on the metric when it alone is mean-ablated on top of the active
    interventions: the metric then minus the metric now. Yields EffectsBatch about every
    `batch_s` seconds, so that a display fills in as it goes."""
    interventions = list(interventions)
    now = predict(model, tokenizer, ids, interventions, means, candidates, position)
    _, metric = effect_metric(now)
    start, batch = metric(now), {}
    last = time.monotonic()
    for i, node in enumerate(nodes):
        ablated = [iv for iv in interventions if iv.target != node] + [Intervention("node", node)]
        after = predict(model, tokenizer, ids, ablated, means, candidates, position)
        batch[node] = metric(after) - start
        if time.monotonic() - last >= batch_s or i == len(nodes) - 1:
            yield EffectsBatch(batch)
            batch, last = {}, time.monotonic()
