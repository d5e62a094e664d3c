"""Window extremes (pure): deques fed tick by tick, and windows cut from stored rows,
agree with a naive min/max over the window's buckets."""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from alerts.domain.moves import MoveWindow, build_windows, move_pct

steps = st.lists(
    st.tuples(st.integers(min_value=0, max_value=40), st.integers(min_value=1, max_value=50)),
    min_size=1,
    max_size=60,
)
SPANS = {"short": 3, "mid": 10, "long": 30}


def naive(ticks: list[tuple[int, float]], span: int, price: float) -> float:
    last = ticks[-1][0]
    inside = [p for b, p in ticks if b >= last - span + 1]
    return move_pct(min(inside), max(inside), price)


@given(steps)
def test_deques_and_rebuilt_windows_match_a_naive_scan(path: list[tuple[int, int]]) -> None:
    buckets = list(itertools.accumulate(gap for gap, _ in path))
    ticks = [(b, p / 4) for b, (_, p) in zip(buckets, path, strict=True)]
    live = {name: MoveWindow(span) for name, span in SPANS.items()}
    for n, (bucket, price) in enumerate(ticks):
        for window in live.values():
            window.push(bucket, price, price)
        rows: dict[int, tuple[float, float]] = {}
        for b, p in ticks[: n + 1]:
            low, high = rows.get(b, (p, p))
            rows[b] = (min(low, p), max(high, p))
        rebuilt = build_windows(
            [(b, low, high) for b, (low, high) in sorted(rows.items())], SPANS, bucket
        )
        for name, span in SPANS.items():
            expected = naive(ticks[: n + 1], span, price)
            assert live[name].move(price) == expected
            assert rebuilt[name].move(price) == expected
