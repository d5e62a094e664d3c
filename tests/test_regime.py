"""The regime model on hand-built series with known answers."""

from __future__ import annotations

from alerts.domain.market import DailyClose
from alerts.domain.regime import breadth, classify, index_stats, r2k_state

DAY = 86400


def series(closes: list[float]) -> list[DailyClose]:
    return [DailyClose(i * DAY, c) for i, c in enumerate(closes)]


def test_index_stats_record_and_distance() -> None:
    rows = series([100, 120, 110, 125])
    s = index_stats(rows)
    assert s is not None
    assert s.new_ath and s.ath_close == 125 and s.prev_ath_close == 120 and s.prev_ath_ts == DAY
    assert r2k_state(s) == "record"
    s2 = index_stats(series([100, 120, 110]))
    assert s2 is not None and not s2.new_ath
    assert round(s2.distance_pct, 4) == round((110 / 120 - 1) * 100, 4)
    assert r2k_state(s2) == "below"


def test_states_by_drawdown() -> None:
    for last, state in [(99.5, "near"), (95, "below"), (85, "correction"), (70, "bear")]:
        s = index_stats(series([100, last]))
        assert s is not None and r2k_state(s) == state


def test_breadth_counts_coins_beating_btc() -> None:
    btc = [100.0] * 30 + [110.0]  # +10% over 30 days
    coins = {"A": [1.0] * 30 + [1.2], "B": [1.0] * 30 + [1.05], "C": [1.0] * 5}
    assert breadth(coins, btc, 30) == (1, 2)  # C lacks history and is not counted


def test_classify_risk_on_with_alts_leading() -> None:
    r2k = series([100.0 + i * 0.1 for i in range(250)])  # rising to a record, 50d > 200d
    btc = [100.0] * 100 + [100.0 + i for i in range(1, 101)]
    coins = {name: [1.0] * 100 + [1.0 + i * 0.02 for i in range(1, 101)] for name in "ABCD"}
    regime = classify(index_stats(r2k), coins, btc)
    assert regime.label.startswith("risk-on: R2K at record, alts leading")
    assert regime.breadth90 == (4, 4) and "alt season" in regime.label
    assert regime.r2k_trend == "up" and regime.btc_trend == "up"


def test_classify_says_when_data_is_missing() -> None:
    regime = classify(None, {}, [])
    assert regime.label == "unknown: no R2K data"
    assert "no index data yet" in regime.facts()[0]
    assert any("not enough history" in line for line in regime.facts())


def test_classify_risk_off_in_bear_market() -> None:
    regime = classify(index_stats(series([100.0] * 10 + [75.0])), {}, [])
    assert regime.label.startswith("risk-off: R2K in a bear market")
