"""The outbox's bus destination: every committed alert, appended to a durable stream.

The outbox already guarantees an alert exists iff its fact committed, and retries a
destination until it takes the alert; making the bus one more destination gives the
other processes (chat, API, a second engine) every alert at least once, in outbox
order, with the event id to drop a repeat. Order and fill updates go to
``trade_updates:{bot}`` when the alert names its bot, everything else to
``system_events``; and every alert to ``alerts`` (what a chat process consumes).
"""

from __future__ import annotations

from engine.bus.base import EventBus
from engine.bus.channels import system_events, trade_updates
from engine.bus.codec import envelope
from engine.storage.models import OutboxMessage

ALERTS = "alerts"
_TRADE_KINDS = {"fill", "order_canceled", "order_failed", "proposal", "proposal_decided"}


class BusNotifier:
    name = "bus"

    def __init__(self, bus: EventBus) -> None:
        self.bus = bus

    async def send(self, message: OutboxMessage) -> str | None:
        payload = message.payload
        data = envelope(str(payload.get("type", message.kind)), payload)
        eid = await self.bus.append(ALERTS, data)
        bot = payload.get("bot")
        if message.kind in _TRADE_KINDS and bot:
            await self.bus.append(trade_updates(str(bot)), data)
        elif message.kind not in _TRADE_KINDS:
            await self.bus.append(system_events(), data)
        return eid
