"""Rebuild the default model the app ships: train the `small` preset on the embedded corpus,
prune it on every built-in task, run the checks, and write everything with a report.

    python -m core.build_default [--run runs/default-model] [--out resources/default_model]
    python -m core.build_default --model resources/default_model   # re-prune, no training

Training resumes if the run folder holds an unfinished run; a finished run is reused. With
`--model`, an already trained model folder (the shipped one, say) is pruned again as it is: the
circuits and the report are rebuilt for the current tasks and pruner, the weights unchanged.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import multiprocessing
import os
import platform
import shutil
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import torch

from .circuit import Circuit
from .fileio import atomic_write_text, replace_dir
from .means import MEANS_FILE, compute_means
from .pipelines.events import CircuitReady, PruneEvent, TrainEvent, TrainingStarted
from .pipelines.pruning import prune_and_check
from .pipelines.training import TrainingSpec, run_state, training
from .prune import PruneConfig
from .taskeval import evaluate
from .tasks import BUILTIN_TASKS
from .train import CHECKPOINT_DIR, METRICS_FILE, read_metrics
from .verdicts import judge, overall
from .workbench import Workbench

SHIPPED_FILES = ("model.safetensors", "config.json", "tokenizer.json")
LEARNED_LOSS = 0.1  # a task is learned when the full model's held-out loss is at most this
# Twice the preset's steps: after 4,000 the model had not learned for/while, range/enumerate,
# append/add or paren_counting; about an hour on 2 CPU cores.
DEFAULT_STEPS = 8000


def train_small(
    run_dir: Path, seed: int, steps: int = DEFAULT_STEPS, l0_target: float | None = None
) -> float:
    """Train (or finish training) the small preset; returns seconds spent now. `l0_target`
    (fraction of each matrix nonzero) overrides the preset's for a new run."""
    state = run_state(run_dir)
    if state is not None and state["step"] >= state["train_config"]["steps"]:
        return 0.0
    start = None
    settings = None if l0_target is None else {"l0_target": l0_target}
    spec = TrainingSpec(run_dir, "small", steps=steps, seed=seed, resume=state is not None, settings=settings)
    for event in training(spec):
        if isinstance(event, TrainingStarted):
            start = time.perf_counter()
        elif isinstance(event, TrainEvent) and event.kind == "checkpoint":
            print(
                f"step {event.step}/{event.total_steps} loss {event.loss:.3f} "
                f"val {event.val_loss:.3f} ({event.elapsed_s:.0f} s)",
                file=sys.stderr,
            )
    return time.perf_counter() - start


def prune_task(bench: Workbench, task, config: PruneConfig) -> Circuit:
    """The task's circuit with its checks; `prune_seconds` counts the pruning alone."""
    t0 = time.perf_counter()
    for event in prune_and_check(bench, task, config, 256, checks=True):
        if isinstance(event, PruneEvent) and event.circuit is not None:
            prune_s = round(time.perf_counter() - t0, 1)
        elif isinstance(event, CircuitReady):
            circuit = event.circuit
    circuit.extra["prune_seconds"] = prune_s
    circuit.model = "default"
    return circuit


def prune_tasks(
    bench: Workbench,
    names: list[str],
    done_dir: Path,
    config: PruneConfig,
    jobs: int,
    seeds: tuple[int, ...] | None = None,
    task_seeds: dict[str, tuple[int, ...]] | None = None,
) -> dict[str, Circuit]:
    """Every task's circuit, pruned `jobs` at a time (in processes of their own, each opening
    the bench's model folder again), once per seed in `seeds` (default: the config's). The seed
    draws the pruning batch and the masks' noise, and on a model near a task's edge one seed can
    find a circuit half the size of another's; the best of the tries is kept (`best_circuit`).
    `task_seeds` gives some tasks seeds of their own instead.
    A try an interrupted build of this same model already made (in `done_dir`) is kept; anything
    else is pruned anew."""
    seeds_of = {name: tuple((task_seeds or {}).get(name) or seeds or (config.seed,)) for name in names}
    done_dir.mkdir(parents=True, exist_ok=True)
    todo = []
    for name in names:
        for seed in seeds_of[name]:
            done = _try_path(done_dir, name, seed)
            circuit = Circuit.load(done) if done.is_file() else None
            if circuit is None or circuit.extra.get("model_fingerprint") != bench.fingerprint:
                todo.append((name, seed))
    if jobs <= 1:
        for name, seed in todo:
            circuit = prune_task(bench, BUILTIN_TASKS[name], dataclasses.replace(config, seed=seed))
            _report(circuit, _try_path(done_dir, name, seed))
    elif todo:
        threads = max(1, (os.cpu_count() or 1) // jobs)
        context = multiprocessing.get_context("spawn")  # no forked torch thread pools
        with ProcessPoolExecutor(
            jobs, mp_context=context, initializer=torch.set_num_threads, initargs=(threads,)
        ) as pool:
            for future in [
                pool.submit(
                    _prune_into,
                    bench.checkpoint.path,
                    name,
                    dataclasses.replace(config, seed=seed),
                    _try_path(done_dir, name, seed),
                )
                for name, seed in todo
            ]:
                future.result()
    tries = {name: [Circuit.load(_try_path(done_dir, name, s)) for s in seeds_of[name]] for name in names}
    return {name: best_circuit(circuits) for name, circuits in tries.items()}


def best_circuit(tries: list[Circuit]) -> Circuit:
    """Of one task's circuits from several seeds: passing checks first, then held-out loss
    within the target (a circuit that misses it on unseen examples fits its pruning batch, not
    the task), then fewest weight edges, then fewest nodes, then the lowest held-out loss. The
    winner records every try."""
    rank = {"passes": 0, "inconclusive": 1, "fails": 2}

    def key(c: Circuit):
        heldout = c.checks.get("heldout_loss", math.inf)
        return (rank.get(_status(c), 1), heldout > c.target_loss, c.n_edges, c.n_nodes, heldout)

    best = min(tries, key=key)
    if len(tries) > 1:
        best.extra["seeds_tried"] = [
            {
                "seed": c.seed,
                "n_edges": c.n_edges,
                "n_nodes": c.n_nodes,
                "verdict": _status(c),
            }
            for c in tries
        ]
    return best


def _try_path(done_dir: Path, name: str, seed: int) -> Path:
    return done_dir / f"{name}.seed{seed}.json"


def _prune_into(model_dir: Path, name: str, config: PruneConfig, path: Path) -> None:
    _report(prune_task(Workbench(model_dir), BUILTIN_TASKS[name], config), path)


def _report(circuit: Circuit, path: Path) -> None:
    circuit.save(path)
    print(
        f"pruned {circuit.task} (seed {circuit.seed}) in {circuit.extra['prune_seconds']} s: "
        f"{circuit.n_nodes} nodes, {circuit.n_edges} edges",
        file=sys.stderr,
    )


def _fraction(text: str) -> float:
    value = float(text)
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"must be in (0, 1], got {text}")
    return value


def _seed_list(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(s) for s in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be comma-separated integers, got {text!r}") from None


def _task_seed_list(text: str) -> tuple[str, tuple[int, ...]]:
    name, sep, seeds = text.partition("=")
    if not sep or name not in BUILTIN_TASKS:
        raise argparse.ArgumentTypeError(f"must be TASK=SEEDS with a built-in task, got {text!r}")
    return name, _seed_list(seeds)


def _status(circuit: Circuit) -> str:
    return overall(judge(circuit.checks, circuit.target_loss, circuit.loss_full)).status


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m core.build_default")
    parser.add_argument("--run", default="runs/default-model", type=Path)
    parser.add_argument(
        "--out", default=str(Path(__file__).resolve().parents[1] / "resources" / "default_model"), type=Path
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--jobs",
        type=int,
        default=1,
        help="tasks pruned at once, each in its own process (threads shared out)",
    )
    parser.add_argument("--steps", type=int, default=DEFAULT_STEPS, help="training steps of a new run")
    parser.add_argument(
        "--l0-target",
        type=_fraction,
        help="fraction of each weight matrix kept nonzero (default: the preset's)",
    )
    parser.add_argument(
        "--prune-seeds",
        type=_seed_list,
        default=None,
        help="comma-separated pruning seeds tried per task, keeping the best circuit (default: --seed)",
    )
    parser.add_argument(
        "--task-seeds",
        type=_task_seed_list,
        action="append",
        default=[],
        metavar="TASK=SEEDS",
        help="seeds of one task's own instead of --prune-seeds (repeatable)",
    )
    parser.add_argument("--tasks", default=",".join(BUILTIN_TASKS))
    parser.add_argument(
        "--model",
        type=Path,
        help="re-prune this trained model folder instead of training (keeps its report's training figures)",
    )
    args = parser.parse_args(argv)

    if args.model is not None:
        source, train_s, training_figures = args.model, 0.0, reused_training_figures(args.model)
        missing = [name for name in SHIPPED_FILES if not (args.model / name).is_file()]
        if missing or training_figures is None:
            parser.error(
                f"--model {args.model}: not a trained model folder"
                + (f" (no {', '.join(missing)})" if missing else "")
                + f": give a built default model (with report.json) or a run's {CHECKPOINT_DIR}/"
                f" (with {METRICS_FILE} beside it)"
            )
    else:
        source, train_s = (
            args.run / CHECKPOINT_DIR,
            train_small(args.run, args.seed, args.steps, args.l0_target),
        )
        training_figures = training_figures_of(args.run)
    staging = args.out.with_name(args.out.name + ".staging")
    shutil.rmtree(staging, ignore_errors=True)
    (staging / "circuits").mkdir(parents=True)
    for name in SHIPPED_FILES:
        shutil.copy2(source / name, staging / name)
    bench = Workbench(staging)
    torch.manual_seed(args.seed)
    means = compute_means(bench.model, bench.stream())
    from safetensors.torch import save_file

    save_file({k: v.contiguous() for k, v in means.items()}, str(staging / MEANS_FILE))
    bench.__dict__["means"] = means

    names = args.tasks.split(",")
    seeds = args.prune_seeds or (args.seed,)
    task_seeds = {name: task for name, task in args.task_seeds if name in names}
    config = PruneConfig(seed=args.seed)
    circuits = prune_tasks(bench, names, args.run / "circuits", config, args.jobs, seeds, task_seeds)
    results = []
    for name in names:
        circuit, task = circuits[name], BUILTIN_TASKS[name]
        prune_s = circuit.extra["prune_seconds"]
        circuit.save(staging / "circuits" / f"{name}.json")
        row = {
            "task": name,
            "target_loss": circuit.target_loss,
            "n_nodes": circuit.n_nodes,
            "nodes_per_location": circuit.nodes_per_location,
            "n_edges": circuit.n_edges,
            "n_residual_edges": circuit.n_residual_edges,
            "loss_full": circuit.loss_full,
            "loss_full_heldout": evaluate(bench.model, bench.batch(task, 256, "heldout", args.seed))[
                "task_loss"
            ],
            "loss_circuit": circuit.loss_circuit,
            "prune_seconds": prune_s,
            "prune_seed": circuit.seed,
            **circuit.checks,
        }
        row["verdict"] = overall(judge(circuit.checks, circuit.target_loss, circuit.loss_full)).reason
        results.append(row)
        print(json.dumps(row), file=sys.stderr)

    report = {
        "seed": args.seed,
        "prune_seeds": list(seeds),
        "task_seeds": {name: list(task) for name, task in task_seeds.items()},
        "l0_frac": bench.checkpoint.meta.get("sparsity", {}).get("l0_frac"),
        "train_seconds_this_build": round(train_s, 1),
        **training_figures,
        "machine": f"{platform.machine()}, {torch.get_num_threads()} threads, torch {torch.__version__}",
        "tasks": results,
    }
    atomic_write_text(staging / "report.json", json.dumps(report, indent=1))
    atomic_write_text(staging / "REPORT.md", format_report(report))
    replace_dir(staging, args.out)
    print(f"default model written to {args.out}", file=sys.stderr)
    return 0


def training_figures_of(run_dir: Path) -> dict:
    metrics = read_metrics(run_dir)
    return {
        "train_steps": metrics[-1]["step"],
        "final_loss": metrics[-1]["loss"],
        "final_val_loss": next((m["val_loss"] for m in reversed(metrics) if "val_loss" in m), None),
    }


def reused_training_figures(model_dir: Path) -> dict | None:
    """The training figures of a model built before, from its own report (same weights), or of
    a training run's checkpoint, from the run's metrics beside it; None when it is neither."""
    if (model_dir / "report.json").is_file():
        old = json.loads((model_dir / "report.json").read_text())
        return {key: old[key] for key in ("train_steps", "final_loss", "final_val_loss")}
    if (model_dir.parent / METRICS_FILE).is_file():
        return training_figures_of(model_dir.parent)
    return None


def format_report(report: dict) -> str:
    seeds = report.get("prune_seeds", [report["seed"]])
    task_seeds = report.get("task_seeds", {})
    # then a column says which seed's circuit was kept
    several = len(seeds) > 1 or any(len(s) > 1 for s in task_seeds.values())
    own = "".join(f"; {name}: {', '.join(map(str, s))}" for name, s in task_seeds.items())
    l0 = report.get("l0_frac")
    lines = [
        "# The default model",
        "",
        "The `small` preset trained on the embedded corpus, pruned on every built-in task with "
        "mean ablation to a two-token task loss of 0.15. Rebuild with `make default-model`.",
        "",
        f"- seed {report['seed']}; {report['train_steps']} steps"
        + (f" with {100 * l0:.2f}% of each weight matrix nonzero" if l0 else "")
        + f"; final training loss {report['final_loss']:.3f}, validation loss {report['final_val_loss']:.3f}",
        f"- built on {report['machine']}",
        *(
            [
                f"- pruned with seeds {', '.join(map(str, seeds))} per task{own}, keeping the best "
                "circuit (checks passing, then held-out loss within the target, then fewest edges); "
                "`seed` is the one kept"
            ]
            if several
            else []
        ),
        "",
        "Losses are two-token cross-entropies (chance is 0.693). `sufficiency`: the circuit alone; "
        "`necessity`: the model without the circuit; `random`: random node sets of the same size "
        "per location (mean ± std of 20); `zero`: the circuit with zero instead of mean ablation "
        "(reported, never deciding the checks: the circuits are found and judged under mean "
        "ablation, as in the paper); "
        "`held-out`: the circuit on unseen examples; `re-init`: the same pruner on a twin whose "
        "weights between node sites are re-initialised on the same sparsity pattern (what no "
        "mask covers kept), at the circuit's size. `edges` are "
        "the nonzero weights between the circuit's nodes, as the paper counts them; `residual "
        "links` are a kept write read by a kept later read on the same residual channel.",
        "",
        "| task | nodes | edges | residual links | full | full held-out | circuit | held-out | "
        "necessity | random | zero | re-init | checks | prune s |" + (" seed |" if several else ""),
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: |"
        + (" ---: |" if several else ""),
    ]
    for r in report["tasks"]:
        lines.append(
            f"| {r['task']} | {r['n_nodes']} | {r['n_edges']} | {r['n_residual_edges']} | "
            f"{r['loss_full']:.3f} | {r['loss_full_heldout']:.3f} | "
            f"{r['loss_circuit']:.3f} | {r['heldout_loss']:.3f} | {r['necessity_loss']:.3f} | "
            f"{r['random_circuit_loss_mean']:.3f} ± {r['random_circuit_loss_std']:.3f} | "
            f"{r['zero_ablation_loss']:.3f} | {r['reinit_control_loss']:.3f} | {r['verdict']} | "
            f"{r['prune_seconds']} |" + (f" {r['prune_seed']} |" if several else "")
        )
    learned = [r for r in report["tasks"] if r["loss_full_heldout"] <= LEARNED_LOSS]
    by_verdict = {
        status: [r["task"] for r in learned if r["verdict"].startswith(status)]
        for status in ("every check passes", "inconclusive", "fails")
    }
    lines += [
        "",
        f"Learned (a held-out full-model loss of at most {LEARNED_LOSS}): {len(learned)} of "
        f"{len(report['tasks'])} tasks. Of those, every check passes on "
        f"{len(by_verdict['every check passes'])}, {len(by_verdict['inconclusive'])} have an "
        f"inconclusive check and none failing, and a check fails on {len(by_verdict['fails'])}"
        + (f" ({', '.join(by_verdict['fails'])})" if by_verdict["fails"] else "")
        + ".",
    ]
    cautions = [f"- `{r['task']}`: {caution}" for r in report["tasks"] if (caution := caution_for(r))]
    if cautions:
        lines += ["", "Read these with care:", *cautions]
    return "\n".join(lines) + "\n"


def caution_for(row: dict) -> str | None:
    """Why a circuit's numbers may not mean what they seem, or None."""
    if row["loss_circuit"] > row["target_loss"]:
        return (
            f"no circuit reaches the target: the full model does not learn the task (loss "
            f"{row['loss_full']:.3f}), so the pruner keeps everything"
        )
    if row["loss_full"] > row["target_loss"]:
        return (
            f"the full model does not learn the task (loss {row['loss_full']:.3f}, above the "
            f"target {row['target_loss']}); the circuit reaches the target by mean-ablating "
            f"what misleads the model, so it is not how the model does the task"
        )
    random_mean, random_std = row["random_circuit_loss_mean"], row["random_circuit_loss_std"]
    if random_mean <= row["loss_circuit"] + max(2 * random_std, 0.05):
        return (
            "random node sets of the same size do as well: the last token alone decides the "
            "task through what no mask covers (its embedding's direct path to the logits "
            "and the bigram table), so the circuit shows nothing"
        )
    if row["necessity_loss"] < row["loss_full"] + 0.1:
        return (
            f"the model does nearly as well without the circuit (necessity loss "
            f"{row['necessity_loss']:.3f} against {row['loss_full']:.3f} in full): another "
            f"path does the task too, so the circuit is not how the model must do it"
        )
    if row["heldout_loss"] > row["target_loss"]:
        return f"held-out loss {row['heldout_loss']:.3f} is above the target"
    if row["reinit_control_loss"] <= row["loss_circuit"] + 0.02:
        return (
            f"the pruner finds as good a circuit in a twin with random weights (loss "
            f"{row['reinit_control_loss']:.3f}): random features over the kept embeddings "
            f"already decide the task, so the circuit need not be what training built"
        )
    return None


if __name__ == "__main__":
    sys.exit(main())
