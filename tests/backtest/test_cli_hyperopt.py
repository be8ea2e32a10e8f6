"""`sentitrade hyperopt`: the best set lands beside the strategy, `backtest` loads it and
says so; --min-trades and the in-sample / out-of-sample split."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.backtest.clidata import CROSS, invoke, json_of
from tests.backtest.conftest import TESTDATA, need

COMMON = ["--pairs", "ETH/BTC", "LTC/BTC", "--stake", "0.05", "--wallet", "1", "--seed", "3"]


@pytest.fixture
def strats(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    d = tmp_path / "strats"
    d.mkdir()
    (d / "my_cross.py").write_text(CROSS)
    return d


def test_best_parameters_written_beside_the_strategy_then_loaded_and_reported(
        strats: Path) -> None:
    data = str(need(TESTDATA))
    res = json_of(invoke("hyperopt", "--data", data, *COMMON, "--strategy", "MyCross",
                         "--strategy-path", str(strats), "--epochs", "12", "--batch", "6",
                         "--min-trades", "3", "--oos-fraction", "0.3", "--json"))
    assert res["evaluator"] == "frames" and res["trials"] == 12
    path = strats / "MyCross.json"
    assert res["params_file"] == str(path)
    doc = json.loads(path.read_text())
    best = res["best"]["params"]
    assert doc["params"]["buy"] == {"fast": best["fast"], "slow": best["slow"]}
    meta = doc["hyperopt"]
    assert meta["min_trades"] == 3 and meta["oos_fraction"] == 0.3
    ins, oos = res["in_sample"], res["out_of_sample"]
    assert meta["in_sample"] == ins and meta["out_of_sample"] == oos
    assert ins["end"] < oos["start"]  # chosen on the first 70 %, reported on the rest
    assert ins["total_trades"] >= 3 == res["min_trades"]
    # the in-sample backtest of the best set is the set's own evaluation
    assert ins["total_trades"] == res["best"]["metrics"]["total_trades"]

    bt = json_of(invoke("backtest", "--data", data, "--pairs", "ETH/BTC,LTC/BTC",
                        "--stake", "0.05", "--wallet", "1", "--strategy", "MyCross",
                        "--strategy-path", str(strats), "--json"))
    p = bt["strategy_params"]
    assert p["params_file_used"] is True and p["params_file"] == str(path)
    assert p["params"]["fast"] == {"value": best["fast"], "source": str(path)}
    assert p["params"]["stoploss"]["source"] == "default"
    assert bt["config"]["params"] == {"fast": best["fast"], "slow": best["slow"]}
    text = invoke("backtest", "--data", data, "--pairs", "ETH/BTC", "--stake", "0.05",
                  "--wallet", "1", "--strategy", "MyCross", "--strategy-path", str(strats))
    assert text.exit_code == 0, text.output
    assert f"MyCross: parameters from {path}" in text.output.replace("\n", "")


def test_no_set_reaching_min_trades_writes_nothing(strats: Path) -> None:
    res = invoke("hyperopt", "--data", str(need(TESTDATA)), *COMMON, "--strategy", "MyCross",
                 "--strategy-path", str(strats), "--epochs", "4", "--batch", "4",
                 "--min-trades", "100000", "--json")
    assert res.exit_code == 1, res.output
    doc = json.loads(res.stdout)
    assert doc["params_file"] is None and doc["best"]["qualified"] is False
    assert doc["best"]["loss"] == 1e9
    assert not (strats / "MyCross.json").exists()
    text = invoke("hyperopt", "--data", str(need(TESTDATA)), *COMMON, "--strategy", "MyCross",
                  "--strategy-path", str(strats), "--epochs", "2", "--batch", "2",
                  "--min-trades", "100000")
    assert text.exit_code == 1 and "no parameter set reached --min-trades 100000" in text.output


def test_builtin_params_go_to_var_strategies_and_stoploss_flag_is_kept(strats: Path) -> None:
    res = json_of(invoke("hyperopt", "--data", str(need(TESTDATA)), *COMMON, "--strategy",
                         "ema_rsi_cross", "--stoploss", "-0.07", "--epochs", "4", "--batch",
                         "4", "--min-trades", "0", "--oos-fraction", "0", "--json"))
    assert res["evaluator"] == "ema_rsi_kernel" and "out_of_sample" not in res
    doc = json.loads(Path("var/strategies/ema_rsi_cross.json").read_text())
    assert doc["params"]["stoploss"] == {"stoploss": -0.07}
    assert doc["hyperopt"]["out_of_sample"] is None


@pytest.mark.parametrize("args,needle", [
    (["--oos-fraction", "1"], "--oos-fraction 1: must be in [0, 1)"),
    (["--min-trades", "-1"], "--min-trades must be >= 0"),
    (["--fee", "-0.5"], "--fee -0.5"),
])
def test_hyperopt_bad_arguments(strats: Path, args: list[str], needle: str) -> None:
    res = invoke("hyperopt", "--data", str(need(TESTDATA)), *args)
    assert res.exit_code == 2 and needle in res.output and "Traceback" not in res.output
