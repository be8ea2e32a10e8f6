from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.exists():
        pytest.skip(f"shared data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture
def pg_url() -> str:
    """The throwaway Postgres started by .ci/run (or scripts/pg_tmp.sh)."""
    url = os.environ.get("SENTITRADE_TEST_PG_URL")
    if not url:
        if os.environ.get("SENTITRADE_REQUIRE_PG"):
            pytest.fail("SENTITRADE_REQUIRE_PG is set but SENTITRADE_TEST_PG_URL is not")
        pytest.skip("no PostgreSQL: run `eval \"$(scripts/pg_tmp.sh start)\"` first")
    return url


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for k in list(os.environ):
        if k.startswith("SENTITRADE_") and k not in ("SENTITRADE_TEST_PG_URL", "SENTITRADE_REQUIRE_PG"):
            monkeypatch.delenv(k)
    yield
