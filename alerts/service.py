"""Alert use cases for the command core: create, list, delete, re-arm, pause/resume.

Creation checks the market first: an alert whose condition is already true is
refused (it would fire at once, or never cross), and nothing is created on
stale data. Every operation is scoped to the calling chat.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from alerts.engine import Engine, move_happened
from alerts.keys import Keys
from alerts.model import STATE_ARMED, Alert, AlertSpec
from bot.store import MarketStore
from handlers import fmt
from handlers.reply import UserError

SNOOZE_SECONDS = 3600


@dataclass(frozen=True, slots=True)
class Created:
    alert: Alert
    price: float


class AlertService:
    """Owns the alert rules that involve both the market and Redis."""

    def __init__(
        self,
        redis: Redis,
        keys: Keys,
        engine: Engine,
        store: MarketStore,
        *,
        quota: int,
        clock: Callable[[], float],
    ) -> None:
        # redis-py annotates replies as bytes | str; with decode_responses=True they are str.

        self.redis: Any = redis
        self.keys = keys
        self.engine = engine
        self.store = store
        self.quota = quota
        self.clock = clock

    async def _price(self, symbol: str) -> float:
        snap = await self.store.snapshot(symbol)
        if snap is None or self.store.is_stale(snap.fetched_at, self.clock()):
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

    async def create(self, chat: str, symbol: str, spec: AlertSpec) -> Created:
        price = await self._price(symbol)
        now = int(self.clock())
        kind, level, window = self._resolve(spec, price)
        if kind == "a" and price >= level:
            raise UserError(
                f"{symbol} is already at {fmt.price(price)}, above {fmt.price(level)}.",
                f"Pick a level above the current price, e.g. /alert {symbol.split('/')[0]} "
                f"above {fmt.price(price * 1.05)}",
            )
        if kind == "b" and price <= level:
            raise UserError(
                f"{symbol} is already at {fmt.price(price)}, below {fmt.price(level)}.",
                f"Pick a level under the current price, e.g. /alert {symbol.split('/')[0]} "
                f"below {fmt.price(price * 0.95)}",
            )
        if kind == "v":
            ratio = await self.volume_ratio(symbol)
            if ratio is None:
                raise UserError(f"No 30-day volume history for {symbol} yet; try again later.")
            if ratio >= level:
                raise UserError(
                    f"{symbol}'s 24h volume is already {ratio:.1f}× its 30-day mean.",
                    f"Pick a multiple above {ratio:.1f}.",
                )
        if kind == "m":
            ticks = await self.store.ticks_since(symbol, self.clock() - window)
            if move_happened(ticks, price, level):
                raise UserError(
                    f"{symbol} has already moved {level:g}% within {fmt.age(window)}.",
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
        )
        if not await self.engine.create(alert, self.quota):
            raise UserError(
                f"This chat already has {self.quota} alerts, the most it can have.",
                "Delete some with /alerts or /delete ID.",
            )
        return Created(alert, price)

    @staticmethod
    def _resolve(spec: AlertSpec, price: float) -> tuple[str, float, int]:
        """(stored kind, absolute level, window) of a parsed spec at the current price."""
        if spec.kind == "above":
            return "a", spec.value, 0
        if spec.kind == "below":
            return "b", spec.value, 0
        if spec.kind == "percent":
            # 10 significant digits: 44.400000000000006 would cost bytes on every record
            level = float(f"{price * (1 + spec.value / 100):.10g}")
            return ("pu" if spec.value > 0 else "pd"), level, 0
        if spec.kind == "move":
            return "m", spec.value, spec.window
        return "v", spec.value, 0

    async def list(self, chat: str) -> list[Alert]:
        ids = sorted(int(i) for i in await self.redis.smembers(self.keys.chat(chat)))
        alerts = []
        for alert_id in ids:
            alert = await self.engine.get(alert_id)
            if alert is not None and alert.chat == chat:
                alerts.append(alert)
        return alerts

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

    async def delete_all(self, chat: str) -> int:
        removed = 0
        for alert in await self.list(chat):
            removed += await self.engine.remove(
                alert, owner=chat, reason="delete", now=int(self.clock())
            )
        return removed

    async def fired_record(self, chat: str, alert_id: int) -> Alert | None:
        """A fired once-alert from history (30 days), if it belongs to the chat."""
        raw = await self.redis.get(self.keys.history(alert_id))
        if raw is None:
            return None
        alert = Alert.unpack(alert_id, "|".join(raw.split("|")[:12]))
        return alert if alert.chat == chat else None

    async def rearm(self, chat: str, alert_id: int) -> Created:
        """Create the same alert again (same level) after it fired."""
        old = await self.fired_record(chat, alert_id)
        if old is None:
            live = await self.engine.get(alert_id)
            if live is not None and live.chat == chat:
                raise UserError(f"Alert #{alert_id} is still active.")
            raise UserError(f"No fired alert #{alert_id} in this chat to re-arm.")
        spec = {"a": "above", "b": "below", "m": "move", "v": "volume"}.get(old.kind, "above")
        if old.kind in ("pu", "pd"):
            spec = "above" if old.kind == "pu" else "below"
        return await self.create(
            chat,
            old.symbol,
            AlertSpec(spec, old.level, window=old.window, expires_in=0),
        )

    async def snooze(self, chat: str, alert_id: int, seconds: int = SNOOZE_SECONDS) -> Alert:
        """Silence a repeat alert for a while; it stays armed and keeps its levels."""
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

    async def count_armed(self, chat: str) -> int:
        return sum(1 for a in await self.list(chat) if a.state == STATE_ARMED)
