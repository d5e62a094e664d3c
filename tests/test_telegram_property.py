"""Property: no message text and no button data makes a handler raise or fail internally.

Runs against a real App (Redis, market data from the fake exchange): the command core
for many examples, and the Telegram transport (PTB `process_update`) for fewer.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import uuid
from collections.abc import Callable, Coroutine
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from redis.asyncio import Redis
from telegram import Update

from fakes.tg_harness import Harness, telegram_app
from handlers.chat.registry import all_commands, build_core
from handlers.chat.reply import Reply, Request
from handlers.telegram.delivery import MAX_MESSAGE_CHARS, render_chunks
from tests.conftest import REDIS_URL, delete_prefix

INTERNAL_ERROR = "Something went wrong on our side"
WORDS = [
    "LINK", "link", "BTC/USDT", "ADAUSDT", "DOGE", "above", "below", ">", "<", "+40%", "-20%",
    "0%", "move", "5%", "1h", "0.01%", "volume", "3x", "101x", "repeat", "cooldown", "15m",
    "for", "7d", "9999d", "all", "#1", "1", "-1", "0", "1e309", "nan", "inf", "9.5", "1,000",
    "@", "%", ":", "\u200b", "😀", "<b>", "&amp;",
]  # fmt: skip
VERBS = sorted({"coin", "mk", "del", "delall", "rearm", "snz", "list", "run", "chart", "x"})

words = st.one_of(st.sampled_from(WORDS), st.text(max_size=12))
commands = st.builds(
    lambda name, at, args: f"/{name}{at} " + " ".join(args),
    st.sampled_from([s.name for s in all_commands()] + ["nope", "Coin", "c0in", ""]),
    st.sampled_from(["", "@altbot_test_bot", "@other_bot", "@"]),
    st.lists(words, max_size=8),
)
alert_commands = st.builds(
    lambda coin, cond, opts: f"/alert {coin} {cond} {' '.join(opts)}",
    st.sampled_from(["LINK", "ada", "AVAX/USDT", "BCH", "HBAR", "BTC", "DOGE", "ETHUSDT"]),
    st.sampled_from(["above 99999", "below 0.0001", "+40%", "-50%", "move 5% 1h", "volume 3x"]),
    st.lists(
        st.sampled_from(["repeat", "cooldown 15m", "for 7d", "cooldown 1m", "for 1h"]), max_size=2
    ),
)
plain = st.sampled_from(["/coin LINK", "/alerts", "/delete all", "/start", "/help", "/regime"])
texts = st.one_of(commands, alert_commands, plain, st.text(max_size=700))
callbacks = st.one_of(
    st.builds(
        lambda verb, args: ":".join([verb, *args]),
        st.sampled_from(VERBS),
        st.lists(
            st.one_of(st.sampled_from(["LINK", "40", "150", "1", "yes", "9" * 15]), words),
            max_size=4,
        ),
    ),
    st.text(max_size=80),
)


def check_reply(reply: Reply | None) -> None:
    if reply is None:
        return
    assert INTERNAL_ERROR not in reply.title, reply
    assert all(len(chunk) <= MAX_MESSAGE_CHARS for chunk in render_chunks(reply))


def run_in_loop(
    scenario: Callable[[Harness, asyncio.AbstractEventLoop], Coroutine[Any, Any, None]],
) -> None:
    """Hypothesis drives sync functions: one loop and one App serve every example."""
    loop = asyncio.new_event_loop()
    redis: Redis = Redis.from_url(REDIS_URL, decode_responses=True)
    prefix = f"prop-tg-{uuid.uuid4().hex[:10]}"

    async def main() -> None:
        try:
            async with telegram_app(redis, prefix) as h:
                await h.alert(42, "LINK", 9.5)
                await scenario(h, loop)
        finally:
            await delete_prefix(redis, prefix)
            await redis.aclose()

    try:
        loop.run_until_complete(main())
    finally:
        loop.close()


def test_no_text_or_callback_data_breaks_the_command_core() -> None:
    async def scenario(h: Harness, loop: asyncio.AbstractEventLoop) -> None:
        core = build_core(h.app.services)  # no per-chat rate limit: every example goes deep
        seq = itertools.count(1)
        replies: list[Reply | None] = []

        async def one(text: str, data: str, is_group: bool, is_admin: bool) -> None:
            chat = f"tg:{-next(seq) if is_group else 42}"
            req = Request(chat, "tg:7", text, is_group, is_admin, "telegram")
            replies.append(await core.handle(req))
            replies.append(await core.handle_callback(req, data))
            for reply in replies[-2:]:
                check_reply(reply)

        @settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
        @given(texts, callbacks, st.booleans(), st.booleans())
        def prop(text: str, data: str, is_group: bool, is_admin: bool) -> None:
            asyncio.run_coroutine_threadsafe(one(text, data, is_group, is_admin), loop).result()

        await loop.run_in_executor(None, prop)
        assert len(replies) >= 2 * 300
        titles = {r.title for r in replies if r is not None}
        assert any("Alert #" in t for t in titles) and any("LINK/USDT" in t for t in titles)

    run_in_loop(scenario)


def test_no_update_text_or_button_breaks_the_telegram_transport(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.ERROR)

    async def scenario(h: Harness, loop: asyncio.AbstractEventLoop) -> None:
        ptb = h.app.telegram.app
        ids = itertools.count(1000)

        async def one(text: str, data: str, group: bool) -> None:
            chat = -next(ids) if group else next(ids)
            kind = "supergroup" if group else "private"
            for update in (
                h.tg.command_update(chat, text or "/", chat_type=kind),
                h.tg.callback_update(chat, data or "x", message_id=1),
            ):
                await ptb.process_update(Update.de_json(update, ptb.bot))

        @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
        @given(texts, callbacks, st.booleans())
        def prop(text: str, data: str, group: bool) -> None:
            asyncio.run_coroutine_threadsafe(one(text, data, group), loop).result()

        await loop.run_in_executor(None, prop)
        await asyncio.sleep(1.0)  # let the last replies go out
        assert len([m for m in h.tg.sent if m.method == "answerCallbackQuery"]) >= 40

    run_in_loop(scenario)
    failures = [
        r.getMessage() for r in caplog.records if r.name.startswith(("handlers", "telegram"))
    ]
    assert failures == []
