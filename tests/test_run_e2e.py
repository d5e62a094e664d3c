"""`altbot run` as a real process against the local fakes, used the way a phone user would."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest

from tests.reliability.stack import Stack
from tests.reliability.test_data_faults import free_port


@pytest.fixture
async def stack() -> AsyncIterator[Stack]:
    s = await Stack.start()
    yield s
    await s.stop()


async def test_run_answers_start_coin_regime_within_3s_and_is_healthy(
    stack: Stack, prefix: str
) -> None:
    port = free_port()
    stack.binance.set_price("LINK/USDT", 9.37, change_pct=2.5, quote_volume=321e6)
    proc = stack.spawn(stack.env(prefix, HTTP_PORT=str(port)))
    health = f"http://127.0.0.1:{port}/healthz"
    async with aiohttp.ClientSession() as http:
        deadline, status = time.monotonic() + 40, 0
        while time.monotonic() < deadline and status != 200:
            try:
                async with http.get(health) as resp:
                    status = resp.status
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.2)
        assert status == 200, stack.log_text()[-2000:]
        async with http.get(f"http://127.0.0.1:{port}/metrics") as resp:
            assert "altbot_polls_total" in await resp.text()

        answers = {}
        for chat, text in ((11, "/start"), (12, "/coin LINK"), (13, "/regime")):
            sent_at = time.monotonic()
            stack.telegram.push_command(chat, text)
            messages = await stack.telegram.wait_for(1, timeout=3, chat_id=chat)
            assert time.monotonic() - sent_at < 3
            answers[text] = messages[0].text or ""
    assert "altbot" in answers["/start"] and "not advice" in answers["/start"]
    coin = answers["/coin LINK"]
    assert "9.37" in coin and "+2.50%" in coin and "321.0M USDT" in coin
    assert answers["/regime"].startswith("<b>Regime: ")
    assert "not a forecast" in answers["/regime"]
    commands = {c["command"] for c in next(iter(stack.telegram.my_commands.values()))}
    assert {"coin", "regime", "alert", "alerts", "delete", "help", "start"} <= commands
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(30) == 0
