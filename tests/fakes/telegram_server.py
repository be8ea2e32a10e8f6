"""A fake Telegram Bot API server on 127.0.0.1 (ephemeral port) for offline tests.

It speaks the real HTTP protocol that python-telegram-bot uses (form, JSON or
multipart bodies; `{"ok": ..., "result": ...}` answers), so the real `Application`
runs against it through `base_url`. Supported: getMe, getUpdates (offsets, long poll),
sendMessage, sendPhoto, sendDocument, editMessageText, answerCallbackQuery,
setMyCommands, deleteWebhook. It enforces flood limits (per private chat, per group,
overall) with 429 + retry_after and counts requests sent during a penalty
("violations"); `down = True` simulates an outage (HTTP 502), `delay` a slow API.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fakes._waiting import Waitable

BOT_USER = {"id": 999000, "is_bot": True, "first_name": "SentiBot", "username": "senti_bot",
            "can_join_groups": True, "can_read_all_group_messages": False,
            "supports_inline_queries": False}


@dataclass
class Limits:
    """Telegram's flood limits, with a time scale so tests run quickly.

    A private chat takes about one message per `chat_interval` on average and a short
    burst of `chat_burst` (a sliding window of `chat_burst` sends per
    `chat_burst * chat_interval` s): Telegram states "avoid more than one message per
    second in a single chat" and does tolerate a reply right after a notification."""

    chat_interval: float = 1.0  # private chat: one message per interval on average
    group_max: int = 20
    group_window: float = 60.0
    overall_max: int = 30
    overall_window: float = 1.0
    enabled: bool = True
    chat_burst: int = 3

    def scaled(self, k: float) -> Limits:
        return Limits(self.chat_interval * k, self.group_max, self.group_window * k,
                      self.overall_max, self.overall_window * k, self.enabled,
                      self.chat_burst)


@dataclass
class SentMessage:
    message_id: int
    chat_id: int
    method: str
    text: str = ""
    reply_markup: Any = None
    filename: str = ""
    file_bytes: bytes = b""
    edits: list[str] = field(default_factory=list)
    t: float = 0.0
    silent: bool = False  # sent with disable_notification


class FakeTelegram(Waitable):
    wait_timeout = 5.0

    def __init__(self, token: str = "123456:TEST-token", limits: Limits | None = None) -> None:
        self.token = token
        self.limits = limits or Limits(enabled=False)
        self.updates: list[dict[str, Any]] = []
        self._update_ids = itertools.count(1)
        self._msg_ids = itertools.count(100)
        self._cq_ids = itertools.count(1)
        self.messages: dict[int, SentMessage] = {}
        self.answers: list[dict[str, Any]] = []
        self.commands: list[dict[str, Any]] = []
        self.calls: list[str] = []
        self.down = False
        self.delay = 0.0  # seconds every answer takes (a slow Bot API)
        self.rejections_429 = 0
        self.violations = 0
        self._blocked_until: dict[Any, float] = {}
        self._chat_sends: dict[int, deque[float]] = defaultdict(deque)
        self._group_sends: dict[int, deque[float]] = defaultdict(deque)
        self._overall: deque[float] = deque()
        self._cond = asyncio.Condition()
        self._closing = False
        self._runner: web.AppRunner | None = None
        self.port = 0

    # ------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        """Release pending long polls first: aiohttp's cleanup waits for open handlers."""
        self._closing = True
        async with self._cond:
            self._cond.notify_all()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/file/bot"

    # ------------------------------------------------------------ test helpers
    def _user(self, uid: int, name: str) -> dict[str, Any]:
        return {"id": uid, "is_bot": False, "first_name": name}

    def _chat(self, chat_id: int) -> dict[str, Any]:
        return {"id": chat_id, "type": "private" if chat_id > 0 else "group",
                **({"title": "group"} if chat_id < 0 else {})}

    async def _push(self, update: dict[str, Any]) -> int:
        async with self._cond:
            update["update_id"] = next(self._update_ids)
            self.updates.append(update)
            self._cond.notify_all()
        return int(update["update_id"])

    async def push_text(self, uid: int, text: str, chat_id: int | None = None,
                        name: str = "alice") -> int:
        """A user types `text` (a /command gets its bot_command entity)."""
        chat = chat_id if chat_id is not None else uid
        msg: dict[str, Any] = {"message_id": next(self._msg_ids), "date": int(time.time()),
                               "chat": self._chat(chat), "from": self._user(uid, name),
                               "text": text}
        if text.startswith("/"):
            msg["entities"] = [{"type": "bot_command", "offset": 0,
                                "length": len(text.split()[0])}]
        return await self._push({"message": msg})

    async def push_press(self, uid: int, message_id: int, data: str,
                         name: str = "alice") -> str:
        """A user presses an inline button under message `message_id`."""
        m = self.messages[message_id]
        cq_id = str(next(self._cq_ids))
        await self._push({"callback_query": {
            "id": cq_id, "from": self._user(uid, name), "chat_instance": "ci",
            "data": data, "message": self._message_json(m)}})
        return cq_id

    def sent_to(self, chat_id: int) -> list[SentMessage]:
        return [m for m in self.messages.values() if m.chat_id == chat_id]

    def answer_for(self, cq_id: str) -> dict[str, Any] | None:
        return next((a for a in self.answers if a.get("callback_query_id") == cq_id), None)


    # ------------------------------------------------------------ protocol
    def _message_json(self, m: SentMessage) -> dict[str, Any]:
        out: dict[str, Any] = {"message_id": m.message_id, "date": int(m.t),
                               "chat": self._chat(m.chat_id), "from": BOT_USER}
        if m.method == "sendMessage":
            out["text"] = m.edits[-1] if m.edits else m.text
        elif m.method == "sendPhoto":
            out["photo"] = [{"file_id": "p1", "file_unique_id": "p1u", "width": 1,
                             "height": 1}]
        else:
            out["document"] = {"file_id": "d1", "file_unique_id": "d1u",
                               "file_name": m.filename}
        if m.reply_markup:
            out["reply_markup"] = m.reply_markup
        return out

    @staticmethod
    def _ok(result: Any) -> web.Response:
        return web.json_response({"ok": True, "result": result})

    @staticmethod
    def _err(code: int, desc: str, retry_after: float | None = None) -> web.Response:
        body: dict[str, Any] = {"ok": False, "error_code": code, "description": desc}
        if retry_after is not None:
            body["parameters"] = {"retry_after": retry_after}
        return web.json_response(body, status=code)

    async def _params(self, request: web.Request) -> tuple[dict[str, Any], dict[str, Any]]:
        params: dict[str, Any] = {}
        files: dict[str, Any] = {}
        ctype = request.content_type
        if ctype == "application/json":
            params = await request.json()
        elif request.can_read_body:
            form = await request.post()
            for k, v in form.items():
                if isinstance(v, web.FileField):
                    files[k] = (v.filename, v.file.read())
                else:
                    params[k] = v
        params.update({k: v for k, v in request.query.items()})
        for k, v in list(params.items()):
            if isinstance(v, str) and v[:1] in "[{":
                with contextlib.suppress(ValueError):
                    params[k] = json.loads(v)
        return params, files

    def _flood(self, chat_id: int) -> float | None:
        """Seconds to wait when sending to `chat_id` now breaks a limit, else None."""
        if not self.limits.enabled:
            return None
        now = time.monotonic()
        blocked = self._blocked_until.get(chat_id, 0.0)
        if now < blocked:
            self.violations += 1
            return blocked - now
        lim = self.limits
        while self._overall and now - self._overall[0] > lim.overall_window:
            self._overall.popleft()
        wait: float | None = None
        if len(self._overall) >= lim.overall_max:
            wait = lim.overall_window - (now - self._overall[0])
        elif chat_id > 0:
            q = self._chat_sends[chat_id]
            window = lim.chat_interval * lim.chat_burst
            while q and now - q[0] > window:
                q.popleft()
            if len(q) >= lim.chat_burst:
                wait = window - (now - q[0])
        else:
            q = self._group_sends[chat_id]
            while q and now - q[0] > lim.group_window:
                q.popleft()
            if len(q) >= lim.group_max:
                wait = lim.group_window - (now - q[0])
        if wait is not None:
            wait = max(wait, 0.001)
            self._blocked_until[chat_id] = now + wait
            self.rejections_429 += 1
            return wait
        self._overall.append(now)
        if chat_id > 0:
            self._chat_sends[chat_id].append(now)
        else:
            self._group_sends[chat_id].append(now)
        return None

    async def _handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        self.calls.append(method)
        if self.delay and method != "getUpdates":
            await asyncio.sleep(self.delay)
        if self.down:
            return web.Response(status=502, text="Bad Gateway")
        if request.match_info["token"] != self.token:
            return self._err(401, "Unauthorized")
        params, files = await self._params(request)
        handler = getattr(self, f"_m_{method}", None)
        if handler is None:
            return self._err(404, "Not Found: method not found")
        result: web.Response = await handler(params, files)
        return result

    async def _m_getMe(self, p: dict[str, Any], f: dict[str, Any]) -> web.Response:
        return self._ok(BOT_USER)

    async def _m_deleteWebhook(self, p: dict[str, Any], f: dict[str, Any]) -> web.Response:
        return self._ok(True)

    async def _m_setMyCommands(self, p: dict[str, Any], f: dict[str, Any]) -> web.Response:
        self.commands = list(p.get("commands") or [])
        return self._ok(True)

    async def _m_getUpdates(self, p: dict[str, Any], f: dict[str, Any]) -> web.Response:
        offset = int(p.get("offset") or 0)
        timeout = min(float(p.get("timeout") or 0), 30.0)
        async with self._cond:
            if offset:
                self.updates = [u for u in self.updates if u["update_id"] >= offset]
            if not self.updates and timeout > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._cond.wait_for(
                        lambda: bool(self.updates) or self._closing), timeout)
            batch = self.updates[: int(p.get("limit") or 100)]
        return self._ok(batch)

    async def _send(self, method: str, p: dict[str, Any], f: dict[str, Any]) -> web.Response:
        try:
            chat_id = int(p["chat_id"])
        except (KeyError, ValueError):
            return self._err(400, "Bad Request: chat_id is empty")
        wait = self._flood(chat_id)
        if wait is not None:
            return self._err(429, f"Too Many Requests: retry after {wait:.3f}", wait)
        m = SentMessage(next(self._msg_ids), chat_id, method, str(p.get("text", "")),
                        p.get("reply_markup"), t=time.time(),
                        silent=str(p.get("disable_notification")).lower() == "true")
        if method == "sendMessage" and not m.text:
            return self._err(400, "Bad Request: message text is empty")
        for name, (fname, data) in f.items():
            m.filename, m.file_bytes = fname or name, data
        self.messages[m.message_id] = m
        self._changed()
        return self._ok(self._message_json(m))

    async def _m_sendMessage(self, p: dict[str, Any], f: dict[str, Any]) -> web.Response:
        return await self._send("sendMessage", p, f)

    async def _m_sendPhoto(self, p: dict[str, Any], f: dict[str, Any]) -> web.Response:
        return await self._send("sendPhoto", p, f)

    async def _m_sendDocument(self, p: dict[str, Any], f: dict[str, Any]) -> web.Response:
        return await self._send("sendDocument", p, f)

    async def _m_editMessageText(self, p: dict[str, Any], f: dict[str, Any]) -> web.Response:
        m = self.messages.get(int(p.get("message_id") or 0))
        if m is None or m.chat_id != int(p.get("chat_id") or 0):
            return self._err(400, "Bad Request: message to edit not found")
        text = str(p.get("text", ""))
        if (m.edits[-1] if m.edits else m.text) == text and m.reply_markup == p.get(
                "reply_markup"):
            return self._err(400, "Bad Request: message is not modified")
        m.edits.append(text)
        m.reply_markup = p.get("reply_markup")
        self._changed()
        return self._ok(self._message_json(m))

    async def _m_answerCallbackQuery(self, p: dict[str, Any], f: dict[str, Any]) -> web.Response:
        self.answers.append(p)
        self._changed()
        return self._ok(True)
