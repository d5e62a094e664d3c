"""Market sources from settings: the exchange chain, its websocket feed, the R2K feed
and the market caps.

Part of the composition root: the feeds themselves take plain values, so only this
module reads `Settings` for them. ccxt.pro is imported only when a socket is wanted
(the offline demo's replay never loads it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from alerts.domain.market import TickerSource
from bot.config import Settings
from bot.feeds.coingecko import CoinGeckoClient
from bot.feeds.exchange import CcxtExchange, ExchangeChain
from bot.feeds.index_feed import YahooIndexFeed
from bot.feeds.poller import Poller
from bot.feeds.realtime import RealtimeFeed

if TYPE_CHECKING:
    from bot.feeds.exchange_ws import CcxtTickerStream


def build_exchange(settings: Settings) -> ExchangeChain:
    """The exchange and its fallbacks from settings; EXCHANGE_API_URL applies to the first."""
    names = [settings.exchange, *[n for n in settings.exchange_fallbacks if n != settings.exchange]]
    exchanges = [
        CcxtExchange(name, api_url=settings.exchange_api_url if i == 0 else None)
        for i, name in enumerate(names)
    ]
    return ExchangeChain(exchanges)


def build_index(settings: Settings) -> YahooIndexFeed:
    """The R2K feed (Yahoo's chart API at INDEX_API_URL)."""
    return YahooIndexFeed(settings.index_api_url)


def build_market_caps(settings: Settings) -> CoinGeckoClient:
    """The market-cap source (CoinGecko's API at MCAP_API_URL)."""
    return CoinGeckoClient(settings.mcap_api_url)


def ws_wanted(settings: Settings, exchange: TickerSource) -> bool:
    """EXCHANGE_WS: off → never; auto → unless the REST API was pointed elsewhere without a
    websocket URL (a proxy or a fake would not serve the real socket); on → always."""
    if settings.exchange_ws == "off":
        return False
    if not isinstance(exchange, CcxtExchange | ExchangeChain):
        return False  # the offline demo's replay, test doubles: no socket to open
    if settings.exchange_ws == "on" or settings.exchange_ws_url:
        return True
    first = exchange if isinstance(exchange, CcxtExchange) else exchange.primary
    return not (settings.exchange_api_url or first.api_url)


def build_stream(settings: Settings, exchange: TickerSource) -> CcxtTickerStream | None:
    """The websocket stream for this exchange and these settings, or None for REST only."""
    if not ws_wanted(settings, exchange):
        return None
    from bot.feeds.exchange_ws import CcxtTickerStream

    assert isinstance(exchange, CcxtExchange | ExchangeChain)
    first = exchange if isinstance(exchange, CcxtExchange) else exchange.primary
    return CcxtTickerStream(exchange, ws_url=settings.exchange_ws_url, ws_url_for=first.name)


def build_feed(settings: Settings, exchange: TickerSource, poller: Poller) -> RealtimeFeed | None:
    """The realtime feed for a ccxt exchange when EXCHANGE_WS allows it; None: REST only.

    Other sources (the demo's replay) never load ccxt.pro: the import waits until needed.
    """
    if settings.exchange_ws == "off" or type(exchange).__module__ != "bot.feeds.exchange":
        return None
    stream = build_stream(settings, exchange)
    return None if stream is None else RealtimeFeed(poller, stream)
