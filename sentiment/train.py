"""`sentitrade sentiment train`: fit the shipped headline model, deterministically.

Data (see `sentiment/model/ORIGIN.md`):

* the Twitter Financial News set (MIT), train split only; its validation split is for
  reporting and is never used to fit or choose anything;
* hand-labelled crypto headlines (`--crypto-labelled`: the dev samples in
  `tests/sentiment/data/`, never the frozen test file) as training rows with a weight
  chosen by cross-validation over those rows;
* the unlabelled 2025 crypto headlines (MIT/CC0), minus every hand-labelled headline
  (test included, `--exclude`), for self-training: headlines the model labels with
  probability >= 0.9, class-balanced by the crypto class prior that EM (Saerens et
  al., 2002) estimates over the archive, are added once at a lower weight, so
  crypto-only words ("airdrop", "unlock", "liquidations") get weights.

The dense `crypto` feature (`features.crypto_domain`) lets the model learn a separate
class bias for crypto headlines from the crypto rows, so the tweets keep their own prior.

Choices: the regularisation C and the weight of the hand-labelled crypto rows, jointly,
by 5-fold CV over those rows (every other row always in training): the model is for
crypto news, so it is chosen on crypto news. The tweets-only model that pseudo-labels
the archive uses `pseudo_c`. Calibration: the finance temperature is fitted on
out-of-fold tweet logits, the crypto one on the out-of-fold crypto logits of the chosen
setting: both on held-out predictions. No choice looks at any validation or test file.
"""

from __future__ import annotations

import csv
import gzip
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from sentiment.features import (
    CRYPTO_COL,
    DENSE_NAMES,
    crypto_domain,
    dense_features,
    sparse_features,
)
from sentiment.fitting import (
    balanced_pick,
    build_vocab,
    design,
    em_priors,
    fit_lr,
    fit_temperature,
    folds,
    macro_f1,
)
from sentiment.lexicon import LexiconScorer
from sentiment.linear import CLASSES, F64, LinearModel, softmax

__all__ = ["TrainConfig", "dense_matrix", "load_crypto_labelled", "load_crypto_titles",
           "load_twitter", "train"]

_LEX_DIR = np.array([-1.0, 1.0, 0.0])  # the rule score pushes negative <-> positive


@dataclass(frozen=True)
class TrainConfig:
    """Knobs of `train`; the defaults are what the shipped model was built with."""

    min_count: int = 2
    c_grid: tuple[float, ...] = (0.5, 1.0, 2.0)
    pseudo_c: float = 1.0
    folds: int = 5
    self_train_threshold: float = 0.9
    self_train_weight: float = 0.3
    self_train_max: int = 8000
    seed: int = 14
    lexicon_weight: float = 2.0
    crypto_weight_grid: tuple[float, ...] = (2.0, 4.0)


def load_twitter(path: Path) -> tuple[list[str], np.ndarray]:
    """`text,label` rows (0 bearish, 1 bullish, 2 neutral) -> texts, int labels."""
    with path.open(encoding="utf-8", newline="") as fh:
        rows = [(r["text"], int(r["label"])) for r in csv.DictReader(fh)]
    return [t for t, _ in rows], np.array([y for _, y in rows], dtype=np.int64)


def load_crypto_labelled(paths: Sequence[Path]) -> tuple[list[str], np.ndarray]:
    """`title,label` CSVs (label negative/positive/neutral) -> texts, int labels."""
    texts: list[str] = []
    ys: list[int] = []
    for p in paths:
        with p.open(encoding="utf-8", newline="") as fh:
            for r in csv.DictReader(fh):
                texts.append(r["title"])
                ys.append(CLASSES.index(r["label"].strip().lower()))
    return texts, np.array(ys, dtype=np.int64)


def _titles_of(paths: Sequence[Path]) -> set[str]:
    out: set[str] = set()
    for p in paths:
        with p.open(encoding="utf-8", newline="") as fh:
            out.update(r["title"].strip().lower() for r in csv.DictReader(fh))
    return out


def load_crypto_titles(path: Path, exclude: set[str] | None = None) -> list[str]:
    """Titles of the unlabelled crypto archive (`.jsonl.gz`), de-duplicated, in order,
    without those in `exclude` (lower-cased)."""
    seen: set[str] = set(exclude or ())
    out: list[str] = []
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            t = json.loads(line).get("title", "").strip()
            if t and t.lower() not in seen:
                seen.add(t.lower())
                out.append(t)
    return out


def dense_matrix(texts: Sequence[str], lex: LexiconScorer | None = None,
                 domain: bool = True) -> F64:
    """The rule scorer's features and the crypto gate for each text (as the scorer does)."""
    lex = lex or LexiconScorer()
    rows = []
    for t in texts:
        a, syms = lex.analyse(t)
        rows.append(dense_features(a.compound, a.event_type,
                                   domain and crypto_domain(t, syms)))
    return np.asarray(rows, dtype=np.float64).reshape(len(texts), len(DENSE_NAMES))


def _logits(x: sp.csr_matrix, w: F64, dense: F64, lexicon_weight: float) -> F64:
    z: F64 = x @ w[:-1] + w[-1] + lexicon_weight * dense[:, :1] * _LEX_DIR
    return z


def _oof(x: sp.csr_matrix, y: np.ndarray, wts: F64, dense: F64, rows: np.ndarray,
         c: float, cfg: TrainConfig) -> F64:
    """Out-of-fold logits of `rows` (each predicted by a fit without its fold; all
    other rows always in training)."""
    out = np.zeros((len(rows), len(CLASSES)))
    for test in folds(len(rows), cfg.folds, cfg.seed):
        mask = np.ones(x.shape[0], dtype=bool)
        mask[rows[test]] = False
        w = fit_lr(x[mask], y[mask], c, wts[mask])
        out[test] = _logits(x[rows[test]], w, dense[rows[test]], cfg.lexicon_weight)
    return out


def train(train_csv: Path, crypto_jsonl: Path | None, cfg: TrainConfig = TrainConfig(),
          log: Callable[[str], None] = print, crypto_labelled: Sequence[Path] = (),
          exclude: Sequence[Path] = ()) -> tuple[LinearModel, dict[str, object]]:
    """Fit the model; returns it with a report of every choice made on the way."""
    lex = LexiconScorer()
    texts, y = load_twitter(train_csv)
    n_tw = len(texts)
    feats = [sparse_features(t) for t in texts]
    dense = dense_matrix(texts, lex)
    x = design(feats, build_vocab(feats, cfg.min_count), dense)
    log(f"train: {n_tw} tweets, {x.shape[1] - len(DENSE_NAMES)} features")
    report: dict[str, object] = {"rows": n_tw, "lexicon_weight": cfg.lexicon_weight}
    ones = np.ones(n_tw)
    tw_rows = np.arange(n_tw)
    oof = _oof(x, y, ones, dense, tw_rows, cfg.pseudo_c, cfg)
    f1 = macro_f1(y, oof.argmax(axis=1))
    log(f"  tweets only, C={cfg.pseudo_c}: {cfg.folds}-fold CV macro-F1 {f1:.4f}")
    report["cv_macro_f1_tweets_only"] = round(f1, 4)
    temperature = fit_temperature(oof, y)
    best_c = cfg.c_grid[0]
    all_feats, all_dense, all_y, all_w = [feats], [dense], [y], [ones]
    if crypto_jsonl is not None:
        skip = _titles_of([*crypto_labelled, *exclude])
        titles = load_crypto_titles(crypto_jsonl, skip)
        cfeats = [sparse_features(t) for t in titles]
        cdense = dense_matrix(titles, lex)
        fin = cdense.copy()
        fin[:, CRYPTO_COL] = 0.0  # as finance text: the model is calibrated for that
        w0 = fit_lr(x, y, cfg.pseudo_c)
        zc = _logits(design(cfeats, build_vocab(feats, cfg.min_count), fin), w0, fin,
                     cfg.lexicon_weight)
        train_prior = np.bincount(y, minlength=3) / n_tw
        prior = em_priors(softmax(zc / temperature), train_prior)
        log(f"crypto prior (EM over {len(titles)} unlabelled headlines): "
            + ", ".join(f"{c} {p:.3f}" for c, p in zip(CLASSES, prior, strict=True)))
        pa = softmax((zc + np.log(prior / train_prior)) / temperature)
        keep = balanced_pick(pa, prior, cfg.self_train_max, cfg.self_train_threshold)
        pseudo = pa.argmax(axis=1)[keep]
        log(f"self-training: {len(keep)} headlines at p >= {cfg.self_train_threshold} ("
            + ", ".join(f"{c} {int((pseudo == i).sum())}" for i, c in enumerate(CLASSES))
            + ")")
        report.update(unlabelled=len(titles), crypto_prior=[round(float(p), 4) for p in prior],
                      self_training={"rows": len(keep), "weight": cfg.self_train_weight,
                                     "threshold": cfg.self_train_threshold})
        all_feats.append([cfeats[i] for i in keep])
        all_dense.append(cdense[keep])
        all_y.append(pseudo)
        all_w.append(np.full(len(keep), cfg.self_train_weight))
    ct_texts, ct_y = load_crypto_labelled(crypto_labelled)
    if ct_texts:
        all_feats.append([sparse_features(t) for t in ct_texts])
        all_dense.append(dense_matrix(ct_texts, lex))
        all_y.append(ct_y)
    flat = [f for block in all_feats for f in block]
    vocab = build_vocab(flat, cfg.min_count)
    dense = np.vstack(all_dense)
    x = design(flat, vocab, dense)
    y_all = np.concatenate(all_y)
    base_w = np.concatenate(all_w)
    crypto_rows = np.arange(len(base_w), len(y_all))
    crypto_weight = 0.0
    crypto_t: float | None = None
    if ct_texts:
        scores: dict[str, float] = {}
        best = (-1.0, 0.0, 0.0, np.zeros(0))
        for c in cfg.c_grid:
            for cw in cfg.crypto_weight_grid:
                wts = np.concatenate([base_w, np.full(len(ct_texts), cw)])
                oof = _oof(x, y_all, wts, dense, crypto_rows, c, cfg)
                f1 = macro_f1(ct_y, oof.argmax(axis=1))
                scores[f"C={c},w={cw}"] = round(f1, 4)
                log(f"  C={c}, crypto weight {cw}: {cfg.folds}-fold CV macro-F1 on "
                    f"{len(ct_texts)} labelled crypto headlines {f1:.4f}")
                if f1 > best[0]:
                    best = (f1, c, cw, oof)
        _, best_c, crypto_weight, oof = best
        crypto_t = fit_temperature(oof, ct_y)
        report.update(crypto_labelled=len(ct_texts), crypto_cv_macro_f1=scores,
                      crypto_weight=crypto_weight, crypto_temperature=round(crypto_t, 4),
                      crypto_cv_accuracy=round(float((oof.argmax(1) == ct_y).mean()), 4))
        log(f"crypto temperature (out-of-fold): {crypto_t:.4f}")
    wts = np.concatenate([base_w, np.full(len(ct_texts), crypto_weight)])
    if x.shape[0] > n_tw:  # the finance temperature of the final procedure, out of fold
        oof = _oof(x, y_all, wts, dense, tw_rows, best_c, cfg)
        temperature = fit_temperature(oof, y)
        report["cv_macro_f1_final"] = round(macro_f1(y, oof.argmax(axis=1)), 4)
    report.update(C=best_c, temperature=round(temperature, 4))
    w = fit_lr(x, y_all, best_c, wts)
    nv = len(vocab)
    dense_w = w[nv:-1].copy()
    dense_w[0] += cfg.lexicon_weight * _LEX_DIR
    report["features"] = nv
    model = LinearModel(vocab=vocab, sparse_w=w[:nv], dense_w=dense_w, bias=w[-1],
                        temperature=temperature, crypto_temperature=crypto_t,
                        meta=json.dumps(report, sort_keys=True))
    return model, report
