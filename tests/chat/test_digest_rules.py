"""The digest's rules without a chat: what `Policy.pick` sends next, and how
`format_digest` stays inside a platform's limits while accounting for every alert."""

from __future__ import annotations

from bot.digest import Pending, Policy
from commands.alerts import format_digest
from engine.storage.config import NotifySettings


def _rows(kinds: str, due: bool = True) -> list[Pending]:
    names = {"f": "fill", "p": "proposal", "e": "error"}
    return [Pending(i + 1, names[k], due) for i, k in enumerate(kinds)]


def test_window_gathers_a_burst_then_sends_it_whole() -> None:
    p = Policy(NotifySettings(digest_window_seconds=1.0))
    assert p.pick("c", _rows("fp"), now=0.0) is None  # head seen: wait for the burst
    assert p.pick("c", _rows("fpf"), now=0.5) is None
    g = p.pick("c", _rows("fpff"), now=1.0)
    assert g is not None and g.ids == (1, 2, 3, 4) and g.digest and not g.silent


def test_no_window_one_by_one_until_the_backlog_bound() -> None:
    p = Policy(NotifySettings(digest_window_seconds=0, queue_max=3))
    g = p.pick("c", _rows("fff"), now=0.0)
    assert g is not None and g.ids == (1,)
    g = p.pick("c", _rows("fff"), now=0.0, backlog=40)  # 40 pending: summarize
    assert g is not None and g.ids == (1, 2, 3)


def test_a_head_in_backoff_blocks_what_is_behind() -> None:
    p = Policy(NotifySettings(digest_window_seconds=0))
    rows = [Pending(1, "fill", False), Pending(2, "fill", True)]
    assert p.pick("c", rows, now=0.0) is None


def test_digest_types_are_held_and_flushed_at_stop() -> None:
    p = Policy(NotifySettings(digest_window_seconds=0, digest_seconds=60,
                              types={"fill": "digest"}, chats={"c": {"error": "silent"}}))
    rows = [Pending(1, "fill", True), Pending(2, "error", True), Pending(3, "fill", True)]
    g = p.pick("c", rows, now=0.0)
    assert g is not None and g.ids == (2,) and g.silent  # the error is not held
    assert p.pick("c", [rows[0], rows[2]], now=10.0) is None  # fills wait 60 s...
    g = p.pick("c", [rows[0], rows[2]], now=10.0, flush=True)  # ...or until shutdown
    assert g is not None and g.ids == (1, 3) and g.silent
    assert p.mode("other", "error") == "on" and p.mode("c", "error") == "silent"


def test_format_digest_stays_in_limits_and_counts_everything() -> None:
    items = [(i, "fill", {"symbol": "BTC/USDT", "side": "buy", "amount": "1",
                          "price": str(i), "fee": "0.1"}, None) for i in range(1, 301)]
    r = format_digest(items, max_rows=5, max_chars=2000)
    assert len(r.text) <= 2000 and r.text.startswith("300 alerts #1–#300: 300 fills")
    shown = r.text.count("\n• ")
    assert f"…and {300 - shown} more" in r.text and r.buttons == ()


async def test_notify_command_shows_this_chats_modes(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from commands.base import Ctx, Identity
    from commands.notify import NotifyCmd
    from tests.chat.fake_api import FakeEngine, make_settings

    settings = make_settings(tmp_path, notify={
        "quiet_hours": "22:00-07:00", "types": {"fill": "digest"},
        "chats": {"telegram:111": {"error": "off"}}})
    ctx = Ctx(api=FakeEngine(settings), user=Identity("telegram", "111", "alice", "viewer"),
              chat_id="111")
    text = (await NotifyCmd().handle(ctx, [])).text
    assert "Alerts in telegram:111:" in text and "  fill: digest" in text
    assert "  error: off" in text and "  proposal: on" in text
    assert "quiet hours: 22:00-07:00 UTC" in text
    assert (await NotifyCmd().handle(ctx, ["x"])).ok is False
