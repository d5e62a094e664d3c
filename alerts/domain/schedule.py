"""A digest schedule: daily or weekly at a wall-clock time in the chat's timezone.

Next runs are computed with zoneinfo, so 08:30 stays 08:30 local across
daylight-saving changes (see `Schedule.next_run`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


@dataclass(frozen=True, slots=True)
class Schedule:
    """Daily (`weekday` None) or weekly at `hour:minute` wall-clock time in `tz`."""

    hour: int
    minute: int
    tz: str = "UTC"
    weekday: int | None = None  # 0 = Monday

    def pack(self) -> str:
        day = "*" if self.weekday is None else WEEKDAYS[self.weekday]
        return f"{day}|{self.hour:02d}:{self.minute:02d}|{self.tz}"

    @classmethod
    def unpack(cls, packed: str) -> Schedule:
        day, hhmm, tz = packed.split("|")
        hour, minute = (int(x) for x in hhmm.split(":"))
        return cls(hour, minute, tz, None if day == "*" else WEEKDAYS.index(day))

    @property
    def weekly(self) -> bool:
        return self.weekday is not None

    def describe(self) -> str:
        at = f"{self.hour:02d}:{self.minute:02d} {self.tz}"
        if self.weekday is None:
            return f"daily at {at}"
        return f"weekly on {WEEKDAY_NAMES[self.weekday]} at {at}"

    def next_run(self, after: float) -> int:
        """The first run strictly after `after` (unix seconds), as unix seconds.

        A wall-clock time skipped by a spring-forward change runs when the clocks
        have jumped (02:30 → 03:30); a repeated one (autumn) runs at its first
        occurrence only.
        """
        tz = ZoneInfo(self.tz)
        start = datetime.fromtimestamp(after, tz).date()
        for offset in range(-1, 9):
            day = start + timedelta(days=offset)
            if self.weekday is not None and day.weekday() != self.weekday:
                continue
            at = int(datetime.combine(day, time(self.hour, self.minute), tzinfo=tz).timestamp())
            if at > after:
                return at
        raise AssertionError("a daily or weekly time recurs within 8 days")  # pragma: no cover
