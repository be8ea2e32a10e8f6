"""Pair locks from Freqtrade's protections, which traders know: CooldownPeriod,
StoplossGuard, LowProfitPairs, MaxDrawdown.

Freqtrade evaluates each protection when a trade closes, over the trades closed within
its look-back, and locks a pair (or all pairs) for a duration from that moment, the end
rounded up to the next candle. Here a lock is derived from the closed trades themselves:
every trade close ``c`` is a moment at which a protection may trigger, over the trades
closed in ``(c - lookback, c]``, with the lock ending at ``c + stop_duration`` rounded up
to the candle. Derived this way, the same history always gives the same locks: a
restart, a replay or a second process cannot lose or double one.

`ProtectionDesk.blocked` is asked before every entry proposal; a lock found for the
first time is stored (``pair_locks``) with an alert; `/locks` lists the active ones and
`/unlock` ends one early (its row stays, so the same trigger does not lock again).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from engine.clock import ms_to_dt
from engine.data.candles import timeframe_ms
from engine.events import PairLocked, record
from engine.storage.config import ProtectionSpec
from engine.storage.models import PairLock, Trade

STOP_REASONS = frozenset({"stop_loss", "stoploss_on_exchange", "trailing_stop_loss",
                          "liquidation"})


@dataclass(frozen=True, slots=True)
class Closed:
    """A closed trade as the protections read it."""

    pair: str
    close_at: datetime
    profit_ratio: float
    exit_reason: str


@dataclass(frozen=True, slots=True)
class Lock:
    pair: str          # "*" = every pair
    until: datetime
    rule: str
    reason: str


def _ceil_candle(t: datetime, tf_ms: int) -> datetime:
    ms = t.timestamp() * 1000
    return ms_to_dt(int(math.ceil(ms / tf_ms) * tf_ms))


def _max_drawdown(ratios: Sequence[float]) -> float:
    peak, cum, worst = 0.0, 0.0, 0.0
    for r in ratios:
        cum += r
        peak = max(peak, cum)
        worst = max(worst, peak - cum)
    return worst


def derive(spec: ProtectionSpec, trades: Sequence[Closed], tf: str) -> list[Lock]:
    """Every lock `spec` sets over `trades` (sorted by close time)."""
    tf_ms = timeframe_ms(tf)
    step = timedelta(milliseconds=tf_ms)
    lookback = step * spec.lookback_period_candles
    stop = step * spec.stop_duration_candles
    out: list[Lock] = []
    for i, t in enumerate(trades):
        c = t.close_at
        window = [x for x in trades[: i + 1] if x.close_at > c - lookback]
        until = _ceil_candle(c + stop, tf_ms)
        if spec.method == "CooldownPeriod":
            out.append(Lock(t.pair, until, spec.method,
                            f"cooldown {spec.stop_duration_candles} candles after an exit"))
        elif spec.method == "StoplossGuard":
            if t.exit_reason not in STOP_REASONS:
                continue
            hits = [x for x in window if x.exit_reason in STOP_REASONS
                    and x.profit_ratio < spec.required_profit
                    and (not spec.only_per_pair or x.pair == t.pair)]
            if len(hits) >= spec.trade_limit:
                out.append(Lock(t.pair if spec.only_per_pair else "*", until, spec.method,
                                f"{len(hits)} stoplosses in {spec.lookback_period_candles}"
                                " candles"))
        elif spec.method == "LowProfitPairs":
            mine = [x for x in window if x.pair == t.pair]
            profit = sum(x.profit_ratio for x in mine)
            if len(mine) >= spec.trade_limit and profit < spec.required_profit:
                out.append(Lock(t.pair, until, spec.method,
                                f"profit {100 * profit:+.2f}% over {len(mine)} trades"))
        elif spec.method == "MaxDrawdown":
            dd = _max_drawdown([x.profit_ratio for x in window])
            if len(window) >= spec.trade_limit and dd > spec.max_allowed_drawdown:
                out.append(Lock("*", until, spec.method,
                                f"drawdown {100 * dd:.2f}% over {len(window)} trades"))
    return out


class ProtectionDesk:
    """The configured protections of one service, read before each entry."""

    def __init__(self, specs: Sequence[ProtectionSpec]) -> None:
        self.specs = tuple(specs)

    def lookback(self, tf: str) -> timedelta:
        step = timedelta(milliseconds=timeframe_ms(tf))
        return step * max((p.lookback_period_candles + p.stop_duration_candles
                           for p in self.specs), default=0)

    def blocked(self, s: Session, bot_id: int | None, pair: str, tf: str,
                now: datetime) -> str | None:
        """Why `pair` may not be entered now, or None. Stores (and alerts) new locks."""
        if not self.specs:
            return None
        since = now - self.lookback(tf)
        q = (select(Trade).where(col(Trade.is_open).is_(False))
             .where(col(Trade.close_at) > since).where(col(Trade.close_at) <= now)
             .order_by(col(Trade.close_at), col(Trade.id)))
        if bot_id is not None:
            q = q.where(Trade.bot_id == bot_id)
        trades = [Closed(t.symbol, t.close_at, float(t.pnl_ratio or 0.0), t.exit_reason or "")
                  for t in s.exec(q).all() if t.close_at is not None]
        reason = None
        for spec in self.specs:
            for lk in derive(spec, trades, tf):
                if lk.until <= now or lk.pair not in (pair, "*"):
                    continue
                row = self._stored(s, lk, bot_id, now)
                if row.active and reason is None:
                    reason = (f"{'all pairs' if lk.pair == '*' else pair} locked until "
                              f"{lk.until:%Y-%m-%d %H:%M} UTC by {lk.rule}: {lk.reason}")
        return reason

    @staticmethod
    def _stored(s: Session, lk: Lock, bot_id: int | None, now: datetime) -> PairLock:
        row = s.exec(select(PairLock).where(PairLock.rule == lk.rule)
                     .where(PairLock.pair == lk.pair).where(PairLock.until == lk.until)
                     .where(PairLock.bot_id == bot_id)).first()
        if row is None:
            row = PairLock(bot_id=bot_id, pair=lk.pair, until=lk.until, rule=lk.rule,
                           reason=lk.reason, created_at=now)
            s.add(row)
            s.flush()
            record(s, PairLocked(ts_event=now, pair=lk.pair, until=lk.until, rule=lk.rule,
                                 reason=lk.reason))
        return row


def active_locks(s: Session, now: datetime) -> list[PairLock]:
    return list(s.exec(select(PairLock).where(col(PairLock.active).is_(True))
                       .where(col(PairLock.until) > now).order_by(col(PairLock.until))).all())


def unlock(s: Session, pair: str | None, now: datetime, by: str) -> list[PairLock]:
    """End the active locks of `pair` (None: every lock) early; the rows stay as proof
    and so that the same trigger does not lock again."""
    rows = active_locks(s, now)
    out = []
    for r in rows:
        if pair is None or r.pair == pair:
            r.active, r.unlocked_by = False, by[:64]
            s.add(r)
            out.append(r)
    return out
