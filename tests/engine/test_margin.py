"""engine.margin against Binance's own worked examples.

Sources (the numbers in these tests are theirs):
- https://www.binance.com/en/support/faq/b3c689c1f50a44cabb3a84e663b81d93
  "How to Calculate Liquidation Price of USDⓈ-M Futures Contracts": the formula, "a
  BTCUSDT position of 264,000 USDT has a maintenance margin rate of 1 %", "500,000 USDT
  has a maintenance amount of 1,300 USDT", "level 3 = 250,000 * (1% - 0.5%) + 50 = 1,300".
- https://binance.com/en/support/faq/25edcd7fe0e544839d0847b8cbb2e400 ("How to avoid
  liquidation"): "a wallet balance of 500 USDT ... a long BTCUSDT position worth 1,000
  USDT with 20x leverage at $50,000 ... your liquidation price will be $25,100.40".
"""

from __future__ import annotations

from decimal import Decimal as D

import numpy as np
import pytest

from engine.margin import (
    BINANCE_BTCUSDT,
    FundingRates,
    funding_fee,
    funding_times,
    initial_margin,
    isolated_liquidation_price,
    liquidation_distance,
    liquidation_price,
    load_funding_file,
    maintenance_amounts,
    position_amount,
    tier_for,
    tiers_from_ccxt,
)
from engine.margin.liquidation import liquidation_price_f
from engine.margin.tiers import tier_arrays


def test_bracket_examples_from_the_faq() -> None:
    assert tier_for(BINANCE_BTCUSDT, D(264_000)).mmr == D("0.01")
    assert tier_for(BINANCE_BTCUSDT, D(500_000)).cum == D(1300)
    # the documented recurrence, level 3
    cums = maintenance_amounts([D(0), D(50_000), D(250_000)], [D("0.004"), D("0.005"), D("0.01")])
    assert cums == [D(0), D(50), D(1300)]


def test_liquidation_price_of_the_faq_example() -> None:
    """500 USDT balance, 1,000 USDT long at 50,000 -> 25,100.40 (tier 1: 0.4 %, cum 0)."""
    size = D(1000) / D(50_000)
    lp = isolated_liquidation_price(1, size, D(50_000), D(500), BINANCE_BTCUSDT)
    assert lp is not None and lp.quantize(D("0.01")) == D("25100.40")
    fl, mmr, cum = tier_arrays(BINANCE_BTCUSDT)
    assert round(liquidation_price_f(1, float(size), 50_000.0, 500.0, fl, mmr, cum), 2) == 25100.40


def test_short_mirrors_the_formula_and_1x_long_never_liquidates() -> None:
    size = D("0.02")
    # a short with the same balance: (500 + 0 + 1000) / (0.02*0.004 + 0.02)
    lp = isolated_liquidation_price(-1, size, D(50_000), D(500), BINANCE_BTCUSDT)
    assert lp == D(1500) / (size * D("0.004") + size)
    assert lp > D(50_000)
    # 1x long: margin = notional, LP <= 0 -> none ("--" on Binance)
    assert isolated_liquidation_price(1, size, D(50_000), D(1000), BINANCE_BTCUSDT) is None
    with pytest.raises(ValueError):
        liquidation_price(0, size, D(1), D(1), D("0.01"), D(0))


def test_bracket_is_recomputed_at_the_liquidation_notional() -> None:
    """A 40x short of 49,000 USDT: the entry lies in bracket 1 but the notional at LP
    (above 50,000) in bracket 2, so LP uses 0.5 % and cum 50 (the FAQ's note)."""
    size = D(1)
    margin = D(49_000) / D(40)
    lp = isolated_liquidation_price(-1, size, D(49_000), margin, BINANCE_BTCUSDT)
    t2 = BINANCE_BTCUSDT[1]
    assert lp is not None
    assert lp == liquidation_price(-1, size, D(49_000), margin, t2.mmr, t2.cum)
    assert size * lp >= t2.floor
    fl, mmr, cum = tier_arrays(BINANCE_BTCUSDT)
    assert liquidation_price_f(-1, 1.0, 49_000.0, float(margin), fl, mmr, cum) == pytest.approx(
        float(lp), rel=1e-12)


def test_isolated_leverage_puts_lp_near_one_over_leverage() -> None:
    price, lev = D(40_000), D(10)
    amount = position_amount(D(100), lev, price)
    margin = initial_margin(amount * price, lev)
    assert margin == D(100)
    lp = isolated_liquidation_price(1, amount, price, margin, BINANCE_BTCUSDT)
    assert lp is not None and D(36_000) < lp < D(36_200)  # 10 % down, less the 0.4 % MM
    assert liquidation_distance(1, price, lp) == (price - lp) / price
    assert liquidation_distance(-1, D(100), D(110)) == D("0.1")


def test_tiers_from_ccxt_rebuild_cum_when_absent() -> None:
    rows = [
        {"minNotional": 0, "maxNotional": 50000, "maintenanceMarginRate": 0.004,
         "maxLeverage": 125, "info": {"cum": "0.0"}},
        {"minNotional": 50000, "maxNotional": 250000, "maintenanceMarginRate": 0.005,
         "maxLeverage": 100, "info": {}},
    ]
    t = tiers_from_ccxt(rows)
    assert [x.cum for x in t] == [D(0), D(50)]
    assert t[1].max_leverage == D(100)


def test_funding_sign_and_times(tmp_path) -> None:
    # Freqtrade's convention: longs pay positive rates (negative funding_fees)
    assert funding_fee(1, D(2), D(100), D("0.0001")) == D("-0.0200")
    assert funding_fee(-1, D(2), D(100), D("0.0001")) == D("0.0200")
    assert funding_fee(1, D(2), D(100), D("-0.0001")) == D("0.0200")
    h = 3600_000
    assert funding_times(0, 8 * h) == [8 * h]  # held through 08:00 (open < T <= close)
    assert funding_times(8 * h, 16 * h - 1) == []
    assert funding_times(7 * h, 25 * h) == [8 * h, 16 * h, 24 * h]
    f = tmp_path / "rates.csv"
    f.write_text("timestamp,fundingRate\n2025-01-01T08:00:00Z,0.0003\n0,0.0001\n")
    r = load_funding_file(f)
    assert r.rate_at(8 * h - 1) == 0.0001
    assert r.rate_at(1735718400000) == 0.0003
    assert FundingRates(0.0002).rate_at(123) == 0.0002
    assert np.isfinite(r.rate_at(-5))


def test_freqtrade_funding_candles_land_on_their_funding_time() -> None:
    """Freqtrade's XRP/USDT:USDT 8h funding-rate file: the rate is in ``open`` and the
    stamps carry ms of jitter (1637193600017 = 2021-11-18 00:00:00.017)."""
    from engine.backtest._paths import shared_data

    f = shared_data() / "ohlcv/freqtrade_testdata/futures/XRP_USDT_USDT-8h-funding_rate.csv"
    if not f.is_file():
        pytest.skip("shared reference data not present")
    r = load_funding_file(f)
    assert r.times_ms[0] == 1637193600000
    assert r.rate_at(1637193600000) == 0.0001
    assert len(r.times_ms) == 91
