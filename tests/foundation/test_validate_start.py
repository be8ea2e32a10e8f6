"""Invalid configurations fail with ONE line before the database is created or migrated."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from engine.errors import ConfigError
from engine.service.scheduler import serve
from engine.service.validate import validate_for_start
from engine.storage.config import Settings, load_settings

BAD_TOML = {
    "no bots": "bots = []",
    "expiry overflow": "[approvals]\nexpiry_seconds = 99999999999999",
    "absurd balance": "[exchange]\nstarting_balance = 1e30",
    "two bots one name": ('[[bots]]\nname = "a"\nsymbols = ["BTC/USDT"]\n'
                          '[[bots]]\nname = "a"\nsymbols = ["ETH/USDT"]'),
    "quote mismatch": '[exchange]\nquote = "EUR"\n[[bots]]\nname = "a"\nsymbols = ["BTC/USDT"]',
}


@pytest.mark.parametrize("name", sorted(BAD_TOML))
def test_bad_settings_are_one_line(name: str, tmp_path: Path, clean_env: None) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text(BAD_TOML[name])
    with pytest.raises(ConfigError) as e:
        load_settings(cfg)
    msg = str(e.value)
    assert "\n" not in msg and len(msg) < 400, msg


def test_unknown_env_section_is_refused(clean_env: None) -> None:
    with pytest.raises(ConfigError, match=r"unknown setting section 'foo'.*SENTITRADE_FOO__BAR"):
        load_settings(env={"SENTITRADE_FOO__BAR": "1"})
    load_settings(env={"SENTITRADE_MASTER_KEY": "x", "SENTITRADE_RISK__MAX_OPEN_TRADES": "3"})


def _settings(tmp_path: Path, **sections: dict[str, object]) -> Settings:
    data: dict[str, object] = {"database": {"url": f"sqlite:///{tmp_path}/db/s.db"}}
    data.update(sections)
    return Settings(**data)  # type: ignore[arg-type]


def _replay(tmp_path: Path, data: Path | None, bots: list[dict[str, object]] | None = None,
            ) -> Settings:
    return _settings(tmp_path, exchange={"mode": "replay", "replay_data": data},
                     bots=bots or [{"name": "main", "symbols": ["BTC/USDT"]}])


def _bad_starts(tmp_path: Path) -> dict[str, Settings]:
    empty = tmp_path / "empty"
    empty.mkdir()
    return {
        "unknown exchange": _settings(tmp_path, exchange={"id": "no-such-exchange"}),
        "unreachable postgres": _settings(
            tmp_path, database={"url": "postgresql://u:hunter2@127.0.0.1:1/x"}),
        "replay data missing": _replay(tmp_path, tmp_path / "nope"),
        "replay data empty": _replay(tmp_path, empty),
        "unknown symbol": _replay(tmp_path, None, [{"name": "m", "symbols": ["DOGE/USDT"]}]),
        "unknown timeframe": _replay(tmp_path, None, [{"name": "m", "symbols": ["BTC/USDT"],
                                                      "timeframe": "1m"}]),
        "second bot starves": _replay(tmp_path, None, [
            {"name": "a", "symbols": ["BTC/USDT"]},
            {"name": "b", "symbols": ["ETH/USDT"], "timeframe": "3m"}]),
    }


def test_invalid_starts_fail_before_any_write(tmp_path: Path, clean_env: None) -> None:
    for name, settings in _bad_starts(tmp_path).items():
        with pytest.raises(ConfigError) as e:
            asyncio.run(serve(settings))
        msg = str(e.value)
        assert "\n" not in msg and "hunter2" not in msg, (name, msg)
        assert not (tmp_path / "db").exists(), f"{name}: the database was touched"


def test_good_replay_settings_pass(tmp_path: Path) -> None:
    validate_for_start(_replay(tmp_path, None, [
        {"name": "a", "symbols": ["BTC/USDT", "ETH/USDT"]},
        {"name": "b", "symbols": ["ETH/USDT"], "timeframe": "1h"}]))
    validate_for_start(_settings(tmp_path))  # paper on binance, SQLite
    assert not (tmp_path / "db").exists()
