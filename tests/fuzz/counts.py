"""How each fuzzed file kind's cases ended (shared by the tests and conftest's summary)."""

from collections import Counter

COUNTS: dict[str, Counter] = {}


def record(kind: str, outcome: str) -> None:
    COUNTS.setdefault(kind, Counter())[outcome] += 1
