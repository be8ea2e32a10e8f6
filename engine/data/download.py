"""History download: closed candles from an exchange (ccxt REST) into Freqtrade's file
layout, so `sentitrade backtest --data FOLDER` and Freqtrade itself read them.

A file is ``FOLDER/BTC_USDT-5m.feather`` with columns date (timestamp[ns, UTC], the
candle's OPEN time, as Freqtrade stores it), open, high, low, close, volume. A download
is incremental: it reads what the file holds and asks the exchange only for the candles
before its first and after its last one; pages follow each other by the last open time
received (ccxt's rate limiter on, and a retry with backoff on rate-limit and network
errors), the still-forming candle is never stored, and the file is replaced atomically
(a crash leaves the old file, never half a file).
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from engine.data.candles import (
    Candles,
    clean,
    filename_to_pair,
    pair_to_filename,
    read_raw,
    timeframe_ms,
)
from engine.errors import DataError

log = logging.getLogger("sentitrade.download")

Progress = Callable[[str, int], None]  # (task "BTC/USDT 5m", candles just added)


@dataclass(frozen=True, slots=True)
class DataInfo:
    """One stored file, as `sentitrade list-data` shows it (open times, ms)."""

    pair: str
    timeframe: str
    first_ms: int
    last_ms: int
    candles: int
    path: Path


@dataclass(frozen=True, slots=True)
class PairResult:
    pair: str
    timeframe: str
    added: int
    total: int
    requests: int


def feather_path(folder: Path, pair: str, timeframe: str) -> Path:
    return Path(folder) / f"{pair_to_filename(pair, timeframe)}.feather"


def read_stored(folder: Path, pair: str, timeframe: str) -> Candles | None:
    """The candles the feather file holds (sorted, de-duplicated), None if absent."""
    p = feather_path(folder, pair, timeframe)
    if not p.exists():
        return None
    return clean(read_raw(p, pair, timeframe))


def write_feather(path: Path, c: Candles) -> None:
    """Freqtrade's schema (date as timestamp[ns, UTC]), lz4-compressed as Freqtrade
    writes it; written beside the target and renamed over it."""
    import pyarrow as pa
    import pyarrow.feather as pf

    table = pa.table({
        "date": pa.array(c.open_time.astype(np.int64) * 1_000_000,
                         type=pa.timestamp("ns", tz="UTC")),
        "open": c.open, "high": c.high, "low": c.low, "close": c.close, "volume": c.volume,
    })
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    codec = "lz4" if pa.Codec.is_available("lz4") else "uncompressed"
    pf.write_feather(table, tmp, compression=codec)
    os.replace(tmp, path)


def merge(old: Candles | None, rows: list[list[Any]], pair: str, timeframe: str) -> Candles:
    """Stored candles + fetched ccxt rows (open-time stamped); a stamp fetched again
    replaces the stored one (the exchange's latest word), result sorted and unique."""
    if rows:
        arr = np.asarray([[float(x or 0.0) for x in r[:6]] for r in rows], dtype=np.float64)
        new_t = arr[:, 0].astype(np.int64)
    else:
        arr, new_t = np.empty((0, 6)), np.empty(0, dtype=np.int64)
    if old is not None and len(old):
        keep = ~np.isin(old.open_time, new_t)
        t = np.concatenate([old.open_time[keep], new_t])
        cols = [np.concatenate([getattr(old, k)[keep], arr[:, j + 1]])
                for j, k in enumerate(("open", "high", "low", "close", "volume"))]
    else:
        t, cols = new_t, [arr[:, j] for j in range(1, 6)]
    order = np.argsort(t, kind="stable")
    t = t[order]
    uniq = np.concatenate([[True], np.diff(t) != 0]) if len(t) else np.empty(0, bool)
    last = np.concatenate([uniq[1:], [True]]) if len(t) else uniq  # keep the last of a run
    return Candles(pair, timeframe, t[last], *[c[order][last] for c in cols])


async def _fetch_page(client: Any, pair: str, timeframe: str, since: int, limit: int,
                      retries: int, sleep: Callable[[float], Awaitable[None]]) -> list[list[Any]]:
    import ccxt

    for attempt in range(retries + 1):
        try:
            return list(await client.fetch_ohlcv(pair, timeframe, since=since, limit=limit))
        except (ccxt.RateLimitExceeded, ccxt.NetworkError) as e:
            if attempt == retries:
                raise DataError(f"{pair} {timeframe}: the exchange keeps failing "
                                f"({type(e).__name__}); try again later") from None
            wait = min(60.0, 2.0 ** attempt)
            log.warning("%s %s: %s, retrying in %.0f s", pair, timeframe, type(e).__name__,
                        wait)
            await sleep(wait)
        except ccxt.BadSymbol:
            raise DataError(f"the exchange does not list {pair}: check --pairs") from None
    return []


async def fetch_range(client: Any, pair: str, timeframe: str, start_ms: int, end_ms: int, *,
                      limit: int = 1000, retries: int = 4,
                      on_rows: Callable[[int], None] | None = None,
                      sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                      ) -> tuple[list[list[Any]], int]:
    """Closed candles opening in [start_ms, end_ms): pages of `limit` chained by the
    last open time received. Returns (rows, requests made)."""
    step = timeframe_ms(timeframe)
    out: list[list[Any]] = []
    since, requests = start_ms, 0
    while since < end_ms:
        page = await _fetch_page(client, pair, timeframe, since, limit, retries, sleep)
        requests += 1
        page = [r for r in page if since <= int(r[0]) < end_ms]
        if not page:
            break
        out.extend(page)
        if on_rows is not None:
            on_rows(len(page))
        nxt = int(page[-1][0]) + step
        if nxt <= since:
            break  # an exchange that answers the same page again: stop, never loop
        since = nxt
    return out, requests


async def download_pair(client: Any, folder: Path, pair: str, timeframe: str, days: float,
                        now_ms: int, *, limit: int = 1000,
                        on_rows: Callable[[int], None] | None = None,
                        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                        ) -> PairResult:
    """Bring one file to cover the last `days` up to the last closed candle."""
    step = timeframe_ms(timeframe)
    end = (now_ms // step) * step  # open time of the forming candle: not stored
    start = ((now_ms - int(days * 86_400_000)) // step) * step
    old = read_stored(folder, pair, timeframe)
    ranges: list[tuple[int, int]] = []
    if old is None or len(old) == 0:
        ranges.append((start, end))
    else:
        first, last = int(old.open_time[0]), int(old.open_time[-1])
        if start < first:
            ranges.append((start, first))
        if last + step < end:
            ranges.append((last + step, end))
    rows: list[list[Any]] = []
    requests = 0
    for lo, hi in ranges:
        got, n = await fetch_range(client, pair, timeframe, lo, hi, limit=limit,
                                   on_rows=on_rows, sleep=sleep)
        rows.extend(got)
        requests += n
    before = 0 if old is None else len(old)
    if not rows:
        return PairResult(pair, timeframe, 0, before, requests)
    merged = merge(old, rows, pair, timeframe)
    write_feather(feather_path(folder, pair, timeframe), merged)
    return PairResult(pair, timeframe, len(merged) - before, len(merged), requests)


def list_data(folder: Path) -> list[DataInfo]:
    """Every candle file in `folder` (feather, csv, csv.gz), sorted by pair, timeframe."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"data folder {folder} not found: run sentitrade download-data")
    out: list[DataInfo] = []
    for f in sorted(folder.iterdir()):
        pt = filename_to_pair(f.name)
        if pt is None:
            continue
        try:
            c = clean(read_raw(f, *pt))
        except DataError as e:
            log.warning("%s", e)
            continue
        out.append(DataInfo(pt[0], pt[1], int(c.open_time[0]), int(c.open_time[-1]),
                            len(c), f))
    out.sort(key=lambda d: (d.pair, timeframe_ms(d.timeframe)))
    return out
