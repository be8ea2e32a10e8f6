"""`sentitrade download-data` and `sentitrade list-data`.

``--pairs`` and ``--timeframes`` each take several words (``--pairs BTC/USDT ETH/USDT
--timeframes 5m 1h``); Click gives an option one value, so the other words arrive as bare
arguments and are sorted here: a known timeframe is a timeframe, a word with a ``/`` is a
pair, anything else is an error.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from engine.cli_support import ConfigOpt, JsonOpt, fail, print_json, progress, settings_or_exit
from engine.errors import SentitradeError

ExchangeOpt = Annotated[str | None, typer.Option(
    "--exchange", "-e", help="ccxt exchange id (default: [exchange] id of the settings)")]
PairsOpt = Annotated[list[str] | None, typer.Option(
    "--pairs", "-p", help="pairs: --pairs BTC/USDT ETH/USDT (comma-separated or repeated)")]
TfsOpt = Annotated[list[str] | None, typer.Option(
    "--timeframes", "-t", help="timeframes: --timeframes 5m 1h (default 5m)")]
RestArg = Annotated[list[str] | None, typer.Argument(hidden=True, show_default=False,
                                                      metavar="WORDS")]
DaysOpt = Annotated[float, typer.Option("--days", help="how far back from now", min=0.01)]
DirOpt = Annotated[Path | None, typer.Option(
    "--datadir", "-d", help="folder of candle files (default: user_data/data/EXCHANGE, "
    "Freqtrade's layout; pass it to backtest --data)")]
UrlOpt = Annotated[str | None, typer.Option(
    "--api-url", help="send the exchange's REST calls here (a proxy; default: "
    "[exchange] api_url)")]


def sort_words(pairs: list[str] | None, tfs: list[str] | None,
               rest: list[str] | None) -> tuple[list[str], list[str]]:
    """The pairs and timeframes of the command line, in order, each once."""
    from engine.data.candles import TIMEFRAME_MS

    out_p: list[str] = []
    out_t: list[str] = []
    for item in [*(pairs or []), *(tfs or []), *(rest or [])]:
        for w in item.replace(",", " ").split():
            if w in TIMEFRAME_MS:
                if w not in out_t:
                    out_t.append(w)
            elif "/" in w:
                if w.upper() not in out_p:
                    out_p.append(w.upper())
            else:
                fail(f"{w!r} is neither a pair (BTC/USDT) nor a timeframe "
                     f"({', '.join(TIMEFRAME_MS)})")
    return out_p, out_t


def _client(config: Path | None, exchange: str | None, api_url: str | None) -> tuple[Any, str]:
    from engine.data.exchange import public_exchange

    settings = settings_or_exit(config)
    update: dict[str, Any] = {}
    if exchange:
        update["id"] = exchange
    if api_url:
        update["api_url"] = api_url
    ex = settings.exchange.model_copy(update=update)
    return public_exchange(settings.model_copy(update={"exchange": ex})), ex.id


async def _download(client: Any, folder: Path, pairs: list[str], tfs: list[str], days: float,
                    show: bool) -> list[dict[str, Any]]:
    from engine.data.candles import timeframe_ms
    from engine.data.download import download_pair

    try:
        markets = await client.load_markets()
        missing = [p for p in pairs if p not in markets]
        if missing:
            raise SentitradeError(f"{client.id} does not list {', '.join(missing)}: "
                                  "check --pairs")
        now = int(client.milliseconds())
        out: list[dict[str, Any]] = []
        with progress(show) as bar:
            for pair in pairs:
                for tf in tfs:
                    total = int(days * 86_400_000 // timeframe_ms(tf))
                    task = (bar.add_task(f"{pair} {tf}", total=total)
                            if bar is not None else None)

                    def advance(n: int, task: Any = task) -> None:
                        if bar is not None and task is not None:
                            bar.advance(task, n)

                    r = await download_pair(client, folder, pair, tf, days, now,
                                            on_rows=advance)
                    out.append({"pair": r.pair, "timeframe": r.timeframe, "added": r.added,
                                "candles": r.total, "requests": r.requests})
        return out
    finally:
        await client.close()


def download_data(
    exchange: ExchangeOpt = None,
    pairs: PairsOpt = None,
    timeframes: TfsOpt = None,
    rest: RestArg = None,
    days: DaysOpt = 30.0,
    datadir: DirOpt = None,
    api_url: UrlOpt = None,
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Download closed candles into Freqtrade's feather layout; only what is missing."""
    import ccxt

    plist, tfs = sort_words(pairs, timeframes, rest)
    if not plist:
        fail("no pairs: pass --pairs BTC/USDT ETH/USDT")
    tfs = tfs or ["5m"]
    try:
        client, ex_id = _client(config, exchange, api_url)
    except SentitradeError as e:
        fail(str(e))
    folder = datadir or Path("user_data") / "data" / ex_id
    t0 = time.perf_counter()
    try:
        rows = asyncio.run(_download(client, folder, plist, tfs, days, not as_json))
    except SentitradeError as e:
        fail(str(e))
    except (ccxt.NetworkError, ccxt.ExchangeError) as e:
        fail(f"{ex_id} failed ({type(e).__name__}: {str(e)[:160]}); check the network or "
             "--api-url and try again: what was saved is kept")
    if as_json:
        print_json({"datadir": str(folder), "results": rows})
        return
    for r in rows:
        typer.echo(f"{r['pair']:<12} {r['timeframe']:<4} +{r['added']:<7} candles, "
                   f"{r['candles']} stored ({r['requests']} requests)")
    typer.echo(f"saved in {folder} in {time.perf_counter() - t0:.1f} s "
               f"(sentitrade backtest --data {folder})")


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M")


def list_data(
    datadir: Annotated[Path, typer.Option("--datadir", "-d", help="folder of candle files")
                       ] = Path("user_data/data/binance"),
    as_json: JsonOpt = False,
) -> None:
    """The candle files of a folder: pair, timeframe, first and last candle, count."""
    from rich.console import Console
    from rich.table import Table

    from engine.data.download import list_data as scan

    try:
        infos = scan(datadir)
    except SentitradeError as e:
        fail(str(e))
    if as_json:
        print_json([{"pair": d.pair, "timeframe": d.timeframe, "from": _iso(d.first_ms),
                     "to": _iso(d.last_ms), "candles": d.candles, "file": d.path.name}
                    for d in infos])
        return
    if not infos:
        typer.echo(f"no candle files in {datadir}")
        return
    t = Table("pair", "timeframe", "from (open, UTC)", "to (open, UTC)", "candles")
    for d in infos:
        t.add_row(d.pair, d.timeframe, _iso(d.first_ms), _iso(d.last_ms), str(d.candles))
    Console().print(t)
