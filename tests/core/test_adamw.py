"""Our AdamW takes torch.optim's steps exactly, and training and pruning import no torch._dynamo."""

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from core.adamw import AdamW


@pytest.mark.parametrize("weight_decay", [0.0, 0.1])
def test_the_steps_are_torch_s_to_the_bit(weight_decay):
    torch.manual_seed(0)
    start = [torch.randn(5, 3), torch.randn(7)]
    ours_params = [p.clone().requires_grad_() for p in start]
    theirs_params = [p.clone().requires_grad_() for p in start]
    groups = lambda ps: [{"params": ps[:1], "weight_decay": weight_decay}, {"params": ps[1:]}]  # noqa: E731
    ours = AdamW(groups(ours_params), lr=3e-3, betas=(0.9, 0.95), eps=1e-8)
    theirs = torch.optim.AdamW(groups(theirs_params), lr=3e-3, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.0)
    for step in range(6):
        lr = 3e-3 * (1 + step)  # as the trainer's schedule sets each group's rate
        for opt in (ours, theirs):
            for group in opt.param_groups:
                group["lr"] = lr
        grads = [torch.randn_like(p) for p in start]
        for params, opt in ((ours_params, ours), (theirs_params, theirs)):
            for p, g in zip(params, grads):
                p.grad = g.clone()
            opt.step()
            opt.zero_grad()
        for a, b in zip(ours_params, theirs_params):
            assert torch.equal(a, b)
    for a, b in zip(ours_params, theirs_params):
        for key in ("exp_avg", "exp_avg_sq"):
            assert torch.equal(ours.state[a][key], theirs.state[b][key])
        assert ours.state[a]["step"] == float(theirs.state[b]["step"])


def test_training_and_pruning_import_no_dynamo():
    """torch.optim's import of torch._dynamo (~1 s of imports) stalled the app's window as a run
    started; measured in a fresh process, as a user's app is."""
    code = (
        "import sys, torch\n"
        "from tests.conftest import tiny_config, tiny_train_config\n"
        "from core.data.corpus import generate_programs\n"
        "from core.data.sources import default_tokenizer\n"
        "from core.data.stream import TokenStream\n"
        "from core.train import Trainer\n"
        "from core.prune import Pruner, PruneConfig\n"
        "from core.tasks import BUILTIN_TASKS\n"
        "from core.taskeval import encode_examples\n"
        "import tempfile\n"
        "tok = default_tokenizer()\n"
        "stream = TokenStream.from_documents(generate_programs(50, seed=1), tok)\n"
        "with tempfile.TemporaryDirectory() as tmp:\n"
        "    trainer = Trainer(tmp, tiny_config(), tiny_train_config(steps=3), stream, tok, 'cpu')\n"
        "    list(trainer.run())\n"
        "    model = trainer.model.eval()\n"
        "    examples = BUILTIN_TASKS['single_double_quote'].examples(8)\n"
        "    batch = encode_examples(examples, tok, model.config.block_size)\n"
        "    list(Pruner(model, batch, None, PruneConfig(ablation='zero', steps=3, fixed_k_steps=2)).run())\n"
        "print('torch._dynamo' in sys.modules)\n"
    )
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "False"
