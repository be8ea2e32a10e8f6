"""`sentitrade worker hyperopt --storage URL --study NAME`: join a running hyperopt from
another machine.

`sentitrade hyperopt --storage postgresql://... --study NAME` stores what it searches
(data folder, pairs, timeframe, strategy, costs, loss, sampler...) in the study itself;
a worker reads it from there, loads the same candles from its own copy of the data, and
adds its trials to the same Optuna study until it has run `--epochs` of them. The study
decides what each worker tries next (Optuna's samplers are made for this), so workers on
several machines share one search. Workers never write `<Strategy>.json`: the run that
started the study does, as it always has.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from engine.cli_support import JsonOpt, fail, print_json

worker_app = typer.Typer(help="Processes that join work started elsewhere.",
                         no_args_is_help=True)


@worker_app.command("hyperopt")
def worker_hyperopt(
    storage: Annotated[str, typer.Option("--storage", help="the study's Optuna RDB URL")],
    study: Annotated[str, typer.Option("--study", help="the study's name")],
    epochs: Annotated[int, typer.Option("--epochs", "-e", help="trials this worker runs")] = 100,
    jobs: Annotated[int, typer.Option("--jobs", "-j", help="threads (0: all cores)")] = 0,
    data: Annotated[Path | None, typer.Option(
        "--data", help="this machine's copy of the data (default: the study's path)")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Run `--epochs` trials of a study started with `sentitrade hyperopt --storage`."""
    import optuna

    from engine.backtest.hyperopt import HyperoptError, run_hyperopt
    from engine.backtest.inputs import load_for_cli, news_for_cli, settings_for, strategy_for_cli

    if epochs < 1:
        fail("--epochs must be at least 1")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        st = optuna.load_study(study_name=study, storage=storage)
    except Exception as e:  # unknown study, unreachable or wrong database
        fail(f"cannot join study {study!r} at the storage given: {type(e).__name__}: "
             f"{str(e).splitlines()[0][:200]}")
    cfg: dict[str, Any] | None = st.user_attrs.get("sentitrade")
    if not cfg:
        fail(f"study {study!r} was not started by `sentitrade hyperopt --storage ... --study "
             f"{study}`: nothing says what to search")
    settings = settings_for(None)
    candles = load_for_cli(data or Path(cfg["data"]), cfg["pairs"] or None, cfg["timeframe"],
                           cfg["timerange"], repair=bool(cfg["repair"]))
    loaded = strategy_for_cli(cfg["strategy"],
                              Path(cfg["strategy_path"]) if cfg["strategy_path"] else None,
                              settings, cfg["stoploss"])
    ni = news_for_cli(cfg["news"], cfg["scorer"], cfg["news_delay"], settings,
                      show_progress=False)
    before = len(st.trials)
    try:
        res = run_hyperopt(
            candles, loaded.strategy, epochs=epochs, sampler=cfg["sampler"], loss=cfg["loss"],
            jobs=jobs, batch=int(cfg["batch"]), storage=storage, study_name=study,
            stake=float(cfg["stake"]), fee=float(cfg["fee"]), wallet=float(cfg["wallet"]),
            news=ni.by_base if ni else None, news_delay_s=ni.delay_s if ni else 0.0,
            agg=ni.agg if ni else None, min_trades=int(cfg["min_trades"]),
            oos_fraction=float(cfg["oos_fraction"]))
    except HyperoptError as e:
        fail(str(e))
    total = len(optuna.load_study(study_name=study, storage=storage).trials)
    out = {"study": study, "trials_run": res["trials"], "trials_in_study": total,
           "trials_before": before, "seconds": round(res["seconds"], 3),
           "best_loss": res["best"]["loss"], "best_params": res["best"]["params"]}
    if json_out:
        print_json(out)
    else:
        typer.echo(f"worker: {res['trials']} trials of study {study} in {res['seconds']:.1f} s; "
                   f"the study has {total} trials, best loss {res['best']['loss']:.6g}")


def register(t: typer.Typer) -> None:
    t.add_typer(worker_app, name="worker")
