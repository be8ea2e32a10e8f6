"""History download against the loopback fake of Binance (real ccxt, URLs rewritten):
Freqtrade's file layout, incremental fetches, pages, rate limits, and `download-data`
output read by `backtest`."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.feather as pf
import pytest
from typer.testing import CliRunner

from bot.cli import app
from engine.backtest._paths import shared_data
from engine.data.download import download_pair, feather_path, list_data, read_stored
from engine.data.exchange import rewrite_urls
from tests.fakes.exchange_server import FakeBinance, Fault, walk_kline

STEP = 300_000
NOW = 1_764_000_000_000 + 123_456  # inside a 5m candle: that forming candle is never kept
FREQTRADE_FILE = shared_data() / "ohlcv"


def _client(url: str) -> Any:
    import ccxt.async_support as ccxt_async

    c = ccxt_async.binance({"enableRateLimit": True, "options": {
        "fetchCurrencies": False, "fetchMarkets": {"types": ["spot"]}}})
    rewrite_urls(c, url)
    return c


def _klines(fake: FakeBinance) -> int:
    return sum(1 for r in fake.requests if r == "GET /api/v3/klines")


async def _fake() -> FakeBinance:
    fake = FakeBinance(prices={"BTCUSDT": Decimal(100), "ETHUSDT": Decimal(100)})
    fake.walk, fake.now_ms = True, NOW
    await fake.start()
    return fake


async def _nosleep(_: float) -> None:
    return None


async def test_a_download_is_every_closed_candle_once_in_freqtrades_layout(
        tmp_path: Path) -> None:
    fake = await _fake()
    client = _client(fake.url)
    try:
        r = await download_pair(client, tmp_path, "BTC/USDT", "5m", 3, NOW, limit=100)
    finally:
        await client.close()
        await fake.stop()
    last_closed_open = NOW // STEP * STEP - STEP
    first = (NOW - 3 * 86_400_000) // STEP * STEP
    want_t = np.arange(first, last_closed_open + 1, STEP)
    assert r.total == r.added == len(want_t) == 864
    assert r.requests == 9  # 8 full pages of 100 and the last 64: no request past the end
    table = pf.read_table(feather_path(tmp_path, "BTC/USDT", "5m"))
    assert table.column_names == ["date", "open", "high", "low", "close", "volume"]
    assert str(table.schema.field("date").type) == "timestamp[ns, tz=UTC]"
    c = read_stored(tmp_path, "BTC/USDT", "5m")
    assert c is not None
    np.testing.assert_array_equal(c.open_time, want_t)
    for i in (0, 417, len(c) - 1):
        o, h, lo, cl, v = walk_kline("BTCUSDT", int(c.open_time[i]), STEP)
        assert (c.open[i], c.high[i], c.low[i], c.close[i], c.volume[i]) == (o, h, lo, cl, v)


def test_the_file_has_the_schema_of_a_real_freqtrade_download(tmp_path: Path) -> None:
    real = sorted(FREQTRADE_FILE.glob("*/*.feather"))
    if not real:
        pytest.fail(f"reference Freqtrade files missing under {FREQTRADE_FILE}")
    from engine.data.candles import Candles
    from engine.data.download import write_feather

    t = np.array([0, STEP], dtype=np.int64)
    one = np.array([1.0, 2.0])
    write_feather(tmp_path / "X_USDT-5m.feather", Candles("X/USDT", "5m", t, one, one, one,
                                                          one, one))
    ours = pf.read_table(tmp_path / "X_USDT-5m.feather").schema.remove_metadata()
    theirs = pf.read_table(real[0]).schema.remove_metadata()
    assert ours.equals(theirs), (ours, theirs)


async def test_a_second_download_fetches_only_what_is_missing(tmp_path: Path) -> None:
    fake = await _fake()
    client = _client(fake.url)
    try:
        await download_pair(client, tmp_path, "ETH/USDT", "5m", 1, NOW)
        n0 = _klines(fake)
        again = await download_pair(client, tmp_path, "ETH/USDT", "5m", 1, NOW)
        assert (again.added, _klines(fake) - n0) == (0, 0)  # nothing new: no request
        later = NOW + 3_600_000
        fake.now_ms = later
        fwd = await download_pair(client, tmp_path, "ETH/USDT", "5m", 1, later)
        assert (fwd.added, fwd.requests) == (12, 1)
        back = await download_pair(client, tmp_path, "ETH/USDT", "5m", 2, later)
        assert back.added == 288 - 12 and back.requests == 1  # only what precedes the first
        assert back.total == 576  # two days to the last closed candle
    finally:
        await client.close()
        await fake.stop()
    c = read_stored(tmp_path, "ETH/USDT", "5m")
    assert c is not None and len(c) == back.total
    assert np.all(np.diff(c.open_time) == STEP)  # no gap, no duplicate at the seams


async def test_rate_limits_and_drops_are_retried(tmp_path: Path) -> None:
    fake = await _fake()
    fake.faults += [Fault("GET /api/v3/klines", "429"), Fault("GET /api/v3/klines", "500")]
    client = _client(fake.url)
    waits: list[float] = []

    async def sleep(s: float) -> None:
        waits.append(s)

    try:
        r = await download_pair(client, tmp_path, "BTC/USDT", "1h", 2, NOW, sleep=sleep)
    finally:
        await client.close()
        await fake.stop()
    assert r.total == 48 and len(waits) >= 1
    assert list_data(tmp_path)[0].candles == 48


@pytest.fixture
def threaded_fake() -> Iterator[FakeBinance]:
    """The fake on its own loop in a thread: the CLI runs its own `asyncio.run`."""
    fake = FakeBinance(prices={"BTCUSDT": Decimal(100), "ETHUSDT": Decimal(100)})
    fake.walk = True
    loop = asyncio.new_event_loop()
    ready = threading.Event()

    def serve() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(fake.start())
        ready.set()
        loop.run_forever()

    th = threading.Thread(target=serve, daemon=True)
    th.start()
    assert ready.wait(10)
    yield fake
    asyncio.run_coroutine_threadsafe(fake.stop(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    th.join(10)


def test_download_data_feeds_backtest(tmp_path: Path, threaded_fake: FakeBinance,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    for k in [k for k in __import__("os").environ if k.startswith("SENTITRADE_")]:
        monkeypatch.delenv(k)
    runner = CliRunner()
    d = tmp_path / "data"
    args = ["download-data", "--exchange", "binance", "--pairs", "BTC/USDT", "ETH/USDT",
            "--timeframes", "5m", "1h", "--days", "4", "--datadir", str(d),
            "--api-url", threaded_fake.url]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    assert "BTC/USDT" in res.output and "sentitrade backtest --data" in res.output
    res = runner.invoke(app, [*args, "--json"])
    assert res.exit_code == 0, res.output
    assert all(r["added"] <= 1 for r in json.loads(res.output)["results"])
    res = runner.invoke(app, ["list-data", "--datadir", str(d), "--json"])
    listed = {(r["pair"], r["timeframe"]): r["candles"] for r in json.loads(res.output)}
    assert set(listed) == {("BTC/USDT", "5m"), ("BTC/USDT", "1h"), ("ETH/USDT", "5m"),
                           ("ETH/USDT", "1h")}
    assert listed[("BTC/USDT", "5m")] in (1151, 1152)
    res = runner.invoke(app, ["backtest", "--data", str(d), "--pairs", "BTC/USDT",
                              "ETH/USDT", "--timeframe", "1h", "--json"])
    assert res.exit_code == 0, res.output
    assert "BTC/USDT" in res.output


def test_download_data_errors_are_one_line(tmp_path: Path) -> None:
    runner = CliRunner()
    res = runner.invoke(app, ["download-data", "--pairs", "BTC/USDT", "--timeframes", "7m"])
    assert res.exit_code == 2 and "neither a pair" in res.output
    res = runner.invoke(app, ["download-data", "--pairs", "BTC/USDT", "--datadir",
                              str(tmp_path), "--api-url", "http://127.0.0.1:9"])
    assert res.exit_code == 2 and "Traceback" not in res.output
    assert "--api-url" in res.output
    res = runner.invoke(app, ["list-data", "--datadir", str(tmp_path / "none")])
    assert res.exit_code == 2 and "download-data" in res.output
