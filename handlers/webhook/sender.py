"""The webhook transport: one aiohttp session whose resolver enforces the address policy.

The policy is applied to the address actually connected to: `GuardedResolver` wraps the
real resolver and refuses a name when any of its addresses is disallowed, at every new
connection (no DNS cache), which defeats DNS rebinding; literal IP hosts, which aiohttp
never resolves, are checked before the request. Redirects are not followed (a 3xx is a
failure), the total timeout is 3 s, and the body is at most 4 KB (alerts/domain/webhooks).
"""

from __future__ import annotations

import socket

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult

from alerts.domain.webhooks import (
    MAX_BODY_BYTES,
    WebhookRefused,
    literal_ip,
    parse_url,
    refusal,
    refused_address,
)

TIMEOUT_SECONDS = 3.0
CONNECTIONS = 100  # sockets in all; one request per URL is in flight (worker.py)


class BlockedAddress(OSError):
    """A name resolved to an address the policy refuses (aiohttp wraps it as a DNS error)."""

    def __init__(self, refused: WebhookRefused) -> None:
        super().__init__(refused.message)
        self.refused = refused


class GuardedResolver(AbstractResolver):
    """Resolves with `inner` and refuses names with a disallowed address (unless allowed)."""

    def __init__(self, inner: AbstractResolver | None = None, *, allow_private: bool) -> None:
        self.inner = inner
        self.allow_private = allow_private

    def _resolver(self) -> AbstractResolver:
        if self.inner is None:  # built lazily: aiohttp's resolvers want a running loop
            self.inner = aiohttp.ThreadedResolver()
        return self.inner

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._resolver().resolve(host, port, family)
        if not self.allow_private:
            for result in results:
                ip = literal_ip(result["host"])
                if ip is None or refusal(ip) is not None:
                    raise BlockedAddress(refused_address(ip, host) if ip else _unparsable(host))
        return results

    async def close(self) -> None:
        if self.inner is not None:
            await self.inner.close()


def _unparsable(host: str) -> WebhookRefused:
    return WebhookRefused(f"{host} resolved to something that is not an IP address")


class WebhookSender:
    """POSTs signed bodies; `check_url` is the creation-time check of the same policy."""

    def __init__(
        self,
        resolver: AbstractResolver | None = None,
        *,
        allow_private: bool = False,
        allow_http: bool = False,
        timeout: float = TIMEOUT_SECONDS,
    ) -> None:
        self.resolver = GuardedResolver(resolver, allow_private=allow_private)
        self.allow_private = allow_private
        self.allow_http = allow_http
        self.timeout = timeout
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(
                resolver=self.resolver, use_dns_cache=False, limit=CONNECTIONS
            )
            self._session = aiohttp.ClientSession(
                connector=connector, timeout=aiohttp.ClientTimeout(total=self.timeout)
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _check_literal(self, host: str) -> None:
        ip = literal_ip(host)
        if ip is not None and not self.allow_private and refusal(ip) is not None:
            raise refused_address(ip, host)

    async def check_url(self, raw: str) -> str:
        """The URL to store, after its form and every address of its host pass the policy."""
        url = parse_url(raw, allow_http=self.allow_http)
        self._check_literal(url.host)
        if literal_ip(url.host) is None:
            try:
                await self.resolver.resolve(url.host, url.port, socket.AF_UNSPEC)
            except BlockedAddress as blocked:
                raise blocked.refused from None
            except OSError as exc:
                why = exc.strerror or exc
                raise WebhookRefused(f"{url.host} does not resolve ({why})") from None
        return url.url

    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> str | None:
        """Send once; None when the receiver answered 2xx, else why it failed."""
        if len(body) > MAX_BODY_BYTES:
            return f"body of {len(body)} bytes is over {MAX_BODY_BYTES}"
        try:
            self._check_literal(parse_url(url, allow_http=self.allow_http).host)
            async with self._client().post(
                url, data=body, headers=headers, allow_redirects=False
            ) as response:
                await response.read()
                if 200 <= response.status < 300:
                    return None
                if 300 <= response.status < 400:
                    return f"HTTP {response.status} redirect (not followed)"
                return f"HTTP {response.status}"
        except WebhookRefused as refused:
            return refused.message
        except aiohttp.ClientConnectorError as exc:
            blocked = exc.os_error
            if isinstance(blocked, BlockedAddress):
                return blocked.refused.message
            return f"cannot connect ({exc.os_error.strerror or exc.os_error})"
        except TimeoutError:
            return f"no answer within {self.timeout:g} s"
        except aiohttp.ClientError as exc:
            return f"{type(exc).__name__}: {exc}"[:200]
