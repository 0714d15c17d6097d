"""Crypto.com Exchange adapter: ccxt client, error classification, market data, diagnosis,
and the live broker (orders)."""

from atp.exchange.client import ExchangeClient, Ticker
from atp.exchange.errors import (
    AuthError,
    ErrorSink,
    ExchangeFailure,
    ExchangeRejected,
    NetworkError,
    ProxyError,
    RateLimited,
)
from atp.exchange.market_data import MarketDataService, MarketSnapshot, SymbolMarketData
from atp.exchange.orders import LiveBroker

__all__ = [
    "AuthError",
    "ErrorSink",
    "ExchangeClient",
    "ExchangeFailure",
    "ExchangeRejected",
    "LiveBroker",
    "MarketDataService",
    "MarketSnapshot",
    "NetworkError",
    "ProxyError",
    "RateLimited",
    "SymbolMarketData",
    "Ticker",
]
