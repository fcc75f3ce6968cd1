"""A training run killed with SIGKILL, then resumed, gives the loss curve and the weights of a
run that was never interrupted."""

import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from core.cli import main
from core.formats import load_checkpoint
from core.train import METRICS_FILE, read_metrics


@pytest.fixture
def corpus(tmp_path):
    from core.data.corpus import generate_programs

    folder = tmp_path / "code"
    folder.mkdir()
    for i, program in enumerate(generate_programs(60, seed=3)):
        (folder / f"p{i}.py").write_text(program)
    return folder


def last_step(run) -> int:
    path = run / METRICS_FILE
    return max((m["step"] for m in read_metrics(run)), default=0) if path.exists() else 0


@pytest.mark.slow
@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
def test_kill_9_then_resume_gives_the_unbroken_run(tmp_path, corpus):
    args = ["train", "--corpus", str(corpus), "--preset", "tiny", "--steps", "160", "--quiet"]
    assert main([*args, "--out", str(tmp_path / "whole")]) == 0

    killed = tmp_path / "killed"
    # The same number of threads as this process, or the float sums, and the curve, differ.
    env = {**os.environ, "OMP_NUM_THREADS": str(torch.get_num_threads())}
    proc = subprocess.Popen([sys.executable, "-m", "core.cli", *args, "--out", str(killed)], env=env)
    deadline = time.monotonic() + 300
    while last_step(killed) < 120 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)  # past the checkpoint at step 100, before the last one at 160
    assert proc.poll() is None, "the run ended before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert last_step(killed) < 160

    assert main(["train", "--resume", "--quiet", "--out", str(killed)]) == 0
    whole, resumed = read_metrics(tmp_path / "whole"), read_metrics(killed)
    assert [m["step"] for m in resumed] == [m["step"] for m in whole]
    for a, b in zip(whole, resumed):
        assert a["loss"] == pytest.approx(b["loss"], abs=1e-6), a["step"]
    wa, wb = (load_checkpoint(r).model.state_dict() for r in (tmp_path / "whole", killed))
    for name in wa:
        torch.testing.assert_close(wa[name], wb[name], atol=1e-6, rtol=0)


def test_a_metrics_line_torn_by_a_kill_is_dropped(tmp_path):
    torn = '{"step": 1, "loss": 2.0}\n{"step": 2, "loss": 1.9}\n{"step": 3, "lo'
    (tmp_path / METRICS_FILE).write_text(torn)
    assert [m["step"] for m in read_metrics(tmp_path)] == [1, 2]


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
def test_kill_9_mid_prune_leaves_no_file(tmp_path):
    out = tmp_path / "c.json"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    argv = ["prune", "default", "--task", "single_double_quote", "--out", str(out)]
    command = [sys.executable, "-m", "core.cli", *argv]
    with subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True) as proc:
        started = time.monotonic()
        while "pruning" not in (proc.stderr.readline() or "pruning") and time.monotonic() - started < 120:
            pass  # until the masks are being optimised
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert list(tmp_path.iterdir()) == []  # neither the circuit nor a temporary file
