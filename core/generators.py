"""Long loads written once as generators of progress, run to the end where nobody watches."""

from __future__ import annotations

from collections.abc import Generator
from typing import TypeVar

T = TypeVar("T")


def drain(generator: Generator[object, None, T]) -> T:
    """Run a generator to its end and give its return value."""
    while True:
        try:
            next(generator)
        except StopIteration as stop:
            return stop.value
