"""`sentitrade backtest` and `sentitrade hyperopt`.

Imports stay light at module level: bot/cli.py imports this module at start-up, so numba
kernels, optuna and matplotlib load only when a command runs.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import typer

from engine.cli_support import JsonOpt, fail, print_json, progress

DataOpt = Annotated[
    Path,
    typer.Option(
        "--data", help="folder of candle files (Freqtrade feather or CSV layout) or one file"
    ),
]
PairsOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--pairs", help="pairs, e.g. BTC/USDT (repeat or comma-separate); default: all in --data"
    ),
]
TfOpt = Annotated[str, typer.Option("--timeframe", help="candle timeframe, e.g. 5m")]
StratOpt = Annotated[str, typer.Option("--strategy", help="built-in strategy name")]
SlOpt = Annotated[
    float | None,
    typer.Option("--stoploss", help="stoploss ratio, e.g. -0.10 (default: the strategy's)"),
]
FeeOpt = Annotated[
    float, typer.Option("--fee", help="fee per side (taker; also maker unless --maker-fee)")
]
StakeOpt = Annotated[
    str, typer.Option("--stake", help="stake per trade in quote currency, or N% of equity")
]
MotOpt = Annotated[
    int, typer.Option("--max-open-trades", help="open trades at once (-1: unlimited)")
]
WalletOpt = Annotated[float, typer.Option("--wallet", help="starting balance")]
RangeOpt = Annotated[
    str | None, typer.Option("--timerange", help="YYYYMMDD-YYYYMMDD (either side may be empty)")
]


def parse_timerange(tr: str | None) -> tuple[int | None, int | None]:
    """Freqtrade-style ``20250101-20250601`` -> (start_ms, end_ms), UTC."""
    if not tr:
        return None, None
    from datetime import UTC, datetime

    if "-" not in tr:
        raise ValueError(f"timerange {tr!r}: use YYYYMMDD-YYYYMMDD")
    a, b = tr.split("-", 1)

    def ms(s: str) -> int | None:
        if not s:
            return None
        try:
            return int(datetime.strptime(s, "%Y%m%d").replace(tzinfo=UTC).timestamp() * 1000)
        except ValueError:
            raise ValueError(f"timerange {tr!r}: dates must be YYYYMMDD") from None

    return ms(a), ms(b)


def load_for_cli(
    data: Path, pairs: list[str] | None, timeframe: str, timerange: str | None
) -> dict[str, Any]:
    """Load, gap-fill and cut candles; any problem becomes one line and exit 2."""
    from engine.data.candles import load_candles
    from engine.errors import DataError

    names = [p.strip() for item in (pairs or []) for p in item.split(",") if p.strip()] or None
    try:
        start, end = parse_timerange(timerange)
        candles = load_candles(data, names, timeframe)
    except (DataError, ValueError) as e:
        fail(str(e))
    if start is not None or end is not None:
        candles = {s: c.between(start, end) for s, c in candles.items()}
        empty = [s for s, c in candles.items() if len(c) == 0]
        if empty:
            fail(f"no candles in timerange {timerange} for {', '.join(empty)}")
    return candles


def backtest(
    data: DataOpt,
    pairs: PairsOpt = None,
    timeframe: TfOpt = "5m",
    strategy: StratOpt = "ema_rsi_cross",
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
    out: Annotated[
        Path | None, typer.Option("--out", help="write summary.json, trades.csv, report.png here")
    ] = None,
    trades_out: Annotated[
        Path | None, typer.Option("--trades-out", help="write trades CSV here")
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
    json_out: JsonOpt = False,
) -> None:
    """Backtest a strategy on candle files (Freqtrade fill rules; see engine/backtest/core.py)."""
    from engine.errors import SentitradeError

    t0 = time.perf_counter()
    candles = load_for_cli(data, pairs, timeframe, timerange)
    t_load = time.perf_counter() - t0
    from engine.backtest.runner import run_backtest

    try:
        res = run_backtest(
            candles,
            strategy,
            stake=_stake(stake),
            fee=fee,
            maker_fee=maker_fee,
            slippage=slippage,
            stoploss=stoploss,
            max_open_trades=max_open_trades,
            wallet=wallet,
        )
    except (SentitradeError, ValueError) as e:
        fail(str(e))
    res.timings = {"load": t_load, **res.timings}
    t1 = time.perf_counter()
    if out is not None or trades_out is not None:
        from engine.backtest.report import write_report, write_trades_csv

        try:
            if out is not None:
                write_report(res, out)
            if trades_out is not None:
                write_trades_csv(res, trades_out)
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
        if mc is not None:
            doc["monte_carlo"] = mc
        print_json(doc)
        return
    _print_table(res, out)
    if mc is not None:
        from rich.console import Console

        c = Console()
        c.print(
            f"Monte Carlo ({mc['scenarios']} scenarios, noise {mc['noise']}): "
            "percentiles 5/25/50/75/95"
        )
        for k in ("return", "max_drawdown", "sharpe", "calmar"):
            c.print(f"  {k:13s} " + "  ".join(f"{v:+.4f}" for v in mc[k].values()))


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
        (
            "Sharpe / Sortino / Calmar",
            f"{m['sharpe']:.2f} / {m['sortino']:.2f} / {m['calmar']:.2f}",
        ),
        (
            "daily Sharpe / Sortino / Calmar",
            f"{m['sharpe_daily']:.2f} / {m['sortino_daily']:.2f} / {m['calmar_daily']:.2f}",
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
    if out is not None:
        c.print(f"report written to {out}/ (summary.json, trades.csv, report.png)")


LOSSES = ("sharpe", "sortino", "calmar", "maxdrawdown", "profitdrawdown", "multi")
SAMPLERS = ("tpe", "gp", "cmaes", "nsga2", "qmc")


def hyperopt(
    data: DataOpt,
    pairs: PairsOpt = None,
    timeframe: TfOpt = "5m",
    strategy: StratOpt = "ema_rsi_cross",
    stoploss: SlOpt = None,
    fee: FeeOpt = 0.001,
    stake: Annotated[float, typer.Option("--stake", help="stake per trade")] = 1000.0,
    wallet: WalletOpt = 100_000.0,
    timerange: RangeOpt = None,
    epochs: Annotated[
        int, typer.Option("--epochs", "--trials", help="parameter sets to try")
    ] = 100,
    sampler: Annotated[str, typer.Option("--sampler", help="tpe|gp|cmaes|nsga2|qmc")] = "tpe",
    loss: Annotated[
        str, typer.Option("--loss", help="sharpe|sortino|calmar|maxdrawdown|profitdrawdown|multi")
    ] = "sharpe",
    jobs: Annotated[
        int, typer.Option("--jobs", help="threads evaluating batches (0: all cores)")
    ] = 0,
    batch: Annotated[
        int, typer.Option("--batch", help="parameter sets evaluated per numba batch")
    ] = 64,
    storage: Annotated[
        str | None,
        typer.Option("--storage", help="Optuna RDB URL, e.g. postgresql://... (shared study)"),
    ] = None,
    study: Annotated[
        str | None, typer.Option("--study", help="study name (with --storage: resume/join it)")
    ] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="sampler seed")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Optimise a strategy's parameters with Optuna; trials are evaluated in numba batches."""
    if sampler not in SAMPLERS:
        fail(f"--sampler {sampler!r}: one of {', '.join(SAMPLERS)}")
    if loss not in LOSSES:
        fail(f"--loss {loss!r}: one of {', '.join(LOSSES)}")
    if epochs < 1:
        fail("--epochs must be at least 1")
    candles = load_for_cli(data, pairs, timeframe, timerange)
    from engine.backtest.hyperopt import HyperoptError, run_hyperopt

    try:
        with progress(not json_out) as bar:
            task = bar.add_task("hyperopt", total=epochs) if bar is not None else None

            def tick(done: int) -> None:
                if bar is not None and task is not None:
                    bar.update(task, completed=done)

            res = run_hyperopt(
                candles,
                strategy,
                epochs=epochs,
                sampler=sampler,
                loss=loss,
                jobs=jobs,
                batch=batch,
                storage=storage,
                study_name=study,
                seed=seed,
                stake=stake,
                fee=fee,
                stoploss=stoploss,
                wallet=wallet,
                on_progress=tick,
            )
    except HyperoptError as e:
        fail(str(e))
    if json_out:
        print_json(res)
        return
    from rich.console import Console

    c = Console()
    c.print(
        f"[bold]{res['trials']} trials[/] in {res['seconds']:.1f} s "
        f"({res['evaluations_per_s']:.0f} sets/s), loss {loss}"
    )
    c.print(f"best loss {res['best']['loss']:.6g}: {res['best']['params']}")
    c.print("best metrics: " + ", ".join(f"{k} {v:.4g}" for k, v in res["best"]["metrics"].items()))
