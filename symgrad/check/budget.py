"""A time budget for a long symbolic computation.

``tick()`` between units of work raises :class:`OutOfTime` once the limit has
passed; inside one long sympy call a SIGALRM (main thread, POSIX) raises it
too, so no single entry can hold a proof past its limit.
"""

from __future__ import annotations

import signal
import threading
import time


class OutOfTime(Exception):
    """The time limit passed."""


class Budget:
    def __init__(self, limit: float | None):
        self.limit = limit
        self.start = time.perf_counter()
        self._old = None

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def tick(self):
        if self.limit is not None and self.elapsed > self.limit:
            raise OutOfTime

    def _alarm(self, signum, frame):
        raise OutOfTime

    def _can_alarm(self) -> bool:
        return (self.limit is not None and hasattr(signal, "SIGALRM")
                and threading.current_thread() is threading.main_thread())

    def __enter__(self):
        if self._can_alarm():
            self._old = signal.signal(signal.SIGALRM, self._alarm)
            signal.setitimer(signal.ITIMER_REAL, max(self.limit - self.elapsed, 0.001))
        return self

    def __exit__(self, *exc):
        if self._old is not None:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, self._old)
            self._old = None
        return False
