"""Telegram transport (python-telegram-bot 22): commands, approval buttons, alerts.

Long polling by default, a webhook when `telegram.webhook_url` is set. Every text
command goes through `commands.dispatch`; button presses through `bot.actions.press`
(signed callback data). Outgoing traffic passes `bot.flood.FloodLimiter`: Telegram's overall,
per-group and per-chat limits, with slots reserved for replies and button answers so
they never wait behind alerts; a 429 reaches the alert sender as `RetryLater` so the
alert waits in the outbox instead of being lost.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

from telegram import (
    BotCommand,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot.actions import press
from bot.flood import ALERT, FloodLimiter
from bot.notifier import Destination, Notifier, PermanentError, RetryLater, mask
from commands import COMMANDS, dispatch, split_args
from commands.auth import REFUSAL, REQUESTED, identify, request_access
from commands.base import Ctx
from commands.callbacks import CallbackSigner
from commands.reply import Reply, telegram_html
from engine.service.api import TradingAPI
from engine.storage.config import Settings

MAX_REFUSED = 10_000  # remembered refused user ids (oldest forgotten first)
log = logging.getLogger("sentitrade.telegram")
OnDecided = Callable[[int, Reply, str], Awaitable[Any]]


def keyboard(reply: Reply, signer: CallbackSigner) -> InlineKeyboardMarkup | None:
    """Inline buttons with signed callback data (<= 64 bytes each): one row per object
    (a digest has one row per proposal)."""
    if not reply.buttons:
        return None
    rows: list[list[InlineKeyboardButton]] = []
    last = None
    for b in reply.buttons:
        if b.id != last:
            rows.append([])
            last = b.id
        rows[-1].append(InlineKeyboardButton(b.label, callback_data=signer.sign(
            b.action, int(b.id))))
    return InlineKeyboardMarkup(rows)


class TelegramTransport:
    """One bot account: serves commands and presses, and is an alert sink."""

    transport = "telegram"
    max_button_rows = 20  # Telegram allows 100 buttons; 3 per proposal row
    max_chars = 3900  # of 4096, leaving room for HTML escapes

    def __init__(self, settings: Settings, api: TradingAPI, signer: CallbackSigner,
                 rate_limiter: FloodLimiter | None = None, poll_timeout: int = 10,
                 on_decided: OnDecided | None = None) -> None:
        tg = settings.telegram
        if tg.token is None or not tg.token.get_secret_value():
            raise ValueError("telegram.token is not set")
        self.settings = settings
        self.api = api
        self.signer = signer
        self.poll_timeout = poll_timeout
        self.on_decided = on_decided
        # users refused once (then silence); bounded: a flood of strangers cannot grow it
        self._refused: OrderedDict[int, None] = OrderedDict()
        limiter = rate_limiter if rate_limiter is not None else FloodLimiter()
        self.ready = False  # the notifier holds this transport's alerts until True
        self.notifier: Notifier | None = None
        builder: ApplicationBuilder[Any, Any, Any, Any, Any, Any] = (
            Application.builder().token(tg.token.get_secret_value())
            .base_url(tg.base_url).base_file_url(tg.base_file_url)
            .rate_limiter(limiter).concurrent_updates(16)
            .connect_timeout(5).read_timeout(10).write_timeout(10).pool_timeout(5)
            .get_updates_read_timeout(poll_timeout + 5).get_updates_connect_timeout(5)
        )
        self.app: Application[Any, Any, Any, Any, Any, Any] = builder.build()
        self.app.add_handler(MessageHandler(filters.COMMAND, self._on_command))
        self.app.add_handler(CallbackQueryHandler(self._on_press))
        self.app.add_error_handler(self._on_error)
        self._tasks: set[asyncio.Task[Any]] = set()

    # ------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        """initialize (getMe), setMyCommands, then poll (deleteWebhook) or webhook."""
        await self.app.initialize()
        await self.app.bot.set_my_commands(
            [BotCommand(c.name, c.summary[:256]) for c in COMMANDS.values()])
        await self.app.start()
        tg = self.settings.telegram
        assert self.app.updater is not None
        if tg.webhook_url:
            await self.app.updater.start_webhook(
                listen=tg.webhook_listen, port=tg.webhook_port, url_path="telegram",
                webhook_url=tg.webhook_url.rstrip("/") + "/telegram",
                secret_token=self.signer.sign("details", 0).split("|")[-1].replace("-", "_"),
                allowed_updates=["message", "callback_query"])
        else:
            await self.app.updater.start_polling(
                poll_interval=0.0, timeout=self.poll_timeout,
                allowed_updates=["message", "callback_query"])
        self.ready = True

    async def stop(self) -> None:
        self.ready = False
        for t in list(self._tasks):
            t.cancel()
        if self.app.updater is not None and self.app.updater.running:
            await self.app.updater.stop()
        if self.app.running:
            await self.app.stop()
        await self.app.shutdown()

    # ------------------------------------------------------------ incoming
    def _identify(self, user: Any) -> Any:
        if user is None:
            return None
        name = user.full_name or user.username or str(user.id)
        return identify(self.settings, "telegram", str(user.id), name,
                        getattr(self.api, "sessions", None))

    async def _on_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        msg = update.effective_message
        if msg is None or msg.text is None or update.effective_chat is None:
            return
        chat_id = update.effective_chat.id
        who = self._identify(update.effective_user)
        if who is None:
            uid = update.effective_user.id if update.effective_user else 0
            user = update.effective_user
            if (user is not None and split_args(msg.text)[0] == "start"
                    and request_access(self.api.sessions, "telegram", str(uid),
                                       user.full_name or user.username or str(uid))):
                await msg.reply_text(REQUESTED)  # the admins got Admit / Block buttons
                return
            if uid not in self._refused:  # one short refusal per user, then silence
                self._refused[uid] = None
                if len(self._refused) > MAX_REFUSED:
                    self._refused.popitem(last=False)
                await msg.reply_text(REFUSAL)
            return
        name, args = split_args(msg.text)
        ctx = Ctx(api=self.api, user=who, chat_id=str(chat_id))
        cmd = COMMANDS.get(name)
        if cmd is not None and cmd.slow:
            await self.app.bot.send_message(chat_id, f"Working on /{name}…")
            task = asyncio.create_task(self._slow(ctx, chat_id, name, args))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            return
        reply = await dispatch(ctx, name, args)
        await self.send_reply(chat_id, reply)

    async def _slow(self, ctx: Ctx, chat_id: int, name: str, args: list[str]) -> None:
        """A worker for long commands (/backtest): answer text, photo, then CSV."""
        reply = await dispatch(ctx, name, args)
        await self.send_reply(chat_id, reply)

    async def _on_press(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        q = update.callback_query
        if q is None:
            return
        who = self._identify(q.from_user)
        if who is None:
            await q.answer(REFUSAL)
            return
        res = await press(self.api, self.signer, who, str(q.data or ""))
        await q.answer(res.toast[:190])
        chat_id = q.message.chat.id if q.message is not None else None
        if res.message is not None and q.message is not None:
            shown = res.message
            if self.notifier is not None and chat_id is not None:  # a digest stays one
                shown = self.notifier.digest_for(f"telegram:{chat_id}",
                                                 str(q.message.message_id)) or shown
            try:
                await q.edit_message_text(telegram_html(shown), parse_mode=ParseMode.HTML,
                                          reply_markup=keyboard(shown, self.signer))
            except BadRequest as e:  # "message is not modified" on a double tap
                log.debug("edit skipped: %s", e)
        if res.detail is not None and chat_id is not None:
            await self.send_reply(chat_id, res.detail)
        if res.decided_pid is not None and res.message is not None and self.on_decided:
            await self.on_decided(res.decided_pid, res.message, f"telegram:{chat_id}")

    async def _on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        e = context.error
        if isinstance(e, NetworkError | TimedOut):  # PTB retries polling itself
            log.warning("telegram: %s", mask(f"{type(e).__name__}: {e}"))
            return
        log.error("telegram handler error: %s", mask(f"{type(e).__name__}: {e}"),
                  exc_info=e)

    # ------------------------------------------------------------ outgoing
    async def send_reply(self, chat_id: int | str, reply: Reply, alert: bool = False,
                         silent: bool = False) -> int:
        """Send text (+buttons), then image and document; returns the text message id.
        `alert` puts it in the alert lane (replies go first); `silent`: no sound."""
        bot = self.app.bot
        lane = ALERT if alert else None
        quiet = True if silent else None
        m = await bot.send_message(chat_id, telegram_html(reply), parse_mode=ParseMode.HTML,
                                   reply_markup=keyboard(reply, self.signer),
                                   disable_notification=quiet, rate_limit_args=lane)
        for part in reply.extra:
            await bot.send_message(chat_id, part[:4000], disable_notification=quiet,
                                   rate_limit_args=lane)
        if reply.image is not None:
            await bot.send_photo(chat_id, InputFile(reply.image.data,
                                                    filename=reply.image.filename),
                                 disable_notification=quiet, rate_limit_args=lane)
        if reply.document is not None:
            await bot.send_document(chat_id, InputFile(reply.document.data,
                                                       filename=reply.document.filename),
                                    disable_notification=quiet, rate_limit_args=lane)
        return m.message_id

    def reconfigure(self, settings: Settings) -> None:
        """/reload_config: the new allow-list applies to the next message (the token,
        the API and the chats need a restart)."""
        sec = self.settings.telegram.model_copy(
            update={"allowed_users": dict(settings.telegram.allowed_users)})
        self.settings = self.settings.model_copy(update={"telegram": sec})

    def destinations(self) -> list[Destination]:
        """Configured chat_ids, else each allowed user's private chat."""
        tg = self.settings.telegram
        admins = {u for u, role in tg.allowed_users.items() if role == "admin"}
        if tg.chat_ids:
            return [Destination(f"telegram:{c}", str(c), ("telegram", str(c)) if c > 0 else None,
                                admin=str(c) in admins) for c in tg.chat_ids]
        return [Destination(f"telegram:{u}", u, ("telegram", u), admin=u in admins)
                for u in tg.allowed_users]

    async def send(self, dest: Destination, reply: Reply, silent: bool = False) -> str:
        if not self.ready:
            raise RetryLater(1.0)
        try:
            return str(await self.send_reply(int(dest.chat), reply, alert=True, silent=silent))
        except RetryAfter as e:
            ra = e.retry_after
            raise RetryLater(ra if isinstance(ra, int | float) else ra.total_seconds()) from None
        except (Forbidden, BadRequest) as e:
            raise PermanentError(str(e)) from None

    async def edit(self, dest: Destination, ref: str, reply: Reply) -> None:
        try:
            await self.app.bot.edit_message_text(
                telegram_html(reply), chat_id=int(dest.chat), message_id=int(ref),
                parse_mode=ParseMode.HTML, reply_markup=keyboard(reply, self.signer))
        except BadRequest as e:  # "message is not modified": already shows it
            log.debug("edit skipped: %s", e)
        except RetryAfter as e:
            ra = e.retry_after
            await asyncio.sleep(ra if isinstance(ra, int | float) else ra.total_seconds())
