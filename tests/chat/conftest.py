from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from commands.base import Ctx, Identity
from commands.callbacks import CallbackSigner, derive_key
from tests.chat.fake_api import FakeEngine, make_settings


@pytest.fixture
def engine(tmp_path: Path) -> FakeEngine:
    settings = make_settings(tmp_path, telegram={"allowed_users": {"111": "trader",
                                                                   "222": "viewer",
                                                                   "333": "admin"}})
    return FakeEngine(settings)


@pytest.fixture
def signer() -> CallbackSigner:
    return CallbackSigner(derive_key(b"k" * 32))


@pytest.fixture
def ctx_for(engine: FakeEngine) -> Callable[[str], Ctx]:
    def make(role: str = "trader") -> Ctx:
        return Ctx(api=engine, user=Identity("telegram", "111", "alice", role), chat_id="111")
    return make
