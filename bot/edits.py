"""Editing delivered proposal messages when someone decides (part of the notifier).

A decision made in one chat is shown in every chat that got the proposal: each
delivered copy is edited in place, and a copy that is one row of a digest redraws the
whole digest (the other rows keep their state), never a single card over it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from sqlmodel import col, select

from bot.outcomes import mask
from commands.reply import Reply
from engine.storage.models import DeliveryState, OutboxDelivery, OutboxMessage

log = logging.getLogger("sentitrade.notifier")


class ProposalEdits:
    """Mixed into `bot.notifier.Notifier` (its api, routes and rendering)."""

    api: Any

    def _routes(self) -> list[tuple[Any, Any]]:
        raise NotImplementedError

    def _render(self, sink: Any, msgs: Sequence[OutboxMessage]) -> Reply:
        raise NotImplementedError

    def digest_for(self, dest_key: str, ref: str) -> Reply | None:
        """The digest message `ref` in `dest_key` rendered again (proposal states as
        they are now), or None when `ref` is a single alert. A decision on one row of a
        digest must not replace the other rows with a single card."""
        with self.api.sessions() as s:
            rows = s.exec(select(OutboxMessage)
                          .join(OutboxDelivery,
                                col(OutboxMessage.id) == col(OutboxDelivery.outbox_id))
                          .where(OutboxDelivery.destination == dest_key,
                                 OutboxDelivery.external_ref == ref)
                          .order_by(col(OutboxMessage.id))).all()
        if len(rows) < 2:
            return None
        sink = next((sk for sk, d in self._routes() if d.key == dest_key), None)
        return self._render(sink, list(rows))

    async def proposal_decided(self, proposal_id: int, reply: Reply,
                               skip: str | None = None) -> int:
        """Edit every delivered copy of proposal `proposal_id` (but `skip`, the one the
        deciding transport already edited); returns how many were edited."""
        by_key = {d.key: (sink, d) for sink, d in self._routes()}
        with self.api.sessions() as s:
            rows = s.exec(select(OutboxDelivery, OutboxMessage)
                          .join(OutboxMessage,
                                col(OutboxMessage.id) == col(OutboxDelivery.outbox_id))
                          .where(OutboxMessage.kind == "proposal",
                                 OutboxDelivery.state == DeliveryState.DELIVERED)
                          .order_by(col(OutboxMessage.id).desc()).limit(500)).all()
        edited = 0
        for d, m in rows:
            if str(m.payload.get("proposal_id")) != str(proposal_id) or d.external_ref is None:
                continue
            if d.destination == skip or d.destination not in by_key:
                continue
            sink, dest = by_key[d.destination]
            try:
                await sink.edit(dest, d.external_ref,
                                self.digest_for(d.destination, d.external_ref) or reply)
                edited += 1
            except Exception as e:
                log.warning("could not edit proposal message in %s: %s", d.destination,
                            mask(str(e)))
        return edited
