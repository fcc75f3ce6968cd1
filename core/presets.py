"""Named model + training settings. `tiny` is for tests, `small` is the model the app ships,
`paper` is the scale of Gao et al. 2025 (for a GPU)."""

from __future__ import annotations

from .config import GPTConfig
from .train_config import TrainConfig

PRESETS: dict[str, tuple[dict, dict]] = {
    # Trains in well under a minute on 2 CPU cores.
    "tiny": (
        dict(n_layer=2, d_model=64, n_head=4, d_head=16, d_mlp=256, block_size=64, enable_bigram_table=False),
        dict(
            steps=300,
            batch_size=16,
            seq_len=64,
            lr=1e-2,
            l0_target=0.25,
            adam_eps=1e-8,
            log_every=10,
            ckpt_every=100,
        ),
    ),
    # A few million parameters, learns quote closing and bracket matching on 2 CPU cores.
    "small": (
        dict(
            n_layer=2,
            d_model=128,
            n_head=8,
            d_head=16,
            d_mlp=512,
            block_size=256,
            enable_bigram_table=True,
            learnable_bigram_table=True,
        ),
        dict(
            steps=4000,
            batch_size=16,
            seq_len=256,
            lr=3e-3,
            l0_target=1 / 16,
            adam_eps=1e-8,
            log_every=20,
            ckpt_every=500,
        ),
    ),
    # The paper's shape: 8 layers, d_model 2048, d_head 16; its Adam eps of 0.1 suits this scale.
    "paper": (
        dict(
            n_layer=8,
            d_model=2048,
            n_head=128,
            d_head=16,
            d_mlp=8192,
            block_size=1024,
            enable_bigram_table=True,
            learnable_bigram_table=True,
        ),
        dict(
            steps=100_000,
            batch_size=64,
            seq_len=1024,
            lr=1.28e-2,
            l0_target=1 / 512,
            adam_eps=0.1,
            log_every=50,
            ckpt_every=2000,
        ),
    ),
}


def preset(name: str, vocab_size: int) -> tuple[GPTConfig, TrainConfig]:
    if name not in PRESETS:
        raise KeyError(f"unknown preset {name!r} (choose from {', '.join(PRESETS)})")
    model_kw, train_kw = PRESETS[name]
    return GPTConfig(vocab_size=vocab_size, **model_kw), TrainConfig(preset=name, **train_kw)
