"""SQLModel tables: the whole persisted domain.

States are stored as short strings (not DB enums) so that adding a state is a code
change plus a data-free migration. Money is `Decimal` (`Money` column), time is aware
UTC (`UTCDateTime`). Every change here ships an Alembic migration; `alembic check`
must stay clean.

Uniqueness that later code relies on:
- `orders.client_order_id` (an order is never placed twice) and `orders.proposal_id`
  (a double tap on Approve makes one order);
- `news_items.dedup_key` and `sentiment_scores(news_item_id, scorer)`;
- `fills(order_id, trade_key)` (a fill is never booked twice);
- `outbox.dedup_key`, `outbox_deliveries(outbox_id, destination)` (exactly-once alerts);
- `signals(bot_id, symbol, timeframe, ts)` (a replayed candle never makes a 2nd signal).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from engine.storage.dbtypes import Money, UTCDateTime, utcnow


def _json(default: Any = None) -> Any:
    if isinstance(default, list):
        return Field(default_factory=lambda: list(default), sa_type=sa.JSON,
                     sa_column_kwargs={"nullable": False})
    factory = lambda: dict(default or {})  # noqa: E731
    return Field(default_factory=factory, sa_type=sa.JSON, sa_column_kwargs={"nullable": False})


def _ts(index: bool = False, nullable: bool = False) -> Any:
    if nullable:
        return Field(default=None, sa_type=UTCDateTime, nullable=True, index=index)
    return Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False, index=index)


def _money(nullable: bool = False, default: Decimal | None = None) -> Any:
    if nullable:
        return Field(default=None, sa_type=Money, nullable=True)
    return Field(default=default if default is not None else Decimal(0), sa_type=Money,
                 nullable=False)


# ---------------------------------------------------------------- enumerations
class Role(StrEnum):
    VIEWER = "viewer"
    TRADER = "trader"
    ADMIN = "admin"


class BotState(StrEnum):
    STOPPED = "stopped"
    RUNNING = "running"
    PAUSED = "paused"  # no new entries; exits and stops still run


class ProposalState(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    EXPIRED = "expired"
    EXECUTED = "executed"
    FAILED = "failed"


class OrderState(StrEnum):
    PENDING_CREATE = "pending_create"
    OPEN = "open"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    PENDING_CANCEL = "pending_cancel"
    CANCELED = "canceled"
    FAILED = "failed"


class DeliveryState(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"  # gave up after the retry budget; kept for /logs and audits


# ---------------------------------------------------------------- people and bots
class User(SQLModel, table=True):
    """A chat identity allowed to talk to the service, with its role and alert prefs."""

    __tablename__ = "users"
    __table_args__ = (sa.UniqueConstraint("transport", "external_id"),)
    id: int | None = Field(default=None, primary_key=True)
    transport: str = Field(max_length=16)
    external_id: str = Field(max_length=64)
    display_name: str = Field(default="", max_length=128)
    role: str = Field(default=Role.VIEWER, max_length=16)
    alerts_enabled: bool = True
    alert_types: list[str] = _json([])  # empty = every type
    created_at: datetime = _ts()


class Bot(SQLModel, table=True):
    """A strategy over symbols on one timeframe; its state survives restarts."""

    __tablename__ = "bots"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=64, unique=True)
    strategy: str = Field(max_length=64)
    symbols: list[str] = _json([])
    timeframe: str = Field(max_length=8)
    mode: str = Field(default="paper", max_length=16)
    approval_mode: str = Field(default="manual", max_length=16)
    state: str = Field(default=BotState.STOPPED, max_length=16)
    params: dict[str, Any] = _json({})
    state_changed_by: str | None = Field(default=None, max_length=64)
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


# ---------------------------------------------------------------- news and sentiment
class NewsItem(SQLModel, table=True):
    """A headline or post as fetched; `published_at` drives point-in-time use."""

    __tablename__ = "news_items"
    id: int | None = Field(default=None, primary_key=True)
    dedup_key: str = Field(max_length=64, unique=True)
    title_hash: str = Field(max_length=64, index=True)
    source: str = Field(max_length=64)
    source_kind: str = Field(default="rss", max_length=16)
    url: str = Field(default="", max_length=2048)
    title: str = Field(max_length=1024)
    summary: str = Field(default="", sa_type=sa.Text)
    published_at: datetime = _ts(index=True)
    fetched_at: datetime = _ts()
    symbols: list[str] = _json([])


class SentimentScore(SQLModel, table=True):
    """One scorer's verdict on one item; an item is never scored twice by a scorer."""

    __tablename__ = "sentiment_scores"
    __table_args__ = (sa.UniqueConstraint("news_item_id", "scorer"),)
    id: int | None = Field(default=None, primary_key=True)
    news_item_id: int = Field(foreign_key="news_items.id", index=True)
    scorer: str = Field(max_length=32)
    label: str = Field(max_length=16)
    score: float
    confidence: float
    event_type: str = Field(default="none", max_length=32)
    impact: int = 1
    symbols: list[str] = _json([])
    created_at: datetime = _ts()


# ---------------------------------------------------------------- trading
class Signal(SQLModel, table=True):
    """Every fused signal, executed or not, with the inputs that produced it."""

    __tablename__ = "signals"
    __table_args__ = (sa.UniqueConstraint("bot_id", "symbol", "timeframe", "ts"),)
    id: int | None = Field(default=None, primary_key=True)
    bot_id: int | None = Field(default=None, foreign_key="bots.id", index=True)
    symbol: str = Field(max_length=32, index=True)
    timeframe: str = Field(max_length=8)
    ts: datetime = _ts(index=True)  # close time of the candle it was computed on
    direction: str = Field(max_length=8)  # long | short | exit | flat
    strength: float = 0.0
    confidence: float = 0.0
    technical_score: float = 0.0
    sentiment_score: float | None = None
    price: Decimal = _money()
    inputs: dict[str, Any] = _json({})
    created_at: datetime = _ts()


class Trade(SQLModel, table=True):
    """A position while `is_open`, a round trip once closed (Freqtrade's model)."""

    __tablename__ = "trades"
    id: int | None = Field(default=None, primary_key=True)
    bot_id: int | None = Field(default=None, foreign_key="bots.id", index=True)
    symbol: str = Field(max_length=32, index=True)
    side: str = Field(default="long", max_length=8)
    is_open: bool = Field(default=True, index=True)
    amount: Decimal = _money()
    stake: Decimal = _money()
    open_price: Decimal = _money()
    open_at: datetime = _ts()
    close_price: Decimal | None = _money(nullable=True)
    close_at: datetime | None = _ts(nullable=True)
    stop_price: Decimal | None = _money(nullable=True)
    fees: Decimal = _money()
    realized_pnl: Decimal | None = _money(nullable=True)
    pnl_ratio: float | None = None
    exit_reason: str | None = Field(default=None, max_length=32)
    # futures (engine.margin; migration 0008): spot rows keep the defaults
    trading_mode: str = Field(default="spot", max_length=8,
                              sa_column_kwargs={"server_default": "spot"})
    margin_mode: str | None = Field(default=None, max_length=16)  # isolated
    leverage: Decimal | None = _money(nullable=True)
    liquidation_price: Decimal | None = _money(nullable=True)
    funding_fees: Decimal | None = _money(nullable=True)  # received (+) / paid (-)


class Proposal(SQLModel, table=True):
    """A risk-checked trade idea waiting for (or past) its decision."""

    __tablename__ = "proposals"
    id: int | None = Field(default=None, primary_key=True)
    bot_id: int | None = Field(default=None, foreign_key="bots.id", index=True)
    signal_id: int | None = Field(default=None, foreign_key="signals.id")
    trade_id: int | None = Field(default=None, foreign_key="trades.id")  # set for exits
    symbol: str = Field(max_length=32)
    side: str = Field(max_length=8)  # buy | sell
    intent: str = Field(default="enter", max_length=8)  # enter | exit
    amount: Decimal = _money()
    ref_price: Decimal = _money()
    stop_price: Decimal | None = _money(nullable=True)
    notional: Decimal = _money()
    reasons: list[str] = _json([])
    state: str = Field(default=ProposalState.PENDING, max_length=16, index=True)
    created_at: datetime = _ts()
    expires_at: datetime = _ts(index=True)
    decided_by: str | None = Field(default=None, max_length=64)
    decided_at: datetime | None = _ts(nullable=True)
    decision_note: str | None = Field(default=None, max_length=512)
    executed_at: datetime | None = _ts(nullable=True)
    # the order an approval places: market (default) or a limit at `limit_price`
    order_type: str | None = Field(default=None, max_length=8)
    limit_price: Decimal | None = _money(nullable=True)
    # a rebalance (`engine.service.rebalancer`): the basket's legs, one proposal for all;
    # approving it makes one approved child proposal (and order) per leg, `parent_id` set
    legs: list[dict[str, Any]] | None = Field(default=None, sa_type=sa.JSON, nullable=True)
    parent_id: int | None = Field(default=None, foreign_key="proposals.id", index=True)


class Order(SQLModel, table=True):
    """An order as we know it; the client id is stored before anything is sent."""

    __tablename__ = "orders"
    id: int | None = Field(default=None, primary_key=True)
    client_order_id: str = Field(max_length=64, unique=True)
    exchange_order_id: str | None = Field(default=None, max_length=128, index=True)
    exchange: str = Field(default="paper", max_length=32)
    bot_id: int | None = Field(default=None, foreign_key="bots.id", index=True)
    proposal_id: int | None = Field(default=None, foreign_key="proposals.id", unique=True)
    trade_id: int | None = Field(default=None, foreign_key="trades.id", index=True)
    symbol: str = Field(max_length=32)
    side: str = Field(max_length=8)
    type: str = Field(default="market", max_length=24)  # engine.execution.ordertypes
    amount: Decimal = _money()
    price: Decimal | None = _money(nullable=True)
    filled: Decimal = _money()
    average_price: Decimal | None = _money(nullable=True)
    fee: Decimal = _money()
    state: str = Field(default=OrderState.PENDING_CREATE, max_length=24, index=True)
    error: str | None = Field(default=None, max_length=512)
    created_at: datetime = _ts()
    updated_at: datetime = _ts()
    # order types beyond market/limit (migration 0007): the state an emulated or paper
    # stop needs lives here, so a restart resumes it from the row
    time_in_force: str = Field(default="GTC", max_length=8,
                               sa_column_kwargs={"server_default": "GTC"})
    trigger_price: Decimal | None = _money(nullable=True)  # stop / take-profit / activation
    trailing_pct: Decimal | None = _money(nullable=True)  # trailing callback, percent
    trail_ref: Decimal | None = _money(nullable=True)  # best price seen since placement
    post_only: bool = Field(default=False, sa_column_kwargs={"server_default": sa.false()})
    reduce_only: bool = Field(default=False, sa_column_kwargs={"server_default": sa.false()})
    emulated: bool = Field(default=False, sa_column_kwargs={"server_default": sa.false()})
    triggered_at: datetime | None = _ts(nullable=True)
    reserved: Decimal | None = _money(nullable=True)  # paper wallet: still locked for it
    algo_id: int | None = Field(default=None, foreign_key="algo_orders.id", index=True)


class Fill(SQLModel, table=True):
    """One execution against an order; `trade_key` makes re-booking impossible."""

    __tablename__ = "fills"
    __table_args__ = (sa.UniqueConstraint("order_id", "trade_key"),)
    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(foreign_key="orders.id", index=True)
    trade_key: str = Field(max_length=128)
    amount: Decimal = _money()
    price: Decimal = _money()
    fee: Decimal = _money()
    fee_currency: str = Field(default="", max_length=16)
    ts: datetime = _ts()


class Balance(SQLModel, table=True):
    """Wallet per account and asset (the paper broker's book, or the last sync)."""

    __tablename__ = "balances"
    __table_args__ = (sa.UniqueConstraint("account", "asset"),)
    id: int | None = Field(default=None, primary_key=True)
    account: str = Field(max_length=32)
    asset: str = Field(max_length=16)
    free: Decimal = _money()
    locked: Decimal = _money()
    updated_at: datetime = _ts()


class EquitySnapshot(SQLModel, table=True):
    """Equity over time: drawdown and daily-loss breakers and reports read it."""

    __tablename__ = "equity_snapshots"
    id: int | None = Field(default=None, primary_key=True)
    account: str = Field(default="paper", max_length=32, index=True)
    ts: datetime = _ts(index=True)
    equity: Decimal = _money()


# ---------------------------------------------------------------- risk and alerts
class RiskEvent(SQLModel, table=True):
    """A circuit-breaker trip (or clear), with the measured value and the action."""

    __tablename__ = "risk_events"
    id: int | None = Field(default=None, primary_key=True)
    bot_id: int | None = Field(default=None, foreign_key="bots.id", index=True)
    exchange: str | None = Field(default=None, max_length=32)
    rule: str = Field(max_length=32)
    measured: float = 0.0
    threshold: float = 0.0
    action: str = Field(max_length=32)
    until: datetime | None = _ts(nullable=True)
    detail: dict[str, Any] = _json({})
    created_at: datetime = _ts(index=True)
    cleared_at: datetime | None = _ts(nullable=True)
    cleared_by: str | None = Field(default=None, max_length=64)


class OutboxMessage(SQLModel, table=True):
    """An alert written in the same transaction as the fact it reports."""

    __tablename__ = "outbox"
    id: int | None = Field(default=None, primary_key=True)
    event_id: str = Field(max_length=36, unique=True)
    kind: str = Field(max_length=32, index=True)
    payload: dict[str, Any] = _json({})
    dedup_key: str | None = Field(default=None, max_length=128, unique=True)
    ts_event: datetime = _ts()
    created_at: datetime = _ts(index=True)


class OutboxDelivery(SQLModel, table=True):
    """Delivery state of one alert to one destination (transport:chat)."""

    __tablename__ = "outbox_deliveries"
    __table_args__ = (
        sa.UniqueConstraint("outbox_id", "destination"),
        sa.Index("ix_outbox_deliveries_due", "state", "next_attempt_at"),
    )
    id: int | None = Field(default=None, primary_key=True)
    outbox_id: int = Field(foreign_key="outbox.id", index=True)
    destination: str = Field(max_length=64)
    state: str = Field(default=DeliveryState.PENDING, max_length=16)
    attempts: int = 0
    next_attempt_at: datetime = _ts()
    last_error: str | None = Field(default=None, max_length=512)
    external_ref: str | None = Field(default=None, max_length=128)  # e.g. chat message id
    delivered_at: datetime | None = _ts(nullable=True)


class Credential(SQLModel, table=True):
    """A secret (exchange key, bot token) encrypted with the master key (Fernet)."""

    __tablename__ = "credentials"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=64, unique=True)
    ciphertext: str = Field(sa_type=sa.Text)
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class AuditEntry(SQLModel, table=True):
    """Every chat command and button press: who, what, when, and how it ended.

    Kept by the chat layer (commands/audit.py) so an admin can answer "who approved
    that?" or "who blacklisted ETH?" from the phone (/audit)."""

    __tablename__ = "audit_log"
    id: int | None = Field(default=None, primary_key=True)
    at: datetime = _ts(index=True)
    transport: str = Field(max_length=16)
    user_id: str = Field(max_length=64)
    user_name: str = Field(default="", max_length=64)
    role: str = Field(max_length=16)
    action: str = Field(max_length=32)        # command name, or "button:approve"
    args: str = Field(default="", max_length=256)
    outcome: str = Field(max_length=16)       # ok | denied | usage | refused | error
    detail: str = Field(default="", max_length=256)


class PairLock(SQLModel, table=True):
    """A pair (or "*": every pair) locked by a protection until `until`; `active` goes
    False when a trader unlocks it early (the row stays: the trigger is spent)."""

    __tablename__ = "pair_locks"
    id: int | None = Field(default=None, primary_key=True)
    bot_id: int | None = Field(default=None, foreign_key="bots.id", index=True)
    pair: str = Field(max_length=32)
    until: datetime = _ts(index=True)
    rule: str = Field(max_length=32)
    reason: str = Field(default="", max_length=256)
    active: bool = True
    unlocked_by: str | None = Field(default=None, max_length=64)
    created_at: datetime = _ts()
class BotLease(SQLModel, table=True):
    """Which engine worker owns a bot (or a shared job: name "*global*") until
    `expires_at`; the owner renews it by heartbeat, another worker takes it once it
    lapses (`engine.service.leases`). Times are wall-clock UTC, never a replay's clock."""

    __tablename__ = "bot_leases"
    name: str = Field(primary_key=True, max_length=64)
    owner: str = Field(max_length=128)
    expires_at: datetime = _ts(index=True)
    acquired_at: datetime = _ts()
    heartbeat_at: datetime = _ts()


class ApiToken(SQLModel, table=True):
    """A web API token: only its SHA-256 is stored (the token itself is shown once).

    Tokens are 256-bit random strings, so a fast hash is enough: there is nothing to
    brute-force that a slow hash would protect (unlike a password)."""

    __tablename__ = "api_tokens"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=64, index=True)
    role: str = Field(default=Role.VIEWER, max_length=16)
    token_hash: str = Field(max_length=64, unique=True)
    prefix: str = Field(max_length=12)  # first characters, to tell tokens apart in lists
    created_at: datetime = _ts()
    last_used_at: datetime | None = _ts(nullable=True)
    revoked_at: datetime | None = _ts(nullable=True)


class AlgoOrder(SQLModel, table=True):
    """A parent order worked by an execution algo (TWAP/VWAP, `engine.execution.algos`):
    its slices are ordinary `orders` rows with `algo_id` set. Persisted so a restart
    resumes it (or reports it, when its window has passed)."""

    __tablename__ = "algo_orders"
    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=8)  # twap | vwap
    bot_id: int | None = Field(default=None, foreign_key="bots.id", index=True)
    trade_id: int | None = Field(default=None, foreign_key="trades.id", index=True)
    symbol: str = Field(max_length=32)
    side: str = Field(max_length=8)  # buy | sell
    intent: str = Field(default="enter", max_length=8)  # enter | exit
    amount: Decimal = _money()
    limit_price: Decimal | None = _money(nullable=True)
    slices: int = 1
    weights: list[float] = _json([])
    duration_s: int = 0
    started_at: datetime = _ts()
    arrival_price: Decimal = _money()
    slices_done: int = 0  # schedule points passed (sent, skipped or merged)
    slices_sent: int = 0
    skipped: int = 0
    filled: Decimal = _money()
    average_price: Decimal | None = _money(nullable=True)
    state: str = Field(default="running", max_length=16, index=True)
    note: str | None = Field(default=None, max_length=512)
    created_by: str = Field(default="", max_length=64)
    updated_at: datetime = _ts()
    finished_at: datetime | None = _ts(nullable=True)


class RawMessage(SQLModel, table=True):
    """Market-data messages as the exchange sent them, kept for audit (what the exchange
    actually said when a candle is disputed) for `[collector] raw_retention_hours`,
    then pruned (`engine.data.rawstore`). One row is one provider's batch: `arrivals`
    (int64 ms) and `payload` (the messages one per line, as received; a parsed object
    as its JSON), both zlib-compressed (`rawstore.pack`), `received_at` / `last_at` the
    first and last arrival. Rows, not messages, are what a feed of 50,000 messages a
    second cannot afford one by one; `engine.data.rawstore.read_raw` gives them back
    one by one."""

    __tablename__ = "raw_messages"
    id: int | None = Field(default=None, primary_key=True)
    received_at: datetime = _ts(index=True)
    last_at: datetime = _ts()
    provider: str = Field(max_length=32)
    count: int = 0
    arrivals: bytes = Field(sa_type=sa.LargeBinary)
    payload: bytes = Field(sa_type=sa.LargeBinary)


ALL_TABLES = SQLModel.metadata


class NotifyMode(SQLModel, table=True):
    """A chat's own mode for one alert type, set from the chat with `/notify` (over the
    `[notify]` settings): `kind` is an alert type or "*" (every type); `destination`
    is the outbox delivery key ("telegram:<chat>", "discord:<channel>",
    "discord:dm:<user>", "console"). The row "dm" kind "_dm" asks for Discord DMs."""

    __tablename__ = "notify_modes"
    __table_args__ = (sa.UniqueConstraint("destination", "kind"),)
    id: int | None = Field(default=None, primary_key=True)
    destination: str = Field(max_length=96, index=True)
    kind: str = Field(max_length=32)
    mode: str = Field(max_length=8)  # on | silent | off | digest
    set_by: str = Field(default="", max_length=96)
    updated_at: datetime = _ts()
