"""The shipped headline model at run time: a multinomial logistic regression over the
features of `sentiment.features`, stored as one small `.npz` in `sentiment/model/`.

Only numpy at run time: the file holds the vocabulary (one newline-joined string), the
sparse weights (vocabulary x 3), the dense weights (whose last row is the crypto class
bias), the bias and two calibration temperatures (finance text, crypto headlines).
Loading is a `np.load` plus one `dict(zip(...))`: tens of milliseconds, well under the 0.5 s budget.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt

from sentiment.errors import ModelLoadError
from sentiment.features import CRYPTO_COL, DENSE_NAMES, feature_ids

__all__ = ["CLASSES", "DEFAULT_MODEL", "LinearModel", "default_model"]

CLASSES: Final[tuple[str, str, str]] = ("negative", "positive", "neutral")
"""Column order of every weight matrix (the training data's 0/1/2 order)."""

DEFAULT_MODEL: Final = Path(__file__).resolve().parent / "model" / "headline_lr.npz"

F64 = npt.NDArray[np.float64]


@dataclass(frozen=True)
class LinearModel:
    """Weights plus what turns logits into calibrated probabilities.

    The logits are divided by a temperature per row: `temperature` (fitted on
    out-of-fold predictions of the finance tweets) for finance text, `crypto_temperature`
    (fitted on out-of-fold predictions of the hand-labelled crypto headlines) for rows
    whose dense `crypto` feature is set. One temperature for both would be wrong for
    both: the model is surer, and right more often, on the tweets it was trained on.
    """

    vocab: dict[str, int]
    sparse_w: F64  # (V, 3)
    dense_w: F64  # (D, 3)
    bias: F64  # (3,)
    temperature: float = 1.0
    meta: str = ""
    crypto_temperature: float | None = None
    _memo: dict[str, tuple[str, int | None, int | None]] = field(
        default_factory=dict, repr=False, compare=False)

    @classmethod
    def load(cls, path: Path = DEFAULT_MODEL) -> LinearModel:
        """Read a model file written by `save`; `ModelLoadError` if absent or malformed."""
        try:
            with np.load(path, allow_pickle=False) as z:
                words = str(z["vocab"]).split("\n") if z["vocab"].size else []
                ct = float(z["crypto_temperature"]) if "crypto_temperature" in z.files else 0.0
                if z["dense_w"].shape != (len(DENSE_NAMES), len(CLASSES)):
                    raise ValueError(f"dense weights {z['dense_w'].shape} do not match the "
                                     f"{len(DENSE_NAMES)} dense features of this version "
                                     "(retrain: sentitrade sentiment train)")
                return cls(
                    vocab=dict(zip(words, range(len(words)), strict=True)),
                    sparse_w=z["sparse_w"].astype(np.float64),
                    dense_w=z["dense_w"].astype(np.float64),
                    bias=z["bias"].astype(np.float64),
                    temperature=float(z["temperature"]),
                    meta=str(z["meta"]),
                    crypto_temperature=ct or None,
                )
        except (OSError, KeyError, ValueError) as exc:
            raise ModelLoadError(f"cannot load headline model {path}: {exc}") from None

    def save(self, path: Path) -> None:
        """Write compactly (float16 sparse weights: ~0.1% rounding, a third of the size)."""
        words = sorted(self.vocab, key=self.vocab.__getitem__)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as fh:
            np.savez_compressed(
                fh, vocab=np.array("\n".join(words)),
                sparse_w=self.sparse_w.astype(np.float16), dense_w=self.dense_w,
                bias=self.bias, temperature=np.array(self.temperature),
                meta=np.array(self.meta),
                crypto_temperature=np.array(self.crypto_temperature or 0.0),
            )

    def logits(self, texts: Sequence[str], dense: F64, *, calibrated: bool = True) -> F64:
        """Raw class scores (n, 3): sparse rows summed with one `reduceat`, then dense."""
        vocab = self.vocab
        memo = self._memo
        flat: list[int] = []
        starts = np.empty(len(texts), dtype=np.int64)
        empty = np.zeros(len(texts), dtype=bool)
        for k, t in enumerate(texts):
            starts[k] = len(flat)
            ids = feature_ids(t, vocab, memo)
            if not ids:
                empty[k] = True
                ids = [0]  # placeholder row, zeroed below
            flat.extend(ids)
        if flat:
            z = np.add.reduceat(self.sparse_w[np.asarray(flat, dtype=np.int64)], starts, axis=0)
            z[empty] = 0.0
        else:
            z = np.zeros((len(texts), 3))
        z += dense @ self.dense_w + self.bias
        if calibrated:
            z /= self.temperatures(dense)[:, None]
        return z

    def temperatures(self, dense: F64) -> F64:
        """Each row's temperature: the crypto one where the row's `crypto` feature is set."""
        t = np.full(dense.shape[0], self.temperature)
        if self.crypto_temperature:
            t[dense[:, CRYPTO_COL] > 0] = self.crypto_temperature
        return t

    def proba(self, texts: Sequence[str], dense: F64) -> F64:
        """Calibrated class probabilities (n, 3) in `CLASSES` order."""
        return softmax(self.logits(texts, dense))


def softmax(z: F64) -> F64:
    """Row-wise softmax, stable for large logits."""
    e = np.exp(z - z.max(axis=1, keepdims=True))
    out: F64 = e / e.sum(axis=1, keepdims=True)
    return out


@lru_cache(maxsize=1)
def default_model() -> LinearModel:
    """The model shipped in the package, loaded once per process."""
    return LinearModel.load(DEFAULT_MODEL)
