"""Funding fees of perpetual futures.

Binance USDⓈ-M charges funding every 8 hours (00:00, 08:00, 16:00 UTC) on the position's
notional at the mark price: ``fee = size * mark * rate``; with a positive rate longs pay
shorts. The sign follows Freqtrade's ``funding_fees``: positive is money RECEIVED, so a
long at a positive rate books a negative amount. A position pays or receives at a funding
time T when it was open before T and still open at T (``open < T <= close``).

Rates come from a constant (backtests, paper) or a file: ``timestamp,fundingRate`` rows
as ccxt's ``fetch_funding_rate_history`` gives them (ms or ISO-8601 UTC), or Freqtrade's
``*-8h-funding_rate`` candles as CSV (``timestamp_ms,open,...``, the rate in ``open``).
Exchange timestamps carry a few ms of jitter (``...00:00:00.017``): times are rounded to
the minute so a rate lands on its funding time.
"""

from __future__ import annotations

import csv
import json
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from engine.errors import DataError

FUNDING_INTERVAL_MS = 8 * 3600 * 1000


def funding_fee(side: int, size: Decimal, mark_price: Decimal, rate: Decimal) -> Decimal:
    """Received (+) or paid (-) at one funding time; longs pay positive rates."""
    if side not in (1, -1):
        raise ValueError("side is 1 (long) or -1 (short)")
    return -side * abs(size) * mark_price * rate


def funding_times(open_ms: int, close_ms: int,
                  interval_ms: int = FUNDING_INTERVAL_MS) -> list[int]:
    """Funding times T with ``open_ms < T <= close_ms`` (multiples of the interval)."""
    first = (open_ms // interval_ms + 1) * interval_ms
    return list(range(first, close_ms + 1, interval_ms)) if first <= close_ms else []


def _ms(v: str) -> int:
    s = v.strip()
    if s.lstrip("-").isdigit():
        return int(s)
    try:
        return int(datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp() * 1000)
    except ValueError as e:
        raise DataError(f"funding file: {v!r} is neither ms nor an ISO-8601 time") from e


@dataclass(frozen=True, slots=True)
class FundingRates:
    """A constant rate, or a series (times ascending) whose last rate at or before T
    applies at T (before the first row: the constant)."""

    constant: float = 0.0
    times_ms: tuple[int, ...] = ()
    rates: tuple[float, ...] = ()

    def rate_at(self, t_ms: int) -> float:
        if not self.times_ms:
            return self.constant
        i = bisect_right(self.times_ms, t_ms) - 1
        return self.rates[i] if i >= 0 else self.constant


def _minute(ms: int) -> int:
    return (ms + 30_000) // 60_000 * 60_000


def load_funding_file(path: Path) -> FundingRates:
    """``timestamp,fundingRate`` CSV (header required) or a JSON list of such objects, or
    Freqtrade's funding-rate candles (``timestamp_ms,open``)."""
    if not path.is_file():
        raise DataError(f"funding file {path} not found")
    rows: Sequence[dict[str, str]]
    if path.suffix == ".json":
        rows = [{k: str(v) for k, v in r.items()} for r in json.loads(path.read_text())]
    else:
        with path.open(newline="") as f:
            rows = list(csv.DictReader(f))
    try:
        if rows and "timestamp_ms" in rows[0]:
            pairs = sorted((_minute(_ms(r["timestamp_ms"])), float(r["open"])) for r in rows)
        else:
            pairs = sorted((_minute(_ms(r["timestamp"])), float(r["fundingRate"]))
                           for r in rows)
    except KeyError as e:
        raise DataError(f"funding file {path}: needs columns timestamp,fundingRate "
                        "(or timestamp_ms,open)") from e
    except ValueError as e:
        raise DataError(f"funding file {path}: {e}") from e
    if not pairs:
        raise DataError(f"funding file {path} has no rows")
    return FundingRates(0.0, tuple(t for t, _ in pairs), tuple(r for _, r in pairs))
