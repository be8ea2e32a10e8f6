"""The finbert scorer on ONNX Runtime (fp32 and dynamic int8), on a tiny BERT built by the
test: the exported graph must give the torch model's probabilities."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("onnxruntime")
onnx = pytest.importorskip("onnx")

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
    "a " * 300,  # longer than max_length: truncated the same way on both paths
]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # hidden 64 so the logits are not all ~0 (a random 32-wide model barely separates)
    return build_random_bert(tmp_path_factory.mktemp("tinybert") / "model", hidden=64, seed=3)


@pytest.fixture(scope="module")
def reference(tiny: Path) -> list[tuple[float, float, float]]:
    return FinbertScorer(str(tiny), batch_size=3, torch_threads=1).probabilities(TEXTS)


def _close(a: list[tuple[float, float, float]], b: list[tuple[float, float, float]]) -> float:
    return max(abs(x - y) for ra, rb in zip(a, b, strict=True) for x, y in zip(ra, rb,
                                                                             strict=True))


def test_fp32_export_matches_torch(tiny: Path, tmp_path: Path,
                                   reference: list[tuple[float, float, float]]) -> None:
    sc = FinbertScorer(str(tiny), batch_size=3, runtime="onnx", quantize=False,
                       onnx_cache_dir=str(tmp_path))
    got = sc.probabilities(TEXTS)
    assert _close(got, reference) < 1e-4  # dynamic batch and sequence axes, padding
    out = sc.score(TEXTS)
    assert [s.label for s in out] == [s.label for s in
                                      FinbertScorer(str(tiny), batch_size=3).score(TEXTS)]
    assert out[3].event_type == "hack/exploit" and out[3].scorer == "finbert"


def test_int8_is_quantised_close_and_cached(tiny: Path, tmp_path: Path,
                                            reference: list[tuple[float, float, float]]) -> None:
    s = SentimentSettings(model=str(tiny), finbert_runtime="onnx", quantize=True,
                          onnx_cache_dir=str(tmp_path), batch_size=4)
    sc = make_scorer("finbert", s)
    assert isinstance(sc, FinbertScorer)
    got = sc.probabilities(TEXTS)
    path = sc._onnx.path if sc._onnx else None
    assert path is not None and path.name == "model.int8.onnx"
    ops = {n.op_type for n in onnx.load(str(path)).graph.node}
    assert {"MatMulInteger", "DynamicQuantizeLinear"} <= ops  # int8 weights, really
    assert 0 < _close(got, reference) < 0.02  # quantised: close, not identical
    stamp = path.stat().st_mtime_ns
    again = FinbertScorer(str(tiny), batch_size=4, runtime="onnx", quantize=True,
                          onnx_cache_dir=str(tmp_path))
    assert _close(again.probabilities(TEXTS), got) < 1e-6  # same batches, same numbers
    assert again._onnx is not None and again._onnx.path == path
    assert path.stat().st_mtime_ns == stamp  # loaded from the cache, not exported again


def test_onnx_load_errors_are_model_load_errors(tmp_path: Path) -> None:
    sc = FinbertScorer(str(tmp_path / "absent"), runtime="onnx", onnx_cache_dir=str(tmp_path))
    with pytest.raises(ModelLoadError, match="onnxruntime"):
        sc.score(["x"])
    with pytest.raises(ValueError, match="runtime"):
        FinbertScorer("x", runtime="tensorflow")
