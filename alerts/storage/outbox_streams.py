"""Stream housekeeping shared by the outbox classes: trimming and depth.

Acknowledged jobs stay in a stream until trimmed; a stream is cut below its oldest
pending job (XTRIM MINID). Jobs are pending only while in flight or waiting out a
bounded retry (then dead-lettered), so no job holds trimming back for long.
"""

from __future__ import annotations

from typing import Any

from redis.exceptions import ResponseError

from alerts.keys import OUTBOX_GROUP


async def trim_stream(redis: Any, stream: str) -> int:
    """Drop the stream's acknowledged jobs; returns how many entries went."""
    pending = await redis.xpending(stream, OUTBOX_GROUP)
    if pending["pending"]:
        floor = pending["min"]
    else:
        groups = await redis.xinfo_groups(stream)
        group = next((g for g in groups if g["name"] == OUTBOX_GROUP), None)
        if group is None:
            return 0
        ms, seq = str(group["last-delivered-id"]).split("-")
        floor = f"{ms}-{int(seq) + 1}"
    return int(await redis.xtrim(stream, minid=floor, approximate=False))


async def stream_depth(redis: Any, stream: str) -> tuple[int, int]:
    """(jobs in the stream, jobs read but not acknowledged)."""
    length = int(await redis.xlen(stream))
    try:
        pending = await redis.xpending(stream, OUTBOX_GROUP)
    except ResponseError:  # no group yet
        return length, 0
    return length, int(pending["pending"])
