"""`sentitrade sentiment train`: fit the shipped headline model, deterministically.

Data (see `sentiment/model/ORIGIN.md`): the Twitter Financial News set (MIT), train split
only; its validation split is for reporting and is never used to fit or choose anything.
The unlabelled 2025 crypto headlines (MIT/CC0) are used in two unsupervised ways:

1. class-prior adaptation (Saerens et al., 2002): EM on the model's probabilities over
   the crypto headlines estimates how often each class occurs there; the logits get
   `log(crypto prior / train prior)` added. Tweets are ~65% neutral, crypto headlines are
   not, and a model that keeps the tweet prior calls too much crypto news neutral;
2. self-training: crypto headlines the adapted model labels with probability >= 0.9 are
   added once to the training set at a lower weight, so crypto-only words ("airdrop",
   "unlock", "liquidations") get weights.

The regularisation strength is chosen by 5-fold cross-validation on train; the softmax
temperature is fitted on the out-of-fold logits of the same folds (so calibration is
fitted on held-out predictions, never on validation). Every step is seeded or exact.
"""

from __future__ import annotations

import csv
import gzip
import json
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import scipy.optimize
import scipy.sparse as sp

from sentiment.features import DENSE_NAMES, dense_features, index, sparse_features
from sentiment.lexicon import LexiconScorer
from sentiment.linear import CLASSES, F64, LinearModel, softmax

__all__ = ["TrainConfig", "load_crypto_titles", "load_twitter", "train"]

I64 = np.ndarray


@dataclass(frozen=True)
class TrainConfig:
    """Knobs of `train`; the defaults are what the shipped model was built with."""

    min_count: int = 2
    c_grid: tuple[float, ...] = (0.5, 1.0, 2.0)
    folds: int = 5
    self_train_threshold: float = 0.9
    self_train_weight: float = 0.3
    self_train_max: int = 8000
    seed: int = 14
    lexicon_weight: float = 2.0


def load_twitter(path: Path) -> tuple[list[str], np.ndarray]:
    """`text,label` rows (0 bearish, 1 bullish, 2 neutral) -> texts, int labels."""
    with path.open(encoding="utf-8", newline="") as fh:
        rows = [(r["text"], int(r["label"])) for r in csv.DictReader(fh)]
    return [t for t, _ in rows], np.array([y for _, y in rows], dtype=np.int64)


def load_crypto_titles(path: Path) -> list[str]:
    """Titles of the unlabelled crypto archive (`.jsonl.gz`), de-duplicated, in order."""
    seen: set[str] = set()
    out: list[str] = []
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            t = json.loads(line).get("title", "").strip()
            if t and t not in seen:
                seen.add(t)
                out.append(t)
    return out


def dense_matrix(texts: Sequence[str], lex: LexiconScorer | None = None) -> F64:
    """The rule scorer's features for each text (the same call the scorer makes)."""
    lex = lex or LexiconScorer()
    rows = []
    for t in texts:
        a, _ = lex.analyse(t)
        rows.append(dense_features(a.compound, a.event_type))
    return np.asarray(rows, dtype=np.float64).reshape(len(texts), len(DENSE_NAMES))


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


def _balanced_pick(proba: F64, prior: F64, total: int, threshold: float) -> list[int]:
    """Class-balanced pseudo-labels: per class, at most `total * prior[c]` headlines, the
    most confident first, each with probability >= `threshold` for that class.

    Without the quota the easy class dominates (confident positives are plentiful in
    crypto news) and self-training drifts further towards it (Zou et al., 2018).
    """
    best = proba.argmax(axis=1)
    keep: list[int] = []
    for c in range(proba.shape[1]):
        idx = np.flatnonzero((best == c) & (proba[:, c] >= threshold))
        idx = idx[np.argsort(-proba[idx, c], kind="stable")]
        keep.extend(int(i) for i in idx[: round(float(total * prior[c]))])
    return keep


def _folds(n: int, k: int, seed: int) -> list[np.ndarray]:
    perm = np.random.default_rng(seed).permutation(n)
    return [perm[i::k] for i in range(k)]


def oof_logits(x: sp.csr_matrix, y: np.ndarray, c: float, cfg: TrainConfig) -> F64:
    """Out-of-fold logits: each row predicted by a model that did not see it."""
    out = np.zeros((x.shape[0], len(CLASSES)))
    for test in _folds(x.shape[0], cfg.folds, cfg.seed):
        mask = np.ones(x.shape[0], dtype=bool)
        mask[test] = False
        w = fit_lr(x[mask], y[mask], c)
        out[test] = x[test] @ w[:-1] + w[-1]
    return out


def macro_f1(y: np.ndarray, pred: np.ndarray) -> float:
    """Mean F1 over the three classes."""
    f1s = []
    for c in range(len(CLASSES)):
        tp = int(((pred == c) & (y == c)).sum())
        p = int((pred == c).sum())
        r = int((y == c).sum())
        f1s.append(2 * tp / (p + r) if p + r else 0.0)
    return float(np.mean(f1s))


def crypto_temperature(model: LinearModel, calib_csv: Path) -> float:
    """Temperature of the crypto-adapted logits, fitted on a hand-labelled crypto sample
    (`title,label` CSV: the dev sample, never the test one)."""
    with calib_csv.open(encoding="utf-8", newline="") as fh:
        rows = [(r["title"], r["label"]) for r in csv.DictReader(fh)]
    texts = [t for t, _ in rows]
    y = np.array([CLASSES.index(lab) for _, lab in rows], dtype=np.int64)
    z = model.logits(texts, dense_matrix(texts), calibrated=False)
    if model.prior_shift is not None:
        z = z + model.prior_shift
    return fit_temperature(z, y)


def train(train_csv: Path, crypto_jsonl: Path | None, cfg: TrainConfig = TrainConfig(),
          log: Callable[[str], None] = print,
          calib_csv: Path | None = None) -> tuple[LinearModel, dict[str, object]]:
    """Fit the model; returns it with a report of every choice made on the way."""
    lex = LexiconScorer()
    texts, y = load_twitter(train_csv)
    feats = [sparse_features(t) for t in texts]
    dense = dense_matrix(texts, lex)
    vocab = build_vocab(feats, cfg.min_count)
    x = design(feats, vocab, dense)
    log(f"train: {len(texts)} rows, {len(vocab)} features")
    cv: dict[str, float] = {}
    best_c, best_f1, best_oof = cfg.c_grid[0], -1.0, np.zeros(0)
    for c in cfg.c_grid:
        oof = oof_logits(x, y, c, cfg)
        f1 = macro_f1(y, oof.argmax(axis=1))
        cv[str(c)] = round(f1, 4)
        log(f"  C={c}: {cfg.folds}-fold CV macro-F1 {f1:.4f}")
        if f1 > best_f1:
            best_c, best_f1, best_oof = c, f1, oof
    lex_dir = np.array([-1.0, 1.0, 0.0])  # the rule score pushes negative <-> positive
    lex_oof = cfg.lexicon_weight * dense[:, :1] * lex_dir
    temperature = fit_temperature(best_oof + lex_oof, y)
    train_prior = np.bincount(y, minlength=3) / len(y)
    report: dict[str, object] = {"rows": len(texts), "cv_macro_f1": cv, "C": best_c,
                                 "lexicon_weight": cfg.lexicon_weight}
    shift = np.zeros(3)
    weights = None
    n_tw = len(texts)
    if crypto_jsonl is not None:
        titles = load_crypto_titles(crypto_jsonl)
        cfeats = [sparse_features(t) for t in titles]
        cdense = dense_matrix(titles, lex)
        w = fit_lr(x, y, best_c)
        xc = design(cfeats, vocab, cdense)
        zc = xc @ w[:-1] + w[-1] + cfg.lexicon_weight * cdense[:, :1] * lex_dir
        crypto_prior = em_priors(softmax(zc / temperature), train_prior)
        shift = np.log(crypto_prior / train_prior)
        log(f"crypto prior (EM over {len(titles)} headlines): "
            + ", ".join(f"{c} {p:.3f}" for c, p in zip(CLASSES, crypto_prior, strict=True)))
        report["crypto_prior"] = [round(float(p), 4) for p in crypto_prior]
        # self-training: the rules + model ensemble labels the confident crypto headlines
        pa = softmax((zc + shift) / temperature)
        keep = _balanced_pick(pa, crypto_prior, cfg.self_train_max, cfg.self_train_threshold)
        keep.sort()
        pseudo = pa.argmax(axis=1)[keep]
        log(f"self-training: {len(keep)} crypto headlines at p >= {cfg.self_train_threshold} "
            f"({', '.join(f'{c} {int((pseudo == i).sum())}' for i, c in enumerate(CLASSES))})")
        report["self_training"] = {"rows": len(keep), "weight": cfg.self_train_weight,
                                   "threshold": cfg.self_train_threshold}
        if keep:
            all_feats = feats + [cfeats[i] for i in keep]
            vocab = build_vocab(all_feats, cfg.min_count)
            dense = np.vstack([dense, cdense[keep]])
            x = design(all_feats, vocab, dense)
            y = np.concatenate([y, pseudo])
            weights = np.concatenate([np.ones(n_tw), np.full(len(keep),
                                                             cfg.self_train_weight)])
            # recalibrate on out-of-fold tweets of the final procedure
            oof = np.zeros((n_tw, 3))
            for test in _folds(n_tw, cfg.folds, cfg.seed):
                mask = np.ones(len(y), dtype=bool)
                mask[test] = False
                wf = fit_lr(x[mask], y[mask], best_c, weights[mask])
                oof[test] = x[test] @ wf[:-1] + wf[-1]
            temperature = fit_temperature(oof + lex_oof, y[:n_tw])
            report["cv_macro_f1_final"] = round(macro_f1(y[:n_tw], (oof + lex_oof).argmax(1)), 4)
    report["temperature"] = round(temperature, 4)
    w = fit_lr(x, y, best_c, weights)
    nv = len(vocab)
    dense_w = w[nv:-1].copy()
    dense_w[0] += cfg.lexicon_weight * lex_dir
    model = LinearModel(vocab=vocab, sparse_w=w[:nv], dense_w=dense_w, bias=w[-1],
                        temperature=temperature, prior_shift=shift if shift.any() else None,
                        meta=json.dumps(report, sort_keys=True))
    report["features"] = nv
    if calib_csv is not None and model.prior_shift is not None:
        ct = crypto_temperature(model, calib_csv)
        report["crypto_temperature"] = round(ct, 4)
        log(f"crypto temperature (fitted on {calib_csv.name}): {ct:.4f}")
        model = replace(model, crypto_temperature=ct,
                        meta=json.dumps(report, sort_keys=True))
    return model, report
