"""Digests: DST-safe next runs, atomic claims across restarts and replicas, content end to end."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from redis.asyncio import Redis

from alerts.domain.jobs import Notice
from alerts.domain.regime import index_stats
from alerts.domain.schedule import Schedule
from alerts.storage.digests import LATE_GRACE_SECONDS, DigestScheduler
from alerts.storage.keys import Keys
from bot.app import App
from bot.feeds.replay import ReplayExchange
from fakes.tg_harness import telegram_app
from handlers.chat.reply import Reply, Request
from tests.conftest import REDIS_URL
from tests.replay import TODAY, ask, replay_app

MIDNIGHT = TODAY - TODAY % 86400  # 2025-11-24 00:00 UTC; the replay starts at 15:00 UTC
DUE = MIDNIGHT + 15 * 3600 + 1800  # /digest 16:30 Europe/Berlin (CET, UTC+1) → 15:30 UTC


def utc(*args: int) -> float:
    return datetime(*args, tzinfo=UTC).timestamp()  # type: ignore[misc]


def local(ts: float, tz: str) -> str:
    return datetime.fromtimestamp(ts, ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M %Z")


# ---- next-run computation -----------------------------------------------------------------
@pytest.mark.parametrize(
    ("tz", "start", "utc_hours"),
    [
        # Berlin springs forward on 2025-03-30: 08:30 CET = 07:30 UTC, then CEST = 06:30 UTC.
        ("Europe/Berlin", utc(2025, 3, 27, 12), [7, 7, 6, 6]),
        # ... and falls back on 2025-10-26: 06:30 UTC, then 07:30 UTC.
        ("Europe/Berlin", utc(2025, 10, 23, 12), [6, 6, 7, 7]),
        # New York: EDT from 2025-03-09 (12:30 UTC), EST from 2025-11-02 (13:30 UTC).
        ("America/New_York", utc(2025, 3, 6, 18), [13, 13, 12, 12]),
        ("America/New_York", utc(2025, 10, 30, 18), [12, 12, 13, 13]),
        ("UTC", utc(2025, 3, 27, 12), [8, 8, 8, 8]),
    ],
)
def test_daily_run_keeps_local_wall_time_across_dst(
    tz: str, start: float, utc_hours: list[int]
) -> None:
    schedule = Schedule(8, 30, tz)
    at, runs = start, []
    for _ in utc_hours:
        at = schedule.next_run(at)
        runs.append(at)
    assert [datetime.fromtimestamp(r, UTC).hour for r in runs] == utc_hours
    assert all(datetime.fromtimestamp(r, ZoneInfo(tz)).strftime("%H:%M") == "08:30" for r in runs)
    gaps = [b - a for a, b in itertools.pairwise(runs)]
    assert gaps.count(86400) == (3 if tz == "UTC" else 2)  # the switch day lasts 23 or 25 h


def test_a_skipped_wall_time_runs_once_when_the_clocks_jump() -> None:
    schedule = Schedule(2, 30, "Europe/Berlin")  # 02:30 does not exist on 2025-03-30
    first = schedule.next_run(utc(2025, 3, 29, 12))
    assert local(first, "Europe/Berlin") == "2025-03-30 03:30 CEST"
    assert local(schedule.next_run(first), "Europe/Berlin") == "2025-03-31 02:30 CEST"


def test_a_repeated_wall_time_runs_once_at_its_first_occurrence() -> None:
    schedule = Schedule(2, 30, "Europe/Berlin")  # 02:30 happens twice on 2025-10-26
    first = schedule.next_run(utc(2025, 10, 25, 12))
    assert datetime.fromtimestamp(first, UTC).hour == 0  # 02:30 CEST
    second = schedule.next_run(first)
    assert local(second, "Europe/Berlin") == "2025-10-27 02:30 CET"  # not 02:30 CET on the 26th


def test_weekly_run_lands_on_its_weekday_in_the_chats_zone() -> None:
    schedule = Schedule(8, 30, "America/New_York", weekday=0)
    first = schedule.next_run(utc(2025, 10, 28, 12))  # a Tuesday, before the switch to EST
    assert local(first, "America/New_York") == "2025-11-03 08:30 EST"
    assert datetime.fromtimestamp(first, UTC).hour == 13
    assert schedule.next_run(first) - first == 7 * 86400
    assert Schedule.unpack(schedule.pack()) == schedule


# ---- scheduler against real Redis ------------------------------------------------------------
@pytest.fixture
async def app(redis: Redis, prefix: str) -> AsyncIterator[App]:
    application = replay_app(redis, prefix)
    await application.worker.ensure_group()
    await application.poller.run_once()
    yield application
    await application.stop()


def set_clock(app: App, ts: float) -> None:
    exchange = app.exchange
    assert isinstance(exchange, ReplayExchange)
    exchange.now = ts


async def poll_all(app: App) -> None:
    """Fresh prices and R2K at the app's current clock."""
    exchange = app.exchange
    assert isinstance(exchange, ReplayExchange)
    exchange.step += 1
    await app.poller.run_index_once()
    await app.poller.run_exchange_once()


async def digest_jobs(redis: Redis, keys: Keys) -> list[dict[str, str]]:
    entries = await redis.xrange(keys.outbox_digest)
    return [fields for _, fields in entries if fields.get("t") == "digest"]


async def schedule_berlin(app: App, chat: str = "tg:1") -> None:
    reply = await ask(app, "/digest 16:30 Europe/Berlin", chat=chat)
    assert reply.title == "🗞 Digest set: daily at 16:30 Europe/Berlin", reply.plain_text()
    assert reply.lines[0] == "Next: Mon 24 Nov 16:30 Europe/Berlin (in 30m)."


async def test_digest_arrives_at_the_scheduled_time_with_the_chats_board(app: App) -> None:
    pushed: list[tuple[str, Reply]] = []

    async def push(chat: str, reply: Reply, *_: object) -> None:
        pushed.append((chat, reply))

    app.dispatch.attach("tg", push)
    await ask(app, "/watch add SOL")
    await poll_all(app)
    await app.poller.refresh_history()  # what the poller's history loop does for new symbols
    prices = {}
    for base in ("LINK", "SOL", "HBAR"):
        snap = await app.store.snapshot(f"{base}/USDT")
        assert snap is not None
        prices[base] = snap.price
    await ask(app, f"/alert LINK above {prices['LINK'] * 1.03:.4f}")
    await ask(app, f"/alert SOL below {prices['SOL'] * 0.9:.2f}")
    await ask(app, f"/alert HBAR above {prices['HBAR'] * 1.5:.6f}")
    await schedule_berlin(app)
    assert await app.digests.run_once() == 0
    await app.worker.run_once(block_ms=None)
    assert pushed == []
    set_clock(app, DUE - 5)
    await poll_all(app)
    set_clock(app, DUE)
    assert await app.digests.run_once() == 1
    assert await app.worker.run_once(block_ms=None) == 1
    ((chat, reply),) = pushed
    assert chat == "tg:1"
    assert reply.title == "🗞 Daily digest — Mon 24 Nov 16:30 Europe/Berlin"
    text = reply.plain_text()
    assert "STALE" not in text and "not advice" in (reply.footer or "")
    start = reply.lines.index("Board (by 24h change):")
    board = [line for line in reply.lines[start + 1 :] if line.startswith("  ")][:6]
    assert {line.split()[0] for line in board} == {"ADA", "AVAX", "BCH", "HBAR", "LINK", "SOL"}
    changes = [float(line.split()[2].rstrip("%")) for line in board]
    assert changes == sorted(changes, reverse=True)
    assert all("× 30d mean" in line for line in board)
    rows, _ = await app.store.index()
    stats = index_stats(rows)
    assert stats is not None
    r2k = next(line for line in reply.lines if line.startswith("R2K "))
    assert r2k.startswith(f"R2K {stats.last_close:,.2f} (close 2025-11-24)")
    assert f"Regime: {(await app.market.regime())[0].label}" in reply.lines
    closest = reply.lines[reply.lines.index("Alerts closest to firing:") + 1 :][:3]
    assert [line.split()[1] for line in closest] == ["LINK/USDT", "SOL/USDT", "HBAR/USDT"]
    assert closest[0].endswith("% away") and "above" in closest[0]
    top = board[0].split()[0]
    assert [[b.data for b in row] for row in reply.buttons] == [["digest:now", f"chart:{top}"]]
    assert await app.redis.zscore(app.keys.digest_due, "tg:1") == DUE + 86400
    assert await app.digests.run_once() == 0  # claimed: never twice


async def test_stale_data_is_said_to_be_stale(app: App) -> None:
    set_clock(app, MIDNIGHT + 20 * 3600)  # five hours without a poll
    reply = await ask(app, "/digest now")
    assert reply.title.startswith("🗞 Digest — Mon 24 Nov 20:00 UTC")
    assert reply.tone == "warn"
    assert all("STALE" in line for line in reply.lines[1:6])
    assert "STALE" in next(line for line in reply.lines if line.startswith("R2K "))
    assert any(line.startswith("⚠️ Data marked STALE") for line in reply.lines)
    refreshed = await app.core.handle_callback(Request("tg:1", "tg:1", ""), "digest:now")
    assert refreshed.title == reply.title


async def test_restart_mid_schedule_neither_skips_nor_repeats(
    app: App, redis: Redis, prefix: str
) -> None:
    await schedule_berlin(app)
    assert await app.digests.run_once() == 0
    await app.stop()  # the process goes down before the digest is due ...
    restarted = replay_app(redis, prefix)
    try:
        set_clock(restarted, DUE + 600)  # ... and is back ten minutes late
        assert await restarted.digests.run_once() == 1
        assert await restarted.digests.run_once() == 0
        again = replay_app(redis, prefix)  # another restart right after the send
        set_clock(again, DUE + 660)
        assert await again.digests.run_once() == 0
        set_clock(again, DUE + 86400)
        assert await again.digests.run_once() == 1
        jobs = await digest_jobs(redis, restarted.keys)
        assert [int(j["due"]) for j in jobs] == [DUE, DUE + 86400]
        await again.stop()
    finally:
        await restarted.stop()


async def test_two_replicas_racing_send_each_digest_once(
    app: App, redis: Redis, prefix: str
) -> None:
    chats = [f"tg:{i}" for i in range(1, 31)]
    for chat in chats:
        await schedule_berlin(app, chat)
    other_redis: Redis = Redis.from_url(REDIS_URL, decode_responses=True)
    other = replay_app(other_redis, prefix)
    try:
        for replica in (app, other):
            set_clock(replica, DUE + 1)
        counts = await asyncio.gather(app.digests.run_once(), other.digests.run_once())
        assert sum(counts) == len(chats)
        jobs = await digest_jobs(redis, app.keys)
        assert sorted(j["chat"] for j in jobs) == sorted(chats)
    finally:
        await other.stop()
        await other_redis.aclose()


async def test_missed_by_less_than_an_hour_is_sent_late_once(app: App) -> None:
    await schedule_berlin(app)
    set_clock(app, DUE + LATE_GRACE_SECONDS - 60)
    assert await app.digests.run_once() == 1
    assert await app.digests.run_once() == 0
    assert await app.redis.zscore(app.keys.digest_due, "tg:1") == DUE + 86400
    (job,) = await digest_jobs(app.redis, app.keys)
    assert job["due"] == str(DUE) and job["t"] == "digest"


async def test_a_paused_chats_digest_is_rescheduled_not_queued(app: App) -> None:
    await schedule_berlin(app)
    await app.redis.set(app.keys.paused("tg:1"), "Forbidden: bot was blocked by the user")
    set_clock(app, DUE + 60)
    assert await app.digests.run_once() == 0
    assert await digest_jobs(app.redis, app.keys) == []  # nothing to dead-letter every day
    assert await app.redis.zscore(app.keys.digest_due, "tg:1") == DUE + 86400


async def test_missed_by_more_than_an_hour_is_skipped_and_rescheduled(app: App) -> None:
    await schedule_berlin(app)
    set_clock(app, DUE + 3 * 3600)
    assert await app.digests.run_once() == 0
    assert app.digests.skipped == 1
    assert await digest_jobs(app.redis, app.keys) == []
    assert await app.redis.zscore(app.keys.digest_due, "tg:1") == DUE + 86400


async def test_schedule_changed_while_building_is_not_sent_on_the_old_one(app: App) -> None:
    await schedule_berlin(app)
    digests = app.services.digests

    async def build_and_change(chat: str, schedule: Schedule) -> Notice:
        await digests.set(chat, Schedule(9, 0, "UTC"), float(DUE))  # the user, meanwhile
        return Notice("digest")

    racer = DigestScheduler(app.redis, app.keys, build_and_change, clock=lambda: DUE + 1.0)
    assert await racer.run_once() == 0
    assert await digest_jobs(app.redis, app.keys) == []
    assert await app.redis.zscore(app.keys.digest_due, "tg:1") == MIDNIGHT + 86400 + 9 * 3600


async def test_digest_commands_parse_and_explain(app: App) -> None:
    assert (await ask(app, "/digest")).title == "No digest scheduled"
    bad_time = await ask(app, "/digest 25:00")
    assert bad_time.tone == "error" and "not a time of day" in bad_time.title
    typo = await ask(app, "/digest 08:30 Europe/Berlim")
    assert "timezone" in typo.title and "Did you mean Europe/Berlin" in typo.lines[0]
    lower = await ask(app, "/digest 08:30 europe/berlin")
    assert lower.title == "🗞 Digest set: daily at 08:30 Europe/Berlin"
    weekly = await ask(app, "/digest weekly mon 08:30 America/New_York")
    assert weekly.title == "🗞 Digest set: weekly on Monday at 08:30 America/New_York"
    assert weekly.lines[0].startswith("Next: Mon 01 Dec 08:30 America/New_York")
    status = await ask(app, "/digest")
    assert status.title == "🗞 Your digest: weekly on Monday at 08:30 America/New_York"
    assert "Which day?" in (await ask(app, "/digest weekly someday 08:30")).title
    group = await ask(app, "/digest 08:30", chat="tg:-9", is_group=True, is_admin=False)
    assert "admins" in group.title
    assert (await ask(app, "/digest off")).title == "Digest off."
    assert (await ask(app, "/digest off")).title == "No digest was scheduled."
    assert await app.redis.zscore(app.keys.digest_due, "tg:1") is None


async def test_digest_over_the_real_telegram_transport(redis: Redis, prefix: str) -> None:
    """FakeTelegram + real PTB: the digest arrives once, with working buttons."""
    async with telegram_app(redis, prefix) as h:
        await h.say(42, "/watch add SOL")
        await h.poll()
        now = h.clock()
        at = datetime.fromtimestamp(now + 120, UTC)
        due = Schedule(at.hour, at.minute).next_run(now)
        set_reply = await h.say(42, f"/digest {at:%H:%M}")
        assert "Digest set: daily at" in (set_reply.text or "")
        h.clock.advance(due - now + 1)
        await h.poll()
        await h.app.digests.run_once()  # the background loop may claim it first: one wins

        def has_digest(sent: list[object]) -> bool:
            return any("Daily digest" in (getattr(m, "text", "") or "") for m in sent)

        await h.tg.wait_for(has_digest, chat_id=42, timeout=10)
        await h.quiet(42, seconds=1.5)
        digests = [m for m in h.tg.messages_to(42) if "Daily digest" in (m.text or "")]
        assert len(digests) == 1
        text = digests[0].text or ""
        assert "SOL" in text and "LINK" in text and "Regime:" in text and "R2K" in text
        markup = digests[0].reply_markup or {}
        datas = [b["callback_data"] for row in markup["inline_keyboard"] for b in row]
        assert datas[0] == "digest:now" and datas[1].startswith("chart:")
        _, refreshed = await h.press_for_reply(42, "digest:now", digests[0].message_id or 1)
        assert "Daily digest" in (refreshed.text or "") and "SOL" in (refreshed.text or "")
