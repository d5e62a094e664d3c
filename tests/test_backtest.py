"""The backtest on hand-built series whose answers are known in advance."""

from __future__ import annotations

import json
import random

import pytest

from alerts.domain.backtest import (
    DAY,
    MIN_EVENTS,
    TOO_FEW,
    History,
    basket_index,
    breakouts,
    record_highs,
    run_backtest,
    summarize,
)
from alerts.domain.market import DailyClose

T0 = 1_600_041_600  # 2020-09-14 00:00 UTC, a Monday


def rows(closes: list[float], start: int = T0) -> list[DailyClose]:
    return [DailyClose(start + i * DAY, c) for i, c in enumerate(closes)]


def at(day: int) -> int:
    return T0 + day * DAY


# ---- breakouts -----------------------------------------------------------------------------


def test_record_highs_are_strictly_above_every_earlier_close() -> None:
    series = rows([100, 101, 101, 99, 102, 102.0])
    assert record_highs(series) == [1, 4]


def test_breakout_needs_at_least_90_rows_without_a_record() -> None:
    closes = [100.0, 101.0] + [95.0] * 90 + [102.0]  # record at 1, then 90 quiet rows
    closes += [103.0] + [95.0] * 89 + [104.0]  # 103 follows at once; 104 after only 89 rows
    series = rows(closes)
    assert record_highs(series) == [1, 92, 93, 183]
    assert breakouts(series) == [series[92].ts]


def test_the_first_row_is_the_starting_mark() -> None:
    assert breakouts(rows([100.0] + [99.0] * 90 + [101.0])) == [at(91)]
    assert breakouts(rows([100.0] + [99.0] * 89 + [101.0])) == []


# ---- events, base rate, evidence ---------------------------------------------------------


def event_history() -> History:
    """R2K breaks out before the crypto data (day -99) and inside it (day 100).

    BTC and coin A step up right after day 100 (+10%, +50%), B stays flat, C only
    lists on day 200, so the basket after the breakout is (50% + 0%) / 2 = +25%.
    """
    r2k = [900.0] + [890.0] * 200 + [950.0] + [940.0] * 198 + [1020.0] + [1000.0] * 299
    days = 400
    btc = [100.0 if d <= 100 else 110.0 for d in range(days)]
    coin_a = [10.0 if d <= 100 else 15.0 for d in range(days)]
    coin_b = [20.0] * days
    coin_c = [5.0] * 200
    return History(
        rows(r2k, at(-300)),
        rows(btc),
        {"A": rows(coin_a), "B": rows(coin_b), "C": rows(coin_c, at(200)), "D": []},
    )


def test_breakout_events_and_forward_returns() -> None:
    result = run_backtest(event_history())
    assert result.breakouts == [at(-99), at(100)]
    assert [e.ts for e in result.events] == [at(100)]
    event = result.events[0]
    assert event.r2k_close == 1020.0
    assert event.btc == pytest.approx({30: 0.10, 90: 0.10, 180: 0.10})
    assert event.basket == pytest.approx({30: 0.25, 90: 0.25, 180: 0.25})
    assert event.excess(90) == pytest.approx(0.15)
    h90 = result.horizon(90)
    assert h90 is not None
    assert h90.events.excess.n == 1 and h90.events.excess.hit_rate == 1.0
    assert result.missing == ["D"]


@pytest.mark.parametrize("h", [30, 90, 180])
def test_base_rate_counts_every_day_with_a_forward_close(h: int) -> None:
    """Only windows over the step after day 100 gain: days max(0, 101 - h)..100, of 400 - h."""
    horizon = run_backtest(event_history()).horizon(h)
    assert horizon is not None
    base = horizon.base
    n, gains = 400 - h, min(h, 101)
    assert base.btc.n == n
    assert base.btc.hit_rate == pytest.approx(gains / n)
    assert base.btc.mean == pytest.approx(0.10 * gains / n)
    assert base.btc.median == (0.0 if gains < n / 2 else 0.10)
    assert base.basket.mean == pytest.approx(0.25 * gains / n)
    assert base.excess.mean == pytest.approx(0.15 * gains / n)


def test_summary_mean_median_and_hit_rate() -> None:
    s = summarize([0.1, -0.2, 0.3, 0.0])
    assert (s.n, s.hit_rate) == (4, 0.5)  # zero is not a hit
    assert s.mean == pytest.approx(0.05) and s.median == pytest.approx(0.05)
    assert summarize([]).n == 0 and summarize([]).mean is None


def test_one_event_says_too_few_to_mean_anything() -> None:
    result = run_backtest(event_history())
    line = result.evidence_line()
    assert line.startswith("History: 1 R2K breakout since 2020;")
    assert "beat BTC over 90d in 1 of 1 (mean excess +15.0%" in line
    assert line.endswith(f"{TOO_FEW}.")
    assert not result.enough_events
    table = result.table()
    assert TOO_FEW in table and "first R2K record close after >= 90 trading days" in table
    assert "No history for: D." in table and "not advice" in table


def test_enough_events_drop_the_warning() -> None:
    """A sawtooth R2K: a new record every 100 rows; BTC flat, the basket always +20%/90d."""
    r2k: list[float] = []
    for k in range(MIN_EVENTS + 1):
        r2k += [1000.0 + k] + [900.0] * 99
    days = len(r2k) + 200
    btc = [100.0] * days
    coin = [10.0 * 1.2 ** (d / 90) for d in range(days)]
    result = run_backtest(History(rows(r2k), rows(btc), {"A": rows(coin)}))
    assert len(result.events) == MIN_EVENTS  # the first record is row 0's mark, not a breakout
    assert result.enough_events
    line = result.evidence_line()
    assert f"in {MIN_EVENTS} of {MIN_EVENTS} (mean excess +20.0%" in line
    assert TOO_FEW not in line
    assert TOO_FEW not in result.table()


def test_no_data_and_no_events_are_said() -> None:
    empty = run_backtest(History([], [], {}))
    assert "no crypto history" in empty.evidence_line()
    assert "no crypto history" in empty.table()
    flat = run_backtest(History(rows([100.0] * 50), rows([1.0] * 50), {"A": rows([1.0] * 50)}))
    assert flat.evidence_line().startswith("History: no R2K breakout since 2020")


def test_json_round_trips_with_dates() -> None:
    data = json.loads(run_backtest(event_history()).to_json())
    assert data["breakouts"] == ["2020-06-07", "2020-12-23"]
    assert data["events"][0]["basket"]["90"] == pytest.approx(0.25)
    assert data["horizons"][1]["days"] == 90
    assert data["enough_events"] is False and data["evidence"].startswith("History:")


# ---- correlation and altseason -------------------------------------------------------------


def test_correlation_aligns_on_days_both_trade() -> None:
    """BTC copies the R2K on weekdays and goes wild on weekends: aligned, the match is exact."""
    rng = random.Random(7)
    r2k: list[DailyClose] = []
    btc: list[DailyClose] = []
    coin: list[DailyClose] = []
    level = 1000.0
    for d in range(200):
        ts = at(d)
        if d % 7 in (5, 6):  # T0 is a Monday: Saturday and Sunday
            btc.append(DailyClose(ts, rng.uniform(1, 1e6)))
            coin.append(DailyClose(ts, rng.uniform(1, 1e6)))
            continue
        level *= 1 + rng.gauss(0, 0.01)
        r2k.append(DailyClose(ts, level))
        btc.append(DailyClose(ts, level * 50))
        coin.append(DailyClose(ts, 1e6 / level))
    result = run_backtest(History(r2k, btc, {"A": coin}))
    by_period = {c.period: c for c in result.correlations}
    assert list(by_period) == ["all", "2020", "2021"]
    overall = by_period["all"]
    assert overall.n == len(r2k) - 1
    assert overall.btc == pytest.approx(1.0)
    assert overall.basket is not None and overall.basket < -0.99
    assert by_period["2020"].n + by_period["2021"].n == overall.n


def test_altseason_spans_need_75_percent_of_at_least_three_coins() -> None:
    days = 300
    btc = rows([100.0] * days)
    rising = rows([10.0 + min(max(d - 150, 0), 50) for d in range(days)])
    flat = rows([7.0] * days)
    history = History(rows([1.0] * days), btc, {"A": rising, "B": rising, "C": rising, "D": flat})
    assert run_backtest(history).altseason == [(at(151), at(289))]
    two = History(rows([1.0] * days), btc, {"A": rising, "B": rising})
    assert run_backtest(two).altseason == []


def test_basket_index_is_equal_weight_rebalanced_daily() -> None:
    history = History([], [], {"A": rows([1.0, 2.0, 2.0]), "B": rows([5.0, 5.0, 10.0])})
    levels = [r.close for r in basket_index(history)]
    assert levels == pytest.approx([100.0, 150.0, 225.0])
