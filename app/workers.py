"""Long work off the GUI thread: a core generator driven in a QThread.

The worker steps the generator, checks for cancel and pause between items, and reports
through signals (throttled, so the GUI sees a few dozen updates a second at most). Only plain
data crosses threads. The generators are core's pipelines (core/pipelines/).

A job that runs a model runs the GUI's own model object: installed hooks belong to the thread
that installed them (core/hooks.py), so neither side sees the other's ablations, and the
weights are read-only.
"""

from __future__ import annotations

import os
import threading
import time
import traceback
from collections.abc import Callable, Iterator

from PySide6.QtCore import QObject, Qt, QThread, Signal


def yield_to_the_gui() -> None:
    """Lower the calling thread's priority (Linux: per-thread nice), so that when cores are
    scarce the scheduler runs the GUI thread first; elsewhere the default priority stays."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 5)
    except (AttributeError, OSError):
        pass


class GeneratorWorker(QObject):
    yielded = Signal(object)
    errored = Signal(str)
    finished = Signal(bool)  # True if it ran to the end, False if cancelled or failed

    def __init__(self, make: Callable[[], Iterator], min_interval_s: float = 0.03):
        super().__init__()
        self._make = make
        self._cancel = threading.Event()
        self._resume = threading.Event()
        self._resume.set()
        self.min_interval_s = min_interval_s

    def cancel(self) -> None:
        self._cancel.set()
        self._resume.set()

    def pause(self, paused: bool) -> None:
        (self._resume.clear if paused else self._resume.set)()

    @property
    def paused(self) -> bool:
        return not self._resume.is_set()

    def run(self) -> None:
        yield_to_the_gui()
        completed = False
        last_emit, pending = 0.0, None
        try:
            generator = self._make()
            try:
                for item in generator:
                    now = time.monotonic()
                    if now - last_emit >= self.min_interval_s or not _frequent(item):
                        self.yielded.emit(item)
                        last_emit, pending = now, None
                    else:
                        pending = item
                    self._resume.wait()
                    if self._cancel.is_set():
                        break
                else:
                    completed = True
            finally:
                generator.close()  # a cancelled training run saves its checkpoint here
            if pending is not None:
                self.yielded.emit(pending)
        except Exception as e:  # reported to the user, never a crash of the app
            self.errored.emit(f"{e}\n\n{traceback.format_exc(limit=3)}")
        finally:
            self.finished.emit(completed)


def _frequent(item) -> bool:
    """Per-step progress, which may be thinned out; everything else (a training step whose loss
    was read back included) is always delivered."""
    if getattr(item, "kind", None) == "step":
        return not getattr(item, "logged", False)
    return getattr(item, "phase", None) == "optimize"


class WorkerHandle:
    """A worker and its thread; `stop()` cancels and waits."""

    def __init__(self, worker: GeneratorWorker):
        self.worker = worker
        self.thread = QThread()
        worker.moveToThread(self.thread)
        self.thread.started.connect(worker.run)
        # Direct: quit() is thread-safe, and stop() may be blocking the GUI thread in wait().
        worker.finished.connect(self.thread.quit, Qt.DirectConnection)

    def start(self) -> "WorkerHandle":
        self.thread.start()
        return self

    def running(self) -> bool:
        return self.thread.isRunning()

    def stop(self, timeout_ms: int = 5000) -> bool:
        self.worker.cancel()
        return self.thread.wait(timeout_ms)


def start_worker(make: Callable[[], Iterator], yielded=None, errored=None, finished=None) -> WorkerHandle:
    """Start `make()` in a worker thread. The slots given are connected before the thread
    starts, so that no early report is missed; they should be methods of objects living on
    the GUI thread (a lambda would run on the worker's thread)."""
    handle = WorkerHandle(GeneratorWorker(make))
    for signal, slot in (
        (handle.worker.yielded, yielded),
        (handle.worker.errored, errored),
        (handle.worker.finished, finished),
    ):
        if slot is not None:
            signal.connect(slot)
    return handle.start()


class LatestWorker:
    """The one current job of a kind. Starting or cancelling retires the previous job; its
    late reports are told apart with `is_current(self.sender())`. Handles are kept until
    their threads end (a QThread must outlive its thread)."""

    def __init__(self):
        self.handle: WorkerHandle | None = None
        self._retired: list[WorkerHandle] = []

    def start(self, make: Callable[[], Iterator], yielded, errored, finished) -> WorkerHandle:
        self.cancel()
        self.handle = start_worker(make, yielded, errored, finished)
        return self.handle

    def running(self) -> bool:
        return self.handle is not None

    def is_current(self, sender) -> bool:
        return self.handle is not None and sender is self.handle.worker

    def cancel(self) -> None:
        if self.handle is not None:
            self.handle.worker.cancel()
            self.release()

    def release(self) -> None:
        """The current job is over (or no longer wanted): nothing it reports is current."""
        self._retired = [h for h in self._retired if h.running()]
        if self.handle is not None:
            self._retired.append(self.handle)
        self.handle = None

    def stop(self, timeout_ms: int = 5000) -> bool:
        """Cancel and wait for every thread still running."""
        self.cancel()
        return all(h.stop(timeout_ms) for h in self._retired)
