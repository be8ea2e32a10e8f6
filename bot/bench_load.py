"""`bench chat` under alert load: replies first, and a burst delivered as digests.

Both run against the fake Bot API with Telegram's real flood limits switched on (a
429 + retry_after on any send beyond them), through the production limiter
(`bot.flood`) and the production notifier (`bot.notifier`):

- `queued_status`: 500 alerts are queued for each of the chats that then send
  /status at a person's pace (one message per alert: no digests, so the queue stays
  long); the reply must not wait behind them.
- `burst`: 1,000 alerts recorded at once for one chat, with the `[notify]` defaults
  (digests); measures the time until all are delivered, the messages it took, and
  checks that the digests' outbox id ranges are in order and cover every alert.
"""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any

from bot.digest import Policy
from bot.notifier import Destination, Notifier
from commands.reply import Reply
from engine.storage.config import NotifySettings

_RANGE = re.compile(r"^(\d+) alerts #(\d+)–#(\d+)")


def _fills(eng: Any, n: int, start_price: int = 1) -> list[int]:
    """Record `n` fill alerts (what the engine writes per fill); returns outbox ids."""
    from engine.storage.models import OutboxMessage

    ids: list[int] = []
    with eng.sessions.begin() as s:
        for i in range(n):
            m = OutboxMessage(event_id=f"bench-{time.time_ns()}-{i}", kind="fill", payload={
                "symbol": "BTC/USDT", "side": "buy", "amount": "0.001",
                "price": str(start_price + i), "fee": "0.06", "fee_currency": "USDT"})
            s.add(m)
            s.flush()
            ids.append(m.id or 0)
    return ids


class _OneChat:
    """The Telegram transport as a sink for one chat only (the burst's)."""

    transport = "telegram"
    ready = True

    def __init__(self, tg: Any, chat: int) -> None:
        self.tg, self.chat = tg, chat
        self.max_button_rows, self.max_chars = tg.max_button_rows, tg.max_chars

    def destinations(self) -> list[Destination]:
        return [Destination(f"telegram:{self.chat}", str(self.chat))]

    async def send(self, dest: Destination, reply: Reply, silent: bool = False) -> str:
        return str(await self.tg.send(dest, reply, silent=silent))

    async def edit(self, dest: Destination, ref: str, reply: Reply) -> None:
        await self.tg.edit(dest, ref, reply)


async def queued_status(fake: Any, eng: Any, tg: Any, users: list[str], queued: int,
                        n: int, pace: float, roundtrip: Any) -> dict[str, Any]:
    """/status round trips (ms) while `queued` alerts wait for each chat in `users`."""
    notifier = Notifier(eng, [_Users(tg, users)], poll_interval=0.05, policy=Policy(
        NotifySettings(digest_window_seconds=0, queue_max=100_000)))
    _fills(eng, queued, 100_000)
    notifier.plan()
    before = notifier.pending()
    lanes = tg.app.bot.rate_limiter.lanes
    lanes.reply_waits.clear()
    await notifier.start()
    times: list[float] = []
    try:
        for i in range(n):
            times.append(await roundtrip(int(users[i % len(users)]), "/status"))
            await asyncio.sleep(pace)
        left = notifier.pending()
    finally:
        await notifier.stop()
    waits = lanes.reply_waits
    return {"times": times, "queued_per_chat": queued, "chats": len(users),
            "reply_slot_wait_max_ms": round(max(waits, default=0.0) * 1000, 2),
            "slowest_ms": sorted(round(t, 1) for t in times)[-3:],
            "pending_before": before, "pending_after": left,
            "alerts_sent_meanwhile": before - left}


class _Users(_OneChat):
    """The Telegram transport as a sink for the given private chats."""

    def __init__(self, tg: Any, users: list[str]) -> None:
        super().__init__(tg, 0)
        self.users = users

    def destinations(self) -> list[Destination]:
        return [Destination(f"telegram:{u}", u) for u in self.users]


async def burst(fake: Any, eng: Any, tg: Any, chat: int, n: int,
                timeout: float = 120.0) -> dict[str, Any]:
    """`n` alerts at once to `chat` with the [notify] defaults: time to deliver them all,
    messages used, order and completeness of what arrived."""
    from sqlmodel import col, update

    from engine.storage.models import OutboxDelivery

    notifier = Notifier(eng, [_OneChat(tg, chat)], poll_interval=0.05,
                        policy=Policy(NotifySettings()))
    notifier.plan()  # what the other scenarios wrote is not for this chat: skip it
    with eng.sessions.begin() as s:
        s.execute(update(OutboxDelivery).where(
            col(OutboxDelivery.destination) == f"telegram:{chat}").values(state="skipped"))
    ids = _fills(eng, n, 1)
    notifier.plan()
    t0 = time.perf_counter()
    await notifier.start()
    try:
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        dest = f"telegram:{chat}"
        while notifier.pending(dest) and loop.time() < end:
            await asyncio.sleep(0.05)
        seconds = time.perf_counter() - t0
        left = notifier.pending(dest)
    finally:
        await notifier.stop()
    covered: list[int] = []
    in_order = True
    for m in fake.sent_to(chat):
        hit = _RANGE.match(m.text)
        if hit:
            lo, hi = int(hit.group(2)), int(hit.group(3))
            part = [i for i in ids if lo <= i <= hi]
            if len(part) != int(hit.group(1)):
                in_order = False
        else:  # a single alert: its price is its position in the burst
            price = re.search(r"@ ([\d,]+)", m.text)
            part = [ids[int(price.group(1).replace(",", "")) - 1]] if price else []
        if covered and part and part[0] <= covered[-1]:
            in_order = False
        covered.extend(part)
    return {"alerts": n, "seconds": round(seconds, 2), "messages": len(fake.sent_to(chat)),
            "undelivered": left, "in_order": in_order and covered == ids,
            "all_accounted": sorted(covered) == ids}
