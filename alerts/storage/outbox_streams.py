"""Stream housekeeping shared by the outbox classes: trimming and depth.

Acknowledged jobs stay in a stream until trimmed. A stream is cut below its oldest
pending job (XTRIM MINID); behind that job (one waiting out a retry, say), the
acknowledged jobs are deleted one by one (XDEL), a bounded sweep per pass, so no
single pending job holds trimming back.
"""

from __future__ import annotations

from typing import Any

from redis.exceptions import ResponseError

from alerts.storage.keys import OUTBOX_GROUP

SWEEP = 1000  # entries looked at behind the oldest pending job, per stream and pass


async def trim_stream(redis: Any, stream: str) -> int:
    """Drop the stream's acknowledged jobs; returns how many entries went."""
    groups = await redis.xinfo_groups(stream)
    group = next((g for g in groups if g["name"] == OUTBOX_GROUP), None)
    if group is None:
        return 0
    last = str(group["last-delivered-id"])
    pending = await redis.xpending(stream, OUTBOX_GROUP)
    if not pending["pending"]:
        ms, seq = last.split("-")
        return int(await redis.xtrim(stream, minid=f"{ms}-{int(seq) + 1}", approximate=False))
    removed = int(await redis.xtrim(stream, minid=pending["min"], approximate=False))
    # Only entries already delivered to the group (<= last) can be acknowledged ones.
    ids = [job_id for job_id, _ in await redis.xrange(stream, pending["min"], last, count=SWEEP)]
    if len(ids) > 1:
        rows = await redis.xpending_range(stream, OUTBOX_GROUP, ids[0], ids[-1], len(ids))
        still = {str(row["message_id"]) for row in rows}
        acked = [job_id for job_id in ids if job_id not in still]
        if acked:
            removed += int(await redis.xdel(stream, *acked))
    return removed


async def stream_depth(redis: Any, stream: str) -> tuple[int, int]:
    """(jobs in the stream, jobs read but not acknowledged)."""
    length = int(await redis.xlen(stream))
    try:
        pending = await redis.xpending(stream, OUTBOX_GROUP)
    except ResponseError:  # no group yet
        return length, 0
    return length, int(pending["pending"])
