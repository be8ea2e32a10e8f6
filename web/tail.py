"""The outbox seen from another process (`sentitrade api`, dashboard only).

In `sentitrade run` the hub hears the engine's commits directly. A dashboard-only
process shares nothing with the engine but the database, so it follows the outbox by
id: one indexed query a second that returns nothing while nothing happens. (Redis
pub/sub would replace this when the engine publishes there.)
"""

from __future__ import annotations

import asyncio
import logging

from sqlmodel import col, func, select

from engine.storage.models import OutboxMessage
from web.deps import WebContext
from web.hub import outbox_message

log = logging.getLogger("sentitrade.web")


async def tail_outbox(ctx: WebContext, every_s: float = 1.0) -> None:
    sessions = ctx.api.sessions
    with sessions() as s:
        last = int(s.exec(select(func.max(OutboxMessage.id))).one() or 0)
    while True:
        await asyncio.sleep(every_s)
        try:
            with sessions() as s:
                rows = s.exec(select(OutboxMessage).where(col(OutboxMessage.id) > last)
                              .order_by(col(OutboxMessage.id)).limit(500)).all()
        except Exception:
            log.exception("reading the outbox failed; retrying")
            continue
        for r in rows:
            last = max(last, r.id or 0)
            ctx.hub.publish(outbox_message(r))
