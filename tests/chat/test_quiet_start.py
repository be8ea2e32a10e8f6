"""`sentitrade run` and `sentitrade demo` as a user sees them (real subprocesses):
what the user needs on the terminal (mode, bots, chats, where the log is), no
scheduler internals or per-alert log lines, one line for an error with its traceback
in the log file; the demo says what it does and why its proposals expire."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "engine" / "data" / "BTC_USDT-5m.csv.gz"
BOOM = '''
from engine.strategy.builtins import EmaRsiCross


class Boom(EmaRsiCross):
    name = "boom"

    def populate_indicators(self, df, metadata):
        raise RuntimeError("boom in the strategy")
'''


def _config(tmp: Path, strategy: str = "ema_rsi_cross") -> Path:
    data = tmp / "data"
    data.mkdir()
    with gzip.open(SAMPLE, "rt") as f:
        lines = f.read().splitlines()[:301]
    (data / "BTC_USDT-5m.csv").write_text("\n".join(lines) + "\n")
    cfg = tmp / "cfg.toml"
    cfg.write_text(f'[database]\nurl = "sqlite:///{tmp / "q.db"}"\n[security]\n'
                   f'key_file = "{tmp / "master.key"}"\n[exchange]\nmode = "replay"\n'
                   f'replay_data = "{data}"\n[approvals]\nmode = "auto"\n[[bots]]\n'
                   f'name = "main"\nstrategy = "{strategy}"\nsymbols = ["BTC/USDT"]\n')
    return cfg


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SENTITRADE_")}
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.run([sys.executable, "-m", "bot.cli", *args], capture_output=True,
                          text=True, stdin=subprocess.DEVNULL, env=env, timeout=240)


def test_run_says_what_a_user_needs_and_logs_the_rest(tmp_path: Path) -> None:
    p = _cli("run", "--config", str(_config(tmp_path)))
    assert p.returncode == 0, p.stderr
    out = p.stdout.splitlines()
    log = tmp_path / "sentitrade.log"
    assert out[0] == f"sentitrade: replay of {tmp_path / 'data'} (paper broker)"
    assert "  bot main: BTC/USDT on 5m, approvals auto" in out
    assert f"log: {log} (alerts, details, tracebacks)" in out
    assert any(line.startswith("chat: no console") for line in out)
    assert out[-1] == f"stopped; the log is {log}"
    assert len(out) <= 7 and p.stderr == ""  # no scheduler internals, no alert lines
    assert "INFO" not in p.stdout and "apscheduler" not in p.stdout
    text = log.read_text()
    assert "alert fill: filled buy" in text  # the details are in the file


def test_an_error_is_one_line_with_the_traceback_in_the_log(tmp_path: Path) -> None:
    (tmp_path / "strats").mkdir()
    (tmp_path / "strats" / "boom.py").write_text(BOOM)
    p = _cli("run", "--config", str(_config(tmp_path, "Boom")),
             "--strategy-path", str(tmp_path / "strats"))
    assert p.returncode == 2
    [line] = p.stderr.strip().splitlines()
    assert "boom in the strategy" in line and "Traceback" not in p.stderr
    assert line.endswith(f"(details in {tmp_path / 'sentitrade.log'})")
    text = (tmp_path / "sentitrade.log").read_text()
    assert "Traceback (most recent call last)" in text and "RuntimeError" in text


def test_demo_says_what_it_does_and_why_proposals_expire(tmp_path: Path) -> None:
    p = _cli("demo", "--no-chat", "--config", str(_config(tmp_path)))
    assert p.returncode == 0, p.stderr
    first = p.stdout.split("\n[alert]", 1)[0]
    assert first.startswith(f"Demo: replaying {tmp_path / 'data'} (BTC/USDT) through the "
                            "whole loop")
    assert "Nobody taps during the replay, so they expire after 300 s of replay time" in first
    assert p.stderr == ""
