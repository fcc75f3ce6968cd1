"""A long session: thousands of ablations and undos leave the outputs exactly as they were,
and memory flat."""

import gc

import numpy as np
import psutil
import pytest
from PySide6.QtWidgets import QApplication


@pytest.mark.slow
def test_2000_ablate_undo_cycles_restore_the_outputs_and_keep_memory_flat(window):
    s = window.session
    baseline = s.current.probs.copy()
    nodes = s.circuit.nodes
    process = psutil.Process()
    rss = {}
    for cycle in range(2000):
        s.ablate("node", [nodes[cycle % len(nodes)]], "zero" if cycle % 2 else "mean")
        assert s.interventions
        s.undo_stack.undo()
        if cycle % 10 == 0:
            QApplication.processEvents()  # paints, timers, late reports: as a user's session has
        if cycle in (200, 1999):
            gc.collect()
            rss[cycle] = process.memory_info().rss
        if cycle % 250 == 0:
            np.testing.assert_array_equal(s.current.probs, baseline)
    np.testing.assert_array_equal(s.current.probs, baseline)
    assert s.interventions == []
    grown_mb = (rss[1999] - rss[200]) / 2**20
    print(f"memory grew {grown_mb:.1f} MB over 1,800 ablate/undo cycles")
    assert grown_mb < 50
