"""The limiter's lanes: alerts use part of each window, replies the rest; a send counts
from its answer; a 429 blocks the chat for retry_after."""

from __future__ import annotations

from bot.flood import Limit, Window


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_alerts_leave_the_reserve_to_replies() -> None:
    clock = Clock()
    w = Window(Limit(3, 3.0, reserve=2), clock)
    assert w.wait_for(priority=False) == 0
    w.take(alert=True)
    assert w.wait_for(priority=False) == 3.0  # the one alert slot is used
    assert w.wait_for(priority=True) == 0  # a reply goes now...
    w.take()
    assert w.wait_for(priority=True) == 0  # ...and a second one
    w.take()
    assert w.wait_for(priority=True) == 3.0  # the platform's limit holds for everyone
    clock.t += 3.0
    assert w.wait_for(priority=False) == 0 and w.wait_for(priority=True) == 0


def test_replies_do_not_starve_alerts() -> None:
    """A person chatting every 2.5 s: alerts still get their slot each window."""
    clock = Clock()
    w = Window(Limit(3, 3.3, reserve=2), clock)
    sent_alerts = 0
    for step in range(100):  # 10 s in 0.1 s steps
        if step % 25 == 0 and w.wait_for(priority=True) == 0:
            w.take()
        if w.wait_for(priority=False) == 0:
            w.take(alert=True)
            sent_alerts += 1
        clock.t += 0.1
    assert sent_alerts == 3  # one per 3.3 s window: at 0, 3.3 and 6.6 s of 10 s


def test_a_send_counts_from_its_answer_and_429_blocks() -> None:
    clock = Clock()
    w = Window(Limit(1, 1.0), clock)
    entry = w.take()
    clock.t += 0.8  # a slow request: the server saw it somewhere in between
    w.done(entry)
    clock.t += 0.5
    assert w.wait_for(priority=True) > 0  # 1.3 s after the send, 0.5 s after its answer
    clock.t += 0.5
    assert w.wait_for(priority=True) == 0
    w.blocked_until = clock.t + 7
    assert w.wait_for(priority=True) == 7.0
