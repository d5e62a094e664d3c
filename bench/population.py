"""A realistic alert population, built the way users build it, loaded with the real script.

Alerts come from `/alert` argument lists parsed by the real grammar
(`parse_alert_args`) and resolved by the real service rule
(`AlertService._resolve`), so stored records have the sizes real ones have
(percent alerts keep their long float levels). Loading pipelines the engine's
own create call (`Engine.create_call` + `engine.scripts.create`).
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from alerts.domain.alert import Alert, AlertKind, num
from alerts.domain.grammar import parse_alert_args
from alerts.storage.engine import Engine
from alerts.usecases.alerts import AlertService

#: symbol -> (price now, exchange price decimals, share of alerts); late-2025-like levels.
MARKETS: dict[str, tuple[float, int, float]] = {
    "BTC/USDT": (97_123.45, 2, 0.22),
    "ETH/USDT": (3_512.37, 2, 0.18),
    "AVAX/USDT": (35.17, 2, 0.12),
    "BCH/USDT": (481.3, 1, 0.12),
    "ADA/USDT": (0.9123, 4, 0.12),
    "LINK/USDT": (9.23, 2, 0.12),
    "HBAR/USDT": (0.25137, 5, 0.12),
}
QUOTA = 50  # the default per-chat quota (ALERT_QUOTA_PER_CHAT)
LEVEL_SIGMA = 0.15  # log-normal spread of levels: ~95% within ±30% of the price
MIN_DISTANCE = 0.001  # nobody sets a level on the current price
PERCENT_SHARE = 0.10
REPEAT_SHARE = 0.15
EXPIRY_SHARE = 0.15
UP_PERCENTS = (5, 10, 15, 20, 25, 40, 50, 100, 150)
DOWN_PERCENTS = (5, 10, 15, 20, 30, 50)
EXPIRIES = ("1d", "7d", "30d", "90d")
CREATED_SPREAD = 30 * 86400


def typed_level(value: float, up: bool, price: float, digits: int = 4) -> float:
    """A level as a user types it: `digits` significant digits, on the right side of price."""
    decimals = digits - 1 - math.floor(math.log10(value))
    level = round(value, decimals)
    step = 10.0**-decimals
    while (level <= price) if up else (level >= price):
        level = round(level + (step if up else -step), decimals)
    return level


@dataclass
class Population:
    """Generates alerts and chats for one benchmark run (seeded, unique chat ids)."""

    seed: int
    now: int = field(default_factory=lambda: int(time.time()))
    rng: random.Random = field(init=False)
    chats_made: int = 0
    _used_chats: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def _chat(self) -> str:
        while True:
            chat = f"tg:{self.rng.randrange(10**8, 10**10)}"  # 9-10 digit Telegram ids
            if chat not in self._used_chats:
                self._used_chats.add(chat)
                self.chats_made += 1
                return chat

    def chats(self, total: int) -> list[str]:
        """One chat key per alert: many chats with a few alerts, a tail at the quota."""
        owners: list[str] = []
        while len(owners) < total:
            size = min(QUOTA, max(1, round(self.rng.lognormvariate(math.log(8), 1.0))))
            owners.extend([self._chat()] * min(size, total - len(owners)))
        self.rng.shuffle(owners)  # alerts of different chats are created interleaved
        return owners

    def options(self) -> list[str]:
        words: list[str] = []
        if self.rng.random() < REPEAT_SHARE:
            words += ["repeat"] if self.rng.random() < 0.7 else ["cooldown", "15m"]
        if self.rng.random() < EXPIRY_SHARE:
            words += ["for", self.rng.choice(EXPIRIES)]
        return words

    def _words(self, price: float) -> list[str]:
        if self.rng.random() < PERCENT_SHARE:
            if self.rng.random() < 0.5:
                return [f"+{self.rng.choice(UP_PERCENTS)}%"]
            return [f"-{self.rng.choice(DOWN_PERCENTS)}%"]
        up = self.rng.random() < 0.5
        z = abs(self.rng.gauss(0.0, LEVEL_SIGMA)) + MIN_DISTANCE
        level = typed_level(price * math.exp(z if up else -z), up, price)
        return ["above" if up else "below", num(level)]

    def make(self, alert_id: int, chat: str, symbol: str, words: list[str], ref: float) -> Alert:
        """The Alert the service would store for `/alert SYMBOL <words>` at price `ref`."""
        spec = parse_alert_args(words)
        kind, level, window = AlertService._resolve(spec, ref)
        created = self.now - self.rng.randrange(CREATED_SPREAD)
        if spec.expires_in:
            created = max(created, self.now - spec.expires_in + 3600)  # not yet expired
        return Alert(
            id=alert_id, chat=chat, symbol=symbol, kind=kind, level=level, ref=ref,
            created=created, expires=created + spec.expires_in if spec.expires_in else 0,
            cooldown=spec.cooldown if spec.repeat else 0, window=window,
        )  # fmt: skip

    def alert(self, alert_id: int, chat: str) -> Alert:
        """One above/below/percent alert on a random symbol, still armed at today's price."""
        symbol = self.rng.choices(list(MARKETS), weights=[m[2] for m in MARKETS.values()])[0]
        price, decimals, _ = MARKETS[symbol]
        while True:
            ref = round(price * (1 + self.rng.uniform(-0.02, 0.02)), decimals)  # price when made
            alert = self.make(alert_id, chat, symbol, self._words(ref) + self.options(), ref)
            up = alert.kind in (AlertKind.ABOVE, AlertKind.RISE)
            if (alert.level > price) if up else (alert.level < price):  # else it fired already
                return alert

    def alerts(self, first_id: int, total: int) -> Iterator[Alert]:
        for offset, chat in enumerate(self.chats(total)):
            yield self.alert(first_id + offset, chat)

    def band(
        self, first_id: int, symbol: str, lo: float, hi: float, n: int, up: bool
    ) -> list[Alert]:
        """`n` above (or below) alerts with distinct levels spread inside (lo, hi)."""
        price = MARKETS[symbol][0]
        decimals = max(0, 1 - math.floor(math.log10((hi - lo) / n)))  # typed to the spacing
        out = []
        for i, chat in enumerate(self.chats(n)):
            level = round(lo + (hi - lo) * (i + 0.5) / n, decimals)
            words = ["above" if up else "below", num(level), *self.options()]
            out.append(self.make(first_id + i, chat, symbol, words, price))
        return out


@dataclass(frozen=True, slots=True)
class Loaded:
    created: int
    refused: int
    seconds: float

    @property
    def per_second(self) -> float:
        return self.created / self.seconds if self.seconds else 0.0


async def reserve_ids(engine: Engine, n: int) -> int:
    """First of `n` fresh ids from the engine's own counter (`next_id` uses the same key)."""
    return int(await engine.redis.incrby(engine.keys.seq, n)) - n + 1


async def load(engine: Engine, alerts: Iterator[Alert], *, batch: int = 5000) -> Loaded:
    """Pipeline the create script, `batch` calls per round trip; time only the Redis part."""
    created = refused = 0
    seconds = 0.0
    done = False
    while not done:
        chunk = []
        for alert in alerts:
            chunk.append(alert)
            if len(chunk) == batch:
                break
        else:
            done = True
        if not chunk:
            break
        start = time.perf_counter()
        pipe = engine.redis.pipeline(transaction=False)
        for alert in chunk:
            keys, argv = engine.create_call(alert, QUOTA)
            await engine.scripts.create(keys=keys, args=argv, client=pipe)
        results = await pipe.execute()
        seconds += time.perf_counter() - start
        ok = sum(1 for r in results if r == 1)
        created += ok
        refused += len(results) - ok
    return Loaded(created, refused, seconds)
