"""Discord transport (discord.py 2.7): slash commands, approval buttons, alerts.

The same command set as Telegram, as guild slash commands whose options are joined
back into the argument list every command parses (so usage errors read the same
everywhere). Answers are ephemeral: only the caller sees them, as in a private
Telegram chat, and guild members who are not allow-listed learn nothing. Alerts go to
`discord.channel_id` ("discord:<channel_id>" in the outbox deliveries); proposals carry
Approve / Reject / Details buttons whose `custom_id` is the signed payload from
`commands.callbacks` (the same bytes as Telegram's callback_data).

Buttons are `discord.ui.DynamicItem`s: no per-message state is kept, so a button on a
proposal sent before a restart still works, and every press is verified from its
custom_id alone (forged or stale ids are refused by `bot.actions.press`). Discord wants
an answer to every interaction within 3 s: a command or press still running after
`defer_after` seconds is deferred and finished by editing the original response.

Tests and self-hosted gateways: `discord.api_base` replaces `discord.http.Route.BASE`
(a process-wide setting of discord.py, restored on stop) and the gateway URL is then
asked from that API (GET /gateway/bot) unless `discord.gateway_url` is set.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import io
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any, cast

import discord
import yarl
from discord import app_commands
from discord.gateway import DiscordWebSocket
from discord.http import Route

from bot.actions import press
from bot.notifier import Destination, PermanentError, RetryLater
from commands import COMMANDS, dispatch
from commands.auth import REFUSAL, REQUESTED, identify, request_access, role_for
from commands.base import Ctx, Identity
from commands.callbacks import CallbackSigner
from commands.catalog import TIMEFRAMES
from commands.reply import Reply, discord_markdown
from engine.service.api import TradingAPI
from engine.storage.config import Settings

__all__ = ["SLASH_OPTIONS", "ApprovalButton", "DiscordTransport", "SlashOption"]

log = logging.getLogger("sentitrade.discord")
OnDecided = Callable[[int, Reply, str | None], Awaitable[Any]]
DEFAULT_API_BASE = "https://discord.com/api/v10"
INVALID_BUTTON = "This button is no longer valid."


@dataclass(frozen=True, slots=True)
class SlashOption:
    """One string option of a slash command; its value is split on whitespace and
    appended to the arguments in declaration order."""

    name: str
    description: str
    required: bool = False
    choices: tuple[str, ...] = ()


def _n(what: str) -> tuple[SlashOption, ...]:
    return (SlashOption("n", what),)


_BOT_NAME = (SlashOption("name", "bot name (default: the first bot)"),)
_PROPOSAL = (SlashOption("id", "proposal id", required=True),)
_ALGO = (SlashOption("pair", "e.g. BTC/USDT", required=True),
         SlashOption("side", "buy or sell", required=True, choices=("buy", "sell")),
         SlashOption("amount", "base amount, e.g. 0.5", required=True),
         SlashOption("duration", "e.g. 90s, 60m, 4h, 1d", required=True),
         SlashOption("options", "slices N and/or limit PRICE"))
_FORCE = (SlashOption("pair", "e.g. BTC/USDT", required=True),
          SlashOption("rate", "limit price (default: market)"))

# Every command with a usage line has its options here (tests check both directions).
SLASH_OPTIONS: dict[str, tuple[SlashOption, ...]] = {
    "start_bot": _BOT_NAME, "stop_bot": _BOT_NAME, "pause": _BOT_NAME,
    "status": (SlashOption("layout", "positions as a table", choices=("table",)),),
    "trades": _n("how many closed trades (default 10)"),
    "profit": (SlashOption("days", "only the last N days"),),
    "daily": _n("how many days (default 7)"),
    "weekly": _n("how many weeks"),
    "monthly": _n("how many months"),
    "approve": _PROPOSAL, "reject": _PROPOSAL,
    "forceexit": (SlashOption("target", "trade id, or all", required=True),),
    "sentiment": (SlashOption("symbol", "e.g. BTC or BTC/USDT", required=True),),
    "signals": _n("how many signals (default 10)"),
    "alerts": (SlashOption("setting", "on, off, all, or alert types separated by spaces"),),
    "backtest": (SlashOption("pair", "e.g. BTC/USDT", required=True),
                 SlashOption("timeframe", "candle size", required=True, choices=TIMEFRAMES),
                 SlashOption("duration", "e.g. 30d, 8w, 6m, 1y", required=True),
                 SlashOption("strategy", "built-in name or your strategy's class name",
                             required=True)),
    "logs": _n("how many lines (default 20)"),
    "strategy": (SlashOption("bot", "bot name (default: the only bot)"),),
    "entries": (SlashOption("pair", "only this pair, e.g. BTC/USDT"),),
    "exits": (SlashOption("pair", "only this pair, e.g. BTC/USDT"),),
    "order": (SlashOption("trade", "trade id", required=True),),
    "blacklist": (SlashOption("pair", "pair to add (trader role); none: show the list"),),
    "audit": _n("how many entries (default 20)"),
    "notify": (SlashOption("setting", "TYPE|all on|silent|off|digest, reset, or dm on|off"),),
    "unlock": (SlashOption("pair", "pair like BTC/USDT, or all", required=True),),
    "chart": (SlashOption("pair", "e.g. BTC/USDT", required=True),
              SlashOption("timeframe", "candle size (default: the bot's)", choices=TIMEFRAMES)),
    "role": (SlashOption("user", "transport:id, e.g. telegram:123456", required=True),
             SlashOption("role", "new role", required=True,
                         choices=("viewer", "trader", "admin", "blocked"))),
    "twap": _ALGO, "vwap": _ALGO,
    "algos": (SlashOption("which", "all: the finished ones too", choices=("all",)),),
    "cancel": (SlashOption("id", "order id (12) or algo id (a3)", required=True),),
    "forcelong": _FORCE, "forceshort": _FORCE,
}

_STYLES = {"approve": discord.ButtonStyle.success, "reject": discord.ButtonStyle.danger,
           "details": discord.ButtonStyle.secondary}


class ApprovalButton(discord.ui.DynamicItem[discord.ui.Button[Any]],
                     template=r"[\x21-\x7e]{1,100}"):
    """Any button on the bot's messages: the custom_id is a signed payload, checked on
    every press, so the template accepts any printable id (a forged one is refused by
    the signature check, not silently dropped)."""

    def __init__(self, button: discord.ui.Button[Any]) -> None:
        super().__init__(button)

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction[Any],
                             item: discord.ui.Item[Any], match: Any, /) -> ApprovalButton:
        return cls(cast(discord.ui.Button[Any], item))

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        client = interaction.client
        if isinstance(client, _Client):
            await client.transport.on_press(interaction, self.custom_id)


class _Client(discord.Client):
    """discord.Client wired to one transport; no privileged intents are needed
    (slash commands and buttons arrive as interactions, not messages)."""

    def __init__(self, transport: DiscordTransport) -> None:
        discord.VoiceClient.warn_nacl = discord.VoiceClient.warn_dave = False  # no voice
        intents = discord.Intents.none()
        intents.guilds = True
        super().__init__(intents=intents, allowed_mentions=discord.AllowedMentions.none(),
                         max_ratelimit_timeout=30.0, chunk_guilds_at_startup=False)
        self.transport = transport
        self.connected = asyncio.Event()

    async def setup_hook(self) -> None:
        self.add_dynamic_items(ApprovalButton)

    async def on_connect(self) -> None:
        self.connected.set()

    async def on_interaction(self, interaction: discord.Interaction[Any]) -> None:
        await self.transport.on_interaction(interaction)


def _custom_ids(message: discord.Message | None) -> set[str]:
    out: set[str] = set()
    for row in message.components if message is not None else []:
        for child in getattr(row, "children", [row]):
            cid = getattr(child, "custom_id", None)
            if cid:
                out.add(str(cid))
    return out


class DiscordTransport:
    """One bot account in one guild: serves slash commands and button presses, and is
    the alert sink for `discord.channel_id`."""

    transport = "discord"
    max_button_rows = 5  # Discord: 5 action rows per message
    max_chars = 1900  # of 2000, leaving room for markdown escapes

    def __init__(self, settings: Settings, api: TradingAPI, signer: CallbackSigner,
                 on_decided: OnDecided | None = None, defer_after: float = 2.0,
                 ready_timeout: float = 30.0) -> None:
        dc = settings.discord
        if dc.token is None or not dc.token.get_secret_value():
            raise ValueError("discord.token is not set")
        self.settings = settings
        self.api = api
        self.signer = signer
        self.on_decided = on_decided
        self.defer_after = defer_after
        self.ready_timeout = ready_timeout
        self.client = _Client(self)
        self.tree: app_commands.CommandTree[_Client] = app_commands.CommandTree(self.client)
        self.tree.on_error = self._on_tree_error  # type: ignore[method-assign]
        for cmd in COMMANDS.values():
            self.tree.add_command(self._slash(cmd.name, cmd.summary))
        self._task: asyncio.Task[None] | None = None
        self._press_locks: dict[int, asyncio.Lock] = {}
        self._decided: OrderedDict[int, None] = OrderedDict()  # message ids showing a decision
        self._saved: tuple[str, yarl.URL] | None = None
        self.ready = False  # the notifier holds this transport's alerts until True
        self.notifier: Any = None  # set by transports.build: re-renders digests
        self.dm_users: dict[str, float] = {}  # user id -> since (/notify dm on), notifier
        self._dm_channels: dict[str, int] = {}

    # ------------------------------------------------------------ lifecycle
    def _aim(self) -> None:
        """Point discord.py at `api_base` (and the gateway) when not discord.com."""
        base = self.settings.discord.api_base.rstrip("/")
        gw = self.settings.discord.gateway_url
        if base == DEFAULT_API_BASE and not gw:
            return
        self._saved = (Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY)
        Route.BASE = base

    def _restore(self) -> None:
        if self._saved is not None:
            Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY = self._saved
            self._saved = None

    async def start(self) -> None:
        """Log in (users/@me, application), sync the slash commands to the guild,
        then connect the gateway; returns once the session is READY."""
        dc = self.settings.discord
        assert dc.token is not None
        self._aim()
        try:
            await self.client.login(dc.token.get_secret_value())
            if dc.gateway_url:
                DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(dc.gateway_url)
            elif self._saved is not None:  # a non-default API announces its own gateway
                _shards, url, _limits = await self.client.http.get_bot_gateway()
                DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(url)
            await self._sync_commands()
        except BaseException:
            await self.client.close()
            self._restore()
            raise
        self._task = asyncio.create_task(self._run(), name="sentitrade-discord")
        waiter = asyncio.create_task(self.client.connected.wait())
        done, _ = await asyncio.wait({waiter, self._task}, timeout=self.ready_timeout,
                                     return_when=asyncio.FIRST_COMPLETED)
        if waiter not in done:
            waiter.cancel()
            failed = self._task in done and self._task.exception() is not None
            await self.stop()
            raise RuntimeError("discord gateway did not become ready"
                               + (" (connection failed)" if failed else
                                  f" within {self.ready_timeout:.0f}s"))
        if dc.channel_id is None:
            log.warning("discord.channel_id is not set: alerts are not pushed to Discord")
        self.ready = True

    async def _run(self) -> None:
        try:
            await self.client.connect(reconnect=True)
        except asyncio.CancelledError:
            raise
        except Exception as e:
            log.error("discord gateway stopped: %s", type(e).__name__)
            raise

    async def _sync_commands(self) -> None:
        guild_id = self.settings.discord.guild_id
        if guild_id is None:  # global commands: may take a while to show up
            await self.tree.sync()
            return
        guild = discord.Object(id=guild_id)
        self.tree.copy_global_to(guild=guild)
        await self.tree.sync(guild=guild)

    async def stop(self) -> None:
        self.ready = False
        await self.client.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None
        self._restore()

    # ------------------------------------------------------------ slash commands
    def _slash(self, name: str, summary: str) -> app_commands.Command[Any, Any, None]:
        """An app command whose typed options come from SLASH_OPTIONS; discord.py reads
        the options from the callback's signature, so one is built for it."""
        opts = SLASH_OPTIONS.get(name, ())

        async def callback(interaction: discord.Interaction[Any], **values: str | None) -> None:
            args: list[str] = []
            for o in opts:
                v = values.get(o.name)
                if v:
                    args.extend(str(v).split())
            await self.on_command(interaction, name, args)

        P = inspect.Parameter
        params = [P("interaction", P.POSITIONAL_OR_KEYWORD, annotation=discord.Interaction)]
        for o in sorted(opts, key=lambda o: not o.required):
            params.append(P(o.name, P.POSITIONAL_OR_KEYWORD,
                            annotation=str if o.required else str | None,
                            default=P.empty if o.required else None))
        callback.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
        if opts:
            app_commands.describe(**{o.name: o.description[:100] for o in opts})(callback)
            choices = {o.name: [app_commands.Choice(name=c, value=c) for c in o.choices]
                       for o in opts if o.choices}
            if choices:
                app_commands.choices(**choices)(callback)
        return app_commands.Command(name=name, description=(summary or name)[:100],
                                    callback=callback)

    def _identify(self, user: discord.User | discord.Member) -> Identity | None:
        name = user.display_name or user.name or str(user.id)
        return identify(self.settings, "discord", str(user.id), name,
                        getattr(self.api, "sessions", None))

    async def on_command(self, interaction: discord.Interaction[Any], name: str,
                         args: list[str]) -> None:
        """Authorise, run the command, answer ephemerally (deferring when slow)."""
        who = self._identify(interaction.user)
        if who is None:
            u = interaction.user
            asked = name == "start" and request_access(
                self.api.sessions, "discord", str(u.id), u.display_name or u.name or str(u.id))
            await interaction.response.send_message(REQUESTED if asked else REFUSAL,
                                                    ephemeral=True)
            return
        ctx = Ctx(api=self.api, user=who, chat_id=str(interaction.channel_id or ""))
        cmd = COMMANDS.get(name)
        task = asyncio.ensure_future(dispatch(ctx, name, args))
        deferred = bool(cmd is not None and cmd.slow)
        if not deferred:
            done, _ = await asyncio.wait({task}, timeout=self.defer_after)
            deferred = not done
        if deferred:
            await interaction.response.defer(ephemeral=True, thinking=True)
        try:
            reply = await task
        finally:
            if not task.done():
                task.cancel()
        await self._answer(interaction, reply, deferred)

    async def _answer(self, interaction: discord.Interaction[Any], reply: Reply,
                      deferred: bool) -> None:
        content = discord_markdown(reply)
        files = self._files(reply)
        view = self._view(reply)
        if deferred:
            await interaction.edit_original_response(content=content, attachments=files,
                                                     view=view)
        elif view is not None:
            await interaction.response.send_message(content, files=files, view=view,
                                                    ephemeral=True)
        else:
            await interaction.response.send_message(content, files=files, ephemeral=True)
        for part in reply.extra:
            await interaction.followup.send(discord_markdown(Reply(part)), ephemeral=True)

    # ------------------------------------------------------------ buttons
    async def on_interaction(self, interaction: discord.Interaction[Any]) -> None:
        """Component presses that no button handles (an id that is not on the pressed
        message) still get a refusal instead of a silent 'interaction failed'."""
        if interaction.type is not discord.InteractionType.component:
            return
        data = cast(dict[str, Any], interaction.data or {})
        cid = str(data.get("custom_id", ""))
        if (ApprovalButton.__discord_ui_compiled_template__.fullmatch(cid)
                and cid in _custom_ids(interaction.message)):
            return  # ApprovalButton.callback answers
        log.warning("refused discord button from %s: not on the message", interaction.user.id)
        await interaction.response.send_message(INVALID_BUTTON, ephemeral=True)

    async def on_press(self, interaction: discord.Interaction[Any], data: str) -> None:
        """Verify and decide; edit the pressed message in place with the outcome.

        Presses on one message are serialised, and a message that already shows a
        decision made here keeps it: the second tap of a double tap only gets a short
        "Already executed by ..." instead of overwriting "Approved by ..., filled ...".
        """
        who = self._identify(interaction.user)
        if who is None:
            await interaction.response.send_message(REFUSAL, ephemeral=True)
            return
        mid = interaction.message.id if interaction.message is not None else 0
        lock = self._press_locks.setdefault(mid, asyncio.Lock())
        try:
            async with lock:
                await self._press(interaction, who, data, mid)
        finally:
            if not lock.locked() and self._press_locks.get(mid) is lock:
                del self._press_locks[mid]

    async def _press(self, interaction: discord.Interaction[Any], who: Identity, data: str,
                     mid: int) -> None:
        task = asyncio.ensure_future(press(self.api, self.signer, who, data))
        done, _ = await asyncio.wait({task}, timeout=self.defer_after)
        deferred = not done
        if deferred:
            await interaction.response.defer()
        res = await task
        if res.message is not None and res.decided_pid is None and mid in self._decided:
            res = replace(res, message=None)  # keep the decision shown; just say why
        if res.message is not None:
            shown = res.message
            notifier = getattr(self, "notifier", None)
            if notifier is not None and self.settings.discord.channel_id:  # digest stays one
                shown = notifier.digest_for(f"discord:{self.settings.discord.channel_id}",
                                            str(mid)) or shown
            content, view = discord_markdown(shown), self._view(shown)
            if deferred:
                await interaction.edit_original_response(content=content, view=view)
            else:
                await interaction.response.edit_message(content=content, view=view)
            if res.decided_pid is None:  # no fresh decision: say why (expired...)
                await interaction.followup.send(res.toast[:190], ephemeral=True)
            else:
                self._decided[mid] = None
                while len(self._decided) > 1024:
                    self._decided.popitem(last=False)
        else:
            answer = res.detail if res.detail is not None else Reply(res.toast[:190])
            if deferred:
                await interaction.followup.send(discord_markdown(answer), ephemeral=True)
            else:
                await interaction.response.send_message(discord_markdown(answer),
                                                        ephemeral=True)
        if res.decided_pid is not None and res.message is not None and self.on_decided:
            msg = interaction.message
            skip = (None if msg is None or msg.flags.ephemeral
                    else f"discord:{interaction.channel_id}")
            await self.on_decided(res.decided_pid, res.message, skip)

    async def _on_tree_error(self, interaction: discord.Interaction[Any],
                             error: app_commands.AppCommandError) -> None:
        log.error("discord command error: %s", type(error).__name__, exc_info=error)
        with contextlib.suppress(discord.HTTPException):
            if not interaction.response.is_done():
                await interaction.response.send_message(
                    "That failed on our side; the error is in the log.", ephemeral=True)

    # ------------------------------------------------------------ rendering
    def _view(self, reply: Reply) -> discord.ui.View | None:
        """Buttons with signed custom_ids; None (no components) when there are none."""
        if not reply.buttons:
            return None
        view = discord.ui.View(timeout=None)
        ids = list(dict.fromkeys(b.id for b in reply.buttons))  # one row per object
        for b in reply.buttons:
            row = ids.index(b.id)
            if row >= self.max_button_rows:
                break
            view.add_item(ApprovalButton(discord.ui.Button(
                label=b.label, style=_STYLES.get(b.action, discord.ButtonStyle.secondary),
                custom_id=self.signer.sign(b.action, int(b.id)), row=row)))
        return view

    @staticmethod
    def _files(reply: Reply) -> list[discord.File]:
        return [discord.File(io.BytesIO(a.data), filename=a.filename)
                for a in (reply.image, reply.document) if a is not None]

    # ------------------------------------------------------------ alert sink
    def reconfigure(self, settings: Settings) -> None:
        """/reload_config: the new allow-list applies to the next message (the token,
        the API and the chats need a restart)."""
        sec = self.settings.discord.model_copy(
            update={"allowed_users": dict(settings.discord.allowed_users)})
        self.settings = self.settings.model_copy(update={"discord": sec})

    def destinations(self) -> list[Destination]:
        """The configured channel (a shared room: every alert goes there), and the DM
        of each allowed user who asked with `/notify dm on` (their own preferences
        apply there; admins' DMs get the job errors)."""
        ch = self.settings.discord.channel_id
        out = [Destination(f"discord:{ch}", str(ch), None)] if ch else []
        sessions = getattr(self.api, "sessions", None)
        for uid, since in sorted(self.dm_users.items()):
            role = role_for(self.settings, "discord", uid, sessions)
            if role is not None:  # a user removed from the allow-list gets nothing
                out.append(Destination(f"discord:dm:{uid}", f"dm:{uid}", ("discord", uid),
                                       admin=role == "admin", since=since))
        return out

    async def _channel_id(self, chat: str) -> int:
        """The channel of a destination; "dm:<user>" opens (once) the DM channel."""
        if not chat.startswith("dm:"):
            return int(chat)
        uid = chat.removeprefix("dm:")
        if uid not in self._dm_channels:
            dm = await self.client.create_dm(discord.Object(id=int(uid)))
            self._dm_channels[uid] = dm.id
        return self._dm_channels[uid]

    async def send(self, dest: Destination, reply: Reply, silent: bool = False) -> str:
        if not self.ready:
            raise RetryLater(1.0)
        try:
            channel = self.client.get_partial_messageable(await self._channel_id(dest.chat))
        except (discord.Forbidden, discord.NotFound) as e:
            raise PermanentError(f"discord {e.status}: {e.text[:200]}") from None
        view = self._view(reply)
        try:
            if view is not None:
                msg = await channel.send(discord_markdown(reply), files=self._files(reply),
                                         view=view, silent=silent)
            else:
                msg = await channel.send(discord_markdown(reply), files=self._files(reply),
                                         silent=silent)
            for part in reply.extra:
                await channel.send(discord_markdown(Reply(part)))
        except discord.RateLimited as e:
            raise RetryLater(e.retry_after) from None
        except (discord.Forbidden, discord.NotFound) as e:
            raise PermanentError(f"discord {e.status}: {e.text[:200]}") from None
        return str(msg.id)

    async def edit(self, dest: Destination, ref: str, reply: Reply) -> None:
        channel = self.client.get_partial_messageable(await self._channel_id(dest.chat))
        await channel.get_partial_message(int(ref)).edit(content=discord_markdown(reply),
                                                         view=self._view(reply))
