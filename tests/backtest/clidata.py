"""Small candle folders, news files and strategy files for the CLI tests."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
from typer.testing import CliRunner

from bot.cli import app
from engine.data.candles import Candles, pair_to_filename

T0 = 1_735_689_600_000  # 2025-01-01 00:00 UTC
STEP = 300_000
runner = CliRunner()

PROBE = '''
from engine.strategy import IntParameter, Strategy


class NewsProbe(Strategy):
    """Enters on the first candle that sees a headline; never exits by itself."""

    stoploss = -0.5
    wait = IntParameter(0, 3, default=0, space="buy")

    def populate_entry_trend(self, frame, metadata):
        frame["enter_long"] = frame["news_count"] > self.wait
        return frame
'''

CROSS = '''
import numpy as np

from engine.indicators import ema
from engine.strategy import IntParameter, Strategy, crossed_above, crossed_below


class MyCross(Strategy):
    """A trader's own EMA cross: what docs/strategies.md teaches."""

    stoploss = -0.08
    fast = IntParameter(3, 20, default=8, space="buy")
    slow = IntParameter(21, 60, default=30, space="buy")

    def populate_indicators(self, frame, metadata):
        frame["f"] = ema(frame["close"], int(self.fast))
        frame["s"] = ema(frame["close"], int(self.slow))
        return frame

    def populate_entry_trend(self, frame, metadata):
        frame["enter_long"] = crossed_above(frame["f"], frame["s"])
        return frame

    def populate_exit_trend(self, frame, metadata):
        frame["exit_long"] = crossed_below(frame["f"], frame["s"])
        return frame
'''

VANDAL = '''
from engine.strategy import DecimalParameter, Strategy


class Vandal(Strategy):
    """Writes into its input column (allowed in a backtest, not in a shared frame)."""

    k = DecimalParameter(0.5, 2.0, default=1.0, space="buy")

    def populate_entry_trend(self, frame, metadata):
        frame["close"] *= 1.0
        frame["enter_long"] = frame["close"] > frame["open"] * float(self.k)
        return frame
'''


def write_csv(folder: Path, c: Candles) -> Path:
    """Our CSV layout (``timestamp_ms,open,high,low,close,volume``), rows as given."""
    folder.mkdir(parents=True, exist_ok=True)
    p = folder / f"{pair_to_filename(c.symbol, c.timeframe)}.csv"
    lines = ["timestamp_ms,open,high,low,close,volume"]
    for row in zip(c.open_time, c.open, c.high, c.low, c.close, c.volume, strict=True):
        lines.append(",".join(repr(float(x)) if i else str(int(x)) for i, x in enumerate(row)))
    p.write_text("\n".join(lines) + "\n")
    return p


def flat(symbol: str, n: int = 40, price: float = 100.0) -> Candles:
    """Gently rising candles: a trade's outcome is never in doubt, only its timing."""
    o = price + np.arange(n) * 0.01
    c = o + 0.005
    return Candles(symbol, "5m", T0 + np.arange(n, dtype=np.int64) * STEP, o, c + 0.01,
                   o - 0.01, c, np.ones(n))


def wave(symbol: str, n: int = 150, price: float = 100.0) -> Candles:
    """Oscillating candles: RSI moves through its whole range."""
    c = price + np.sin(np.arange(n) / 3.0)
    o = np.r_[price, c[:-1]]
    return Candles(symbol, "5m", T0 + np.arange(n, dtype=np.int64) * STEP, o,
                   np.maximum(o, c) + 0.05, np.minimum(o, c) - 0.05, c, np.ones(n))


def write_news(path: Path, rows: list[dict[str, str]]) -> Path:
    text = "".join(json.dumps(r) + "\n" for r in rows)
    if path.name.endswith(".gz"):
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)
    return path


def invoke(*args: str, env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    return runner.invoke(app, list(args), env=env)


def json_of(res) -> dict:  # type: ignore[no-untyped-def]
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


def one_line_error(res, needle: str) -> str:  # type: ignore[no-untyped-def]
    assert res.exit_code != 0, res.output
    assert "Traceback" not in res.output
    text = res.output.strip()
    assert len(text.splitlines()) == 1, text
    assert needle in text, text
    return text
