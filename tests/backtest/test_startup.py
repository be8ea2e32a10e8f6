"""What keeps `sentitrade backtest` starting fast: commands load only when they run,
default settings are not built, the trade list is encoded by the C encoder. Each shortcut
must give what the long way gives."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from contextlib import redirect_stdout
from pathlib import Path

from engine.backtest.cli import _print_json_doc
from engine.backtest.inputs import ENV_PREFIX, settings_for
from engine.cli_support import dumps
from engine.storage.config import ENV_PREFIX as SETTINGS_ENV_PREFIX
from engine.storage.config import Settings

ROOT = Path(__file__).resolve().parents[2]


def test_skipped_settings_are_the_defaults(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # settings_for returns None ("the defaults") only when the settings' one env source
    # is empty; the backtest then reads strategy_path as None
    assert ENV_PREFIX == SETTINGS_ENV_PREFIX
    assert Settings().engine.strategy_path is None
    for k in [k for k in __import__("os").environ if k.upper().startswith(ENV_PREFIX)]:
        monkeypatch.delenv(k)
    assert settings_for(None) is None
    monkeypatch.setenv("sentitrade_engine__news_delay_seconds", "5")
    s = settings_for(None)
    assert s is not None and s.engine.news_delay_seconds == 5.0


def _printed(doc: dict) -> str:  # type: ignore[type-arg]
    buf = io.StringIO()
    with redirect_stdout(buf):
        _print_json_doc(doc)
    return buf.getvalue()


def test_fast_json_is_print_json_byte_for_byte() -> None:
    rows = [
        {"pair": "BTC/USDT", "open_time": "2025-01-01T00:05:00Z", "open_rate": 0.1 + 0.2,
         "profit_ratio": -1.5e-07, "amount": 12345678901234567890, "exit_reason": 'a "q"},\n{',
         "is_open": False, "tag": None},
        {"pair": "ÉTH/€", "open_time": "x", "open_rate": 1e22, "profit_ratio": 0.0,
         "amount": 3, "exit_reason": "", "is_open": True, "tag": "}, {"},
    ]
    for trades in (rows, rows[:1], [], [{}], [{"a": [1]}]):
        doc = {"strategy": "s", "metrics": {"x": 1.5, "d": {"y": [1, 2]}}, "trades": trades,
               "news": None, "repairs": []}
        assert _printed(doc) == dumps(doc) + "\n"


def test_backtest_loads_only_its_own_modules() -> None:
    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from bot.cli import app\n"
        "r = CliRunner().invoke(app, ['backtest', '--help'])\n"
        "assert r.exit_code == 0, r.output\n"
        "heavy = ['engine.storage.config', 'pydantic_settings', 'httpx', 'pandas', 'scipy',\n"
        "         'engine.indicators.bench', 'bot.bench', 'sentiment.cli', 'sentiment.bench']\n"
        "print([m for m in heavy if m in sys.modules])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, check=True).stdout
    assert json.loads(out.strip().replace("'", '"')) == []


def test_help_lists_every_command() -> None:
    from typer.testing import CliRunner

    from bot.cli import app

    res = CliRunner().invoke(app, ["--help"])
    for name in ("run", "demo", "db", "config", "bench", "sentiment", "backtest", "hyperopt",
                 "list-strategies", "new-strategy"):
        assert name in res.output
    res = CliRunner().invoke(app, ["bench", "--help"])
    for name in ("indicators", "backtest", "sentiment", "engine", "chat"):
        assert name in res.output
    res = CliRunner().invoke(app, ["backtst"])
    assert res.exit_code != 0 and "backtest" in res.output
