"""Paper futures broker: USDⓈ-M perpetuals simulated, isolated margin, one-way mode.

What an exchange's futures account does, on the paper wallet in `balances` (one quote
asset; ``locked`` is the isolated margin of the open positions):

- market orders fill like the spot paper broker (walk the book when one is given, else
  the last price moved against us by `slippage_bps`; taker fee on the notional). A fill
  on the position's side opens/grows it and locks notional / leverage from free; the
  other side closes it and returns margin + PnL (`engine.execution.futures_positions`).
  Limit orders are refused for now (one clear line); so is a reduce larger than the
  position (one-way mode would flip it: close first);
- `set_leverage` / `set_margin_mode` per symbol, as on the exchange; leverage above the
  bracket's maximum is refused (the risk limit ``max_leverage`` is checked earlier, in
  `engine.risk.checks.check_leverage`);
- `settle_funding(now)`: every 8 h funding time each open position passed pays (longs,
  positive rate) or receives funding on its notional at the mark; the `FundingSettled`
  event recorded in the same transaction is the ledger, so a time is never charged twice;
- `watch(symbol, mark, low, high, now)`: a position whose liquidation price the candle
  reached is liquidated there (exit reason ``liquidation``); one within the alert
  distance raises `LiquidationNear`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from sqlmodel import Session, col, select

from engine.clock import Clock
from engine.errors import InsufficientFunds, OrderRejected
from engine.events import FundingSettled, PositionLiquidated, record
from engine.execution.broker import (
    BrokerFill,
    BrokerOrder,
    MarketInfo,
    OrderRequest,
    balance_row,
)
from engine.execution.futures_positions import (
    DUST,
    FillEffect,
    apply_fill,
    open_position,
    refresh_liquidation,
    side_sign,
)
from engine.execution.paper_common import MONEY_STEP, PaperVenue, QuoteSource, split_symbol
from engine.margin.funding import FundingRates, funding_fee, funding_times
from engine.margin.tiers import BINANCE_BTCUSDT, Tier, tier_for
from engine.risk.margin_watch import hit, near_liquidation
from engine.storage.db import SessionFactory
from engine.storage.models import Balance, Order, Trade

FEE_STEP = Decimal("0.00000001")


_split = split_symbol


class PaperFuturesBroker(PaperVenue):
    name = "paper"
    trading_mode = "futures"

    def __init__(self, sessions: SessionFactory, quotes: QuoteSource, clock: Clock, *,
                 maker_fee: Decimal = Decimal("0.0002"), taker_fee: Decimal = Decimal("0.0005"),
                 slippage_bps: float = 5.0, account: str = "paper-futures",
                 leverage: Decimal = Decimal(1), funding: FundingRates | None = None,
                 tiers: Sequence[Tier] = BINANCE_BTCUSDT, alert_pct: float = 5.0,
                 markets: dict[str, MarketInfo] | None = None) -> None:
        self.sessions = sessions
        self.quotes = quotes
        self.clock = clock
        self.maker_fee = maker_fee
        self.taker_fee = taker_fee
        self.slippage = Decimal(str(slippage_bps)) / Decimal(10_000)
        self.account = account
        self.default_leverage = Decimal(leverage)
        self.funding = funding or FundingRates(0.0001)
        self.tiers = tuple(tiers)
        self.alert_pct = alert_pct
        self.markets = markets or {}
        self._leverage: dict[str, Decimal] = {}
        self._margin_mode: dict[str, str] = {}

    # ------------------------------------------------------------ account settings
    def set_leverage(self, symbol: str, leverage: Decimal) -> None:
        """As the exchange's endpoint: 1 <= leverage <= the first bracket's maximum."""
        top = self.tiers[0].max_leverage
        if not Decimal(1) <= leverage <= top:
            raise OrderRejected(f"leverage {leverage} for {symbol}: must be in [1, {top}]")
        self._leverage[symbol] = Decimal(leverage)

    def set_margin_mode(self, symbol: str, mode: str) -> None:
        if mode != "isolated":
            raise OrderRejected(f"margin mode {mode!r}: the paper futures broker is "
                                "isolated only")
        self._margin_mode[symbol] = mode

    def leverage_for(self, symbol: str) -> Decimal:
        return self._leverage.get(symbol, self.default_leverage)

    # ------------------------------------------------------------ orders
    async def create_order(self, req: OrderRequest) -> BrokerOrder:
        if req.amount <= 0:
            raise OrderRejected(f"amount must be positive, got {req.amount}")
        if req.type != "market":
            raise OrderRejected("the paper futures broker fills market orders only: set the "
                                "strategy's entry/exit order types to market")
        _, quote = _split(req.symbol)
        q = self._quote(req.symbol)
        levels = q.asks if req.side == "buy" else q.bids
        fills: list[tuple[Decimal, Decimal]] = []
        if levels:
            left = req.amount
            for price, size in levels:
                take = min(left, size)
                if take > 0:
                    fills.append((price, take))
                    left -= take
                if left <= 0:
                    break
        else:
            sign = 1 if req.side == "buy" else -1
            fills.append((q.last * (1 + sign * self.slippage), req.amount))
        filled = sum((a for _, a in fills), Decimal(0))
        if filled == 0:
            return BrokerOrder(req.client_order_id, None, "rejected", Decimal(0), None,
                               error="empty order book")
        cost = sum((p * a for p, a in fills), Decimal(0))
        avg = (cost / filled).quantize(MONEY_STEP)
        fee = (cost * self.taker_fee).quantize(FEE_STEP)
        with self.sessions() as s:
            pos = open_position(s, req.symbol)
            free = balance_row(s, self.account, quote).free
        reducing = pos is not None and (pos.side == "long") != (req.side == "buy")
        if reducing:
            assert pos is not None
            if filled > pos.amount + DUST:
                raise OrderRejected(f"{req.side} {filled} is more than the {pos.side} position "
                                    f"{pos.amount}: close it first (one-way mode)")
        else:
            need = cost / self.leverage_for(req.symbol) + fee
            if free < need:
                raise InsufficientFunds(f"not enough {quote}: margin and fee need {need:.2f}, "
                                        f"have {free:.2f}")
        fill = BrokerFill(f"{req.client_order_id}-1", filled, avg, fee, quote, self.clock.now())
        status = "closed" if filled >= req.amount else "canceled"
        return BrokerOrder(req.client_order_id, f"paper-{req.client_order_id}", status,
                           filled, avg, (fill,))

    async def fetch_order(self, order: Order) -> BrokerOrder | None:
        return None  # market orders only: one never rests on the paper exchange

    async def cancel_order(self, order: Order) -> BrokerOrder:
        return BrokerOrder(order.client_order_id, order.exchange_order_id, "canceled",
                           order.filled, order.average_price)

    async def fetch_balances(self) -> dict[str, tuple[Decimal, Decimal]]:
        with self.sessions() as s:
            rows = s.exec(select(Balance).where(Balance.account == self.account)).all()
            return {r.asset: (r.free, r.locked) for r in rows}

    # ------------------------------------------------------------ wallet and positions
    def on_open(self, session: Session, order: Order) -> None:
        return None

    def on_fill(self, session: Session, order: Order, fill: BrokerFill) -> None:
        return None  # the wallet moves in apply_to_trade, which knows open from close

    def on_release(self, session: Session, order: Order) -> None:
        return None

    def apply_to_trade(self, s: Session, o: Order, amount: Decimal, price: Decimal,
                       fee: Decimal, now: datetime) -> Decimal | None:
        """The execution engine's booking hook: position and wallet, one transaction."""
        eff = apply_fill(s, o, amount, price, fee, now, leverage=self.leverage_for(o.symbol),
                         margin_mode=self._margin_mode.get(o.symbol, "isolated"),
                         tiers=self.tiers)
        self._move(s, o.symbol, eff)
        return eff.realized

    def _move(self, s: Session, symbol: str, eff: FillEffect) -> None:
        row = balance_row(s, self.account, _split(symbol)[1])
        row.free -= (eff.lock + eff.fee).quantize(MONEY_STEP) if eff.lock else Decimal(0)
        row.locked += eff.lock.quantize(MONEY_STEP)
        if eff.release:
            row.locked -= eff.release.quantize(MONEY_STEP)
            row.free += eff.returned.quantize(MONEY_STEP)
        row.updated_at = self.clock.now()

    def _open(self, s: Session, symbol: str | None = None) -> list[Trade]:
        q = select(Trade).where(col(Trade.is_open).is_(True), Trade.trading_mode == "futures")
        if symbol is not None:
            q = q.where(Trade.symbol == symbol)
        return list(s.exec(q).all())

    def settle_funding(self, now: datetime) -> list[FundingSettled]:
        """Charge every funding time each open position passed and was not charged for
        (the current quote is the mark; a restart late charges at today's mark)."""
        out: list[FundingSettled] = []
        now_ms = round(now.timestamp() * 1000)
        with self.sessions.begin() as s:
            for t in self._open(s):
                q = self.quotes(t.symbol)
                if q is None or t.id is None:
                    continue
                for ft in funding_times(round(t.open_at.timestamp() * 1000), now_ms):
                    rate = Decimal(repr(self.funding.rate_at(ft)))
                    amt = funding_fee(side_sign(t), t.amount, q.last, rate).quantize(FEE_STEP)
                    ev = FundingSettled(ts_event=now, trade_id=t.id, symbol=t.symbol,
                                        side=t.side, funding_ms=ft, rate=rate,
                                        mark_price=q.last, amount=amt)
                    if record(s, ev) is None:
                        continue  # charged before
                    t.funding_fees = (t.funding_fees or Decimal(0)) + amt
                    row = balance_row(s, self.account, _split(t.symbol)[1])
                    row.locked += amt  # isolated: funding lives in the position's margin
                    row.updated_at = now
                    refresh_liquidation(t, self.tiers)
                    out.append(ev)
        return out

    def watch(self, symbol: str, mark: Decimal, low: Decimal | None = None,
              high: Decimal | None = None, now: datetime | None = None) -> list[str]:
        """Liquidate positions the candle reached; alert those near it. Returns what
        happened, one line each."""
        now = now or self.clock.now()
        lo = low if low is not None else mark
        hi = high if high is not None else mark
        notes: list[str] = []
        with self.sessions.begin() as s:
            for t in self._open(s, symbol):
                if hit(t, lo, hi):
                    notes.append(self._liquidate(s, t, now))
                    continue
                ev = near_liquidation(t, mark, self.alert_pct, now)
                if ev is not None and record(s, ev) is not None:
                    notes.append(ev.text())
        return notes

    def _liquidate(self, s: Session, t: Trade, now: datetime) -> str:
        """Close at the liquidation price without an order (the exchange's liquidation
        engine does it); the fee is the taker fee on the notional."""
        lp = t.liquidation_price
        assert lp is not None and t.id is not None
        pnl = side_sign(t) * t.amount * (lp - t.open_price)
        fee = (t.amount * lp * self.taker_fee).quantize(FEE_STEP)
        funding = t.funding_fees or Decimal(0)
        wb = t.stake + funding
        t.fees += fee
        realized = ((t.realized_pnl or Decimal(0)) + pnl + funding - t.fees).quantize(FEE_STEP)
        self._move(s, t.symbol, FillEffect(t, release=wb, returned=max(wb + pnl - fee,
                                                                        Decimal(0))))
        initial = t.open_price * t.amount / (t.leverage or Decimal(1))
        t.is_open = False
        t.close_price = lp
        t.close_at = now
        t.realized_pnl = realized
        t.pnl_ratio = float(realized / initial) if initial else None
        t.exit_reason = "liquidation"
        record(s, PositionLiquidated(ts_event=now, trade_id=t.id, symbol=t.symbol,
                                     side=t.side, liquidation_price=lp, realized_pnl=realized))
        return f"{t.symbol} {t.side} #{t.id} liquidated at {lp}"

    def maintenance_margin(self, t: Trade, mark: Decimal) -> Decimal:
        """notional * MMR - cum of the bracket at the mark (what the exchange keeps)."""
        tier = tier_for(self.tiers, t.amount * mark)
        return t.amount * mark * tier.mmr - tier.cum

    async def close(self) -> None:
        return None


__all__ = ["PaperFuturesBroker"]
