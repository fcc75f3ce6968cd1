"""`sparse-circuits patch CKPT --task T --node N ...`: interventions applied to a task example
and to its pair, and what the model then says about each (the readout the app shows)."""

from __future__ import annotations

import json

from ..interventions import Intervention, check_intervention
from ..outputs import predict
from ..tasks import get_task

SPLIT = "heldout"  # the examples the app steps through


def example_and_twin(task, index: int, split: str = SPLIT):
    """The task's example `index` (as the app numbers them: both prompts of each pair in turn)
    and its pair's other prompt."""
    if index < 0:
        raise ValueError(f"--example must be 0 or more (got {index})")
    pairs = task.pairs(index // 2 + 1, split)
    if len(pairs) <= index // 2:
        raise ValueError(f"--example {index}: the task has {2 * len(pairs)} {split} examples")
    a, b = pairs[index // 2].examples()
    return (a, b) if index % 2 == 0 else (b, a)


def readout(bench, example, source, interventions) -> dict:
    """One prompt's logit difference and top prediction, before and with the interventions."""
    tok, model = bench.tokenizer, bench.model
    ids = tok.encode(example.prompt)
    candidates = (example.correct, example.incorrect)
    source_ids = tok.encode(source.prompt)
    before = predict(model, tok, ids, (), None, candidates)
    after = predict(model, tok, ids, interventions, bench.means, candidates, source=source_ids)
    if before.logit_diff is None:
        raise ValueError(f"the candidates {candidates!r} are not single tokens of this model")
    return {
        "prompt": example.prompt,
        "correct": example.correct,
        "incorrect": example.incorrect,
        "source": source.prompt,
        "logit_diff_before": before.logit_diff,
        "logit_diff_after": after.logit_diff,
        "top_before": before.top[0][1],
        "top_after": after.top[0][1],
    }


def cmd_patch(args) -> int:
    from .circuits import open_bench

    nodes, edges = args.node or [], args.edge or []
    if not nodes and not edges:
        raise ValueError("name at least one --node or --edge")
    interventions = [Intervention("node", n, args.mode) for n in nodes]
    interventions += [Intervention("edge", e, args.mode) for e in edges]
    task = get_task(args.task)
    example, twin = example_and_twin(task, args.example)
    bench = open_bench(args)
    for iv in interventions:
        check_intervention(bench.model, iv)  # ValueError naming the node
    rows = [readout(bench, example, twin, interventions), readout(bench, twin, example, interventions)]
    if args.json:
        out = {"task": task.name, "example": args.example, "mode": args.mode}
        out["interventions"] = [iv.to_dict() for iv in interventions]
        print(json.dumps({**out, "prompts": rows}))
        return 0
    what = ", ".join(iv.target for iv in interventions)
    how = "patched from the paired prompt" if args.mode == "patch" else f"{args.mode}-ablated"
    print(f"{task.name}, example {args.example} and its pair; {what} {how}")
    for name, r in zip(("example", "pair"), rows):
        flipped = (r["logit_diff_before"] > 0) != (r["logit_diff_after"] > 0)
        print(f"{name}: {r['prompt']!r} -> {r['correct']!r} not {r['incorrect']!r}")
        print(
            f"  logit difference {r['logit_diff_before']:+.4f} -> {r['logit_diff_after']:+.4f}"
            f" ({r['logit_diff_after'] - r['logit_diff_before']:+.4f}{', flipped' if flipped else ''})"
        )
        print(f"  top prediction {r['top_before']!r} -> {r['top_after']!r}")
    return 0
