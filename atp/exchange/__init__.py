"""Crypto.com Exchange adapter: ccxt client, error classification, market data, diagnosis."""

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

__all__ = [
    "AuthError",
    "ErrorSink",
    "ExchangeClient",
    "ExchangeFailure",
    "ExchangeRejected",
    "MarketDataService",
    "MarketSnapshot",
    "NetworkError",
    "ProxyError",
    "RateLimited",
    "SymbolMarketData",
    "Ticker",
]
