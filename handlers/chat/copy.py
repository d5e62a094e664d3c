"""User-facing copy shared by several replies: the disclaimers and caveats in one place.

Every place that shows targets, a regime, signals or charts says it is information,
not advice, in one of these words (short or full) — never in a wording of its own.
"""

from __future__ import annotations

from alerts.domain.regime import CAVEAT

DISCLAIMER = CAVEAT  # the full sentence; the backtest table prints the same one
NOT_ADVICE = "Information, not advice."  # where space is short: alert confirmations, charts
PUSH_NOTE = "Each event is pushed once, with what history says about it. " + NOT_ADVICE


def not_a_forecast(what: str) -> str:
    """Footer of replies that describe data: `A description of {what}, not a forecast. …`"""
    return f"A description of {what}, not a forecast. {DISCLAIMER}"
