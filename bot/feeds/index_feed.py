"""The Russell 2000 feed: Yahoo's v8 chart API, translated into `DailyClose` rows.

Yahoo answers 429 to clients without a browser-like User-Agent, puts `null`s
inside the arrays for missing days, and reports unknown symbols in an `error`
object; all of that is handled here and surfaces as domain errors.
"""

from __future__ import annotations

import json
from typing import Any

import aiohttp

from alerts.domain.market import (
    BadData,
    DailyClose,
    FeedUnavailable,
    MarketError,
    RateLimited,
    UnknownSymbol,
)

USER_AGENT = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0 Safari/537.36"
)


def parse_chart(payload: Any) -> list[DailyClose]:
    """Rows of (timestamp, close) from a chart answer, skipping `null` closes."""
    if not isinstance(payload, dict) or not isinstance(payload.get("chart"), dict):
        raise BadData("the index feed answered in an unknown shape")
    chart = payload["chart"]
    if chart.get("error"):
        err = chart["error"]
        code = err.get("code") if isinstance(err, dict) else str(err)
        if code == "Not Found":
            raise UnknownSymbol("the index feed does not know that symbol")
        raise BadData(f"the index feed reported an error ({code})")
    results = chart.get("result")
    if not isinstance(results, list) or not results or not isinstance(results[0], dict):
        raise BadData("the index feed sent no result")
    result = results[0]
    stamps = result.get("timestamp") or []
    try:
        closes = result["indicators"]["quote"][0]["close"]
    except (KeyError, IndexError, TypeError) as exc:
        raise BadData("the index feed sent no closes") from exc
    if not isinstance(stamps, list) or not isinstance(closes, list):
        raise BadData("the index feed sent malformed arrays")
    rows: dict[int, float] = {}
    for ts, close in zip(stamps, closes, strict=False):
        if isinstance(ts, int | float) and isinstance(close, int | float) and close > 0:
            rows[int(ts) - int(ts) % 86400] = float(close)  # one row per UTC day
    return [DailyClose(ts, rows[ts]) for ts in sorted(rows)]


class YahooIndexFeed:
    """Fetches ^RUT daily closes; the full history once, then recent days."""

    def __init__(self, base_url: str, *, symbol: str = "^RUT", timeout: float = 10.0) -> None:
        self.name = "index"
        self._url = f"{base_url.rstrip('/')}/v8/finance/chart/{symbol.replace('^', '%5E')}"
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    async def fetch_daily(self, full: bool) -> list[DailyClose]:
        params = {"interval": "1d", "range": "max" if full else "1mo"}
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=self._timeout, headers={"User-Agent": USER_AGENT}
            )
        try:
            async with self._session.get(self._url, params=params) as resp:
                body = await resp.read()
                if resp.status == 429:
                    retry = resp.headers.get("Retry-After")
                    raise RateLimited(
                        "the index feed is rate-limiting us",
                        retry_after=float(retry) if retry and retry.isdigit() else None,
                    )
                if resp.status >= 500:
                    raise FeedUnavailable(f"the index feed is unavailable (HTTP {resp.status})")
                try:
                    payload = json.loads(body)
                except ValueError as exc:
                    raise BadData("the index feed sent unreadable data") from exc
                if resp.status >= 400 and resp.status != 404:
                    raise FeedUnavailable(f"the index feed refused (HTTP {resp.status})")
                return parse_chart(payload)
        except MarketError:
            raise
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise FeedUnavailable("the index feed is unreachable") from exc

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
