"""`sparse-circuits train`: a training run with a progress bar."""

from __future__ import annotations

import sys
from pathlib import Path

from tqdm import tqdm

from ..data.sources import load_training_data
from ..device import describe, pick_device
from ..formats import read_json
from ..presets import PRESETS, preset
from ..train import CHECKPOINT_DIR, Trainer


def run_training(args) -> int:
    run_dir = Path(args.out)
    device = pick_device(args.device)
    if args.resume:
        state = read_json(run_dir / CHECKPOINT_DIR / "train_state.json") \
            if (run_dir / CHECKPOINT_DIR / "train_state.json").is_file() else None
        if state is None:
            raise FileExistsError(f"{run_dir}: nothing to resume (no checkpoint there)")
        saved_steps = state["train_config"]["steps"]
        if args.steps is not None and args.steps != saved_steps:
            raise ValueError(f"--steps {args.steps} differs from the run's {saved_steps}; "
                             f"a resumed run keeps its schedule")
        from ..formats import load_ours
        saved = load_ours(run_dir / CHECKPOINT_DIR)
        data = load_training_data(args.corpus or saved.meta.get("corpus"), tokenizer=saved.tokenizer)
        trainer = Trainer(run_dir, None, None, data.stream, data.tokenizer, str(device), resume=True)
    else:
        if args.steps is not None and args.steps < 1:
            raise ValueError(f"--steps must be positive, got {args.steps}")
        if args.preset not in PRESETS:
            raise ValueError(f"unknown preset {args.preset!r} (choose from {', '.join(PRESETS)})")
        data = load_training_data(args.corpus)
        model_config, train_config = preset(args.preset, data.tokenizer.vocab_size)
        if args.steps is not None:
            train_config.steps = args.steps
        if args.seed is not None:
            train_config.seed = args.seed
        corpus = str(Path(args.corpus).resolve()) if args.corpus else None
        trainer = Trainer(run_dir, model_config, train_config, data.stream, data.tokenizer,
                          str(device), corpus=corpus)
    n_params = trainer.model.num_params()
    print(f"training {trainer.cfg.preset}: {n_params:,} parameters on {describe(device)}; "
          f"data: {data.description}", file=sys.stderr)
    bar = tqdm(total=trainer.cfg.steps, initial=trainer.start_step, unit="step",
               disable=args.quiet, file=sys.stderr, dynamic_ncols=True)
    last = None
    events = trainer.run()
    try:
        for event in events:
            bar.update(event.step - bar.n)
            bar.set_postfix(loss=f"{event.loss:.3f}", l0=f"{event.l0_frac:.3f}",
                            tok_s=f"{event.tokens_per_s:,.0f}")
            last = event
    except KeyboardInterrupt:
        bar.close()
        print(f"interrupted; continue with --resume (last checkpoint in {run_dir / CHECKPOINT_DIR})",
              file=sys.stderr)
        return 130
    finally:
        events.close()
    bar.close()
    val = f", validation loss {last.val_loss:.3f}" if last.val_loss is not None else ""
    print(f"done: step {last.step}, loss {last.loss:.3f}{val}, {last.elapsed_s:.1f} s; "
          f"checkpoint in {run_dir / CHECKPOINT_DIR}", file=sys.stderr)
    return 0
