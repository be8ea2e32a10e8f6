"""Futures and margin math: leverage brackets, liquidation prices, funding fees.

Pure functions over `Decimal` (the brokers' money) with float twins where the numba
backtest kernel needs them. Nothing here talks to an exchange or a database: the paper
futures broker, the backtester and the live short wiring all call the same formulas, so a
liquidation price is computed one way everywhere.

- `tiers`: maintenance-margin brackets (Binance USDⓈ-M "leverage brackets") and the
  documented maintenance-amount recurrence.
- `liquidation`: Binance's USDⓈ-M liquidation price (isolated margin, one-way mode).
- `funding`: funding times (every 8 h) and fees, Freqtrade's sign convention.
- `position`: margin, size, PnL and the distance to liquidation.
"""

from engine.margin.funding import (
    FUNDING_INTERVAL_MS,
    FundingRates,
    funding_fee,
    funding_times,
    load_funding_file,
)
from engine.margin.liquidation import isolated_liquidation_price, liquidation_price
from engine.margin.position import (
    initial_margin,
    liquidation_distance,
    position_amount,
    unrealized_pnl,
)
from engine.margin.tiers import (
    BINANCE_BTCUSDT,
    Tier,
    maintenance_amounts,
    tier_for,
    tiers_from_ccxt,
)

__all__ = [
    "BINANCE_BTCUSDT",
    "FUNDING_INTERVAL_MS",
    "FundingRates",
    "Tier",
    "funding_fee",
    "funding_times",
    "initial_margin",
    "isolated_liquidation_price",
    "liquidation_distance",
    "liquidation_price",
    "load_funding_file",
    "maintenance_amounts",
    "position_amount",
    "tier_for",
    "tiers_from_ccxt",
    "unrealized_pnl",
]
