"""Order types, time in force, and where each one runs (natively or emulated).

One vocabulary for every broker: `market`, `limit`, `stop_market`, `stop_limit`,
`take_profit` (market once triggered), `take_profit_limit`, `trailing_stop` (market
once the price retraces `trailing_pct` percent from the best price since placement);
time in force `GTC`, `IOC`, `FOK`, plus `post_only` (a maker-only limit).

The capability table says, per exchange, whether the exchange holds an order type
itself (`native`) or the engine holds it and sends a plain market/limit order when it
triggers (`emulated`, `engine.execution.emulation`). It is derived from ccxt's unified
`exchange.features` (what its `createOrder` maps: `triggerPrice`, `stopLossPrice`,
`takeProfitPrice`, `trailing`, `timeInForce`), so the same rule that decides how an
order is sent is the one the chat prints (`describe`).

The trigger arithmetic (`check_trigger`) is shared by the paper broker and the
emulator: a stop fires on the candle's low/high when the quote has one, else the last
price, so paper, emulation and the backtest agree on when a stop is hit.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

MARKET, LIMIT = "market", "limit"
STOP_MARKET, STOP_LIMIT = "stop_market", "stop_limit"
TAKE_PROFIT, TAKE_PROFIT_LIMIT = "take_profit", "take_profit_limit"
TRAILING_STOP = "trailing_stop"
ORDER_TYPES = (MARKET, LIMIT, STOP_MARKET, STOP_LIMIT, TAKE_PROFIT, TAKE_PROFIT_LIMIT,
               TRAILING_STOP)
CONDITIONAL = frozenset({STOP_MARKET, STOP_LIMIT, TAKE_PROFIT, TAKE_PROFIT_LIMIT,
                         TRAILING_STOP})
LIMIT_PRICED = frozenset({LIMIT, STOP_LIMIT, TAKE_PROFIT_LIMIT})  # carry a limit price
TIME_IN_FORCE = ("GTC", "IOC", "FOK")
LABELS = {MARKET: "market", LIMIT: "limit", STOP_MARKET: "stop-market",
          STOP_LIMIT: "stop-limit", TAKE_PROFIT: "take-profit",
          TAKE_PROFIT_LIMIT: "take-profit-limit", TRAILING_STOP: "trailing stop"}
ALIASES = {"stop": STOP_MARKET, "stop-market": STOP_MARKET, "stop_loss": STOP_MARKET,
           "stop-limit": STOP_LIMIT, "stop_loss_limit": STOP_LIMIT,
           "take-profit": TAKE_PROFIT, "take_profit_market": TAKE_PROFIT,
           "take-profit-limit": TAKE_PROFIT_LIMIT, "trailing": TRAILING_STOP,
           "trailing-stop": TRAILING_STOP}


def underlying(type_: str) -> str:
    """What a conditional order becomes once it fires: a market or a limit order."""
    return LIMIT if type_ in LIMIT_PRICED else MARKET


def normalize_type(name: str) -> str:
    """Our name for an order type (accepts the dashed and exchange spellings)."""
    n = name.strip().lower()
    n = ALIASES.get(n, n)
    if n not in ORDER_TYPES:
        raise ValueError(f"unknown order type {name!r}: use one of {', '.join(ORDER_TYPES)}")
    return n


def validate(type_: str, *, price: Decimal | None, trigger_price: Decimal | None,
             trailing_pct: Decimal | None, time_in_force: str, post_only: bool) -> str | None:
    """Why this combination cannot be an order (one line), or None when it can."""
    if type_ not in ORDER_TYPES:
        return f"unknown order type {type_!r}"
    if time_in_force not in TIME_IN_FORCE:
        return f"unknown time in force {time_in_force!r}: use GTC, IOC or FOK"
    if type_ in LIMIT_PRICED and (price is None or price <= 0):
        return f"a {LABELS[type_]} order needs a positive limit price"
    if type_ in CONDITIONAL - {TRAILING_STOP} and (trigger_price is None or trigger_price <= 0):
        return f"a {LABELS[type_]} order needs a positive trigger (stop) price"
    if type_ == TRAILING_STOP and (trailing_pct is None or not 0 < trailing_pct < 100):
        return "a trailing stop needs a callback percent between 0 and 100"
    if post_only and (type_ != LIMIT or time_in_force != "GTC"):
        return "post-only applies to a GTC limit order only"
    if type_ == MARKET and time_in_force == "FOK":
        return "a market order cannot be fill-or-kill here: use a FOK limit order"
    return None


# ---------------------------------------------------------------- triggers
@dataclass(frozen=True, slots=True)
class TriggerCheck:
    fired: bool
    ref: Decimal | None  # the trailing reference after this quote (best price so far)
    level: Decimal | None  # the price at which it fired (the stop level crossed)


def stop_level(type_: str, side: str, trigger_price: Decimal | None,
               trailing_pct: Decimal | None, ref: Decimal | None) -> Decimal | None:
    """The price that fires the order now (for a trailing stop: from the best price)."""
    if type_ != TRAILING_STOP:
        return trigger_price
    if ref is None or trailing_pct is None:
        return None
    k = trailing_pct / Decimal(100)
    return ref * (1 - k) if side == "sell" else ref * (1 + k)


def check_trigger(type_: str, side: str, *, trigger_price: Decimal | None,
                  trailing_pct: Decimal | None, ref: Decimal | None, last: Decimal,
                  high: Decimal | None = None, low: Decimal | None = None) -> TriggerCheck:
    """Has a conditional order fired on this quote?

    A stop (stop-market, stop-limit, trailing) sells when the price falls to its level
    and buys when it rises to it; a take-profit the reverse. The candle's high/low are
    used when known (a wick that touched the level fires it, as on an exchange that saw
    every trade), else the last price. A trailing stop first moves its reference to the
    best price of this quote (the high for a sell), then tests the low against the
    level from it: within one candle the order of high and low is unknown, and the
    cautious reading for a protective stop is that it fired.
    """
    hi = high if high is not None else last
    lo = low if low is not None else last
    if type_ == TRAILING_STOP:
        activation = trigger_price
        if ref is None:
            if activation is not None:  # trails only once the activation price is seen
                reached = hi >= activation if side == "sell" else lo <= activation
                if not reached:
                    return TriggerCheck(False, None, None)
            ref = hi if side == "sell" else lo
        else:
            ref = max(ref, hi) if side == "sell" else min(ref, lo)
    level = stop_level(type_, side, trigger_price, trailing_pct, ref)
    if level is None:
        return TriggerCheck(False, ref, None)
    falling = (side == "sell") != (type_ in (TAKE_PROFIT, TAKE_PROFIT_LIMIT))
    fired = lo <= level if falling else hi >= level
    return TriggerCheck(fired, ref, level if fired else None)


# ---------------------------------------------------------------- capabilities
NATIVE, EMULATED = "native", "emulated"


@dataclass(frozen=True, slots=True)
class Capabilities:
    """How one exchange runs each order type and time in force."""

    exchange: str
    types: dict[str, str]  # order type -> native | emulated
    time_in_force: dict[str, bool]  # GTC/IOC/FOK/PO -> supported natively

    def native(self, type_: str) -> bool:
        return self.types.get(type_) == NATIVE

    def lines(self) -> list[str]:
        out = [f"{LABELS[t]}: {self.types[t]} on {self.exchange}" for t in ORDER_TYPES]
        tif = [k for k in ("GTC", "IOC", "FOK", "PO") if self.time_in_force.get(k)]
        out.append(f"time in force: {', '.join(tif) or 'GTC'}"
                   + (" (PO = post-only)" if "PO" in tif else ""))
        return out


def _spot_create(exchange: Any) -> dict[str, Any]:
    feats = getattr(exchange, "features", None) or {}
    spot = feats.get("spot") if isinstance(feats, dict) else None
    create = (spot or {}).get("createOrder") if isinstance(spot, dict) else None
    return create if isinstance(create, dict) else {}


def capabilities(exchange: Any, *, overrides: dict[str, str] | None = None) -> Capabilities:
    """The capability table of a ccxt exchange (or the paper broker: `exchange` None or
    "paper" -> everything native, the paper broker simulates each type itself).

    Derived from ccxt's `features.spot.createOrder`: `triggerPrice`/`stopLossPrice`
    make stops native, `takeProfitPrice` take-profits, `trailing` trailing stops;
    anything ccxt cannot map is emulated by the engine. `overrides` (type -> native |
    emulated) lets a deployment force emulation (or trust a native mapping)."""
    name = exchange if isinstance(exchange, str) else str(getattr(exchange, "id", "paper"))
    if exchange is None or name == "paper":
        types = {t: NATIVE for t in ORDER_TYPES}
        return Capabilities("paper", types, {"GTC": True, "IOC": True, "FOK": True, "PO": True})
    c = _spot_create(exchange)
    stop = bool(c.get("stopLossPrice") or c.get("triggerPrice"))
    tp = bool(c.get("takeProfitPrice") or c.get("triggerPrice"))
    trailing = bool(c.get("trailing"))
    types = {MARKET: NATIVE, LIMIT: NATIVE,
             STOP_MARKET: NATIVE if stop else EMULATED, STOP_LIMIT: NATIVE if stop else EMULATED,
             TAKE_PROFIT: NATIVE if tp else EMULATED,
             TAKE_PROFIT_LIMIT: NATIVE if tp else EMULATED,
             TRAILING_STOP: NATIVE if trailing else EMULATED}
    for k, v in (overrides or {}).items():
        if k in types and v in (NATIVE, EMULATED) and k not in (MARKET, LIMIT):
            types[k] = v
    raw_tif = c.get("timeInForce") or {}
    tif = {k: bool(raw_tif.get(k)) for k in ("IOC", "FOK", "PO")} if isinstance(
        raw_tif, dict) else {}
    tif["GTC"] = True
    return Capabilities(name, types, tif)


def describe(exchange: Any) -> str:
    """One line per order type, for the chat: "stop-limit: native on binance"."""
    return "\n".join(capabilities(exchange).lines())
