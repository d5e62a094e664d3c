"""Shared bench helpers: machine facts, percentiles, target checks, results.json merging, tables.

Each benchmark owns one section of bench/results.json; writing merges, so one
benchmark never erases another's numbers.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import platform
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

RESULTS_PATH = Path(__file__).with_name("results.json")


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine_facts(redis_info: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Where the numbers were measured (they mean little without this)."""
    facts: dict[str, Any] = {
        "cpu_count": os.cpu_count(),
        "cpu_model": cpu_model(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    if redis_info is not None:
        facts["redis_version"] = redis_info.get("redis_version")
        facts["redis_mode"] = redis_info.get("redis_mode")
    return facts


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty sample."""
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def check(
    value: float | None, *, at_most: float | None = None, at_least: float | None = None
) -> dict[str, Any]:
    """One target verdict as stored in results.json."""
    if at_most is not None:
        target, ok = f"<= {at_most:g}", value is not None and value <= at_most
    elif at_least is not None:
        target, ok = f">= {at_least:g}", value is not None and value >= at_least
    else:
        raise ValueError("a target needs at_most or at_least")
    return {"target": target, "value": value, "pass": ok}


def _load(path: Path) -> dict[str, Any]:
    if path.exists():
        try:
            loaded = json.loads(path.read_text(encoding="utf-8"))
            return loaded if isinstance(loaded, dict) else {}
        except json.JSONDecodeError:
            return {}
    return {}


def merge_section(
    name: str, section: Mapping[str, Any], path: Path = RESULTS_PATH
) -> dict[str, Any]:
    """Replace one section of the results file, keeping every other section."""
    data = _load(path)
    data[name] = dict(section)
    return _write(data, path)


def _write(data: dict[str, Any], path: Path) -> dict[str, Any]:
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return data


def merge_keys(
    name: str, values: Mapping[str, Any], path: Path = RESULTS_PATH
) -> dict[str, Any]:
    """Set some keys of a section shared by several benchmarks (e.g. `engine_cost`), keeping
    the others' keys; their `targets` dicts are merged the same way."""
    data: dict[str, Any] = {}
    if path.exists():
        with contextlib.suppress(json.JSONDecodeError):
            loaded = json.loads(path.read_text(encoding="utf-8"))
            data = loaded if isinstance(loaded, dict) else {}
    section = dict(data.get(name) or {})
    targets = {**section.get("targets", {}), **values.get("targets", {})}
    section.update({k: v for k, v in values.items() if k != "targets"})
    if targets:
        section["targets"] = targets
    return merge_section(name, section, path)


def target_rows(section: Mapping[str, Any], names: Sequence[str]) -> list[tuple[Any, ...]]:
    """(metric, value, target, pass) for each headline metric of a section."""
    targets = section["targets"]
    return [
        (name, section[name], targets.get(name, {}).get("target", ""),
         targets.get(name, {}).get("pass", ""))
        for name in names
    ]  # fmt: skip


def table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A plain aligned text table."""
    cells = [[str(h) for h in header], *[[fmt(c) for c in row] for row in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def fmt(value: Any) -> str:
    if isinstance(value, bool):
        return "PASS" if value else "FAIL"
    if isinstance(value, float):
        if value >= 1000:
            return f"{value:,.0f}"
        return f"{value:.3g}" if value < 10 else f"{value:.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    return "-" if value is None else str(value)
