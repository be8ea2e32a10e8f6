"""Fuzz every command's argument parsing: never an unhandled exception, and bad input
always answers with the command's usage line."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from commands import COMMANDS
from commands.base import Ctx, Identity, UsageError
from tests.chat.fake_api import FakeEngine, make_settings

INJECTION = ["'; DROP TABLE trades;--", "<script>alert(1)</script>", "${jndi:ldap://x}",
             "../../etc/passwd", "%s%s%n", "\x00", "@everyone", "`rm -rf /`", "1e309",
             "-1", "0", "9" * 40, "NaN", "ALL", "all", "table", "30d", "BTC/USDT", "5m"]
arg = st.one_of(st.text(max_size=80), st.sampled_from(INJECTION),
                st.text(alphabet=st.characters(codec="utf-8"), min_size=200, max_size=2000))
arglists = st.lists(arg, max_size=20)


@pytest.mark.parametrize("name", sorted(COMMANDS))
@settings(max_examples=50, deadline=None, suppress_health_check=list(HealthCheck))
@given(args=arglists)
def test_parse_is_total(name: str, args: list[str]) -> None:
    cmd = COMMANDS[name]
    with contextlib.suppress(UsageError):
        cmd.parse(list(args))


@pytest.fixture(scope="module")
def fuzz_engine(tmp_path_factory: pytest.TempPathFactory) -> FakeEngine:
    tmp: Path = tmp_path_factory.mktemp("fuzz")
    return FakeEngine(make_settings(tmp), propose_on_start=False)


@pytest.mark.parametrize("name", sorted(COMMANDS))
@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
@given(args=arglists)
def test_handle_never_raises(fuzz_engine: FakeEngine, name: str, args: list[str]) -> None:
    cmd = COMMANDS[name]
    ctx = Ctx(api=fuzz_engine, user=Identity("telegram", "1", "fuzz", "admin"))
    try:
        cmd.parse(list(args))
        parsed = True
    except UsageError:
        parsed = False
    reply = asyncio.run(cmd.handle(ctx, list(args)))
    assert isinstance(reply.text, str) and reply.text
    assert "Traceback" not in reply.text
    if not parsed:
        assert reply.text.startswith(f"usage: /{name}") and not reply.ok
