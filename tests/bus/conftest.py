"""A real Redis server for the bus tests: Debian's redis-server on a free loopback port,
in a temporary directory, no persistence. Without the binary the Redis cases skip,
unless SENTITRADE_REQUIRE_REDIS=1 (CI), where they fail instead."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from engine.bus import EventBus, make_bus


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    exe = shutil.which("redis-server")
    if exe is None:
        if os.environ.get("SENTITRADE_REQUIRE_REDIS"):
            pytest.fail("redis-server not found but SENTITRADE_REQUIRE_REDIS is set")
        pytest.skip("redis-server not installed (apt-get install redis-server)")
    port = _free_port()
    d: Path = tmp_path_factory.mktemp("redis")
    proc = subprocess.Popen([exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no", "--dir", str(d)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                pytest.fail("redis-server did not start")
            time.sleep(0.05)
    yield f"redis://127.0.0.1:{port}/0"
    proc.terminate()
    proc.wait(10)


@pytest.fixture(params=["memory", "redis"])
async def bus(request: pytest.FixtureRequest) -> AsyncIterator[EventBus]:
    if request.param == "memory":
        b = make_bus("")
    else:
        url = request.getfixturevalue("redis_url")
        b = make_bus(url)
        import redis.asyncio as aredis

        r = aredis.from_url(url)
        await r.flushdb()
        await r.aclose()
    yield b
    await b.close()
