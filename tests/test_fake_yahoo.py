"""FakeYahoo through aiohttp: the chart shape (nulls, User-Agent check), windows and faults."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest

from fakes.yahoo import FakeYahoo

UA = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Chrome/131.0 Safari/537.36"}


@pytest.fixture
async def yahoo() -> AsyncIterator[FakeYahoo]:
    async with FakeYahoo() as fake:
        day = 86_400
        base = (int(time.time()) // day - 10) * day + 52_200
        fake.set_history("^RUT", [(base + i * day, 2400.0 + i) for i in range(10)])
        fake.append_day("^RUT", base + 3 * day, None)  # Yahoo sends null for a missing close
        yield fake


async def test_yahoo_chart_shape_nulls_and_user_agent(yahoo: FakeYahoo) -> None:
    url = f"{yahoo.url}/v8/finance/chart/%5ERUT"
    async with aiohttp.ClientSession() as session:
        async with session.get(url, params={"interval": "1d", "range": "max"}, headers=UA) as r:
            assert r.status == 200 and r.headers["Content-Type"] == "application/json"
            body = await r.json()
        async with session.get(url, params={"interval": "1d", "range": "max"}) as r:
            assert r.status == 429 and "Too Many Requests" in await r.text()
        async with session.get(f"{yahoo.url}/v8/finance/chart/NOPE", headers=UA) as r:
            assert r.status == 404
            assert (await r.json())["chart"]["error"]["code"] == "Not Found"
    assert body["chart"]["error"] is None
    result = body["chart"]["result"][0]
    assert result["meta"]["symbol"] == "^RUT" and result["meta"]["instrumentType"] == "INDEX"
    closes = result["indicators"]["quote"][0]["close"]
    assert len(result["timestamp"]) == len(closes) == 10 and closes[3] is None
    assert result["meta"]["regularMarketPrice"] == closes[-1] == 2409.0
    assert result["indicators"]["adjclose"][0]["adjclose"] == closes
    assert yahoo.requests[0].path == "/v8/finance/chart/^RUT"


async def test_yahoo_windows_and_faults(yahoo: FakeYahoo) -> None:
    url = f"{yahoo.url}/v8/finance/chart/%5ERUT"
    rows = yahoo.series["^RUT"].rows
    window = {"interval": "1d", "period1": str(rows[5][0]), "period2": str(rows[8][0])}
    async with aiohttp.ClientSession(headers=UA) as session:
        async with session.get(url, params=window) as r:
            assert [t for t in (await r.json())["chart"]["result"][0]["timestamp"]] == [
                rows[5][0],
                rows[6][0],
                rows[7][0],
            ]
        async with session.get(url, params={"interval": "1d", "range": "5d"}) as r:
            assert len((await r.json())["chart"]["result"][0]["timestamp"]) == 5
        yahoo.fail_next(1, "error_object")
        async with session.get(url, params={"range": "1mo"}) as r:
            assert r.status == 200 and (await r.json())["chart"]["result"] is None
        yahoo.fail_next(1, "truncated")
        async with session.get(url, params={"range": "1mo"}) as r:
            with pytest.raises(ValueError):
                json.loads(await r.read())
        yahoo.set_outage(429)
        async with session.get(url, params={"range": "1mo"}) as r:
            assert r.status == 429
        yahoo.set_outage(None)
        async with session.get(url, params={"range": "1mo"}) as r:
            assert r.status == 200
