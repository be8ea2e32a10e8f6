"""What the chat and the API read about the running engine beyond trading itself:
each series' market regime (/status), the engine clock and candle freshness (/health),
charts (/chart), protection locks (/locks, /unlock) and operator notices. A mixin of
`engine.service.engine.Engine`."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import numpy as np
from sqlmodel import col, or_, select

from engine.clock import ms_to_dt
from engine.data.candles import timeframe_ms
from engine.errors import SentitradeError
from engine.events import OperatorNotice, record
from engine.risk.protections import ProtectionDesk, active_locks, unlock
from engine.service.api import HealthView
from engine.state import EngineState
from engine.storage.models import PairLock, Trade
from engine.strategy.runtime import SeriesBuffer


class EngineViews(EngineState):
    """Read-mostly views; the attributes below are set by `Engine.__init__`."""

    protections: ProtectionDesk
    _regimes: dict[str, tuple[int, str]]
    _started_at: datetime

    def operator_alert(self, text: str, source: str = "sentiment") -> None:
        """An alert for the operator from a part that has no event of its own (the
        LLM scorer's budget hook). Safe from any thread; once per text and day."""
        with self.sessions.begin() as s:
            record(s, OperatorNotice(ts_event=self.clock.now(), source=source,
                                     detail=text[:500]))

    def _series(self) -> Iterator[tuple[str, str, SeriesBuffer]]:
        """(timeframe, symbol, closed candles) of every bot's series that has candles;
        two bots on one series give it twice (their buffers hold the same candles)."""
        for b in self.bots.all():
            for sym, buf in self.strategies.runtime(b).buffers.items():
                if buf.n:
                    yield b.timeframe, sym, buf

    def market_regimes(self) -> dict[str, str]:
        """"BTC/USDT 5m" -> "trending" etc. (`engine.signals.regime`) from the closed
        candles the bots' runtimes hold, for /status. Computed once per new candle of a
        series, so a status request costs dictionary reads."""
        from engine.signals.regime import regime_columns, regime_name

        out: dict[str, str] = {}
        for tf, sym, buf in self._series():
            key = f"{sym} {tf}"
            last = buf.last_close_ms()
            if key in out or last is None:
                continue
            cached = self._regimes.get(key)
            if cached is None or cached[0] != last:
                f = buf.frame(2000)
                reg = regime_columns(f["high"], f["low"], f["close"])["regime"]
                cached = (last, regime_name(int(reg[-1])))
                self._regimes[key] = cached
            out[key] = cached[1]
        return out

    def now(self) -> datetime:
        return self.clock.now()

    def health(self) -> HealthView:
        """The engine clock, its start and each series' last closed candle (/health)."""
        last: dict[str, datetime] = {}
        tfs: dict[str, str] = {}
        for tf, sym, buf in self._series():
            ms = buf.last_close_ms()
            if ms is not None:
                last[f"{sym} {tf}"] = ms_to_dt(ms)
                tfs[f"{sym} {tf}"] = tf
        return HealthView(self.clock.now(), self._started_at, last, tfs)

    async def chart(self, pair: str, timeframe: str | None = None,
                    candles: int = 288) -> bytes:
        """PNG of `pair`'s last `candles` candles as the trading bot's strategy saw them,
        with its trades and plotted indicators (`engine.service.charts`)."""
        from engine.service.charts import ChartData, plot_lines, render_chart

        bot = next((b for b in self.bots.all() if pair in b.symbols
                    and (timeframe is None or b.timeframe == timeframe)), None)
        if bot is None:
            raise SentitradeError(f"no bot trades {pair}"
                                  f"{' on ' + timeframe if timeframe else ''}: /whitelist "
                                  "lists the pairs")
        rt = self.strategies.runtime(bot)
        frame = rt.last_frame(pair)
        if frame is None:
            buf = rt.buffers.get(pair)
            if buf is None or buf.n == 0:
                raise SentitradeError(f"no {pair} candles yet; try again after the next close")
            frame = buf.frame(candles)
        k = min(candles, frame.n)
        sl = slice(frame.n - k, frame.n)
        main, subs = plot_lines(rt.strategy, frame)
        start = ms_to_dt(int(frame["date"][sl][0]))
        with self.sessions() as s:
            trades = s.exec(select(Trade).where(Trade.symbol == pair)
                            .where(Trade.bot_id == bot.id)
                            .where(or_(col(Trade.open_at) >= start,
                                       col(Trade.close_at) >= start))).all()
        entries = [(t.open_at, float(t.open_price)) for t in trades if t.open_at >= start]
        exits = [(t.close_at, float(t.close_price), (t.realized_pnl or 0) > 0) for t in trades
                 if t.close_at is not None and t.close_price is not None
                 and t.close_at >= start]
        o, h, lo, c = (np.asarray(frame[x][sl], dtype=np.float64)
                       for x in ("open", "high", "low", "close"))
        data = ChartData(pair, bot.timeframe, bot.name, rt.strategy.name,
                         np.asarray(frame["date"][sl], dtype=np.int64), o, h, lo, c,
                         {n: v[sl] for n, v in main.items()},
                         {t: {n: v[sl] for n, v in ls.items()} for t, ls in subs.items()},
                         entries, exits)
        return await asyncio.to_thread(render_chart, data)

    def order_types(self) -> list[str]:
        """How this exchange runs each order type: native (the exchange holds the order)
        or emulated (the engine watches prices and sends it when triggered); /ordertypes."""
        return self.execution.caps.lines()

    def locks(self) -> list[PairLock]:
        """The protections' active pair locks (/locks)."""
        with self.sessions() as s:
            return active_locks(s, self.clock.now())

    async def unlock(self, pair: str | None, by: str) -> list[PairLock]:
        """End `pair`'s locks early (None: all locks); returns what was unlocked."""
        with self.sessions.begin() as s:
            return unlock(s, pair, self.clock.now(), by)

    def market_context(self) -> dict[str, Any]:
        """Per base asset: price, 24 h change, RSI(14) and trend from the closes the
        bots' runtimes hold (the shortest timeframe of each symbol), for the LLM scorer
        (`engine.data.news.market_contexts`)."""
        from engine.data.news import market_contexts

        best: dict[str, tuple[int, Any]] = {}  # symbol -> (timeframe ms, closes)
        for timeframe, sym, buf in self._series():
            tf = timeframe_ms(timeframe)
            if sym not in best or tf < best[sym][0]:
                best[sym] = (tf, buf.column("close")[: buf.n])
        out: dict[str, Any] = {}
        for tf in sorted({tf for tf, _ in best.values()}, reverse=True):  # shortest wins
            out.update(market_contexts({k: c for k, (t, c) in best.items() if t == tf},
                                       max(1, 86_400_000 // tf)))
        return out
