"""`sparse-circuits experiment sparse-vs-dense | formation`: the paper's experiments, each writing
a JSON of its figures and a PNG beside it."""

from __future__ import annotations

import json
import sys
from contextlib import closing
from pathlib import Path

from ..fileio import atomic_write_text, check_writable
from ..pipelines.events import PruneEvent, Status, TrainEvent
from ..pipelines.experiments import formation, sparse_vs_dense
from ..plots import formation_png, sparse_vs_dense_png
from ..prune import PruneConfig
from ..tasks import BUILTIN_TASKS, get_task
from .progress import progress_bar


def cmd_experiment(args) -> int:
    out = Path(args.out)
    check_writable(out, "folder")
    config = PruneConfig(target_loss=args.target_loss, seed=args.seed)
    if args.experiment == "formation":
        events = formation(args.run, get_task(args.task), out, config, args.examples)
        result = _drive(events, not args.quiet)
        lines = [
            f"step {p['step']:>6}: {p['n_nodes']} nodes, {p['n_edges']} edges, circuit loss "
            f"{p['loss_circuit']:.3f} (full {p['loss_full']:.3f})"
            for p in result["points"]
        ]
        plot = formation_png
    else:
        names = args.tasks.split(",") if args.tasks else list(BUILTIN_TASKS)
        events = sparse_vs_dense(
            args.model,
            [get_task(name) for name in names],
            out,
            config,
            args.preset,
            args.examples,
            args.max_steps,
            [Path(p) for p in args.reuse],
            args.device,
        )
        result = _drive(events, not args.quiet)
        lines = [sparse_vs_dense_text(result)]
        plot = sparse_vs_dense_png
    atomic_write_text(out / "result.json", json.dumps(result, indent=1))
    plot(result, out / "result.png")
    print("\n".join(lines))
    print(f"-> {out / 'result.json'}, {out / 'result.png'}", file=sys.stderr)
    return 0


def sparse_vs_dense_text(result: dict) -> str:
    lines = [
        f"sparse model: validation loss {result['sparse_val_loss']:.3f}, "
        f"{result['sparse_nonzero_fraction']:.4f} of its weights nonzero; dense twin: "
        f"{result['dense_val_loss']:.3f} after {result['dense_steps']} steps",
        f"{'task':<28} {'sparse edges':>12} {'dense edges':>12} {'ratio':>7}",
    ]
    for r in result["tasks"]:
        ratio = f"{r['edge_ratio']:.1f}x" if r["compared"] is None else r["compared"]
        lines.append(f"{r['task']:<28} {r['sparse']['n_edges']:>12,} {r['dense']['n_edges']:>12,} {ratio:>7}")
    if result["geomean_edge_ratio"]:
        lines.append(
            f"geometric mean over {result['n_compared']} tasks: the dense circuits have "
            f"{result['geomean_edge_ratio']:.1f}x the sparse circuits' edges"
        )
    return "\n".join(lines)


def _drive(events, progress: bool) -> dict:
    """Run an experiment's events under progress bars and status lines; its result."""
    bar = None
    with closing(events):
        while True:
            try:
                event = next(events)
            except StopIteration as done:
                if bar is not None:
                    bar.close()
                return done.value
            if isinstance(event, Status):
                if bar is not None:
                    bar.close()
                    bar = None
                if progress:
                    print(event.text, file=sys.stderr, flush=True)
            elif isinstance(event, TrainEvent) and event.kind != "done":
                if bar is None:
                    bar = progress_bar(event.total_steps, "dense twin", progress, initial=event.step - 1)
                bar.update(event.step - bar.n)
                if event.val_loss is not None:
                    bar.set_postfix(val=f"{event.val_loss:.3f}")
            elif isinstance(event, PruneEvent) and event.phase == "optimize":
                if bar is None:
                    bar = progress_bar(event.total, "pruning", progress)
                bar.update(event.step - bar.n)
