import io

from core.commands.progress import LogProgress, format_duration


def test_a_piped_log_gets_a_few_plain_lines_with_an_estimate(monkeypatch):
    clock = iter(range(0, 10_000, 3))  # three seconds per call
    monkeypatch.setattr("core.commands.progress.time.monotonic", lambda: next(clock))
    out = io.StringIO()
    bar = LogProgress(100, "pruning", every_s=10, file=out)
    for _ in range(100):
        bar.update(1)
    bar.set_postfix(loss="0.12")
    bar.close()
    lines = out.getvalue().splitlines()
    assert 20 <= len(lines) <= 40 and "\r" not in out.getvalue()
    assert lines[0].startswith("pruning: 4/100") and "left" in lines[0]
    assert lines[-1].startswith("pruning: 100/100 (loss 0.12)") and "left" not in lines[-1]


def test_durations_read_like_a_person_writes_them():
    assert [format_duration(s) for s in (4.4, 75, 3725)] == ["4 s", "1 min 15 s", "1 h 02 min"]
