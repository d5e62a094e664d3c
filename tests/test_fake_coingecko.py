"""FakeCoinGecko through aiohttp: the /coins/markets shape, symbol lookups, and its faults."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import aiohttp
import pytest

from fakes.coingecko import RATE_LIMIT_MESSAGE, FakeCoinGecko

ROW_FIELDS = {
    "id", "symbol", "name", "image", "current_price", "market_cap", "market_cap_rank",
    "fully_diluted_valuation", "total_volume", "high_24h", "low_24h", "price_change_24h",
    "price_change_percentage_24h", "market_cap_change_24h", "market_cap_change_percentage_24h",
    "circulating_supply", "total_supply", "max_supply", "ath", "ath_change_percentage",
    "ath_date", "atl", "atl_change_percentage", "atl_date", "roi", "last_updated",
}  # fmt: skip


@pytest.fixture
async def gecko() -> AsyncIterator[FakeCoinGecko]:
    async with FakeCoinGecko() as fake:
        yield fake


async def get(fake: FakeCoinGecko, path: str, **params: str) -> tuple[int, object, str]:
    url = f"{fake.api_url}{path}"
    async with aiohttp.ClientSession() as session, session.get(url, params=params) as resp:
        text = await resp.text()
        body = await resp.json(content_type=None) if text.startswith(("{", "[")) else None
        return resp.status, body, resp.headers.get("Retry-After", "")


async def test_markets_by_ids_has_coingeckos_shape_sorted_by_market_cap(
    gecko: FakeCoinGecko,
) -> None:
    status, body, _ = await get(
        gecko, "/coins/markets", vs_currency="usd", ids="chainlink,bitcoin,nope"
    )
    assert status == 200 and isinstance(body, list)
    assert [row["id"] for row in body] == ["bitcoin", "chainlink"]  # unknown ids left out
    link = body[1]
    assert set(link) == ROW_FIELDS
    assert link["symbol"] == "link" and link["market_cap"] == 7_410_000_000
    assert isinstance(link["market_cap_rank"], int)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", link["last_updated"])
    status, body, _ = await get(gecko, "/coins/markets", ids="bitcoin")
    assert status == 400 and body == {"error": "Missing parameter vs_currency"}


async def test_symbols_give_the_top_coin_or_every_collision(gecko: FakeCoinGecko) -> None:
    _, top, _ = await get(gecko, "/coins/markets", vs_currency="usd", symbols="link,uni")
    assert isinstance(top, list) and [r["id"] for r in top] == ["chainlink", "uniswap"]
    _, every, _ = await get(
        gecko, "/coins/markets", vs_currency="usd", symbols="link", include_tokens="all"
    )
    assert isinstance(every, list) and len(every) == 4
    assert {r["symbol"] for r in every} == {"link"}
    assert every[-1]["market_cap"] == 0 and every[-1]["market_cap_rank"] is None
    _, listing, _ = await get(gecko, "/coins/list")
    assert isinstance(listing, list)
    assert {"id": "chainlink", "symbol": "link", "name": "Chainlink"} in listing
    assert (await get(gecko, "/ping"))[1] == {"gecko_says": "(V3) To the Moon!"}


async def test_faults_speak_coingeckos_wire(gecko: FakeCoinGecko) -> None:
    gecko.fail_next(1, 429)
    status, body, retry = await get(gecko, "/coins/markets", vs_currency="usd", ids="bitcoin")
    assert status == 429 and retry == "60"
    assert body == {"status": {"error_code": 429, "error_message": RATE_LIMIT_MESSAGE}}
    gecko.fail_next(1, 503)
    status, body, _ = await get(gecko, "/coins/markets", vs_currency="usd", ids="bitcoin")
    assert status == 503 and body is None  # the CDN's HTML page
    gecko.fail_next(1, "malformed")
    status, body, _ = await get(gecko, "/coins/markets", vs_currency="usd", ids="bitcoin")
    assert status == 200 and body is None
    status, body, _ = await get(gecko, "/coins/markets", vs_currency="usd", ids="bitcoin")
    assert status == 200 and isinstance(body, list) and body[0]["id"] == "bitcoin"
