"""The allocator thresholds the programs set (core/memory.py)."""

import platform
import sys

import pytest
import torch

from core.memory import keep_freed_memory


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_thresholds_are_set_and_allocation_still_works():
    assert keep_freed_memory() == (platform.libc_ver()[0] == "glibc")
    tensors = [torch.ones(1 << s) for s in range(10, 24)]
    assert sum(int(t.sum()) for t in tensors) == sum(1 << s for s in range(10, 24))


def test_elsewhere_nothing_is_set(monkeypatch):
    monkeypatch.setattr(sys, "platform", "darwin")
    assert keep_freed_memory() is False
