"""The composition root: builds every part once and owns start/stop.

One process, one asyncio loop: the poller, the alert engine, delivery workers,
the health server and the chat transports are tasks of this loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from alerts.digests import Digests, DigestScheduler
from alerts.engine import Engine
from alerts.keys import Keys
from alerts.outbox import DeliveryWorker, Job
from alerts.service import AlertService
from alerts.subscriptions import Subscriptions
from alerts.watchlists import Watchlists
from bot.config import Settings
from bot.health import HealthServer
from bot.leader import LeaderLease
from bot.market import IndexSource, TickerSource
from bot.metrics import Metrics
from bot.poller import Poller, TickBatch
from bot.realtime import build_feed
from bot.signals import SignalDetector
from bot.stats import StatsSource, fired_today_field
from bot.store import MarketStore
from handlers.digest_cmds import build_digest
from handlers.notify import render_jobs
from handlers.registry import build_core
from handlers.reply import DeliveryDeferred, Reply
from handlers.services import Services

log = logging.getLogger(__name__)
COMMANDS_PER_MINUTE = 20
EXPIRY_SWEEP_SECONDS = 30.0
Pusher = Callable[[str, Reply], Awaitable[None]]


def connect_redis(url: str) -> Redis:
    """A client that retries with backoff, so a Redis restart is ridden out."""
    return Redis.from_url(
        url,
        decode_responses=True,
        socket_connect_timeout=2.0,
        socket_timeout=5.0,
        health_check_interval=15,
        retry=Retry(ExponentialBackoff(cap=2.0, base=0.05), retries=8),
        retry_on_error=[RedisConnectionError, RedisTimeoutError],
    )


def in_process_redis() -> Redis:
    """fakeredis (with Lua) for the demo when no Redis server answers: nothing persists."""
    import fakeredis

    server = fakeredis.FakeServer()
    client: Redis = fakeredis.FakeAsyncRedis(server=server, decode_responses=True)
    return client


async def redis_answers(client: Redis) -> bool:
    try:
        pong: Any = client.ping()
        return bool(await pong)
    except (RedisConnectionError, RedisTimeoutError, OSError):
        return False


class App:
    """Everything altbot runs, wired together."""

    def __init__(
        self,
        settings: Settings,
        redis: Redis,
        exchange: TickerSource,
        index: IndexSource,
        *,
        clock: Callable[[], float] = time.time,
        persistent: bool = True,
    ) -> None:
        self.settings = settings
        # redis-py types replies for both decode modes; decode_responses=True gives str.
        self.redis: Any = redis
        self.exchange = exchange
        self.index = index
        self.clock = clock
        self.persistent = persistent
        self.keys = Keys(settings.key_prefix)
        self.metrics = Metrics()
        self.store = MarketStore(redis, self.keys, settings.poll_interval_seconds)
        self.watchlists = Watchlists(
            redis, self.keys, defaults=settings.tracked_symbols,
            cap=settings.max_tracked_symbols, clock=clock,
        )  # fmt: skip
        self.poller = Poller(
            exchange,
            index,
            self.store,
            settings.tracked_symbols,
            poll_interval=settings.poll_interval_seconds,
            index_interval=settings.index_poll_interval_seconds,
            clock=clock,
            metrics=self.metrics,
            extra_symbols=self.watchlists.tracked,
            max_symbols=settings.max_tracked_symbols,
        )
        self.engine = Engine(redis, self.keys, self.store.ticks_since)
        self.alerts = AlertService(
            redis, self.keys, self.engine, self.store,
            quota=settings.alert_quota_per_chat, clock=clock,
        )  # fmt: skip
        self.subscriptions = Subscriptions(redis, self.keys)
        self.services = Services(
            settings, self.store, exchange.lists, clock,
            alerts=self.alerts, subscriptions=self.subscriptions,
            listed_symbols=lambda: exchange.symbols, watchlists=self.watchlists,
            digests=Digests(redis, self.keys),
        )  # fmt: skip
        self.digests = DigestScheduler(
            redis, self.keys, functools.partial(build_digest, self.services), clock=clock
        )
        self.signals = SignalDetector(self.services, self.subscriptions)
        self.pushers: dict[str, Pusher] = {}
        self.lease = LeaderLease(
            redis, self.keys.leader, ttl_ms=int(settings.leader_lease_seconds * 1000)
        )
        self.worker = DeliveryWorker(
            redis,
            self.keys,
            self.deliver,
            claim_idle_ms=int(settings.delivery_claim_idle_seconds * 1000),
            metrics=self.metrics,
            clock=clock,
        )
        self.services.migrate_chat = self.worker.outcomes.migration.move
        self.services.stats = StatsSource(
            redis, self.keys, self.engine, self.store, self.worker, clock
        )
        self.core = build_core(
            self.services,
            rate_limiter=self.allow_command,
            on_served=lambda req: self.metrics.commands.labels(req.transport).inc(),
        )
        self.health = HealthServer(self.health_check, self.metrics, settings.http_port)
        self.telegram: Any = None
        self.discord: Any = None
        self._tasks: list[asyncio.Task[None]] = []
        self._worker_task: asyncio.Task[None] | None = None
        self.poller.listeners.append(self._observe_tick)
        self.poller.listeners.append(self.evaluate_batch)
        self.poller.listeners.append(self.signals.on_batch)
        self.poller.index_listeners.append(self.signals.on_index)
        self.realtime = build_feed(settings, exchange, self.poller)  # EXCHANGE_WS, or None

    async def evaluate_batch(self, batch: TickBatch) -> None:
        """Run the engine over one poll's accepted (fresh, guarded) ticks."""
        now = int(batch.fetched_at)
        fired = 0
        for t in batch.ticks:
            ratio = batch.volume_ratio.get(t.symbol)
            fired += await self.engine.on_tick(t.symbol, t.price, batch.fetched_at, now, ratio)
        if fired:
            self.metrics.alerts_fired.inc(fired)
            await self.redis.hincrby(self.keys.stats, fired_today_field(self.clock()), fired)
            log.info("%d alerts fired", fired)

    async def deliver(self, chat: str, jobs: list[Job]) -> None:
        """Render a chat's jobs as one message and hand it to that chat's transport."""
        pusher = self.pushers.get(chat.split(":", 1)[0])
        if pusher is None:  # e.g. its token was removed: retried a few times, then dead letter
            raise DeliveryDeferred("no transport")
        await pusher(chat, render_jobs(jobs))
        self.metrics.deliveries.labels(chat.split(":", 1)[0]).inc(len(jobs))

    async def _expiry_loop(self) -> None:
        while True:
            try:
                await self.engine.expire_due(int(self.clock()))
            except Exception:
                log.exception("expiry sweep failed")
            await asyncio.sleep(EXPIRY_SWEEP_SECONDS)

    async def _observe_tick(self, batch: TickBatch) -> None:
        self.metrics.data_age.labels("exchange").set(max(0.0, self.clock() - batch.fetched_at))

    async def allow_command(self, chat: str) -> bool:
        """Per-chat command budget (20/min) so one chat cannot flood the bot or Redis."""
        if chat.startswith("console:"):
            return True
        key = self.keys.command_rate(chat)
        pipe = self.redis.pipeline(transaction=True)
        pipe.incr(key)
        pipe.expire(key, 60, nx=True)
        pipe.sadd(self.keys.users, chat)  # who uses the bot, for /stats
        count, *_ = await pipe.execute()
        return int(count) <= COMMANDS_PER_MINUTE

    async def health_check(self) -> tuple[bool, dict[str, object]]:
        """Healthy when Redis answers and the last good exchange poll is fresh."""
        details: dict[str, object] = {}
        if not await redis_answers(self.redis):
            return False, {"reason": "redis does not answer"}
        status = await self.store.feed_status("exchange")
        now = self.clock()
        age = None if status.last_ok is None else now - status.last_ok
        details["exchange_data_age_s"] = None if age is None else round(age, 1)
        details["exchange_last_error"] = status.last_error
        index = await self.store.feed_status("index")
        index_age = None if index.last_ok is None else round(now - index.last_ok, 1)
        details["index_data_age_s"] = index_age
        depth, pending = await self.worker.depth()
        self.metrics.outbox_depth.set(depth)
        self.metrics.outbox_pending.set(pending)
        details["outbox_backlog"] = pending
        dead = await self.worker.dead.count()
        self.metrics.dead_letters.set(dead)
        details["dead_letters"] = dead
        details["leader"] = await self.lease.holder()
        details["this_replica_leads"] = self.lease.is_leader
        if status.last_ok is None or self.store.is_stale(status.last_ok, now):
            details["reason"] = "no fresh exchange data"
            return False, details
        return True, details

    async def start(
        self, *, poll: bool = True, http: bool = True, telegram: bool = True, discord: bool = True
    ) -> None:
        """Start the HTTP server, the transports and the background loops."""
        if telegram and self.settings.telegram_bot_token is not None:
            from handlers.telegram import TelegramTransport

            self.telegram = TelegramTransport.from_settings(self.core, self.settings)
            if http:  # webhook mode (TELEGRAM_WEBHOOK_URL): a route on HTTP_PORT
                self.telegram.mount_webhook(self.health.app)
        if http:
            await self.health.start()
        if self.telegram is not None:
            # Long polling is a leader duty when leadership runs (one poller per token).
            await self.telegram.start(polling=not poll)
            self.pushers["tg"] = self.telegram.push
            self.worker.coalesce["tg"] = self.telegram.coalesce
            rate_limited = self.metrics.rate_limited.labels("telegram")
            self.telegram.limiter.on_retry_after = lambda _seconds: rate_limited.inc()
        dc_token = self.settings.discord_bot_token
        if discord and dc_token is not None:
            from handlers.discord_bot import DiscordTransport

            self.discord = DiscordTransport(
                self.core,
                dc_token.get_secret_value(),
                api_url=self.settings.discord_api_url,
                gateway_url=self.settings.discord_gateway_url,
                guild_id=self.settings.discord_guild_id,
            )
            # Like Telegram polling, the gateway (which receives slash commands) is a
            # leader duty when leadership runs; every replica can push over REST.
            await self.discord.start(connect=not poll)
            self.pushers["dc"] = self.discord.push
        await self.worker.ensure_group()
        self._worker_task = asyncio.create_task(self.worker.run(), name="delivery")
        if poll:
            lease = asyncio.create_task(self.lease.run(self.leader_duties), name="lease")
            self._tasks.append(lease)
        self._tasks.append(asyncio.create_task(self._gauges_loop(), name="gauges"))
        # Every replica runs the digest scheduler: claims are atomic, one sends each digest.
        self._tasks.append(asyncio.create_task(self.digests.run(), name="digests"))

    async def _gauges_loop(self) -> None:
        """Keep outbox gauges current on every replica, scraped or not."""
        while True:
            try:
                depth, pending = await self.worker.depth()
                self.metrics.outbox_depth.set(depth)
                self.metrics.outbox_pending.set(pending)
                self.metrics.dead_letters.set(await self.worker.dead.count())
                self.metrics.alerts_active.set(await self.engine.count_active())
            except Exception as exc:
                log.debug("gauges refresh failed: %s", exc)
            await asyncio.sleep(15)

    async def leader_duties(self) -> None:
        """What exactly one replica runs at a time: polling, evaluation, expiry."""
        async with asyncio.TaskGroup() as group:
            if self.realtime is None:
                group.create_task(self.poller.run(), name="poller")
            else:  # the feed owns exchange ticks; the poller keeps the index and history
                group.create_task(self.realtime.run(), name="realtime")
                group.create_task(self.poller.run(exchange=False), name="poller")
            group.create_task(self._expiry_loop(), name="expiry")
            if self.discord is not None:
                group.create_task(self.discord.run_gateway(), name="discord-gateway")
            if self.telegram is not None and self.telegram.polls_updates:
                group.create_task(self._telegram_polling(), name="telegram-polling")

    async def _telegram_polling(self) -> None:
        """Hold Telegram long polling while this replica leads; stop it when it does not."""
        await self.telegram.start_polling()
        try:
            await asyncio.Event().wait()
        finally:
            await self.telegram.stop_polling()

    async def stop(self, drain_seconds: float = 10.0) -> None:
        """Graceful stop, safe to call twice: stop taking work (polling, leader lease —
        released), let the delivery worker finish its batch in flight, then close clients.
        Jobs not acknowledged by then stay pending and another replica reclaims them."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        if self._worker_task is not None:
            self.worker.request_stop()
            try:
                await asyncio.wait_for(self._worker_task, drain_seconds)
            except (TimeoutError, asyncio.CancelledError, Exception):
                log.warning("delivery still busy after %.0fs; jobs stay pending", drain_seconds)
            self._worker_task = None
        if self.telegram is not None:
            await self.telegram.stop()
            self.telegram = None
        if self.discord is not None:
            await self.discord.stop()
            self.discord = None
        await self.health.stop()
        await self.exchange.close()
        await self.index.close()
