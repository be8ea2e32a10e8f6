"""A loopback OpenAI-compatible chat-completions server returning structured JSON.

`POST /v1/chat/completions` reads the user message (JSON `{"headlines": [{id, text}]}`),
"judges" each headline with a few keyword rules (a stand-in model, deterministic) and
answers with a real chat.completion object whose message content is the JSON the request's
`response_format` schema asked for, plus `usage`. Faults are queued and served first:
`fail(Reply(500), Reply(429, headers={"retry-after": "0"}), Reply(content="not json"))`.
Requests are recorded (headers, parsed body) for assertions.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.fakes._threaded import ThreadedHTTPFake

_NEG = ("hack", "exploit", "sues", "ban", "crash", "plunge", "delist", "bankrupt")
_POS = ("approve", "partnership", "surge", "rally", "listing", "upgrade", "inflows")


def judge(hid: int, text: str) -> dict[str, Any]:
    low = text.lower()
    neg = any(w in low for w in _NEG)
    pos = any(w in low for w in _POS)
    score = -0.8 if neg else 0.7 if pos else 0.0
    label = "negative" if neg else "positive" if pos else "neutral"
    event = ("hack/exploit" if ("hack" in low or "exploit" in low) else
             "regulatory" if ("sec" in low or "approve" in low) else
             "partnership" if "partnership" in low else "market" if (neg or pos) else "none")
    syms = [s for s in ("BTC", "ETH", "SOL") if s.lower() in low or
            {"BTC": "bitcoin", "ETH": "ether", "SOL": "solana"}[s] in low]
    return {"id": hid, "label": label, "score": score, "confidence": 0.9 if (neg or pos) else 0.6,
            "event_type": event, "impact": 8 if neg else 5 if pos else 1, "symbols": syms,
            "reasoning": f"fake model read {label}"}


@dataclass
class Reply:
    """A canned fault: HTTP `status` with `body`, or (status 200) a completion whose
    message content is `content`; `drop` answers for only the first N headlines."""

    status: int = 200
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    content: str | None = None
    delay: float = 0.0
    drop: int | None = None


class FakeOpenAI(ThreadedHTTPFake):
    """`with FakeOpenAI() as api:`; point the client at `api.base_url`."""

    methods = ("POST",)

    def __init__(self, *, tokens_per_request: int = 100) -> None:
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.faults: deque[Reply] = deque()
        self.tokens_per_request = tokens_per_request
        self._lock = threading.Lock()
        self._serve()

    @property
    def base_url(self) -> str:
        return self.origin + "/v1"

    def fail(self, *replies: Reply) -> None:
        with self._lock:
            self.faults.extend(replies)

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        n = int(h.headers.get("Content-Length") or 0)
        raw = h.rfile.read(n) if n else b""
        try:
            req = json.loads(raw or b"{}")
        except json.JSONDecodeError:
            req = {}
        with self._lock:
            self.requests.append(req)
            self.headers.append(dict(h.headers.items()))
            fault = self.faults.popleft() if self.faults else None
        if h.path.rstrip("/") != "/v1/chat/completions":
            self._send(h, 404, {"error": {"message": "not found", "type": "invalid_request"}})
            return
        if fault is not None and fault.delay:
            time.sleep(fault.delay)
        if fault is not None and fault.status != 200:
            self._send(h, fault.status, fault.body or json.dumps(
                {"error": {"message": "fake failure", "type": "server_error"}}).encode(),
                fault.headers)
            return
        if (req.get("response_format") or {}).get("type") != "json_schema":
            self._send(h, 400, {"error": {"message": "response_format json_schema required",
                                          "type": "invalid_request_error"}})
            return
        user = next((m["content"] for m in req.get("messages", []) if m.get("role") == "user"),
                    "{}")
        heads = json.loads(user).get("headlines", [])
        if fault is not None and fault.content is not None:
            content = fault.content
        else:
            items = [judge(x["id"], x["text"]) for x in heads]
            if fault is not None and fault.drop is not None:
                items = items[: fault.drop]
            content = json.dumps({"items": items})
        self._send(h, 200, {
            "id": f"chatcmpl-fake{len(self.requests)}", "object": "chat.completion",
            "created": int(time.time()), "model": req.get("model", "fake"),
            "choices": [{"index": 0, "finish_reason": "stop", "logprobs": None,
                         "message": {"role": "assistant", "content": content, "refusal": None}}],
            "usage": {"prompt_tokens": self.tokens_per_request - 10, "completion_tokens": 10,
                      "total_tokens": self.tokens_per_request},
        })

    @staticmethod
    def _send(h: BaseHTTPRequestHandler, status: int, body: Any,
              headers: dict[str, str] | None = None) -> None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        try:
            h.send_response(status)
            h.send_header("Content-Type", "application/json")
            for k, v in (headers or {}).items():
                h.send_header(k, v)
            h.send_header("Content-Length", str(len(data)))
            h.end_headers()
            h.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass
