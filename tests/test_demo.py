"""`altbot demo`: offline, no tokens; works with and without a Redis server."""

from __future__ import annotations

import io
import os
import subprocess
import sys

from bot.config import Settings
from bot.demo import run_demo


async def test_demo_without_redis_uses_in_process_store() -> None:
    out = io.StringIO()
    settings = Settings(redis_url="redis://127.0.0.1:1/0", http_port=0)  # nothing listens there
    await run_demo(settings, script=["/coin LINK", "/alerts", "/coin NOPE"], out=out)
    text = out.getvalue()
    assert "in-process" in text and "nothing persists" in text
    assert "> /coin LINK\nLINK/USDT\nPrice:" in text
    assert "Market cap: $" in text and "(demo replay, " in text  # generated, said so
    assert "Regime: risk-on: R2K at record" in text
    assert "the R2K closes at a new record" in text
    assert text.count("crossed above 9.5") == 1
    assert "ema9 1h crosses below ema21 (on 1h close)" in text  # an indicator alert too
    assert "NOPE/USDT is not a market I know" in text


def test_demo_cli_runs_offline_from_piped_stdin() -> None:
    env = {**os.environ, "TELEGRAM_BOT_TOKEN": "", "DISCORD_BOT_TOKEN": ""}
    env.pop("TELEGRAM_BOT_TOKEN")
    env.pop("DISCORD_BOT_TOKEN")
    proc = subprocess.run(
        [sys.executable, "-m", "bot", "demo", "--steps", "8"],
        input="/regime\n/help\n",
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    assert "> /help\naltbot commands" in proc.stdout
    assert "/alert SYMBOL" in proc.stdout
