import json
import traceback

import pytest
import torch
from torch.overrides import TorchFunctionMode

from core.formats import load_checkpoint
from core.sparsity import keep_count
from core.train import CHECKPOINT_DIR, Trainer, clip_grad_rms_, read_metrics
from tests.conftest import tiny_config, tiny_train_config


def make_trainer(run_dir, stream, tokenizer, resume=False, **train_overrides):
    return Trainer(
        run_dir, tiny_config(), tiny_train_config(**train_overrides), stream, tokenizer, "cpu", resume=resume
    )


def test_training_lowers_loss_and_writes_metrics(tmp_path, small_stream, tokenizer):
    events = list(make_trainer(tmp_path, small_stream, tokenizer, steps=40, ckpt_every=20).run())
    assert events[-1].kind == "done" and events[-1].step == 40
    metrics = read_metrics(tmp_path)
    assert [m["step"] for m in metrics] == list(range(1, 41))
    assert set(metrics[0]) == {"step", "loss", "lr", "l0_frac", "tokens_per_s"}
    assert metrics[-1]["loss"] < 0.8 * metrics[0]["loss"]
    assert metrics[-1]["l0_frac"] == pytest.approx(0.25)
    assert "val_loss" in metrics[19] and "val_loss" in metrics[39]


def measured_fraction(params) -> float:
    params = list(params)
    return sum(int((p != 0).sum()) for p in params) / sum(p.numel() for p in params)


def test_logged_l0_frac_is_the_measured_fraction_of_nonzeros(tmp_path, small_stream, tokenizer):
    # At 1/64 a floor of 4 per row and column alone would hold several times the budget of
    # the small matrices: the weights must hold what the log says, and the log the target.
    trainer = Trainer(
        tmp_path,
        tiny_config(bias=True),
        tiny_train_config(steps=12, ckpt_every=12, anneal_frac=0.5, l0_target=1 / 64),
        small_stream,
        tokenizer,
        "cpu",
    )
    logged = []
    for event in trainer.run():
        if event.kind != "done":
            assert event.l0_frac == measured_fraction(trainer.sparse.values()), event.step
            logged.append(event.l0_frac)
    assert [m["l0_frac"] for m in read_metrics(tmp_path)] == logged
    assert logged[-1] == pytest.approx(1 / 64, rel=0.05)
    ckpt = load_checkpoint(tmp_path)
    params = dict(ckpt.model.named_parameters())
    assert ckpt.meta["sparsity"]["l0_frac"] == measured_fraction(params[n] for n in trainer.sparse)
    assert ckpt.meta["sparsity"]["l0_scheduled"] == pytest.approx(1 / 64)


def test_checkpoint_holds_sparse_weights_at_target(tmp_path, small_stream, tokenizer):
    trainer = make_trainer(tmp_path, small_stream, tokenizer)
    list(trainer.run())
    ckpt = load_checkpoint(tmp_path)
    assert ckpt.meta["step"] == 20 and ckpt.tokenizer is not None
    params = dict(ckpt.model.named_parameters())
    for name in trainer.sparse:
        p = params[name]
        assert int((p != 0).sum()) == keep_count(p.numel(), 0.25), name


def test_resume_equals_unbroken_run(tmp_path, small_stream, tokenizer):
    list(make_trainer(tmp_path / "whole", small_stream, tokenizer).run())
    events = make_trainer(tmp_path / "split", small_stream, tokenizer).run()
    for event in events:
        if event.step == 7:
            break
    events.close()  # cancelled mid-run: the checkpoint is at step 7
    assert json.loads((tmp_path / "split" / CHECKPOINT_DIR / "train_state.json").read_text())["step"] == 7
    resumed = Trainer(tmp_path / "split", None, None, small_stream, tokenizer, "cpu", resume=True)
    assert resumed.start_step == 7
    list(resumed.run())
    whole, split = read_metrics(tmp_path / "whole"), read_metrics(tmp_path / "split")
    assert [m["step"] for m in split] == [m["step"] for m in whole]
    for a, b in zip(whole, split):
        assert a["loss"] == pytest.approx(b["loss"], abs=1e-6), a["step"]
    wa = load_checkpoint(tmp_path / "whole").model.state_dict()
    wb = load_checkpoint(tmp_path / "split").model.state_dict()
    for name in wa:
        torch.testing.assert_close(wa[name], wb[name], atol=1e-6, rtol=0)


def test_existing_run_is_not_overwritten(tmp_path, small_stream, tokenizer):
    list(make_trainer(tmp_path, small_stream, tokenizer, steps=10).run())
    with pytest.raises(FileExistsError, match="already holds"):
        make_trainer(tmp_path, small_stream, tokenizer)


def test_resume_without_checkpoint_is_an_error(tmp_path, small_stream, tokenizer):
    with pytest.raises(ValueError, match="nothing to resume"):
        Trainer(tmp_path, None, None, small_stream, tokenizer, "cpu", resume=True)


def test_grad_rms_clipping():
    p = torch.nn.Parameter(torch.zeros(4))
    p.grad = torch.full((4,), 3.0)
    assert float(clip_grad_rms_([p], 1.0)) == pytest.approx(3.0)
    torch.testing.assert_close(p.grad, torch.ones(4))
    p.grad = torch.full((4,), 0.5)
    clip_grad_rms_([p], 1.0)
    torch.testing.assert_close(p.grad, torch.full((4,), 0.5))


class HostReads(TorchFunctionMode):
    """Values read from tensors back to Python: on a GPU each waits for the device's queue."""

    READS = {"item", "tolist", "__float__", "__int__", "__bool__", "__index__"}

    def __init__(self):
        super().__init__()
        self.reads = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        name = getattr(func, "__name__", "")
        if name in self.READS:
            caller = traceback.extract_stack(limit=2)[0]
            self.reads.append(f"{name} at {caller.filename}:{caller.lineno}")
        return func(*args, **(kwargs or {}))


def test_steps_between_logged_ones_read_nothing_back(tmp_path, small_stream, tokenizer):
    """A step queues its work on the device; only logged steps read the loss and nonzeros."""
    cfg = tiny_train_config(steps=12, log_every=5, ckpt_every=100, l0_target=0.25, anneal_frac=0.5)
    trainer = Trainer(tmp_path, tiny_config(), cfg, small_stream, tokenizer, "cpu")
    reads, events, run = HostReads(), [], trainer.run()
    while not events or events[-1].step < 9:
        with reads:  # what making the next event reads back
            events.append(next(run))
        if events[-1].kind == "step" and not events[-1].logged:
            assert reads.reads == [], (events[-1].step, reads.reads)
        reads.reads.clear()
    run.close()
    logged = [e.step for e in events if e.logged]
    assert logged == [1, 5]
    assert events[2].loss == events[0].loss  # between logged steps: the last measured loss


def test_the_gpus_bf16_autocast_path_trains_on_the_cpu_too(tmp_path, small_stream, tokenizer):
    """The mixed-precision step a GPU takes, run here: the loss follows fp32's closely and the
    weights stay fp32 and on their sparsity budget."""
    cfg = tiny_train_config(steps=6, log_every=1, ckpt_every=100)
    runs = {}
    for autocast in (False, True):
        torch.manual_seed(0)
        trainer = Trainer(tmp_path / str(autocast), tiny_config(), cfg, small_stream, tokenizer, "cpu")
        trainer.autocast = autocast
        runs[autocast] = [e.loss for e in trainer.run() if e.kind != "done"]
        assert all(p.dtype == torch.float32 for p in trainer.model.parameters())
    assert runs[True] == pytest.approx(runs[False], abs=0.05)
    assert runs[True] != runs[False]  # bf16 did run
