"""A trader's whole path with a strategy written from docs/strategies.md alone: copy the
example, hyperopt it (the best set lands in `MyStrategy.json` beside the file), backtest
it with those parameters, and run it in replay with `sentitrade run`, which loads them
and says so."""

from __future__ import annotations

import gzip
import json
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from engine.data.candles import DEMO_DATA_DIR
from tests.backtest.clidata import invoke, json_of

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "strategies.md"


def _sample(folder: Path, rows: int) -> Path:
    """The first `rows` candles of the embedded BTC sample (a short replay)."""
    folder.mkdir()
    with gzip.open(DEMO_DATA_DIR / "BTC_USDT-5m.csv.gz", "rt") as fh:
        lines = fh.read().splitlines()[: rows + 1]
    with gzip.open(folder / "BTC_USDT-5m.csv.gz", "wt") as out:
        out.write("\n".join(lines) + "\n")
    return folder


@pytest.mark.slow
def test_doc_strategy_hyperopts_backtests_and_runs_with_its_parameters(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    text = DOC.read_text()
    code = re.search(r"```python\n(.*?)```", text[text.index("## A complete example"):], re.S)
    assert code is not None
    strats = tmp_path / "strategies"
    strats.mkdir()
    (strats / "my_strategy.py").write_text(code.group(1))
    data = _sample(tmp_path / "data", 4000)
    common = ["--data", str(data), "--timeframe", "5m", "--pairs", "BTC/USDT",
              "--strategy", "MyStrategy", "--strategy-path", str(strats), "--stake", "100",
              "--wallet", "10000"]
    ho = json_of(invoke("hyperopt", *common, "--epochs", "16", "--min-trades", "1",
                        "--oos-fraction", "0.25", "--seed", "5", "--json"))
    pfile = strats / "MyStrategy.json"
    assert ho["params_file"] == str(pfile) and pfile.is_file()
    best = json.loads(pfile.read_text())["params"]
    flat = {k: v for space in best.values() for k, v in space.items()}
    assert flat  # the tuned values, by space

    bt = json_of(invoke("backtest", *common, "--json"))
    assert bt["strategy_params"]["params_file_used"] is True
    for k, v in flat.items():
        if k in bt["strategy_params"]["params"]:
            assert bt["strategy_params"]["params"][k]["value"] == v

    cfg = tmp_path / "replay.toml"
    cfg.write_text(f"""
[database]
url = "sqlite:///{tmp_path / 'run.db'}"
[exchange]
mode = "replay"
replay_data = "{data}"
[approvals]
mode = "auto"
[engine]
strategy_path = "{strats}"
[security]
key_file = "{tmp_path / 'master.key'}"
[[bots]]
name = "mine"
strategy = "MyStrategy"
symbols = ["BTC/USDT"]
timeframe = "5m"
""")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SENTITRADE_")}
    env["PYTHONPATH"] = str(REPO)
    run = subprocess.run([sys.executable, "-m", "bot.cli", "run", "--config", str(cfg)],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
                         stdin=subprocess.DEVNULL)
    out = run.stdout + run.stderr
    assert run.returncode == 0, out[-3000:]
    assert str(pfile) in out  # the start says where the parameters came from
    con = sqlite3.connect(tmp_path / "run.db")
    n_signals = con.execute("select count(*) from signals").fetchone()[0]
    con.close()
    assert n_signals > 0
