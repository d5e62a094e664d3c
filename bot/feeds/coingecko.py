"""CoinGecko's public `/coins/markets` (no key) behind the `MarketCapSource` protocol.

The base URL (MCAP_API_URL, default https://api.coingecko.com/api/v3) is replaced
whole, so a mirror or the local fake stands in. CoinGecko answers a rate limit with
429, a JSON `{"status": {"error_code": 429, ...}}` body and `Retry-After` (often two
minutes); its CDN may answer 5xx with HTML. Transient failures are retried a few times
with backoff (tenacity, as in bot/feeds/exchange.py); a Retry-After longer than the
backoff allows ends the attempt, and the feed waits it out. Everything surfaces as the
domain errors of `alerts.domain.market`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

import aiohttp
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)

from alerts.domain.market import (
    BadData,
    CoinMarket,
    FeedUnavailable,
    MarketError,
    RateLimited,
)

DEFAULT_URL = "https://api.coingecko.com/api/v3"
PER_PAGE = 250  # CoinGecko's maximum: every tracked coin fits in one page
USER_AGENT = "altbot/0.1 (market caps; https://github.com/altbot)"


def parse_markets(payload: Any) -> list[CoinMarket]:
    """Rows of a `/coins/markets` answer; a row without a usable id is skipped, a missing or
    zero market cap (CoinGecko's way of saying it has none) becomes None."""
    if not isinstance(payload, list):
        raise BadData("CoinGecko answered in an unknown shape")
    rows = []
    for item in payload:
        if not isinstance(item, dict):
            continue
        coin_id, symbol = item.get("id"), item.get("symbol")
        if not isinstance(coin_id, str) or not coin_id or not isinstance(symbol, str):
            continue
        cap, rank = item.get("market_cap"), item.get("market_cap_rank")
        if not isinstance(cap, int | float) or isinstance(cap, bool) or not 0 < cap < math.inf:
            cap = None
        rows.append(
            CoinMarket(
                coin_id,
                symbol.lower(),
                str(item.get("name") or coin_id),
                None if cap is None else float(cap),
                rank if isinstance(rank, int) and not isinstance(rank, bool) else None,
            )
        )
    return rows


def _retry_after(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


class CoinGeckoClient:
    """The `/coins/markets` calls the market-cap feed makes, with bounded retries."""

    def __init__(
        self,
        base_url: str = DEFAULT_URL,
        *,
        timeout: float = 10.0,
        attempts: int = 3,
        backoff: float = 1.0,
        max_backoff: float = 8.0,
    ) -> None:
        self.name = "CoinGecko"
        self.base_url = base_url.rstrip("/")
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._attempts = attempts
        self._max_backoff = max_backoff
        self._exponential = wait_exponential_jitter(
            multiplier=backoff, max=max_backoff, jitter=backoff / 2
        )
        self._session: aiohttp.ClientSession | None = None

    async def markets(self, coin_ids: Sequence[str]) -> list[CoinMarket]:
        """One request for up to 250 coins (a page); more only past that."""
        rows: list[CoinMarket] = []
        for start in range(0, len(coin_ids), PER_PAGE):
            params = {"ids": ",".join(coin_ids[start : start + PER_PAGE])}
            rows += parse_markets(await self._get("/coins/markets", params))
        return rows

    async def by_symbols(self, symbols: Sequence[str]) -> list[CoinMarket]:
        if not symbols:
            return []
        # include_tokens=all: every coin with the ticker, not only CoinGecko's top pick
        params = {"symbols": ",".join(s.lower() for s in symbols), "include_tokens": "all"}
        return parse_markets(await self._get("/coins/markets", params))

    def _retryable(self, exc: BaseException) -> bool:
        """Outages and rate limits we can wait out within the backoff; not bad data."""
        if isinstance(exc, RateLimited):
            return exc.retry_after is None or exc.retry_after <= self._max_backoff
        return isinstance(exc, FeedUnavailable)

    def _wait(self, state: RetryCallState) -> float:
        """Exponential backoff with jitter, never shorter than the server's Retry-After."""
        delay = self._exponential(state)
        outcome = state.outcome
        exc = outcome.exception() if outcome is not None else None
        wanted = exc.retry_after if isinstance(exc, MarketError) else None
        return max(delay, wanted or 0.0)

    async def _get(self, path: str, params: dict[str, str]) -> Any:
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self._attempts),
            wait=self._wait,
            retry=retry_if_exception(self._retryable),
            reraise=True,
        )
        query = {"vs_currency": "usd", "per_page": str(PER_PAGE), **params}
        async for attempt in retrying:
            with attempt:
                return await self._get_once(path, query)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _get_once(self, path: str, params: dict[str, str]) -> Any:
        if self._session is None or self._session.closed:
            headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
            self._session = aiohttp.ClientSession(timeout=self._timeout, headers=headers)
        try:
            async with self._session.get(self.base_url + path, params=params) as resp:
                body = await resp.read()
                if resp.status == 429:
                    raise RateLimited(
                        "CoinGecko is rate-limiting us",
                        retry_after=_retry_after(resp.headers.get("Retry-After")),
                    )
                if resp.status >= 500:
                    raise FeedUnavailable(f"CoinGecko is unavailable (HTTP {resp.status})")
                if resp.status >= 400:
                    raise BadData(f"CoinGecko refused the request (HTTP {resp.status})")
                try:
                    return json.loads(body)
                except ValueError as exc:
                    raise BadData("CoinGecko sent unreadable data") from exc
        except MarketError:
            raise
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise FeedUnavailable("CoinGecko is unreachable") from exc

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
