"""The default scorer: offline, downloads nothing, tens of thousands of headlines/s.

VADER is the base: its lexicon (7,500 rated words), negators, intensifiers, the "but"
rule and its normalisation `s / sqrt(s^2 + 15)`. On top sit rules written for crypto and
financial news (`_lexicon_data`):

* domain words VADER lacks or misreads (hack, delisting, insolvency, ETF approval, inflows;
  "interest", "share", "credit" are neutral in finance, not warm);
* direction x quantity: "profit rose" and "loss narrowed" read positive, "costs rose" and
  "sales fell" negative; a bare direction ("Bitcoin plunges") is read as price;
* numbers: "+15%" and "-20%" carry their sign, "plunges 20%" weighs more than "dips 1%";
* hedges ("could", "reportedly", questions) soften, contrast ("but") shifts the weight to
  the second clause;
* an event type (hack/exploit > regulatory > macro > partnership > technical > market) and
  an impact 1..10 from the event, the magnitude and the coins involved.

VADER's own `polarity_scores` runs ~10k sentences/s; this scorer re-implements the parts
it needs as one dict lookup per token so it meets 50k headlines/s in one process.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import re
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Final

from sentiment import _lexicon_data as D
from sentiment.items import EventType, Label, MarketContexts, Score
from sentiment.symbols import SymbolTagger

__all__ = ["LexiconScorer", "analyse"]

# A plain character class is ~2x faster than an alternation; sentence-final periods are
# removed before matching so "hack." still reads "hack" while "12.5%" stays one token.
_TOKEN: Final = re.compile(r"[a-z0-9'%+\-.$]+|\?")
_NUM: Final = re.compile(r"[+\-]?\d+(?:[.,]\d+)?")
_PARTS: Final = re.compile(r"[-']+")
_ETF: Final = D.ETF_WORDS
_LAUNCH: Final = D.LAUNCH_WORDS

ALPHA: Final = 15.0  # VADER's normalisation constant
VADER_WEIGHT: Final = 0.55  # VADER's everyday valences count less than domain ones
PAIR_VALENCE: Final = 2.4  # direction x quantity ("profit rose")
BARE_DIRECTION: Final = 1.5  # direction without a quantity ("Solana jumps")
NEG_SCALAR: Final = -0.74  # VADER's N_SCALAR
BOOST: Final = 0.293  # VADER's B_INCR
HEDGE_FACTOR: Final = 0.8
QUESTION_FACTOR: Final = 0.7
POS_THRESHOLD: Final = 0.30
NEG_THRESHOLD: Final = 0.30

# Token record flags
_F_NEG: Final = 1
_F_HEDGE: Final = 2
_F_CONTRAST: Final = 4
_F_BIG: Final = 8
_F_PHRASE: Final = 16
_F_TRADE: Final = 32
_F_BACKGROUND: Final = 64
BACKGROUND_FACTOR: Final = 0.5

# record: (direction, quantity, valence, event, flags, booster)
_Rec = tuple[int, int, float, str, int, float]


def _vader_tables() -> tuple[dict[str, float], frozenset[str], dict[str, float]]:
    """VADER's lexicon, negators and boosters, read from the installed package."""
    from vaderSentiment import vaderSentiment as V

    path = os.path.join(os.path.dirname(V.__file__), "vader_lexicon.txt")
    lex: dict[str, float] = {}
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            parts = line.rstrip("\n").split("\t")
            if len(parts) >= 2:
                try:
                    lex[parts[0]] = float(parts[1])
                except ValueError:
                    continue
    negate = frozenset(w for w in V.NEGATE if w != "despite")
    boosters = {k: float(v) for k, v in V.BOOSTER_DICT.items() if " " not in k}
    return lex, negate, boosters


@lru_cache(maxsize=4)
def _build_table(extra_items: tuple[tuple[str, float], ...] = ()) -> dict[str, _Rec]:
    """Merge every word list into one dict: the scan does a single lookup per token."""
    vlex, negate, boosters = _vader_tables()
    valence: dict[str, float] = {}
    for w, v in vlex.items():
        if w.isalpha() and w not in D.NEUTRALISE:
            valence[w] = v * VADER_WEIGHT
    valence.update(D.DOMAIN_VALENCE)
    valence.update(D.CRYPTO_VALENCE)
    valence.update(D.INTRINSIC_QUANTITY_VALENCE)
    valence.update(dict(extra_items))
    negators = (negate | D.EXTRA_NEGATORS) - {"despite"}
    phrase_first = {p[0] for p in D.PHRASES}
    words = (
        set(valence) | set(D.DIRECTION) | set(D.QUANTITY) | set(D.EVENT_WORDS) | negators
        | set(boosters) | D.HEDGES | D.CONTRAST | D.BIG_AMOUNTS | phrase_first
        | set(D.TRADE_VERBS) | D.BACKGROUND
    )
    table: dict[str, _Rec] = {}
    for w in words:
        flags = (
            (_F_NEG if w in negators else 0)
            | (_F_HEDGE if w in D.HEDGES else 0)
            | (_F_CONTRAST if w in D.CONTRAST else 0)
            | (_F_BIG if w in D.BIG_AMOUNTS else 0)
            | (_F_PHRASE if w in phrase_first else 0)
            | (_F_TRADE if w in D.TRADE_VERBS else 0)
            | (_F_BACKGROUND if w in D.BACKGROUND else 0)
        )
        table[w] = (
            D.DIRECTION.get(w, 0),
            D.QUANTITY.get(w, 0),
            D.TRADE_VERBS.get(w, valence.get(w, 0.0)),
            D.EVENT_WORDS.get(w, ""),
            flags,
            boosters.get(w, 0.0),
        )
    return table


# first token -> [(tokens, valence, event)], longest first
_PHRASE_BY_FIRST: Final[dict[str, list[tuple[tuple[str, ...], float, str]]]] = {}
for _ph, (_pv, _pev) in D.PHRASES.items():
    _PHRASE_BY_FIRST.setdefault(_ph[0], []).append((_ph, _pv, _pev))
for _lst in _PHRASE_BY_FIRST.values():
    _lst.sort(key=lambda e: len(e[0]), reverse=True)


class Analysis:
    """The intermediate result of one text: kept for tests and for the other scorers,
    which reuse the event type, impact and symbols."""

    __slots__ = ("compound", "cues", "event_type", "impact", "pct", "symbols")

    def __init__(self, compound: float, event_type: str, impact: int, pct: float, cues: int,
                 symbols: tuple[str, ...] = ()):
        self.compound = compound
        self.event_type = event_type
        self.impact = impact
        self.pct = pct
        self.cues = cues
        self.symbols = symbols


_SymTab = dict[str, tuple[str, str]]
_Multi = dict[str, list[tuple[tuple[str, ...], str]]]
_UPPER_RE: dict[str, re.Pattern[str]] = {}


def _upper_present(text: str, tick: str) -> bool:
    """Is the ticker written in upper case as a word ("LINK", not "link" or "LINKED")?"""
    if tick not in text:
        return False
    rx = _UPPER_RE.get(tick)
    if rx is None:
        rx = _UPPER_RE[tick] = re.compile(rf"(?<![A-Za-z0-9]){re.escape(tick)}(?![A-Za-z0-9])")
    return rx.search(text) is not None


def _analyse(text: str, table: Mapping[str, _Rec], symtab: _SymTab, multi: _Multi) -> Analysis:
    low = text.lower()
    if "’" in low:
        low = low.replace("’", "'")
    if "'s" in low:
        low = low.replace("'s", "")  # "Bitcoin's rally" -> "bitcoin rally"
    if "." in low:
        low = low.replace(". ", " ").rstrip(".")
    toks = _TOKEN.findall(low)
    n = len(toks)
    vals: list[tuple[int, float]] = []  # (index, valence)
    dirs: list[tuple[int, int, float]] = []  # index, sign, own valence
    quants: list[tuple[int, int]] = []
    pcts: list[tuple[int, float, bool]] = []  # index, value, signed
    event = "none"
    eprio = 0
    etf = False
    flags_all = 0
    contrast_at = -1
    background_at = -1
    big = False
    neg_at: list[int] = []
    boost_at: dict[int, float] = {}
    trade: list[tuple[int, float]] = []
    syms: list[str] = []
    get = table.get
    symget = symtab.get
    # One C-speed pass keeps only the tokens that mean something (most do not).
    hits = [(i, t) for i, t in enumerate(toks)
            if t in table or t in symtab or t[-1] in "%?" or "-" in t or "'" in t]
    skip_until = -1
    sym_skip = -1
    for i, t in hits:
        st = symget(t)
        if st is not None and i >= sym_skip:
            sym = st[0]
            for parts, msym in multi.get(t, ()):
                ln = len(parts)
                if tuple(toks[i : i + ln]) == parts:
                    sym = msym
                    sym_skip = i + ln
                    break
            else:
                if sym and st[1] and not _upper_present(text, st[1]):
                    sym = ""
            if sym and sym not in syms:
                syms.append(sym)
        if i < skip_until:
            continue
        rec = get(t)
        if rec is None:
            if t[-1] == "%":
                m = _NUM.match(t)
                if m is not None:
                    raw = m.group(0).replace(",", ".")
                    with contextlib.suppress(ValueError):
                        pcts.append((i, float(raw), raw[0] in "+-"))
            elif "-" in t or "'" in t:
                # "bitcoin-backed", "ETH-USD", "Ethereum-Solana", "pro-XRP", "'Bitcoin"
                for part in _PARTS.split(t):
                    st = symget(part) if part else None
                    if st is not None and st[0] and (not st[1] or _upper_present(text, st[1])) \
                            and st[0] not in syms:
                        syms.append(st[0])
            elif t == "?" and i == n - 1:
                flags_all |= 1 << 8
            continue
        d, q, v, ev, fl, b = rec
        if b:
            boost_at[i + 1] = b
        if fl & _F_PHRASE and i + 1 < n:
            nxt = toks[i + 1]
            matched = False
            for ph, pv, pev in _PHRASE_BY_FIRST[t]:
                ln = len(ph)
                if ph[1] == nxt and i + ln <= n and (ln == 2 or tuple(toks[i : i + ln]) == ph):
                    if pv != 0.0:
                        vals.append((i, pv))
                    if pev and _PRIO[pev] > eprio:
                        event, eprio = pev, _PRIO[pev]
                    skip_until = i + ln
                    matched = True
                    break
            if matched:
                continue
        if fl:
            if fl & _F_TRADE:
                trade.append((i, v))  # counted only if a coin is named (decided below)
                continue
            flags_all |= fl
            if fl & _F_NEG:
                neg_at.append(i)
            if fl & _F_CONTRAST and t in ("but", "however"):
                contrast_at = i
            if fl & _F_BIG:
                big = True
            if fl & _F_BACKGROUND and background_at < 0 and i > 0:
                background_at = i
        if ev:
            if t in _ETF:
                etf = True
            p = _PRIO[ev]
            if p > eprio:
                event, eprio = ev, p
        if d:
            dirs.append((i, d, v))
        elif q:
            quants.append((i, q))
            if v:
                vals.append((i, v))
        elif v:
            vals.append((i, v))

    if trade and syms:
        vals.extend(trade)  # "buys 12,000 BTC" is pressure; "sells tires" is not
    major = "BTC" in syms or "ETH" in syms
    # direction x quantity pairs
    used_q: set[int] = set()
    for i, d, own in dirs:
        best = -1
        bestdist = 99.0
        for j, _q in quants:
            dist = i - j if j < i else (j - i) + 0.5
            in_window = (j < i and i - j <= 7) or (j > i and j - i <= 3)
            if in_window and dist < bestdist:
                best, bestdist = j, dist
        if best >= 0:
            qsign = next(qs for j, qs in quants if j == best)
            used_q.add(best)
            v = d * qsign * PAIR_VALENCE
        else:
            # "Solana rallies" is price: as strong as the word itself ("rallies" > "rises")
            v = d * max(BARE_DIRECTION, abs(own))
        for pi, pv, _signed in pcts:
            if 0 < pi - i <= 4 or 0 < i - pi <= 2:
                v *= 1.0 + min(abs(pv), 50.0) / 50.0
                break
        vals.append((i, v))
        if eprio == 0:
            event, eprio = "market", 1
    if etf and event == "technical" and any(t in _LAUNCH for t in toks):
        event = "market"  # "Grayscale launches a Chainlink ETF": a fund, not a product
    if used_q:
        vals = [iv for iv in vals if iv[0] not in used_q]
    # signed percentages not already carried by a direction word
    for pi, pv, signed in pcts:
        if signed and pv != 0 and not any(abs(pi - i) <= 2 for i, _, _ in dirs):
            vals.append((pi, math.copysign(1.2 + min(abs(pv), 50.0) / 25.0, pv)))
            if eprio == 0:
                event, eprio = "market", 1

    s = 0.0
    for i, v in vals:
        if neg_at:
            for k in neg_at:
                if i - 3 <= k < i:
                    v *= NEG_SCALAR
                    break
        if boost_at:
            bb = boost_at.get(i)
            if bb:
                v += math.copysign(BOOST, v) if bb > 0 else -math.copysign(BOOST, v)
        if contrast_at >= 0:
            v *= 0.5 if i < contrast_at else 1.5
        if 0 <= background_at < i:
            v *= BACKGROUND_FACTOR
        s += v
    if flags_all & _F_HEDGE:
        s *= HEDGE_FACTOR
    if flags_all & (1 << 8):
        s *= QUESTION_FACTOR
    compound = s / math.sqrt(s * s + ALPHA) if s else 0.0

    maxpct = max([abs(p[1]) for p in pcts]) if pcts else 0.0
    if event == "none" and not vals:
        impact = 1
    else:
        impact = D.EVENT_BASE_IMPACT[event] + round(abs(compound) * 2)
        if maxpct >= 20:
            impact += 2
        elif maxpct >= 10:
            impact += 1
        if big:
            impact += 1
        if major:
            impact += 1
        impact = max(1, min(10, impact))
    return Analysis(compound, event, impact, maxpct, len(vals), tuple(syms))


_PRIO: Final = D.EVENT_PRIORITY


class LexiconScorer:
    """VADER + crypto/finance rules. Stateless after construction; safe to share."""

    name = "lexicon"

    def __init__(
        self,
        *,
        extra_lexicon: Mapping[str, float] | None = None,
        aliases: Mapping[str, Sequence[str]] | None = None,
        pos_threshold: float = POS_THRESHOLD,
        neg_threshold: float = NEG_THRESHOLD,
        tagger: SymbolTagger | None = None,
    ) -> None:
        if not (0 < pos_threshold < 1 and 0 < neg_threshold < 1):
            raise ValueError("lexicon thresholds must be in (0, 1)")
        extra = tuple(sorted((k.lower(), float(v)) for k, v in (extra_lexicon or {}).items()))
        self._table = _build_table(extra)
        self._tagger = tagger or SymbolTagger(aliases)
        self._symtab, self._multi = self._tagger.token_tables()
        self._pos = pos_threshold
        self._neg = neg_threshold

    def analyse(self, text: str) -> tuple[Analysis, tuple[str, ...]]:
        """Compound score, event type and impact of one text, plus its symbols."""
        a = _analyse(text, self._table, self._symtab, self._multi)
        return a, a.symbols

    def _one(self, text: str) -> Score:
        a = _analyse(text, self._table, self._symtab, self._multi)
        syms = a.symbols
        c = a.compound
        label: Label
        if c >= self._pos:
            label = "positive"
            conf = 0.5 + 0.5 * min(1.0, (c - self._pos) / (1.0 - self._pos))
        elif c <= -self._neg:
            label = "negative"
            conf = 0.5 + 0.5 * min(1.0, (-c - self._neg) / (1.0 - self._neg))
        else:
            label = "neutral"
            t = self._pos if c >= 0 else self._neg
            conf = 0.5 + 0.5 * (1.0 - abs(c) / t)
            if a.cues == 0:
                conf = min(conf, 0.6)  # silence is weak evidence of neutrality
        et: EventType = a.event_type  # type: ignore[assignment]
        # Values are in range by construction: skip Score's validation (hot path).
        return Score.trusted(label, max(-1.0, min(1.0, c)), max(0.0, min(1.0, conf)), et,
                             a.impact, syms, self.name)

    def score(self, texts: Sequence[str], context: MarketContexts | None = None) -> list[Score]:
        """Score each text; same order and length as `texts` (`context` is ignored)."""
        one = self._one
        return [one(t) for t in texts]

    async def ascore(self, texts: Sequence[str],
                     context: MarketContexts | None = None) -> list[Score]:
        """Cheap enough to run inline for small batches; big ones go to a thread."""
        if len(texts) <= 256:
            return self.score(texts)
        return await asyncio.to_thread(self.score, texts)


def analyse(text: str) -> Analysis:
    """Module-level convenience for the other scorers (event type and impact)."""
    return _default().analyse(text)[0]


@lru_cache(maxsize=1)
def _default() -> LexiconScorer:
    return LexiconScorer()
