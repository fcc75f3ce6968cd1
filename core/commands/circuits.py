"""`sparse-circuits tasks | prune | eval | check | import-viz`: circuits from the command line."""

from __future__ import annotations

import json
import math
import sys
from contextlib import closing

from ..checks import CheckProgress, CheckResults, evaluate_circuit
from ..circuit import Circuit
from ..fileio import check_writable
from ..openai_viz import circuit_from_viz
from ..pipelines.events import CircuitReady, PruneEvent
from ..pipelines.pruning import iter_circuit_checks, prune_and_check
from ..provenance import check_circuit_fits
from ..prune import PruneConfig
from ..taskeval import evaluate
from ..tasks import BUILTIN_TASKS, get_task
from ..verdicts import CHECKS, format_table
from ..workbench import Workbench
from .progress import progress_bar, run_with_progress


def cmd_tasks(args) -> int:
    rows = []
    for task in BUILTIN_TASKS.values():
        example = task.examples(1)[0]
        rows.append(
            {
                "name": task.name,
                "description": task.description,
                "example": {
                    "prompt": example.prompt,
                    "correct": example.correct,
                    "incorrect": example.incorrect,
                },
            }
        )
    if args.json:
        print(json.dumps(rows, indent=1))
    else:
        for r in rows:
            prompt = r["example"]["prompt"].replace("\n", "\\n")
            print(
                f"{r['name']:<28} {r['description']}\n{'':<28} {prompt!s} -> "
                f"{r['example']['correct']!r} not {r['example']['incorrect']!r}"
            )
    return 0


CHECK_LABELS = {c.key: c.label for c in CHECKS}


class ChecksProgress:
    """A second bar for the checks, in thousandths of the whole (the re-init control, which
    prunes a twin model, is most of it)."""

    def __init__(self, enabled: bool):
        self.enabled, self.bar = enabled, None

    def show(self, event: CheckProgress) -> None:
        if self.bar is None:
            self.bar = progress_bar(1000, "checks", self.enabled, unit="‰")
        done = int(1000 * event.overall)
        self.bar.update(done - self.bar.n)
        self.bar.set_postfix(check=CHECK_LABELS.get(event.check, event.check))

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def loss_vs_k_text(circuit: Circuit, width: int = 40) -> str:
    """The circuit's loss-versus-k curve as a table with a bar per k, the target marked `|`
    and the circuit's own k marked `*`; empty for a circuit without one."""
    curve = [(k, loss) for k, loss in circuit.loss_vs_k or [] if math.isfinite(loss)]
    if not curve:
        return ""
    top = max(max(loss for _, loss in curve), circuit.target_loss)
    target = min(width - 1, round(width * circuit.target_loss / top))
    lines = [f"task loss vs k, as the search found it (* the circuit; | the target {circuit.target_loss})"]
    lines.append(f"  {'k':>7}  {'loss':>6}")
    for k, loss in curve:
        filled = round(width * max(loss, 0.0) / top)
        bar = "█" * filled + " " * (width - filled)
        bar = bar[:target] + "|" + bar[target + 1 :]
        mark = "*" if k == circuit.n_nodes else " "
        lines.append(f"{mark} {k:>7,}  {loss:6.3f}  {bar.rstrip()}")
    return "\n".join(lines)


def prune_with_progress(events, desc: str, total: int, progress: bool = True) -> Circuit:
    """Drive a prune-and-check pipeline under progress bars; returns its circuit."""
    bar = progress_bar(total, desc, progress)
    checks = ChecksProgress(progress)
    circuit = None
    with closing(events):
        for event in events:
            if isinstance(event, CheckProgress):
                checks.show(event)
            elif isinstance(event, PruneEvent):
                if event.phase == "optimize":
                    bar.update(event.step - bar.n)
                    bar.set_postfix(loss=f"{event.task_loss:.3f}", kept=event.kept)
                elif event.phase == "bisect":
                    bar.set_postfix(phase="bisect", k=event.kept, loss=f"{event.task_loss:.3f}")
                elif event.phase == "fixed_k":
                    bar.set_postfix(
                        phase="fixed k", k=event.kept, step=event.step, loss=f"{event.task_loss:.3f}"
                    )
                else:
                    bar.close()  # pruned; the checks, if asked for, follow the bar
            elif isinstance(event, CircuitReady):
                circuit = event.circuit
    bar.close()
    checks.close()
    return circuit


def cmd_prune(args) -> int:
    check_writable(args.out, "circuit")  # before minutes of pruning, not after
    bench = open_bench(args)
    task = get_task(args.task)
    config = PruneConfig(
        target_loss=args.target_loss,
        ablation=args.ablation,
        seed=args.seed,
        calibrate=args.calibrate,
        steps=args.steps or PruneConfig.steps,
        fixed_k_steps=PruneConfig.fixed_k_steps if args.fixed_k_steps is None else args.fixed_k_steps,
    )
    circuit = prune_with_progress(
        prune_and_check(bench, task, config, args.examples, args.checks),
        f"pruning {task.name}",
        config.steps,
        progress=not args.quiet,
    )
    circuit.save(args.out)
    if curve := loss_vs_k_text(circuit):
        print(curve)
    cal = f", calibration {circuit.calibration}" if circuit.calibration else ""
    reached = "" if circuit.loss_circuit <= circuit.target_loss else " (target NOT reached)"
    print(
        f"{task.name}: {circuit.size_text()}; task loss "
        f"{circuit.loss_circuit:.3f} (full model {circuit.loss_full:.3f}, target "
        f"{circuit.target_loss}){reached}{cal} -> {args.out}",
        file=sys.stderr,
    )
    return 0


def cmd_eval(args) -> int:
    bench = open_bench(args)
    task = get_task(args.task)
    batch = bench.batch(task, args.examples, args.split)
    if args.circuit:
        circuit = Circuit.load(args.circuit)
        check_circuit_fits(circuit, bench.model, bench.fingerprint, bench.ref, args.circuit)
        result = evaluate_circuit(
            bench.model, batch, circuit.nodes, bench.means, circuit.ablation, circuit.calibration
        )
    else:
        result = evaluate(bench.model, batch)
    out = {
        "task_loss": result["task_loss"],
        "accuracy": result["accuracy"],
        "logit_diff": result["logit_diff"],
        "n_examples": result["n_examples"],
    }
    if args.circuit:
        out["circuit"] = circuit_size(circuit)
    print(
        json.dumps(out)
        if args.json
        else f"{task.name}: task loss {out['task_loss']:.4f}, accuracy {out['accuracy']:.3f} "
        f"on {out['n_examples']} {args.split} examples"
        + (f"; circuit of {circuit.size_text()}" if args.circuit else "")
    )
    return 0


def circuit_size(circuit: Circuit) -> dict:
    """A circuit's size as the paper counts it, for JSON output."""
    return {
        "n_nodes": circuit.n_nodes,
        "nodes_per_location": circuit.nodes_per_location,
        "n_edges": circuit.n_edges,
        "n_residual_edges": circuit.n_residual_edges,
    }


def open_bench(args) -> Workbench:
    """The model of a command, with a progress bar while a big OpenAI model's weights are read."""
    loading = Workbench.iter_open(args.checkpoint, args.device or "cpu", args.tokenizer)
    return run_with_progress(loading, "reading the weights", not getattr(args, "quiet", False))


def cmd_check(args) -> int:
    bench = open_bench(args)
    circuit = Circuit.load(args.circuit)
    task = get_task(args.task or circuit.task)
    config = PruneConfig(
        target_loss=circuit.target_loss,
        ablation=circuit.ablation,
        seed=circuit.seed,
        calibrate=circuit.calibration is not None,
    )
    check_circuit_fits(circuit, bench.model, bench.fingerprint, bench.ref, args.circuit)
    bar = ChecksProgress(not args.quiet)
    results = CheckResults()
    with closing(iter_circuit_checks(bench, circuit, task, config, args.examples)) as events:
        for event in events:
            bar.show(results.add(event))
    bar.close()
    results = results.ordered()
    if args.json:
        print(json.dumps(results))
    else:
        print(f"{circuit.task}: {circuit.size_text()}", file=sys.stderr)
        if curve := loss_vs_k_text(circuit):
            print(curve, file=sys.stderr)
        print(format_table(results, circuit.target_loss, circuit.loss_full))
    return 0


def cmd_import_viz(args) -> int:
    """One of OpenAI's published circuits as our circuit file, for eval, check and the app."""
    circuit = circuit_from_viz(args.viz, args.model, args.tokenizer)
    circuit.save(args.out)
    print(
        f"{circuit.task}: {circuit.size_text()}; task loss {circuit.loss_circuit:.3f} (full model "
        f"{circuit.loss_full:.3f}; OpenAI's stored losses halved) -> {args.out}",
        file=sys.stderr,
    )
    return 0
