"""What `sentitrade backtest` and `hyperopt` share: options, and inputs turned into
values or ONE error line (pairs, ranges, candles, the strategy with its parameter file,
the news).

Imports stay light at module level: bot/cli.py imports this at start-up through
`engine.backtest.cli`, and the backtest's start-up time is a benchmark.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from engine.cli_support import fail

if TYPE_CHECKING:
    from engine.data.candles import Candles
    from engine.data.newsfile import LoadedNews
    from engine.storage.config import Settings
    from engine.strategy.params import LoadedStrategy
    from sentiment.pointintime import AggParams, NewsItem

DataOpt = Annotated[
    Path,
    typer.Option(
        "--data", help="folder of candle files (Freqtrade feather or CSV layout) or one file"
    ),
]
PairsOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--pairs", "-p",
        help="pairs: --pairs BTC/USDT ETH/USDT, comma-separated or repeated; default: all",
    ),
]
# what follows `--pairs A` as bare words (Freqtrade's `--pairs A B C`); see split_pairs
PairsRest = Annotated[
    list[str] | None, typer.Argument(hidden=True, show_default=False, metavar="PAIRS")
]
TfOpt = Annotated[str, typer.Option("--timeframe", "-i", help="candle timeframe, e.g. 5m")]
StratOpt = Annotated[
    str, typer.Option("--strategy", "-s", help="built-in name or class name in --strategy-path")
]
StratPathOpt = Annotated[
    Path | None,
    typer.Option("--strategy-path", help="folder of strategy files (default: settings "
                 "engine.strategy_path)"),
]
SlOpt = Annotated[
    float | None,
    typer.Option("--stoploss", help="stoploss ratio, e.g. -0.10 (default: the strategy's)"),
]
FeeOpt = Annotated[
    float,
    typer.Option("--fee", help="fee per side, a fraction in [0, 0.1) (taker; also maker "
                 "unless --maker-fee)"),
]
WalletOpt = Annotated[float, typer.Option("--wallet", help="starting balance")]
RangeOpt = Annotated[
    str | None, typer.Option("--timerange", help="YYYYMMDD-YYYYMMDD (either side may be empty)")
]
NewsOpt = Annotated[
    str | None,
    typer.Option("--news", help="headlines for the sentiment columns: a JSONL/CSV file "
                 "(.gz too) or `db` (the configured database)"),
]
ScorerOpt = Annotated[
    str | None, typer.Option("--scorer", help="scorer for --news (default: settings' scorer)")
]
DelayOpt = Annotated[
    float | None,
    typer.Option("--news-delay", help="seconds from publication to availability "
                 "(default: settings engine.news_delay_seconds)"),
]
RepairOpt = Annotated[
    bool, typer.Option("--repair", help="drop bad candle rows, sort and merge duplicates "
                       "instead of stopping")
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

    start, end = ms(a), ms(b)
    if start is not None and end is not None and start >= end:
        raise ValueError(f"timerange {tr!r}: the start must be before the end")
    return start, end


def split_pairs(pairs: list[str] | None, rest: list[str] | None = None) -> list[str] | None:
    """``--pairs A B C``, ``--pairs A,B,C`` and ``--pairs A --pairs B`` -> [A, B, C].

    Click gives an option one value, so the words after ``--pairs A`` arrive as bare
    arguments (`rest`); the commands take no other bare arguments, so they are pairs, and
    a bare word without ``--pairs`` is an error."""
    if rest and not pairs:
        fail(f"unexpected argument {rest[0]!r}: pairs go after --pairs (--pairs A B C)")
    out: list[str] = []
    for item in [*(pairs or []), *(rest or [])]:
        for p in item.replace(",", " ").split():
            if p not in out:
                out.append(p)
    return out or None


def check_costs(fee: float, maker_fee: float | None = None, slippage: float = 0.0,
                max_open_trades: int = -1) -> None:
    """Fees, slippage and slots a real account can have (a negative fee is income)."""
    for flag, v in (("--fee", fee), ("--maker-fee", maker_fee), ("--slippage", slippage)):
        if v is not None and not 0.0 <= v < 0.1:
            fail(f"{flag} {v:g}: must be a fraction in [0, 0.1), e.g. 0.001 for 0.1 %")
    if max_open_trades == 0 or max_open_trades < -1:
        fail(f"--max-open-trades {max_open_trades}: use -1 (unlimited) or at least 1")


MAX_WALLET = 1e15  # more than any account holds: a typo, or an overflow waiting to happen


def check_amounts(wallet: float, stake: float | str, *, noise: float = 0.0,
                  monte_carlo: int = 0) -> None:
    """Wallet, stake and the Monte Carlo knobs a real account can have: finite,
    positive, the stake within the wallet (a bigger stake never opens a trade)."""
    import math

    if not (math.isfinite(wallet) and 0 < wallet <= MAX_WALLET):
        fail(f"--wallet {wallet:g}: must be a positive amount up to {MAX_WALLET:g}")
    if isinstance(stake, str):
        try:
            pct = float(stake.strip().removesuffix("%"))
        except ValueError:
            fail(f"--stake {stake!r}: give an amount (1000) or a percentage of equity (10%)")
        if not 0 < pct <= 100:
            fail(f"--stake {stake!r}: a percentage of equity must be in (0, 100]")
    elif not (math.isfinite(stake) and 0 < stake <= wallet):
        fail(f"--stake {stake:g}: must be a positive amount no larger than --wallet "
             f"{wallet:g}")
    if not (math.isfinite(noise) and noise >= 0):
        fail(f"--noise {noise:g}: must be >= 0 (a standard deviation, e.g. 0.01)")
    if monte_carlo < 0:
        fail(f"--monte-carlo {monte_carlo}: must be >= 0 (0: off)")


def check_stoploss(stoploss: float | None) -> None:
    """Freqtrade's range: a loss ratio in [-1, 0); 0.5 would sell at a 50 % gain."""
    import math

    if stoploss is not None and not (math.isfinite(stoploss) and -1 <= stoploss < 0):
        fail(f"--stoploss {stoploss:g}: must be in [-1, 0), e.g. -0.10 for a 10 % stop")


def load_for_cli(data: Path, pairs: list[str] | None, timeframe: str, timerange: str | None,
                 *, repair: bool = False, notes: list[str] | None = None) -> dict[str, Candles]:
    """Load, check (or repair), gap-fill and cut candles; any problem -> one line, exit 2."""
    from engine.backtest.candlecheck import load_checked
    from engine.errors import DataError

    try:
        start, end = parse_timerange(timerange)
        candles, changed = load_checked(data, pairs, timeframe, repair_rows=repair)
    except (DataError, ValueError) as e:
        fail(str(e))
    if notes is not None:
        notes.extend(changed)
    if start is not None or end is not None:
        candles = {s: c.between(start, end) for s, c in candles.items()}
        empty = [s for s, c in candles.items() if len(c) == 0]
        if empty:
            fail(f"no candles in timerange {timerange} for {', '.join(empty)}")
    return candles


ENV_PREFIX = "SENTITRADE_"  # engine.storage.config.ENV_PREFIX (a test ties the two)


def settings_for(config: Path | None) -> Settings | None:
    """The settings, or None when nothing could change a default: no ``--config`` and no
    ``SENTITRADE_*`` variable (the settings' only sources). The functions below take None
    as "the defaults" and build them only when they need more than ``strategy_path``
    (None by default): building them costs a third of a backtest's start-up."""
    import os

    if config is None and not any(k.upper().startswith(ENV_PREFIX) for k in os.environ):
        return None
    from engine.cli_support import settings_or_exit

    return settings_or_exit(config)


def strategy_for_cli(name: str, strategy_path: Path | None, settings: Settings | None,
                     stoploss: float | None = None) -> LoadedStrategy:
    """The strategy with its ``<Strategy>.json`` applied (`load_strategy`); --stoploss
    on top, recorded as coming from the command line. `settings` None: the defaults."""
    from engine.strategy import StrategyError, load_strategy

    check_stoploss(stoploss)
    path = strategy_path or (settings.engine.strategy_path if settings is not None else None)
    try:
        loaded = load_strategy(name, path)
    except StrategyError as e:
        fail(str(e))
    if stoploss is not None:
        loaded.strategy.stoploss = float(stoploss)
        loaded.sources["stoploss"] = "command line"
    return loaded


def params_line(loaded: LoadedStrategy) -> str:
    """``parameters from PATH`` (or defaults), the one line both commands print."""
    files = sorted({v for v in loaded.sources.values() if v not in ("default", "command line")})
    if files:
        return f"{loaded.strategy.name}: parameters from {', '.join(files)}"
    return f"{loaded.strategy.name}: default parameters (no {loaded.params_file})"


def params_doc(loaded: LoadedStrategy) -> dict[str, Any]:
    """Each parameter's value and where it came from (`--json`)."""
    s = loaded.strategy
    names = [*s.parameters(), *(k for k in loaded.sources if k not in s.parameters())]
    return {
        "params_file": str(loaded.params_file),
        "params_file_used": loaded.params_file.is_file()
        and str(loaded.params_file) in loaded.sources.values(),
        "params": {k: {"value": getattr(s, k), "source": loaded.sources.get(k, "default")}
                   for k in names},
    }


@dataclass(slots=True)
class NewsInput:
    """Everything `run_backtest` / `run_hyperopt` need about the news."""

    by_base: dict[str, list[NewsItem]]
    delay_s: float
    agg: AggParams
    summary: dict[str, Any]
    line: str


def news_for_cli(news: str | None, scorer: str | None, delay: float | None,
                 settings: Settings | None, *, show_progress: bool = False
                 ) -> NewsInput | None:
    """``--news FILE|db`` read, tagged and scored (cached); None without ``--news``.
    `settings` None: the defaults."""
    if news is None:
        if scorer is not None or delay is not None:
            fail("--scorer and --news-delay need --news FILE|db")
        return None
    if settings is None:
        from engine.cli_support import settings_or_exit

        settings = settings_or_exit(None)
    delay_s = float(settings.engine.news_delay_seconds if delay is None else delay)
    if not delay_s >= 0:
        fail(f"--news-delay {delay_s:g}: must be >= 0 (a negative delay would look ahead)")
    from engine.data.newsbook import agg_params
    from engine.errors import DataError
    from sentiment.scorers import SCORER_NAMES

    if scorer is not None and scorer not in SCORER_NAMES:
        fail(f"--scorer {scorer!r}: one of {', '.join(SCORER_NAMES)}")
    try:
        loaded = (_news_db(settings, scorer) if news == "db"
                  else _news_file(Path(news), scorer, settings, show_progress))
    except DataError as e:
        fail(str(e))
    summary = {**loaded.counts.as_dict(), "delay_s": delay_s}
    return NewsInput(loaded.by_base, delay_s, agg_params(settings), summary,
                     loaded.counts.line() + f"; delay {delay_s:g} s")


def _news_file(path: Path, scorer: str | None, settings: Settings,
               show_progress: bool) -> LoadedNews:
    from engine.cli_support import progress
    from engine.data.newsfile import load_news_file

    with progress(show_progress) as bar:
        task = bar.add_task("scoring news", total=None) if bar is not None else None

        def tick(done: int, total: int) -> None:
            if bar is not None and task is not None:
                bar.update(task, completed=done, total=total)

        return load_news_file(path, scorer, settings.sentiment, on_progress=tick)


def _news_db(settings: Settings, scorer: str | None) -> LoadedNews:
    """The scored news stored in the configured database: the live engine's own reader
    (`engine.data.newsbook.load_news`), read only, so a backtest sees what live saw."""
    import time

    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, SQLAlchemyError

    from engine.data.newsbook import load_news
    from engine.data.newsfile import MARKET, LoadedNews, NewsCounts
    from engine.errors import DataError
    from engine.storage.db import SessionFactory, make_engine

    t0 = time.perf_counter()
    url = settings.database.url
    name = scorer or settings.sentiment.scorer
    try:
        shown = make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        raise DataError("--news db: database.url is not a database URL") from None
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        raise DataError(f"--news db: database {shown} does not exist (let `sentitrade run` "
                        "collect news first, or pass a news file)")
    engine = make_engine(url)
    try:
        by_base, heads = load_news(SessionFactory(engine), name)
    except SQLAlchemyError as e:
        first = str(e).splitlines()[0]
        hint = ("; run `sentitrade db upgrade` first" if "no such table" in first
                or "does not exist" in first else "")
        raise DataError(f"--news db: cannot read news from {shown}: {type(e).__name__}: "
                        f"{first}{hint}") from None
    finally:
        engine.dispose()
    counts = NewsCounts(source=f"db {shown}", scorer=name, rows=len(heads),
                        headlines=len(heads), cache="database")
    counts.tagged = sum(1 for h in heads if h.symbols - {MARKET})
    counts.summarise(by_base, t0)
    return LoadedNews(by_base, counts)
