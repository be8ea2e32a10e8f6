"""The numerical pieces of `sentitrade sentiment train`: design matrices, a multinomial
logistic regression, temperature scaling, EM class priors, folds and macro-F1.

Kept apart from `sentiment.train` (which decides what is fitted on what) so that the
procedure reads in one sitting and these pieces can be tested on toy data. scipy and
numpy only; every step is exact or seeded, so training is deterministic.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np
import scipy.optimize
import scipy.sparse as sp

from sentiment.features import index
from sentiment.linear import CLASSES, F64, softmax

__all__ = ["balanced_pick", "build_vocab", "design", "em_priors", "fit_lr",
           "fit_temperature", "folds", "macro_f1"]


def build_vocab(feature_lists: Sequence[list[str]], min_count: int) -> dict[str, int]:
    """Features seen in at least `min_count` texts, sorted for a deterministic order."""
    df: Counter[str] = Counter()
    for fs in feature_lists:
        df.update(set(fs))
    words = sorted(w for w, c in df.items() if c >= min_count)
    return {w: i for i, w in enumerate(words)}


def design(feature_lists: Sequence[list[str]], vocab: dict[str, int], dense: F64) -> sp.csr_matrix:
    """Binary sparse features next to the dense ones, one row per text."""
    indptr = [0]
    cols: list[int] = []
    for fs in feature_lists:
        cols.extend(sorted(set(index(fs, vocab))))
        indptr.append(len(cols))
    xs = sp.csr_matrix((np.ones(len(cols)), np.array(cols, dtype=np.int64), indptr),
                       shape=(len(feature_lists), len(vocab)))
    return sp.hstack([xs, sp.csr_matrix(dense)], format="csr")


def fit_lr(x: sp.csr_matrix, y: np.ndarray, c: float, weights: F64 | None = None) -> F64:
    """Multinomial logistic regression, L2 (not on the bias), L-BFGS; returns (F+1, 3)."""
    n, f = x.shape
    k = len(CLASSES)
    w_s = np.ones(n) if weights is None else weights
    yo = np.zeros((n, k))
    yo[np.arange(n), y] = 1.0
    lam = 1.0 / c

    def loss(theta: F64) -> tuple[float, F64]:
        w = theta.reshape(f + 1, k)
        z = x @ w[:f] + w[f]
        z -= z.max(axis=1, keepdims=True)
        lse = np.log(np.exp(z).sum(axis=1, keepdims=True))
        logp = z - lse
        nll = -float((w_s[:, None] * yo * logp).sum())
        g_z = (np.exp(logp) - yo) * w_s[:, None]
        grad = np.vstack([x.T @ g_z + lam * w[:f], g_z.sum(axis=0, keepdims=True)])
        return nll + 0.5 * lam * float((w[:f] ** 2).sum()), grad.ravel()

    res = scipy.optimize.minimize(loss, np.zeros((f + 1) * k), jac=True, method="L-BFGS-B",
                                  options={"maxiter": 500})
    out: F64 = res.x.reshape(f + 1, k)
    return out


def fit_temperature(logits: F64, y: np.ndarray) -> float:
    """The T minimising the log-loss of softmax(logits / T): one parameter, cannot reorder."""
    def nll(t: float) -> float:
        p = softmax(logits / t)
        return -float(np.log(p[np.arange(len(y)), y] + 1e-12).mean())

    res = scipy.optimize.minimize_scalar(nll, bounds=(0.05, 10.0), method="bounded")
    return float(res.x)


def em_priors(proba: F64, train_prior: F64, iters: int = 100) -> F64:
    """Saerens-Latinne-Decaestecker EM: class priors of unlabelled data from the
    probabilities of a model calibrated on data with `train_prior`."""
    prior = train_prior.copy()
    for _ in range(iters):
        adj = proba * (prior / train_prior)
        adj /= adj.sum(axis=1, keepdims=True)
        new = adj.mean(axis=0)
        if np.abs(new - prior).max() < 1e-6:
            return new
        prior = new
    return prior


def balanced_pick(proba: F64, prior: F64, total: int, threshold: float) -> list[int]:
    """Class-balanced pseudo-labels: per class, at most `total * prior[c]` rows, the most
    confident first, each with probability >= `threshold` for that class; sorted.

    Without the quota the easy class dominates (confident positives are plentiful in
    crypto news) and self-training drifts further towards it (Zou et al., 2018).
    """
    best = proba.argmax(axis=1)
    keep: list[int] = []
    for c in range(proba.shape[1]):
        idx = np.flatnonzero((best == c) & (proba[:, c] >= threshold))
        idx = idx[np.argsort(-proba[idx, c], kind="stable")]
        keep.extend(int(i) for i in idx[: round(float(total * prior[c]))])
    return sorted(keep)


def folds(n: int, k: int, seed: int) -> list[np.ndarray]:
    """`k` disjoint test folds covering range(n), from a seeded permutation."""
    perm = np.random.default_rng(seed).permutation(n)
    return [perm[i::k] for i in range(k)]


def macro_f1(y: np.ndarray, pred: np.ndarray) -> float:
    """Mean F1 over the three classes."""
    f1s = []
    for c in range(len(CLASSES)):
        tp = int(((pred == c) & (y == c)).sum())
        p = int((pred == c).sum())
        r = int((y == c).sum())
        f1s.append(2 * tp / (p + r) if p + r else 0.0)
    return float(np.mean(f1s))
