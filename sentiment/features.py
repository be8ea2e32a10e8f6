"""Text -> sparse features for the shipped headline model; one definition for training
and scoring, so the two can never drift apart.

Why these features: tweets about stocks (what the model is trained on) and crypto
headlines (what it scores) share verbs ("surges", "plunges", "files for"), not nouns. So
names of assets are replaced by placeholders (`<coin>` for a known coin, `<tag>` for a
cashtag) and numbers by their shape (`<pct+>`, `<pct->`, `<num>`): the model learns
"<coin> surges <pct>" once instead of once per ticker, and no ticker carries a tone of
its own. Word prefixes (first five letters) tie "surge/surges/surged/surging" together,
which matters when 9.5k training rows see each form only a few times.

Dense features come from the rule scorer (`sentiment.lexicon`): its compound score and
its event type. The model thus learns, from labelled data, how far to trust the rules.
The last dense feature says whether the text is about crypto (`crypto_domain`): its
weights are the crypto class bias, learned from hand-labelled and pseudo-labelled crypto
headlines, so a stock tweet keeps the tweets' prior (~65% neutral) while a crypto
headline gets the crypto news prior (about half positive).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Final

import numpy as np
import numpy.typing as npt

from sentiment.items import EVENT_TYPES
from sentiment.symbols import DEFAULT_ALIASES

__all__ = ["CRYPTO_COL", "DENSE_NAMES", "crypto_domain", "dense_batch", "dense_features",
           "feature_ids", "index", "sparse_features", "tokens"]

_URL: Final = re.compile(r"https?://\S+|www\.\S+")
_TOK: Final = re.compile(r"\$[a-z][a-z0-9]*|[+\-]?\$?\d[\d,.]*[%kmbx]?|[a-z][a-z0-9'\-]*|[!?]")
_COINS: Final = frozenset(
    [k.lower() for k in DEFAULT_ALIASES]
    + [n for names in DEFAULT_ALIASES.values() for n in names if " " not in n]
    + ["crypto", "cryptocurrency", "cryptocurrencies", "altcoin", "altcoins", "memecoin",
       "memecoins", "token", "tokens", "stock", "stocks", "shares", "coin", "coins"]
)
# Generic asset words share the placeholder too: "stock" in a tweet is "token" in a headline.
PREFIX_LEN: Final = 5

DENSE_NAMES: Final[tuple[str, ...]] = (
    "lex_compound", "lex_pos", "lex_neg", *(f"event_{e}" for e in EVENT_TYPES), "crypto",
)
CRYPTO_COL: Final = len(DENSE_NAMES) - 1

# Words that make a text crypto news even when no listed coin is named. Topic words only
# (no style cues such as cashtags or URLs), so the gate says "about crypto", not "looks
# like the archive". Measured: 86% of the 2025 crypto archive, 1.4% of the finance
# tweets, 1.1% of PhraseBank sentences (MODEL_CARD.md).
_CRYPTO_WORDS: Final = (
    "crypto|cryptos|cryptocurrency|cryptocurrencies|blockchain|blockchains|bitcoiners|"
    "token|tokens|tokenized|tokenization|tokenomics|defi|nft|nfts|stablecoin|stablecoins|"
    "web3|airdrop|airdrops|altcoin|altcoins|alt season|altseason|memecoin|memecoins|"
    "meme coin|meme coins|presale|presales|dao|staking|validators?|mainnet|testnet|"
    "layer[- ]?2|onchain|on-chain|wallets?|binance|coinbase|kraken|okx|bybit|bitget|"
    "kucoin|upbit|mexc|bitfinex|satoshi|halving|hashrate|dex|dexs|cex|rwa|etp|hodl|"
    "whales?|ledger|metamask|microstrategy|grayscale|bitwise|ico|ido|spot etfs?"
)
_CRYPTO_RE: Final = re.compile(
    r"\b(?:" + _CRYPTO_WORDS + "|"
    + "|".join(sorted({re.escape(n) for ns in DEFAULT_ALIASES.values() for n in ns},
                      key=len, reverse=True))
    + r")\b")


def crypto_domain(text: str, symbols: Sequence[str] = ()) -> bool:
    """Is the text about crypto: a coin the rules tagged, a coin name or a crypto word."""
    return bool(symbols) or _CRYPTO_RE.search(text.lower()) is not None


def _number(tok: str) -> str:
    if tok.endswith("%"):
        if tok[0] == "+":
            return "<pct+>"
        if tok[0] == "-":
            return "<pct->"
        return "<pct>"
    if tok[0] in "+-":
        return "<num+>" if tok[0] == "+" else "<num->"
    return "<money>" if "$" in tok else "<num>"


def _norm(t: str) -> str:
    c = t[0]
    if c == "$":
        return "<money>" if t[1:2].isdigit() else "<tag>"
    if c.isdigit() or c in "+-":
        return _number(t)
    if t in _COINS:
        return "<coin>"
    return t.strip("'-") or t


_MEMO: dict[str, str] = {}
_MEMO_MAX: Final = 200_000


def tokens(text: str) -> list[str]:
    """Lower-cased word tokens with assets and numbers replaced by placeholders."""
    low = text.lower()
    if "http" in low or "www." in low:
        low = _URL.sub(" ", low)
    if "’" in low:
        low = low.replace("’", "'")
    if "'s " in low:
        low = low.replace("'s ", " ")
    memo = _MEMO
    out: list[str] = []
    for t in _TOK.findall(low):
        n = memo.get(t)
        if n is None:
            n = _norm(t)
            if len(memo) < _MEMO_MAX:  # a bounded cache of the (Zipfian) vocabulary
                memo[t] = n
        out.append(n)
    return out


def sparse_features(text: str) -> list[str]:
    """Unigrams, bigrams (with start/end markers) and 5-letter prefixes of longer words."""
    toks = tokens(text)
    feats = toks.copy()
    prev = "<s>"
    for t in toks:
        feats.append(prev + " " + t)
        if len(t) > PREFIX_LEN + 1 and t[0] != "<":
            feats.append("~" + t[:PREFIX_LEN])
        prev = t
    feats.append(prev + " </s>")
    return feats


def dense_features(compound: float, event_type: str, crypto: bool = False) -> list[float]:
    """The rule scorer's verdict and the text's domain as model inputs (`DENSE_NAMES`)."""
    row = [compound, 1.0 if compound >= 0.3 else 0.0, 1.0 if compound <= -0.3 else 0.0]
    row.extend(1.0 if event_type == e else 0.0 for e in EVENT_TYPES)
    row.append(1.0 if crypto else 0.0)
    return row


def feature_ids(text: str, vocab: Mapping[str, int],
                memo: dict[str, tuple[str, int | None, int | None]] | None = None) -> list[int]:
    """`index(sparse_features(text), vocab)` as a set of ids (the model is fitted on
    presence, not counts), without building the feature strings: the scorer's hot path.

    `memo` (owned by one model: ids are vocabulary-specific) caches, per raw token, its
    placeholder form and the ids of its unigram and prefix features.
    """
    get = vocab.get
    if memo is None:
        memo = {}
    low = text.lower()
    if "http" in low or "www." in low:
        low = _URL.sub(" ", low)
    if "’" in low:
        low = low.replace("’", "'")
    if "'s " in low:
        low = low.replace("'s ", " ")
    ids: set[int | None] = set()
    add = ids.add
    prev = "<s>"
    for raw in _TOK.findall(low):
        m = memo.get(raw)
        if m is None:
            t = _norm(raw)
            m = (t, get(t), get("~" + t[:PREFIX_LEN])
                 if len(t) > PREFIX_LEN + 1 and t[0] != "<" else None)
            if len(memo) < _MEMO_MAX:
                memo[raw] = m
        t, uni, pre = m
        add(uni)
        add(pre)
        add(get(prev + " " + t))
        prev = t
    add(get(prev + " </s>"))
    return [i for i in ids if i is not None]


_EVENT_COL: Final[dict[str, int]] = {e: 3 + k for k, e in enumerate(EVENT_TYPES)}


def dense_batch(compounds: Sequence[float], events: Sequence[str],
                crypto: Sequence[bool] | None = None) -> npt.NDArray[np.float64]:
    """`dense_features` for many texts at once (n, len(DENSE_NAMES)), vectorised."""
    n = len(compounds)
    out = np.zeros((n, len(DENSE_NAMES)))
    c = np.asarray(compounds, dtype=np.float64)
    out[:, 0] = c
    out[:, 1] = c >= 0.3
    out[:, 2] = c <= -0.3
    out[np.arange(n), [_EVENT_COL[e] for e in events]] = 1.0
    if crypto is not None:
        out[:, CRYPTO_COL] = np.asarray(crypto, dtype=np.float64)
    return out


def index(feats: Iterable[str], vocab: Mapping[str, int]) -> list[int]:
    """Column ids of the features the vocabulary knows (unknown ones carry no weight)."""
    get = vocab.get
    return [i for i in (get(f) for f in feats) if i is not None]
