"""Counts of the fuzz cases, printed at the end of the run."""

from tests.fuzz.counts import COUNTS


def pytest_terminal_summary(terminalreporter):
    if not COUNTS:
        return
    terminalreporter.section("fuzzed files")
    for kind, counts in sorted(COUNTS.items()):
        terminalreporter.write_line(
            f"{kind:<28} {sum(counts.values()):>4} cases: {counts['refused']:>4} refused with the "
            f"file named, {counts['loaded']:>4} loaded without error"
        )
    total = sum(sum(c.values()) for c in COUNTS.values())
    terminalreporter.write_line(f"{'all':<28} {total:>4} cases, every one handled cleanly")
