from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from engine.storage import migrate
from engine.storage.db import SessionFactory, make_engine
from engine.storage.models import (
    NewsItem,
    Order,
    OutboxDelivery,
    OutboxMessage,
    Proposal,
    SentimentScore,
    Trade,
)


def _roundtrip(url: str) -> None:
    migrate.upgrade(url)
    migrate.check(url)  # models and migrations agree: no drift
    migrate.downgrade(url, "base")
    eng = make_engine(url)
    with eng.connect() as c:
        left = set(sa.inspect(c).get_table_names()) - {"alembic_version"}
    eng.dispose()
    assert left == set()
    migrate.upgrade(url)
    migrate.check(url)


def test_migrations_roundtrip_sqlite(tmp_path: Path) -> None:
    _roundtrip(f"sqlite:///{tmp_path}/rt.db")


@pytest.mark.postgres
def test_migrations_roundtrip_postgres(pg_url: str) -> None:
    eng = make_engine(pg_url)
    with eng.begin() as c:  # start from an empty schema whatever ran before
        c.execute(sa.text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    eng.dispose()
    _roundtrip(pg_url)
    _exercise(pg_url)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path}/t.db"
    migrate.upgrade(url)
    return url


def test_sqlite_wal_and_foreign_keys(sqlite_url: str) -> None:
    eng = make_engine(sqlite_url)
    with eng.connect() as c:
        assert c.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert c.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    sf = SessionFactory(eng)
    with pytest.raises(IntegrityError), sf.begin() as s:
        s.add(SentimentScore(news_item_id=999, scorer="lexicon", label="neutral", score=0,
                             confidence=0))
    eng.dispose()


def _exercise(url: str) -> None:
    eng = make_engine(url)
    sf = SessionFactory(eng)
    amount = Decimal("0.123456789012345678")
    price = Decimal("93576.01")
    with sf.begin() as s:
        s.add(Order(client_order_id="st-1", symbol="BTC/USDT", side="buy", amount=amount,
                    price=price))
    with sf() as s:
        o = s.exec(select(Order).where(Order.client_order_id == "st-1")).one()
        assert o.amount == amount and o.price == price  # exact, not float
        assert o.created_at.tzinfo is not None and o.created_at.utcoffset() == timedelta(0)
    # an order is never placed twice
    with pytest.raises(IntegrityError), sf.begin() as s:
        s.add(Order(client_order_id="st-1", symbol="BTC/USDT", side="buy", amount=amount))
    # one order per proposal (a double tap makes one order)
    with sf.begin() as s:
        p = Proposal(symbol="BTC/USDT", side="buy", expires_at=datetime.now(UTC))
        s.add(p)
        s.flush()
        s.add(Order(client_order_id="st-2", proposal_id=p.id, symbol="BTC/USDT", side="buy"))
        pid = p.id
    with pytest.raises(IntegrityError), sf.begin() as s:
        s.add(Order(client_order_id="st-3", proposal_id=pid, symbol="BTC/USDT", side="buy"))
    # news dedup key unique; one score per item and scorer
    with sf.begin() as s:
        n = NewsItem(dedup_key="k1", title_hash="h", source="rss:x", title="t")
        s.add(n)
        s.flush()
        s.add(SentimentScore(news_item_id=n.id, scorer="lexicon", label="positive", score=0.5,
                             confidence=0.9))
        nid = n.id
    with pytest.raises(IntegrityError), sf.begin() as s:
        s.add(NewsItem(dedup_key="k1", title_hash="h2", source="rss:y", title="t2"))
    with pytest.raises(IntegrityError), sf.begin() as s:
        s.add(SentimentScore(news_item_id=nid, scorer="lexicon", label="negative", score=-1,
                             confidence=1))
    # exactly-once delivery per destination
    with sf.begin() as s:
        m = OutboxMessage(event_id="e1", kind="fill")
        s.add(m)
        s.flush()
        s.add(OutboxDelivery(outbox_id=m.id, destination="telegram:1"))
        mid = m.id
    with pytest.raises(IntegrityError), sf.begin() as s:
        s.add(OutboxDelivery(outbox_id=mid, destination="telegram:1"))
    eng.dispose()


def test_constraints_and_exact_money_sqlite(sqlite_url: str) -> None:
    _exercise(sqlite_url)


def test_naive_datetime_refused(sqlite_url: str) -> None:
    sf = SessionFactory(make_engine(sqlite_url))
    with pytest.raises(Exception, match="naive datetime"), sf.begin() as s:
        s.add(Trade(symbol="BTC/USDT", open_at=datetime(2025, 1, 1)))


def test_other_timezones_stored_as_utc(sqlite_url: str) -> None:
    sf = SessionFactory(make_engine(sqlite_url))
    cet = timezone(timedelta(hours=1))
    with sf.begin() as s:
        s.add(Trade(symbol="ETH/USDT", open_at=datetime(2025, 1, 1, 10, 0, tzinfo=cet)))
    with sf() as s:
        t = s.exec(select(Trade)).one()
        assert t.open_at == datetime(2025, 1, 1, 9, 0, tzinfo=UTC)
        assert t.open_at.tzinfo == UTC


def test_bad_database_url_is_a_config_error() -> None:
    from engine.errors import ConfigError

    with pytest.raises(ConfigError, match=r"database\.url"):
        make_engine("not a url at all")
