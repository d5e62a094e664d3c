"""Signed webhooks: the JSON payload, its signature, and which addresses may receive it.

The payload schema and the signature scheme are a public contract (README, "Webhooks"):
receivers verify `X-Altbot-Signature: sha256=<hex HMAC-SHA256(secret, "timestamp.body")>`
with `verify` (or the README's ten lines) and drop duplicates by `event_id`, which stays
the same across retries. The address policy is pure so it can run on every address a
name resolves to, at creation and again at every send (DNS rebinding).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from urllib.parse import urlsplit

from alerts.domain.errors import UserError

MAX_WEBHOOKS_PER_CHAT = 3
MAX_BODY_BYTES = 4096
MAX_URL_CHARS = 400
MAX_SIGNATURE_AGE_SECONDS = 300
TIMESTAMP_HEADER = "X-Altbot-Timestamp"
SIGNATURE_HEADER = "X-Altbot-Signature"
SIGNATURE_SCHEME = "sha256=hex(HMAC-SHA256(secret, timestamp + '.' + body))"

IP = ipaddress.IPv4Address | ipaddress.IPv6Address
# Instance metadata services (AWS, GCP, Azure, Alibaba, ECS task metadata, AWS over IPv6):
# some are link-local anyway, the others are named so the refusal says what they are.
METADATA = frozenset(
    ipaddress.ip_address(a)
    for a in ("169.254.169.254", "169.254.170.2", "100.100.100.200", "168.63.129.16",
              "fd00:ec2::254", "fd00:ec2::23")
)  # fmt: skip
CGNAT = ipaddress.ip_network("100.64.0.0/10")
NAT64 = ipaddress.ip_network("64:ff9b::/96")


class EventType(StrEnum):
    ALERT = "alert"
    SIGNAL = "signal"
    TEST = "test"


class WebhookRefused(UserError):
    """A webhook URL or address the policy refuses; the message says exactly why."""


def iso(ts: float) -> str:
    """ISO-8601 UTC with milliseconds and a `Z`."""
    text = datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class WebhookEvent:
    """One POSTed event (README: "Webhooks" shows an example body)."""

    event_id: str
    type: EventType
    alert_id: int | None
    symbol: str | None
    condition: str
    value: float | None
    bar_time: float | None
    exchange: str
    sent_at: float

    def as_dict(self) -> dict[str, object]:
        finite = self.value is not None and math.isfinite(self.value)
        return {
            "event_id": self.event_id,
            "type": self.type.value,
            "alert_id": self.alert_id,
            "symbol": self.symbol,
            "condition": self.condition,
            "value": self.value if finite else None,
            "bar_time": None if self.bar_time is None else iso(self.bar_time),
            "exchange": self.exchange,
            "sent_at": iso(self.sent_at),
        }

    def body(self) -> bytes:
        """Compact UTF-8 JSON of at most MAX_BODY_BYTES: long text fields are cut, never
        the JSON (the condition first, then the other strings)."""
        doc = self.as_dict()
        for name, cap in (("event_id", 128), ("symbol", 64), ("exchange", 64)):
            text = doc[name]
            if isinstance(text, str) and len(text) > cap:
                doc[name] = text[:cap]
        while True:
            raw = json.dumps(doc, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
            encoded = raw.encode()
            over = len(encoded) - MAX_BODY_BYTES
            if over <= 0:
                return encoded
            condition = str(doc["condition"])
            doc["condition"] = condition[: max(0, len(condition) - over - 1)] + "…"


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """`sha256=<hex>` of HMAC-SHA256 over `timestamp.body`."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


def signed_headers(secret: str, body: bytes, now: float) -> dict[str, str]:
    timestamp = str(int(now))
    return {
        "Content-Type": "application/json",
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: sign(secret, timestamp, body),
        "User-Agent": "altbot-webhook",
    }


def verify(
    secret: str, timestamp: str, signature: str, body: bytes, now: float,
    max_age: float = MAX_SIGNATURE_AGE_SECONDS,
) -> bool:  # fmt: skip
    """What a receiver checks: a fresh timestamp and a matching signature."""
    try:
        age = now - int(timestamp)
    except ValueError:
        return False
    if abs(age) > max_age:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), signature)


# ---- address policy ------------------------------------------------------------------------
def refusal(ip: IP) -> str | None:
    """Why a webhook must not go to `ip` ("private", "loopback", …), or None if public.

    IPv6 forms that embed an IPv4 address (mapped, NAT64, 6to4, Teredo) are judged by
    the IPv4 address they reach.
    """
    if isinstance(ip, ipaddress.IPv6Address):
        inner = ip.ipv4_mapped or (ip.sixtofour if ip.sixtofour else None)
        if inner is None and ip in NAT64:
            inner = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if inner is None and ip.teredo:
            inner = ip.teredo[1]
        if inner is not None:
            return refusal(inner)
    checks = (
        (ip in METADATA, "cloud metadata"),
        (ip.is_unspecified, "unspecified"),
        (ip.is_loopback, "loopback"),
        (ip.is_link_local, "link-local"),
        (isinstance(ip, ipaddress.IPv4Address) and ip in CGNAT, "CGNAT (100.64/10)"),
        (ip.is_multicast, "multicast"),
        (ip.is_reserved, "reserved"),
        (ip.is_private, "private"),
        (not ip.is_global, "non-public"),
    )
    return next((why for hit, why in checks if hit), None)


def refused_address(ip: IP, host: str) -> WebhookRefused:
    """The one wording of an address refusal (creation and send)."""
    article = "an" if refusal(ip) == "unspecified" else "a"
    what = f"{article} {refusal(ip)} address ({ip})"
    if host.strip("[]") == str(ip):
        return WebhookRefused(f"that address is {what}", "Webhooks go to public addresses only.")
    return WebhookRefused(f"that host resolves to {what}", "Webhooks go to public addresses only.")


def literal_ip(host: str) -> IP | None:
    try:
        return ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class WebhookUrl:
    url: str
    scheme: str
    host: str
    port: int


def parse_url(raw: str, *, allow_http: bool) -> WebhookUrl:
    """Check a URL's form (not its addresses): https (or http when allowed), a host, no
    credentials, no fragment, at most MAX_URL_CHARS characters."""
    url = raw.strip().strip("<>")
    if not url:
        raise WebhookRefused("Which URL?", "For example /webhook add https://example.com/hook")
    if len(url) > MAX_URL_CHARS:
        raise WebhookRefused(f"that URL is longer than {MAX_URL_CHARS} characters")
    if any(c.isspace() or ord(c) < 32 for c in url):
        raise WebhookRefused("that URL contains spaces or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
        host = parts.hostname or ""
    except ValueError as exc:
        raise WebhookRefused(f"that URL does not parse ({exc})") from None
    scheme = parts.scheme.lower()
    if scheme == "http" and not allow_http:
        raise WebhookRefused("http:// URLs are refused — use https")
    if scheme not in ("http", "https"):
        raise WebhookRefused("only https:// URLs can receive webhooks")
    if parts.username is not None or parts.password is not None:
        raise WebhookRefused("credentials in the URL are refused", "Use a secret path or query.")
    if parts.fragment or url.endswith("#"):
        raise WebhookRefused("URL fragments (#…) are refused: they are never sent")
    if not host:
        raise WebhookRefused("that URL has no host")
    if literal_ip(host) is None and all(c.isdigit() or c in ".x" for c in host.lower()):
        raise WebhookRefused("write IPv4 addresses as four decimal numbers (a.b.c.d)")
    return WebhookUrl(url, scheme, host, port or (443 if scheme == "https" else 80))


def mask(url: str) -> str:
    """A URL fit to show in a list: the query string (often a token) is hidden."""
    base, sep, _ = url.partition("?")
    return f"{base}?…" if sep else base
