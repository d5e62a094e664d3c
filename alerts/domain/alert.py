"""An alert as stored: kinds, series, directions and the compact packed record.

A record is packed into one short `|`-separated string (field of a bucketed
hash), because with a million alerts every byte per alert counts; the Lua
scripts read the same layout (see `FIELDS`, pinned by a contract test).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

# Field order of a packed record; the Lua scripts index these 1-based. The 13th,
# `snoozed_until`, is optional (written once a repeat alert is snoozed, or empty); the
# 14th, `cond`, only condition alerts have (their conditions' canonical /alert words).
FIELDS = (
    "chat", "symbol", "kind", "level", "ref", "created", "expires",
    "cooldown", "last_fired", "fires", "window", "state", "snoozed_until", "cond",
)  # fmt: skip
REQUIRED_FIELDS = len(FIELDS) - 2  # every field but the optional `snoozed_until` and `cond`
HYSTERESIS = 0.005  # a fired repeat alert re-arms once the value moved back this fraction


class AlertKind(StrEnum):
    """The stored kind code (one or two letters: they are in every packed record)."""

    ABOVE = "a"
    BELOW = "b"
    RISE = "pu"  # +N% from the price at creation, stored as an absolute level
    DROP = "pd"
    MOVE = "m"
    VOLUME = "v"
    # Condition alerts (indicators, market cap): one series crossing one level, the
    # series and level named by the record's `cond` words; or several joined by `and`.
    CONDITION_UP = "cu"
    CONDITION_DOWN = "cd"
    CONDITIONS = "cm"

    @property
    def is_price_level(self) -> bool:
        """Kinds whose level is a price (drawn on charts, shown as "x% away")."""
        return self in (AlertKind.ABOVE, AlertKind.BELOW, AlertKind.RISE, AlertKind.DROP)


class Series(StrEnum):
    """The value a level alert is indexed on."""

    PRICE = "price"
    VOLUME = "volx"  # 24h quote volume / its 30-day mean


class Direction(StrEnum):
    UP = "up"
    DOWN = "down"


class AlertState(StrEnum):
    ARMED = "A"
    REARM = "R"  # a fired repeat alert waiting for hysteresis and its cooldown


def num(value: float) -> str:
    """Shortest exact text of a float (keeps records small, parses back equal)."""
    text = repr(float(value))
    return text[:-2] if text.endswith(".0") else text


@dataclass(frozen=True, slots=True)
class Alert:
    """One alert as stored. `level` is absolute (price, %, or volume multiple)."""

    id: int
    chat: str
    symbol: str
    kind: AlertKind
    level: float
    ref: float
    created: int
    expires: int = 0
    cooldown: int = 0
    last_fired: int = 0
    fires: int = 0
    window: int = 0
    state: AlertState = AlertState.ARMED
    snoozed_until: int = 0
    cond: str = ""

    def __post_init__(self) -> None:
        # Codes read from Redis or typed by hand ("m") become the enums every check uses.
        object.__setattr__(self, "kind", AlertKind(self.kind))
        object.__setattr__(self, "state", AlertState(self.state))

    @property
    def repeat(self) -> bool:
        return self.cooldown > 0

    @property
    def series(self) -> Series:
        """The tick series of a classic alert (condition alerts name theirs in `cond`)."""
        return Series.VOLUME if self.kind is AlertKind.VOLUME else Series.PRICE

    @property
    def direction(self) -> Direction:
        if self.kind in (AlertKind.BELOW, AlertKind.DROP, AlertKind.CONDITION_DOWN):
            return Direction.DOWN
        return Direction.UP

    def pack(self) -> str:
        values: tuple[str, ...] = (
            self.chat, self.symbol, self.kind, num(self.level), num(self.ref), str(self.created),
            str(self.expires), str(self.cooldown), str(self.last_fired), str(self.fires),
            str(self.window), self.state,
        )  # fmt: skip
        if self.snoozed_until or self.cond:
            values = (*values, str(self.snoozed_until) if self.snoozed_until else "")
        if self.cond:
            values = (*values, self.cond)
        return "|".join(values)

    @classmethod
    def unpack(cls, alert_id: int, packed: str) -> Alert:
        f = packed.split("|")
        return cls(
            id=alert_id, chat=f[0], symbol=f[1], kind=AlertKind(f[2]), level=float(f[3]),
            ref=float(f[4]), created=int(f[5]), expires=int(f[6]), cooldown=int(f[7]),
            last_fired=int(f[8]), fires=int(f[9]), window=int(f[10]), state=AlertState(f[11]),
            snoozed_until=int(f[12]) if len(f) > 12 and f[12] else 0,
            cond=f[13] if len(f) > 13 else "",
        )  # fmt: skip
