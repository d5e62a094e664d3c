"""Shared plumbing for the fake servers: lifecycle, request log and fault injection.

Every fake is an `aiohttp.web` app bound to 127.0.0.1 on a free port, driven from the
same event loop as the test, so tests mutate its state directly instead of over HTTP.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Self

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
FaultMode = int | str

#: Fault modes every fake understands besides plain HTTP status codes.
COMMON_MODES = ("timeout", "truncated", "disconnect")


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """One request as the fake saw it, so tests can assert what the client asked."""

    method: str
    path: str
    query: dict[str, str]
    body: Any
    headers: dict[str, str]
    time: float = field(default_factory=time.monotonic)


@dataclass(slots=True)
class Fault:
    """A planned misbehaviour: an HTTP status or one of `COMMON_MODES` / a fake-specific mode.

    `remaining=None` means persistent (an outage) until cleared; `match` limits it to some
    requests (by path or API method, depending on the fake).
    """

    mode: FaultMode
    remaining: int | None
    match: Callable[[web.Request], bool] | None = None
    headers: dict[str, str] | None = None
    body: str | bytes | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def path_matcher(
    paths: str | tuple[str, ...] | list[str] | None,
) -> Callable[[web.Request], bool] | None:
    """Match requests whose path contains any of `paths` (e.g. "ticker/24hr")."""
    if paths is None:
        return None
    wanted = (paths,) if isinstance(paths, str) else tuple(paths)
    return lambda request: any(p in request.path for p in wanted)


class Signal:
    """Wake-all notification that sync code can fire (a pulsed asyncio.Event).

    Test code calls `push_command()` etc. without awaiting, so a Condition (which needs its
    lock held to notify) does not fit; waiters re-check their predicate after each pulse.
    """

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def pulse(self) -> None:
        """Wake every current waiter."""
        self._event.set()
        self._event = asyncio.Event()

    async def wait_until(self, predicate: Callable[[], bool], within: float) -> bool:
        """Block until `predicate()` holds (True) or `within` seconds pass (False)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while not predicate():
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            event = self._event
            try:
                await asyncio.wait_for(event.wait(), remaining)
            except TimeoutError:
                return predicate()
        return True

    async def wait_for(self, predicate: Callable[[], bool], within: float) -> None:
        """`wait_until`, but a timeout raises TimeoutError (a test's wait that failed)."""
        if not await self.wait_until(predicate, within):
            raise TimeoutError(f"condition not met within {within}s")


class FakeServer:
    """Base class: start/stop, `requests` log, `fail_next`/`set_outage` machinery.

    Subclasses add routes in `_setup_routes` and decide what an injected HTTP error
    looks like on their wire in `_error_response`.
    """

    def __init__(self, *, port: int = 0, hang_seconds: float = 30.0) -> None:
        self.requests: list[RecordedRequest] = []
        self.hang_seconds = hang_seconds
        self._port = port
        self._faults: list[Fault] = []
        self._runner: web.AppRunner | None = None
        self._closing = asyncio.Event()
        self.url = ""

    # ---- lifecycle -------------------------------------------------------------------------
    async def start(self) -> str:
        """Bind 127.0.0.1 (free port unless one was given) and return the base URL."""
        app = web.Application(middlewares=[self._middleware], client_max_size=64 * 1024**2)
        self._setup_routes(app)
        self._closing = asyncio.Event()
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self._port)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"
        return self.url

    async def stop(self) -> None:
        """Release hanging handlers and long polls, then close the port."""
        self._closing.set()
        await self._on_stop()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _on_stop(self) -> None:
        """Hook for subclasses to wake their waiters before the runner closes."""

    def _setup_routes(self, app: web.Application) -> None:
        raise NotImplementedError

    # ---- request log -----------------------------------------------------------------------
    async def _describe_body(self, request: web.Request) -> Any:
        """What goes into the log as `body`; subclasses may parse (and stash) it."""
        if request.method in ("GET", "HEAD"):
            return None
        return await request.read()

    def requests_to(self, fragment: str) -> list[RecordedRequest]:
        """Logged requests whose path contains `fragment`."""
        return [r for r in self.requests if fragment in r.path]

    def clear_log(self) -> None:
        """Forget logged requests (e.g. after set-up calls)."""
        self.requests.clear()

    # ---- faults ----------------------------------------------------------------------------
    def add_fault(self, fault: Fault) -> Fault:
        """Register a fault; one-shot faults go before outages, then in order added."""
        self._faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        """End every outage and drop pending one-shot failures."""
        self._faults.clear()

    def _replace_outage(
        self,
        mode: FaultMode | None,
        match: Callable[[web.Request], bool] | None,
        headers: dict[str, str] | None = None,
        body: str | bytes | None = None,
    ) -> Fault | None:
        """End the current outage (one-shot faults stay); then, unless `mode` is None,
        fail every `match`ing request with `mode` until the next call."""
        self._faults[:] = [f for f in self._faults if f.remaining is not None]
        if mode is None:
            return None
        return self.add_fault(Fault(mode, None, match, headers, body))

    def _take_fault(self, request: web.Request) -> Fault | None:
        """The first matching fault, consuming one use of a one-shot fault."""
        for fault in sorted(self._faults, key=lambda f: f.remaining is None):
            if fault.match is not None and not fault.match(request):
                continue
            if fault.remaining is not None:
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self._faults.remove(fault)
            return fault
        return None

    def _error_response(self, status: int, fault: Fault, request: web.Request) -> web.Response:
        """The wire shape of an injected HTTP error; subclasses override."""
        return web.Response(status=status, text=f"{status} injected", content_type="text/plain")

    async def _special_fault(
        self, fault: Fault, request: web.Request, handler: Handler
    ) -> web.StreamResponse | None:
        """Subclass hook for modes beyond `COMMON_MODES`; None means unknown mode."""
        return None

    async def _apply_fault(
        self, fault: Fault, request: web.Request, handler: Handler
    ) -> web.StreamResponse:
        """Turn a fault into a response (or a hang / a dropped connection)."""
        mode = fault.mode
        if isinstance(mode, int):
            resp = self._error_response(mode, fault, request)
            if fault.body is not None:
                resp.body = fault.body.encode() if isinstance(fault.body, str) else fault.body
            for key, value in (fault.headers or {}).items():
                resp.headers[key] = value
            return resp
        if mode == "timeout":
            # Wait on the closing event, not a bare sleep, so stop() never waits for us.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), self.hang_seconds)
            return web.Response(status=504, text="hung", content_type="text/plain")
        if mode == "truncated":
            resp = await handler(request)
            raw = resp.body if isinstance(resp, web.Response) else None
            data = bytes(raw) if isinstance(raw, bytes | bytearray) else b'{"x": [1, 2'
            cut = max(1, min(len(data) - 1, len(data) // 2))
            return web.Response(
                status=resp.status, body=data[:cut], content_type="application/json"
            )
        if mode == "disconnect":
            if request.transport is not None:
                request.transport.close()
            raise asyncio.CancelledError  # aiohttp drops the connection quietly
        special = await self._special_fault(fault, request, handler)
        if special is None:
            raise ValueError(f"unknown fault mode {mode!r}")
        return special

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        body = await self._describe_body(request)
        self.requests.append(
            RecordedRequest(
                method=request.method,
                path=request.path,
                query=dict(request.query),
                body=body,
                headers=dict(request.headers),
            )
        )
        fault = self._take_fault(request) if self._faults else None
        if fault is not None:
            return await self._apply_fault(fault, request, handler)
        return await handler(request)


class PathFaultServer(FakeServer):
    """A fake whose `fail_next` / `set_outage` are scoped by URL path (Binance, Yahoo)."""

    def fail_next(
        self,
        n: int = 1,
        status: FaultMode = 500,
        *,
        headers: dict[str, str] | None = None,
        body: str | bytes | None = None,
        paths: str | tuple[str, ...] | None = None,
    ) -> Fault:
        """The next `n` matching requests fail (an HTTP status or a mode like "timeout")."""
        return self.add_fault(Fault(status, n, path_matcher(paths), headers, body))

    def set_outage(
        self,
        mode: FaultMode | None,
        *,
        headers: dict[str, str] | None = None,
        body: str | bytes | None = None,
        paths: str | tuple[str, ...] | None = None,
    ) -> Fault | None:
        """Fail every matching request until `set_outage(None)`; replaces a previous outage.

        `paths="ticker/24hr"` (substring of the path) keeps e.g. exchangeInfo working.
        Pending one-shot `fail_next` faults are kept.
        """
        return self._replace_outage(mode, path_matcher(paths), headers, body)


def json_response(
    data: Any, *, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    """JSON with Content-Type exactly `application/json` (charset-free, like the real APIs)."""
    return web.Response(
        status=status,
        body=json.dumps(data, separators=(",", ":")).encode(),
        headers=headers,
        content_type="application/json",
    )
