"""The one place that names every Redis key altbot uses.

All keys start with a configurable prefix (default `altbot`), so tests and
several deployments can share one Redis. Types and lifetimes:

| key                               | type   | what / TTL                                          |
|-----------------------------------|--------|-----------------------------------------------------|
| P:snap:{SYM}                      | hash   | latest accepted ticker of a market (no TTL) |
| P:feed:NAME                       | hash   | feed health: last_ok, last_error, errors (no TTL) |
| P:r2k                             | string | JSON R2K daily closes + fetch time (no TTL) |
| P:daily:{SYM}                     | string | JSON daily candles, TTL 6 h (history cache) |
| P:ticks:{SYM}                     | zset   | recent ticks `ts:price` scored by ts, kept 25 h |
| P:last:{SYM}                      | hash   | last *evaluated* value per series + its tick ts |
| P:seq                             | string | alert id counter |
| P:a:N                             | hash   | alert records, bucket N = id >> 7, field id |
| P:ix:{SYM}:SERIES:DIR             | zset   | armed alerts by level (DIR up/down), member id |
| P:rearm:{SYM}:SERIES:DIR          | zset   | fired repeat alerts waiting for hysteresis |
| P:mv:{SYM}:WINDOW:PCT             | set    | move alerts of one (window, pct) group |
| P:mvg:{SYM}                       | set    | the move groups of a symbol |
| P:exp                             | zset   | alert ids by expiry time |
| P:c:CHAT                          | set    | a chat's alert ids (intset: compact) |
| P:h:ID                            | string | a fired once-alert's record, TTL 30 days |
| P:outbox                          | stream | personal jobs (fired, expired), group `delivery` |
| P:outbox:digest                   | stream | digest jobs, same group, sent after personal ones |
| P:outbox:broadcast                | stream | signal jobs, same group, sent after digests |
| P:dead                            | stream | dead letters: job + reason, MAXLEN ~, kept 7 days |
| P:sent:JOB                        | string | idempotency mark of a delivered job, TTL 7 days |
| P:paused:CHAT                     | string | deliveries paused (403, no rights); value = reason |
| P:sub:CHAT / P:subs:NAME          | set    | a chat's signal subscriptions / subscribers of one |
| P:sig:EVENT                       | string | signal dedup mark (SET NX), TTL 400 days |
| P:sigstate                        | hash   | last seen regime label / altseason zone (no TTL) |
| P:cmd:CHAT                        | string | per-chat command rate counter, TTL 60 s |
| P:users                           | set    | chat keys that ever sent a command (/stats) |
| P:stats                           | hash   | counters for /stats: `fired:YYYY-MM-DD` (UTC) |
| P:lock:leader                     | string | leader lease (poller + engine), TTL a few seconds |
| P:hist:{SYM}                      | string | JSON long daily closes for the backtest, TTL 24 h |
| P:chart:NAME                      | string | base64 PNG of a rendered chart, TTL 60 s |
| P:watch:CHAT                      | set    | a chat's watchlist (symbols beyond the defaults) |
| P:watchers                        | hash   | symbol -> how many chats watch it (reference count) |
| P:tracked                         | set    | extra symbols polled (watched, or with alerts) |
| P:digest:due                      | zset   | chats by next digest run (unix seconds) |
| P:digest:cfg                      | hash   | chat -> digest schedule (weekday, HH:MM, timezone) |

Redis Cluster: every per-symbol key carries the hash tag `{SYM}` so a symbol's
indexes, last values and ticks share one slot. The claim script also touches the
alert record buckets, the chat sets and the outbox; on a Cluster deploy, run with
one prefix hash tag instead (e.g. `KEY_PREFIX={altbot}`) so all keys share a slot.
"""

from __future__ import annotations

from dataclasses import dataclass

BUCKET_SHIFT = 7  # 128 records per hash keeps the listpack encoding (compact)
TICK_HISTORY_SECONDS = 25 * 3600
DAILY_CACHE_SECONDS = 6 * 3600
HISTORY_TTL_SECONDS = 30 * 86400
SENT_MARK_TTL_SECONDS = 7 * 86400
SIGNAL_DEDUP_TTL_SECONDS = 400 * 86400
BACKTEST_HISTORY_SECONDS = 24 * 3600
CHART_CACHE_SECONDS = 60
OUTBOX_GROUP = "delivery"
DEAD_LETTER_TTL_SECONDS = 7 * 86400
DEAD_LETTER_MAXLEN = 50_000

SERIES_PRICE = "price"
SERIES_VOLUME = "volx"
UP = "up"
DOWN = "down"


@dataclass(frozen=True, slots=True)
class Keys:
    """Key names under one prefix."""

    prefix: str = "altbot"

    def snapshot(self, symbol: str) -> str:
        return f"{self.prefix}:snap:{{{symbol}}}"

    def feed(self, name: str) -> str:
        return f"{self.prefix}:feed:{name}"

    @property
    def r2k(self) -> str:
        return f"{self.prefix}:r2k"

    def daily(self, symbol: str) -> str:
        return f"{self.prefix}:daily:{{{symbol}}}"

    def ticks(self, symbol: str) -> str:
        return f"{self.prefix}:ticks:{{{symbol}}}"

    def last(self, symbol: str) -> str:
        return f"{self.prefix}:last:{{{symbol}}}"

    @property
    def seq(self) -> str:
        return f"{self.prefix}:seq"

    def bucket(self, alert_id: int) -> str:
        return f"{self.prefix}:a:{alert_id >> BUCKET_SHIFT}"

    @property
    def bucket_prefix(self) -> str:
        """Scripts build bucket names themselves from this prefix."""
        return f"{self.prefix}:a:"

    def index(self, symbol: str, series: str, direction: str) -> str:
        return f"{self.prefix}:ix:{{{symbol}}}:{series}:{direction}"

    def rearm(self, symbol: str, series: str, direction: str) -> str:
        return f"{self.prefix}:rearm:{{{symbol}}}:{series}:{direction}"

    def move_group(self, symbol: str, window: int, pct: float) -> str:
        return f"{self.prefix}:mv:{{{symbol}}}:{window}:{pct:g}"

    def move_groups(self, symbol: str) -> str:
        return f"{self.prefix}:mvg:{{{symbol}}}"

    @property
    def expiry(self) -> str:
        return f"{self.prefix}:exp"

    def chat(self, chat: str) -> str:
        return f"{self.prefix}:c:{chat}"

    @property
    def chat_prefix(self) -> str:
        return f"{self.prefix}:c:"

    def history(self, alert_id: int) -> str:
        return f"{self.prefix}:h:{alert_id}"

    @property
    def history_prefix(self) -> str:
        return f"{self.prefix}:h:"

    @property
    def outbox(self) -> str:
        return f"{self.prefix}:outbox"

    @property
    def outbox_digest(self) -> str:
        return f"{self.prefix}:outbox:digest"

    @property
    def outbox_broadcast(self) -> str:
        return f"{self.prefix}:outbox:broadcast"

    @property
    def dead_letters(self) -> str:
        return f"{self.prefix}:dead"

    def sent(self, job_id: str) -> str:
        return f"{self.prefix}:sent:{job_id}"

    def paused(self, chat: str) -> str:
        return f"{self.prefix}:paused:{chat}"

    def subscriptions(self, chat: str) -> str:
        return f"{self.prefix}:sub:{chat}"

    def subscribers(self, name: str) -> str:
        return f"{self.prefix}:subs:{name}"

    @property
    def subscribers_prefix(self) -> str:
        """`subscribers` without the name (the migration script appends names)."""
        return f"{self.prefix}:subs:"

    def signal_mark(self, event: str) -> str:
        return f"{self.prefix}:sig:{event}"

    @property
    def signal_state(self) -> str:
        """What the signal detector saw last (regime label, altseason zone)."""
        return f"{self.prefix}:sigstate"

    def command_rate(self, chat: str) -> str:
        return f"{self.prefix}:cmd:{chat}"

    def closes(self, name: str) -> str:
        """Long daily closes of a market (or `R2K`) cached for the backtest."""
        return f"{self.prefix}:hist:{{{name}}}"

    def chart(self, name: str) -> str:
        return f"{self.prefix}:chart:{name}"

    @property
    def leader(self) -> str:
        return f"{self.prefix}:lock:leader"

    @property
    def stats(self) -> str:
        return f"{self.prefix}:stats"

    @property
    def users(self) -> str:
        return f"{self.prefix}:users"

    def move_group_prefix(self, symbol: str) -> str:
        """`move_group` without the `WINDOW:PCT` tail (scripts append a registry member)."""
        return f"{self.prefix}:mv:{{{symbol}}}:"

    def watchlist(self, chat: str) -> str:
        return f"{self.prefix}:watch:{chat}"

    @property
    def watchers(self) -> str:
        return f"{self.prefix}:watchers"

    @property
    def tracked(self) -> str:
        """Symbols polled on top of the defaults; replicas read it every poll."""
        return f"{self.prefix}:tracked"

    @property
    def digest_due(self) -> str:
        return f"{self.prefix}:digest:due"

    @property
    def digest_config(self) -> str:
        return f"{self.prefix}:digest:cfg"

    def pattern(self) -> str:
        """Glob matching every key under this prefix (tests clean up with it)."""
        return f"{self.prefix}:*"
