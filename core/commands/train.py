"""`sparse-circuits train`: the training pipeline with a progress bar."""

from __future__ import annotations

import sys
from pathlib import Path

from ..distributed import from_env
from ..pipelines.events import Finished, TrainEvent, TrainingStarted
from ..pipelines.training import TrainingSpec, training
from ..train import CHECKPOINT_DIR
from .progress import progress_bar


def run_training(args) -> int:
    run_dir = Path(args.out)
    dist = from_env()  # under torchrun: one of several processes training one model
    settings = {"keep_checkpoints": True} if args.keep_checkpoints else None
    spec = TrainingSpec(
        run_dir,
        args.preset,
        args.steps,
        args.seed,
        args.device,
        args.corpus,
        args.resume,
        dist=dist,
        settings=settings,
    )
    main = dist is None or dist.is_main  # only rank 0 reports
    try:
        return _report(training(spec), run_dir, args.quiet or not main, main)
    finally:
        if dist is not None:
            dist.close()


def _report(events, run_dir: Path, quiet: bool, main: bool) -> int:
    bar, last, checkpoint = None, None, None
    try:
        for event in events:
            if isinstance(event, TrainingStarted):
                if main:
                    print(
                        f"training {event.preset}: {event.n_params:,} parameters on {event.device}; "
                        f"data: {event.data}",
                        file=sys.stderr,
                    )
                bar = progress_bar(event.total_steps, "training", not quiet, initial=event.start_step)
            elif isinstance(event, TrainEvent):
                bar.update(event.step - bar.n)
                bar.set_postfix(
                    loss=f"{event.loss:.3f}", l0=f"{event.l0_frac:.4g}", tok_s=f"{event.tokens_per_s:,.0f}"
                )
                last = event
            elif isinstance(event, Finished):
                checkpoint = event.path
    except KeyboardInterrupt:
        if bar is None:  # still setting up: nothing to resume
            raise
        bar.close()
        if main:
            print(
                f"interrupted; continue with --resume (last checkpoint in {run_dir / CHECKPOINT_DIR})",
                file=sys.stderr,
            )
        return 130
    finally:
        events.close()
    bar.close()
    if not main:
        return 0
    val = f", validation loss {last.val_loss:.3f}" if last.val_loss is not None else ""
    print(
        f"done: step {last.step}, loss {last.loss:.3f}{val}, {last.elapsed_s:.1f} s; "
        f"checkpoint in {checkpoint}",
        file=sys.stderr,
    )
    return 0
