"""`sentitrade run`'s wiring: the engine's log of alerts and the console chat each get
every alert once (they used to share the destination key "console", so each alert
reached one of them only), and the console saves images to a folder."""

from __future__ import annotations

import asyncio
import gzip
import io
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlmodel import select

from bot.cli import service_notifiers
from bot.console import ConsoleTransport
from bot.transports import ChatServices, build
from commands.callbacks import CallbackSigner, derive_key
from commands.reply import Attachment, Reply
from engine.service.scheduler import serve
from engine.storage.config import Settings
from engine.storage.db import SessionFactory, make_engine
from engine.storage.models import DeliveryState, OutboxDelivery, OutboxMessage
from tests.chat.fake_api import PNG_1PX, FakeEngine, make_settings

SAMPLE = Path(__file__).resolve().parents[2] / "engine" / "data" / "BTC_USDT-5m.csv.gz"


def _short_sample(folder: Path, rows: int = 1200) -> tuple[Path, datetime]:
    folder.mkdir()
    with gzip.open(SAMPLE, "rt") as f:
        lines = f.read().splitlines()[: rows + 1]
    (folder / "BTC_USDT-5m.csv").write_text("\n".join(lines) + "\n")
    last_close = int(lines[-1].split(",")[0]) / 1000 + 300
    return folder, datetime.fromtimestamp(last_close, UTC)


async def test_log_and_console_each_get_every_alert_once(tmp_path: Path) -> None:
    data, last_close = _short_sample(tmp_path / "data")
    url = f"sqlite:///{tmp_path / 'run.db'}"
    settings = Settings(database={"url": url},
                        exchange={"mode": "replay", "replay_data": data},
                        approvals={"mode": "auto"},
                        security={"key_file": tmp_path / "master.key"},
                        bots=[{"name": "main", "strategy": "ema_rsi_cross",
                               "symbols": ["BTC/USDT"]}])
    out = io.StringIO()
    held: dict[str, Any] = {}

    def attach(api: Any) -> ChatServices:
        chat = build(api.settings, api, console=True)
        con = next(s for s in chat.sinks if isinstance(s, ConsoleTransport))
        con.out, con.image_dir = out, tmp_path / "images"
        held.update(api=api, chat=chat)
        return chat

    log_sink = service_notifiers()
    stop = asyncio.Event()
    task = asyncio.create_task(serve(settings, log_sink, stop=stop, attach=attach, console=True))
    try:
        for _ in range(1200):
            assert not task.done(), task.exception()
            await asyncio.sleep(0.05)
            api = held.get("api")
            if api is not None and api.clock.now() >= last_close:
                break
        chat: ChatServices = held["chat"]
        await held["api"].drain_alerts()
        assert await chat.notifier.wait_idle(timeout=20)
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)
    sessions = SessionFactory(make_engine(url))
    with sessions() as s:
        msgs = s.exec(select(OutboxMessage)).all()
        rows = s.exec(select(OutboxDelivery)).all()
    sessions.engine.dispose()
    assert len(msgs) > 5
    by_dest: dict[str, list[OutboxDelivery]] = {}
    for r in rows:
        by_dest.setdefault(r.destination, []).append(r)
    assert set(by_dest) == {"console", "log"}
    for dest in ("console", "log"):
        assert sorted(r.outbox_id for r in by_dest[dest]) == sorted(m.id or 0 for m in msgs)
        assert all(r.state in (DeliveryState.DELIVERED, "skipped") for r in by_dest[dest])
    # the console's rows were sent by the console transport (its message numbers), and
    # the log got every alert once
    assert all(r.external_ref for r in by_dest["console"]
               if r.state == DeliveryState.DELIVERED)
    assert sorted(log_sink[0].sent) == sorted(m.event_id for m in msgs)
    # the replay sent its daily summaries at replay midnights, each with its PnL chart
    days = sorted(str(m.payload["day"]) for m in msgs if m.kind == "daily_summary")
    first = datetime.fromtimestamp(int((data / "BTC_USDT-5m.csv").read_text().splitlines()[1]
                                       .split(",")[0]) / 1000, UTC)
    assert len(days) >= 3 and days[0] == f"{first:%Y-%m-%d}", days
    assert days[-1] < f"{last_close:%Y-%m-%d}"
    # (summaries that share a digest share its one chart: the latest day's)
    assert out.getvalue().count(f"(image saved: {tmp_path / 'images'}") >= 1
    assert f"-pnl-{days[-1]}.png)" in out.getvalue()
    assert out.getvalue().count("\n* ") == len({r.external_ref for r in by_dest["console"]
                                                  if r.external_ref})


async def test_console_saves_images_and_prints_the_path(tmp_path: Path) -> None:
    engine = FakeEngine(make_settings(tmp_path))
    out = io.StringIO()
    con = ConsoleTransport(engine, CallbackSigner(derive_key(b"c" * 32)), out=out,
                           image_dir=tmp_path / "imgs")
    con._show(Reply("chart", image=Attachment("BTC/USDT chart.png", PNG_1PX, "image/png"),
                    document=Attachment("trades.csv", b"a,b\n", "text/csv")))
    lines = [ln for ln in out.getvalue().splitlines() if "saved: " in ln]
    assert len(lines) == 2
    png = Path(lines[0].split("saved: ", 1)[1].rstrip(")"))
    assert png.parent == tmp_path / "imgs" and png.name.endswith("BTC_USDT_chart.png")
    assert png.read_bytes() == PNG_1PX
    assert Path(lines[1].split("saved: ", 1)[1].rstrip(")")).read_bytes() == b"a,b\n"
    # a command's image on the console: /chart through the REPL path
    ctx_reply = await con.handle_line("/chart BTC/USDT")
    assert ctx_reply is not None
    con._show(ctx_reply)
    assert out.getvalue().count("(image saved: ") == 2
    # the default folder sits beside the SQLite database (never the repo's var/)
    assert ConsoleTransport(engine, con.signer).image_dir == tmp_path / "images"
