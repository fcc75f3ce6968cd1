import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_event_loop_stays_live_while_training_and_opening_the_trained_model():
    """Measured in a fresh app process: the longest stalls while the tiny preset trains in the
    worker, and while the trained model opens and its means are computed. On 2 cores, training
    measures 40-80 ms on a quiet machine (180-260 ms before workers yielded to the GUI thread
    and the optimizer's big first import ran with the collector paused; 60-170 ms while other
    jobs load the machine), opening 43-78 ms. Both fail above 150 ms, for the run-to-run spread
    of a shared machine; the target is 100."""
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
    assert stalls["training_ms"] < 150, stalls
    assert stalls["opening_ms"] < 150, stalls
