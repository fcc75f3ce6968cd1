"""Training settings (the paper's section 2.1 and appendix A), as plain data."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass


@dataclass
class TrainConfig:
    preset: str = "custom"
    steps: int = 300
    batch_size: int = 16
    seq_len: int = 64
    lr: float = 1e-2
    warmup_frac: float = 0.01  # sharkfin: warm up over the first 1% ...
    l0_target: float = 1 / 16  # ... kept fraction of every sparse matrix at the end
    anneal_frac: float = 0.5  # reach l0_target after this fraction of the steps
    min_per_unit: int = 4  # j: no neuron or channel keeps fewer nonzeros, budget permitting
    dense_embeddings: bool = False
    dense_unembed: bool = False
    dense_biases: bool = False
    beta1: float = 0.9
    beta2: float = 0.95
    weight_decay: float = 0.1
    adam_eps: float = 1e-8  # the paper uses 0.1; that stalls small models
    grad_clip_rms: float = 1.0
    seed: int = 0
    log_every: int = 10
    ckpt_every: int = 500
    val_batches: int = 4
    keep_checkpoints: bool = False  # also keep every checkpoint's weights in snapshots/

    def __post_init__(self):
        positive = ("steps", "batch_size", "seq_len", "log_every", "ckpt_every")
        for name in positive:
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if not 0 < self.l0_target <= 1:
            raise ValueError(f"l0_target must be in (0, 1], got {self.l0_target!r}")
        if not 0 <= self.anneal_frac <= 1:
            raise ValueError(f"anneal_frac must be in [0, 1], got {self.anneal_frac!r}")
        if self.lr <= 0:
            raise ValueError(f"lr must be positive, got {self.lr!r}")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "TrainConfig":
        fields = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in fields})
