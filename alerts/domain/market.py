"""Market data types and the domain errors every feed raises.

Feeds translate their libraries' errors into these few classes at the boundary,
so the poller, the store and the chat core never see ccxt or aiohttp exceptions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

REFERENCE_COINS = ("BTC", "ETH")


@dataclass(frozen=True, slots=True)
class Universe:
    """The coins the thesis watches and the reference coins, all against one quote currency."""

    coins: tuple[str, ...]
    quote: str
    references: tuple[str, ...] = REFERENCE_COINS

    def symbol(self, base: str) -> str:
        """`LINK` → `LINK/USDT`."""
        return f"{base}/{self.quote}"

    @property
    def tracked_bases(self) -> tuple[str, ...]:
        """The watched coins plus the reference coins, in display order."""
        return tuple(dict.fromkeys([*self.coins, *self.references]))

    @property
    def reference_bases(self) -> tuple[str, ...]:
        """BTC and ETH (unless the watched coins include them): the boards' Reference line."""
        return tuple(base for base in self.references if base not in self.coins)

    @property
    def tracked_symbols(self) -> list[str]:
        """Market symbols polled every tick, whoever watches what."""
        return [self.symbol(base) for base in self.tracked_bases]

    @property
    def coin_symbols(self) -> list[str]:
        return [self.symbol(base) for base in self.coins]

    @property
    def btc(self) -> str:
        return self.symbol("BTC")


@dataclass(frozen=True, slots=True)
class Ticker:
    """One 24h ticker of a market such as `LINK/USDT`; `ts` is unix seconds."""

    symbol: str
    price: float
    change_pct: float | None
    quote_volume: float | None
    ts: float
    market_cap: float | None = None


@dataclass(frozen=True, slots=True)
class Candle:
    """A daily candle; `ts` is the open time in unix seconds (UTC midnight)."""

    ts: int
    open: float
    high: float
    low: float
    close: float
    volume: float = 0.0

    @property
    def quote_volume(self) -> float:
        """Approximate quote volume of the day (base volume at the close)."""
        return self.volume * self.close


@dataclass(frozen=True, slots=True)
class DailyClose:
    """One daily close of the index; `ts` is unix seconds."""

    ts: int
    close: float


@dataclass(frozen=True, slots=True)
class CoinMarket:
    """One row of a market-cap source (CoinGecko's `/coins/markets`); `symbol` as the source
    spells it (lower case), `market_cap` in USD or None when the source has none."""

    coin_id: str
    symbol: str
    name: str
    market_cap: float | None
    rank: int | None


@dataclass(frozen=True, slots=True)
class MarketCap:
    """A coin's market capitalisation in USD as the source reported it, and when we fetched
    it (`fetched_at`, unix seconds): a value is never refreshed by anything but a fetch."""

    base: str
    coin_id: str
    usd: float
    rank: int | None
    fetched_at: float

    def age(self, now: float) -> float:
        return max(0.0, now - self.fetched_at)


@dataclass(frozen=True, slots=True)
class TickBatch:
    """Ticks accepted in one poll, with the 24h-volume / 30-day-mean ratio per symbol."""

    ticks: list[Ticker]
    fetched_at: float
    volume_ratio: dict[str, float] = field(default_factory=dict)


@dataclass(slots=True)
class MarketError(Exception):
    """Base of the domain errors a feed raises; `message` is safe to show users."""

    message: str
    retry_after: float | None = None
    details: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return self.message


class FeedUnavailable(MarketError):
    """The source did not answer usefully (5xx, timeout, network down)."""


class RateLimited(MarketError):
    """The source asked us to slow down (429/418); `retry_after` in seconds if known."""


class GeoBlocked(MarketError):
    """The source refuses this location (HTTP 451); try a fallback exchange."""


class BadData(MarketError):
    """The answer arrived but could not be trusted (truncated, nonsense values)."""


class UnknownSymbol(MarketError):
    """The exchange does not list the symbol."""


class TickerSource(Protocol):
    """What the poller needs from an exchange (the ccxt adapter, or the demo replay)."""

    name: str

    async def load(self, wanted: Sequence[str]) -> list[str]:
        """Load markets; return the symbols of those asked for that are not listed."""

    async def fetch_tickers(self, symbols: Sequence[str]) -> dict[str, Ticker]:
        """All tickers in one request."""

    async def fetch_daily(self, symbol: str, days: int) -> list[Candle]:
        """Up to `days` most recent daily candles, oldest first."""

    def lists(self, symbol: str) -> bool:
        """Whether the exchange lists this market (after `load`)."""

    @property
    def symbols(self) -> set[str]:
        """Every market the exchange lists (after `load`), for suggestions."""

    async def close(self) -> None:
        """Release connections."""


class MarketCapSource(Protocol):
    """What the market-cap feed needs from CoinGecko (or the demo replay)."""

    name: str  # shown to users as the data's source ("CoinGecko")

    async def markets(self, coin_ids: Sequence[str]) -> list[CoinMarket]:
        """Rows for these coin ids in one request (unknown ids are left out)."""

    async def by_symbols(self, symbols: Sequence[str]) -> list[CoinMarket]:
        """Every coin whose ticker is one of `symbols` (lower case), collisions included."""

    async def close(self) -> None:
        """Release connections."""


class IndexSource(Protocol):
    """What the poller needs from the index feed (Yahoo chart API, or the demo replay)."""

    name: str

    async def fetch_daily(self, full: bool) -> list[DailyClose]:
        """Daily closes, oldest first; `full` asks for the whole history."""

    async def close(self) -> None:
        """Release connections."""
