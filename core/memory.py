"""The C allocator's thresholds, set once by the programs (the app and the command line).

By default glibc adapts two thresholds as a program runs: requests above one get fresh memory
mappings, and freed memory at the top of its heap goes back to the system once more than the
other is free there. A sparse model's forward pass allocates and frees a few MB of activations
per layer, and in the main thread this pattern kept handing pages back: every pass on the
paper-shaped model page-faulted 1,300 to 10,000 of them in again, a third of its time on a 2-core
VM (its dense twin's pass, none). Fixed thresholds (glibc then stops adapting them) serve
requests up to MMAP_BYTES from the heap and keep up to TRIM_BYTES of freed memory for reuse.
"""

from __future__ import annotations

import ctypes
import sys

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # mallopt's parameters, from glibc's malloc.h
MMAP_BYTES = 32 << 20  # glibc's own ceiling for its adaptive threshold
TRIM_BYTES = 64 << 20


def keep_freed_memory() -> bool:
    """Set the thresholds where the C library is glibc; whether they were set."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):  # another C library (musl)
        return False
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_BYTES)) and bool(mallopt(M_TRIM_THRESHOLD, TRIM_BYTES))
