"""A time budget counted from its creation: rule matching over a pool, the rule preview and the
annotation page's highlighting each stop once theirs is spent. Plain Python, no Django.

The clock is a parameter (``time.monotonic`` unless told) so a test can drive it. How often to
look is the caller's: matching reads the clock every CLOCK_EVERY texts from the row number it
already counts (restarting at each rule), which a call counter kept here could not reproduce."""
from __future__ import annotations

import math
import time
from collections.abc import Callable


class Deadline:
    """``seconds`` from now by ``clock``; ``None`` never expires (matching without a budget).
    Once a look at the clock found it passed it stays expired (``passed``), so what was cut
    short says so however often it is asked, and a clock is not read again for it."""

    def __init__(self, seconds: float | None, *, clock: Callable[[], float] = time.monotonic):
        self.seconds = None if seconds is None else float(seconds)
        self._clock = clock
        self.started = clock()
        self._at = None if self.seconds is None else self.started + self.seconds
        self.passed = False

    def expired(self) -> bool:
        """Whether the budget is spent: past it, strictly (a budget of 0 is spent at the next
        tick of the clock, not at once)."""
        if not self.passed and self._at is not None:
            self.passed = self._clock() > self._at
        return self.passed

    @property
    def remaining(self) -> float:
        """Seconds left (0.0 once spent; infinite without a budget)."""
        if self._at is None:
            return math.inf
        return 0.0 if self.passed else max(0.0, self._at - self._clock())

    def elapsed(self) -> float:
        """Seconds since the deadline was made."""
        return self._clock() - self.started
