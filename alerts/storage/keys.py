"""The one place that names every Redis key altbot uses.

All keys start with a configurable prefix (default `altbot`), so tests and
several deployments can share one Redis. Types and lifetimes:

| key                               | type   | what / TTL                                          |
|-----------------------------------|--------|-----------------------------------------------------|
| P:snap:{SYM}                      | hash   | latest accepted ticker of a market (no TTL) |
| P:feed:NAME                       | hash   | feed health: last_ok, last_error, errors (no TTL) |
|                                   |        | (NAME: exchange, index, mcap)                     |
| P:mcap                            | hash   | BASE -> JSON market cap {id, usd, rank, at} as last |
|                                   |        | fetched from CoinGecko (no TTL; age judged on read) |
| P:mcap:ids                        | hash   | BASE -> CoinGecko coin id chosen once (no TTL)    |
| P:r2k                             | string | JSON R2K daily closes + fetch time (no TTL) |
| P:daily:{SYM}                     | string | JSON daily candles, TTL 6 h (history cache) |
| P:tb:{SYM}:CHUNK                  | hash   | price history, 10 s buckets `open high low close` |
|                                   |        | (field: bucket in its hour CHUNK), TTL 25 h after |
|                                   |        | the hour; bound: 26 chunks x 360 buckets          |
| P:last:{SYM}                      | hash   | last *evaluated* value per series + its tick ts |
|                                   |        | (`move:ts`: the last tick of the move claim)      |
| P:seq                             | string | alert id counter |
| P:a:N                             | hash   | alert records, bucket N = id >> 7, field id |
| P:ix:{SYM}:SERIES:DIR             | zset   | armed alerts by level (DIR up/down), member id |
| P:rearm:{SYM}:SERIES:DIR          | zset   | fired repeat alerts waiting for hysteresis |
| P:mx:{SYM}:WINDOW                 | zset   | armed move alerts of one window by size (%) |
| P:mr:{SYM}:WINDOW                 | zset   | fired/paused move alerts waiting for calm |
| P:lx:{SYM}:SERIES                 | zset   | legs of multi-condition alerts on one series, by |
|                                   |        | level; member `ID:N:u|d` (leg N, above/below)    |
| P:lg:ID                           | hash   | a multi-condition alert's legs: N -> 1/0 (holds), |
|                                   |        | zN / mN -> the leg's zset and member (cleanup)    |
| P:bs:{SYM}                        | hash   | bar series keys (`rsi14@1h`) alerts use;          |
|                                   |        | the bar feed computes exactly these each bar close |
| P:bc:{SYM}                        | hash   | bar cursor: timeframe (`1h`) -> close time (unix s) |
|                                   |        | of the last bar whose values reached the listeners; |
|                                   |        | bars closed after it are replayed after a restart |
| P:active                          | string | number of stored alerts (kept by the scripts) |
| P:cs:CHAT                         | hash   | symbol -> how many of the chat's alerts use it |
| P:schema                          | string | data layout version (alerts/storage/migrate.py) |
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
| P:chart:NAME                      | string | base64 PNG shared by every chat, TTL 60 s |
| P:watch:CHAT                      | set    | a chat's watchlist (symbols beyond the defaults) |
| P:watchers                        | hash   | symbol -> how many chats watch it (reference count) |
| P:tracked                         | set    | extra symbols polled (watched, or with alerts) |
| P:digest:due                      | zset   | chats by next digest run (unix seconds) |
| P:digest:cfg                      | hash   | chat -> digest schedule (weekday, HH:MM, timezone) |
| P:btn:CHAT:NONCE                  | string | one-shot button claim -> what it made, TTL 1 day |
| P:rearmed:ID                      | string | the alert fired ID was re-armed as, TTL 30 days |
| P:chartrate:CHAT                  | string | per-chat chart request counter, TTL 60 s |
| P:budget:{TOK}:all[:paid]         | string | a token's overall send budget (GCRA), TTL ≈ 1 s |
| P:budget:{TOK}:chat:CHAT          | string | a token's send spacing to one chat, TTL ≤ 3.1 s |
| P:budget:{TOK}:pause              | string | after a 429: every replica waits out its PTTL |
| P:wh:CHAT                         | hash   | a chat's webhooks (at most 3): field ID -> JSON |
|                                   |        | {url, secret, signals, created}; `ID:fail` the   |
|                                   |        | consecutive failures, `ID:off` why it is disabled |
| P:whseq                           | string | webhook id counter (ids are never reused) |
| P:whf:JOB                         | string | webhook fan-out mark of an outbox job, TTL 7 days |
| P:outbox:webhook                  | stream | webhook jobs; its own `delivery` group (group |
|                                   |        | names are per stream), read by the webhook worker |
| P:whurl:HASH                      | string | the one request in flight to a webhook URL (any |
|                                   |        | replica): holder token, PX WEBHOOK_URL_LEASE_MS   |
| P:whretry                         | zset   | webhook jobs waiting out their backoff: JSON |
|                                   |        | fields by due time (survives restarts) |

TOK is `token_id(token)`, a hash: a bot token never appears in a key name.

Legacy keys, read once by the start-up migration and then deleted: `P:ticks:{SYM}`
(every tick for 25 h), `P:mv:{SYM}:WINDOW:PCT` and `P:mvg:{SYM}` (move groups).

Tick history bound: whatever the tick rate, a symbol holds at most HISTORY_CHUNKS
(26) hashes of CHUNK_BUCKETS (360) `open high low close` fields (listpack encoded):
about 0.3 MB with exchange-style prices, under 0.8 MB with full 17-digit floats
(measured: bench section `engine_cost`, `tick_history_bytes_per_symbol`).

Redis Cluster: every per-symbol key carries the hash tag `{SYM}` so a symbol's
indexes, last values and ticks share one slot. The claim script also touches the
alert record buckets, the chat sets and the outbox; on a Cluster deploy, run with
one prefix hash tag instead (e.g. `KEY_PREFIX={altbot}`) so all keys share a slot.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from alerts.domain.alert import Direction, Series
from alerts.domain.moves import WINDOWS

BUCKET_SHIFT = 7  # 128 records per hash keeps the listpack encoding (compact)
RECORDS_PER_BUCKET = 1 << BUCKET_SHIFT  # passed to the Lua scripts (ARGV), never restated
TICK_HISTORY_SECONDS = 25 * 3600
BUCKET_SECONDS = 10  # price history resolution (and of move windows)
CHUNK_BUCKETS = 360  # one hour of buckets per hash: under hash-max-listpack-entries (512)
HISTORY_CHUNKS = TICK_HISTORY_SECONDS // (BUCKET_SECONDS * CHUNK_BUCKETS) + 1
SCHEMA_VERSION = "14"
DAILY_CACHE_SECONDS = 6 * 3600
HISTORY_TTL_SECONDS = 30 * 86400
SENT_MARK_TTL_SECONDS = 7 * 86400
SIGNAL_DEDUP_TTL_SECONDS = 400 * 86400
BACKTEST_HISTORY_SECONDS = 24 * 3600
CHART_CACHE_SECONDS = 60
COMMAND_WINDOW_SECONDS = 60  # the per-chat command budget counts per minute
CHART_RATE_WINDOW_SECONDS = 60
BUTTON_NONCE_TTL_SECONDS = 86400  # outlives Telegram's redelivery (it keeps updates 24 h)
BUTTON_PENDING_SECONDS = 30  # a claim whose action died half way frees itself after this
OUTBOX_GROUP = "delivery"
DEAD_LETTER_TTL_SECONDS = 7 * 86400
DEAD_LETTER_MAXLEN = 50_000

MCAP_FEED = "mcap"  # the market-cap feed's name in P:feed:NAME
WEBHOOK_FANOUT_TTL_SECONDS = SENT_MARK_TTL_SECONDS  # outlives any re-read of the job
WEBHOOK_URL_LEASE_MS = 10_000  # > the 3 s send timeout: a dead holder frees the URL after it

BUDGET_OVERALL = "all"
BUDGET_OVERALL_PAID = "all:paid"  # paid broadcasts (TELEGRAM_PAID_BROADCAST) spend this one
BUDGET_PAUSE = "pause"


def token_id(token: str) -> str:
    """A short hash naming a bot token in keys (the token itself is a secret)."""
    return hashlib.sha256(token.encode()).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class Keys:
    """Key names under one prefix."""

    prefix: str = "altbot"

    def snapshot(self, symbol: str) -> str:
        return f"{self.prefix}:snap:{{{symbol}}}"

    def feed(self, name: str) -> str:
        return f"{self.prefix}:feed:{name}"

    @property
    def market_caps(self) -> str:
        return f"{self.prefix}:mcap"

    @property
    def coin_ids(self) -> str:
        """Ticker -> CoinGecko id, resolved once so a ticker collision never flips it."""
        return f"{self.prefix}:mcap:ids"

    @property
    def r2k(self) -> str:
        return f"{self.prefix}:r2k"

    def daily(self, symbol: str) -> str:
        return f"{self.prefix}:daily:{{{symbol}}}"

    def ticks(self, symbol: str) -> str:
        """Legacy: every tick for 25 h (replaced by `tick_chunk`; migrated away)."""
        return f"{self.prefix}:ticks:{{{symbol}}}"

    def tick_chunk(self, symbol: str, chunk: int) -> str:
        return f"{self.prefix}:tb:{{{symbol}}}:{chunk}"

    def move_index(self, symbol: str, window: int) -> str:
        return f"{self.prefix}:mx:{{{symbol}}}:{window}"

    def bar_series(self, symbol: str) -> str:
        """Bar series in use on a symbol (`alerts/domain/indicators.py` keys) -> users."""
        return f"{self.prefix}:bs:{{{symbol}}}"

    def bar_cursor(self, symbol: str) -> str:
        return f"{self.prefix}:bc:{{{symbol}}}"

    def move_rearm(self, symbol: str, window: int) -> str:
        return f"{self.prefix}:mr:{{{symbol}}}:{window}"

    @property
    def active(self) -> str:
        return f"{self.prefix}:active"

    def chat_symbols(self, chat: str) -> str:
        return f"{self.prefix}:cs:{chat}"

    @property
    def chat_symbols_prefix(self) -> str:
        return f"{self.prefix}:cs:"

    @property
    def schema(self) -> str:
        return f"{self.prefix}:schema"

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

    def legs(self, symbol: str, series: str) -> str:
        """Legs of multi-condition alerts on one series (every leg, true or not)."""
        return f"{self.prefix}:lx:{{{symbol}}}:{series}"

    @property
    def leg_state_prefix(self) -> str:
        """`P:lg:` + alert id: one multi-condition alert's leg truths (given to the scripts)."""
        return f"{self.prefix}:lg:"

    def leg_state(self, alert_id: int) -> str:
        return f"{self.leg_state_prefix}{alert_id}"

    def rearm(self, symbol: str, series: str, direction: str) -> str:
        return f"{self.prefix}:rearm:{{{symbol}}}:{series}:{direction}"

    def move_group(self, symbol: str, window: int, pct: float) -> str:
        """Legacy move group (one per window and size); migrated into `move_index`."""
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

    def alert_zsets(self, symbol: str) -> list[str]:
        """Every sorted set an alert of `symbol` can be in (armed or waiting)."""
        crossing = [
            make(symbol, series, direction)
            for make in (self.index, self.rearm)
            for series in (Series.PRICE, Series.VOLUME)
            for direction in (Direction.UP, Direction.DOWN)
        ]
        moves = [make(symbol, w) for w in WINDOWS for make in (self.move_index, self.move_rearm)]
        return crossing + moves

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

    def button(self, chat: str, nonce: str) -> str:
        """Claim of a one-shot button (nonce in its callback data)."""
        return f"{self.prefix}:btn:{chat}:{nonce}"

    def rearmed(self, alert_id: int) -> str:
        """Which alert a fired once-alert was re-armed as (lives as long as its history)."""
        return f"{self.prefix}:rearmed:{alert_id}"

    def chart_rate(self, chat: str) -> str:
        return f"{self.prefix}:chartrate:{chat}"

    def webhooks(self, chat: str) -> str:
        return f"{self.prefix}:wh:{chat}"

    @property
    def webhooks_prefix(self) -> str:
        """`webhooks` without the chat (the fan-out script appends chats)."""
        return f"{self.prefix}:wh:"

    @property
    def webhook_seq(self) -> str:
        return f"{self.prefix}:whseq"

    @property
    def webhook_fanout_prefix(self) -> str:
        """Fan-out marks: the script appends the outbox job's mark id."""
        return f"{self.prefix}:whf:"

    @property
    def outbox_webhook(self) -> str:
        return f"{self.prefix}:outbox:webhook"

    @property
    def webhook_retry(self) -> str:
        return f"{self.prefix}:whretry"

    def webhook_url_lease(self, url: str) -> str:
        """Hashed: a URL may carry a receiver's token in its query string."""
        return f"{self.prefix}:whurl:{hashlib.sha256(url.encode()).hexdigest()[:24]}"

    def budget(self, token_hash: str, name: str) -> str:
        """A send-budget key of one bot token (`token_id`); `{TOK}` keeps them in one slot."""
        return f"{self.prefix}:budget:{{{token_hash}}}:{name}"

    def budget_chat(self, token_hash: str, chat: str) -> str:
        return self.budget(token_hash, f"chat:{chat}")

    def pattern(self) -> str:
        """Glob matching every key under this prefix (tests clean up with it)."""
        return f"{self.prefix}:*"
