"""Command and alert parsing: valid forms, and clear errors for everything else."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alerts.domain.alert import Alert, AlertKind
from alerts.domain.conditions import ParseError
from alerts.domain.errors import UserError
from alerts.domain.grammar import parse_alert_args
from bot.config import ConfigError, Settings, load_settings
from handlers.chat.core import split_command
from handlers.chat.symbols import SymbolParser


def parser() -> SymbolParser:
    listed = {"SOL/USDT"}
    return SymbolParser(Settings().universe, listed.__contains__)


@pytest.mark.parametrize("raw", ["LINK", "link", "LINK/USDT", "linkusdt", " Link "])
def test_symbol_forms(raw: str) -> None:
    assert parser().parse(raw) == "LINK/USDT"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("", "Which coin?"),
        ("SOL", "listed but not tracked"),
        ("NOPE", "not a market I know"),
        ("LINK/EUR", "Only USDT markets"),
        ("ЛИНК", "does not look like a coin"),
        ("x" * 10_000, "does not look like a coin"),
        ("LI-NK", "does not look like a coin"),
    ],
)
def test_bad_symbols_get_clear_errors(raw: str, message: str) -> None:
    with pytest.raises(UserError) as err:
        parser().parse(raw)
    assert message in err.value.message
    assert "LINK" in (err.value.hint or "") or message in ("Only USDT markets",)


def test_split_command_handles_bot_mentions() -> None:
    assert split_command("/coin@altbot LINK") == ("coin", ["LINK"])
    assert split_command("hello") is None
    with pytest.raises(UserError):
        split_command("/💥")


@pytest.mark.parametrize(
    ("args", "kind", "value"),
    [
        (["above", "9.5"], "above", 9.5),
        ([">", "9,500.5"], "above", 9500.5),
        (["below", "0.8"], "below", 0.8),
        (["+40%"], "percent", 40.0),
        (["-20%"], "percent", -20.0),
        (["move", "5%", "1h"], "move", 5.0),
        (["volume", "3x"], "volume", 3.0),
    ],
)
def test_alert_forms(args: list[str], kind: str, value: float) -> None:
    spec = parse_alert_args(args)
    assert (spec.kind, spec.value) == (kind, value)


def test_alert_options() -> None:
    spec = parse_alert_args(["above", "10", "repeat", "cooldown", "15m", "for", "7d"])
    assert spec.repeat and spec.cooldown == 900 and spec.expires_in == 7 * 86400
    assert parse_alert_args(["move", "5%", "4h"]).window == 4 * 3600


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["above"],
        ["above", "abc"],
        ["above", "-1"],
        ["above", "nan"],
        ["+0%"],
        ["-100%"],
        ["move", "5%"],
        ["move", "5%", "3w"],
        ["move", "500%", "1h"],
        ["volume", "1x"],
        ["above", "9", "forever"],
        ["sideways"],
    ],
)
def test_bad_alerts_get_clear_errors(args: list[str]) -> None:
    with pytest.raises(ParseError):
        parse_alert_args(args)


@given(st.lists(st.text(max_size=30), max_size=15))
def test_alert_parser_never_crashes(args: list[str]) -> None:
    with contextlib.suppress(ParseError):
        parse_alert_args(args)


def test_record_packing_round_trips() -> None:
    alert = Alert(
        7, "dc:c:123", "HBAR/USDT", AlertKind.RISE, 0.35, 0.25,
        1764110000, 1764714800, 3600, 0, 0, 0,
    )
    assert Alert.unpack(7, alert.pack()) == alert


def test_invalid_settings_name_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POLL_INTERVAL_SECONDS", "-3")
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert "POLL_INTERVAL_SECONDS" in str(err.value)
    monkeypatch.setenv("POLL_INTERVAL_SECONDS", "2.5")
    monkeypatch.setenv("COINS", "link, ada")
    settings = load_settings()
    assert settings.poll_interval_seconds == 2.5
    assert settings.universe.tracked_symbols[:2] == ["LINK/USDT", "ADA/USDT"]
