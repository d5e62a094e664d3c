"""Settings from the environment and `.env` (pydantic-settings).

The field names are the public contract documented in README and `.env.example`.
Invalid values stop start-up with one line naming the setting (see `load_settings`).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from alerts.domain.market import Universe
from alerts.storage.engine import DEFAULT_SYMBOLS_PER_CHAT

DEFAULT_COINS = ("AVAX", "BCH", "ADA", "LINK", "HBAR")


def _split_csv(value: object) -> object:
    """Accept `A,B,C` from the environment as well as real lists."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class Settings(BaseSettings):
    """Every knob altbot has; defaults suit a single small deployment."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", frozen=True)

    telegram_bot_token: SecretStr | None = None
    telegram_api_url: str = "https://api.telegram.org"
    telegram_webhook_url: str | None = None
    telegram_paid_broadcast: bool = False  # signals with allow_paid_broadcast (costs Stars)
    discord_bot_token: SecretStr | None = None
    discord_api_url: str = "https://discord.com/api/v10"
    discord_gateway_url: str | None = None
    discord_guild_id: int | None = None
    redis_url: SecretStr = SecretStr("redis://127.0.0.1:6379/0")
    key_prefix: str = "altbot"
    exchange: str = "binance"
    exchange_fallbacks: Annotated[list[str], NoDecode] = Field(default_factory=list)
    exchange_api_url: str | None = None
    exchange_ws: Literal["auto", "on", "off"] = "auto"
    exchange_ws_url: str | None = None
    index_api_url: str = "https://query1.finance.yahoo.com"
    mcap_api_url: str = "https://api.coingecko.com/api/v3"  # CoinGecko's base, replaced whole
    mcap_refresh_seconds: float = Field(default=600.0, ge=60, le=86400)
    coins: Annotated[list[str], NoDecode] = Field(default_factory=lambda: list(DEFAULT_COINS))
    quote: str = "USDT"
    poll_interval_seconds: float = Field(default=10.0, gt=0, le=3600)
    index_poll_interval_seconds: float = Field(default=300.0, gt=0, le=86400)
    http_port: int = Field(default=8080, ge=0, le=65535)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["text", "json"] = "text"
    alert_quota_per_chat: int = Field(default=50, ge=1, le=10_000)
    max_tracked_symbols: int = Field(default=200, ge=10, le=2000)
    max_symbols_per_chat: int = Field(default=DEFAULT_SYMBOLS_PER_CHAT, ge=1, le=500)
    delivery_claim_idle_seconds: float = Field(default=30.0, gt=0, le=3600)
    leader_lease_seconds: float = Field(default=6.0, ge=1, le=300)
    allowed_chat_ids: Annotated[list[int], NoDecode] = Field(default_factory=list)
    admin_chat_ids: Annotated[list[int], NoDecode] = Field(default_factory=list)
    target_reference: Literal["r2k_record", "fixed"] = "r2k_record"
    target_reference_prices: Annotated[dict[str, float], NoDecode] = Field(default_factory=dict)
    webhook_allow_private: bool = False  # lift the webhook address rule (self-hosters, tests)
    webhook_allow_http: bool = False  # accept http:// webhook URLs

    @field_validator(
        "coins", "exchange_fallbacks", "allowed_chat_ids", "admin_chat_ids", mode="before"
    )
    @classmethod
    def _csv(cls, value: object) -> object:
        return _split_csv(value)

    @field_validator("target_reference_prices", mode="before")
    @classmethod
    def _prices(cls, value: object) -> object:
        """`LINK=9.2,ADA=0.8` → {"LINK": 9.2, "ADA": 0.8}; symbols upper-cased."""
        if isinstance(value, str):
            out: dict[str, object] = {}
            for part in value.split(","):
                if not part.strip():
                    continue
                base, sep, price = part.partition("=")
                if not sep:
                    raise ValueError("use COIN=PRICE pairs like LINK=9.2,ADA=0.8")
                out[base.strip()] = price.strip()
            value = out
        if isinstance(value, dict):
            return {str(k).upper(): v for k, v in value.items()}
        return value

    @field_validator("target_reference_prices")
    @classmethod
    def _positive_prices(cls, value: dict[str, float], info: ValidationInfo) -> dict[str, float]:
        if any(not k.isalnum() or p <= 0 for k, p in value.items()):
            raise ValueError("prices must be positive, for coins like LINK=9.2")
        if info.data.get("target_reference") == "fixed" and not value:
            raise ValueError("needed when TARGET_REFERENCE=fixed, e.g. LINK=9.2,ADA=0.8")
        return value

    @field_validator("coins")
    @classmethod
    def _upper_coins(cls, value: list[str]) -> list[str]:
        coins = [c.upper() for c in value]
        if not coins:
            raise ValueError("at least one coin is needed")
        if any(not c.isalnum() or len(c) > 15 for c in coins):
            raise ValueError("coins are ticker symbols like LINK,ADA")
        return list(dict.fromkeys(coins))

    @field_validator("quote")
    @classmethod
    def _upper_quote(cls, value: str) -> str:
        if not value.isalnum():
            raise ValueError("quote must be a currency code like USDT")
        return value.upper()

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_level(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @property
    def universe(self) -> Universe:
        """The watched coins (plus BTC and ETH as reference) against QUOTE."""
        return Universe(tuple(self.coins), self.quote)

    def secrets(self) -> list[str]:
        """Secret values that log output must never contain."""
        out = [
            s.get_secret_value()
            for s in (self.telegram_bot_token, self.discord_bot_token)
            if s is not None and s.get_secret_value()
        ]
        url = self.redis_url.get_secret_value()
        if "@" in url:
            out.append(url.split("@", 1)[0].rsplit(":", 1)[-1])
        return out


class ConfigError(Exception):
    """A setting is invalid; the message is one line naming it."""


def load_settings(**overrides: object) -> Settings:
    """Build settings, turning a pydantic error into one readable line per bad setting."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            name = str(err["loc"][0]).upper() if err["loc"] else "settings"
            lines.append(f"invalid setting {name}: {err['msg']}")
        raise ConfigError("; ".join(lines)) from None
