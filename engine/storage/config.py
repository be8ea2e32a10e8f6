"""Settings: one frozen pydantic model, read from a TOML file and then env vars.

Precedence, highest first: `SENTITRADE_<SECTION>__<KEY>` environment variables, the TOML
file given by `--config`, the defaults below. Unknown keys are rejected so that a typo
never silently falls back to a default (a misspelt risk limit is a real-money bug).
Any problem becomes one `ConfigError` line naming the key, the value given and what is
allowed; secret values are never echoed.
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from engine.errors import ConfigError
from sentiment.config import SentimentSettings

ENV_PREFIX = "SENTITRADE_"
Role = Literal["viewer", "trader", "admin"]
ExchangeMode = Literal["replay", "paper", "live"]
TradingMode = Literal["spot", "futures"]
MarginMode = Literal["isolated"]
ApprovalMode = Literal["auto", "manual", "threshold"]
Timeframe = Literal["1s", "1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "12h", "1d"]

_SECTION = ConfigDict(extra="forbid", frozen=True)


class DatabaseSettings(BaseModel):
    """Where state lives. SQLite (WAL) by default; any SQLAlchemy URL for Postgres."""

    model_config = _SECTION
    url: str = "sqlite:///var/sentitrade.db"
    echo: bool = False


class ExchangeSettings(BaseModel):
    """Which exchange, which keys, and whether orders are real.

    `mode`: `replay` = candles from files + paper broker; `paper` = live candles + paper
    broker (the default); `live` = real orders, which also needs a confirmation flag at
    start.
    """

    model_config = _SECTION
    id: str = "binance"
    api_key: SecretStr | None = None
    secret: SecretStr | None = None
    password: SecretStr | None = None
    sandbox: bool = False
    api_url: str | None = Field(
        default=None, pattern=r"^https?://[^\s]+$",
        description="send the exchange's REST calls to this base URL (a proxy, tests)")
    start_retries_s: list[float] = Field(
        default_factory=lambda: [2.0, 5.0, 10.0, 30.0],
        description="waits between start-up checks of an exchange that does not answer")
    mode: ExchangeMode = "paper"
    quote: str = Field(default="USDT", pattern=r"^[A-Za-z0-9]{2,12}$")
    starting_balance: Decimal = Field(default=Decimal("10000"), gt=0, le=Decimal("1e12"))
    maker_fee: Decimal = Field(default=Decimal("0.001"), ge=0, lt=1)
    taker_fee: Decimal = Field(default=Decimal("0.001"), ge=0, lt=1)
    slippage_bps: float = Field(default=5.0, ge=0, le=1000)
    replay_data: Path | None = Field(
        default=None, description="folder or file of candles; empty = the embedded sample"
    )
    replay_speed: float = Field(
        default=0.0, ge=0, description="candles per second in replay; 0 = as fast as possible"
    )
    # market data over websockets (engine.data.stream; docs/market-data.md)
    stream: bool = Field(
        default=False, description="paper/live: candles, trades and the order book over "
        "ccxt.pro websockets, REST only to fill gaps (false: REST polling)")
    ws_url: str | None = Field(
        default=None, pattern=r"^wss?://[^\s]+$",
        description="send the exchange's websocket connections to this base URL (a relay, "
        "tests)")
    stale_seconds: float = Field(
        default=30.0, gt=0, le=3600,
        description="a candle or ticker stream silent this long is reconnected and "
        "pauses entries until it speaks again")
    reconnect_max_seconds: float = Field(
        default=30.0, gt=0, le=600, description="the longest wait between reconnects")
    book_depth: int = Field(
        default=20, ge=0, le=1000,
        description="stream: levels of each bot symbol's order book kept for strategies "
        "(`self.dp`) and paper fills that walk the book; 0 = no book stream")
    # futures / margin (engine.margin, docs/futures.md); spot is the default
    trading_mode: TradingMode = Field(
        default="spot", description="spot, or futures: USDⓈ-M perpetuals (ccxt defaultType "
        "swap) with shorts, leverage, liquidation and funding")
    leverage: float = Field(
        default=1.0, ge=1, le=125,
        description="futures: leverage proposed to the strategy's leverage callback")
    margin_mode: MarginMode = Field(
        default="isolated", description="futures margin mode (isolated only for now)")
    funding_rate: float = Field(
        default=0.0001, ge=-0.05, le=0.05,
        description="paper futures: funding rate charged every 8 h (longs pay positive rates)")
    liquidation_alert_pct: float = Field(
        default=5.0, gt=0, le=100,
        description="futures: alert when the mark price comes within this % of the "
        "liquidation price")


class CollectorSettings(BaseModel):
    """Raw market-data messages kept in the database for audit (`engine.data.rawstore`):
    what the exchange actually sent, when a candle or a fill is disputed."""

    model_config = _SECTION
    raw_retention_hours: float = Field(
        default=0.0, ge=0, le=24 * 365,
        description="stream: keep every raw streamed trade message this many hours in "
        "the raw_messages table (0 = not stored)")
    raw_batch: int = Field(default=5000, ge=1, le=1_000_000,
                           description="raw messages written per database batch")
    raw_flush_seconds: float = Field(default=1.0, gt=0, le=60,
                                     description="the longest a raw message waits unwritten")


class TelegramSettings(BaseModel):
    """Telegram transport. `allowed_users` maps a numeric user id to a role."""

    model_config = _SECTION
    token: SecretStr | None = None
    base_url: str = "https://api.telegram.org/bot"
    base_file_url: str = "https://api.telegram.org/file/bot"
    allowed_users: dict[str, Role] = Field(default_factory=dict)
    chat_ids: list[int] = Field(
        default_factory=list, description="where alerts go; empty = each allowed user's DM"
    )
    webhook_url: str | None = None
    webhook_listen: str = "127.0.0.1"
    webhook_port: int = Field(default=8443, ge=1, le=65535)
    callback_secret: SecretStr | None = Field(
        default=None, description="HMAC key for button data; empty = derived from master key"
    )
    callback_ttl_seconds: int = Field(
        default=86400, ge=60, description="buttons older than this are refused as stale"
    )

    @field_validator("allowed_users")
    @classmethod
    def _numeric_ids(cls, v: dict[str, Role]) -> dict[str, Role]:
        for uid in v:
            if not uid.lstrip("-").isdigit():
                raise ValueError(f"user id {uid!r} must be a number")
        return v


class DiscordSettings(BaseModel):
    """Discord transport: a bot token, the guild for slash commands, allow-listed users."""

    model_config = _SECTION
    token: SecretStr | None = None
    guild_id: int | None = None
    channel_id: int | None = None
    allowed_users: dict[str, Role] = Field(default_factory=dict)
    api_base: str = Field(
        default="https://discord.com/api/v10", description="REST base (a fake in tests)"
    )
    gateway_url: str | None = Field(
        default=None, description="gateway websocket URL; empty = the one Discord announces"
    )

    @field_validator("allowed_users")
    @classmethod
    def _numeric_ids(cls, v: dict[str, Role]) -> dict[str, Role]:
        for uid in v:
            if not uid.isdigit():
                raise ValueError(f"user id {uid!r} must be a number")
        return v


class ProtectionSpec(BaseModel):
    """One of Freqtrade's protections (``[[risk.protections]]``): what locks a pair, or
    every pair, for ``stop_duration_candles`` (`engine.risk.protections`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    method: Literal["CooldownPeriod", "StoplossGuard", "LowProfitPairs", "MaxDrawdown"]
    stop_duration_candles: int = Field(default=12, ge=1, le=100_000)
    lookback_period_candles: int = Field(default=48, ge=1, le=100_000)
    trade_limit: int = Field(default=4, ge=1, le=10_000)
    only_per_pair: bool = False
    required_profit: float = Field(default=0.0, ge=-1, le=10)
    max_allowed_drawdown: float = Field(default=0.2, gt=0, le=1)


class RiskSettings(BaseModel):
    """Pre-trade limits, sizing and circuit breakers (percentages are of equity)."""

    model_config = _SECTION
    max_position_pct: float = Field(default=20.0, gt=0, le=100)
    max_total_exposure_pct: float = Field(default=80.0, gt=0, le=1000)
    max_asset_exposure_pct: float = Field(default=40.0, gt=0, le=1000)
    max_trades_per_day: int = Field(default=50, ge=1)
    max_open_trades: int = Field(default=5, ge=1)
    blacklist: list[str] = Field(default_factory=list)
    whitelist: list[str] = Field(default_factory=list)
    sizing: Literal["fixed_pct", "half_kelly", "atr", "fixed_stake"] = "fixed_pct"
    stake_amount: Decimal = Field(default=Decimal("100"), gt=0,
                                  description="quote per trade with sizing = fixed_stake")
    fixed_pct: float = Field(default=5.0, gt=0, le=100)
    kelly_min_trades: int = Field(default=30, ge=1)
    atr_risk_pct: float = Field(default=1.0, gt=0, le=100)
    atr_multiplier: float = Field(default=2.0, gt=0)
    stoploss_pct: float = Field(default=5.0, gt=0, lt=100)
    # circuit breakers (the seed's defaults)
    daily_loss_pct: float = Field(default=5.0, gt=0, le=100)
    daily_loss_pause_minutes: int = Field(default=60, ge=1)
    drawdown_pause_pct: float = Field(default=10.0, gt=0, le=100)
    drawdown_pause_hours: int = Field(default=24, ge=1)
    drawdown_stop_pct: float = Field(default=20.0, gt=0, le=100)
    api_errors_per_minute: int = Field(default=10, ge=1)
    api_error_pause_minutes: int = Field(default=5, ge=1)
    price_spike_pct: float = Field(default=10.0, gt=0)
    price_spike_window_seconds: int = Field(default=60, ge=1)
    protections: list[ProtectionSpec] = Field(default_factory=list, max_length=32)
    max_leverage: float = Field(
        default=3.0, ge=1, le=125,
        description="futures: proposals with a higher leverage are refused with the reason")


class ApprovalSettings(BaseModel):
    """How proposals become orders: automatically, after a chat tap, or by size."""

    model_config = _SECTION
    mode: ApprovalMode = "manual"
    auto_max_notional: Decimal = Field(default=Decimal("100"), ge=0)
    expiry_seconds: int = Field(default=300, ge=5, le=7 * 86_400)
    max_price_drift_pct: float = Field(default=1.0, gt=0, le=100)


class EngineSettings(BaseModel):
    """The trading loop: scheduling, strategies, the news window of the frame columns.

    (The fusion thresholds of the first releases are parameters of the
    `sentiment_fusion` strategy now: set them per bot in ``[[bots]] params``.)"""

    model_config = _SECTION
    tick_delay_seconds: int = Field(default=3, ge=0, le=60,
                                    description="wait after a candle close before the tick")
    alert_drain_seconds: float = Field(default=2.0, gt=0, le=60)
    event_window_minutes: int = Field(default=360, ge=1,
                                      description="how long an event headline counts")
    strategy_path: Path | None = Field(default=None,
                                       description="folder of your own strategy files")
    history_candles: int = Field(default=1000, ge=0, le=1_000_000,
                                 description="candles the strategy sees per pair (0 = all)")
    news_delay_seconds: float = Field(default=0.0, ge=0, le=86_400,
                                      description="publication -> usable delay of news")


class BotSpec(BaseModel):
    """One trading bot: a strategy over some symbols on one timeframe."""

    model_config = _SECTION
    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    strategy: str = Field(default="sentiment_fusion", min_length=1, max_length=128)
    symbols: list[str] = Field(min_length=1)
    timeframe: Timeframe = "5m"
    approval_mode: ApprovalMode | None = None
    params: dict[str, Any] = Field(default_factory=dict,
                                   description="strategy parameter overrides")

    @field_validator("symbols")
    @classmethod
    def _pairs(cls, v: list[str]) -> list[str]:
        for s in v:
            if s.count("/") != 1 or not all(s.split("/")):
                raise ValueError(f"symbol {s!r} must look like BASE/QUOTE, e.g. BTC/USDT")
        return [s.upper() for s in v]


class SecuritySettings(BaseModel):
    """Where the master key comes from (env var first, then the key file)."""

    model_config = _SECTION
    master_key_env: str = "SENTITRADE_MASTER_KEY"
    key_file: Path = Path("var/master.key")


class ApiSettings(BaseModel):
    """The REST/WebSocket API and web dashboard (`web`): off unless enabled, and on the
    loopback interface unless told otherwise (put a TLS proxy in front to expose it)."""

    model_config = _SECTION
    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)  # 0: any free port (tests)
    cors_origins: list[str] = Field(default_factory=list, description=(
        "origins allowed to call the API from a browser; empty = CORS closed"))
    auth_failures_per_minute: int = Field(default=10, ge=1, le=10_000, description=(
        "failed token checks one client address may make per minute before 429"))
    ws_heartbeat_seconds: float = Field(default=15.0, gt=0, le=300)
    ws_queue_size: int = Field(default=256, ge=8, le=100_000, description=(
        "messages buffered per WebSocket client; a client further behind is dropped"))


class LoggingSettings(BaseModel):
    model_config = _SECTION
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    file: Path | None = None


class NotifySettings(BaseModel):
    """[notify]: how alerts reach a chat. Modes per alert type: "on" (sent at once),
    "silent" (no sound), "off" (never sent), "digest" (collected and sent every
    `digest_seconds`). Alerts still pending together (a burst) are sent as one message."""

    model_config = _SECTION
    digest_window_seconds: float = Field(default=1.0, ge=0, le=3600, description=(
        "an alert waits this long for others to share its message; 0 = one message each"))
    digest_seconds: float = Field(default=300.0, ge=1, le=86_400,
                                  description="how often 'digest' alert types are sent")
    queue_max: int = Field(default=50, ge=2, le=100_000, description=(
        "pending alerts per chat beyond which the backlog goes out as one summary"))
    types: dict[str, Literal["on", "silent", "off", "digest"]] = Field(
        default_factory=dict, description="default mode per alert type (others: on)")
    chats: dict[str, dict[str, Literal["on", "silent", "off", "digest"]]] = Field(
        default_factory=dict, description=(
            'per chat ("telegram:<chat id>", "discord:<channel id>", "console"): '
            "mode per alert type, over `types`"))
    quiet_hours: str | None = Field(default=None, pattern=r"^\d{2}:\d{2}-\d{2}:\d{2}$",
                                    description='"22:00-07:00": alerts arrive silently')
    timezone: str = Field(default="UTC", description="time zone of quiet_hours")
    error_repeat_minutes: int = Field(default=60, ge=0, le=10_080, description=(
        "an error alert repeating the same text within this is not sent again"))
    drain_on_stop_seconds: float = Field(default=2.0, ge=0, le=30, description=(
        "at shutdown, time spent sending what is queued (the rest is sent at next start)"))

    def mode(self, chat: str, kind: str) -> Literal["on", "silent", "off", "digest"]:
        """The mode of alert type `kind` in `chat` ("telegram:<id>", ...)."""
        return self.chats.get(chat, {}).get(kind) or self.types.get(kind) or "on"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, v: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {v!r} (e.g. UTC, Europe/Berlin)") from None
        return v


def _default_bots() -> list[BotSpec]:
    return [BotSpec(name="main", symbols=["BTC/USDT", "ETH/USDT"])]


class BusSettings(BaseModel):
    """``[bus]``: the event bus between processes (`engine.bus`). Empty: one process,
    nothing to install. A Redis URL: every committed alert is also appended to the
    ``alerts`` / ``trade_updates:{bot}`` / ``system_events`` streams for other
    processes to consume."""

    url: str = Field(default="", pattern=r"^$|^(redis|rediss|unix)://\S+$",
                     description="empty = in-process; redis://host:port/db = Redis")
    lease_seconds: float = Field(default=10.0, gt=0, le=3600,
                                 description="engine workers: a bot's owner renews its lease "
                                             "every quarter of this; a dead owner's bots move "
                                             "to another worker after it")


class Settings(BaseSettings):
    """The effective configuration of one service process."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
        case_sensitive=False,
    )

    database: DatabaseSettings = DatabaseSettings()
    exchange: ExchangeSettings = ExchangeSettings()
    collector: CollectorSettings = CollectorSettings()
    telegram: TelegramSettings = TelegramSettings()
    discord: DiscordSettings = DiscordSettings()
    sentiment: SentimentSettings = SentimentSettings()
    risk: RiskSettings = RiskSettings()
    approvals: ApprovalSettings = ApprovalSettings()
    engine: EngineSettings = EngineSettings()
    security: SecuritySettings = SecuritySettings()
    logging: LoggingSettings = LoggingSettings()
    bus: BusSettings = BusSettings()
    api: ApiSettings = ApiSettings()
    notify: NotifySettings = NotifySettings()
    bots: list[BotSpec] = Field(default_factory=_default_bots, min_length=1)

    @model_validator(mode="after")
    def _bots_consistent(self) -> Settings:
        seen: set[str] = set()
        quote = self.exchange.quote.upper()
        for i, bot in enumerate(self.bots):
            if bot.name.lower() in seen:
                raise ValueError(f"bots[{i}].name {bot.name!r} is used by another bot: "
                                 "each bot needs its own name")
            seen.add(bot.name.lower())
            for sym in bot.symbols:
                if sym.split("/")[1].split(":")[0] != quote:  # BTC/USDT:USDT: futures
                    raise ValueError(f"bots[{i}].symbols has {sym!r} but exchange.quote is "
                                     f"{quote!r}: every pair must end in /{quote}")
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Env wins over the file, the file (passed as init kwargs) over defaults.
        return (env_settings, init_settings)

    def secret_values(self) -> list[str]:
        """Every configured secret in clear, for the log filter; never print this."""
        out: list[str] = []
        for section in (self.exchange, self.telegram, self.discord, self.sentiment):
            for name in type(section).model_fields:
                value = getattr(section, name)
                if isinstance(value, SecretStr) and value.get_secret_value():
                    out.append(value.get_secret_value())
        env_key = os.environ.get(self.security.master_key_env)
        if env_key:
            out.append(env_key)
        return out

    def masked(self) -> dict[str, Any]:
        """The settings as plain data with every secret replaced by `***`."""
        data: dict[str, Any] = json.loads(self.model_dump_json())
        for section in data.values():
            if isinstance(section, dict):
                for k, v in section.items():
                    if v is not None and _is_secret_key(k):
                        section[k] = "***"
        return data


def _is_secret_key(key: str) -> bool:
    return key in {"api_key", "secret", "password", "token", "openai_api_key"} or key.endswith(
        ("_token", "_secret")
    )


def _fmt_loc(loc: tuple[int | str, ...]) -> str:
    parts: list[str] = []
    for p in loc:
        if isinstance(p, int):
            parts.append(f"[{p}]")
        else:
            parts.append(("." if parts else "") + p)
    return "".join(parts)


def _describe(err: Mapping[str, Any], source: str) -> str:
    loc = tuple(err.get("loc", ()))
    key = _fmt_loc(loc) or "(top level)"
    if err.get("type") == "extra_forbidden":
        return (
            f"unknown setting {key} in {source}: "
            "check the spelling against sentitrade.example.toml"
        )
    if not loc:  # a check across keys (bots vs exchange.quote): the message names them
        msg = str(err.get("msg", "invalid")).replace("Value error, ", "")
        return f"invalid settings in {source}: {msg}"
    value = err.get("input")
    shown = "***" if loc and _is_secret_key(str(loc[-1])) else repr(value)
    if err.get("type") == "missing":
        return f"missing setting {key} in {source}: it is required"
    msg = str(err.get("msg", "invalid")).replace("Input should be", "must be").replace(
        "Value error, ", ""
    )
    return f"invalid setting {key} = {shown} in {source}: {msg}"


def _check_env_sections(env_keys: list[str]) -> None:
    """`SENTITRADE_<SECTION>__<KEY>` must name a real section: pydantic-settings would
    ignore a misspelt one and the default would silently apply."""
    for k in env_keys:
        if "__" not in k:
            continue  # SENTITRADE_MASTER_KEY and friends are not settings
        section = k[len(ENV_PREFIX):].split("__", 1)[0].lower()
        if section not in Settings.model_fields:
            raise ConfigError(f"unknown setting section {section!r} in env var {k}: allowed "
                              f"sections are {', '.join(sorted(Settings.model_fields))}")


def load_settings(
    config: Path | None = None, env: Mapping[str, str] | None = None
) -> Settings:
    """Load the effective settings or raise `ConfigError` with one actionable line.

    `env` replaces `os.environ` (tests); `config` is the TOML file from `--config`.
    """
    file_data: dict[str, Any] = {}
    source = "defaults"
    if config is not None:
        source = str(config)
        try:
            raw = Path(config).read_bytes()
        except FileNotFoundError:
            raise ConfigError(
                f"config file {config} not found: pass an existing file to --config "
                "(see sentitrade.example.toml)"
            ) from None
        except OSError as e:
            raise ConfigError(f"config file {config} cannot be read: {e.strerror}") from None
        try:
            file_data = tomllib.loads(raw.decode("utf-8"))
        except UnicodeDecodeError:
            raise ConfigError(f"config file {config} is not UTF-8 text") from None
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(f"config file {config} is not valid TOML: {e}") from None
    saved: dict[str, str] | None = None
    if env is not None:
        saved = dict(os.environ)
        for k in list(os.environ):
            if k.upper().startswith(ENV_PREFIX):
                del os.environ[k]
        os.environ.update({k: v for k, v in env.items() if k.upper().startswith(ENV_PREFIX)})
    try:
        env_keys = sorted(k for k in os.environ if k.upper().startswith(ENV_PREFIX))
        _check_env_sections(env_keys)
        if env_keys:
            source += f" + env ({', '.join(env_keys)})" if len(env_keys) < 4 else " + env"
        return Settings(**file_data)
    except ValidationError as e:
        raise ConfigError(_describe(e.errors()[0], source)) from None
    except (ValueError, json.JSONDecodeError) as e:  # malformed complex env values
        raise ConfigError(f"invalid setting in {source}: {e}".splitlines()[0]) from None
    finally:
        if saved is not None:
            os.environ.clear()
            os.environ.update(saved)
