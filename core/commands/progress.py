"""Progress for the command line: a tqdm bar on a terminal; on a pipe or a log file, a plain
line every few seconds (with the elapsed time and an estimate of what is left), never a flood
of carriage returns."""

from __future__ import annotations

import sys
import time

from tqdm import tqdm


def format_duration(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


class LogProgress:
    """The part of tqdm's interface the commands use, printed as occasional log lines."""

    def __init__(self, total: int, desc: str, initial: int = 0, every_s: float = 10.0, file=None):
        self.total, self.desc, self.n = total, desc, initial
        self.every_s, self.file = every_s, file or sys.stderr
        self.start = time.monotonic()
        self.first = initial
        self.last_print = self.start
        self.postfix = ""
        self.printed = (initial, "")

    def update(self, k: int = 1) -> None:
        self.n += k
        now = time.monotonic()
        if now - self.last_print >= self.every_s:
            self.last_print = now
            self._print()

    def set_postfix(self, **values) -> None:
        self.postfix = ", ".join(f"{k} {v}" for k, v in values.items())

    def set_description(self, desc: str) -> None:
        self.desc = desc

    def _print(self) -> None:
        elapsed = time.monotonic() - self.start
        done = self.n - self.first
        eta = ""
        if 0 < done and self.n < self.total:
            eta = f", about {format_duration(elapsed / done * (self.total - self.n))} left"
        self.printed = (self.n, self.postfix)
        extra = f" ({self.postfix})" if self.postfix else ""
        print(
            f"{self.desc}: {self.n}/{self.total}{extra}, {format_duration(elapsed)}{eta}",
            file=self.file,
            flush=True,
        )

    def close(self) -> None:
        if (self.n, self.postfix) != self.printed:
            self._print()


def progress_bar(total: int, desc: str, enabled: bool = True, initial: int = 0, unit: str = "step"):
    """A tqdm bar when stderr is a terminal, else LogProgress; `enabled=False`: silent."""
    if enabled and not sys.stderr.isatty():
        return LogProgress(total, desc, initial)
    return tqdm(
        total=total,
        desc=desc,
        initial=initial,
        unit=unit,
        disable=not enabled,
        file=sys.stderr,
        dynamic_ncols=True,
    )


def run_with_progress(generator, desc: str, enabled: bool = True, unit: str = "tensor"):
    """Drive a generator of (done, total) to its end, with a bar once it reports (a model whose
    weights are read in one piece reports nothing, and shows none); returns its value."""
    bar = None
    try:
        while True:
            try:
                done, total = next(generator)
            except StopIteration as stop:
                return stop.value
            if bar is None:
                bar = progress_bar(total, desc, enabled, unit=unit)
            bar.update(done - bar.n)
    finally:
        if bar is not None:
            bar.close()
