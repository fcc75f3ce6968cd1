import pytest
import torch

from core import GPT
from core.means import compute_means
from core.taskeval import task_batch
from core.tasks import BUILTIN_TASKS
from tests.conftest import tiny_config


@pytest.fixture(scope="module")
def setup(small_stream, tokenizer):
    """A tiny model (no activation sparsity), its means, and a bracket_counting batch: what the
    pruner's tests prune."""
    torch.manual_seed(0)
    model = GPT(tiny_config(afrac=None)).eval()
    means = compute_means(model, small_stream, n_batches=2, batch_size=4)
    batch = task_batch(BUILTIN_TASKS["bracket_counting"], tokenizer, 32, n=32)
    return model, means, batch
