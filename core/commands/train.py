"""`sparse-circuits train`: the training pipeline with a progress bar."""

from __future__ import annotations

import sys
from pathlib import Path

from ..pipelines.events import Finished, TrainEvent, TrainingStarted
from ..pipelines.training import TrainingSpec, training
from ..train import CHECKPOINT_DIR
from .progress import progress_bar


def run_training(args) -> int:
    run_dir = Path(args.out)
    spec = TrainingSpec(run_dir, args.preset, args.steps, args.seed, args.device, args.corpus, args.resume)
    bar, last, checkpoint = None, None, None
    events = training(spec)
    try:
        for event in events:
            if isinstance(event, TrainingStarted):
                print(
                    f"training {event.preset}: {event.n_params:,} parameters on {event.device}; "
                    f"data: {event.data}",
                    file=sys.stderr,
                )
                bar = progress_bar(event.total_steps, "training", not args.quiet, initial=event.start_step)
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
        print(
            f"interrupted; continue with --resume (last checkpoint in {run_dir / CHECKPOINT_DIR})",
            file=sys.stderr,
        )
        return 130
    finally:
        events.close()
    bar.close()
    val = f", validation loss {last.val_loss:.3f}" if last.val_loss is not None else ""
    print(
        f"done: step {last.step}, loss {last.loss:.3f}{val}, {last.elapsed_s:.1f} s; "
        f"checkpoint in {checkpoint}",
        file=sys.stderr,
    )
    return 0
