"""Training one model with several processes (torchrun's environment, gloo on the CPU) gives
the run one process makes with the same global batch and seed, and resumes with any number
of processes."""

import json
import os
import socket
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp

from core.distributed import Dist, DistributedError, from_env
from core.formats import load_checkpoint
from core.train import Trainer, read_metrics

STEPS, STOP_AT, STOP_AGAIN_AT = 20, 7, 14
ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stream_and_tokenizer():
    """The test stream of conftest's `small_stream`, built again in each process."""
    from core.data.corpus import generate_programs
    from core.data.sources import default_tokenizer
    from core.data.stream import TokenStream

    tokenizer = default_tokenizer()
    return TokenStream.from_documents(generate_programs(400, seed=1), tokenizer), tokenizer


@contextmanager
def one_thread_float64():
    """Torch's CPU kernels on one thread, as in each worker, and the model in float64.
    Splitting the batch sums each gradient in another order; in float32 that is a few 1e-9,
    which Adam and the top-k weight selection grow over 20 steps into weights flipping at the
    threshold, and the loss 1 vs 2 processes drifts ~1e-3 apart (measured; how far depends
    on the CPU's kernels and on the corpus). In float64 the same sums differ by ~1e-17, so
    the comparison is of the split alone, on any machine."""
    threads, dtype = torch.get_num_threads(), torch.get_default_dtype()
    torch.set_num_threads(1)
    torch.set_default_dtype(torch.float64)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
        torch.set_default_dtype(dtype)


def tiny_run(run_dir, stream, tokenizer, dist=None, resume=False, stop_at=None) -> list[float]:
    """The `tiny` preset for STEPS steps (or up to `stop_at`, then cancelled) on one thread:
    each step's loss (read back at every step: log_every 1)."""
    with one_thread_float64():
        return _tiny_run(run_dir, stream, tokenizer, dist, resume, stop_at)


def _tiny_run(run_dir, stream, tokenizer, dist, resume, stop_at) -> list[float]:
    from core.presets import preset

    model_config, train_config = preset("tiny", tokenizer.vocab_size)
    train_config.steps, train_config.ckpt_every, train_config.log_every = STEPS, 10, 1
    trainer = Trainer(run_dir, model_config, train_config, stream, tokenizer, "cpu", resume=resume, dist=dist)
    losses, events = [], trainer.run()
    for event in events:
        if event.kind != "done":
            losses.append(event.loss)
        if event.step == stop_at:
            break
    events.close()
    return losses


def worker(rank: int, world: int, port: int, run_dir: str, stop_at, resume: bool, out: str) -> None:
    os.environ.update(
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
        RANK=str(rank),
        WORLD_SIZE=str(world),
        LOCAL_RANK=str(rank),
    )
    dist = from_env()
    try:
        losses = tiny_run(run_dir, *stream_and_tokenizer(), dist=dist, resume=resume, stop_at=stop_at)
    finally:
        dist.close()
    Path(out, f"losses{rank}.json").write_text(json.dumps(losses))


def spawn(tmp_path, name: str, stop_at=None, resume=False) -> list[list[float]]:
    out = tmp_path / f"{name}-losses-{stop_at}"
    out.mkdir()
    mp.spawn(worker, (2, free_port(), str(tmp_path / name), stop_at, resume, str(out)), nprocs=2)
    return [json.loads((out / f"losses{rank}.json").read_text()) for rank in range(2)]


def assert_same_weights(run_a, run_b) -> None:
    """The same sparsity pattern exactly, the same values up to float64 rounding."""
    wa = load_checkpoint(run_a).model.state_dict()
    wb = load_checkpoint(run_b).model.state_dict()
    worst = 0.0
    for name in wa:
        assert torch.equal(wa[name] != 0, wb[name] != 0), name
        torch.testing.assert_close(wa[name], wb[name], atol=1e-9, rtol=0, msg=name)
        worst = max(worst, float((wa[name] - wb[name]).abs().max()))
    print(f"max |weight difference|: {worst:.2e}")


@pytest.fixture(scope="module")
def one_process(tmp_path_factory, small_stream, tokenizer):
    """The run one process makes: its folder and each step's loss."""
    run_dir = tmp_path_factory.mktemp("one-process") / "run"
    return run_dir, tiny_run(run_dir, small_stream, tokenizer)


@pytest.mark.slow
def test_two_processes_train_the_model_one_process_trains(tmp_path, one_process):
    one_dir, single = one_process
    rank0, rank1 = spawn(tmp_path, "two")
    assert len(single) == len(rank0) == STEPS
    assert rank0 == rank1  # every process reports the global batch's loss
    diffs = [abs(a - b) for a, b in zip(single, rank0)]
    print(f"max |loss difference|, 1 vs 2 processes, {STEPS} steps: {max(diffs):.2e}")
    assert max(diffs) < 1e-5, diffs  # each loss is reported in float32
    assert_same_weights(one_dir, tmp_path / "two")
    # Rank 0 alone wrote the metrics: one record per logged step (here every step), none twice.
    assert [m["step"] for m in read_metrics(tmp_path / "two")] == list(range(1, STEPS + 1))


def saved_step(run_dir) -> int:
    return json.loads((run_dir / "checkpoint" / "train_state.json").read_text())["step"]


@pytest.mark.slow
def test_a_two_process_run_resumes_with_one_process_and_again_with_two(
    tmp_path, one_process, small_stream, tokenizer
):
    one_dir, single = one_process
    first, _ = spawn(tmp_path, "split", stop_at=STOP_AT)  # cancelled: rank 0 saves at step 7
    assert len(first) == STOP_AT and saved_step(tmp_path / "split") == STOP_AT
    middle = tiny_run(tmp_path / "split", small_stream, tokenizer, resume=True, stop_at=STOP_AGAIN_AT)
    assert len(middle) == STOP_AGAIN_AT - STOP_AT and saved_step(tmp_path / "split") == STOP_AGAIN_AT
    last, _ = spawn(tmp_path, "split", resume=True)
    assert len(last) == STEPS - STOP_AGAIN_AT
    diffs = [abs(a - b) for a, b in zip(single, first + middle + last)]
    print(
        f"max |loss difference|, 1 process vs 2, 1, then 2 processes "
        f"(resumed at {STOP_AT} and {STOP_AGAIN_AT}): {max(diffs):.2e}"
    )
    assert max(diffs) < 1e-5, diffs  # each loss is reported in float32
    assert_same_weights(one_dir, tmp_path / "split")


@pytest.mark.slow
def test_torchrun_runs_the_train_command(tmp_path):
    """The command line under torchrun: one report (rank 0's), one run folder."""
    corpus = tmp_path / "code"
    corpus.mkdir()
    from core.data.corpus import generate_programs

    for i, program in enumerate(generate_programs(60, seed=3)):
        (corpus / f"p{i}.py").write_text(program)
    run = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2"]
    torchrun += ["--master-port", str(free_port()), "-m", "core.cli"]
    args = ["train", "--steps", "3", "--device", "cpu", "--corpus", str(corpus), "--quiet", "--out", str(run)]
    result = subprocess.run(torchrun + args, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("done: step 3") == 1, result.stderr
    assert "x 2 processes" in result.stderr
    assert [m["step"] for m in read_metrics(run)] == [1, 3]


def test_torchrun_environment_is_detected():
    env = {"RANK": "1", "WORLD_SIZE": "4", "LOCAL_RANK": "1"}
    assert from_env(env) == Dist(1, 4, 1)
    assert from_env({}) is None
    assert from_env({"RANK": "0", "WORLD_SIZE": "1", "LOCAL_RANK": "0"}) is None  # one process: alone
    with pytest.raises(DistributedError):
        from_env({"RANK": "4", "WORLD_SIZE": "4", "LOCAL_RANK": "0"})
    assert Dist(1, 4, 1).rows(10) == slice(1, 10, 4)
    assert Dist(1, 4, 1).device(torch.device("cpu")) == torch.device("cpu")
    with pytest.raises(DistributedError, match="--device cuda"):
        Dist(1, 4, 1).device(torch.device("cuda", 0))
    with pytest.raises(DistributedError, match="not mps"):
        Dist(1, 4, 1).device(torch.device("mps"))
    if torch.cuda.device_count() > 1:
        assert Dist(1, 4, 1).device(torch.device("cuda")) == torch.device("cuda", 1)


def differing_worker(rank: int, port: int, out: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist = Dist(rank, 2, rank)
    dist.init(torch.device("cpu"))
    try:
        dist.check_same([torch.ones(3)], torch.device("cpu"), "weights")  # the same: passes
        try:
            dist.check_same([torch.ones(3) * (1 + rank * 1e-7)], torch.device("cpu"), "weights")
            message = "not refused"
        except DistributedError as e:
            message = str(e)
    finally:
        dist.close()
    Path(out, f"rank{rank}.txt").write_text(message)


def test_processes_holding_different_weights_are_refused(tmp_path):
    mp.spawn(differing_worker, (free_port(), str(tmp_path)), nprocs=2)
    for rank in range(2):
        assert (tmp_path / f"rank{rank}.txt").read_text() == "the 2 training processes hold different weights"
