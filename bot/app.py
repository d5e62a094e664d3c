"""The composition root: builds every part once and owns start/stop.

One process, one asyncio loop: the poller, the alert engine, delivery workers,
the health server and the chat transports are tasks of this loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

from aiohttp.abc import AbstractResolver
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from alerts.domain.freshness import FeedFreshness, Freshness
from alerts.domain.market import DailyClose, IndexSource, MarketCapSource, TickBatch, TickerSource
from alerts.storage.chart_cache import ChartCache
from alerts.storage.command_budget import CommandBudget
from alerts.storage.digests import Digests, DigestScheduler
from alerts.storage.engine import Engine
from alerts.storage.keys import MCAP_FEED, Keys
from alerts.storage.leader import LeaderLease
from alerts.storage.market_caps import MarketCaps
from alerts.storage.market_store import MarketStore
from alerts.storage.migrate import migrate
from alerts.storage.outbox import DeliveryWorker
from alerts.storage.scripts import BadRecords
from alerts.storage.subscriptions import Subscriptions
from alerts.storage.watchlists import Watchlists
from alerts.storage.webhooks import WebhookFanout
from alerts.usecases.alerts import AlertService
from alerts.usecases.evaluation import Evaluation
from alerts.usecases.market import MarketView
from alerts.usecases.signals import SignalDetector, TargetReference
from alerts.usecases.stats import StatsSource
from bot.config import Settings
from bot.feeds.bars import FEED_NAME as BARS_FEED
from bot.feeds.bars import BarFeed
from bot.feeds.market_cap import MarketCapFeed
from bot.feeds.poller import Poller
from bot.health import HealthServer
from bot.metrics import Metrics
from bot.sources import build_feed
from bot.throttle import SpacedRunner
from bot.transports import start_discord, start_telegram
from handlers.chat.commands.digest import DigestNotices
from handlers.chat.dispatch import Dispatcher
from handlers.chat.registry import build_core
from handlers.chat.services import Services
from handlers.chat.signal_view import signal_notice
from handlers.chat.symbols import SymbolParser
from handlers.webhook.wiring import build_webhooks

log = logging.getLogger(__name__)
EXPIRY_SWEEP_SECONDS = 30.0


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
        caps: MarketCapSource | None = None,
        webhook_resolver: AbstractResolver | None = None,
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
        self.bad_records = BadRecords(on_new=self.metrics.bad_records.inc)
        self.store = MarketStore(redis, self.keys, bad=self.bad_records)
        # ccxt's own throttle may be slower than the configured interval (bot/feeds/exchange.py)
        throttle = float(getattr(exchange, "batch_seconds", 0.0))
        universe = settings.universe
        freshness = Freshness.of(
            settings.poll_interval_seconds, settings.index_poll_interval_seconds, throttle
        )
        self.freshness = freshness
        self.watchlists = Watchlists(
            redis, self.keys, defaults=universe.tracked_symbols,
            cap=settings.max_tracked_symbols, per_chat=settings.max_symbols_per_chat, clock=clock,
        )  # fmt: skip
        self.engine = Engine(
            redis, self.keys, self.store.history, bad=self.bad_records,
            symbols_per_chat=settings.max_symbols_per_chat,
            free_symbols=universe.tracked_symbols,
        )  # fmt: skip
        self.alerts = AlertService(
            redis, self.keys, self.engine, self.store, freshness,
            quota=settings.alert_quota_per_chat, clock=clock,
        )  # fmt: skip
        self.subscriptions = Subscriptions(redis, self.keys)
        self.caps = MarketCaps(redis, self.keys, bad=self.bad_records)
        self.market = MarketView(
            self.store, universe, freshness, clock,
            self.caps, FeedFreshness(settings.mcap_refresh_seconds), caps.name if caps else "none",
        )  # fmt: skip
        self.dispatch = Dispatcher(
            on_delivered=lambda transport, n: self.metrics.deliveries.labels(transport).inc(n)
        )
        self.lease = LeaderLease(
            redis, self.keys.leader, ttl_ms=int(settings.leader_lease_seconds * 1000)
        )
        self.worker = DeliveryWorker(
            redis,
            self.keys,
            self.dispatch.deliver,
            claim_idle_ms=int(settings.delivery_claim_idle_seconds * 1000),
            telemetry=self.metrics,
            clock=clock,
            fanout=WebhookFanout(redis, self.keys),
        )
        self.webhook = build_webhooks(
            redis, self.keys, self.worker.dead, resolver=webhook_resolver, clock=clock,
            allow_private=settings.webhook_allow_private, allow_http=settings.webhook_allow_http,
            exchange=settings.exchange,
            claim_idle_ms=int(settings.delivery_claim_idle_seconds * 1000),
        )  # fmt: skip
        self.services = Services(
            universe=universe,
            freshness=freshness,
            store=self.store,
            market=self.market,
            alerts=self.alerts,
            subscriptions=self.subscriptions,
            watchlists=self.watchlists,
            digests=Digests(redis, self.keys),
            stats=StatsSource(redis, self.keys, self.engine, self.store, self.worker, clock),
            symbols=SymbolParser(universe, exchange.lists, lambda: exchange.symbols),
            bars=exchange,
            clock=clock,
            admin_ids=frozenset(settings.admin_chat_ids),
            charts=ChartCache(self.store, on_render=self.metrics.chart_renders.inc),
            webhooks=self.webhook.service,
            migrate_chat=self.worker.outcomes.migration.move,
        )
        self.digests = DigestScheduler(redis, self.keys, DigestNotices(self.services), clock=clock)
        targets = TargetReference(settings.target_reference, settings.target_reference_prices)
        self.signals = SignalDetector(self.market, self.subscriptions, targets, signal_notice)
        self.signal_runner = SpacedRunner(
            self.signals.run_once,
            settings.poll_interval_seconds,
            name="signal detection",
            on_run=self.metrics.signal_checks.inc,
        )
        self.evaluation = Evaluation(
            self.engine, redis, self.keys, clock, on_fired=self.metrics.alerts_fired.inc
        )
        self.bars = BarFeed(  # bar closes (and intrabar ticks) -> indicator conditions
            exchange, self.store, lambda: self.poller.symbols,
            intrabar_seconds=settings.poll_interval_seconds, clock=clock,
            on_values=[self.evaluation.on_bar_values],
        )  # fmt: skip
        self.poller = Poller(
            exchange,
            index,
            self.store,
            universe.tracked_symbols,
            poll_interval=settings.poll_interval_seconds,
            index_interval=settings.index_poll_interval_seconds,
            clock=clock,
            telemetry=self.metrics,
            extra_symbols=self.watchlists.tracked,
            max_symbols=settings.max_tracked_symbols,
            on_batch=[
                self._observe_tick,
                self.evaluation.on_batch,
                self.bars.on_batch,
                self._signals_after_ticks,
            ],
            on_index=[self._signals_after_index],
        )
        self.mcap_feed = None if caps is None else MarketCapFeed(  # caps: CoinGecko, or a replay
            caps, self.caps, self.store, lambda: self.poller.symbols,
            interval=settings.mcap_refresh_seconds, clock=clock, telemetry=self.metrics,
            on_refresh=[self.evaluation.on_market_caps],
        )  # fmt: skip
        self.core = build_core(
            self.services,
            rate_limiter=CommandBudget(redis, self.keys).admit,
            on_served=lambda req: self.metrics.commands.labels(req.transport).inc(),
        )
        self.health = HealthServer(self.health_check, self.metrics, settings.http_port)
        self.telegram: Any = None
        self.discord: Any = None
        self._tasks: list[asyncio.Task[None]] = []
        self._worker_task: asyncio.Task[None] | None = None
        self.realtime = build_feed(settings, exchange, self.poller)  # EXCHANGE_WS, or None

    async def _signals_after_ticks(self, batch: TickBatch) -> None:
        """Only a request: detection runs in its own task, at most once per poll interval."""
        self.signal_runner.request()

    async def _signals_after_index(self, rows: list[DailyClose]) -> None:
        """A new R2K close matters at once (index polls are minutes apart)."""
        self.signal_runner.request(urgent=True)

    async def _expiry_loop(self) -> None:
        while True:
            try:
                await self.engine.expire_due(int(self.clock()))
            except Exception:
                log.exception("expiry sweep failed")
            await asyncio.sleep(EXPIRY_SWEEP_SECONDS)

    async def _observe_tick(self, batch: TickBatch) -> None:
        self.metrics.data_age.labels("exchange").set(max(0.0, self.clock() - batch.fetched_at))

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
        if self.mcap_feed is not None:  # informative only: prices and alerts do not need it
            caps = await self.store.feed_status(MCAP_FEED)
            details["mcap_data_age_s"] = caps.last_ok and round(now - caps.last_ok, 1)
            details["mcap_last_error"] = caps.last_error
        bars = await self.store.feed_status(BARS_FEED)  # informative: indicator alerts only
        details["bars_last_error"] = bars.last_error
        depth, pending = await self.worker.depth()
        self.metrics.outbox_depth.set(depth)
        self.metrics.outbox_pending.set(pending)
        details["outbox_backlog"] = pending
        dead = await self.worker.dead.count()
        self.metrics.dead_letters.set(dead)
        details["dead_letters"] = dead
        details["leader"] = await self.lease.holder()
        details["this_replica_leads"] = self.lease.is_leader
        stopped = sorted(t.get_name() for t in self._tasks if t.done())
        if stopped:  # a background loop that ended is a bug: say so instead of limping on
            details["reason"] = f"background loops stopped: {', '.join(stopped)}"
            return False, details
        if self.freshness.price_stale(status.last_ok, now):
            details["reason"] = "no fresh exchange data"
            return False, details
        return True, details

    async def start(
        self, *, poll: bool = True, http: bool = True, telegram: bool = True, discord: bool = True
    ) -> None:
        """Start the HTTP server, the transports and the background loops."""
        await migrate(self.redis, self.keys, self.bad_records)  # before any command or tick
        prices = self.freshness.prices
        if prices.interval_too_short:
            log.warning(
                "POLL_INTERVAL_SECONDS=%g is shorter than the exchange client can poll "
                "(%.2f s per batched request): polls come every %.2f s; data counts as stale "
                "after %.1f s", prices.interval, prices.throttle, prices.period, prices.max_age,
            )  # fmt: skip
        if telegram and self.settings.telegram_bot_token is not None:
            self.telegram = await start_telegram(self, poll=poll, http=http)
        elif http:
            await self.health.start()
        if discord and self.settings.discord_bot_token is not None:
            self.discord = await start_discord(self, poll=poll)
        await self.worker.ensure_group()
        self._worker_task = asyncio.create_task(self.worker.run(), name="delivery")
        if poll:
            lease = asyncio.create_task(self.lease.run(self.leader_duties), name="lease")
            self._tasks.append(lease)
        self._tasks.append(asyncio.create_task(self._gauges_loop(), name="gauges"))
        # Every replica sends webhooks, like chat jobs: the consumer group shares them out.
        self._tasks.append(asyncio.create_task(self.webhook.worker.run(), name="webhooks"))
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
        """What exactly one replica runs at a time: polling, evaluation, expiry, market caps."""
        async with asyncio.TaskGroup() as group:
            if self.realtime is None:
                group.create_task(self.poller.run(), name="poller")
            else:  # the feed owns exchange ticks; the poller keeps the index and history
                group.create_task(self.realtime.run(), name="realtime")
                group.create_task(self.poller.run(exchange=False), name="poller")
            group.create_task(self._expiry_loop(), name="expiry")
            group.create_task(self.bars.run(), name="bars")
            group.create_task(self.signal_runner.run(), name="signals")
            if self.mcap_feed is not None:
                group.create_task(self.mcap_feed.run(), name="market-caps")
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
        if self.mcap_feed is not None:
            await self.mcap_feed.source.close()
