"""Crypto.com Exchange v1 API emulator: synthetic market, signature checks, fault switches."""

from atp.emulators.cryptocom.auth import ApiKey
from atp.emulators.cryptocom.faults import Faults, parse_fault
from atp.emulators.cryptocom.market import MarketConfig, Scenario, SyntheticMarket
from atp.emulators.cryptocom.server import CryptoComEmulator

__all__ = [
    "ApiKey",
    "CryptoComEmulator",
    "Faults",
    "MarketConfig",
    "Scenario",
    "SyntheticMarket",
    "parse_fault",
]
