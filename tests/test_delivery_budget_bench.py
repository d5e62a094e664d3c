"""The delivery benchmark writes its keys into a section another benchmark shares."""

from __future__ import annotations

import json
from pathlib import Path

from bench.delivery_budget_bench import merge_keys


def test_merge_keys_keeps_the_other_benchmarks_keys_of_the_section(tmp_path: Path) -> None:
    path = tmp_path / "results.json"
    path.write_text(json.dumps({"delivery": {"lone_alert_p99_ms": 90}, "engine": {"alerts": 1}}))
    merge_keys("delivery", {"replicas_429": 0}, path)
    data = json.loads(path.read_text())
    assert data == {
        "delivery": {"lone_alert_p99_ms": 90, "replicas_429": 0},
        "engine": {"alerts": 1},
    }
