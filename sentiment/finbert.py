"""The `finbert` scorer: a transformers text-classification model (ProsusAI/finbert by
default, or any hub id / local path with positive/negative/neutral labels).

The model is loaded through `transformers.pipeline(...)` (the real loading path: hub id or
local directory, config, tokenizer), then scored by our own loop because the pipeline
call, one text at a time, wastes most of the time on Python overhead and padding:

* texts sorted by length, cut into `batch_size` batches, each padded only to its own
  longest member (dynamic padding), under `torch.inference_mode()`;
* `torch_threads` sets intra-op threads (0 = torch's default);
* `quantize=True` applies int8 dynamic quantisation to the Linear layers (CPU);
* `runtime="onnx"` exports the model once to ONNX and runs it with ONNX Runtime
  (`sentiment.onnxrt`; with `quantize`, onnxruntime's dynamic int8 quantisation);
* `ascore` runs in a worker thread so the event loop keeps serving while the model works.

Score: label = argmax, score = p(positive) - p(negative), confidence = max probability;
event type and impact come from the lexicon's rules (a classifier has no notion of them).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sentiment.config import SentimentSettings
from sentiment.errors import ModelLoadError, ScorerError
from sentiment.items import EventType, Label, MarketContexts, Score
from sentiment.lexicon import LexiconScorer

if TYPE_CHECKING:
    from sentiment.onnxrt import OnnxClassifier

__all__ = ["FinbertScorer"]

log = logging.getLogger(__name__)

_WANTED = ("positive", "negative", "neutral")


def _label_index(model_id: str, id2label: dict[int, str]) -> tuple[int, int, int]:
    """Positions of the positive, negative and neutral logits; `ModelLoadError` if the
    model's labels are not those three."""
    pos = {v: k for k, v in id2label.items()}
    if not all(w in pos for w in _WANTED):
        raise ModelLoadError(f"model {model_id!r} labels {sorted(id2label.values())} are not "
                             "positive/negative/neutral")
    return pos["positive"], pos["negative"], pos["neutral"]


class FinbertScorer:
    """Batched, length-sorted, dynamically padded transformer classification."""

    name = "finbert"

    def __init__(
        self,
        model: str = "ProsusAI/finbert",
        *,
        batch_size: int = 32,
        max_length: int = 128,
        torch_threads: int = 0,
        quantize: bool = False,
        lexicon: LexiconScorer | None = None,
        runtime: str = "torch",
        onnx_cache_dir: str = "",
    ) -> None:
        if runtime not in ("torch", "onnx"):
            raise ValueError(f"runtime must be torch or onnx, got {runtime!r}")
        if batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        self.model_id = model
        self.batch_size = batch_size
        self.max_length = max_length
        self.torch_threads = torch_threads
        self.quantize = quantize
        self._lexicon = lexicon or LexiconScorer()
        self._lock = threading.Lock()
        self._pipe: Any = None
        self._index: tuple[int, int, int] | None = None  # positions of pos/neg/neu logits
        self.runtime = runtime
        self._onnx: OnnxClassifier | None = None
        if runtime == "onnx":
            from pathlib import Path

            from sentiment.onnxrt import OnnxClassifier

            self._onnx = OnnxClassifier(model, quantize=quantize, threads=torch_threads,
                                        cache_dir=Path(onnx_cache_dir) if onnx_cache_dir
                                        else None)

    @classmethod
    def from_settings(cls, s: SentimentSettings) -> FinbertScorer:
        return cls(s.model, batch_size=s.batch_size, max_length=s.max_length,
                   torch_threads=s.torch_threads, quantize=s.quantize,
                   runtime=s.finbert_runtime, onnx_cache_dir=s.onnx_cache_dir,
                   lexicon=LexiconScorer(extra_lexicon=s.extra_lexicon,
                                         aliases=s.symbol_aliases))

    @property
    def pipeline(self) -> Any:
        """The loaded transformers pipeline (loads on first use)."""
        self.load()
        return self._pipe

    def load(self) -> None:
        """Load model and tokenizer once; raises `ModelLoadError` with the reason."""
        if self._onnx is not None:
            self._onnx.load()
            self._index = _label_index(self.model_id, self._onnx.id2label)
            return
        with self._lock:
            if self._pipe is not None:
                return
            try:
                import torch
                import transformers
            except ImportError as exc:
                raise ModelLoadError(
                    f"finbert needs torch and transformers (pip install 'sentitrade[finbert]'):"
                    f" {exc}") from None
            if self.torch_threads:
                torch.set_num_threads(self.torch_threads)
            try:
                pipe = transformers.pipeline("text-classification", model=self.model_id,
                                             tokenizer=self.model_id, device=-1)
            except Exception as exc:  # OSError, ValueError, HF hub errors: all "cannot load"
                raise ModelLoadError(
                    f"cannot load model {self.model_id!r}: {type(exc).__name__}: "
                    f"{str(exc).splitlines()[0] if str(exc) else ''}") from None
            raw_labels = getattr(pipe.model.config, "id2label", None) or {}
            index = _label_index(self.model_id,
                                 {int(k): str(v).lower() for k, v in raw_labels.items()})
            pipe.model.eval()
            if self.quantize:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    pipe.model = torch.ao.quantization.quantize_dynamic(
                        pipe.model, {torch.nn.Linear}, dtype=torch.qint8)
            self._index = index
            self._pipe = pipe

    def probabilities(self, texts: Sequence[str]) -> list[tuple[float, float, float]]:
        """(p_pos, p_neg, p_neu) per text, in input order."""
        self.load()
        if self._onnx is not None:
            return self._onnx_probabilities(texts)
        import torch

        assert self._index is not None
        tok = self._pipe.tokenizer
        model = self._pipe.model
        ip, ineg, ineu = self._index
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out: list[tuple[float, float, float]] = [(0.0, 0.0, 1.0)] * len(texts)
        try:
            with self._lock, torch.inference_mode():
                for start in range(0, len(order), self.batch_size):
                    idx = order[start : start + self.batch_size]
                    enc = tok([texts[i] or " " for i in idx], padding=True, truncation=True,
                              max_length=self.max_length, return_tensors="pt")
                    probs = torch.softmax(model(**enc).logits.float(), dim=-1).tolist()
                    for i, p in zip(idx, probs, strict=True):
                        out[i] = (p[ip], p[ineg], p[ineu])
        except RuntimeError as exc:
            raise ScorerError(f"finbert inference failed: {exc}") from None
        return out

    def _onnx_probabilities(self, texts: Sequence[str]) -> list[tuple[float, float, float]]:
        import numpy as np

        assert self._onnx is not None and self._index is not None
        ip, ineg, ineu = self._index
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out: list[tuple[float, float, float]] = [(0.0, 0.0, 1.0)] * len(texts)
        for start in range(0, len(order), self.batch_size):
            idx = order[start : start + self.batch_size]
            z = self._onnx.logits([texts[i] for i in idx], self.max_length).astype(np.float64)
            e = np.exp(z - z.max(axis=1, keepdims=True))
            p = (e / e.sum(axis=1, keepdims=True)).tolist()
            for i, row in zip(idx, p, strict=True):
                out[i] = (row[ip], row[ineg], row[ineu])
        return out

    def score(self, texts: Sequence[str], context: MarketContexts | None = None) -> list[Score]:
        """Score each text (`context` is ignored: a classifier reads the text alone)."""
        if not texts:
            return []
        probs = self.probabilities(texts)
        out: list[Score] = []
        for text, (pp, pn, pu) in zip(texts, probs, strict=True):
            a, syms = self._lexicon.analyse(text)
            label: Label = ("positive" if pp >= pn and pp >= pu
                            else "negative" if pn >= pu else "neutral")
            et: EventType = a.event_type  # type: ignore[assignment]
            out.append(Score(label=label, score=max(-1.0, min(1.0, pp - pn)),
                             confidence=max(0.0, min(1.0, max(pp, pn, pu))), event_type=et,
                             impact=a.impact, symbols=syms, scorer=self.name))
        return out

    async def ascore(self, texts: Sequence[str],
                     context: MarketContexts | None = None) -> list[Score]:
        """Off the event loop: inference holds the GIL-free torch kernels in a thread."""
        return await asyncio.to_thread(self.score, texts)
