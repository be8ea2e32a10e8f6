"""Backtests over the API: start one, poll it, fetch its report.

The run is the chat's `/backtest` (same argument checks from `commands.catalog`, same
`TradingAPI.backtest`), held as a job in this process so an HTTP request never waits
minutes: POST answers at once with the job id, GET polls, `/report` fetches.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from pydantic import BaseModel, Field

from commands.base import UsageError
from commands.catalog import Backtest
from engine.errors import SentitradeError
from engine.service.api import BacktestOutput, TradingAPI
from web.auth import Caller
from web.deps import ctx_of, needs, plain

log = logging.getLogger("sentitrade.web")
router = APIRouter(prefix="/api/v1/backtests", tags=["backtests"])
MAX_RUNNING = 2
MAX_KEPT = 50


class BacktestRequest(BaseModel):
    pair: str = Field(examples=["BTC/USDT"], max_length=32)
    timeframe: str = Field(default="5m", max_length=4)
    days: int = Field(default=30, ge=1, le=3650)
    strategy: str = Field(default="sentiment_fusion", max_length=64)


@dataclass
class Job:
    id: int
    params: dict[str, Any]
    by: str
    state: str = "running"  # running | done | failed
    started: float = field(default_factory=time.time)
    finished: float | None = None
    error: str | None = None
    output: BacktestOutput | None = None
    task: asyncio.Task[None] | None = None

    def view(self) -> dict[str, Any]:
        return {"id": self.id, "state": self.state, "params": self.params, "by": self.by,
                "started": self.started, "finished": self.finished, "error": self.error,
                "summary": plain(self.output.summary) if self.output else None}


class Jobs:
    def __init__(self) -> None:
        self.jobs: dict[int, Job] = {}
        self._ids = itertools.count(1)

    def running(self) -> int:
        return sum(1 for j in self.jobs.values() if j.state == "running")

    def start(self, api: TradingAPI, params: dict[str, Any], by: str) -> Job:
        job = Job(next(self._ids), params, by)
        self.jobs[job.id] = job
        for old in sorted(self.jobs)[:-MAX_KEPT]:
            if self.jobs[old].state != "running":
                del self.jobs[old]
        job.task = asyncio.create_task(self._run(api, job))
        return job

    async def _run(self, api: TradingAPI, job: Job) -> None:
        p = job.params
        try:
            job.output = await api.backtest(p["pair"], p["timeframe"], p["days"], p["strategy"])
            job.state = "done"
        except SentitradeError as e:
            job.state, job.error = "failed", str(e).splitlines()[0] if str(e) else "failed"
        except Exception as e:
            log.exception("backtest job %s failed", job.id)
            job.state, job.error = "failed", f"failed on our side ({type(e).__name__}); see the log"
        finally:
            job.finished = time.time()


def _jobs(request: Request) -> Jobs:
    ctx = ctx_of(request)
    jobs = ctx.extras.get("backtests")
    if jobs is None:
        jobs = ctx.extras["backtests"] = Jobs()
    return jobs


@router.post("", status_code=202)
async def start(request: Request, body: BacktestRequest,
                caller: Annotated[Caller, Depends(needs("trader", trades=False))]
                ) -> dict[str, Any]:
    """Start a backtest (trader); answers at once with the job to poll. Research only:
    allowed in a dashboard-only process too."""
    api = ctx_of(request).api
    cmd = Backtest()
    try:
        args = cmd.parse([body.pair, body.timeframe, f"{body.days}d", body.strategy])
    except UsageError as e:
        raise HTTPException(422, str(e)) from None
    pairs = cmd.pairs(None) or {s for b in api.settings.bots for s in b.symbols}
    if args.pair not in pairs:
        raise HTTPException(422, f"unknown pair {args.pair}: one of {', '.join(sorted(pairs))}")
    from engine.strategy import StrategyError
    from engine.strategy.registry import strategy_class

    try:
        strategy_class(args.strategy, api.settings.engine.strategy_path)
    except StrategyError as e:
        raise HTTPException(422, str(e).splitlines()[0][:300]) from None
    jobs = _jobs(request)
    if jobs.running() >= MAX_RUNNING:
        raise HTTPException(429, f"{MAX_RUNNING} backtests are running: poll them first")
    log.info("api: backtest %s by %s", args, caller.by)
    job = jobs.start(api, {"pair": args.pair, "timeframe": args.timeframe, "days": args.days,
                           "strategy": args.strategy}, caller.by)
    return job.view()


@router.get("")
def list_jobs(request: Request,
              caller: Annotated[Caller, Depends(needs("viewer"))]) -> list[dict[str, Any]]:
    return [j.view() for j in sorted(_jobs(request).jobs.values(), key=lambda j: -j.id)]


def _job(request: Request, job_id: int) -> Job:
    job = _jobs(request).jobs.get(job_id)
    if job is None:
        raise HTTPException(404, f"no backtest #{job_id}")
    return job


@router.get("/{job_id}")
def poll(request: Request, job_id: int,
         caller: Annotated[Caller, Depends(needs("viewer"))]) -> dict[str, Any]:
    return _job(request, job_id).view()


@router.get("/{job_id}/report")
def report(request: Request, job_id: int,
           caller: Annotated[Caller, Depends(needs("viewer"))]) -> dict[str, Any]:
    """The finished report: summary metrics, text, and whether a chart and CSV exist."""
    job = _job(request, job_id)
    if job.output is None:
        raise HTTPException(409, f"backtest #{job_id} is {job.state}"
                            + (f": {job.error}" if job.error else ""))
    out = job.output
    return {**job.view(), "text": out.text, "has_chart": out.report_png is not None,
            "has_trades": out.trades_csv is not None}


@router.get("/{job_id}/report.png", response_class=Response)
def report_png(request: Request, job_id: int,
               caller: Annotated[Caller, Depends(needs("viewer"))]) -> Response:
    job = _job(request, job_id)
    if job.output is None or job.output.report_png is None:
        raise HTTPException(404, "no chart for this backtest")
    return Response(job.output.report_png, media_type="image/png")


@router.get("/{job_id}/trades.csv", response_class=Response)
def report_csv(request: Request, job_id: int,
               caller: Annotated[Caller, Depends(needs("viewer"))]) -> Response:
    job = _job(request, job_id)
    if job.output is None or job.output.trades_csv is None:
        raise HTTPException(404, "no trades for this backtest")
    return Response(job.output.trades_csv, media_type="text/csv")
