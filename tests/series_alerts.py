"""Bar series put in use the way users do it: one stored condition alert per series."""

from __future__ import annotations

from redis.asyncio import Redis

from alerts.domain.alert import Alert, Direction
from alerts.domain.conditions import Condition
from alerts.domain.grammar import parse_alert_args
from alerts.storage.bar_series import BarSeriesRegistry
from alerts.storage.engine import CREATED, Engine
from alerts.storage.keys import Keys
from alerts.usecases.alerts import AlertService


async def watch_series(redis: Redis, keys: Keys, symbol: str, series: list[str]) -> None:
    """Store a repeat alert on each series (`rsi14@1h` -> `rsi14 1h above 99`, crosses of
    two lines at 0) and register the series, as `AlertService.create` does: a repeat alert
    stays stored after firing, so the series stays in use."""
    engine = Engine(redis, keys)
    for key in series:
        level = 99.0 if key.startswith("rsi") else 1e9
        words = Condition(key, Direction.UP, level if "-" not in key.split("@")[0] else 0).text
        spec = parse_alert_args([*words.split(), *(["intrabar"] if key.endswith("~") else [])])
        [c] = spec.conditions
        kind, level, _ = AlertService._resolve(spec, 1.0)
        alert = Alert(
            id=await engine.next_id(), chat="tg:series", symbol=symbol,
            kind=kind, level=level, ref=1.0, created=0, cooldown=60, cond=spec.condition_words,
        )  # fmt: skip
        await BarSeriesRegistry(redis, keys).register(symbol, [c.series])
        assert await engine.create(alert, quota=1000) == CREATED
