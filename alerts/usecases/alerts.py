"""Alert use cases for the command core: create, list, delete, re-arm, pause/resume.

Creation checks the market first: an alert whose condition is already true is
refused (it would fire at once, or never cross), and nothing is created on
stale data. Every operation is scoped to the calling chat.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from alerts.domain import fmt
from alerts.domain.alert import Alert, AlertKind, Direction
from alerts.domain.conditions import Condition
from alerts.domain.errors import UserError
from alerts.domain.freshness import Freshness
from alerts.domain.grammar import AlertSpec, SpecKind, conditions_of, parse_alert_args
from alerts.domain.moves import WINDOW_NAMES
from alerts.storage.bar_series import BarSeriesRegistry
from alerts.storage.engine import QUOTA_REACHED, SYMBOL_CAP_REACHED, Engine
from alerts.storage.keys import BUTTON_NONCE_TTL_SECONDS, HISTORY_TTL_SECONDS, Keys
from alerts.storage.market_store import MarketStore
from alerts.storage.once import AlreadyDone, OnceClaims

SNOOZE_SECONDS = 3600


@dataclass(frozen=True, slots=True)
class Created:
    alert: Alert
    price: float
    # condition alerts: each condition with its series' last evaluated value (None: not yet)
    now: tuple[tuple[Condition, float | None], ...] = ()


def respec(old: Alert) -> AlertSpec:
    """The spec that re-creates `old` at the same absolute level (a +N% alert becomes a level)."""
    if old.cond:
        return parse_alert_args(old.cond.split())
    kinds: dict[AlertKind, SpecKind] = {
        AlertKind.ABOVE: "above", AlertKind.RISE: "above", AlertKind.BELOW: "below",
        AlertKind.DROP: "below", AlertKind.MOVE: "move", AlertKind.VOLUME: "volume",
    }  # fmt: skip
    return AlertSpec(kinds[old.kind], old.level, window=old.window)


class AlertService:
    """Owns the alert rules that involve both the market and Redis."""

    def __init__(
        self,
        redis: Redis,
        keys: Keys,
        engine: Engine,
        store: MarketStore,
        freshness: Freshness,
        *,
        quota: int,
        clock: Callable[[], float],
    ) -> None:
        # redis-py annotates replies as bytes | str; with decode_responses=True they are str.

        self.redis: Any = redis
        self.keys = keys
        self.engine = engine
        self.store = store
        self.freshness = freshness
        self.quota = quota
        self.clock = clock
        self.claims = OnceClaims(redis)
        self.series = BarSeriesRegistry(redis, keys)

    async def _price(self, symbol: str) -> float:
        snap = await self.store.snapshot(symbol)
        if snap is None or self.freshness.price_stale(snap.fetched_at, self.clock()):
            raise UserError(
                f"No fresh price for {symbol} right now, so I can't check the alert.",
                "The exchange is not answering; try again in a minute.",
            )
        return snap.price

    async def volume_ratio(self, symbol: str) -> float | None:
        snap = await self.store.snapshot(symbol)
        candles = (await self.store.daily(symbol))[-31:-1]
        if snap is None or snap.quote_volume is None or not candles:
            return None
        mean = sum(c.quote_volume for c in candles) / len(candles)
        return snap.quote_volume / mean if mean > 0 else None

    async def values_now(
        self, symbol: str, conditions: tuple[Condition, ...]
    ) -> tuple[tuple[Condition, float | None], ...]:
        """Each condition with its series' last evaluated value (None: none yet)."""
        fields = [c.series for c in conditions]
        values = await self.redis.hmget(self.keys.last(symbol), fields) if fields else []
        pairs = zip(conditions, values, strict=True)
        return tuple((c, float(v) if v is not None else None) for c, v in pairs)

    async def current(
        self, symbol: str, spec: AlertSpec
    ) -> tuple[tuple[Condition, float | None], ...]:
        """`values_now` of a new alert's conditions; refuses one already true."""
        now = await self.values_now(symbol, spec.conditions)
        if now and all(v is not None and c.holds(v) for c, v in now):
            held = " and ".join(c.text for c, _ in now)
            raise UserError(
                f"{symbol}: {held} already holds, so the alert could only fire once it stops "
                "and starts again.",
                "Pick a condition that is not true yet.",
            )
        return now

    async def create(self, chat: str, symbol: str, spec: AlertSpec) -> Created:
        price = await self._price(symbol)
        now = int(self.clock())
        current = await self.current(symbol, spec) if spec.kind == "condition" else ()
        kind, level, window = self._resolve(spec, price)
        if kind is AlertKind.ABOVE and price >= level:
            raise UserError(
                f"{symbol} is already at {fmt.price(price)}, above {fmt.price(level)}.",
                f"Pick a level above the current price, e.g. /alert {symbol.split('/')[0]} "
                f"above {fmt.price(price * 1.05)}",
            )
        if kind is AlertKind.BELOW and price <= level:
            raise UserError(
                f"{symbol} is already at {fmt.price(price)}, below {fmt.price(level)}.",
                f"Pick a level under the current price, e.g. /alert {symbol.split('/')[0]} "
                f"below {fmt.price(price * 0.95)}",
            )
        if kind is AlertKind.VOLUME:
            ratio = await self.volume_ratio(symbol)
            if ratio is None:
                raise UserError(f"No 30-day volume history for {symbol} yet; try again later.")
            if ratio >= level:
                raise UserError(
                    f"{symbol}'s 24h volume is already {ratio:.1f}× its 30-day mean.",
                    f"Pick a multiple above {ratio:.1f}.",
                )
        # move alerts: the same window extremes the engine uses (bucketed history)
        if (
            kind is AlertKind.MOVE
            and await self.store.history.move(symbol, window, self.clock(), price) >= level
        ):
            raise UserError(
                f"{symbol} has already moved {level:g}% within {WINDOW_NAMES[window]}.",
                "Pick a larger move or a shorter window.",
            )
        alert = Alert(
            id=await self.engine.next_id(),
            chat=chat,
            symbol=symbol,
            kind=kind,
            level=level,
            ref=price,
            created=now,
            expires=now + spec.expires_in if spec.expires_in else 0,
            cooldown=spec.cooldown if spec.repeat else 0,
            window=window,
            cond=spec.condition_words if spec.kind == "condition" else "",
        )
        await self.series.register(symbol, (c.series for c in spec.conditions))
        status = await self.engine.create(alert, self.quota)
        if status == QUOTA_REACHED:
            raise UserError(
                f"This chat already has {self.quota} alerts, the most it can have.",
                "Delete some with /alerts or /delete ID.",
            )
        if status == SYMBOL_CAP_REACHED:
            cap = self.engine.symbols_per_chat
            raise UserError(
                f"This chat already follows {cap} coins (watchlist and alerts together), "
                "the most it can.",
                "Delete the alerts of a coin you no longer need, or /watch remove one.",
            )
        return Created(alert, price, current)

    @staticmethod
    def _resolve(spec: AlertSpec, price: float) -> tuple[AlertKind, float, int]:
        """(stored kind, absolute level, window) of a parsed spec at the current price."""
        if spec.kind == "above":
            return AlertKind.ABOVE, spec.value, 0
        if spec.kind == "below":
            return AlertKind.BELOW, spec.value, 0
        if spec.kind == "percent":
            # 10 significant digits: 44.400000000000006 would cost bytes on every record
            level = float(f"{price * (1 + spec.value / 100):.10g}")
            return (AlertKind.RISE if spec.value > 0 else AlertKind.DROP), level, 0
        if spec.kind == "move":
            return AlertKind.MOVE, spec.value, spec.window
        if spec.kind == "condition":
            if len(spec.conditions) > 1:
                return AlertKind.CONDITIONS, 0.0, 0
            c = spec.conditions[0]
            up = c.direction is Direction.UP
            return (AlertKind.CONDITION_UP if up else AlertKind.CONDITION_DOWN), c.level, 0
        return AlertKind.VOLUME, spec.value, 0

    async def list(self, chat: str) -> list[Alert]:
        ids = sorted(int(i) for i in await self.redis.smembers(self.keys.chat(chat)))
        alerts = []
        for alert_id in ids:
            alert = await self.engine.get(alert_id)
            if alert is not None and alert.chat == chat:
                alerts.append(alert)
        return alerts

    async def series_of(self, chat: str, symbol: str) -> Sequence[str]:
        """Bar series keys (`rsi14@1h`, `ema9-ema21@1h`) the chat's alerts on `symbol` watch,
        for `/chart SYMBOL 1h` to draw under the price."""
        keys = {
            c.series
            for alert in await self.list(chat)
            if alert.symbol == symbol and alert.cond
            for c in conditions_of(alert.cond)
            if c.bar_series is not None
        }
        return sorted(keys)

    async def get_own(self, chat: str, alert_id: int) -> Alert:
        alert = await self.engine.get(alert_id)
        if alert is None or alert.chat != chat:
            raise UserError(f"No alert #{alert_id} in this chat.", "See /alerts for your alerts.")
        return alert

    async def delete(self, chat: str, alert_id: int) -> Alert:
        alert = await self.get_own(chat, alert_id)
        if not await self.engine.remove(alert, owner=chat, reason="delete", now=int(self.clock())):
            raise UserError(f"Alert #{alert_id} is already gone (it may just have fired).")
        return alert

    async def create_once(
        self, chat: str, nonce: str, symbol: str, spec: AlertSpec
    ) -> Created | AlreadyDone:
        """`create` for a button carrying `nonce`: a second press of it creates nothing."""
        return await self.claims.run(
            self.keys.button(chat, nonce),
            BUTTON_NONCE_TTL_SECONDS,
            lambda: self.create(chat, symbol, spec),
            lambda created: str(created.alert.id),
        )

    async def delete_all(self, chat: str, up_to: int | None = None) -> int:
        """Delete the chat's alerts (only ids <= `up_to`: those a confirm button listed)."""
        removed = 0
        for alert in await self.list(chat):
            if up_to is not None and alert.id > up_to:
                continue
            removed += await self.engine.remove(
                alert, owner=chat, reason="delete", now=int(self.clock())
            )
        return removed

    async def fired_record(self, chat: str, alert_id: int) -> Alert | None:
        """A fired once-alert from history (30 days), if it belongs to the chat."""
        raw = await self.redis.get(self.keys.history(alert_id))
        if raw is None:
            return None
        alert = Alert.unpack(alert_id, raw.rsplit("|", 2)[0])  # record | value | fired at
        return alert if alert.chat == chat else None

    async def rearm(self, chat: str, alert_id: int) -> Created | AlreadyDone:
        """Create the same alert again (same level) after it fired; once per fired alert,
        however often its Re-arm button is pressed (`AlreadyDone` names the new alert)."""
        old = await self.fired_record(chat, alert_id)
        if old is None:
            live = await self.engine.get(alert_id)
            if live is not None and live.chat == chat:
                raise UserError(f"Alert #{alert_id} is still active.")
            raise UserError(f"No fired alert #{alert_id} in this chat to re-arm.")
        symbol, again = old.symbol, respec(old)
        return await self.claims.run(
            self.keys.rearmed(alert_id),
            HISTORY_TTL_SECONDS,
            lambda: self.create(chat, symbol, again),
            lambda created: str(created.alert.id),
        )

    async def snooze(self, chat: str, alert_id: int, seconds: int = SNOOZE_SECONDS) -> Alert:
        """Silence a repeat alert for a while; it stays armed and keeps its levels.

        Pressing Snooze again while it is snoozed changes nothing (the first hour stands).
        """
        current = await self.get_own(chat, alert_id)
        if current.snoozed_until > self.clock():
            raise UserError(
                f"Alert #{alert_id} is already snoozed until {fmt.when(current.snoozed_until)}."
            )
        until = int(self.clock()) + seconds
        status = await self.engine.snooze(alert_id, chat, until)
        if status == -1:
            raise UserError(f"Alert #{alert_id} fires only once; there is nothing to snooze.")
        if status != 1:
            raise UserError(f"No alert #{alert_id} in this chat (it may have been deleted).")
        return await self.get_own(chat, alert_id)

    async def resume_chat(self, chat: str) -> str | None:
        """Resume deliveries to a paused chat (called on /start); returns why it was paused."""
        reason: str | None = await self.redis.getdel(self.keys.paused(chat))
        return reason

    async def is_paused(self, chat: str) -> bool:
        return bool(await self.redis.exists(self.keys.paused(chat)))

    async def paused_reason(self, chat: str) -> str | None:
        """Why deliveries to the chat are paused (what the chat API said), or None."""
        reason: str | None = await self.redis.get(self.keys.paused(chat))
        return reason
