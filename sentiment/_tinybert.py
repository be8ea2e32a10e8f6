"""Build a randomly initialised BERT classifier on disk, for tests and the bench.

BERT-base weights cannot be downloaded here, so the finbert path is exercised (and timed)
on a model we create: real config, real WordPiece tokenizer files, real
`save_pretrained` layout, loaded back through the same code path as a hub model. Its
predictions are meaningless; its cost per token is what a small BERT costs.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sentiment import _lexicon_data as D

__all__ = ["build_random_bert"]


_COMMON = (
    "the", "a", "an", "of", "to", "in", "on", "for", "and", "as", "at", "by", "with", "from",
    "is", "are", "was", "be", "has", "have", "after", "over", "amid", "into", "new", "says",
    "said", "will", "could", "may", "its", "it", "this", "that", "more", "than", "bitcoin",
    "ethereum", "solana", "crypto", "exchange", "market", "price", "token",
)


def _vocab() -> list[str]:
    special = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    chars = list("abcdefghijklmnopqrstuvwxyz0123456789.,!?$%'-:;/()&+")
    pieces = ["##" + c for c in "abcdefghijklmnopqrstuvwxyz0123456789"]
    words: set[str] = set()
    words.update(D.DOMAIN_VALENCE, D.DIRECTION, D.QUANTITY, D.EVENT_WORDS, D.NEUTRALISE)
    words.update(_COMMON)
    try:
        from vaderSentiment import vaderSentiment as V

        path = os.path.join(os.path.dirname(V.__file__), "vader_lexicon.txt")
        with open(path, encoding="utf-8") as fh:
            words.update(line.split("\t", 1)[0] for line in fh if line[:1].isalpha())
    except (ImportError, OSError):
        pass
    clean = sorted(w for w in words if w.isascii() and w.replace("-", "").isalpha())
    return special + chars + pieces + [w for w in clean if w not in chars]


def build_random_bert(
    out_dir: Path, *, layers: int = 2, hidden: int = 32, heads: int = 2, seed: int = 0
) -> Path:
    """Save a `BertForSequenceClassification` (positive/negative/neutral) and its
    tokenizer into `out_dir`; returns `out_dir`."""
    import torch
    import transformers

    out_dir.mkdir(parents=True, exist_ok=True)
    vocab = _vocab()
    vf = out_dir / "vocab.txt"
    vf.write_text("\n".join(vocab) + "\n", encoding="utf-8")
    tf: Any = transformers  # the stubs don't list the lazily exported classes
    tok = tf.BertTokenizerFast(vocab_file=str(vf), do_lower_case=True)
    cfg_kw: dict[str, Any] = {
        "vocab_size": len(vocab), "hidden_size": hidden, "num_hidden_layers": layers,
        "num_attention_heads": heads, "intermediate_size": hidden * 4,
        "max_position_embeddings": 512, "num_labels": 3,
        "id2label": {0: "positive", 1: "negative", 2: "neutral"},
        "label2id": {"positive": 0, "negative": 1, "neutral": 2},
    }
    cfg = tf.BertConfig(**cfg_kw)
    torch.manual_seed(seed)
    model = tf.BertForSequenceClassification(cfg)
    model.save_pretrained(out_dir)
    tok.save_pretrained(out_dir)
    return out_dir
