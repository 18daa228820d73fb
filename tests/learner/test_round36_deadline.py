"""learner.deadline.Deadline, driven by a fake clock passed in: when it expires (strictly past its
seconds), that it stays expired, what it reads from the clock, and no budget at all."""
import math

from learner.deadline import Deadline


class FakeClock:
    """A clock that moves only when told, and counts how often it was read."""

    def __init__(self, now: float = 100.0):
        self.now = now
        self.reads = 0

    def __call__(self) -> float:
        self.reads += 1
        return self.now


def test_expires_strictly_after_its_seconds_and_stays_expired():
    clock = FakeClock()
    deadline = Deadline(2.0, clock=clock)
    assert not deadline.expired() and not deadline.passed
    clock.now = 102.0  # exactly at the deadline: not past it yet
    assert not deadline.expired()
    clock.now = 102.5
    assert deadline.expired() and deadline.passed
    clock.now = 100.0  # a clock that went back does not bring the budget back
    assert deadline.expired()


def test_zero_seconds_is_spent_at_the_next_tick():
    clock = FakeClock()
    deadline = Deadline(0, clock=clock)
    assert not deadline.expired()
    clock.now += 1e-9
    assert deadline.expired()


def test_once_expired_the_clock_is_not_read_again():
    clock = FakeClock()
    deadline = Deadline(1.0, clock=clock)
    clock.now = 200.0
    assert deadline.expired()
    reads = clock.reads
    for _ in range(1000):
        assert deadline.expired()
    assert clock.reads == reads


def test_remaining_and_elapsed():
    clock = FakeClock()
    deadline = Deadline(5.0, clock=clock)
    clock.now = 101.5
    assert deadline.remaining == 3.5 and deadline.elapsed() == 1.5
    clock.now = 110.0
    assert deadline.remaining == 0.0 and deadline.elapsed() == 10.0
    assert deadline.expired() and deadline.remaining == 0.0


def test_no_budget_never_expires_and_never_reads_the_clock_to_say_so():
    clock = FakeClock()
    deadline = Deadline(None, clock=clock)
    assert clock.reads == 1  # its start, for elapsed()
    clock.now = 1e12
    assert not deadline.expired() and deadline.remaining == math.inf and deadline.seconds is None
    assert clock.reads == 1
    assert deadline.elapsed() == 1e12 - 100.0
