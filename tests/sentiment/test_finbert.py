"""The finbert scorer on a tiny BERT classifier built and saved offline by the test."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from sentiment._tinybert import build_random_bert  # noqa: E402
from sentiment.config import SentimentSettings  # noqa: E402
from sentiment.errors import ModelLoadError  # noqa: E402
from sentiment.finbert import FinbertScorer  # noqa: E402
from sentiment.scorers import make_scorer  # noqa: E402

TEXTS = [
    "Bitcoin rallies",
    "SEC sues the exchange over unregistered securities offerings in a long complaint",
    "",
    "Ether hack drains $40 million from a bridge; the team pauses deposits and withdrawals",
    "ETF approved",
    "Solana outage halts block production for hours",
]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_random_bert(tmp_path_factory.mktemp("tinybert") / "model", seed=1)


@pytest.fixture(scope="module")
def scorer(tiny: Path) -> FinbertScorer:
    return FinbertScorer(str(tiny), batch_size=4, torch_threads=1)


def test_loads_local_path_through_pipeline(scorer: FinbertScorer) -> None:
    pipe = scorer.pipeline
    assert pipe.task == "text-classification"
    out = scorer.score(TEXTS)
    assert len(out) == len(TEXTS)
    for s in out:
        assert s.scorer == "finbert" and -1 <= s.score <= 1 and 0 <= s.confidence <= 1
    assert out[3].event_type == "hack/exploit" and out[3].symbols == ("ETH",)  # from rules


def test_batched_sorted_padded_equals_naive_pipeline(scorer: FinbertScorer) -> None:
    """Length sorting and dynamic padding must not change any probability."""
    pipe = scorer.pipeline
    fast = scorer.probabilities(TEXTS)
    for text, (pp, pn, pu) in zip(TEXTS, fast, strict=True):
        naive = {d["label"]: d["score"] for d in pipe(text or " ", top_k=None)}
        assert naive["positive"] == pytest.approx(pp, abs=1e-5)
        assert naive["negative"] == pytest.approx(pn, abs=1e-5)
        assert naive["neutral"] == pytest.approx(pu, abs=1e-5)


def test_label_mapping_follows_config(tiny: Path) -> None:
    sc = FinbertScorer(str(tiny))
    with torch.no_grad():
        bias = sc.pipeline.model.classifier.bias
        bias.zero_()
        bias[1] = 20.0  # id 1 is "negative" in the saved config
    out = sc.score(["Bitcoin rallies to a record", "ETF approved"])
    assert [s.label for s in out] == ["negative", "negative"]
    assert all(s.score < -0.99 and s.confidence > 0.99 for s in out)


def test_int8_dynamic_quantisation(tiny: Path, scorer: FinbertScorer) -> None:
    q = FinbertScorer(str(tiny), quantize=True)
    names = {type(m).__module__ for m in q.pipeline.model.modules()}
    assert any("quantized" in n for n in names)
    ref = scorer.probabilities(TEXTS)
    got = q.probabilities(TEXTS)
    for a, b in zip(ref, got, strict=True):
        assert a == pytest.approx(b, abs=0.05)


async def test_ascore_runs_off_the_event_loop(scorer: FinbertScorer,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[int] = []
    real = scorer.probabilities

    def spy(texts):  # type: ignore[no-untyped-def]
        seen.append(threading.get_ident())
        return real(texts)

    monkeypatch.setattr(scorer, "probabilities", spy)
    out = await scorer.ascore(TEXTS[:2])
    assert len(out) == 2 and seen and seen[0] != threading.get_ident()


def test_bad_model_path_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="cannot load model"):
        FinbertScorer(str(tmp_path / "nope")).score(["x"])


def test_factory_uses_settings(tiny: Path) -> None:
    sc = make_scorer("finbert", SentimentSettings(model=str(tiny), batch_size=3, torch_threads=1))
    assert isinstance(sc, FinbertScorer) and sc.batch_size == 3
    assert len(sc.score(["a", "b", "c", "d"])) == 4
