"""`python -m fakes`: all fakes in one process, printing the env lines a bot needs."""

from __future__ import annotations

import subprocess
import sys


def test_main_prints_env_lines() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "fakes", "--days", "30"],
        input="say 1001 /coin LINK\nprice LINK 9.6\nquit\n",
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    keys = [line.split("=", 1)[0] for line in proc.stdout.splitlines() if "=" in line][:4]
    assert keys == ["EXCHANGE_API_URL", "INDEX_API_URL", "TELEGRAM_API_URL", "TELEGRAM_BOT_TOKEN"]
    assert "<< update" in proc.stdout and "LINK/USDT last=9.6" in proc.stdout
