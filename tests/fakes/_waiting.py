"""`wait_for` for the chat fakes: woken by the fake's own changes, not by polling.

Latency benchmarks go through these fakes, so a fixed polling interval would be
measured as our latency; conditions on other state are still re-checked every 50 ms.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any


class Waitable:
    """Mixin: call `_changed()` on every recorded request; tests `await wait_for(pred)`."""

    wait_timeout: float = 5.0
    _change: asyncio.Future[None] | None = None

    def _changed(self) -> None:
        fut, self._change = self._change, None
        if fut is not None and not fut.done():
            fut.set_result(None)

    async def wait_for(self, pred: Any, timeout: float | None = None) -> Any:
        """Wait until `pred()` is truthy and return it, or raise TimeoutError."""
        loop = asyncio.get_running_loop()
        end = loop.time() + (self.wait_timeout if timeout is None else timeout)
        while True:
            if self._change is None:
                self._change = loop.create_future()
            change = self._change
            v = pred()
            if v:
                return v
            left = end - loop.time()
            if left <= 0:
                raise TimeoutError("condition not met")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(change), min(left, 0.05))
