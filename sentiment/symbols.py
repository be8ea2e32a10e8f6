"""Symbol tagging: which coins a headline is about, from tickers and name aliases.

Tickers match in upper case or with a `$` cashtag ("BTC", "$btc"), because many tickers
are English words in lower case (LINK, NEAR, DOT, ONE). Names match case-insensitively
as whole words ("Bitcoin", "ether"). The alias table is configurable
(`SentimentSettings.symbol_aliases` extends or overrides these defaults).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

__all__ = ["DEFAULT_ALIASES", "SymbolTagger"]

_WORD = re.compile(r"\$?[A-Za-z][A-Za-z0-9]*")

# symbol -> names (case-insensitive). The symbol itself and extra tickers are matched
# as tickers (upper case or cashtag). Entries in TICKER_ALIASES are alternative tickers.
DEFAULT_ALIASES: dict[str, tuple[str, ...]] = {
    "BTC": ("bitcoin", "bitcoins", "xbt", "btc"),
    "ETH": ("ethereum", "ether", "eth"),
    "SOL": ("solana",),
    "XRP": ("ripple", "xrp"),
    "ADA": ("cardano",),
    "DOGE": ("dogecoin", "doge"),
    "BNB": ("binance coin", "bnb"),
    "DOT": ("polkadot",),
    "AVAX": ("avalanche", "avax"),
    "LINK": ("chainlink",),
    "POL": ("polygon", "matic"),
    "LTC": ("litecoin", "ltc"),
    "TRX": ("tron", "trx"),
    "TON": ("toncoin",),
    "SHIB": ("shiba inu", "shib"),
    "USDT": ("tether", "usdt"),
    "USDC": ("usd coin", "usdc"),
    "ARB": ("arbitrum",),
    "UNI": ("uniswap",),
    "ATOM": ("cosmos hub", "atom"),
    "XLM": ("stellar lumens", "xlm"),
    "NEAR": ("near protocol",),
    "SUI": (),
    "APT": ("aptos",),
    "PEPE": ("pepe",),
    "XMR": ("monero", "xmr"),
    "BCH": ("bitcoin cash", "bch"),
    "ETC": ("ethereum classic",),
    "FIL": ("filecoin",),
}
TICKER_ALIASES: dict[str, tuple[str, ...]] = {"BTC": ("XBT",), "POL": ("MATIC",)}


class SymbolTagger:
    """Finds symbols in text with two compiled regexes (names, tickers): ~µs per headline."""

    def __init__(self, aliases: Mapping[str, Sequence[str]] | None = None) -> None:
        table: dict[str, tuple[str, ...]] = dict(DEFAULT_ALIASES)
        for sym, names in (aliases or {}).items():
            table[sym.upper()] = tuple(names)
        self._by_name: dict[str, str] = {}
        self._by_ticker: dict[str, str] = {}
        for sym, names in table.items():
            self._by_ticker[sym] = sym
            for t in TICKER_ALIASES.get(sym, ()):
                self._by_ticker[t] = sym
            for n in names:
                self._by_name[n.lower()] = sym
        # Multi-word names ("bitcoin cash", "shiba inu") are found via their first word.
        self._multi: dict[str, list[tuple[tuple[str, ...], str]]] = {}
        for name, sym in self._by_name.items():
            parts = tuple(name.split())
            if len(parts) > 1:
                self._multi.setdefault(parts[0], []).append((parts, sym))
        for lst in self._multi.values():
            lst.sort(key=lambda e: len(e[0]), reverse=True)
        # Case variants looked up directly: no per-word lower() on the hot path.
        self._cased: dict[str, str] = {}
        for name, sym in self._by_name.items():
            if " " in name:
                continue
            for v in (name, name.capitalize(), name.upper(), name.title()):
                self._cased.setdefault(v, sym)
        self._multi_cased: set[str] = set()
        for first in self._multi:
            self._multi_cased.update((first, first.capitalize(), first.upper()))

    def token_tables(
        self,
    ) -> tuple[dict[str, tuple[str, str]], dict[str, list[tuple[tuple[str, ...], str]]]]:
        """Lower-case token -> (symbol, ticker that must appear in upper case or "") and
        first word -> multi-word names: lets the lexicon tag symbols inside its own token
        scan instead of a second pass over the text."""
        tab: dict[str, tuple[str, str]] = {}
        for tick, sym in self._by_ticker.items():
            tab.setdefault(tick.lower(), (sym, tick))
            tab["$" + tick.lower()] = (sym, "")
        for name, sym in self._by_name.items():
            if " " not in name:
                tab[name] = (sym, "")
        for first in self._multi:
            tab.setdefault(first, ("", ""))  # only the start of a multi-word name
        return tab, {k: list(v) for k, v in self._multi.items()}

    @property
    def symbols(self) -> frozenset[str]:
        """Every symbol the tagger knows."""
        return frozenset(self._by_ticker.values())

    def tag(self, text: str) -> tuple[str, ...]:
        """Symbols mentioned in `text`, in order of first mention, without duplicates.

        One regex split and a dict lookup per word: this runs on every headline the
        lexicon scores, so it must cost a few microseconds.
        """
        words = _WORD.findall(text)
        found: list[str] = []
        by_ticker = self._by_ticker
        cased = self._cased
        multi_cased = self._multi_cased
        n = len(words)
        i = 0
        while i < n:
            w = words[i]
            sym = by_ticker.get(w) or cased.get(w)
            if sym is None and w[0] == "$":
                sym = by_ticker.get(w[1:].upper())
            if w in multi_cased or (sym is None and not w.islower()):
                lw = w.lower()
                for parts, msym in self._multi.get(lw, ()):
                    ln = len(parts)
                    if tuple(x.lower() for x in words[i : i + ln]) == parts:
                        sym = msym
                        i += ln - 1
                        break
                else:
                    if sym is None:
                        sym = self._by_name.get(lw)
            if sym is not None and sym not in found:
                found.append(sym)
            i += 1
        return tuple(found)
