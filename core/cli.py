"""`sparse-circuits ...`: the headless commands. Bad input exits 2 with one line, no traceback.

This module runs alone, without Qt (`python -m core.cli`). The installed `sparse-circuits`
program is `app.entry`, which adds the desktop app, `--self-test`, `--screenshot` and
`bench gui` to this parser and hands every other command here.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable

from .fileio import FileFormatError

# What `bench` measures here; app.entry adds the GUI's latencies.
BENCH_KINDS = {
    "train": "a sparse step vs the same step dense",
    "inference": "a forward pass of a paper-sized model, CSR vs dense, on CPU",
}


class UsageError(Exception):
    """Bad arguments or files: printed as one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError(f"{self.prog}: {message}")


def build_parser(bench_kinds: dict[str, str] = BENCH_KINDS) -> argparse.ArgumentParser:
    parser = _Parser(
        prog="sparse-circuits", description="Train weight-sparse transformers and study their circuits."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)

    t = sub.add_parser("train", help="train a weight-sparse model")
    t.add_argument("--preset", default="tiny", help="tiny, small or paper (default: tiny)")
    t.add_argument("--steps", type=int, help="optimizer steps (default: the preset's)")
    t.add_argument("--device", help="cpu, cuda, cuda:N or mps (default: the best available)")
    t.add_argument("--corpus", metavar="DIR", help="a folder of .py files (default: the embedded corpus)")
    t.add_argument("--seed", type=int, help="random seed (default: 0)")
    t.add_argument("--out", required=True, metavar="RUN", help="run folder (checkpoint + metrics.jsonl)")
    t.add_argument("--resume", action="store_true", help="continue the run in RUN exactly")
    t.add_argument(
        "--keep-checkpoints",
        action="store_true",
        help="keep every checkpoint's weights in RUN/snapshots/ (for `experiment formation`)",
    )
    t.add_argument("--quiet", action="store_true", help="no progress bar")

    i = sub.add_parser("info", help="describe a checkpoint (ours or an OpenAI folder)")
    i.add_argument("checkpoint", metavar="CKPT")
    i.add_argument("--json", action="store_true", help="print JSON")
    _tokenizer_option(i)

    sub.add_parser("tasks", help="list the built-in tasks").add_argument(
        "--json", action="store_true", help="print JSON"
    )

    p = sub.add_parser("prune", help="prune a model to the circuit of one task")
    p.add_argument("checkpoint", metavar="CKPT", help="a checkpoint folder, or 'default'")
    p.add_argument("--task", required=True, help="a built-in task or a .jsonl file")
    p.add_argument("--target-loss", type=float, default=0.15)
    p.add_argument("--ablation", choices=["mean", "zero"], default="mean")
    p.add_argument("--calibrate", action="store_true", help="fit a logit scale and shift")
    p.add_argument("--steps", type=int, help="mask optimisation steps")
    p.add_argument(
        "--fixed-k-steps",
        type=int,
        help="steps of each mask optimised at a fixed k in the search (0: the ranking alone)",
    )
    p.add_argument("--examples", type=int, default=256)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--checks", action="store_true", help="run the faithfulness checks too")
    p.add_argument("--device")
    p.add_argument("--quiet", action="store_true")
    p.add_argument("--out", required=True, metavar="C.json")
    _tokenizer_option(p)

    e = sub.add_parser("eval", help="task loss and accuracy, of the model or a circuit")
    e.add_argument("checkpoint", metavar="CKPT")
    e.add_argument("--task", required=True)
    e.add_argument("--circuit", metavar="C.json", help="evaluate this circuit alone")
    e.add_argument("--split", choices=["train", "heldout"], default="heldout")
    e.add_argument("--examples", type=int, default=256)
    e.add_argument("--device")
    e.add_argument("--json", action="store_true")
    _tokenizer_option(e)

    c = sub.add_parser("check", help="faithfulness checks of a circuit")
    c.add_argument("checkpoint", metavar="CKPT")
    c.add_argument("circuit", metavar="C.json")
    c.add_argument("--task", help="default: the circuit's task")
    c.add_argument("--examples", type=int, default=256)
    c.add_argument("--device")
    c.add_argument("--json", action="store_true")
    c.add_argument("--quiet", action="store_true", help="no progress")
    _tokenizer_option(c)

    v = sub.add_parser("import-viz", help="turn one of OpenAI's viz_data.pt circuits into a circuit file")
    v.add_argument("viz", metavar="VIZ", help=".../viz/<model>/<task>/<sweep>/<k>/viz_data.pt")
    v.add_argument(
        "--model", metavar="DIR", help="its OpenAI model folder (default: models/<model>/ beside viz/)"
    )
    v.add_argument("--out", required=True, metavar="C.json")
    _tokenizer_option(v)

    m = sub.add_parser("compare", help="what two circuits share and what only one keeps")
    m.add_argument("a", metavar="A.json")
    m.add_argument("b", metavar="B.json")
    m.add_argument("--json", action="store_true")

    x = sub.add_parser("experiment", help="the paper's experiments: a JSON of figures and a PNG")
    kinds = x.add_subparsers(dest="experiment", metavar="EXPERIMENT", required=True)
    sd = kinds.add_parser(
        "sparse-vs-dense",
        help="train a dense twin to the sparse model's loss, prune both on every task, compare edges",
    )
    sd.add_argument(
        "model", nargs="?", default="default", metavar="CKPT", help="the sparse model (default: default)"
    )
    sd.add_argument(
        "--preset", default="small", help="the sparse model's preset, the twin's shape (default: small)"
    )
    sd.add_argument("--tasks", help="comma-separated built-in tasks (default: all)")
    sd.add_argument("--max-steps", type=int, help="the dense twin's step budget (default: the preset's)")
    sd.add_argument(
        "--reuse",
        action="append",
        default=[],
        metavar="DIR",
        help="a folder of the sparse model's circuits to use where model and settings match",
    )
    sd.add_argument("--device")
    fo = kinds.add_parser("formation", help="prune one task at every kept checkpoint of a training run")
    fo.add_argument("run", metavar="RUN", help="a run trained with --keep-checkpoints")
    fo.add_argument("--task", required=True)
    for k in (sd, fo):
        k.add_argument("--out", required=True, metavar="DIR", help="result.json, result.png and the circuits")
        k.add_argument("--target-loss", type=float, default=0.15)
        k.add_argument("--examples", type=int, default=256)
        k.add_argument("--seed", type=int, default=0)
        k.add_argument("--quiet", action="store_true")
    q = sub.add_parser("patch", help="patch or ablate nodes on a task example and its pair; the readout")
    q.add_argument("checkpoint", metavar="CKPT", help="a checkpoint folder, or 'default'")
    q.add_argument("--task", required=True, help="a built-in task or a .jsonl file")
    q.add_argument("--example", type=int, default=0, help="which held-out example, as the app numbers them")
    q.add_argument("--node", action="append", metavar="N", help="a node, e.g. 0.mlp.post_act.12 (repeatable)")
    q.add_argument("--edge", action="append", metavar="E", help="an edge, 'src->dst' (repeatable)")
    q.add_argument(
        "--mode",
        choices=["patch", "mean", "zero"],
        default="patch",
        help="patch: from the paired prompt (default); mean or zero: ablate",
    )
    q.add_argument("--device")
    q.add_argument("--json", action="store_true")
    _tokenizer_option(q)

    b = sub.add_parser("bench", help="benchmarks, measured side by side in one run")
    b.add_argument(
        "what",
        choices=list(bench_kinds),
        help="; ".join(f"{kind}: {text}" for kind, text in bench_kinds.items()),
    )
    b.add_argument("--preset", default="small")
    b.add_argument("--steps", type=int, default=15, help="timed steps of each kind (default 15)")
    b.add_argument("--device", help="default: the best available")
    b.add_argument("--small", action="store_true", help="inference: a toy shape, not the paper's")
    b.add_argument("--json", action="store_true", help="print JSON")
    return parser


def _tokenizer_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--tokenizer",
        metavar="DIR",
        help="an OpenAI model's tokenizer folder, encoder.json + vocab.bpe (default: a "
        "tinypython/ folder beside the model's folder or above it)",
    )


def main(argv: list[str] | None = None) -> int:
    """The headless commands alone."""
    return run(build_parser(), argv)


def run(
    parser: argparse.ArgumentParser,
    argv: list[str] | None = None,
    first: Callable[[argparse.Namespace], int | None] | None = None,
) -> int:
    """Parse `argv` and run its command. `first` may take the parsed arguments over (app.entry:
    the desktop app, `bench gui`) by returning an exit status; None leaves them to the commands
    here. Bad input, from either, is one line on stderr and exit status 2."""
    from .memory import keep_freed_memory

    keep_freed_memory()
    try:
        args = parser.parse_args(argv)
        status = first(args) if first is not None else None
        if status is not None:
            return status
        if args.command is None:
            raise UsageError(f"{parser.prog}: a command is required (see {parser.prog} --help)")
        from .commands import circuits
        from .commands.compare import cmd_compare
        from .commands.experiment import cmd_experiment
        from .commands.patch import cmd_patch

        handlers = {
            "train": cmd_train,
            "info": cmd_info,
            "bench": cmd_bench,
            "tasks": circuits.cmd_tasks,
            "prune": circuits.cmd_prune,
            "eval": circuits.cmd_eval,
            "check": circuits.cmd_check,
            "import-viz": circuits.cmd_import_viz,
            "compare": cmd_compare,
            "experiment": cmd_experiment,
            "patch": cmd_patch,
        }
        return handlers[args.command](args)
    except UsageError as e:
        print(f"{e}", file=sys.stderr)
        return 2
    except (FileFormatError, FileExistsError, ValueError, KeyError) as e:
        message = e.args[0] if isinstance(e, KeyError) and e.args else e
        print(f"sparse-circuits: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("sparse-circuits: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`sparse-circuits info default | head`): stop quietly, as cat
        # does, and keep Python from reporting the pipe again when it flushes stdout at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as e:  # an output that cannot be written, a file that cannot be read
        print(f"sparse-circuits: error: {e}", file=sys.stderr)
        return 2


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("sparse-circuits")
    except PackageNotFoundError:
        return "unknown"


def cmd_train(args) -> int:
    from .commands.train import run_training

    return run_training(args)


def cmd_info(args) -> int:
    from .commands.info import checkpoint_info, format_info

    info = checkpoint_info(args.checkpoint, args.tokenizer)
    print(json.dumps(info, indent=1) if args.json else format_info(info))
    return 0


def cmd_bench(args) -> int:
    from .commands.bench import bench_inference, bench_train

    if args.what == "inference":
        result = bench_inference(small=args.small)
        if args.json:
            print(json.dumps(result))
        else:
            print(
                f"forward of {result['tokens']} tokens: sparse {result['sparse_ms']:.1f} ms, dense "
                f"{result['dense_ms']:.1f} ms, {result['ratio']:.1f}x; "
                f"max |diff| {result['max_abs_err']:.2g}; "
                f"model {result['sparse_model_mb']:.0f} MB sparse, {result['dense_model_mb']:.0f} MB dense; "
                f"sparse load {result['load_s'] or 0:.1f} s, peak {result['load_peak_rss_mb'] or 0:.0f} MB; "
                f"an ablation's outputs for {result['ablation_tokens']} tokens in "
                f"{result['ablation_ms']:.0f} ms ({result['ablation_threads']} threads)"
            )
        return 0
    result = bench_train(args.preset, args.steps, args.device)
    if args.json:
        print(json.dumps(result))
    else:
        print(
            f"sparse step {result['sparse_step_s'] * 1000:.1f} ms, dense step "
            f"{result['dense_step_s'] * 1000:.1f} ms, ratio {result['ratio']:.3f} "
            f"(medians of {args.steps}, preset {args.preset}, {result['device']})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
