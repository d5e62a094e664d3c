"""Which Redis failures mean "storage is unavailable right now" rather than a bug.

Redis down or unreachable, read-only (a replica, or a failover in progress), out of
memory under `noeviction`, still loading its data, or refusing writes after a failed
save: users get a short "try again in a minute", and the outage is logged once.
"""

from __future__ import annotations

from redis.exceptions import (
    BusyLoadingError,
    ConnectionError,
    MasterDownError,
    OutOfMemoryError,
    ReadOnlyError,
    ResponseError,
    TimeoutError,
)

OUTAGES = (
    BusyLoadingError,
    ConnectionError,
    MasterDownError,
    OutOfMemoryError,
    ReadOnlyError,
    TimeoutError,
)
OUTAGE_REPLIES = ("OOM ", "MISCONF ", "READONLY ", "NOREPLICAS ", "MASTERDOWN ", "LOADING ")


def is_storage_outage(exc: BaseException) -> bool:
    """True for errors that say Redis cannot serve us now (inside scripts too)."""
    if isinstance(exc, OUTAGES):
        return True
    # A write refused inside a Lua script comes back as a plain error reply.
    return isinstance(exc, ResponseError) and any(m in str(exc) for m in OUTAGE_REPLIES)
