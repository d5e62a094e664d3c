"""FakeBinance plus Binance's spot market-stream websocket, for real `ccxt.pro.binance`.

One server serves both: REST as in `FakeBinance`, and `ws://127.0.0.1:PORT/ws/<n>` (the
`wss://stream.binance.com:9443/ws` base ccxt.pro appends a stream index to). Point ccxt at
it with EXCHANGE_API_URL=fake.url and EXCHANGE_WS_URL=fake.ws_url (scheme and host are
replaced, paths kept, exactly like the REST rewrite).

Wire, as Binance speaks it:
- requests `{"method": "SUBSCRIBE" | "UNSUBSCRIBE" | "LIST_SUBSCRIPTIONS", "params": [...],
  "id": N}` are answered `{"result": null | [...], "id": N}`; bad JSON gets
  `{"code": 3, "msg": "Invalid JSON: ...", "id": null}`;
- streams `<symbol>@miniTicker` (event `24hrMiniTicker`), `<symbol>@ticker` (`24hrTicker`),
  `!miniTicker@arr` and `!ticker@arr` (arrays of the same events);
- like Binance, every subscribed market's events go out every `stream_every` seconds (1 s;
  None stops it); `set_price()` also pushes at once (turn off with `auto_push`);
  `push(symbol, last=X)` sends one event with another last price without changing the
  state (a wild print); the server answers pings (aiohttp autoping).

Faults: `fail_next` / `set_outage` with `paths="/ws"` refuse the handshake (e.g. 503);
`drop_streams()` closes every socket (a close frame, or abruptly with `abrupt=True`).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from fakes._binance_wire import TickerState, fmt, market_id, ticker_24hr
from fakes.binance import FakeBinance

__all__ = ["FakeBinanceWs"]


@dataclass(eq=False)
class _Socket:
    ws: web.WebSocketResponse
    request: web.Request
    streams: set[str] = field(default_factory=set)
    queue: asyncio.Queue[str | None] = field(default_factory=asyncio.Queue)


def mini_ticker(mid: str, t: TickerState, now_ms: int) -> dict[str, Any]:
    """The `24hrMiniTicker` event of one market."""
    return {
        "e": "24hrMiniTicker",
        "E": now_ms,
        "s": mid,
        "c": fmt(t.last),
        "o": fmt(t.open),
        "h": fmt(t.high),
        "l": fmt(t.low),
        "v": fmt(t.volume),
        "q": fmt(t.quote_volume),
    }


def full_ticker(mid: str, t: TickerState, tick: float, now_ms: int) -> dict[str, Any]:
    """The `24hrTicker` event: the REST 24h statistics under the stream's short keys."""
    r = ticker_24hr(mid, t, tick, now_ms)
    keys = {
        "p": "priceChange", "P": "priceChangePercent", "w": "weightedAvgPrice",
        "x": "prevClosePrice", "c": "lastPrice", "Q": "lastQty", "b": "bidPrice",
        "B": "bidQty", "a": "askPrice", "A": "askQty", "o": "openPrice", "h": "highPrice",
        "l": "lowPrice", "v": "volume", "q": "quoteVolume", "O": "openTime", "C": "closeTime",
        "F": "firstId", "L": "lastId", "n": "count",
    }  # fmt: skip
    return {"e": "24hrTicker", "E": now_ms, "s": mid, **{k: r[v] for k, v in keys.items()}}


class FakeBinanceWs(FakeBinance):
    """REST and the market streams over one port; state shared with `FakeBinance`."""

    def __init__(self, *, stream_every: float | None = 1.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.stream_every = stream_every
        self.auto_push = True
        self.ws_requests: list[dict[str, Any]] = []
        self.ws_connects = 0
        self.frames_sent = 0
        self._sockets: set[_Socket] = set()
        self._pulse: asyncio.Task[None] | None = None

    async def start(self) -> str:
        url = await super().start()
        self._pulse = asyncio.create_task(self._pulse_loop())
        return url

    async def _pulse_loop(self) -> None:
        while True:
            await asyncio.sleep(self.stream_every or 0.1)
            if self.stream_every:
                for mid in list(self.tickers):
                    self.push(mid)

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://", 1)

    @property
    def open_sockets(self) -> int:
        return len(self._sockets)

    def subscribed(self) -> set[str]:
        """Every stream some socket is subscribed to."""
        return {s for sock in self._sockets for s in sock.streams}

    # ---- state -> pushes ----------------------------------------------------------------------
    def set_price(self, symbol: str, last: float, **kwargs: Any) -> None:
        super().set_price(symbol, last, **kwargs)
        if self.auto_push:
            self.push(symbol)

    def push(self, symbol: str, *, last: float | None = None) -> int:
        """Send the market's events to its subscribers; returns frames queued.

        `last` replaces the last price of this one event only (the state stays)."""
        mid = market_id(symbol)
        state, now = self.tickers[mid], self.now_ms()
        if last is not None:
            state = dataclasses.replace(state, last=last)
        mini = mini_ticker(mid, state, now)
        full = full_ticker(mid, state, float(self.markets[mid].tick), now)
        queued = 0
        for sock in self._sockets:
            for stream in sock.streams:
                event: Any = None
                if stream == f"{mid.lower()}@miniticker":
                    event = mini
                elif stream == f"{mid.lower()}@ticker":
                    event = full
                elif stream == "!miniticker@arr":
                    event = [mini]
                elif stream == "!ticker@arr":
                    event = [full]
                if event is not None:
                    sock.queue.put_nowait(json.dumps(event, separators=(",", ":")))
                    queued += 1
        return queued

    async def drop_streams(self, *, abrupt: bool = False) -> int:
        """Close every socket: a 1001 "going away" frame, or the TCP connection cut."""
        socks = list(self._sockets)
        for sock in socks:
            if abrupt and sock.request.transport is not None:
                sock.request.transport.close()
            else:
                with contextlib.suppress(Exception):
                    await sock.ws.close(code=1001, message=b"going away")
        return len(socks)

    async def _on_stop(self) -> None:
        if self._pulse is not None:
            self._pulse.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pulse
        await self.drop_streams()
        await super()._on_stop()

    # ---- websocket --------------------------------------------------------------------------
    def _setup_routes(self, app: web.Application) -> None:
        app.router.add_get("/ws", self._ws)
        app.router.add_get("/ws/{stream}", self._ws)
        super()._setup_routes(app)  # REST, and its catch-all 404 last

    async def _ws(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        sock = _Socket(ws, request)
        self._sockets.add(sock)
        self.ws_connects += 1
        writer = asyncio.create_task(self._writer(sock))
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    self._answer(sock, msg.data)
                elif msg.type == WSMsgType.ERROR:
                    break
        finally:
            self._sockets.discard(sock)
            sock.queue.put_nowait(None)
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await writer
        return ws

    async def _writer(self, sock: _Socket) -> None:
        """One writer per socket keeps frames in order and lets sync code push."""
        while (frame := await sock.queue.get()) is not None:
            if sock.ws.closed:
                return
            try:
                await sock.ws.send_str(frame)
            except (ConnectionError, RuntimeError):
                return
            self.frames_sent += 1

    def _answer(self, sock: _Socket, data: str) -> None:
        try:
            request = json.loads(data)
            method, rid = request["method"], request.get("id")
            params = [str(p).lower() for p in request.get("params") or []]
        except (ValueError, KeyError, TypeError):
            reply: dict[str, Any] = {"code": 3, "msg": "Invalid JSON: expected value", "id": None}
            sock.queue.put_nowait(json.dumps(reply))
            return
        self.ws_requests.append(request)
        result: Any = None
        if method == "SUBSCRIBE":
            sock.streams.update(params)
        elif method == "UNSUBSCRIBE":
            sock.streams.difference_update(params)
        elif method == "LIST_SUBSCRIPTIONS":
            result = sorted(sock.streams)
        else:
            sock.queue.put_nowait(json.dumps({"code": 2, "msg": "Invalid request", "id": rid}))
            return
        sock.queue.put_nowait(json.dumps({"result": result, "id": rid}))
