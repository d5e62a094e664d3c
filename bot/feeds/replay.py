"""The bundled demo scenario, generated in code from a seed (no downloaded data).

A seeded random walk gives ~3 years of R2K closes that peak, fall into a bear
market and climb back to just under the record, plus 400 days of daily candles
for the watched coins, BTC and ETH. The replay then steps through polls in
which the R2K breaks to a new record and the coins rally, with a volume spike.
`ReplayExchange` and `ReplayIndex` implement the same protocols as the live
feeds, so the demo runs the real poller, store, engine and command core.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field

from alerts.domain.market import Candle, CoinMarket, DailyClose, Ticker, UnknownSymbol

DAY = 86400
SEED = 2026
START_PRICES = {
    "BTC": 97_000.0,
    "ETH": 3_500.0,
    "AVAX": 35.0,
    "BCH": 480.0,
    "ADA": 0.90,
    "LINK": 9.20,
    "HBAR": 0.25,
    # Listed but not tracked by default: what /watch add can add in the demo.
    "SOL": 180.0,
    "ARB": 0.45,
    "DOGE": 0.18,
    "DOT": 4.2,
}
# Rally over the replay, per coin (fraction); the thesis coins move more than BTC.
RALLY = {
    "BTC": 0.03,
    "ETH": 0.05,
    "AVAX": 0.12,
    "BCH": 0.06,
    "ADA": 0.10,
    "LINK": 0.08,
    "HBAR": 0.15,
}
# Circulating supply and CoinGecko id per coin: the replay's market cap is price × supply.
SUPPLY = {
    "BTC": (19_950_000, "bitcoin"),
    "ETH": (120_700_000, "ethereum"),
    "AVAX": (422_000_000, "avalanche-2"),
    "BCH": (19_900_000, "bitcoin-cash"),
    "ADA": (35_900_000_000, "cardano"),
    "LINK": (678_000_000, "chainlink"),
    "HBAR": (42_400_000_000, "hedera-hashgraph"),
    "SOL": (515_000_000, "solana"),
    "ARB": (4_600_000_000, "arbitrum"),
    "DOGE": (149_000_000_000, "dogecoin"),
    "DOT": (1_530_000_000, "polkadot"),
}
BREAKOUT_STEP = 6
VOLUME_SPIKE_STEP = 14


@dataclass
class Scenario:
    """Deterministic market history and replay path, built from `seed`."""

    today: int
    steps: int = 24
    seed: int = SEED
    quote: str = "USDT"
    r2k: list[DailyClose] = field(default_factory=list)
    daily: dict[str, list[Candle]] = field(default_factory=dict)
    r2k_record_before: float = 0.0

    def __post_init__(self) -> None:
        rng = random.Random(self.seed)
        self.today -= self.today % DAY
        self._build_r2k(rng)
        for base, start in START_PRICES.items():
            self.daily[f"{base}/{self.quote}"] = self._build_coin(rng, base, start)

    def _build_r2k(self, rng: random.Random) -> None:
        """Peak ~2440, a bear market, then a climb back to ~1% under the record."""
        days = 3 * 365
        closes: list[float] = []
        for i in range(days):
            phase = i / days
            # peak at 15%, trough at 45%, back near the peak at the end
            trend = 2440 * (1 - 0.32 * math.sin(math.pi * min(max((phase - 0.15) / 0.85, 0), 1)))
            closes.append(trend * (1 + rng.gauss(0, 0.006)))
        record = max(closes)
        closes[-1] = record * 0.988  # today: just under the record
        closes[-2] = record * 0.982
        self.r2k_record_before = record
        first = self.today - (days - 1) * DAY
        self.r2k = [DailyClose(first + i * DAY, c) for i, c in enumerate(closes)]

    def _build_coin(self, rng: random.Random, base: str, end_price: float) -> list[Candle]:
        """400 days ending at `end_price`, with quote volume around a stable mean."""
        n = 400
        vol = 0.045 if base not in ("BTC", "ETH") else 0.03
        walk = [0.0]
        for _ in range(n - 1):
            walk.append(walk[-1] + rng.gauss(0.0004, vol))
        shift = math.log(end_price) - walk[-1]
        candles = []
        first = self.today - (n - 1) * DAY
        mean_quote_volume = 50_000_000 * (3 if base in ("BTC", "ETH") else 1)
        for i, w in enumerate(walk):
            close = math.exp(w + shift)
            open_ = close * (1 + rng.gauss(0, vol / 3))
            high = max(open_, close) * (1 + abs(rng.gauss(0, vol / 4)))
            low = min(open_, close) * (1 - abs(rng.gauss(0, vol / 4)))
            quote_volume = mean_quote_volume * (0.7 + 0.6 * rng.random())
            candles.append(Candle(first + i * DAY, open_, high, low, close, quote_volume / close))
        return candles

    def price_at(self, symbol: str, step: int) -> float:
        """The replay price: the last close, rallying smoothly after the breakout."""
        base = symbol.split("/")[0]
        start = self.daily[symbol][-1].close
        progress = max(0, step - BREAKOUT_STEP + 2) / max(1, self.steps - BREAKOUT_STEP + 2)
        wiggle = 0.002 * math.sin(step * 1.7 + len(base))
        return start * (1 + RALLY.get(base, 0.05) * progress + wiggle)

    def volume_at(self, symbol: str, step: int) -> float:
        mean = sum(c.quote_volume for c in self.daily[symbol][-30:]) / 30
        return mean * (3.2 if step >= VOLUME_SPIKE_STEP else 1.1)

    def r2k_at(self, step: int) -> list[DailyClose]:
        """History as the index feed shows it; today's close breaks the record at the breakout."""
        if step < BREAKOUT_STEP:
            return list(self.r2k)
        today = self.r2k[-1]
        lift = 1.006 + 0.0004 * (step - BREAKOUT_STEP)
        return [*self.r2k[:-1], DailyClose(today.ts, self.r2k_record_before * lift)]


class ReplayExchange:
    """The scenario as a `TickerSource`: no network, one step per `advance()`."""

    def __init__(self, scenario: Scenario) -> None:
        self.name = "replay"
        self.scenario = scenario
        self.step = 0
        self.now = float(scenario.today + 15 * 3600)

    def advance(self, seconds: float) -> None:
        self.step += 1
        self.now += seconds

    def clock(self) -> float:
        return self.now

    async def load(self, wanted: Sequence[str]) -> list[str]:
        return [s for s in wanted if s not in self.scenario.daily]

    def lists(self, symbol: str) -> bool:
        return symbol in self.scenario.daily

    @property
    def symbols(self) -> set[str]:
        return set(self.scenario.daily)

    async def fetch_tickers(self, symbols: Sequence[str]) -> dict[str, Ticker]:
        out = {}
        for symbol in symbols:
            if symbol not in self.scenario.daily:
                continue
            price = self.scenario.price_at(symbol, self.step)
            prev = self.scenario.daily[symbol][-2].close
            out[symbol] = Ticker(
                symbol,
                price,
                (price / prev - 1) * 100,
                self.scenario.volume_at(symbol, self.step),
                self.now,
            )
        return out

    async def fetch_daily(self, symbol: str, days: int) -> list[Candle]:
        if symbol not in self.scenario.daily:
            raise UnknownSymbol(f"{symbol} is not in the demo scenario")
        return self.scenario.daily[symbol][-days:]

    async def close(self) -> None:
        return None


class ReplayIndex:
    """The scenario's R2K as an `IndexSource`, following the exchange replay's step."""

    def __init__(self, scenario: Scenario, exchange: ReplayExchange) -> None:
        self.name = "index"
        self.scenario = scenario
        self.exchange = exchange

    async def fetch_daily(self, full: bool) -> list[DailyClose]:
        rows = self.scenario.r2k_at(self.exchange.step)
        return rows if full else rows[-30:]

    async def close(self) -> None:
        return None


class ReplayMarketCaps:
    """The scenario's market caps as a `MarketCapSource` (price × supply, CoinGecko's ids)."""

    def __init__(self, scenario: Scenario, exchange: ReplayExchange) -> None:
        self.name = "demo replay"
        self.scenario = scenario
        self.exchange = exchange

    def _rows(self) -> list[CoinMarket]:
        step, quote = self.exchange.step, self.scenario.quote
        caps = {
            base: supply * self.scenario.price_at(f"{base}/{quote}", step)
            for base, (supply, _) in SUPPLY.items()
        }
        ranked = sorted(caps, key=lambda base: -caps[base])
        return [
            CoinMarket(SUPPLY[base][1], base.lower(), SUPPLY[base][1], caps[base], rank)
            for rank, base in enumerate(ranked, start=1)
        ]

    async def markets(self, coin_ids: Sequence[str]) -> list[CoinMarket]:
        return [row for row in self._rows() if row.coin_id in coin_ids]

    async def by_symbols(self, symbols: Sequence[str]) -> list[CoinMarket]:
        return [row for row in self._rows() if row.symbol in symbols]

    async def close(self) -> None:
        return None
