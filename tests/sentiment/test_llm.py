"""The openai scorer driven with the real openai client against a loopback fake server."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from sentiment.config import SentimentSettings
from sentiment.errors import BudgetExceeded, ScorerError
from sentiment.lexicon import LexiconScorer
from sentiment.llm import OpenAIScorer
from sentiment.scorers import EnsembleScorer, make_scorer
from tests.fakes.openai_server import FakeOpenAI, Reply

KEY = "sk-test-SECRET-42"
FAST = {"retry-after-ms": "5"}  # the openai client honours it: keeps retries quick


@pytest.fixture
def api() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as a:
        yield a


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 5, 1, 23, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def scorer(api: FakeOpenAI, **kw: object) -> OpenAIScorer:
    args: dict[str, object] = {"base_url": api.base_url, "api_key": KEY, "model": "fake-4o",
                               "batch_size": 2, "max_retries": 1, "timeout_s": 5.0,
                               "fallback": LexiconScorer()}
    args.update(kw)
    return OpenAIScorer(**args)  # type: ignore[arg-type]


HEADLINES = ["Exchange hack drains $50M", "SEC approves spot ETF for bitcoin",
             "Ethereum devs meet on Thursday", "Solana network rally continues",
             "Token delisted from major exchange"]


async def test_batches_structured_output_and_auth(api: FakeOpenAI) -> None:
    sc = scorer(api)
    out = await sc.ascore(HEADLINES)
    assert [s.label for s in out] == ["negative", "positive", "neutral", "positive", "negative"]
    assert all(s.scorer == "openai" for s in out)
    assert out[0].event_type == "hack/exploit" and out[0].impact == 8
    assert out[1].symbols == ("BTC",) and out[1].reasoning
    assert len(api.requests) == 3  # 5 headlines, 2 per request
    req = api.requests[0]
    assert req["model"] == "fake-4o" and req["response_format"]["type"] == "json_schema"
    assert req["response_format"]["json_schema"]["strict"] is True
    auth = {k.lower(): v for k, v in api.headers[0].items()}["authorization"]
    assert auth == f"Bearer {KEY}"


async def test_cache_by_content_hash(api: FakeOpenAI) -> None:
    sc = scorer(api)
    await sc.ascore(["Bitcoin rally", "Bitcoin rally", "Ether hack"])
    assert len(api.requests) == 1  # the duplicate went out once
    again = await sc.ascore(["Ether hack", "Bitcoin rally"])
    assert len(api.requests) == 1 and [s.label for s in again] == ["negative", "positive"]
    other_model = scorer(api, model="other")
    assert other_model.cache_key("x") != sc.cache_key("x")


async def test_retries_then_success(api: FakeOpenAI) -> None:
    api.fail(Reply(500, headers=FAST))
    out = await scorer(api).ascore(["Bitcoin rally"])
    assert out[0].scorer == "openai" and len(api.requests) == 2


@pytest.mark.parametrize(
    "fault",
    [
        Reply(503, headers=FAST),
        Reply(content="this is not json"),
        Reply(content='{"items": [{"id": 0, "label": "positive"}]}'),  # schema violation
        Reply(drop=1),  # answers only one of two headlines
        Reply(400, body=b'{"error": {"message": "bad", "type": "invalid_request_error"}}'),
    ],
)
async def test_failures_fall_back_to_lexicon(api: FakeOpenAI, fault: Reply) -> None:
    api.fail(fault, fault)  # also the retry, where the client retries
    sc = scorer(api)
    out = await sc.ascore(["Exchange hacked, funds stolen", "SEC approves ETF"])
    assert [s.scorer for s in out] == ["lexicon", "lexicon"]
    assert [s.label for s in out] == ["negative", "positive"]
    await sc.ascore(["Exchange hacked, funds stolen"])  # fallback verdicts are not cached
    assert sum(1 for r in api.requests if r) >= 2


async def test_timeout_falls_back(api: FakeOpenAI) -> None:
    api.fail(Reply(delay=1.0))
    out = await scorer(api, timeout_s=0.2, max_retries=0).ascore(["Ether plunges"])
    assert out[0].scorer == "lexicon"


async def test_no_fallback_raises(api: FakeOpenAI) -> None:
    api.fail(Reply(500, headers=FAST), Reply(500, headers=FAST))
    with pytest.raises(ScorerError, match="HTTP 500"):
        await scorer(api, fallback=None).ascore(["x"])


async def test_daily_request_budget_alerts_once_and_resets(api: FakeOpenAI) -> None:
    alerts: list[str] = []
    clock = Clock()
    sc = scorer(api, daily_requests=2, alert=alerts.append, clock=clock, batch_size=1)
    out = await sc.ascore(["a rally", "b rally", "c hack", "d hack"])
    assert len(api.requests) == 2
    assert [s.scorer for s in out] == ["openai", "openai", "lexicon", "lexicon"]
    assert len(alerts) == 1 and "daily request budget (2) spent" in alerts[0]
    await sc.ascore(["e hack"])
    assert len(alerts) == 1 and len(api.requests) == 2
    clock.now += timedelta(hours=2)  # next UTC day
    assert (await sc.ascore(["f rally"]))[0].scorer == "openai"
    assert len(api.requests) == 3


async def test_token_budget_without_fallback_raises(api: FakeOpenAI) -> None:
    alerts: list[str] = []
    sc = scorer(api, daily_tokens=150, fallback=None, alert=alerts.append, batch_size=1)
    await sc.ascore(["one rally", "two rally"])  # 100 tokens each: second crosses 150
    with pytest.raises(BudgetExceeded, match="token budget"):
        await sc.ascore(["three rally"])
    assert len(api.requests) == 2 and len(alerts) == 1


async def test_api_key_never_logged(api: FakeOpenAI, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    api.fail(Reply(500, headers=FAST), Reply(500, headers=FAST))
    out = await scorer(api).ascore(["Bitcoin rally"])
    assert out[0].scorer == "lexicon"
    assert "falling back" in caplog.text and KEY not in caplog.text
    assert KEY not in repr(SentimentSettings(openai_api_key=KEY))


def test_sync_score_and_factory(api: FakeOpenAI) -> None:
    s = SentimentSettings(scorer="openai", openai_base_url=api.base_url, openai_api_key=KEY,
                          openai_model="fake-4o", openai_batch_size=10)
    sc = make_scorer(None, s)
    assert isinstance(sc, OpenAIScorer)
    out = sc.score(["Bitcoin rally", "Ether hack"])  # sync path, its own event loop
    assert [x.label for x in out] == ["positive", "negative"]
    assert len(api.requests) == 1
    ens = make_scorer("ensemble", s.model_copy(update={
        "ensemble_weights": {"lexicon": 1.0, "openai": 1.0}}))
    assert isinstance(ens, EnsembleScorer)
    res = ens.score(["Exchange hack drains funds", "SEC approves ETF"])
    assert [x.label for x in res] == ["negative", "positive"]
    assert all(x.scorer == "ensemble" for x in res)


async def test_sync_score_inside_loop_is_refused(api: FakeOpenAI) -> None:
    with pytest.raises(ScorerError, match="ascore"):
        scorer(api).score(["x"])


async def test_ensemble_survives_a_failing_member(api: FakeOpenAI) -> None:
    ens = EnsembleScorer({"lexicon": (LexiconScorer(), 1.0),
                          "openai": (scorer(api, fallback=None), 3.0)})
    api.fail(Reply(500, headers=FAST), Reply(500, headers=FAST))
    out = await ens.ascore(["Ether hack"])
    assert out[0].label == "negative"
    both = await ens.ascore(["SEC approves bitcoin ETF"])
    assert both[0].label == "positive" and both[0].score == pytest.approx(
        (1.0 * LexiconScorer().score(["SEC approves bitcoin ETF"])[0].score + 3.0 * 0.7) / 4.0)
