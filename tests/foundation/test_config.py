from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app
from engine.errors import ConfigError
from engine.storage.config import Settings, load_settings

pytestmark = pytest.mark.usefixtures("clean_env")


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "cfg.toml"
    p.write_text(text)
    return p


def test_defaults_are_safe() -> None:
    s = load_settings(None, env={})
    assert s.exchange.mode == "paper"  # never live by default
    assert s.approvals.mode == "manual"
    assert s.sentiment.scorer == "lexicon"
    assert s.database.url.startswith("sqlite:///")
    # the seed's breaker defaults
    r = s.risk
    assert (r.daily_loss_pct, r.daily_loss_pause_minutes) == (5.0, 60)
    assert (r.drawdown_pause_pct, r.drawdown_pause_hours, r.drawdown_stop_pct) == (10.0, 24, 20.0)
    assert (r.api_errors_per_minute, r.api_error_pause_minutes) == (10, 5)
    assert (r.price_spike_pct, r.price_spike_window_seconds) == (10.0, 60)


def test_file_then_env_precedence(tmp_path: Path) -> None:
    cfg = write(tmp_path, """
[exchange]
mode = "replay"
taker_fee = 0.00075
[risk]
max_trades_per_day = 7
[telegram]
allowed_users = { "123" = "admin", "456" = "viewer" }
[[bots]]
name = "alpha"
symbols = ["btc/usdt"]
""")
    s = load_settings(cfg, env={"SENTITRADE_RISK__MAX_TRADES_PER_DAY": "9"})
    assert s.exchange.mode == "replay"
    assert s.exchange.taker_fee == Decimal("0.00075")
    assert s.risk.max_trades_per_day == 9  # env wins over the file
    assert s.telegram.allowed_users == {"123": "admin", "456": "viewer"}
    assert s.bots[0].symbols == ["BTC/USDT"]


@pytest.mark.parametrize(
    ("text", "env", "expect"),
    [
        ('[exchange]\nmode = "livee"\n', {}, ["exchange.mode", "'livee'", "'replay'", "'live'"]),
        ("[risk]\ndaily_loss_pct = -3\n", {}, ["risk.daily_loss_pct", "-3", "greater than 0"]),
        ("[risk]\ndaily_los_pct = 3\n", {}, ["unknown setting", "risk.daily_los_pct"]),
        ("[exchnage]\nid = 'x'\n", {}, ["unknown setting", "exchnage"]),
        ('[approvals]\nmode = "sometimes"\n', {}, ["approvals.mode", "'sometimes'", "'threshold'"]),
        ('[telegram]\nallowed_users = { "bob" = "admin" }\n', {}, ["telegram.allowed_users", "must be a number"]),
        ('[telegram]\nallowed_users = { "1" = "god" }\n', {}, ["telegram.allowed_users.1", "'god'", "'viewer'"]),
        ('[[bots]]\nname = "a"\nsymbols = ["BTCUSDT"]\n', {}, ["bots[0].symbols", "BASE/QUOTE"]),
        ("", {"SENTITRADE_EXCHANGE__SLIPPAGE_BPS": "lots"}, ["exchange.slippage_bps", "'lots'", "number"]),
        ("[exchange\nid=1", {}, ["not valid TOML"]),
    ],
)
def test_bad_values_give_one_line(tmp_path: Path, text: str, env: dict[str, str],
                                  expect: list[str]) -> None:
    with pytest.raises(ConfigError) as ei:
        load_settings(write(tmp_path, text), env=env)
    msg = str(ei.value)
    assert "\n" not in msg
    for part in expect:
        assert part in msg, (part, msg)


def test_missing_file_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found: pass an existing file"):
        load_settings(tmp_path / "nope.toml", env={})


def test_secret_value_never_echoed_in_error(tmp_path: Path) -> None:
    cfg = write(tmp_path, '[exchange]\napi_key = ["hunter2-secret-list"]\n')
    with pytest.raises(ConfigError) as ei:
        load_settings(cfg, env={})
    assert "hunter2" not in str(ei.value)
    assert "exchange.api_key" in str(ei.value)


def test_config_show_masks_secrets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = write(tmp_path, '[telegram]\ntoken = "123:ABCsecretTOKEN"\n')
    monkeypatch.setenv("SENTITRADE_EXCHANGE__SECRET", "s3cr3t-exchange-value")
    r = CliRunner().invoke(app, ["config", "show", "--config", str(cfg), "--json"])
    assert r.exit_code == 0, r.output
    assert "ABCsecretTOKEN" not in r.output and "s3cr3t-exchange-value" not in r.output
    assert '"token": "***"' in r.output and '"secret": "***"' in r.output


def test_cli_bad_config_exits_nonzero_with_one_line(tmp_path: Path) -> None:
    cfg = write(tmp_path, '[exchange]\nmode = "yolo"\n')
    r = CliRunner().invoke(app, ["config", "show", "--config", str(cfg)])
    assert r.exit_code == 2
    lines = [ln for ln in r.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and "exchange.mode" in lines[0]


def test_example_config_is_valid() -> None:
    example = Path(__file__).resolve().parents[2] / "sentitrade.example.toml"
    s = load_settings(example, env={})
    assert isinstance(s, Settings)
    assert s.exchange.mode != "live"


def test_live_mode_needs_the_flag(tmp_path: Path) -> None:
    cfg = write(tmp_path, '[exchange]\nmode = "live"\n[database]\nurl = "sqlite:///'
                f'{tmp_path}/x.db"\n')
    r = CliRunner().invoke(app, ["run", "--config", str(cfg)])
    assert r.exit_code == 2
    assert "--i-understand-live-trading" in r.output
    assert not (tmp_path / "x.db").exists()  # refused before touching anything
