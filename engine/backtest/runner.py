"""`run_backtest`: strategy -> aligned arrays -> numba core -> trades and metrics.

Everything pandas-free: frames are dicts of NumPy arrays, the timeline is a dense grid
of candle open times shared by all pairs (a pair is "valid" where it has a candle; gaps
inside a pair are filled beforehand as Freqtrade does, see `engine.data.candles.fill_gaps`).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from engine.backtest.trades import (  # noqa: F401 (Trades, TRADE_COLUMNS, exact_profit: re-exported)
    TRADE_COLUMNS,
    Trades,
    exact_profit,
    trades_from_records,
)
from engine.data.candles import Candles, timeframe_ms
from engine.errors import DataError
from engine.margin.funding import FundingRates
from engine.margin.tiers import BINANCE_BTCUSDT, Tier
from engine.strategy.interface import Frame, Strategy, analyze, extract_signals
from engine.strategy.registry import get_strategy
from sentiment.pointintime import AggParams, NewsItem, NewsSeries, columns_at, empty_columns

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]

@dataclass(slots=True)
class BacktestResult:
    """What a run produced: trades, metrics (see `engine.backtest.metrics`), timings in
    seconds (load, indicators, simulate, metrics, report), and what the report needs."""

    strategy: str
    timeframe: str
    pairs: list[str]
    candles: int
    trades: Trades
    metrics: dict[str, Any]
    timings: dict[str, float]
    wallet: float
    config: dict[str, Any] = field(default_factory=dict)
    data: dict[str, Candles] = field(default_factory=dict, repr=False)
    orders: list[dict[str, Any]] = field(default_factory=list, repr=False)
    breakdown: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The `--json` document: candles, trades, metrics and timings."""
        return {
            "strategy": self.strategy,
            "timeframe": self.timeframe,
            "pairs": self.pairs,
            "candles": self.candles,
            "config": self.config,
            "metrics": self.metrics,
            "breakdown": self.breakdown,
            "timings": self.timings,
            "trades": self.trades.rows(),
        }


@dataclass(frozen=True, slots=True)
class Grid:
    """Pairs on one dense timeline: (times, pairs) arrays and where each pair lives."""

    pairs: list[str]
    t0_ms: int
    step_ms: int
    offset: I64  # first time index of each pair
    length: I64  # candles of each pair
    valid: npt.NDArray[np.bool_]  # (times, pairs) like the value matrices
    open: F64
    high: F64
    low: F64
    close: F64

    @property
    def n_times(self) -> int:
        return int(self.valid.shape[0])


def make_grid(candles: dict[str, Candles], timeframe: str) -> Grid:
    """Align pairs on a shared grid of candle open times (no copies of values beyond
    one (times x pairs) matrix per column)."""
    if not candles:
        raise DataError("no pairs to backtest")
    step = timeframe_ms(timeframe)
    pairs = list(candles)
    for s, c in candles.items():
        if len(c) == 0:
            raise DataError(f"{s}: no candles in the selected range")
        d = np.diff(c.open_time)
        if d.size and (np.any(d != step)):
            raise DataError(f"{s}: candles are not gap-filled on {timeframe} (load with fill=True)")
    t0 = min(int(c.open_time[0]) for c in candles.values())
    t1 = max(int(c.open_time[-1]) for c in candles.values())
    for s, c in candles.items():
        if (int(c.open_time[0]) - t0) % step:
            raise DataError(f"{s}: candle times not aligned to the {timeframe} grid")
    n_t = (t1 - t0) // step + 1
    n_p = len(pairs)
    offset = np.array([(int(candles[s].open_time[0]) - t0) // step for s in pairs], dtype=np.int64)
    length = np.array([len(candles[s]) for s in pairs], dtype=np.int64)
    valid = np.zeros((n_t, n_p), dtype=np.bool_)
    mats = [np.zeros((n_t, n_p)) for _ in range(4)]
    for i, s in enumerate(pairs):
        c = candles[s]
        a, b = int(offset[i]), int(offset[i] + length[i])
        valid[a:b, i] = True
        for m, col in zip(mats, (c.open, c.high, c.low, c.close), strict=True):
            m[a:b, i] = col
    return Grid(pairs, t0, step, offset, length, valid, mats[0], mats[1], mats[2], mats[3])


def monthly_tick_decimals(c: Candles) -> I64:
    """Freqtrade's price step inferred from the candles (``get_tick_size_over_time``):
    per calendar month (UTC, by open time) the most decimals any O/H/L/C shows with 14
    significant digits (`engine.data.pricestep`); -1: no rounding."""
    from engine.data.pricestep import monthly_tick_decimals as _m

    return _m(c.open_time, c.open, c.high, c.low, c.close)


def parse_stake(stake: float | str) -> tuple[float, float]:
    """``1000`` -> fixed 1000; ``"10%"`` -> 10 % of equity. Returns (fixed, fraction)."""
    if isinstance(stake, str):
        s = stake.strip()
        if s.endswith("%"):
            pct = float(s[:-1]) / 100.0
            if not 0.0 < pct <= 1.0:
                raise ValueError(f"stake {stake!r}: percentage must be in (0, 100]")
            return 0.0, pct
        stake = float(s)
    if not stake > 0:
        raise ValueError(f"stake must be positive, got {stake}")
    return float(stake), 0.0


def build_frame(c: Candles, news: Sequence[NewsItem] | None = None, *, delay_ms: int = 0,
                agg: AggParams | None = None) -> Frame:
    """The columnar frame a strategy sees for one pair: candles plus the sentiment
    columns of the one point-in-time aggregation (`sentiment.pointintime`), computed at
    each candle's close time (the live runtime computes the same value per candle)."""
    f = Frame(
        {
            "date": c.open_time,
            "open": c.open,
            "high": c.high,
            "low": c.low,
            "close": c.close,
            "volume": c.volume,
            "close_time": c.close_time,
        },
        n=len(c),
    )
    if news:
        series = NewsSeries(news, delay_ms=delay_ms)
        f.update(columns_at(series, c.close_time, agg or AggParams(),
                            recent_ms=timeframe_ms(c.timeframe)))
    else:
        f.update(empty_columns(len(c)))
    return f


def run_backtest(
    candles: dict[str, Candles],
    strategy: str | Strategy,
    *,
    stake: float | str = 1000.0,
    fee: float = 0.001,
    maker_fee: float | None = None,
    slippage: float = 0.0,
    stoploss: float | None = None,
    max_open_trades: int = -1,
    wallet: float = 1_000_000.0,
    news: Mapping[str, Sequence[NewsItem]] | None = None,
    news_delay_s: float = 0.0,
    agg: AggParams | None = None,
    params: dict[str, Any] | None = None,
    compute_metrics: bool = True,
    trading_mode: str = "spot",
    leverage: float = 1.0,
    max_leverage: float = 3.0,
    funding: FundingRates | None = None,
    tiers: Sequence[Tier] | None = None,
) -> BacktestResult:
    """Backtest ``strategy`` on ``candles`` (gap-filled, one timeframe, pairs in the
    order to visit them at each time step).

    stake: fixed quote amount per trade, or ``"N%"`` of equity (wallet + realised
    profit). fee: taker fee per side (market orders); ``maker_fee`` for limit fills and
    ROI exits (defaults to ``fee``). slippage: fraction against us on market fills.
    stoploss: overrides the strategy's. max_open_trades: -1 for unlimited.
    news: scored items by base asset (``"BTC"``); a published item becomes visible to
    the first candle whose close time is at or after ``published + news_delay_s``.
    trading_mode: ``"spot"`` (the default) or ``"futures"`` (isolated margin): the stake
    is the margin, the position ``stake * leverage``, shorts are traded, positions are
    liquidated at the bracket's liquidation price (exit reason ``liquidation``) and pay
    or receive funding every 8 h (`engine.backtest.futures`). leverage: the proposed
    leverage passed to the strategy's ``leverage`` callback; entries above
    ``max_leverage`` are refused. tiers: maintenance brackets (default Binance BTCUSDT).
    Raises `DataError` for unusable data and `StrategyError` for failing strategy code.
    """
    from engine.backtest.core import REASON_NAMES, simulate

    timings: dict[str, float] = {}
    strat = get_strategy(strategy) if isinstance(strategy, str) else strategy
    if params:
        strat.set_params(**params)
    if stoploss is not None:
        strat.stoploss = float(stoploss)
    tfs = {c.timeframe for c in candles.values()}
    if len(tfs) != 1:
        raise DataError(f"pairs have different timeframes: {sorted(tfs)}")
    timeframe = tfs.pop()
    stake_fixed, stake_pct = parse_stake(stake)
    if not wallet > 0:
        raise ValueError("wallet must be positive")
    for label, v in (("fee", fee), ("maker fee", maker_fee), ("slippage", slippage)):
        if v is not None and not 0.0 <= v < 0.1:
            raise ValueError(f"{label} {v:g}: must be a fraction in [0, 0.1) (0.001 = 0.1 %)")
    if trading_mode not in ("spot", "futures"):
        raise ValueError(f"trading mode {trading_mode!r}: use spot or futures")
    futures = trading_mode == "futures"
    if futures:
        from engine.backtest.futures import check_leverage

        check_leverage(float(leverage), float(max_leverage))
    elif leverage != 1.0:
        raise ValueError("leverage needs --trading-mode futures (spot trades are unlevered)")
    if max_open_trades == 0 or max_open_trades < -1:
        raise ValueError(f"max_open_trades {max_open_trades}: use -1 (unlimited) or >= 1")

    t = time.perf_counter()
    grid = make_grid(candles, timeframe)
    n_t, n_p = grid.valid.shape
    sig = [np.zeros((n_t, n_p), dtype=np.bool_) for _ in range(4)]
    scale = np.zeros((n_t, n_p))
    limit = np.full((n_t, n_p), np.nan)
    tick = np.full((n_t, n_p), -1, dtype=np.int64)
    exit_tags: list[Any] = []
    enter_tags: list[Any] = []
    delay_ms = round(news_delay_s * 1000)
    if delay_ms < 0:
        raise ValueError("the news delay cannot be negative (that would look ahead)")
    if news:  # sentiment.aggregate loads pydantic settings: only with news
        from sentiment.aggregate import base_symbol
    for i, s in enumerate(grid.pairs):
        c = candles[s]
        frame = analyze(
            strat,
            build_frame(c, news.get(base_symbol(s)) if news else None, delay_ms=delay_ms,
                        agg=agg),
            {"pair": s, "timeframe": timeframe},
        )
        sg = extract_signals(strat, frame)
        a, b = int(grid.offset[i]), int(grid.offset[i] + grid.length[i])
        for m, col in zip(
            sig, (sg.enter_long, sg.exit_long, sg.enter_short, sg.exit_short), strict=True
        ):
            m[a:b, i] = col
        scale[a:b, i] = sg.stake_scale
        limit[a:b, i] = sg.enter_limit
        tick[a:b, i] = monthly_tick_decimals(c)
        exit_tags.append(frame.get("exit_tag"))
        enter_tags.append(frame.get("enter_tag"))
    timings["indicators"] = time.perf_counter() - t

    orders: list[dict[str, Any]] = []
    timed_out = {"entry": 0, "exit": 0}
    refused_leverage = 0
    if futures and strat.uses_orders():
        raise ValueError(f"{strat.name} needs the order-level backtest, which has no futures "
                         "mode yet: run it with --trading-mode spot")
    if strat.uses_orders():
        from engine.backtest.orderlog import order_rows, trades_from_objects
        from engine.backtest.orders import OrderBacktest

        t = time.perf_counter()
        ob = OrderBacktest(strat, fee=float(fee), stake_fixed=stake_fixed, stake_pct=stake_pct,
                           wallet=float(wallet), max_open=int(max_open_trades),
                           tf_ms=grid.step_ms)
        closed = ob.run(grid.pairs, grid.t0_ms, grid.valid, grid.open, grid.high, grid.low,
                        grid.close, sig[0], sig[1], scale, tick, grid.offset, enter_tags,
                        exit_tags, (grid.offset + grid.length - 1).astype(np.int64), n_t - 1)
        timings["simulate"] = time.perf_counter() - t
        trades = trades_from_objects(closed, grid.pairs)
        orders = order_rows(closed)
        timed_out = dict(ob.timed_out)
    else:
        t = time.perf_counter()
        cap = int(sig[0].sum() + sig[2].sum()) + n_p + 1
        roi_items = sorted(strat.minimal_roi.items())
        roi_min = np.array([float(k) for k, _ in roi_items], dtype=np.float64)
        roi_val = np.array([float(v) for _, v in roi_items], dtype=np.float64)
        last_idx = (grid.offset + grid.length - 1).astype(np.int64)
        sl = float(strat.stoploss) if strat.stoploss is not None else np.nan
        tsp = strat.trailing_stop_positive
        kernel: Any = simulate
        extra: tuple[Any, ...] = ()
        if futures:
            from engine.backtest.core import simulate_futures
            from engine.backtest.futures import bracket_arrays, funding_on_grid, leverage_matrix

            brackets = bracket_arrays(tiers)
            lev, refused_leverage = leverage_matrix(
                strat, grid, sig[0], sig[2], enter_tags, float(leverage), float(max_leverage),
                tiers or BINANCE_BTCUSDT)
            kernel = simulate_futures
            extra = (lev, funding_on_grid(grid, funding or FundingRates()), *brackets)
        irec, frec, _ntr = kernel(
            grid.open,
            grid.high,
            grid.low,
            grid.valid,
            sig[0],
            sig[1],
            sig[2],
            sig[3],
            scale,
            limit,
            tick,
            last_idx,
            n_t - 1,
            sl,
            bool(strat.trailing_stop),
            np.nan if tsp is None else float(tsp),
            float(strat.trailing_stop_positive_offset),
            bool(strat.trailing_only_offset_is_reached),
            roi_min,
            roi_val,
            grid.step_ms / 60000.0,
            stake_fixed,
            stake_pct,
            float(wallet),
            int(max_open_trades),
            float(fee),
            float(fee if maker_fee is None else maker_fee),
            float(slippage),
            cap,
            *extra,
        )
        timings["simulate"] = time.perf_counter() - t

        trades = trades_from_records(grid, irec, frec, REASON_NAMES, exit_tags, enter_tags)
        if futures:
            from engine.backtest.futures import add_futures_columns

            add_futures_columns(trades, frec)
    config = {
        "stake": stake,
        "fee": fee,
        "maker_fee": maker_fee,
        "slippage": slippage,
        "stoploss": strat.stoploss,
        "max_open_trades": max_open_trades,
        "wallet": wallet,
        "news_delay_s": news_delay_s,
        "news_items": sum(len(v) for v in (news or {}).values()),
        "params": {k: getattr(strat, k) for k in strat.parameters()},
    }
    if futures:
        config.update(trading_mode="futures", leverage=leverage, max_leverage=max_leverage,
                      funding_rate=(funding or FundingRates()).constant,
                      funding_series=bool((funding or FundingRates()).times_ms),
                      refused_leverage=refused_leverage)
    result = BacktestResult(
        strategy=strat.name,
        timeframe=timeframe,
        pairs=grid.pairs,
        candles=int(grid.length.sum()),
        trades=trades,
        metrics={},
        timings=timings,
        wallet=float(wallet),
        config=config,
        data=candles,
        orders=orders,
    )
    if compute_metrics:
        from engine.backtest.metrics import compute_metrics as _cm

        t = time.perf_counter()
        result.metrics = _cm(result)
        result.metrics["timedout_entry_orders"] = timed_out["entry"]
        result.metrics["timedout_exit_orders"] = timed_out["exit"]
        from engine.backtest.breakdown import breakdown

        result.breakdown = breakdown(result)
        timings["metrics"] = time.perf_counter() - t
    return result
