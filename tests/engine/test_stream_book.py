"""Order-book arithmetic on a streamed book: a market order walking the levels,
the spread and the depth near the top (hand-computed expectations)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from engine.data.book import depth_within, spread_bps, walk
from engine.data.stream import BookTop

BOOK = BookTop("BTC/USDT", 0, bids=[(99.0, 1.0), (98.0, 2.0), (95.0, 5.0)],
               asks=[(101.0, 0.5), (102.0, 1.5), (110.0, 10.0)])


def test_a_buy_walks_the_asks() -> None:
    f = walk(BOOK, "buy", Decimal("1.5"))
    assert f is not None and f.complete and f.filled == Decimal("1.5")
    assert f.average == (Decimal("0.5") * 101 + 1 * 102) / Decimal("1.5")
    assert f.worst == Decimal(102)


def test_a_sell_larger_than_the_book_is_partial() -> None:
    f = walk(BOOK, "sell", Decimal(10))
    assert f is not None and not f.complete and f.filled == Decimal(8)
    assert f.average == (Decimal(99) + 2 * 98 + 5 * 95) / 8 and f.worst == Decimal(95)


def test_empty_side_bad_input_spread_depth() -> None:
    assert walk(BookTop("X/Y", 0, [], []), "buy", Decimal(1)) is None
    with pytest.raises(ValueError):
        walk(BOOK, "hold", Decimal(1))
    with pytest.raises(ValueError):
        walk(BOOK, "buy", Decimal(0))
    assert spread_bps(BOOK) == pytest.approx(2 / 100 * 10_000)
    assert depth_within(BOOK, "bids", 1.5) == 3.0  # 99 and 98 (>= 97.515)
    assert depth_within(BOOK, "asks", 1.0) == 2.0  # 101 and 102 (<= 102.01)
