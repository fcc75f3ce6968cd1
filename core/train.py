"""The training loop of Gao et al. 2025, as an iterator of events.

Each step: forward, backward, gradient-RMS clipping, AdamW, then every sparse matrix is
projected back to its top-k entries by magnitude. The kept fraction anneals from dense to
the target; the learning rate follows the "sharkfin": warmup, linear decay, times
1/sqrt(kept fraction). The logged `l0_frac` is the fraction of the sparse parameters' entries
that are nonzero after the step, measured, not the schedule's. Stopping the iterator (close())
between steps saves a checkpoint.
"""

from __future__ import annotations

import json
import math
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import load_file

from .adamw import AdamW
from .config import GPTConfig
from .data.stream import TokenStream
from .data.tokenizer import Tokenizer
from .device import pick_device
from .distributed import Dist, DistributedError
from .fileio import FileFormatError, atomic_write_text
from .formats import load_ours, read_json, save_checkpoint
from .model import GPT
from .sparsity import SparsitySpec, l0_fraction_at, nonzero_fraction, project_, sparse_parameters
from .train_config import TrainConfig

CHECKPOINT_DIR = "checkpoint"
SNAPSHOT_DIR = "snapshots"  # snapshots/step-000500/: the weights at each checkpoint, if kept
METRICS_FILE = "metrics.jsonl"


@dataclass
class TrainEvent:
    kind: str  # "step" (every step), "checkpoint" or "done"
    step: int  # optimizer steps completed
    total_steps: int
    loss: float  # as of the last logged step (read back from the device only then)
    lr: float
    l0_frac: float  # measured then: nonzero entries of the sparse parameters over all their entries
    tokens_per_s: float
    elapsed_s: float
    val_loss: float | None = None
    device: str = "cpu"
    logged: bool = True  # loss and l0_frac were measured at this step (logged ones, and a run's first)


def sharkfin_lr(step: int, cfg: TrainConfig, l0_frac: float) -> float:
    """Learning rate for optimizer step `step` (0-based)."""
    warmup = max(1, round(cfg.warmup_frac * cfg.steps))
    if step < warmup:
        shape = (step + 1) / warmup
    else:
        shape = max(0.0, (cfg.steps - step) / max(1, cfg.steps - warmup))
    return cfg.lr * shape / math.sqrt(l0_frac)


def clip_grad_rms_(params: list[torch.nn.Parameter], max_rms: float) -> torch.Tensor | None:
    """Scale gradients so that their root-mean-square over all entries is at most max_rms, on
    their device (nothing is read back). Returns the root-mean-square before (None: no grads)."""
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return None
    total_sq = torch.stack([g.detach().float().pow(2).sum() for g in grads]).sum()
    rms = (total_sq / sum(g.numel() for g in grads)).sqrt()
    scale = (max_rms / rms.clamp_min(1e-30)).clamp(max=1.0)
    for g in grads:
        g.mul_(scale.to(g.dtype))
    return rms


def make_optimizer(model: GPT, cfg: TrainConfig) -> AdamW:
    decay, no_decay = [], []
    for p in model.parameters():
        if p.requires_grad:
            (decay if p.dim() >= 2 else no_decay).append(p)
    return AdamW(
        [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=cfg.lr,
        betas=(cfg.beta1, cfg.beta2),
        eps=cfg.adam_eps,
    )


def optimizer_tensors(model: GPT, opt: AdamW) -> dict[str, torch.Tensor]:
    out = {}
    for name, p in model.named_parameters():
        for key, value in opt.state.get(p, {}).items():
            out[f"{name}::{key}"] = torch.as_tensor(value).detach().cpu().contiguous()
    out["__rng_cpu__"] = torch.get_rng_state()
    if torch.cuda.is_available():
        out["__rng_cuda__"] = torch.cuda.get_rng_state()
    return out


def restore_optimizer(model: GPT, opt: AdamW, tensors: dict, device) -> None:
    params = dict(model.named_parameters())
    for key, value in tensors.items():
        if key == "__rng_cpu__":
            torch.set_rng_state(value)
        elif key == "__rng_cuda__":
            if torch.cuda.is_available():
                torch.cuda.set_rng_state(value)
        else:
            name, _, field = key.partition("::")
            if name not in params:
                raise FileFormatError(f"optimizer state names unknown parameter {name!r}")
            opt.state[params[name]][field] = value.to(device) if field != "step" else float(value)


class Trainer:
    """Owns one run folder: `metrics.jsonl` and `checkpoint/`.

    With `dist` (one of several torchrun processes) the model is wrapped in
    DistributedDataParallel: each process takes its rows of the step's global batch, the loss
    is scaled so that the averaged gradient is that of the global-batch mean, and rank 0 alone
    writes the run folder."""

    def __init__(
        self,
        run_dir,
        model_config: GPTConfig,
        train_config: TrainConfig,
        stream: TokenStream,
        tokenizer: Tokenizer | None,
        device: str | None = None,
        resume: bool = False,
        corpus: str | None = None,
        dist: Dist | None = None,
    ):
        self.run_dir = Path(run_dir)
        self.corpus = corpus  # None: the embedded corpus; else the user's folder
        self.dist = dist
        self.device = pick_device(device) if dist is None else dist.device(pick_device(device))
        self.stream = stream
        self.tokenizer = tokenizer
        self.start_step = 0
        if resume:
            self._load_resume_state()
        else:
            if (self.run_dir / CHECKPOINT_DIR).exists():
                raise FileExistsError(
                    f"{self.run_dir} already holds a training run; resume it or choose another folder"
                )
            self.model_config, self.cfg = model_config, train_config
            torch.manual_seed(self.cfg.seed)
            self.model = GPT(self.model_config).to(self.device)
            self.opt = make_optimizer(self.model, self.cfg)
        if self.cfg.seq_len > self.model_config.block_size:
            raise ValueError(f"seq_len {self.cfg.seq_len} exceeds block_size {self.model_config.block_size}")
        self.spec = SparsitySpec(
            self.cfg.dense_embeddings, self.cfg.dense_unembed, self.cfg.dense_biases, self.cfg.min_per_unit
        )
        self.sparse = sparse_parameters(self.model, self.spec)
        self.params = [p for p in self.model.parameters() if p.requires_grad]
        self.project_weights = True  # False only to benchmark the dense twin
        # bf16 autocast for the forward and backward on a GPU (the weights and optimizer stay
        # fp32); settable so that the same path runs, and is tested, on the CPU.
        self.autocast = self.device.type == "cuda"
        self.ddp = None
        if dist is not None:
            self._join(dist)

    def _join(self, dist: Dist) -> None:
        """Check that every process starts from the same weights and data, then wrap."""
        from torch.nn.parallel import DistributedDataParallel

        if self.cfg.batch_size < dist.world:
            raise DistributedError(
                f"a batch of {self.cfg.batch_size} rows cannot be shared by {dist.world} processes"
            )
        dist.init(self.device)
        dist.check_same(list(self.model.parameters()), self.device, "starting weights")
        checksum = torch.tensor([float(zlib.crc32(self.stream.ids.tobytes()))])
        dist.check_same([checksum], self.device, "training data (corpus or tokenizer)")
        ids = [self.device.index] if self.device.type == "cuda" else None
        # The buffers are not trained and are equal on every process: no broadcast each step.
        self.ddp = DistributedDataParallel(self.model, device_ids=ids, forward_sync_buffers=False)

    @property
    def is_main(self) -> bool:
        """Whether this process writes the run folder (the only one, or rank 0)."""
        return self.dist is None or self.dist.is_main

    def _load_resume_state(self):
        folder = self.run_dir / CHECKPOINT_DIR
        if not (folder / "train_state.json").is_file():
            raise FileFormatError(f"{self.run_dir}: nothing to resume (no {CHECKPOINT_DIR}/train_state.json)")
        ckpt = load_ours(folder)
        state = read_json(folder / "train_state.json")
        self.model_config = ckpt.model.config
        self.cfg = TrainConfig.from_dict(state["train_config"])
        self.model = ckpt.model.to(self.device).train()
        self.opt = make_optimizer(self.model, self.cfg)
        restore_optimizer(self.model, self.opt, load_file(str(folder / "optimizer.safetensors")), self.device)
        self.start_step = int(state["step"])
        self.corpus = ckpt.meta.get("corpus", self.corpus)
        if self.tokenizer is None:
            self.tokenizer = ckpt.tokenizer

    def run(self) -> Iterator[TrainEvent]:
        cfg = self.cfg
        if self.is_main:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            self._truncate_metrics(self.start_step)
        self.model.train()
        step, saved_step = self.start_step, self.start_step
        t_start = time.perf_counter()
        t_last, tokens_since = t_start, 0
        loss = l0 = float("nan")  # as of the last logged step: read back only then
        try:
            while step < cfg.steps:
                t_step = time.perf_counter()
                loss_sum, lr, n_tokens = self.step(step)
                step += 1
                last = step == cfg.steps
                # Logged steps go to metrics.jsonl (the same steps in a resumed run as in an
                # unbroken one); the first step of a resumed run is read back too, for its event.
                logged = step % cfg.log_every == 0 or step == 1 or last or step % cfg.ckpt_every == 0
                if logged or step == self.start_step + 1:
                    loss, l0 = self.read_loss(loss_sum), nonzero_fraction(self.sparse.values())
                now = time.perf_counter()
                tokens_since += n_tokens
                event = TrainEvent(
                    "step",
                    step,
                    cfg.steps,
                    loss,
                    lr,
                    l0,
                    n_tokens / max(now - t_step, 1e-9),
                    now - t_start,
                    device=self.device.type,
                    logged=logged or step == self.start_step + 1,
                )
                if logged:
                    event.tokens_per_s = tokens_since / max(now - t_last, 1e-9)
                    t_last, tokens_since = now, 0
                if step % cfg.ckpt_every == 0 or last:
                    event.kind = "checkpoint"
                    event.val_loss = self.validation_loss()
                    self._save_together(step)
                    saved_step = step
                if logged and self.is_main:
                    self._append_metrics(event)
                yield event  # every step, so that a consumer can stop within one step
            yield TrainEvent(
                "done",
                step,
                cfg.steps,
                event.loss,
                lr,
                l0,
                event.tokens_per_s,
                time.perf_counter() - t_start,
                event.val_loss,
                self.device.type,
            )
        except GeneratorExit:
            # Cancelled between steps: keep the work for --resume. Rank 0's weights are every
            # rank's; no barrier, since the other processes may be stopping too.
            if step != saved_step and self.is_main:
                self.save(step)
            raise

    def step(self, step: int) -> tuple[torch.Tensor, float, int]:
        """One optimizer step (0-based index), queued on the device without reading anything
        back (on a GPU a read waits for the queue to drain): (this process's summed loss over
        its rows, as a tensor; lr; tokens of the global batch). `read_loss` reads it."""
        cfg = self.cfg
        l0 = l0_fraction_at(step + 1, cfg.steps, cfg.l0_target, cfg.anneal_frac)
        lr = sharkfin_lr(step, cfg, l0)
        for group in self.opt.param_groups:
            group["lr"] = lr
        x, y = self.stream.batch(step, cfg.batch_size, cfg.seq_len, cfg.seed)
        n_tokens = x.numel()  # the global batch's
        forward, scale = self.model, 1.0
        if self.dist is not None:
            rows = self.dist.rows(cfg.batch_size)
            x, y = x[rows], y[rows]
            # DDP averages gradients over processes: scaled so that the average is the gradient
            # of the mean over the global batch, even where the rows do not divide evenly.
            forward, scale = self.ddp, x.shape[0] * self.dist.world / cfg.batch_size
        if self.device.type == "cuda":  # pinned, so that the copy need not wait for the GPU
            x = x.pin_memory().to(self.device, non_blocking=True)
            y = y.pin_memory().to(self.device, non_blocking=True)
        else:
            x, y = x.to(self.device), y.to(self.device)
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.autocast):
            _, loss = forward(x, y)
        (loss * scale if scale != 1.0 else loss).backward()
        clip_grad_rms_(self.params, cfg.grad_clip_rms)
        self.opt.step()
        self.opt.zero_grad(set_to_none=True)
        if self.project_weights:
            project_(self.sparse, l0, cfg.min_per_unit)
        return loss.detach().float() * x.shape[0], lr, n_tokens

    def read_loss(self, loss_sum: torch.Tensor) -> float:
        """A step's loss over the global batch, read back from the device (with torchrun: the
        sum over every process's rows, so every process must call this at the same steps)."""
        if self.dist is not None:
            (total,) = self.dist.sum([loss_sum], self.device)
            return total / self.cfg.batch_size
        return float(loss_sum) / self.cfg.batch_size

    def validation_loss(self) -> float:
        loss = validation_loss(self.model, self.stream, self.cfg, self.device)
        self.model.train()
        return loss

    def _save_together(self, step: int) -> None:
        """Save at a checkpoint: rank 0 writes, after checking that every process holds the
        same weights; the others wait until the checkpoint is whole."""
        if self.dist is None:
            self.save(step)
            return
        self.dist.check_same(list(self.model.parameters()), self.device, f"weights at step {step}")
        if self.dist.is_main:
            self.save(step)
        self.dist.barrier()

    def save(self, step: int) -> None:
        meta = {
            "step": step,
            "corpus": self.corpus,
            "sparsity": {
                **self.spec.__dict__,
                "l0_target": self.cfg.l0_target,
                "l0_scheduled": l0_fraction_at(
                    step, self.cfg.steps, self.cfg.l0_target, self.cfg.anneal_frac
                ),
                "l0_frac": nonzero_fraction(self.sparse.values()),
            },
        }
        train_state = {"step": step, "train_config": self.cfg.to_dict()}
        save_checkpoint(
            self.run_dir / CHECKPOINT_DIR,
            self.model,
            self.tokenizer,
            meta,
            {
                "optimizer.safetensors": optimizer_tensors(self.model, self.opt),
                "train_state.json": train_state,
            },
        )
        if self.cfg.keep_checkpoints:
            snapshot = self.run_dir / SNAPSHOT_DIR / f"step-{step:06d}"
            save_checkpoint(snapshot, self.model, self.tokenizer, meta)

    def _append_metrics(self, event: TrainEvent) -> None:
        record = {
            "step": event.step,
            "loss": event.loss,
            "lr": event.lr,
            "l0_frac": event.l0_frac,
            "tokens_per_s": event.tokens_per_s,
        }
        if event.val_loss is not None:
            record["val_loss"] = event.val_loss
        with open(self.run_dir / METRICS_FILE, "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")

    def _truncate_metrics(self, keep_through: int) -> None:
        """Drop records after the step we start from, so a resumed log reads as one run."""
        path = self.run_dir / METRICS_FILE
        if not path.exists():
            return
        if keep_through == 0:
            path.unlink()
            return
        kept = [
            line
            for line in path.read_text(encoding="utf-8").splitlines()
            if (record := _record(line)) is not None and record.get("step", 0) <= keep_through
        ]
        atomic_write_text(path, "".join(line + "\n" for line in kept))


@torch.no_grad()
def validation_loss(model, stream: TokenStream, cfg: TrainConfig, device) -> float:
    """Mean loss over the stream's first `cfg.val_batches` validation batches (the same batches
    for any model trained with these settings); leaves the model in eval mode."""
    model.eval()
    losses = []
    for i in range(cfg.val_batches):
        x, y = stream.batch(i, cfg.batch_size, cfg.seq_len, cfg.seed, "val")
        losses.append(float(model(x.to(device), y.to(device))[1]))
    return sum(losses) / len(losses)


def snapshot_dirs(run_dir) -> list[tuple[int, Path]]:
    """The kept checkpoints of a run (`keep_checkpoints`), as (step, folder) by step."""
    found = []
    for folder in (Path(run_dir) / SNAPSHOT_DIR).glob("step-*"):
        step = folder.name.removeprefix("step-")
        if step.isdigit() and (folder / "config.json").is_file():
            found.append((int(step), folder))
    return sorted(found)


def read_metrics(run_dir) -> list[dict]:
    path = Path(run_dir) / METRICS_FILE
    records = (_record(line) for line in path.read_text(encoding="utf-8").splitlines())
    return [r for r in records if r is not None]


def _record(line: str) -> dict | None:
    """One metrics line, or None for a blank one or the torn end of a run killed mid-write."""
    try:
        record = json.loads(line) if line.strip() else None
    except json.JSONDecodeError:
        return None
    return record if isinstance(record, dict) else None
