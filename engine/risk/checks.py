"""Risk: pre-trade checks, position sizing and circuit breakers.

Pre-trade checks run in order and each returns a reason (a sentence) or None; the first
reason blocks (NautilusTrader's RiskEngine). They read a `RiskContext` snapshot that the
caller builds from the DB, so every check is a pure function and trivially testable.

Circuit breakers are a trading state: `active`, `reducing` (no new entries; exits run)
and `halted` (nothing runs). Each trip writes a `RiskEvent` and its alert in one
transaction; an admin may clear it early (`resume`). Baselines restart at a clear, so a
resumed breaker trips again only if things get worse from there.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from sqlmodel import Session, col, or_, select

from engine.events import BreakerTripped, record
from engine.execution.broker import MarketInfo
from engine.storage.config import RiskSettings
from engine.storage.models import RiskEvent, Trade

Check = Callable[["Intent", "RiskContext", RiskSettings], "str | None"]


@dataclass(frozen=True, slots=True)
class Intent:
    """What a proposal would do, as risk sees it."""

    symbol: str
    side: str  # buy | sell
    intent: str  # enter | exit
    amount: Decimal
    price: Decimal
    leverage: Decimal = Decimal(1)  # futures only: the position is notional, margin / lev
    futures: bool = False

    @property
    def notional(self) -> Decimal:
        return self.amount * self.price

    @property
    def base(self) -> str:
        return self.symbol.split("/")[0]


@dataclass(frozen=True, slots=True)
class RiskContext:
    equity: Decimal
    free_quote: Decimal
    exposure: dict[str, Decimal]  # base asset -> value in quote
    open_trades: int
    trades_today: int
    market: MarketInfo | None
    trading_state: str = "active"
    exchange_paused: bool = False

    @property
    def total_exposure(self) -> Decimal:
        return sum(self.exposure.values(), Decimal(0))


def _pct(x: Decimal, of: Decimal) -> float:
    return float(x / of * 100) if of > 0 else math.inf


def check_trading_state(i: Intent, c: RiskContext, lim: RiskSettings) -> str | None:
    if c.exchange_paused:
        return "exchange paused after too many API errors"
    if c.trading_state == "halted":
        return "trading halted by a circuit breaker"
    if c.trading_state == "reducing" and i.intent == "enter":
        return "new entries paused by a circuit breaker"
    return None


def check_lists(i: Intent, c: RiskContext, lim: RiskSettings) -> str | None:
    if i.intent != "enter":
        return None
    if i.symbol in lim.blacklist or i.base in lim.blacklist:
        return f"{i.symbol} is blacklisted"
    if lim.whitelist and i.symbol not in lim.whitelist and i.base not in lim.whitelist:
        return f"{i.symbol} is not on the whitelist"
    return None


def check_leverage(i: Intent, c: RiskContext, lim: RiskSettings) -> str | None:
    """The risk limit on leverage (futures): a higher proposal is refused, never cut."""
    if i.intent == "enter" and i.leverage > Decimal(str(lim.max_leverage)):
        return f"leverage {i.leverage.normalize():f}x > max_leverage {lim.max_leverage:g}x"
    return None


def check_open_trades(i: Intent, c: RiskContext, lim: RiskSettings) -> str | None:
    if i.intent == "enter" and c.open_trades >= lim.max_open_trades:
        return f"{c.open_trades} open trades >= max {lim.max_open_trades}"
    return None


def check_trades_per_day(i: Intent, c: RiskContext, lim: RiskSettings) -> str | None:
    if i.intent == "enter" and c.trades_today >= lim.max_trades_per_day:
        return f"{c.trades_today} trades today >= max {lim.max_trades_per_day}"
    return None


def check_position_size(i: Intent, c: RiskContext, lim: RiskSettings) -> str | None:
    if i.intent == "enter" and _pct(i.notional, c.equity) > lim.max_position_pct + 1e-9:
        return (f"position {i.notional:.2f} is {_pct(i.notional, c.equity):.1f}% of equity "
                f"> max {lim.max_position_pct}%")
    return None


def check_asset_exposure(i: Intent, c: RiskContext, lim: RiskSettings) -> str | None:
    if i.intent != "enter":
        return None
    after = c.exposure.get(i.base, Decimal(0)) + i.notional
    if _pct(after, c.equity) > lim.max_asset_exposure_pct + 1e-9:
        return (f"{i.base} exposure would be {_pct(after, c.equity):.1f}% of equity "
                f"> max {lim.max_asset_exposure_pct}%")
    return None


def check_total_exposure(i: Intent, c: RiskContext, lim: RiskSettings) -> str | None:
    if i.intent != "enter":
        return None
    after = c.total_exposure + i.notional
    if _pct(after, c.equity) > lim.max_total_exposure_pct + 1e-9:
        return (f"total exposure would be {_pct(after, c.equity):.1f}% of equity "
                f"> max {lim.max_total_exposure_pct}%")
    return None


def check_exchange_minimums(i: Intent, c: RiskContext, lim: RiskSettings) -> str | None:
    """ccxt checks precision but not min notional: we check both here."""
    m = c.market
    if m is None:
        return None
    amount = m.round_amount(i.amount)
    if amount <= 0 or amount < m.min_amount:
        return f"amount {amount} below the exchange minimum {m.min_amount} for {i.symbol}"
    if amount * i.price < m.min_cost:
        return (f"order value {amount * i.price:.2f} below the exchange minimum notional "
                f"{m.min_cost} for {i.symbol}")
    return None


def check_funds(i: Intent, c: RiskContext, lim: RiskSettings) -> str | None:
    if i.futures:  # an entry (long or short) locks the isolated margin; an exit frees it
        if i.intent != "enter":
            return None
        margin = i.notional / i.leverage
        if margin > c.free_quote:
            return f"needs {margin:.2f} margin but only {c.free_quote:.2f} is free"
        return None
    if i.side == "buy" and i.notional > c.free_quote:
        return f"needs {i.notional:.2f} but only {c.free_quote:.2f} is free"
    return None


PRE_TRADE_CHECKS: tuple[Check, ...] = (
    check_trading_state,
    check_lists,
    check_leverage,
    check_open_trades,
    check_trades_per_day,
    check_position_size,
    check_asset_exposure,
    check_total_exposure,
    check_exchange_minimums,
    check_funds,
)


def pre_trade(i: Intent, c: RiskContext, lim: RiskSettings,
              checks: Sequence[Check] = PRE_TRADE_CHECKS) -> str | None:
    """The first blocking reason, or None when every check passes."""
    for check in checks:
        reason = check(i, c, lim)
        if reason is not None:
            return reason
    return None


# ---------------------------------------------------------------- sizing
def kelly_fraction(pnl_ratios: Sequence[float]) -> float | None:
    """Full Kelly f* = W - (1-W)/R from closed trades (W win rate, R win/loss ratio)."""
    wins = [r for r in pnl_ratios if r > 0]
    losses = [-r for r in pnl_ratios if r < 0]
    if not wins or not losses:
        return None
    w = len(wins) / len(pnl_ratios)
    ratio = (sum(wins) / len(wins)) / (sum(losses) / len(losses))
    return w - (1 - w) / ratio


def size_position(equity: Decimal, price: Decimal, lim: RiskSettings, *,
                  closed_pnl_ratios: Sequence[float] = (), atr: float | None = None) -> Decimal:
    """Quote amount to spend, by `risk.sizing`; never above `max_position_pct`.

    - fixed_pct: `fixed_pct` of equity;
    - half_kelly: half the Kelly fraction of the bot's own closed trades, only once it
      has `kelly_min_trades` of them (fixed % before that, and 0 for a negative edge);
    - atr: risk `atr_risk_pct` of equity on a stop `atr_multiplier` ATRs away;
    - fixed_stake: `stake_amount` of quote per trade (the backtester's fixed stake).
    """
    if lim.sizing == "fixed_stake":
        return lim.stake_amount
    pct = lim.fixed_pct / 100
    if lim.sizing == "half_kelly" and len(closed_pnl_ratios) >= lim.kelly_min_trades:
        k = kelly_fraction(closed_pnl_ratios)
        if k is not None:
            pct = max(0.0, k / 2)
    elif lim.sizing == "atr" and atr is not None and atr > 0 and price > 0:
        stop_frac = lim.atr_multiplier * atr / float(price)
        pct = (lim.atr_risk_pct / 100) / stop_frac
    pct = min(pct, lim.max_position_pct / 100)
    return (equity * Decimal(str(round(pct, 8)))).quantize(Decimal("0.01"))


# ---------------------------------------------------------------- breakers
RULE_ACTION = {
    "daily_loss": "pause_entries",
    "drawdown_pause": "pause_entries",
    "drawdown_stop": "stop_bot",
    "api_errors": "pause_exchange",
    "price_spike": "cancel_pending",
}


def active_breakers(s: Session, now: datetime) -> list[RiskEvent]:
    """Trips not cleared and not yet over (a stop has no end until an admin resumes)."""
    return list(s.exec(select(RiskEvent).where(
        col(RiskEvent.cleared_at).is_(None),
        or_(col(RiskEvent.until).is_(None), col(RiskEvent.until) > now),
        col(RiskEvent.action).in_(["pause_entries", "stop_bot", "pause_exchange"]),
    ).order_by(col(RiskEvent.id))).all())


def trading_state(events: Sequence[RiskEvent]) -> str:
    actions = {e.action for e in events}
    if "stop_bot" in actions:
        return "halted"
    if "pause_entries" in actions:
        return "reducing"
    return "active"


@dataclass
class Trip:
    rule: str
    measured: float
    threshold: float
    until: datetime | None
    scope: str = ""
    detail: dict[str, object] = field(default_factory=dict)

    @property
    def action(self) -> str:
        return RULE_ACTION[self.rule]


def episode_key(peak: Decimal) -> str:
    """A peak as the drawdown episode's name (one text for one value, whatever the
    Decimal's exponent: the restart rebuilds it from stored snapshots)."""
    return f"{float(peak):.8f}"


class BreakerMonitor:
    """Evaluates the breaker rules each tick from equity, API errors and prices.

    Keeps rolling state in memory (day-start equity, peak equity, recent API errors and
    prices) and rebuilds the equity baselines from `equity_snapshots` at start.
    """

    def __init__(self, lim: RiskSettings) -> None:
        self.lim = lim
        self.day: str | None = None
        self.day_start: Decimal | None = None
        self.peak: Decimal | None = None
        self.api_errors: deque[datetime] = deque()
        self.prices: dict[str, deque[tuple[datetime, float]]] = {}
        # One trip per episode: the baseline each equity rule last tripped on (the day
        # for daily_loss, the peak for the drawdown rules). A pause that expires while
        # equity is still under water does not trip again (and alert again) every day;
        # a new day, a new equity peak, or an admin's /resume (new baselines) starts
        # a new episode.
        self.episode: dict[str, str] = {}

    def reset_baselines(self, equity: Decimal, rules: Sequence[str] = ()) -> None:
        """After an admin clears a breaker: measure from here (a new episode)."""
        if not rules or "daily_loss" in rules:
            self.day_start = equity
            self.episode.pop("daily_loss", None)
        if not rules or {"drawdown_pause", "drawdown_stop"} & set(rules):
            self.peak = equity
            self.episode.pop("drawdown_pause", None)
            self.episode.pop("drawdown_stop", None)

    def _new_episode(self, rule: str, baseline: str) -> bool:
        if self.episode.get(rule) == baseline:
            return False
        self.episode[rule] = baseline
        return True

    def api_error(self, at: datetime) -> None:
        self.api_errors.append(at)

    def price(self, symbol: str, at: datetime, price: float) -> None:
        dq = self.prices.setdefault(symbol, deque())
        dq.append((at, price))
        horizon = at - timedelta(seconds=self.lim.price_spike_window_seconds)
        while dq and dq[0][0] < horizon:
            dq.popleft()

    def evaluate(self, now: datetime, equity: Decimal, active_rules: set[str]) -> list[Trip]:
        lim = self.lim
        trips: list[Trip] = []
        day = now.strftime("%Y-%m-%d")
        if self.day != day or self.day_start is None:
            self.day, self.day_start = day, equity
        if self.peak is None or equity > self.peak:
            self.peak = equity
        if self.day_start > 0 and "daily_loss" not in active_rules:
            loss = float((self.day_start - equity) / self.day_start * 100)
            if loss > lim.daily_loss_pct and self._new_episode("daily_loss", day):
                trips.append(Trip("daily_loss", loss, lim.daily_loss_pct,
                                  now + timedelta(minutes=lim.daily_loss_pause_minutes),
                                  detail={"episode": day}))
        if self.peak > 0:
            dd = float((self.peak - equity) / self.peak * 100)
            peak = episode_key(self.peak)
            if (dd > lim.drawdown_stop_pct and "drawdown_stop" not in active_rules
                    and self._new_episode("drawdown_stop", peak)):
                trips.append(Trip("drawdown_stop", dd, lim.drawdown_stop_pct, None,
                                  detail={"episode": peak}))
            elif (dd > lim.drawdown_pause_pct and "drawdown_pause" not in active_rules
                  and "drawdown_stop" not in active_rules
                  and self._new_episode("drawdown_pause", peak)):
                trips.append(Trip("drawdown_pause", dd, lim.drawdown_pause_pct,
                                  now + timedelta(hours=lim.drawdown_pause_hours),
                                  detail={"episode": peak}))
        horizon = now - timedelta(minutes=1)
        while self.api_errors and self.api_errors[0] < horizon:
            self.api_errors.popleft()
        if len(self.api_errors) > lim.api_errors_per_minute and "api_errors" not in active_rules:
            trips.append(Trip("api_errors", float(len(self.api_errors)),
                              float(lim.api_errors_per_minute),
                              now + timedelta(minutes=lim.api_error_pause_minutes)))
            self.api_errors.clear()
        for sym, dq in self.prices.items():
            if len(dq) < 2:
                continue
            ref = dq[0][1]
            hi = max(p for _, p in dq)
            lo = min(p for _, p in dq)
            move = max(abs(hi / ref - 1), abs(lo / ref - 1)) * 100 if ref > 0 else 0.0
            if move > lim.price_spike_pct:
                trips.append(Trip("price_spike", move, lim.price_spike_pct, now, scope=sym))
                dq.clear()
        return trips


def write_trip(s: Session, trip: Trip, now: datetime, *, exchange: str | None = None,
               bot_id: int | None = None) -> RiskEvent:
    """The RiskEvent and its alert, in the caller's transaction."""
    ev = RiskEvent(bot_id=bot_id, exchange=exchange, rule=trip.rule, measured=trip.measured,
                   threshold=trip.threshold, action=trip.action, until=trip.until,
                   detail={"scope": trip.scope, **trip.detail}, created_at=now)
    s.add(ev)
    s.flush()
    record(s, BreakerTripped(ts_event=now, risk_event_id=ev.id or 0, rule=trip.rule,
                             action=trip.action, measured=trip.measured,
                             threshold=trip.threshold, until=trip.until, scope=trip.scope))
    return ev


def closed_pnl_ratios(s: Session, bot_id: int | None) -> list[float]:
    rows = s.exec(select(Trade.pnl_ratio).where(
        Trade.bot_id == bot_id, col(Trade.is_open).is_(False),
        col(Trade.pnl_ratio).is_not(None))).all()
    return [float(r) for r in rows if r is not None]
