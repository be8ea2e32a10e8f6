"""`sentitrade hyperopt`: search a strategy's parameters, keep the best beside it.

The best set is chosen on the in-sample part of the data (``--oos-fraction`` keeps the
end out), must reach ``--min-trades``, and is written to the strategy's
``<Strategy>.json`` (Freqtrade's convention, `engine.strategy.params.write_params`) with
its in- and out-of-sample figures, so `backtest`, `run` and the chat load it and say so.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

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
from engine.cli_support import ConfigOpt, JsonOpt, fail, print_json, progress

LOSSES = ("sharpe", "sortino", "calmar", "maxdrawdown", "profitdrawdown", "multi")
SAMPLERS = ("tpe", "gp", "cmaes", "nsga2", "qmc")
_EXTRA = ("stoploss", "trailing_stop", "trailing_stop_positive",
          "trailing_stop_positive_offset", "trailing_only_offset_is_reached")


def hyperopt(
    data: DataOpt,
    pairs: PairsOpt = None,
    more_pairs: PairsRest = None,
    timeframe: TfOpt = "5m",
    strategy: StratOpt = "ema_rsi_cross",
    strategy_path: StratPathOpt = None,
    stoploss: SlOpt = None,
    fee: FeeOpt = 0.001,
    stake: Annotated[float, typer.Option("--stake", help="stake per trade")] = 1000.0,
    wallet: WalletOpt = 100_000.0,
    timerange: RangeOpt = None,
    epochs: Annotated[
        int, typer.Option("--epochs", "--trials", "-e", help="parameter sets to try")
    ] = 100,
    sampler: Annotated[str, typer.Option("--sampler", help="tpe|gp|cmaes|nsga2|qmc")] = "tpe",
    loss: Annotated[
        str, typer.Option("--loss", help="sharpe|sortino|calmar|maxdrawdown|profitdrawdown|multi")
    ] = "sharpe",
    min_trades: Annotated[
        int, typer.Option("--min-trades", help="sets with fewer trades (in-sample) get the "
                          "worst loss")
    ] = 10,
    oos_fraction: Annotated[
        float, typer.Option("--oos-fraction", help="last fraction of the time span kept out "
                            "of the search and reported as out-of-sample (0: none)")
    ] = 0.3,
    jobs: Annotated[
        int, typer.Option("--jobs", "-j", help="threads evaluating batches (0: all cores)")
    ] = 0,
    batch: Annotated[
        int, typer.Option("--batch", help="parameter sets evaluated per batch")
    ] = 64,
    storage: Annotated[
        str | None,
        typer.Option("--storage", help="Optuna RDB URL, e.g. postgresql://... (shared study)"),
    ] = None,
    study: Annotated[
        str | None, typer.Option("--study", help="study name (with --storage: resume/join it)")
    ] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="sampler seed")] = None,
    news: NewsOpt = None,
    scorer: ScorerOpt = None,
    news_delay: DelayOpt = None,
    repair: RepairOpt = False,
    config: ConfigOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Optimise a strategy's parameters with Optuna (batched evaluation) and write the best
    set beside the strategy as <Strategy>.json."""
    if sampler not in SAMPLERS:
        fail(f"--sampler {sampler!r}: one of {', '.join(SAMPLERS)}")
    if loss not in LOSSES:
        fail(f"--loss {loss!r}: one of {', '.join(LOSSES)}")
    if epochs < 1:
        fail("--epochs must be at least 1")
    if min_trades < 0:
        fail("--min-trades must be >= 0")
    if not 0.0 <= oos_fraction < 1.0:
        fail(f"--oos-fraction {oos_fraction:g}: must be in [0, 1), e.g. 0.3")
    if batch < 1:
        fail("--batch must be at least 1")
    check_costs(fee)
    check_amounts(wallet, stake)
    settings = settings_for(config)
    names = split_pairs(pairs, more_pairs)
    repairs: list[str] = []
    candles = load_for_cli(data, names, timeframe, timerange, repair=repair, notes=repairs)
    loaded = strategy_for_cli(strategy, strategy_path, settings, stoploss)
    ni = news_for_cli(news, scorer, news_delay, settings, show_progress=not json_out)
    from engine.backtest.hyperopt import HyperoptError, run_hyperopt

    try:
        with progress(not json_out) as bar:
            task = bar.add_task("hyperopt", total=epochs) if bar is not None else None

            def tick(done: int) -> None:
                if bar is not None and task is not None:
                    bar.update(task, completed=done)

            res = run_hyperopt(
                candles, loaded.strategy, epochs=epochs, sampler=sampler, loss=loss,
                jobs=jobs, batch=batch, storage=storage, study_name=study, seed=seed,
                stake=stake, fee=fee, wallet=wallet, on_progress=tick,
                news=ni.by_base if ni else None, news_delay_s=ni.delay_s if ni else 0.0,
                agg=ni.agg if ni else None, min_trades=min_trades, oos_fraction=oos_fraction,
                study_config=None if storage is None else {
                    "data": str(data), "pairs": names, "timeframe": timeframe,
                    "strategy": strategy,
                    "strategy_path": None if strategy_path is None else str(strategy_path),
                    "stoploss": stoploss, "fee": fee, "stake": stake, "wallet": wallet,
                    "timerange": timerange, "loss": loss, "sampler": sampler,
                    "min_trades": min_trades, "oos_fraction": oos_fraction, "batch": batch,
                    "news": news, "scorer": scorer, "news_delay": news_delay,
                    "repair": repair},
            )
    except HyperoptError as e:
        fail(str(e))
    res["strategy_params"] = params_doc(loaded)
    res["repairs"] = repairs  # what --repair changed and the gaps filled, as backtest says
    res["notes"] = [*repairs, *res.get("notes", [])]
    res["news"] = ni.summary if ni else None
    meta = {"hyperopt": {
        "loss": loss, "best_loss": res["best"]["loss"], "epochs": res["trials"],
        "min_trades": min_trades, "oos_fraction": oos_fraction, "pairs": list(candles),
        "timeframe": timeframe, "timerange": timerange,
        "news": res["news"]["source"] if ni else None,
        "scorer": res["news"]["scorer"] if ni else None,
        "news_delay_s": ni.delay_s if ni else None,
        "in_sample": res.get("in_sample", res["best"]["metrics"]),
        "out_of_sample": res.get("out_of_sample"),
    }}
    res["params_file"] = None
    if res["best"]["qualified"]:
        from engine.strategy.params import write_params

        try:
            res["params_file"] = str(write_params(loaded.params_file, loaded.strategy,
                                                  _values(loaded, res), meta))
        except OSError as e:
            fail(f"cannot write {loaded.params_file}: {e}")
    if json_out:
        print_json(res)
    else:
        _print(res, loaded, ni.line if ni else None, loss)
    if not res["best"]["qualified"]:
        raise typer.Exit(1)


def _values(loaded: Any, res: dict[str, Any]) -> dict[str, Any]:
    """Every declared parameter (the best set over the loaded values), plus stoploss and
    trailing settings that did not come from the class: the file is the whole story."""
    s = loaded.strategy
    values = {k: getattr(s, k) for k in s.parameters()}
    values.update(res["best"]["params"])
    for k in _EXTRA:
        if k in res["best"]["params"] or loaded.sources.get(k, "default") != "default":
            values[k] = res["best"]["params"].get(k, getattr(s, k))
    return values


def _fmt(m: dict[str, Any] | None) -> str:
    if not m:
        return "n/a"
    span = f"{m['start']} → {m['end']}: " if m.get("start") else ""
    return (f"{span}{m['total_trades']:.0f} trades, profit "
            f"{100 * m['profit_total']:+.2f} %, max drawdown "
            f"{100 * m['max_drawdown_account']:.2f} %, sharpe {m['sharpe']:.2f}")


def _print(res: dict[str, Any], loaded: Any, news_line: str | None, loss: str) -> None:
    from rich.console import Console

    c = Console(highlight=False)
    c.print(params_line(loaded), soft_wrap=True)
    if news_line:
        c.print(news_line, soft_wrap=True)
    for note in res.get("notes", []):
        c.print(note, soft_wrap=True)
    c.print(
        f"[bold]{res['trials']} trials[/] in {res['seconds']:.1f} s "
        f"({res['evaluations_per_s']:.0f} sets/s, {res['evaluator']}), loss {loss}"
    )
    best = res["best"]
    c.print(f"best loss {best['loss']:.6g}: {best['params']}", soft_wrap=True)
    if "in_sample" in res:
        c.print(f"in-sample      {_fmt(res['in_sample'])}", soft_wrap=True)
        c.print(f"out-of-sample  {_fmt(res['out_of_sample'])}", soft_wrap=True)
    else:
        c.print("best metrics: " + ", ".join(f"{k} {v:.4g}" for k, v in best["metrics"].items()),
                soft_wrap=True)
    if res["params_file"]:
        c.print(f"best parameters written to {res['params_file']}", soft_wrap=True)
    else:
        c.print(f"no parameter set reached --min-trades {res['min_trades']}: nothing written "
                "(lower it, widen --timerange, or add pairs)", soft_wrap=True)
