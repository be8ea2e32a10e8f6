"""`sentitrade backtest` and `sentitrade hyperopt`.

Both load the strategy the way every mode does (`engine.strategy.params.load_strategy`:
defaults < ``<Strategy>.json`` beside it) and say where its parameters came from; both
take news (``--news FILE|db``) into the point-in-time sentiment columns, as the live
engine computes them. Inputs are checked first (`engine.backtest.inputs`): any problem is
one line and exit 2.

Imports stay light at module level: bot/cli.py imports this module at start-up, so numba
kernels, optuna and matplotlib load only when a command runs.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from engine.backtest.hyperopt_cli import hyperopt as hyperopt
from engine.backtest.inputs import (
    DataOpt,
    DelayOpt,
    FeeOpt,
    NewsOpt,
    PairsOpt,
    PairsRest,
    RangeOpt,
    RepairOpt,
    ScorerOpt,
    SlOpt,
    StratOpt,
    StratPathOpt,
    TfOpt,
    WalletOpt,
    check_amounts,
    check_costs,
    load_for_cli,
    news_for_cli,
    params_doc,
    params_line,
    settings_for,
    split_pairs,
    strategy_for_cli,
)
from engine.backtest.inputs import parse_timerange as parse_timerange
from engine.cli_support import ConfigOpt, JsonOpt, fail, print_json

StakeOpt = Annotated[
    str, typer.Option("--stake", help="stake per trade in quote currency, or N% of equity")
]
ModeOpt = Annotated[
    str | None, typer.Option("--trading-mode", help="spot or futures (isolated margin, shorts, "
                             "liquidation, funding); default: exchange.trading_mode")
]
LevOpt = Annotated[
    float, typer.Option("--leverage", help="futures: leverage proposed to the strategy's "
                        "leverage callback (default 1)")
]
MaxLevOpt = Annotated[
    float | None, typer.Option("--max-leverage", help="futures: entries above this are refused "
                               "(default: risk.max_leverage)")
]
FundOpt = Annotated[
    float, typer.Option("--funding-rate", help="futures: constant funding rate every 8 h "
                        "(longs pay positive rates)")
]
FundFileOpt = Annotated[
    Path | None, typer.Option("--funding-file", help="futures: timestamp,fundingRate CSV or "
                              "JSON (ccxt's funding rate history); overrides --funding-rate")
]
MotOpt = Annotated[
    int, typer.Option("--max-open-trades", help="open trades at once (-1: unlimited, or >= 1)")
]


def backtest(
    data: DataOpt,
    pairs: PairsOpt = None,
    more_pairs: PairsRest = None,
    timeframe: TfOpt = "5m",
    strategy: StratOpt = "ema_rsi_cross",
    strategy_path: StratPathOpt = None,
    stoploss: SlOpt = None,
    fee: FeeOpt = 0.001,
    maker_fee: Annotated[
        float | None, typer.Option("--maker-fee", help="fee for limit fills")
    ] = None,
    slippage: Annotated[
        float, typer.Option("--slippage", help="fraction against us on market fills")
    ] = 0.0,
    stake: StakeOpt = "1000",
    max_open_trades: MotOpt = -1,
    wallet: WalletOpt = 100_000.0,
    timerange: RangeOpt = None,
    news: NewsOpt = None,
    scorer: ScorerOpt = None,
    news_delay: DelayOpt = None,
    repair: RepairOpt = False,
    out: Annotated[
        Path | None, typer.Option("--out", help="write summary.json, trades.csv, report.png here")
    ] = None,
    trades_out: Annotated[
        Path | None, typer.Option("--trades-out", help="write trades CSV here")
    ] = None,
    orders_out: Annotated[
        Path | None,
        typer.Option("--orders-out", help="write every filled order as CSV here (pair, "
                     "trade_open_time, seq, side, is_entry, tag, amount, price, cost, "
                     "filled_time)"),
    ] = None,
    monte_carlo: Annotated[
        int,
        typer.Option(
            "--monte-carlo", help="Monte Carlo scenarios (trade shuffle [+ noise]); 0: off"
        ),
    ] = 0,
    noise: Annotated[
        float,
        typer.Option("--noise", help="Monte Carlo return noise, std as a fraction of the stake"),
    ] = 0.0,
    weights: Annotated[
        str | None, typer.Option("--weights", help="rebalance: target weights "
                                 "PAIR=W,... (default 1/N)")
    ] = None,
    rebalance_every: Annotated[
        str, typer.Option("--rebalance-every", help="rebalance: period (1h, 1d...; none)")
    ] = "1d",
    rebalance_threshold: Annotated[
        float | None, typer.Option("--rebalance-threshold",
                                   help="rebalance: weight drift that triggers (0.05)")
    ] = None,
    min_trade: Annotated[
        float, typer.Option("--min-trade", help="rebalance: smallest leg in quote")
    ] = 10.0,
    trading_mode: ModeOpt = None,
    leverage: LevOpt = 1.0,
    max_leverage: MaxLevOpt = None,
    funding_rate: FundOpt = 0.0,
    funding_file: FundFileOpt = None,
    config: ConfigOpt = None,
    json_out: JsonOpt = False,
    strategies: Annotated[
        str | None,
        typer.Option("--strategies", help="a,b,c: one backtest per strategy, side by side, "
                     "over a process pool (engine/backtest/parallel.py)"),
    ] = None,
    each_pair: Annotated[
        bool, typer.Option("--each-pair", help="with --strategies: one run per pair too")
    ] = False,
    jobs: Annotated[
        int | None, typer.Option("--jobs", min=1, help="processes for --strategies "
                                 "(default: every core)")
    ] = None,
) -> None:
    """Backtest a strategy on candle files (Freqtrade fill rules; see engine/backtest/core.py)."""
    from engine.errors import SentitradeError

    t0 = time.perf_counter()
    check_costs(fee, maker_fee, slippage, max_open_trades)
    stake_v = _stake(stake)
    check_amounts(wallet, stake_v, noise=noise, monte_carlo=monte_carlo)
    settings = settings_for(config)
    if strategies is not None or each_pair:
        from engine.backtest.inputs import parse_timerange
        from engine.backtest.parallel import Common, cli

        try:
            start, end = parse_timerange(timerange)
        except ValueError as e:
            fail(str(e))
        names = [s.strip() for s in (strategies or strategy).split(",") if s.strip()]
        opts = {"stake": stake_v, "fee": fee, "maker_fee": maker_fee, "slippage": slippage,
                "max_open_trades": max_open_trades, "wallet": wallet}
        path = strategy_path or (settings.engine.strategy_path if settings else None)
        cli(Common(data, timeframe, start, end, path, stoploss, opts), names,
            split_pairs(pairs, more_pairs), each_pair=each_pair, jobs=jobs, json_out=json_out)
        return
    notes: list[str] = []
    candles = load_for_cli(data, split_pairs(pairs, more_pairs), timeframe, timerange,
                           repair=repair, notes=notes)
    t_load = time.perf_counter() - t0
    if strategy == "rebalance":  # a basket, not a per-pair strategy
        from engine.backtest.rebalance_report import rebalance_cli

        rebalance_cli(candles, weights=weights, every=rebalance_every,
                      threshold=rebalance_threshold, min_trade=min_trade, wallet=wallet,
                      fee=fee, out=out, json_out=json_out)
        return
    loaded = strategy_for_cli(strategy, strategy_path, settings, stoploss)
    t1 = time.perf_counter()
    ni = news_for_cli(news, scorer, news_delay, settings, show_progress=not json_out)
    t_news = time.perf_counter() - t1
    from engine.backtest.runner import run_backtest
    from engine.margin.funding import FundingRates, load_funding_file

    try:
        funding = (load_funding_file(funding_file) if funding_file is not None
                   else FundingRates(float(funding_rate)))
        res = run_backtest(
            candles,
            loaded.strategy,
            stake=stake_v,
            fee=fee,
            maker_fee=maker_fee,
            slippage=slippage,
            max_open_trades=max_open_trades,
            wallet=wallet,
            news=ni.by_base if ni else None,
            news_delay_s=ni.delay_s if ni else 0.0,
            agg=ni.agg if ni else None,
            trading_mode=trading_mode or (settings.exchange.trading_mode if settings
                                          else "spot"),
            leverage=leverage,
            max_leverage=(max_leverage if max_leverage is not None
                          else settings.risk.max_leverage if settings else 3.0),
            funding=funding,
        )
    except (SentitradeError, ValueError) as e:
        fail(str(e))
    res.timings = {"load": t_load, **({"news": t_news} if ni else {}), **res.timings}
    t1 = time.perf_counter()
    if out is not None or trades_out is not None or orders_out is not None:
        from engine.backtest.orderlog import write_orders_csv
        from engine.backtest.report import write_report, write_trades_csv

        try:
            if out is not None:
                write_report(res, out)
            if trades_out is not None:
                write_trades_csv(res, trades_out)
            if orders_out is not None:
                write_orders_csv(res, orders_out)
        except OSError as e:
            fail(f"cannot write report: {e}")
    res.timings["report"] = time.perf_counter() - t1
    mc = None
    if monte_carlo > 0:
        from engine.backtest.montecarlo import monte_carlo as run_mc

        try:
            mc = run_mc(res, scenarios=monte_carlo, noise=noise)
        except ValueError as e:
            fail(f"monte carlo: {e}")
    res.timings["total"] = time.perf_counter() - t0
    if json_out:
        doc = res.to_json()
        doc["strategy_params"] = params_doc(loaded)
        doc["news"] = ni.summary if ni else None
        doc["repairs"] = notes
        if mc is not None:
            doc["monte_carlo"] = mc
        _print_json_doc(doc)
        return
    from rich.console import Console

    c = Console(highlight=False)
    for line in [*notes, params_line(loaded), *([ni.line] if ni else [])]:
        c.print(line, soft_wrap=True)
    _print_table(res, out)
    if mc is not None:
        c.print(
            f"Monte Carlo ({mc['scenarios']} scenarios, noise {mc['noise']}): "
            "percentiles 5/25/50/75/95"
        )
        for k in ("return", "max_drawdown", "sharpe", "calmar"):
            c.print(f"  {k:13s} " + "  ".join(f"{v:+.4f}" for v in mc[k].values()))


_ROWS = "\x00rows\x00"  # stands for the trade list while the rest is encoded
_KEY_SEP = ",\n      "  # between two keys of a trade row, at the indent of print_json


def _print_json_doc(doc: dict[str, Any]) -> None:
    """`print_json(doc)`, byte for byte, in a fraction of the time: ``json`` indents in
    pure Python (a third of a second for 10,000 trades), so the trade list, non-empty
    rows of plain scalars, goes through the C encoder with the indented layout as its
    separators. Anything else takes `print_json` itself."""
    import json

    from engine.cli_support import dumps

    rows = doc.get("trades")
    scalars = (str, int, float, type(None))  # bool is an int
    if not rows or not isinstance(rows, list) or not all(
        isinstance(r, dict) and r and all(type(v) in scalars or isinstance(v, bool)
                                          for v in r.values())
        for r in rows
    ):
        print_json(doc)
        return
    body = json.dumps(rows, separators=(_KEY_SEP, ": "), allow_nan=False)
    # values are scalars and strings hold no raw newline: "}<sep>{" only joins two rows
    body = body.replace("}" + _KEY_SEP + "{", "\n    },\n    {\n      ")
    body = "[\n    {\n      " + body[2:-2] + "\n    }\n  ]"
    text = dumps({**doc, "trades": _ROWS}).replace(json.dumps(_ROWS), body, 1)
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def _stake(s: str) -> float | str:
    s = s.strip()
    if s.endswith("%"):
        return s
    try:
        return float(s)
    except ValueError:
        fail(f"--stake {s!r}: give an amount (1000) or a percentage of equity (10%)")


def _print_table(res: Any, out: Path | None) -> None:
    from rich.console import Console
    from rich.table import Table

    from engine.backtest.metrics import sharpe_text

    m = res.metrics
    t = Table(
        title=f"{res.strategy} · {res.timeframe} · {res.candles:,} candles", show_header=False
    )
    t.add_column("metric", style="bold")
    t.add_column("value", justify="right")
    rows = [
        ("trades", f"{m['total_trades']} ({m['trades_per_day']:.1f}/day)"),
        ("profit", f"{m['profit_total_abs']:.8g} ({100 * m['profit_total']:+.2f} %)"),
        ("CAGR", f"{100 * m['cagr']:.2f} %"),
        ("win rate", f"{100 * m['winrate']:.1f} %  W{m['wins']}/L{m['losses']}/D{m['draws']}"),
        ("profit factor", f"{m['profit_factor']:.3f}"),
        ("expectancy (ratio)", f"{m['expectancy']:.6g} ({m['expectancy_ratio']:.3f})"),
        ("Sharpe", sharpe_text(m)),
        (
            "Sortino / Calmar (per trade)",
            f"{m['sortino']:.2f} / {m['calmar']:.2f}",
        ),
        (
            "Sortino / Calmar (daily)",
            f"{m['sortino_daily']:.2f} / {m['calmar_daily']:.2f}",
        ),
        ("SQN", f"{m['sqn']:.3f}"),
        ("max drawdown", f"{m['max_drawdown_abs']:.8g} ({100 * m['max_drawdown_account']:.2f} %)"),
        ("drawdown period", f"{m['drawdown_start']} → {m['drawdown_end']}"),
        ("avg holding", str(m["holding_avg"])),
        ("best / worst pair", f"{m['best_pair']} / {m['worst_pair']}"),
        ("market change", f"{100 * m['market_change']:+.2f} %"),
        ("timings s", " ".join(f"{k} {v:.3f}" for k, v in res.timings.items())),
    ]
    for k, v in rows:
        t.add_row(k, v)
    c = Console()
    c.print(t)
    if res.breakdown:
        from engine.backtest.breakdown import print_breakdown

        print_breakdown(res.breakdown, c)
    if out is not None:
        c.print(f"report written to {out}/ (summary.json, trades.csv, report.png)")


