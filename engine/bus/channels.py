"""Channel and stream names, as the architecture notes fix them (one place, so a typo
in one process cannot silently split the traffic)."""

from __future__ import annotations


def market_data(symbol: str) -> str:
    """Pub/sub channel of one symbol's candles and ticks ("market_data:BTC/USDT")."""
    return f"market_data:{symbol.upper()}"


def bot_signals(bot_id: int | str) -> str:
    """Stream of one bot's strategy signals."""
    return f"bot_signals:{bot_id}"


def trade_updates(bot_id: int | str) -> str:
    """Stream of one bot's orders, fills and trade changes."""
    return f"trade_updates:{bot_id}"


def system_events() -> str:
    """Stream of breakers, job failures, reconciliation mismatches, alerts."""
    return "system_events"
