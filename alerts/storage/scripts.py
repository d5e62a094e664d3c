"""Loading the Lua scripts, and the one place their findings about bad data are reported.

Every script gets a generated header with the record layout from `alerts/model.py`
(`FIELDS`), then `common.lua`, then its own text, so Python and Lua cannot disagree
on the layout. Scripts check key types and records before their first write: a
wrong key type stops a script with a `BADKEY <keys>` error (nothing changed), a
bad record is skipped and its id returned. `BadRecords` logs each once and counts
it (`altbot_bad_records_total`, wired by the composition root).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from importlib import resources

from redis.exceptions import ResponseError

from alerts.domain.alert import FIELDS, REQUIRED_FIELDS, AlertKind
from alerts.domain.jobs import JobField, JobKind

log = logging.getLogger(__name__)
BADKEY = "BADKEY"


def lua_header() -> str:
    """`F` (field name -> 1-based position), `REQUIRED`, `KINDS`, and the job codec's field
    names `J` and kinds `JOB` (alerts/domain/jobs.py), so scripts write jobs as it reads them."""
    fields = ", ".join(f"{name} = {i}" for i, name in enumerate(FIELDS, start=1))
    kinds = ", ".join(f"['{kind.value}'] = true" for kind in AlertKind)
    job_fields = ", ".join(f"{f.name.lower()} = '{f.value}'" for f in JobField)
    job_kinds = ", ".join(f"{k.name.lower()} = '{k.value}'" for k in JobKind)
    return (
        f"local F = {{{fields}}}\nlocal REQUIRED = {REQUIRED_FIELDS}\nlocal KINDS = {{{kinds}}}\n"
        f"local KIND_LEGS = '{AlertKind.CONDITIONS.value}'\n"
        f"local J = {{{job_fields}}}\nlocal JOB = {{{job_kinds}}}\n"
    )


def _lua_file(name: str) -> str:
    return (resources.files("alerts.storage") / "lua" / f"{name}.lua").read_text(encoding="utf-8")


def lua_prelude() -> str:
    """What every script starts with: the generated header and common.lua's helpers."""
    return f"{lua_header()}{_lua_file('common')}\n"


def load_lua(name: str) -> str:
    """Script text from alerts/storage/lua, after the prelude."""
    return lua_prelude() + _lua_file(name)


def bad_keys(exc: ResponseError) -> list[str] | None:
    """The keys a script refused for their type, or None when `exc` is another error."""
    text = str(exc)
    at = text.find(BADKEY + " ")
    if at < 0:
        return None
    return text[at + len(BADKEY) + 1 :].split(" ;", 1)[0].split()  # Redis appends where


class BadRecords:
    """Skipped records and refused keys: each logged once (with its id) and counted."""

    def __init__(self, on_new: Callable[[int], None] | None = None) -> None:
        self.seen: set[tuple[str, str]] = set()
        self.on_new = on_new  # e.g. the `altbot_bad_records_total` counter

    @property
    def total(self) -> int:
        return len(self.seen)

    def report(self, where: str, what: str, items: Iterable[object]) -> int:
        """Report records (`what`="record") or keys (`what`="key"); returns how many were new."""
        new = 0
        for item in items:
            mark = (what, str(item))
            if mark in self.seen:
                continue
            self.seen.add(mark)
            new += 1
            log.warning("%s: skipped bad %s %s (fix or delete it in Redis)", where, what, item)
        if new and self.on_new is not None:
            self.on_new(new)
        return new

    def check(self, where: str, exc: ResponseError) -> None:
        """Report a BADKEY error and re-raise anything else."""
        keys = bad_keys(exc)
        if keys is None:
            raise exc
        self.report(where, "key", keys)
