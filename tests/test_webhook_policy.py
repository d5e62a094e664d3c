"""The webhook contract's pure parts: address policy, URL rules, payload size, signature."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alerts.domain.webhooks import (
    MAX_BODY_BYTES,
    EventType,
    WebhookEvent,
    WebhookRefused,
    mask,
    parse_url,
    refusal,
    sign,
    signed_headers,
    verify,
)

REFUSED = {
    "127.0.0.1": "loopback",
    "127.255.0.9": "loopback",
    "10.0.0.1": "private",
    "172.16.5.4": "private",
    "192.168.1.1": "private",
    "169.254.169.254": "cloud metadata",
    "169.254.170.2": "cloud metadata",
    "100.100.100.200": "cloud metadata",
    "169.254.10.10": "link-local",
    "100.64.0.1": "CGNAT (100.64/10)",
    "100.127.255.254": "CGNAT (100.64/10)",
    "0.0.0.0": "unspecified",
    "224.0.0.1": "multicast",
    "239.255.255.250": "multicast",
    "240.0.0.1": "reserved",
    "192.0.2.5": "private",  # TEST-NET-1 (documentation)
    "198.18.0.1": "private",  # benchmarking
    "::1": "loopback",
    "::": "unspecified",
    "fe80::1": "link-local",
    "fc00::1": "private",
    "fd12:3456::1": "private",
    "fd00:ec2::254": "cloud metadata",
    "ff02::1": "multicast",
    "::ffff:127.0.0.1": "loopback",
    "::ffff:10.0.0.1": "private",
    "::ffff:169.254.169.254": "cloud metadata",
    "64:ff9b::a00:1": "private",  # NAT64 of 10.0.0.1
    "2002:a00:1::": "private",  # 6to4 of 10.0.0.1
    "2001:db8::1": "private",  # documentation
}
PUBLIC = ["93.184.216.34", "1.1.1.1", "8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8",
          "100.63.255.255", "100.128.0.1"]  # fmt: skip


@pytest.mark.parametrize("address,why", sorted(REFUSED.items()))
def test_disallowed_addresses_are_refused_with_their_reason(address: str, why: str) -> None:
    assert refusal(ipaddress.ip_address(address)) == why


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_pass(address: str) -> None:
    assert refusal(ipaddress.ip_address(address)) is None


@given(st.ip_addresses(v=4))
def test_an_ipv4_address_and_its_mapped_ipv6_form_are_judged_alike(
    ip: ipaddress.IPv4Address,
) -> None:
    mapped = ipaddress.IPv6Address(f"::ffff:{ip}")
    assert refusal(mapped) == refusal(ip)


@pytest.mark.parametrize(
    "url,message",
    [
        ("http://example.com/hook", "http:// URLs are refused — use https"),
        ("ftp://example.com/hook", "only https:// URLs"),
        ("https://user:pw@example.com/", "credentials in the URL are refused"),
        ("https://example.com/#frag", "URL fragments"),
        ("https:///nohost", "no host"),
        ("https://example.com:99999/", "does not parse"),
        ("https://2130706433/", "four decimal numbers"),
        ("https://127.1/", "four decimal numbers"),
        ("https://example.com/" + "a" * 400, "longer than 400"),
        ("https://exa mple.com/", "spaces"),
        ("", "Which URL?"),
    ],
)
def test_bad_urls_get_a_clear_error(url: str, message: str) -> None:
    with pytest.raises(WebhookRefused) as err:
        parse_url(url, allow_http=False)
    assert message in err.value.message


def test_http_is_accepted_only_when_allowed() -> None:
    assert parse_url("http://127.0.0.1:8080/x", allow_http=True).port == 8080
    assert parse_url("https://[::1]/x", allow_http=False).host == "::1"


def test_lists_hide_query_strings() -> None:
    assert mask("https://h.example/x?token=abc") == "https://h.example/x?…"
    assert mask("https://h.example/x") == "https://h.example/x"


def event(condition: str, value: float | None = 9.5) -> WebhookEvent:
    return WebhookEvent(
        "a1-0-w1", EventType.ALERT, 7, "LINK/USDT", condition, value, None, "binance", 0.0
    )


@given(st.text(max_size=6000), st.floats(allow_nan=True, allow_infinity=True))
def test_the_body_is_valid_json_of_at_most_4_kb(condition: str, value: float) -> None:
    body = event(condition, value).body()
    assert len(body) <= MAX_BODY_BYTES
    doc = json.loads(body)
    assert doc["event_id"] == "a1-0-w1" and doc["sent_at"] == "1970-01-01T00:00:00.000Z"
    assert condition.startswith(doc["condition"].rstrip("…"))


def test_the_payload_schema() -> None:
    doc = json.loads(event("above 9.5").body())
    assert doc == {
        "event_id": "a1-0-w1", "type": "alert", "alert_id": 7, "symbol": "LINK/USDT",
        "condition": "above 9.5", "value": 9.5, "bar_time": None, "exchange": "binance",
        "sent_at": "1970-01-01T00:00:00.000Z",
    }  # fmt: skip


def readme_verify(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """The README's receiver check, verbatim in spirit: ten lines."""
    timestamp = headers["X-Altbot-Timestamp"]
    if abs(time.time() - int(timestamp)) > 300:
        return False
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return hmac.compare_digest("sha256=" + mac.hexdigest(), headers["X-Altbot-Signature"])


def test_signed_headers_verify_and_a_changed_body_or_old_timestamp_does_not() -> None:
    body, now = event("above 9.5").body(), time.time()
    headers = signed_headers("s3cret", body, now)
    assert readme_verify("s3cret", headers, body)
    ts, sig = headers["X-Altbot-Timestamp"], headers["X-Altbot-Signature"]
    assert verify("s3cret", ts, sig, body, now)
    assert not verify("other", ts, sig, body, now)
    assert not verify("s3cret", ts, sig, body + b" ", now)
    assert not verify("s3cret", ts, sig, body, now + 301)
    assert sig == sign("s3cret", ts, body) and sig.startswith("sha256=")
