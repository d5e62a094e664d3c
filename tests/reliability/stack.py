"""The fake outside world (exchange, index, Bot API) and `altbot run` as real subprocesses."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from fakes.binance import FakeBinance
from fakes.telegram import FakeTelegram
from fakes.yahoo import FakeYahoo
from tests.conftest import REDIS_URL

DAY = 86400
ROOT = Path(__file__).resolve().parents[2]
ALERT_ID = re.compile(r"#(\d+) ")


@dataclass
class Stack:
    binance: FakeBinance
    yahoo: FakeYahoo
    telegram: FakeTelegram
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    logs: list[Path] = field(default_factory=list)

    @classmethod
    async def start(cls) -> Stack:
        binance = FakeBinance(history_days=60)
        yahoo = FakeYahoo()
        now = int(time.time()) - int(time.time()) % DAY
        yahoo.set_history("^RUT", [(now - (300 - i) * DAY, 2000.0 + i) for i in range(300)])
        telegram = FakeTelegram()
        for fake in (binance, yahoo, telegram):
            await fake.start()
        return cls(binance, yahoo, telegram)

    async def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
        for fake in (self.binance, self.yahoo, self.telegram):
            await fake.stop()

    def env(self, prefix: str, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "DISCORD_"))}
        env.update(
            REDIS_URL=REDIS_URL,
            KEY_PREFIX=prefix,
            TELEGRAM_BOT_TOKEN=self.telegram.token,
            TELEGRAM_API_URL=self.telegram.url,
            EXCHANGE_API_URL=self.binance.url,
            INDEX_API_URL=self.yahoo.url,
            HTTP_PORT="0",
            POLL_INTERVAL_SECONDS="1",
            DELIVERY_CLAIM_IDLE_SECONDS="1",
            LEADER_LEASE_SECONDS="2",
            LOG_LEVEL="INFO",
        )
        env.update(extra)
        return env

    def spawn(self, env: dict[str, str]) -> subprocess.Popen[bytes]:
        log = Path(tempfile.mkstemp(prefix="altbot-", suffix=".log")[1])
        handle = log.open("wb")
        proc = subprocess.Popen(
            [sys.executable, "-m", "bot", "run"],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.procs.append(proc)
        self.logs.append(log)
        return proc

    def alert_ids_delivered(self) -> Counter[int]:
        """How often each alert id reached a phone, over every message sent."""
        seen: Counter[int] = Counter()
        for message in self.telegram.sent:
            seen.update(int(m) for m in ALERT_ID.findall(message.text or ""))
        return seen

    def log_text(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in self.logs if p.exists())


def kill9(proc: subprocess.Popen[bytes]) -> None:
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(10)
