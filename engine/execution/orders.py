"""The order state machine (design: PENDING_CREATE -> OPEN -> ... -> FILLED).

Triggers are what we learn about an order: it was `accepted` by the exchange, got a
`partial` or a `fill`, we asked to `cancel`, it was `canceled`, or it `failed`
(rejected, or never reached the exchange). A market order that fills at once goes
PENDING_CREATE --fill--> FILLED directly.
"""

from __future__ import annotations

from enum import StrEnum

from engine.execution.fsm import FSM
from engine.storage.models import OrderState as S


class OrderTrigger(StrEnum):
    ACCEPT = "accept"
    PARTIAL = "partial"
    FILL = "fill"
    CANCEL = "cancel"
    CANCELED = "canceled"
    FAIL = "fail"


T = OrderTrigger

NEXT: dict[tuple[str, str], str] = {
    (S.PENDING_CREATE, T.ACCEPT): S.OPEN,
    (S.PENDING_CREATE, T.PARTIAL): S.PARTIALLY_FILLED,
    (S.PENDING_CREATE, T.FILL): S.FILLED,
    (S.PENDING_CREATE, T.FAIL): S.FAILED,
    (S.PENDING_CREATE, T.CANCELED): S.CANCELED,
    (S.OPEN, T.PARTIAL): S.PARTIALLY_FILLED,
    (S.OPEN, T.FILL): S.FILLED,
    (S.OPEN, T.CANCEL): S.PENDING_CANCEL,
    (S.OPEN, T.CANCELED): S.CANCELED,
    (S.OPEN, T.FAIL): S.FAILED,
    (S.PARTIALLY_FILLED, T.PARTIAL): S.PARTIALLY_FILLED,
    (S.PARTIALLY_FILLED, T.FILL): S.FILLED,
    (S.PARTIALLY_FILLED, T.CANCEL): S.PENDING_CANCEL,
    (S.PARTIALLY_FILLED, T.CANCELED): S.CANCELED,
    (S.PENDING_CANCEL, T.PARTIAL): S.PENDING_CANCEL,
    (S.PENDING_CANCEL, T.FILL): S.FILLED,  # the fill won the race with the cancel
    (S.PENDING_CANCEL, T.CANCELED): S.CANCELED,
    (S.PENDING_CANCEL, T.ACCEPT): S.OPEN,  # cancel refused: still working
}

ORDER_FSM = FSM("order", NEXT)
TERMINAL = frozenset({S.FILLED, S.CANCELED, S.FAILED})
ACTIVE = frozenset({S.PENDING_CREATE, S.OPEN, S.PARTIALLY_FILLED, S.PENDING_CANCEL})
