"""What each faithfulness check measures, which way is better, and a verdict on a circuit's
numbers: passes, fails or inconclusive, with the reason in words. The CLI, the app and the
default model's report all read the checks through this.

Every loss is the two-token cross-entropy; chance (both candidates equally likely) is ln 2.

Zero ablation is reported but never decides the overall verdict: circuits are found and judged
under mean ablation, as in the paper, and a mean-ablation circuit that needs the rest of the
model's average activity (which zeroing removes, putting every later layer off its training
distribution) has not failed at anything it claims. Its verdict is then a "note".
"""

from __future__ import annotations

import math
from dataclasses import dataclass

CHANCE = math.log(2)


@dataclass(frozen=True)
class CheckInfo:
    key: str  # the field in a circuit's `checks`
    label: str  # a short column name
    measures: str  # one sentence
    better: str  # "lower" or "higher"


CHECKS = (
    CheckInfo(
        "sufficiency_loss",
        "circuit alone",
        "task loss with only the circuit kept, every other node mean-ablated",
        "lower",
    ),
    CheckInfo(
        "necessity_loss",
        "without circuit",
        "task loss with only the circuit's nodes ablated (chance is 0.693)",
        "higher",
    ),
    CheckInfo(
        "random_circuit_loss_mean",
        "random sets",
        "task loss of random node sets of the same size per location (mean of 20)",
        "higher",
    ),
    CheckInfo(
        "zero_ablation_loss",
        "zero ablation",
        "the circuit alone with the rest zeroed instead of mean-ablated (reported, never decisive)",
        "lower",
    ),
    CheckInfo("heldout_loss", "held-out", "the circuit alone on examples the pruner never saw", "lower"),
    CheckInfo(
        "reinit_control_loss",
        "re-init control",
        "the same pruner on a twin with random weights between node sites (same sparsity "
        "pattern; embeddings, unembedding and bigram table kept), at the circuit's size",
        "higher",
    ),
)


@dataclass(frozen=True)
class Verdict:
    status: str  # "passes", "fails", "inconclusive", or "note" (reported, never decisive)
    reason: str


def _gap_fraction(value: float, full: float) -> float | None:
    """How much of the model's advantage over chance `value` gives back (0: none, 1: all)."""
    gap = CHANCE - full
    return None if gap <= 0.01 else (value - full) / gap


def judge(checks: dict, target_loss: float, loss_full: float) -> dict[str, Verdict]:
    """A verdict for each check present in `checks`."""
    out: dict[str, Verdict] = {}
    suff = checks.get("sufficiency_loss")
    std = checks.get("random_circuit_loss_std", 0.0) or 0.0
    if suff is not None:
        if suff > target_loss:
            out["sufficiency_loss"] = Verdict("fails", f"{suff:.3f} is above the target {target_loss}")
        elif loss_full > target_loss:
            out["sufficiency_loss"] = Verdict(
                "inconclusive",
                f"meets the target, but the full model does not ({loss_full:.3f}): "
                "the circuit does better by ablating what misleads the model",
            )
        else:
            out["sufficiency_loss"] = Verdict("passes", f"{suff:.3f} meets the target {target_loss}")
    if (nec := checks.get("necessity_loss")) is not None:
        frac = _gap_fraction(nec, loss_full)
        if frac is None:
            out["necessity_loss"] = Verdict("inconclusive", "the full model is at chance on this task")
        elif frac >= 1:
            out["necessity_loss"] = Verdict(
                "passes", f"without it the model is at or below chance ({nec:.3f})"
            )
        elif frac >= 0.5:
            out["necessity_loss"] = Verdict(
                "passes", f"without it the model loses {frac:.0%} of its edge over chance"
            )
        elif frac < 0.1:
            out["necessity_loss"] = Verdict(
                "fails",
                f"the model does about as well without it ({nec:.3f} vs {loss_full:.3f} "
                "in full): the task is done elsewhere too",
            )
        else:
            out["necessity_loss"] = Verdict(
                "inconclusive", f"without it the model loses only {frac:.0%} of its edge over chance"
            )
    if (rnd := checks.get("random_circuit_loss_mean")) is not None and suff is not None:
        margin = max(2 * std, 0.05)
        if rnd - suff >= margin:
            out["random_circuit_loss_mean"] = Verdict(
                "passes", f"random sets do worse ({rnd:.3f} ± {std:.3f} vs {suff:.3f})"
            )
        else:
            out["random_circuit_loss_mean"] = Verdict(
                "fails",
                f"random sets of the same size do as well ({rnd:.3f} ± {std:.3f}): the "
                "task is decided by what no mask covers",
            )
    if (zero := checks.get("zero_ablation_loss")) is not None:
        out["zero_ablation_loss"] = (
            Verdict("passes", f"{zero:.3f} also meets the target")
            if zero <= target_loss
            else Verdict(
                "note",
                f"{zero:.3f}: the circuit relies on the ablated nodes' means (expected of a "
                "mean-ablation circuit; not counted in the overall verdict)",
            )
        )
    if (held := checks.get("heldout_loss")) is not None:
        if held <= target_loss + 0.05:
            out["heldout_loss"] = Verdict("passes", f"{held:.3f} on unseen examples")
        elif held <= 2 * target_loss:
            out["heldout_loss"] = Verdict("inconclusive", f"{held:.3f}: somewhat worse on unseen examples")
        else:
            out["heldout_loss"] = Verdict("fails", f"{held:.3f}: the circuit does not generalise")
    if (reinit := checks.get("reinit_control_loss")) is not None and suff is not None:
        if reinit - suff >= max(0.1, 2 * std):
            out["reinit_control_loss"] = Verdict(
                "passes", f"random weights give no such circuit ({reinit:.3f})"
            )
        elif reinit <= suff + 0.02:
            out["reinit_control_loss"] = Verdict(
                "fails", f"the pruner finds as good a circuit in random weights ({reinit:.3f})"
            )
        else:
            out["reinit_control_loss"] = Verdict(
                "inconclusive", f"random weights give a circuit only a little worse ({reinit:.3f})"
            )
    return out


def overall(verdicts: dict[str, Verdict]) -> Verdict:
    """Fails if any check fails, inconclusive if any is, else passes; the reason names them.
    A "note" (zero ablation) never changes it."""
    labels = {c.key: c.label for c in CHECKS}
    for status in ("fails", "inconclusive"):
        which = [labels.get(k, k) for k, v in verdicts.items() if v.status == status]
        if which:
            return Verdict(status, f"{status} ({', '.join(which)})")
    if not any(v.status == "passes" for v in verdicts.values()):
        return Verdict("inconclusive", "no checks recorded")
    return Verdict("passes", "every check passes")


def format_table(checks: dict, target_loss: float, loss_full: float) -> str:
    """The checks as a readable table: value, which way is better, verdict and reason."""
    verdicts = judge(checks, target_loss, loss_full)
    rows = [
        f"{'check':<16} {'value':>7}  {'better':<7} {'verdict':<13} why",
        f"{'full model':<16} {loss_full:>7.3f}  {'':<7} {'':<13} target {target_loss}",
    ]
    for c in CHECKS:
        if c.key not in checks:
            continue
        v = verdicts.get(c.key)
        rows.append(
            f"{c.label:<16} {checks[c.key]:>7.3f}  {c.better:<7} "
            f"{(v.status if v else ''):<13} {v.reason if v else ''}"
        )
    rows.append(f"overall: {overall(verdicts).reason}")
    return "\n".join(rows)
