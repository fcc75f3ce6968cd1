import os
from pathlib import Path

import pytest
import torch

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
torch.set_num_threads(min(2, torch.get_num_threads()))

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="session")
def tokenizer():
    from core.data.sources import default_tokenizer

    return default_tokenizer()


@pytest.fixture(scope="session")
def small_stream(tokenizer):
    """A token stream of a few hundred generated programs: enough to train on for a few steps."""
    from core.data.corpus import generate_programs
    from core.data.stream import TokenStream

    return TokenStream.from_documents(generate_programs(400, seed=1), tokenizer)


def tiny_config(**overrides):
    from core.config import GPTConfig

    settings = dict(
        n_layer=2,
        d_model=32,
        n_head=4,
        d_head=8,
        d_mlp=64,
        block_size=32,
        vocab_size=2048,
        enable_bigram_table=False,
    )
    settings.update(overrides)
    return GPTConfig(**settings)


def tiny_train_config(**overrides):
    from core.train_config import TrainConfig

    settings = dict(
        steps=20, batch_size=4, seq_len=32, lr=1e-2, l0_target=0.25, log_every=1, ckpt_every=10, val_batches=1
    )
    settings.update(overrides)
    return TrainConfig(**settings)
