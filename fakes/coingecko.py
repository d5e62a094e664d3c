"""A fake CoinGecko public API v3: `/coins/markets`, `/coins/list` and `/ping`.

Answers the real shapes: `/coins/markets` is a JSON list of objects (`id`, `symbol`,
`name`, `image`, `current_price`, `market_cap`, `market_cap_rank`,
`fully_diluted_valuation`, `total_volume`, 24h high/low and changes, supplies, ATH/ATL,
`roi`, `last_updated` as ISO 8601 with milliseconds), sorted by market cap. Like
CoinGecko: `ids` takes priority over `symbols`; `symbols` with `include_tokens=top`
(the default) gives only the largest coin per ticker, `include_tokens=all` every coin
with it; unknown ids are left out; `vs_currency` is required (`usd` only here);
`per_page` (1..250) and `page` paginate. Tickers collide on purpose (several `link`,
`uni` coins), as they do on CoinGecko.

Fault modes (`fail_next` / `set_outage`): HTTP statuses (429 with CoinGecko's
`{"status": {"error_code": 429, "error_message": ...}}` body and `Retry-After`, 503 as
the CDN's HTML page, other statuses the same status object), "timeout", "truncated",
"disconnect", and "malformed": HTTP 200 with a body that is not JSON.
"""

from __future__ import annotations

import datetime as dt
import time
import zlib
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from fakes._base import Fault, Handler, PathFaultServer, json_response

__all__ = ["RATE_LIMIT_MESSAGE", "Coin", "FakeCoinGecko", "default_coins"]

RATE_LIMIT_MESSAGE = (
    "You've exceeded the Rate Limit. Please visit https://www.coingecko.com/en/api/pricing "
    "to subscribe to our API plans for higher rate limits."
)
IMAGE = "https://coin-images.coingecko.com/coins/images/{n}/large/{id}.png?1696501400"
CDN_503 = (
    "<html>\r\n<head><title>503 Service Temporarily Unavailable</title></head>\r\n<body>\r\n"
    "<center><h1>503 Service Temporarily Unavailable</h1></center>\r\n</body>\r\n</html>\r\n"
)


@dataclass(slots=True)
class Coin:
    """One coin as CoinGecko lists it; `market_cap=None` is a coin without one (sent as 0
    and a null rank, as CoinGecko does)."""

    id: str
    symbol: str
    name: str
    price: float
    market_cap: float | None
    supply: float | None = None
    max_supply: float | None = None
    updated: float | None = None  # unix seconds; now when None
    extra: dict[str, Any] = field(default_factory=dict)


def default_coins() -> list[Coin]:
    """Late-2025 levels of the default coins and references, plus ticker collisions."""
    return [
        Coin("bitcoin", "btc", "Bitcoin", 97_000.0, 1_935_000_000_000, 19_950_000, 21_000_000),
        Coin("ethereum", "eth", "Ethereum", 3_500.0, 422_400_000_000, 120_700_000),
        Coin("cardano", "ada", "Cardano", 0.88, 31_600_000_000, 35_900_000_000, 45e9),
        Coin("avalanche-2", "avax", "Avalanche", 34.1, 14_390_000_000, 422_000_000, 720e6),
        Coin("hedera-hashgraph", "hbar", "Hedera", 0.2264, 9_600_000_000, 42_400_000_000, 50e9),
        Coin("bitcoin-cash", "bch", "Bitcoin Cash", 478.0, 9_512_000_000, 19_900_000, 21e6),
        Coin("chainlink", "link", "Chainlink", 11.69, 7_410_000_000, 634_000_000, 1e9),
        Coin("uniswap", "uni", "Uniswap", 6.55, 3_930_000_000, 600_000_000, 1e9),
        Coin("solana", "sol", "Solana", 180.0, 92_700_000_000, 515_000_000),
        # Collisions: other tokens calling themselves LINK / UNI / ETH.
        Coin("chainlink-wormhole", "link", "Chainlink (Wormhole)", 11.65, 1_210_000, 104_000),
        Coin("linked-finance-world", "link", "Linked Finance World", 0.0031, 148_000, 4.8e7),
        Coin("link-bridged-zksync", "link", "Bridged Chainlink (zkSync)", 11.6, None),
        Coin("unicorn-token", "uni", "Unicorn Token", 0.0104, 5_200_000, 5e8),
        Coin("ethereum-wormhole", "eth", "Ethereum (Wormhole)", 3_498.0, 61_000_000, 17_430),
    ]


def iso(ts: float) -> str:
    """CoinGecko's timestamp format: `2025-11-24T15:04:05.123Z`."""
    return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


def status_error(code: int, message: str) -> dict[str, Any]:
    return {"status": {"error_code": code, "error_message": message}}


class FakeCoinGecko(PathFaultServer):
    """CoinGecko v3 under `/api/v3`; state lives in `coins` keyed by id."""

    def __init__(self, *, port: int = 0, hang_seconds: float = 30.0) -> None:
        super().__init__(port=port, hang_seconds=hang_seconds)
        self.coins: dict[str, Coin] = {c.id: c for c in default_coins()}
        self.now_s: float | None = None

    @property
    def api_url(self) -> str:
        """What MCAP_API_URL should be set to."""
        return f"{self.url}/api/v3"

    def now(self) -> float:
        return time.time() if self.now_s is None else self.now_s

    # ---- state API -------------------------------------------------------------------------
    def set_market_cap(self, coin_id: str, market_cap: float | None) -> None:
        self.coins[coin_id].market_cap = market_cap

    def add_coin(self, coin: Coin) -> None:
        self.coins[coin.id] = coin

    def remove_coin(self, coin_id: str) -> None:
        self.coins.pop(coin_id, None)

    def market_requests(self) -> list[dict[str, str]]:
        """Query strings of every `/coins/markets` request, oldest first."""
        return [r.query for r in self.requests_to("/coins/markets")]

    # ---- faults ----------------------------------------------------------------------------
    def _error_response(self, status: int, fault: Fault, request: web.Request) -> web.Response:
        if status == 429:
            headers = {"Retry-After": "60"}
            return json_response(status_error(429, RATE_LIMIT_MESSAGE), status=429, headers=headers)
        if status == 503:
            return web.Response(status=503, text=CDN_503, content_type="text/html")
        return json_response(status_error(status, f"injected HTTP {status}"), status=status)

    async def _special_fault(
        self, fault: Fault, request: web.Request, handler: Handler
    ) -> web.StreamResponse | None:
        if fault.mode == "malformed":
            body = "<!DOCTYPE html><html><body>Just a moment...</body></html>"
            return web.Response(status=200, text=body, content_type="application/json")
        return None

    # ---- HTTP ------------------------------------------------------------------------------
    def _setup_routes(self, app: web.Application) -> None:
        app.router.add_get("/api/v3/ping", self._ping)
        app.router.add_get("/api/v3/coins/list", self._list)
        app.router.add_get("/api/v3/coins/markets", self._markets)

    async def _ping(self, request: web.Request) -> web.Response:
        return json_response({"gecko_says": "(V3) To the Moon!"})

    async def _list(self, request: web.Request) -> web.Response:
        coins = sorted(self.coins.values(), key=lambda c: c.id)
        return json_response([{"id": c.id, "symbol": c.symbol, "name": c.name} for c in coins])

    def _ranked(self) -> list[Coin]:
        """By market cap, largest first; coins without one last (CoinGecko's default order)."""
        return sorted(self.coins.values(), key=lambda c: -(c.market_cap or 0.0))

    async def _markets(self, request: web.Request) -> web.Response:
        q = request.query
        currency = q.get("vs_currency")
        if not currency:
            return json_response({"error": "Missing parameter vs_currency"}, status=400)
        if currency.lower() != "usd":
            return json_response({"error": "invalid vs_currency"}, status=400)
        try:
            per_page, page = int(q.get("per_page", "100")), int(q.get("page", "1"))
        except ValueError:
            return json_response({"error": "invalid per_page or page"}, status=400)
        if not 1 <= per_page <= 250 or page < 1:
            return json_response({"error": "per_page must be 1..250, page >= 1"}, status=400)
        ranked = self._ranked()
        ranks = {c.id: i + 1 for i, c in enumerate(c for c in ranked if c.market_cap)}
        if "ids" in q:
            wanted = {part.strip() for part in q["ids"].split(",") if part.strip()}
            chosen = [c for c in ranked if c.id in wanted]
        elif "symbols" in q:
            tickers = {part.strip().lower() for part in q["symbols"].split(",") if part.strip()}
            chosen = [c for c in ranked if c.symbol in tickers]
            if q.get("include_tokens", "top") != "all":  # the largest coin per ticker only
                top: dict[str, Coin] = {}
                for coin in chosen:
                    top.setdefault(coin.symbol, coin)
                chosen = list(top.values())
        else:
            chosen = ranked
        window = chosen[(page - 1) * per_page : page * per_page]
        return json_response([self._row(c, ranks.get(c.id)) for c in window])

    def _row(self, coin: Coin, rank: int | None) -> dict[str, Any]:
        """One `/coins/markets` object with every field CoinGecko sends."""
        now = self.now()
        updated = coin.updated if coin.updated is not None else now
        cap = coin.market_cap or 0
        change = 0.0123
        ath = coin.price * 2.4
        atl = coin.price / 40
        row: dict[str, Any] = {
            "id": coin.id,
            "symbol": coin.symbol,
            "name": coin.name,
            "image": IMAGE.format(n=zlib.crc32(coin.id.encode()) % 40_000, id=coin.id),
            "current_price": coin.price,
            "market_cap": cap,
            "market_cap_rank": rank,
            "fully_diluted_valuation": (
                round(coin.price * coin.max_supply) if coin.max_supply and cap else None
            ),
            "total_volume": round(cap * 0.045) if cap else 0,
            "high_24h": round(coin.price * 1.021, 8),
            "low_24h": round(coin.price * 0.978, 8),
            "price_change_24h": round(coin.price * change, 8),
            "price_change_percentage_24h": change * 100,
            "market_cap_change_24h": round(cap * change, 2),
            "market_cap_change_percentage_24h": change * 100 if cap else 0.0,
            "circulating_supply": coin.supply or 0.0,
            "total_supply": coin.max_supply or coin.supply,
            "max_supply": coin.max_supply,
            "ath": round(ath, 8),
            "ath_change_percentage": round((coin.price / ath - 1) * 100, 5),
            "ath_date": "2024-03-14T07:10:36.635Z",
            "atl": round(atl, 8),
            "atl_change_percentage": round((coin.price / atl - 1) * 100, 5),
            "atl_date": "2020-03-13T02:22:55.044Z",
            "roi": None,
            "last_updated": iso(updated),
        }
        row.update(coin.extra)
        return row
