"""A fake Discord (REST v10 + gateway) on 127.0.0.1 for offline tests of real discord.py.

dpytest cannot run slash commands or press buttons, so this fake speaks the wire
protocol instead: point `discord.http.Route.BASE` at `rest_base` and the client finds
the gateway through GET /gateway/bot, as it would on discord.com.

Gateway (JSON text frames, never compressed even when the client asks for
`compress=zlib-stream`: discord.py only inflates binary frames): HELLO (op 10) ->
heartbeats (op 1) answered with ACK (op 11); IDENTIFY (op 2) with the right token ->
READY then GUILD_CREATE; RESUME (op 6) -> RESUMED; a wrong token closes with 4004.
Tests inject INTERACTION_CREATE dispatches: `slash()` (type 2) and `press()` (type 3).

REST: users/@me, oauth2/applications/@me, gateway[/bot], bulk overwrite of guild and
global commands, interaction callbacks (types 4, 5, 6, 7; a second one answers 40060),
webhook follow-ups and @original edits, channel messages (JSON or multipart with
files) and their edits. Everything is recorded for assertions; `down = True` answers
502 and `rate_limit_next` answers that many 429s with `retry_after`; `channel_bucket =
(n, seconds)` enforces a per-route bucket on channel messages with X-RateLimit headers
(discord.py paces itself by them) and a 429 beyond it.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import WSMsgType, web

from tests.fakes._waiting import Waitable

EPHEMERAL = 64
LOADING = 128


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    """Discord answers `content-type: application/json` exactly (discord.py compares it
    verbatim; aiohttp's json_response would add a charset)."""
    return web.Response(body=json.dumps(data).encode(), status=status,
                        headers={"Content-Type": "application/json", **(headers or {})})


@dataclass
class FakeMessage:
    """A message the bot created: in a channel, or as an interaction response."""

    id: int
    channel_id: int
    content: str = ""
    components: list[dict[str, Any]] = field(default_factory=list)
    files: list[tuple[str, bytes]] = field(default_factory=list)
    flags: int = 0
    source: str = "channel"  # channel | callback | followup
    interaction_id: int | None = None
    edits: list[str] = field(default_factory=list)
    t: float = 0.0

    @property
    def ephemeral(self) -> bool:
        return bool(self.flags & EPHEMERAL)

    def custom_ids(self) -> dict[str, str]:
        """Button label -> custom_id."""
        out: dict[str, str] = {}
        for row in self.components:
            for c in row.get("components", []):
                if "custom_id" in c:
                    out[str(c.get("label", ""))] = str(c["custom_id"])
        return out


@dataclass
class FakeInteraction:
    """One injected interaction and what the bot answered to it."""

    id: int
    token: str
    type: int
    user_id: int
    channel_id: int
    data: dict[str, Any]
    message_id: int | None = None  # the message whose button was pressed
    callbacks: list[dict[str, Any]] = field(default_factory=list)
    response_message_id: int | None = None
    followups: list[int] = field(default_factory=list)
    created: float = 0.0
    answered: float | None = None


class FakeDiscord(Waitable):
    """REST + gateway on one ephemeral port. Ids are snowflake-sized integers."""

    wait_timeout = 10.0

    def __init__(self, token: str = "fake.discord.token", guild_id: int = 4100,
                 channel_id: int = 4200) -> None:
        self.token = token
        self.guild_id, self.channel_id = guild_id, channel_id
        self.app_id = 7000
        self.bot_user = {"id": "7001", "username": "sentibot", "discriminator": "0",
                         "global_name": "SentiBot", "avatar": None, "bot": True, "flags": 0,
                         "verified": True, "mfa_enabled": False}
        self._ids = itertools.count(900_000_000_000_000_000)
        self.messages: dict[int, FakeMessage] = {}
        self.interactions: dict[int, FakeInteraction] = {}
        self.commands: dict[str, list[dict[str, Any]]] = {}  # "guild:<id>" | "global"
        self.requests: list[tuple[str, str]] = []
        self.identifies: list[dict[str, Any]] = []
        self.gateway_queries: list[dict[str, str]] = []
        self.heartbeats = 0
        self.down = False
        self.rate_limit_next = 0
        self.retry_after = 0.05
        # per-route bucket of channel messages (Discord: about 5 per 5 s per channel),
        # announced in X-RateLimit-* headers as Discord does; None = unlimited
        self.channel_bucket: tuple[int, float] | None = None
        self.rejections_429 = 0
        self._channel_sends: list[float] = []
        self.heartbeat_ms = 41250
        self._sockets: dict[web.WebSocketResponse, int] = {}  # identified socket -> seq
        self._runner: web.AppRunner | None = None
        self.port = 0
        self.dm_channels: dict[int, int] = {}  # DM channel id -> recipient user id

    # ------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_get("/gateway", self._gateway)
        app.router.add_route("*", "/api/v10/{path:.*}", self._rest)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        for ws in list(self._sockets):
            with contextlib.suppress(Exception):
                await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def rest_base(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v10"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway"

    @property
    def connected(self) -> bool:
        return bool(self._sockets)

    # ------------------------------------------------------------ payloads
    def user_json(self, uid: int, name: str) -> dict[str, Any]:
        return {"id": str(uid), "username": name, "discriminator": "0", "global_name": name,
                "avatar": None, "bot": False, "flags": 0}

    def _member_json(self, uid: int, name: str) -> dict[str, Any]:
        return {"user": self.user_json(uid, name), "roles": [], "nick": None, "avatar": None,
                "joined_at": "2024-01-01T00:00:00+00:00", "deaf": False, "mute": False,
                "flags": 0, "pending": False, "permissions": "2248473465835073"}

    def _channel_json(self, channel_id: int) -> dict[str, Any]:
        return {"id": str(channel_id), "type": 0, "guild_id": str(self.guild_id),
                "name": "trading", "position": 0, "permission_overwrites": [], "nsfw": False,
                "parent_id": None, "topic": None, "last_message_id": None,
                "rate_limit_per_user": 0}

    def _guild_json(self) -> dict[str, Any]:
        return {"id": str(self.guild_id), "name": "desk", "owner_id": "1", "icon": None,
                "roles": [{"id": str(self.guild_id), "name": "@everyone", "permissions": "0",
                           "position": 0, "color": 0, "hoist": False, "managed": False,
                           "mentionable": False, "flags": 0}],
                "channels": [self._channel_json(self.channel_id)], "member_count": 3,
                "members": [], "features": [], "emojis": [], "stickers": [],
                "threads": [], "voice_states": [], "presences": [], "unavailable": False,
                "joined_at": "2024-01-01T00:00:00+00:00", "large": False}

    def message_json(self, m: FakeMessage) -> dict[str, Any]:
        stamp = datetime.fromtimestamp(m.t or time.time(), UTC).isoformat()
        return {"id": str(m.id), "channel_id": str(m.channel_id), "guild_id": str(self.guild_id),
                "author": self.bot_user, "content": m.edits[-1] if m.edits else m.content,
                "timestamp": stamp, "edited_timestamp": stamp if m.edits else None,
                "tts": False, "mention_everyone": False, "mentions": [], "mention_roles": [],
                "attachments": [{"id": str(m.id + i + 1), "filename": fn, "size": len(data),
                                 "url": f"http://127.0.0.1:{self.port}/att/{fn}",
                                 "proxy_url": f"http://127.0.0.1:{self.port}/att/{fn}"}
                                for i, (fn, data) in enumerate(m.files)],
                "embeds": [], "pinned": False, "type": 0, "flags": m.flags,
                "components": m.components, "application_id": str(self.app_id)}

    # ------------------------------------------------------------ gateway
    async def _gateway(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self.gateway_queries.append(dict(request.query))
        await ws.send_json({"op": 10, "d": {"heartbeat_interval": self.heartbeat_ms},
                            "s": None, "t": None})
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                frame = json.loads(msg.data)
                op, d = frame.get("op"), frame.get("d")
                if op == 1:
                    self.heartbeats += 1
                    await ws.send_json({"op": 11, "d": None, "s": None, "t": None})
                elif op == 2:
                    if d.get("token") != self.token:
                        await ws.close(code=4004, message=b"Authentication failed.")
                        break
                    self.identifies.append({k: v for k, v in d.items() if k != "token"})
                    self._sockets[ws] = 0
                    await self._send(ws, "READY", {
                        "v": 10, "user": self.bot_user, "session_id": "fake-session",
                        "resume_gateway_url": self.gateway_url,
                        "guilds": [{"id": str(self.guild_id), "unavailable": True}],
                        "application": {"id": str(self.app_id), "flags": 0}})
                    await self._send(ws, "GUILD_CREATE", self._guild_json())
                elif op == 6:
                    self._sockets[ws] = int(d.get("seq") or 0)
                    await self._send(ws, "RESUMED", {})
        finally:
            self._sockets.pop(ws, None)
        return ws

    async def _send(self, ws: web.WebSocketResponse, event: str, data: dict[str, Any]) -> None:
        self._sockets[ws] = seq = self._sockets.get(ws, 0) + 1
        await ws.send_json({"op": 0, "t": event, "s": seq, "d": data})

    async def dispatch(self, event: str, data: dict[str, Any]) -> None:
        """Send a gateway dispatch to every identified connection."""
        if not self._sockets:
            raise RuntimeError("no identified gateway connection")
        for ws in list(self._sockets):
            await self._send(ws, event, data)

    # ------------------------------------------------------------ interactions (tests)
    def _interaction(self, itype: int, uid: int, name: str, channel_id: int | None,
                     data: dict[str, Any], message: FakeMessage | None,
                     guild: bool) -> tuple[FakeInteraction, dict[str, Any]]:
        iid = next(self._ids)
        ch = channel_id if channel_id is not None else (
            message.channel_id if message is not None else self.channel_id)
        fi = FakeInteraction(iid, f"itoken-{iid}", itype, uid, ch, data,
                             message.id if message is not None else None, created=time.time())
        self.interactions[iid] = fi
        payload: dict[str, Any] = {
            "id": str(iid), "application_id": str(self.app_id), "type": itype,
            "token": fi.token, "version": 1, "data": data, "channel_id": str(ch),
            "app_permissions": "2248473465835073", "locale": "en-US",
            "attachment_size_limit": 8 * 1024 * 1024, "entitlements": [],
            "authorizing_integration_owners": {"0": str(self.guild_id)} if guild else {},
            "context": 0 if guild else 1}
        if guild:
            payload.update(guild_id=str(self.guild_id), guild_locale="en-US",
                           channel=self._channel_json(ch), member=self._member_json(uid, name))
        else:
            payload.update(user=self.user_json(uid, name),
                           channel={"id": str(ch), "type": 1, "recipients": [
                               self.user_json(uid, name)]})
        if message is not None:
            payload["message"] = self.message_json(message)
        return fi, payload

    async def slash(self, uid: int, command: str, options: dict[str, str] | None = None,
                    name: str = "alice", channel_id: int | None = None,
                    guild: bool = True) -> FakeInteraction:
        """User `uid` runs `/command` with string options (type 3)."""
        registered = self.commands.get(f"guild:{self.guild_id}", []) + self.commands.get(
            "global", [])
        cmd = next((c for c in registered if c["name"] == command), None)
        if cmd is None:
            raise KeyError(f"/{command} is not registered")
        data: dict[str, Any] = {"id": cmd["id"], "name": command, "type": 1}
        if guild and cmd.get("guild_id"):
            data["guild_id"] = cmd["guild_id"]
        if options:
            data["options"] = [{"name": k, "type": 3, "value": v} for k, v in options.items()]
        fi, payload = self._interaction(2, uid, name, channel_id, data, None, guild)
        await self.dispatch("INTERACTION_CREATE", payload)
        return fi

    async def press(self, uid: int, message_id: int, custom_id: str, name: str = "alice",
                    crafted: bool = False) -> FakeInteraction:
        """User `uid` presses the button `custom_id` under message `message_id`. The
        message payload is the stored one, so an id that is not on it stays foreign;
        `crafted` puts it on the payload too (a forger who controls the whole event)."""
        m = self.messages[message_id]
        fi, payload = self._interaction(3, uid, name, None, {
            "custom_id": custom_id, "component_type": 2}, m, guild=True)
        if crafted:
            payload["message"]["components"] = [{"type": 1, "components": [
                {"type": 2, "style": 1, "label": "Approve", "custom_id": custom_id}]}]
        await self.dispatch("INTERACTION_CREATE", payload)
        return fi

    # ------------------------------------------------------------ queries (tests)
    def dms_to(self, uid: int) -> list[FakeMessage]:
        """Messages the bot sent by direct message to user `uid`."""
        chans = {c for c, u in self.dm_channels.items() if u == uid}
        return [m for m in self.messages.values() if m.channel_id in chans]

    def in_channel(self, channel_id: int | None = None) -> list[FakeMessage]:
        """Messages posted to a channel by the bot (not interaction responses)."""
        ch = channel_id if channel_id is not None else self.channel_id
        return [m for m in self.messages.values() if m.channel_id == ch and m.source == "channel"]

    def responses(self, fi: FakeInteraction) -> list[FakeMessage]:
        """Messages the bot sent in answer to interaction `fi` (response + follow-ups)."""
        ids = ([fi.response_message_id] if fi.response_message_id else []) + fi.followups
        return [self.messages[i] for i in ids if i in self.messages]

    def texts(self, fi: FakeInteraction) -> list[str]:
        return [m.edits[-1] if m.edits else m.content for m in self.responses(fi)]


    # ------------------------------------------------------------ REST
    @staticmethod
    def _error(status: int, code: int, message: str, **extra: Any) -> web.Response:
        return _json({"code": code, "message": message, **extra}, status=status)

    async def _body(self, request: web.Request) -> tuple[Any, list[tuple[str, bytes]]]:
        """JSON body (an object, or a list for bulk command overwrites), or multipart
        `payload_json` + `files[n]` parts."""
        if not request.can_read_body:
            return {}, []
        if request.content_type == "application/json":
            return await request.json(), []
        if request.content_type.startswith("multipart/"):
            payload: dict[str, Any] = {}
            files: list[tuple[str, bytes]] = []
            reader = await request.multipart()
            while True:
                part = await reader.next()
                if part is None:
                    break
                if part.name == "payload_json":  # type: ignore[union-attr]
                    payload = json.loads(await part.text())  # type: ignore[union-attr]
                else:
                    data = await part.read()  # type: ignore[union-attr]
                    files.append((part.filename or str(part.name), bytes(data)))  # type: ignore[union-attr]
            return payload, files
        return {}, []

    async def _rest(self, request: web.Request) -> web.StreamResponse:
        try:
            return await self._route(request)
        finally:
            self._changed()

    async def _route(self, request: web.Request) -> web.StreamResponse:
        path = "/" + request.match_info["path"]
        self.requests.append((request.method, path))
        if self.down:
            return web.Response(status=502, text="Bad Gateway")
        parts = path.strip("/").split("/")
        token_routes = parts[0] in ("interactions", "webhooks")
        if not token_routes and request.headers.get("Authorization") != f"Bot {self.token}":
            return self._error(401, 0, "401: Unauthorized")
        if self.rate_limit_next > 0 and request.method in ("POST", "PATCH"):
            self.rate_limit_next -= 1
            return _json(
                {"message": "You are being rate limited.", "retry_after": self.retry_after,
                 "global": False}, status=429,
                headers={"Retry-After": str(self.retry_after), "X-RateLimit-Scope": "user"})
        body, files = await self._body(request)
        m, p = request.method, parts
        if m == "GET" and p in (["gateway"], ["gateway", "bot"]):
            return _json({"url": self.gateway_url, "shards": 1,
                                      "session_start_limit": {"total": 1000, "remaining": 999,
                                                              "reset_after": 0,
                                                              "max_concurrency": 1}})
        if m == "GET" and p == ["users", "@me"]:
            return _json(self.bot_user)
        if m == "GET" and p == ["oauth2", "applications", "@me"]:
            return _json({
                "id": str(self.app_id), "name": "sentitrade", "description": "", "icon": None,
                "bot_public": False, "bot_require_code_grant": False, "verify_key": "00",
                "owner": self.user_json(1, "owner"), "flags": 0, "summary": "",
                "rpc_origins": [], "team": None, "interactions_endpoint_url": None})
        if m == "PUT" and p[0] == "applications" and p[-1] == "commands":
            return self._commands(p, body)
        if m == "POST" and p[0] == "interactions" and p[-1] == "callback":
            return self._callback(int(p[1]), p[2], body, files)
        if p[0] == "webhooks" and len(p) >= 3:
            return self._webhook(m, p, body, files, request.query)
        if m == "POST" and p == ["users", "@me", "channels"]:  # open a DM channel
            uid = int(body.get("recipient_id", 0))
            ch = next((c for c, u in self.dm_channels.items() if u == uid), None)
            if ch is None:
                ch = next(self._ids)
                self.dm_channels[ch] = uid
            return _json({"id": str(ch), "type": 1, "last_message_id": None,
                          "recipients": [self.user_json(uid, f"user{uid}")]})
        if p[0] == "channels" and len(p) >= 3 and p[2] == "messages":
            return self._channel(m, p, body, files)
        return self._error(404, 0, f"404: Not Found {m} {path}")

    def _commands(self, p: list[str], body: Any) -> web.Response:
        if p[1] != str(self.app_id):
            return self._error(403, 50001, "Missing Access")
        key = f"guild:{p[3]}" if p[2] == "guilds" else "global"
        out = []
        for c in body if isinstance(body, list) else []:
            row = {**c, "id": str(next(self._ids)), "application_id": str(self.app_id),
                   "version": "1", "type": c.get("type", 1)}
            if p[2] == "guilds":
                row["guild_id"] = p[3]
            out.append(row)
        self.commands[key] = out
        return _json(out)

    def _new_message(self, channel_id: int, body: dict[str, Any], files: list[tuple[str, bytes]],
                     source: str, interaction_id: int | None = None,
                     extra_flags: int = 0) -> FakeMessage:
        m = FakeMessage(next(self._ids), channel_id, str(body.get("content") or ""),
                        list(body.get("components") or []), list(files),
                        int(body.get("flags") or 0) | extra_flags, source, interaction_id,
                        t=time.time())
        self.messages[m.id] = m
        return m

    @staticmethod
    def _edit(m: FakeMessage, body: dict[str, Any], files: list[tuple[str, bytes]]) -> None:
        if "content" in body:
            m.edits.append(str(body.get("content") or ""))
        if "components" in body:
            m.components = list(body.get("components") or [])
        if files:
            m.files.extend(files)
        m.flags &= ~LOADING

    def _callback(self, iid: int, token: str, body: dict[str, Any],
                  files: list[tuple[str, bytes]]) -> web.Response:
        fi = self.interactions.get(iid)
        if fi is None or fi.token != token:
            return self._error(404, 10062, "Unknown interaction")
        if fi.callbacks:
            return self._error(400, 40060, "Interaction has already been acknowledged.")
        fi.callbacks.append(body)
        fi.answered = time.time()
        rtype, data = int(body.get("type", 0)), dict(body.get("data") or {})
        message: FakeMessage | None = None
        if rtype in (4, 5):
            message = self._new_message(fi.channel_id, data, files, "callback", iid,
                                        LOADING if rtype == 5 else 0)
            fi.response_message_id = message.id
        elif rtype == 7:
            if fi.message_id is None:
                return self._error(400, 50035, "Invalid Form Body")
            message = self.messages[fi.message_id]
            self._edit(message, data, files)
        elif rtype != 6:
            return self._error(400, 50035, f"Invalid interaction response type {rtype}")
        out: dict[str, Any] = {"interaction": {
            "id": str(iid), "type": fi.type,
            "response_message_id": str(message.id) if message is not None else None,
            "response_message_loading": rtype == 5,
            "response_message_ephemeral": bool(message and message.ephemeral)}}
        if message is not None:
            out["resource"] = {"type": rtype, "message": self.message_json(message)}
        return _json(out)

    def _webhook(self, m: str, p: list[str], body: dict[str, Any],
                 files: list[tuple[str, bytes]], query: Any) -> web.Response:
        fi = next((i for i in self.interactions.values() if i.token == p[2]), None)
        if p[1] != str(self.app_id) or fi is None:
            return self._error(404, 10015, "Unknown Webhook")
        if not fi.callbacks:
            return self._error(400, 40060, "Interaction has not been acknowledged.")
        if m == "POST" and len(p) == 3:
            msg = self._new_message(fi.channel_id, body, files, "followup", fi.id)
            fi.followups.append(msg.id)
            return _json(self.message_json(msg))
        if len(p) == 5 and p[3] == "messages":
            original = fi.response_message_id or fi.message_id
            mid = original if p[4] == "@original" else int(p[4])
            target = self.messages.get(mid or 0)
            if target is None:
                return self._error(404, 10008, "Unknown Message")
            if m == "PATCH":
                self._edit(target, body, files)
            return _json(self.message_json(target))
        return self._error(405, 0, "405: Method Not Allowed")

    def _bucket(self, ch: int) -> dict[str, str] | None:
        """Count a channel message; its X-RateLimit headers, or None for a 429."""
        if self.channel_bucket is None:
            return {}
        n, per = self.channel_bucket
        now = time.monotonic()
        self._channel_sends = [t for t in self._channel_sends if now - t < per]
        if len(self._channel_sends) >= n:
            self.rejections_429 += 1
            self.retry_after = round(self._channel_sends[0] + per - now, 3)
            return None
        self._channel_sends.append(now)
        reset = self._channel_sends[0] + per - now
        return {"X-RateLimit-Limit": str(n),
                "X-RateLimit-Remaining": str(n - len(self._channel_sends)),
                "X-RateLimit-Reset-After": f"{reset:.3f}",
                "X-RateLimit-Reset": f"{time.time() + reset:.3f}",
                "X-RateLimit-Bucket": f"channel-{ch}"}

    def _channel(self, m: str, p: list[str], body: dict[str, Any],
                 files: list[tuple[str, bytes]]) -> web.Response:
        ch = int(p[1])
        if ch != self.channel_id and ch not in self.dm_channels:
            return self._error(404, 10003, "Unknown Channel")
        if m == "POST" and len(p) == 3:
            if not body.get("content") and not files:
                return self._error(400, 50006, "Cannot send an empty message")
            headers = self._bucket(ch)
            if headers is None:
                return _json({"message": "You are being rate limited.", "global": False,
                              "retry_after": self.retry_after}, status=429,
                             headers={"Retry-After": str(self.retry_after),
                                      "X-RateLimit-Scope": "user"})
            return _json(self.message_json(self._new_message(ch, body, files, "channel")),
                         headers=headers)
        if m == "PATCH" and len(p) == 4:
            target = self.messages.get(int(p[3]))
            if target is None or target.channel_id != ch:
                return self._error(404, 10008, "Unknown Message")
            self._edit(target, body, files)
            return _json(self.message_json(target))
        return self._error(405, 0, "405: Method Not Allowed")
