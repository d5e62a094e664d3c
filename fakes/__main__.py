"""Run the exchange, index, market-cap and Telegram fakes together to try the bot offline.

    python -m fakes [--seed 7] [--days 420] [--enforce-limits]

Prints the environment lines to start the bot with, then reads commands on stdin and
prints every message the bot sends. Data is deterministic for a given seed: Binance spot
markets at late-2025 levels with daily klines, and ten years of daily ^RUT closes ending
at a new all-time high.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import stat
import sys
import time
from collections.abc import AsyncIterator

from fakes._data import DAY_S, INDEX_BAR_OFFSET_S, generate_index_history
from fakes._tg_objects import SentMessage
from fakes.binance import FakeBinance
from fakes.coingecko import FakeCoinGecko
from fakes.telegram import FAKE_TOKEN, FakeTelegram
from fakes.yahoo import FakeYahoo

HELP = """commands:
  say CHAT TEXT          user CHAT sends TEXT (a /command gets its bot_command entity;
                         negative CHAT = group)
  click CHAT MSGID DATA  user presses an inline button with callback DATA
  price COIN LAST [PCT]  set COIN/USDT last price (and 24h change %)
  rut CLOSE              append the next trading day's ^RUT close
  outage NAME MODE|off   NAME: binance|yahoo|telegram|coingecko; MODE: 500, 429, timeout, ...
  sent [CHAT]            list what the bot sent (to CHAT)
  help | quit"""


def show(entry: SentMessage) -> None:
    """One line per bot action, so the human sees replies as they happen."""
    text = (entry.text or "").replace("\n", "\n   ")
    extra = " [photo]" if entry.photo else ""
    if entry.reply_markup and "inline_keyboard" in entry.reply_markup:
        buttons = [b.get("text") for row in entry.reply_markup["inline_keyboard"] for b in row]
        extra += f" buttons={buttons}"
    print(f">> {entry.chat_id} {entry.method} #{entry.message_id}: {text}{extra}", flush=True)


async def stdin_lines() -> AsyncIterator[str]:
    """Lines from stdin without blocking the loop (pipe/tty), thread fallback for files."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    mode = os.fstat(sys.stdin.fileno()).st_mode
    if not (stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode) or sys.stdin.isatty()):
        while line := await asyncio.to_thread(sys.stdin.readline):  # files, /dev/null
            yield line
        return
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line_bytes := await reader.readline():
        yield line_bytes.decode(errors="replace")


def handle(
    line: str, bn: FakeBinance, yh: FakeYahoo, tg: FakeTelegram, cg: FakeCoinGecko | None = None
) -> bool:
    """Apply one stdin command; False means quit."""
    parts = line.split()
    if not parts:
        return True
    cmd, args = parts[0].lower(), parts[1:]
    try:
        if cmd in ("quit", "exit"):
            return False
        if cmd == "say" and len(args) >= 2:
            text = line.split(None, 2)[2].strip()
            push = tg.push_command if text.startswith("/") else tg.push_text
            print(f"<< update {push(int(args[0]), text)}", flush=True)
        elif cmd == "click" and len(args) >= 3:
            uid = tg.push_callback(int(args[0]), args[2], message_id=int(args[1]))
            print(f"<< update {uid}", flush=True)
        elif cmd == "price" and len(args) >= 2:
            pct = float(args[2]) if len(args) > 2 else None
            symbol = args[0].upper() if "/" in args[0] else f"{args[0].upper()}/USDT"
            bn.set_price(symbol, float(args[1]), change_pct=pct)
            print(f"<< {symbol} last={args[1]}", flush=True)
        elif cmd == "rut" and args:
            rows = yh.series["^RUT"].rows
            day = rows[-1][0] // DAY_S + 1
            while (day + 3) % 7 >= 5:
                day += 1
            yh.append_day("^RUT", day * DAY_S + INDEX_BAR_OFFSET_S, float(args[0]))
            yh.now_s = max(time.time(), day * DAY_S + INDEX_BAR_OFFSET_S + 1)
            print(f"<< ^RUT {args[0]} on day {day}", flush=True)
        elif cmd == "outage" and len(args) == 2:
            fakes = {"binance": bn, "yahoo": yh, "telegram": tg, "coingecko": cg}
            fake = fakes[args[0]]
            if fake is None:
                raise KeyError(args[0])
            mode = None if args[1] == "off" else (int(args[1]) if args[1].isdigit() else args[1])
            fake.set_outage(mode)
            print(f"<< {args[0]} outage: {args[1]}", flush=True)
        elif cmd == "sent":
            items = tg.messages_to(int(args[0])) if args else tg.sent
            for entry in items[-20:]:
                show(entry)
        else:
            print(HELP, flush=True)
    except (ValueError, KeyError) as exc:
        print(f"!! {exc!r}", flush=True)
    return True


async def main(argv: list[str] | None = None) -> None:
    """Start the fakes, print the env lines, then serve until quit / EOF / Ctrl-C."""
    ap = argparse.ArgumentParser(prog="python -m fakes", description=__doc__.split("\n")[0])
    ap.add_argument("--port-binance", type=int, default=0)
    ap.add_argument("--port-yahoo", type=int, default=0)
    ap.add_argument("--port-telegram", type=int, default=0)
    ap.add_argument("--port-coingecko", type=int, default=0)
    ap.add_argument("--token", default=FAKE_TOKEN)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--days", type=int, default=420, help="daily klines per market")
    ap.add_argument("--enforce-limits", action="store_true", help="Telegram flood control")
    opts = ap.parse_args(argv)

    bn = FakeBinance(port=opts.port_binance, history_days=opts.days, seed=opts.seed)
    bn.seed_bars(intervals=("5m", "15m", "1h", "4h"))  # indicator alerts; 1d: the daily klines
    yh = FakeYahoo(port=opts.port_yahoo)
    yh.set_history("^RUT", generate_index_history(end_s=int(time.time()), seed=opts.seed + 2000))
    tg = FakeTelegram(opts.token, port=opts.port_telegram, enforce_limits=opts.enforce_limits)
    tg.on_sent = show
    cg = FakeCoinGecko(port=opts.port_coingecko)
    async with bn, yh, tg, cg:
        print(f"EXCHANGE_API_URL={bn.url}")
        print(f"INDEX_API_URL={yh.url}")
        print(f"TELEGRAM_API_URL={tg.url}")
        print(f"TELEGRAM_BOT_TOKEN={tg.token}")
        print(f"MCAP_API_URL={cg.api_url}")
        print(f"# {HELP}".replace("\n", "\n# "), flush=True)
        async for line in stdin_lines():
            if not handle(line, bn, yh, tg, cg):
                return
        if not sys.stdin.isatty():  # stdin closed (e.g. </dev/null): keep serving
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.Event().wait()


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())
