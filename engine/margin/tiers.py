"""Maintenance-margin brackets ("leverage brackets" on Binance USDⓈ-M).

A position's maintenance margin is ``notional * MMR - cum`` where MMR (maintenance margin
rate) and cum (maintenance amount) belong to the bracket its notional falls in. Binance
documents cum as a recurrence over the brackets, so a table of floors and rates is enough
to rebuild it (`maintenance_amounts`):

    cum[0] = 0;  cum[n] = floor[n] * (MMR[n] - MMR[n-1]) + cum[n-1]

(https://www.binance.com/en/support/faq/b3c689c1f50a44cabb3a84e663b81d93, "Maintenance
Amount formula": level 3 = 250,000 * (1% - 0.5%) + 50 = 1,300 USDT.)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True, slots=True)
class Tier:
    """One bracket: notional in [floor, cap) uses `mmr` and `cum`, up to `max_leverage`."""

    floor: Decimal
    cap: Decimal
    mmr: Decimal
    cum: Decimal
    max_leverage: Decimal


def maintenance_amounts(floors: Sequence[Decimal], rates: Sequence[Decimal]) -> list[Decimal]:
    """cum of every bracket from the documented recurrence (floors ascending)."""
    if len(floors) != len(rates):
        raise ValueError("one maintenance margin rate per bracket floor")
    out: list[Decimal] = []
    for n, (fl, r) in enumerate(zip(floors, rates, strict=True)):
        out.append(Decimal(0) if n == 0 else fl * (r - rates[n - 1]) + out[n - 1])
    return out


def _table(rows: Sequence[tuple[int, str, int]]) -> tuple[Tier, ...]:
    floors = [Decimal(r[0]) for r in rows]
    rates = [Decimal(r[1]) for r in rows]
    cums = maintenance_amounts(floors, rates)
    caps = [*floors[1:], Decimal("1e18")]
    return tuple(Tier(f, c, r, cu, Decimal(lev))
                 for f, c, r, cu, (_, _, lev) in zip(floors, caps, rates, cums, rows, strict=True))


# BTCUSDT perpetual brackets (floor USDT, MMR, max leverage) as Binance's FAQ lists them;
# the default for paper and backtest runs of any market without a table of its own.
BINANCE_BTCUSDT: tuple[Tier, ...] = _table((
    (0, "0.004", 125),
    (50_000, "0.005", 100),
    (250_000, "0.01", 50),
    (1_000_000, "0.025", 20),
    (10_000_000, "0.05", 10),
    (20_000_000, "0.10", 5),
    (50_000_000, "0.125", 4),
    (100_000_000, "0.15", 3),
    (200_000_000, "0.25", 2),
    (300_000_000, "0.50", 1),
))


def tier_for(tiers: Sequence[Tier], notional: Decimal) -> Tier:
    """The bracket a position of this notional (absolute, in quote) falls in."""
    if not tiers:
        raise ValueError("no leverage brackets")
    n = abs(notional)
    for t in tiers:
        if t.floor <= n < t.cap:
            return t
    return tiers[-1]


def tiers_from_ccxt(rows: Sequence[Mapping[str, Any]]) -> tuple[Tier, ...]:
    """ccxt's ``fetch_leverage_tiers()[symbol]`` -> brackets. Binance sends ``cum`` in
    ``info``; where an exchange does not, it is rebuilt with the documented recurrence."""
    if not rows:
        raise ValueError("the exchange sent no leverage brackets")
    rs = sorted(rows, key=lambda r: float(r["minNotional"]))
    floors = [Decimal(str(r["minNotional"])) for r in rs]
    rates = [Decimal(str(r["maintenanceMarginRate"])) for r in rs]
    rebuilt = maintenance_amounts(floors, rates)
    out = []
    for i, r in enumerate(rs):
        info = r.get("info") or {}
        cum = Decimal(str(info["cum"])) if "cum" in info else rebuilt[i]
        cap = Decimal(str(r["maxNotional"])) if r.get("maxNotional") else Decimal("1e18")
        out.append(Tier(floors[i], cap, rates[i], cum, Decimal(str(r.get("maxLeverage") or 1))))
    return tuple(out)


def tier_arrays(tiers: Sequence[Tier]) -> tuple[npt.NDArray[np.float64], ...]:
    """(floors, mmr, cum) as float arrays for the backtest kernel."""
    return (np.array([float(t.floor) for t in tiers]), np.array([float(t.mmr) for t in tiers]),
            np.array([float(t.cum) for t in tiers]))
