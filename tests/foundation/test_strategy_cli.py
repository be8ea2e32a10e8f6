"""Your own strategy from the command line: `new-strategy` writes one that loads and
backtests, `list-strategies` finds it (and names broken files), `run` refuses an unknown
or broken strategy in one line, and the example of docs/strategies.md works as written."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from bot.cli import app
from engine.backtest.runner import build_frame, run_backtest
from engine.data.candles import DEMO_DATA_DIR, Candles, load_candles
from engine.strategy.interface import Strategy, analyze, extract_signals
from engine.strategy.registry import strategy_class
from engine.strategy.runtime import StrategyRuntime
from engine.strategy.template import TEMPLATES, class_name_problem, render
from sentiment.pointintime import NewsItem

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "strategies.md"


def cli(*args: str) -> Any:
    return CliRunner().invoke(app, list(args))


def _one_error_line(r: Any) -> str:
    """The command failed with exactly one `error:` line and no traceback."""
    assert r.exit_code != 0, r.output
    assert "Traceback" not in r.output
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr
    return str(lines[0])


@pytest.fixture(scope="module")
def btc() -> dict[str, Candles]:
    """The first 600 real BTC/USDT 5m candles of the embedded sample."""
    c = load_candles(DEMO_DATA_DIR / "BTC_USDT-5m.csv.gz", ["BTC/USDT"], "5m")["BTC/USDT"]
    return {"BTC/USDT": c.between(None, int(c.open_time[600]))}


def _news(c: Candles) -> dict[str, list[NewsItem]]:
    """A few scored headlines inside the window, one of them a hack."""
    t = c.close_time
    return {"BTC": [NewsItem(int(t[100]) - 120_000, 0.6, 0.9, impact=7),
                    NewsItem(int(t[250]), -0.7, 0.8, event_type="hack/exploit", impact=9),
                    NewsItem(int(t[400]), 0.3, 0.5)]}


def _backtests(strategy: Strategy, candles: dict[str, Candles]) -> None:
    """Backtests with and without news, and every signal the live runtime computes on
    a candle equals the backtest frame's row (the one-strategy promise)."""
    plain = run_backtest(candles, strategy, stake=100.0, wallet=10_000.0)
    assert plain.metrics["total_trades"] > 0
    c = candles["BTC/USDT"]
    news = _news(c)
    with_news = run_backtest(candles, strategy, stake=100.0, wallet=10_000.0, news=news)
    assert with_news.metrics["total_trades"] > 0
    frame = analyze(strategy, build_frame(c, news["BTC"]), {"pair": "BTC/USDT"})
    want = extract_signals(strategy, frame)
    rt = StrategyRuntime(strategy, "5m", history_candles=0)
    for i in range(len(c)):
        rt.push("BTC/USDT", {k: float(np.asarray(frame[k])[i]) for k in (
            "date", "close_time", "open", "high", "low", "close", "volume", "sentiment",
            "sentiment_confidence", "news_count", "news_impact", "event_regulatory",
            "event_partnership", "event_technical", "event_hack", "event_market",
            "event_macro")})
        got = rt.evaluate("BTC/USDT")
        assert (got.enter_long, got.exit_long) == (bool(want.enter_long[i]),
                                                   bool(want.exit_long[i])), i
        assert got.stake_scale == want.stake_scale[i]


# ------------------------------------------------------------------ new-strategy
@pytest.mark.parametrize("template", TEMPLATES)
def test_new_strategy_writes_a_working_strategy(tmp_path: Path, template: str,
                                                btc: dict[str, Candles]) -> None:
    folder = tmp_path / "strategies"
    r = cli("new-strategy", "MyEdge", "--strategy-path", str(folder), "--template", template)
    assert r.exit_code == 0, r.output
    target = folder / "MyEdge.py"
    assert f"wrote {target}" in r.output
    assert '[engine] strategy_path = "' in r.output  # printed as is, not eaten as markup
    cls, file = strategy_class("MyEdge", folder)
    assert cls.__name__ == "MyEdge" and file == target and cls.name == "MyEdge"
    assert cls.parameters()  # hyperoptable
    _backtests(cls(), btc)


def test_new_strategy_refuses(tmp_path: Path) -> None:
    folder = tmp_path / "s"
    assert cli("new-strategy", "Mine", "--strategy-path", str(folder)).exit_code == 0
    before = (folder / "Mine.py").read_text()
    (folder / "Mine.py").write_text(before + "# my edits\n")
    line = _one_error_line(cli("new-strategy", "Mine", "--strategy-path", str(folder)))
    assert "Mine.py exists: not overwritten" in line
    assert (folder / "Mine.py").read_text().endswith("# my edits\n")
    for bad in ("9lives", "my-strategy", "class", "_Hidden", "Ümlaut", "Strategy"):
        line = _one_error_line(cli("new-strategy", bad, "--strategy-path", str(folder)))
        assert class_name_problem(bad) is not None and class_name_problem(bad) in line, bad
    assert not list(folder.glob("[!M]*.py"))
    line = _one_error_line(cli("new-strategy", "EmaRsiCross", "--strategy-path", str(folder)))
    assert "built-in" in line
    line = _one_error_line(cli("new-strategy", "X", "--strategy-path", str(folder),
                               "--template", "huge"))
    assert "minimal, full" in line
    (folder / "other.py").write_text(render("Twin", "minimal"))
    line = _one_error_line(cli("new-strategy", "Twin", "--strategy-path", str(folder)))
    assert "already exists in" in line and "other.py" in line


def test_render_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="class name"):
        render("a b")
    with pytest.raises(ValueError, match="template"):
        render("Fine", "nope")


# ------------------------------------------------------------------ list-strategies
def test_list_strategies_with_a_broken_file(tmp_path: Path) -> None:
    folder = tmp_path / "s"
    folder.mkdir()
    (folder / "Good.py").write_text(render("Good", "minimal"))
    (folder / "Broken.py").write_text("import no_such_module_here\n")
    (folder / "_private.py").write_text("raise SystemExit('never imported')\n")
    r = cli("list-strategies", "--strategy-path", str(folder), "--json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    rows = {s["name"]: s for s in doc["strategies"]}
    assert rows["ema_rsi_cross"] == {"name": "ema_rsi_cross", "class": "EmaRsiCross",
                                     "source": "built-in", "error": None}
    assert rows["Good"]["source"] == str(folder / "Good.py") and rows["Good"]["error"] is None
    err = rows["Broken"]["error"]
    assert "\n" not in err and "No module named 'no_such_module_here'" in err
    assert set(rows) == {"ema_rsi_cross", "ema_rsi_trail", "ema_rsi_dca", "news_momentum",
                         "sentiment_fusion", "sentiment_momentum", "mtf_trend", "regime_switch",
                         "pattern_breakout", "grid", "dca_bot", "rebalance", "Good", "Broken"}
    text = cli("list-strategies", "--strategy-path", str(folder))
    assert text.exit_code == 0 and "Good" in text.output and "no_such_module_here" in text.output


@pytest.mark.usefixtures("clean_env")
def test_list_strategies_default_path_from_settings(tmp_path: Path) -> None:
    folder = tmp_path / "from-settings"
    folder.mkdir()
    (folder / "Configured.py").write_text(render("Configured", "minimal"))
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[engine]\nstrategy_path = "{folder}"\n')
    r = cli("list-strategies", "--config", str(cfg), "--json")
    assert r.exit_code == 0, r.output
    assert "Configured" in {s["name"] for s in json.loads(r.stdout)["strategies"]}
    r = cli("list-strategies", "--json")  # nothing set: the built-ins
    assert {s["source"] for s in json.loads(r.stdout)["strategies"]} == {"built-in"}
    _one_error_line(cli("list-strategies", "--strategy-path", str(tmp_path / "none")))


# ------------------------------------------------------------------ run
def _config(tmp: Path, strategy: str, **engine: str) -> Path:
    eng = "".join(f'{k} = "{v}"\n' for k, v in engine.items())
    cfg = tmp / "run.toml"
    cfg.write_text(f'[database]\nurl = "sqlite:///{tmp}/run.db"\n[exchange]\nmode = "replay"\n'
                   f'[security]\nkey_file = "{tmp}/master.key"\n[engine]\n{eng}'
                   f'[[bots]]\nname = "edge"\nstrategy = "{strategy}"\n'
                   'symbols = ["BTC/USDT"]\n')
    return cfg


@pytest.mark.usefixtures("clean_env")
def test_run_refuses_unknown_or_broken_strategy_in_one_line(tmp_path: Path) -> None:
    folder = tmp_path / "s"
    folder.mkdir()
    (folder / "Good.py").write_text(render("Good", "minimal"))
    (folder / "Broken.py").write_text("class Broken(:\n")
    line = _one_error_line(cli("run", "--config", str(_config(tmp_path, "Nope")),
                               "--strategy-path", str(folder)))
    assert line.startswith("error: bot edge: unknown strategy 'Nope' in ")
    assert "files there define Good" in line and "Broken.py failed to load: SyntaxError" in line
    line = _one_error_line(cli("run", "--config", str(_config(tmp_path, "Good")),
                               "--strategy-path", str(tmp_path / "missing")))
    assert "no such folder" in line
    cfg = _config(tmp_path, "Good", strategy_path=str(folder))
    cfg.write_text(cfg.read_text() + "params = { not_a_param = 1 }\n")
    line = _one_error_line(cli("run", "--config", str(cfg)))
    assert "bot edge: settings: Good has no parameter 'not_a_param'" in line
    assert not (tmp_path / "run.db").exists()  # stopped before anything was written


@pytest.mark.usefixtures("clean_env")
def test_run_passes_strategy_path_and_engine_errors_are_one_line(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import bot.cli
    import engine.service.scheduler as service

    folder = tmp_path / "s"
    folder.mkdir()
    (folder / "Good.py").write_text(render("Good", "minimal"))
    seen: list[Any] = []
    monkeypatch.setattr(service, "run_service", lambda settings, **kw: seen.append(settings))
    r = cli("run", "--config", str(_config(tmp_path, "Good")), "--strategy-path", str(folder))
    assert r.exit_code == 0, r.output
    assert seen[0].engine.strategy_path == folder
    # what each bot runs, and whether the hyperopt file was picked up, is said at start
    assert bot.cli.check_strategies(seen[0]) == [
        f"bot edge: strategy Good ({folder / 'Good.py'}), no Good.json: default parameters"]
    (folder / "Good.json").write_text('{"params": {"buy": {"fast": 10}}}')
    assert bot.cli.check_strategies(seen[0]) == [
        f"bot edge: strategy Good ({folder / 'Good.py'}), parameters from "
        f"{folder / 'Good.json'}"]
    # the Engine's own check (what serve() raises when a strategy fails at construction)
    monkeypatch.undo()
    monkeypatch.setattr(bot.cli, "check_strategies", lambda settings: [])
    line = _one_error_line(cli("run", "--config", str(_config(tmp_path, "Nope"))))
    assert "unknown strategy 'Nope'" in line


# ------------------------------------------------------------------ the docs
def test_docs_example_is_the_template_and_backtests(tmp_path: Path,
                                                    btc: dict[str, Candles]) -> None:
    text = DOC.read_text()
    section = text[text.index("## A complete example"):]
    code = re.search(r"```python\n(.*?)```", section, re.S)
    assert code is not None
    assert code.group(1) == render("MyStrategy", "full")  # `new-strategy` writes the doc's
    (tmp_path / "MyStrategy.py").write_text(code.group(1))
    cls, _ = strategy_class("MyStrategy", tmp_path)
    _backtests(cls(), btc)


def test_docs_name_every_column_attribute_and_builtin() -> None:
    from engine.strategy.builtins import BUILTINS
    from engine.strategy.runtime import BASE_COLUMNS
    from sentiment.pointintime import SENTIMENT_COLUMNS

    text = DOC.read_text()
    for col in (*BASE_COLUMNS, *SENTIMENT_COLUMNS, "enter_long", "exit_long", "enter_short",
                "exit_short", "stake_scale", "enter_limit", "enter_tag", "exit_tag"):
        assert f"`{col}`" in text, col
    for attr in ("timeframe", "stoploss", "minimal_roi", "trailing_stop",
                 "trailing_stop_positive", "trailing_stop_positive_offset",
                 "trailing_only_offset_is_reached", "can_short", "use_exit_signal",
                 "startup_candle_count", "order_type"):
        assert f"| `{attr}` |" in text, attr
    for name, cls in BUILTINS.items():
        assert f"**`{name}`** (`{cls.__name__}`" in text, name
        for p in cls.parameters():
            assert f"`{p}`" in text, (name, p)
