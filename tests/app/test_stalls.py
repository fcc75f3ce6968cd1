import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_event_loop_stays_live_while_opening_a_freshly_trained_model():
    """Measured in a fresh app process: the longest stalls while the tiny preset trains in the
    worker, and while the trained model opens and its means are computed. Opening measures
    43-78 ms on 2 cores (target 100); the test fails above 150 ms, so that the run-to-run spread
    of a shared machine does not fail it. Training's first steps still stall ~125 ms once in a
    fresh process (first-time plot set-up on the GUI thread): printed, not yet asserted."""
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, str(Path(__file__).with_name("stall_probe.py"))],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    stalls = json.loads(result.stdout.strip().splitlines()[-1])
    print(f"longest event-loop stalls: {stalls}")
    assert stalls["opening_ms"] < 150, stalls
