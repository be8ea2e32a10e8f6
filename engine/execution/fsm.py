"""Transition tables: `(state, trigger) -> next`; a missing pair raises.

The proposal and order lifecycles are data, not if-chains, so the whole machine can be
read (and tested) at a glance (NautilusTrader `core/fsm.pyx`).
"""

from __future__ import annotations

from collections.abc import Mapping

from engine.errors import InvalidStateTrigger


class FSM:
    """A named transition table."""

    def __init__(self, name: str, table: Mapping[tuple[str, str], str]) -> None:
        self.name = name
        self.table = dict(table)

    def next(self, state: str, trigger: str) -> str:
        try:
            return self.table[(str(state), str(trigger))]
        except KeyError:
            raise InvalidStateTrigger(self.name, str(state), str(trigger)) from None

    def allows(self, state: str, trigger: str) -> bool:
        return (str(state), str(trigger)) in self.table
