"""Candles as columnar NumPy arrays, read from Freqtrade's feather or our CSV layout.

Files (and ccxt) stamp a candle with its OPEN time; the engine reasons in close times
(DESIGN.md: the 5m candle stamped 09:05 covers (09:00, 09:05]). `Candles` keeps the
open times it was read with and derives `close_time`, so the conversion happens here,
once, at the boundary.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from engine.errors import DataError

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]

TIMEFRAME_MS: dict[str, int] = {
    "1s": 1_000,  # Binance spot's second candles (streamed scalping; a live run's tests)
    "1m": 60_000,
    "3m": 180_000,
    "5m": 300_000,
    "15m": 900_000,
    "30m": 1_800_000,
    "1h": 3_600_000,
    "2h": 7_200_000,
    "4h": 14_400_000,
    "6h": 21_600_000,
    "8h": 28_800_000,
    "12h": 43_200_000,
    "1d": 86_400_000,
}
_SUFFIXES = (".feather", ".csv.gz", ".csv")
DEMO_DATA_DIR = Path(__file__).resolve().parent


def timeframe_ms(timeframe: str) -> int:
    try:
        return TIMEFRAME_MS[timeframe]
    except KeyError:
        allowed = ", ".join(TIMEFRAME_MS)
        raise DataError(f"unknown timeframe {timeframe!r}: use one of {allowed}") from None


@dataclass(frozen=True, slots=True)
class Candles:
    """One symbol's candles on one timeframe, oldest first, open-time stamped."""

    symbol: str
    timeframe: str
    open_time: I64
    open: F64
    high: F64
    low: F64
    close: F64
    volume: F64

    def __len__(self) -> int:
        return int(self.open_time.shape[0])

    @property
    def close_time(self) -> I64:
        """Right-aligned stamps: what the engine calls a candle's time."""
        return self.open_time + timeframe_ms(self.timeframe)

    def between(self, start_ms: int | None = None, end_ms: int | None = None) -> Candles:
        """Candles whose open time lies in [start_ms, end_ms)."""
        lo = 0 if start_ms is None else int(np.searchsorted(self.open_time, start_ms, "left"))
        hi = len(self) if end_ms is None else int(np.searchsorted(self.open_time, end_ms, "left"))
        return self._take(slice(lo, hi))

    def _take(self, idx: slice | npt.NDArray[np.bool_] | npt.NDArray[np.intp]) -> Candles:
        return Candles(
            self.symbol,
            self.timeframe,
            self.open_time[idx],
            self.open[idx],
            self.high[idx],
            self.low[idx],
            self.close[idx],
            self.volume[idx],
        )


def pair_to_filename(symbol: str, timeframe: str) -> str:
    """Freqtrade's layout: `BTC/USDT` + `5m` -> `BTC_USDT-5m`."""
    return f"{symbol.replace('/', '_').replace(':', '_')}-{timeframe}"


def filename_to_pair(name: str) -> tuple[str, str] | None:
    """`BTC_USDT-5m.feather` -> (`BTC/USDT`, `5m`); None for other names."""
    m = re.fullmatch(r"([A-Z0-9]+)_([A-Z0-9]+)-(\d+[mhdw])(?:\.feather|\.csv\.gz|\.csv)", name)
    if m is None:
        return None
    return f"{m.group(1)}/{m.group(2)}", m.group(3)


def find_candle_file(data: Path, symbol: str, timeframe: str) -> Path:
    """The file for `symbol`/`timeframe` in folder `data` (feather, csv.gz or csv)."""
    stem = pair_to_filename(symbol, timeframe)
    for suffix in _SUFFIXES:
        p = data / f"{stem}{suffix}"
        if p.exists():
            return p
    available = sorted(
        f"{pt[0]} {pt[1]}" for f in data.glob("*") if (pt := filename_to_pair(f.name))
    )
    hint = f"available: {', '.join(available)}" if available else "the folder has no candle files"
    raise DataError(f"no candles for {symbol} {timeframe} in {data} ({hint})")


def list_pairs(data: Path, timeframe: str) -> list[str]:
    """Pairs with a file for `timeframe` in `data`, sorted."""
    found = {
        pt[0] for f in data.glob("*") if (pt := filename_to_pair(f.name)) and pt[1] == timeframe
    }
    return sorted(found)


def read_raw(path: Path, symbol: str, timeframe: str) -> Candles:
    """A candle file exactly as stored: no sorting, no merging of duplicates (what the
    backtest's input check inspects; `read_candles` cleans it)."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"candle file {path} not found")
    try:
        if path.name.endswith(".feather"):
            ts, cols = _read_feather(path)
        elif path.name.endswith((".csv", ".csv.gz")):
            ts, cols = _read_csv(path)
        else:
            raise DataError(f"{path.name}: unsupported format (use .feather, .csv or .csv.gz)")
    except DataError:
        raise
    except Exception as e:
        raise DataError(f"{path}: cannot read candles ({type(e).__name__}: {e})") from None
    if ts.size == 0:
        raise DataError(f"{path}: no candles in file")
    return Candles(symbol, timeframe, ts, *cols)


def read_candles(path: Path, symbol: str | None = None, timeframe: str | None = None) -> Candles:
    """Read one file; symbol and timeframe default to what the file name says."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"candle file {path} not found")
    parsed = filename_to_pair(path.name)
    symbol = symbol or (parsed[0] if parsed else path.name.split(".")[0])
    timeframe = timeframe or (parsed[1] if parsed else None)
    if timeframe is None:
        raise DataError(f"cannot tell the timeframe of {path.name}: pass it explicitly")
    timeframe_ms(timeframe)
    return clean(read_raw(path, symbol, timeframe))


def _read_feather(path: Path) -> tuple[I64, list[F64]]:
    import pyarrow as pa
    import pyarrow.feather as pf

    table = pf.read_table(path)
    names = set(table.column_names)
    missing = {"date", "open", "high", "low", "close", "volume"} - names
    if missing:
        raise DataError(f"{path}: missing columns {sorted(missing)}")
    date = table.column("date")
    stamps = pa.types.is_timestamp(date.type)
    raw = _plain_numpy(date, np.int64) if stamps or pa.types.is_int64(date.type) else None
    if raw is None:  # another type, or nulls: Arrow's own cast (and its errors)
        raw = date.cast(pa.int64()).to_numpy()
    if stamps:
        unit = date.type.unit
        div = {"s": 1 / 1000, "ms": 1, "us": 1000, "ns": 1_000_000}[unit]
        ts = (raw // div).astype(np.int64)
    else:
        ts = raw.astype(np.int64)
    cols = []
    for c in ("open", "high", "low", "close", "volume"):
        col = table.column(c)
        v = _plain_numpy(col, np.float64) if pa.types.is_float64(col.type) else None
        if v is None:
            v = col.cast(pa.float64()).to_numpy(zero_copy_only=False)
        cols.append(v.astype(np.float64))
    return ts, cols


def _plain_numpy(col: Any, dtype: type[np.generic]) -> npt.NDArray[Any] | None:
    """A null-free fixed-width Arrow column as NumPy views of its buffers (None when it
    has nulls). `Array.to_numpy` and `ChunkedArray.cast` would import pandas and
    pyarrow.compute: a quarter of a second of `sentitrade backtest`'s start-up."""
    size = np.dtype(dtype).itemsize
    parts = []
    for a in col.chunks:
        if a.null_count:
            return None
        parts.append(np.frombuffer(a.buffers()[1], dtype=dtype, count=len(a),
                                   offset=a.offset * size))
    return np.concatenate(parts) if parts else np.empty(0, dtype=dtype)


def _read_csv(path: Path) -> tuple[I64, list[F64]]:
    import pyarrow as pa
    import pyarrow.csv as pcsv

    table = pcsv.read_csv(path)
    names = table.column_names
    tcol = "timestamp_ms" if "timestamp_ms" in names else names[0]
    need = ["open", "high", "low", "close", "volume"]
    missing = [c for c in need if c not in names]
    if missing:
        header = "timestamp_ms," + ",".join(need)
        raise DataError(f"{path}: missing columns {missing} (header must be {header})")
    ts = table.column(tcol).cast(pa.int64()).to_numpy().astype(np.int64)
    cols = [
        table.column(c).cast(pa.float64()).to_numpy(zero_copy_only=False).astype(np.float64)
        for c in need
    ]
    return ts, cols


def clean(c: Candles) -> Candles:
    """Sort by time and merge duplicate stamps as Freqtrade does (first open, max high,
    min low, last close, max volume)."""
    order = np.argsort(c.open_time, kind="stable")
    if not np.array_equal(order, np.arange(len(c))):
        c = c._take(order)
    t = c.open_time
    if len(c) > 1 and np.any(t[1:] == t[:-1]):
        starts = np.flatnonzero(np.r_[True, t[1:] != t[:-1]])
        ends = np.r_[starts[1:], len(t)] - 1
        c = Candles(
            c.symbol,
            c.timeframe,
            t[starts],
            c.open[starts],
            np.maximum.reduceat(c.high, starts),
            np.minimum.reduceat(c.low, starts),
            c.close[ends],
            np.maximum.reduceat(c.volume, starts),
        )
    return c


def fill_gaps(c: Candles) -> Candles:
    """Insert missing candles as Freqtrade does: OHLC = previous close, volume 0."""
    step = timeframe_ms(c.timeframe)
    if len(c) < 2:
        return c
    t = c.open_time
    n = int((t[-1] - t[0]) // step) + 1
    if n == len(c):
        return c
    full_t = t[0] + np.arange(n, dtype=np.int64) * step
    pos = ((t - t[0]) // step).astype(np.intp)
    present = np.zeros(n, dtype=np.bool_)
    present[pos] = True
    # index of the last present candle at or before each slot
    last = np.maximum.accumulate(np.where(present, np.arange(n), 0))
    src = np.searchsorted(pos, last)
    prev_close = c.close[src]
    out = [np.where(present, np.zeros(n), prev_close) for _ in range(4)]
    for arr, col in zip(out, (c.open, c.high, c.low, c.close), strict=True):
        arr[pos] = col
    vol = np.zeros(n)
    vol[pos] = c.volume
    return Candles(c.symbol, c.timeframe, full_t, out[0], out[1], out[2], out[3], vol)


def validate(c: Candles) -> list[str]:
    """Problems a live feed must not pass on silently (gaps, order, OHLC sanity)."""
    problems: list[str] = []
    step = timeframe_ms(c.timeframe)
    d = np.diff(c.open_time)
    if np.any(d <= 0):
        problems.append(f"{int(np.sum(d <= 0))} duplicate or out-of-order stamps")
    if np.any(d % step != 0):
        problems.append("stamps not aligned to the timeframe")
    gaps = int(np.sum(d > step))
    if gaps:
        problems.append(f"{gaps} gaps")
    bad = (c.high < np.maximum(c.open, c.close)) | (c.low > np.minimum(c.open, c.close))
    bad |= (c.low <= 0) | (c.volume < 0)
    if np.any(bad):
        problems.append(f"{int(np.sum(bad))} candles fail OHLC sanity (low <= open/close <= high)")
    return problems


def load_candles(
    data: Path, symbols: list[str] | None, timeframe: str, fill: bool = True
) -> dict[str, Candles]:
    """Load several pairs from a folder (or one file); gap-filled as Freqtrade does."""
    timeframe_ms(timeframe)
    data = Path(data)
    if not data.exists():
        raise DataError(f"data path {data} not found")
    if data.is_file():
        c = read_candles(data, symbols[0] if symbols else None, timeframe)
        return {c.symbol: fill_gaps(c) if fill else c}
    pairs = symbols or list_pairs(data, timeframe)
    if not pairs:
        raise DataError(f"no {timeframe} candle files in {data}")
    out: dict[str, Candles] = {}
    for s in pairs:
        c = read_candles(find_candle_file(data, s, timeframe), s, timeframe)
        out[s] = fill_gaps(c) if fill else c
    return out


@dataclass(frozen=True, slots=True)
class Bar:
    """One closed candle, stamped with its CLOSE time (right-aligned).

    ``next_open``: the first price after the close when the feed knows it (a replay
    does: the next candle's open), which is where an order decided on this candle
    executes, as in the backtester. ``tick``: the price step's decimals for this candle
    (a replay derives it per month from the file, as Freqtrade does; -1 = unknown)."""

    symbol: str
    timeframe: str
    ts: datetime
    open: float
    high: float
    low: float
    close: float
    volume: float
    next_open: float | None = None
    tick: int = -1
    next_tick: int = -1  # the price step of the next candle (where an entry fills)

    @property
    def close_ms(self) -> int:
        return round(self.ts.timestamp() * 1000)
