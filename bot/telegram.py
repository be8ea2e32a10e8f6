"""Telegram transport (python-telegram-bot 22): commands, approval buttons, alerts.

Long polling by default, a webhook when `telegram.webhook_url` is set. Every text
command goes through `commands.dispatch`; button presses through `bot.actions.press`
(signed callback data). Outgoing traffic passes `FloodLimiter`: PTB's overall and
per-group limits plus about one message per second per private chat; a 429 reaches
the sender as `RetryLater` so the alert waits in the outbox instead of being lost.
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
from telegram.error import BadRequest, Forbidden, RetryAfter
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot.actions import press
from bot.notifier import Destination, PermanentError, RetryLater
from commands import COMMANDS, dispatch, split_args
from commands.auth import REFUSAL, identify
from commands.base import Ctx
from commands.callbacks import CallbackSigner
from commands.reply import Reply, telegram_html
from engine.service.api import TradingAPI
from engine.storage.config import Settings

MAX_REFUSED = 10_000  # remembered refused user ids (oldest forgotten first)
log = logging.getLogger("sentitrade.telegram")
OnDecided = Callable[[int, Reply, str], Awaitable[Any]]


class FloodLimiter(AIORateLimiter):
    """AIORateLimiter plus a per-private-chat limit (Telegram: ~1 message/s per chat)."""

    def __init__(self, chat_max_rate: float = 1.0, chat_time_period: float = 1.0,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        from aiolimiter import AsyncLimiter

        self._chat_rate = (chat_max_rate, chat_time_period)
        self._chat_limiters: dict[Any, AsyncLimiter] = {}
        self._limiter_cls = AsyncLimiter

    async def process_request(self, callback: Any, args: Any, kwargs: Any, endpoint: str,
                              data: dict[str, Any], rate_limit_args: Any) -> Any:
        chat = data.get("chat_id")
        sends = endpoint.startswith("send") or endpoint.startswith("edit")
        if sends and chat is not None and self._chat_rate[0] and self._chat_rate[1]:
            try:
                private = int(chat) > 0
            except (TypeError, ValueError):
                private = False
            if private:
                lim = self._chat_limiters.get(chat)
                if lim is None:
                    if len(self._chat_limiters) > 1024:
                        self._chat_limiters.clear()
                    lim = self._chat_limiters[chat] = self._limiter_cls(*self._chat_rate)
                async with lim:
                    return await super().process_request(callback, args, kwargs, endpoint,
                                                          data, rate_limit_args)
        return await super().process_request(callback, args, kwargs, endpoint, data,
                                             rate_limit_args)


def keyboard(reply: Reply, signer: CallbackSigner) -> InlineKeyboardMarkup | None:
    """Inline buttons with signed callback data (<= 64 bytes each)."""
    if not reply.buttons:
        return None
    return InlineKeyboardMarkup([[InlineKeyboardButton(b.label, callback_data=signer.sign(
        b.action, int(b.id))) for b in reply.buttons]])


class TelegramTransport:
    """One bot account: serves commands and presses, and is an alert sink."""

    transport = "telegram"

    def __init__(self, settings: Settings, api: TradingAPI, signer: CallbackSigner,
                 rate_limiter: AIORateLimiter | None = None, poll_timeout: int = 10,
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
        limiter = rate_limiter if rate_limiter is not None else FloodLimiter(
            overall_max_rate=30, overall_time_period=1, group_max_rate=20,
            group_time_period=60, max_retries=0)
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

    async def stop(self) -> None:
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
        return identify(self.settings, "telegram", str(user.id), name)

    async def _on_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        msg = update.effective_message
        if msg is None or msg.text is None or update.effective_chat is None:
            return
        chat_id = update.effective_chat.id
        who = self._identify(update.effective_user)
        if who is None:
            uid = update.effective_user.id if update.effective_user else 0
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
            try:
                await q.edit_message_text(telegram_html(res.message), parse_mode=ParseMode.HTML,
                                          reply_markup=keyboard(res.message, self.signer))
            except BadRequest as e:  # "message is not modified" on a double tap
                log.debug("edit skipped: %s", e)
        if res.detail is not None and chat_id is not None:
            await self.send_reply(chat_id, res.detail)
        if res.decided_pid is not None and res.message is not None and self.on_decided:
            await self.on_decided(res.decided_pid, res.message, f"telegram:{chat_id}")

    async def _on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        log.error("telegram handler error: %s", type(context.error).__name__,
                  exc_info=context.error)

    # ------------------------------------------------------------ outgoing
    async def send_reply(self, chat_id: int | str, reply: Reply) -> int:
        """Send text (+buttons), then image and document; returns the text message id."""
        bot = self.app.bot
        m = await bot.send_message(chat_id, telegram_html(reply), parse_mode=ParseMode.HTML,
                                   reply_markup=keyboard(reply, self.signer))
        for part in reply.extra:
            await bot.send_message(chat_id, part[:4000])
        if reply.image is not None:
            await bot.send_photo(chat_id, InputFile(reply.image.data,
                                                    filename=reply.image.filename))
        if reply.document is not None:
            await bot.send_document(chat_id, InputFile(reply.document.data,
                                                       filename=reply.document.filename))
        return m.message_id

    def destinations(self) -> list[Destination]:
        """Configured chat_ids, else each allowed user's private chat."""
        tg = self.settings.telegram
        if tg.chat_ids:
            return [Destination(f"telegram:{c}", str(c), ("telegram", str(c)) if c > 0 else None)
                    for c in tg.chat_ids]
        return [Destination(f"telegram:{u}", u, ("telegram", u)) for u in tg.allowed_users]

    async def send(self, dest: Destination, reply: Reply) -> str:
        try:
            return str(await self.send_reply(int(dest.chat), reply))
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
        except RetryAfter as e:
            ra = e.retry_after
            await asyncio.sleep(ra if isinstance(ra, int | float) else ra.total_seconds())
