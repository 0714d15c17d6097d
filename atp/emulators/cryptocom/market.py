"""A synthetic, deterministic market: prices, candles and tickers for N instruments.

Why this shape:
- The price of a symbol is a pure function of (seed, symbol, time): multi-scale value noise
  sampled on a fixed time grid (`grid_seconds`) and joined by straight lines. No state, so
  the same seed gives the same candles whatever the start time, the number of symbols or
  the order of requests, and any timeframe aggregates the same path (a 1h candle is exactly
  the four 15m candles inside it).
- Because the path is linear between grid points, a candle's high/low are exactly the
  extremes over the grid points inside it plus its two ends; the forming candle is a prefix
  of the candle it becomes, and the ticker's last price is the forming candle's close.
- Scenarios add a linear drift in log-price (and optionally more volume) over a window:
  a sustained decline drives RSI(14) below 40, a sustained rise above 70.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from atp.emulators.clock import EmulatorClock

F64 = npt.NDArray[np.float64]
U64 = npt.NDArray[np.uint64]

# Exchange timeframe names (v1 API) → seconds. ccxt sends "1D" for "1d", "7D" for "1w".
TIMEFRAMES: dict[str, int] = {
    "1m": 60,
    "5m": 300,
    "15m": 900,
    "30m": 1800,
    "1h": 3600,
    "2h": 7200,
    "4h": 14400,
    "6h": 21600,
    "12h": 43200,
    "1D": 86400,
    "7D": 604800,
    "14D": 1209600,
}

_KNOWN: tuple[tuple[str, float], ...] = (
    ("BTC", 60000.0), ("ETH", 3000.0), ("SOL", 150.0), ("XRP", 0.6), ("ADA", 0.45),
    ("DOGE", 0.12), ("LDO", 2.0), ("AVAX", 30.0), ("DOT", 6.5), ("LINK", 14.0),
    ("CRO", 0.1), ("LTC", 80.0), ("ATOM", 8.0), ("NEAR", 5.0), ("UNI", 7.5),
    ("AAVE", 90.0), ("ARB", 1.1), ("OP", 2.3), ("APT", 8.5), ("SUI", 1.2),
)

_M1 = np.uint64(0x9E3779B97F4A7C15)
_M2 = np.uint64(0xBF58476D1CE4E5B9)
_M3 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31, _S11 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(11)


def _mix(x: U64) -> U64:
    """splitmix64 finaliser, vectorised; uint64 arithmetic wraps as intended."""
    with np.errstate(over="ignore"):
        x = x + _M1
        x = (x ^ (x >> _S30)) * _M2
        x = (x ^ (x >> _S27)) * _M3
    return x ^ (x >> _S31)


def _unit(x: U64) -> F64:
    """Hash → uniform float in [0, 1)."""
    return (x >> _S11).astype(np.float64) * (1.0 / 9007199254740992.0)


def _key(*parts: object) -> int:
    digest = hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little")


@dataclass(frozen=True, slots=True)
class Instrument:
    symbol: str  # exchange instrument name, e.g. BTC_USDT
    base: str
    quote: str
    base_price: float
    price_decimals: int
    qty_decimals: int
    hourly_volume: float  # base units per hour, on average
    key: int  # noise key (seed + symbol)

    @property
    def price_tick(self) -> str:
        return f"{10.0 ** -self.price_decimals:.{self.price_decimals}f}"

    @property
    def qty_tick(self) -> str:
        return f"{10.0 ** -self.qty_decimals:.{self.qty_decimals}f}"

    def fmt_price(self, value: float) -> str:
        return f"{value:.{self.price_decimals}f}"

    def fmt_qty(self, value: float) -> str:
        return f"{value:.{self.qty_decimals}f}"


@dataclass(frozen=True, slots=True)
class Scenario:
    """A drift of `log_change` spread linearly over [start, end), volume × `volume_factor`."""

    symbol: str
    start: float
    end: float
    log_change: float
    volume_factor: float = 1.0
    kind: str = "custom"

    def offset(self, t: F64) -> F64:
        frac = np.clip((t - self.start) / (self.end - self.start), 0.0, 1.0)
        return frac * self.log_change


@dataclass(frozen=True, slots=True)
class CandleRow:
    t: int  # open time, ms
    o: float
    h: float
    low: float
    c: float
    v: float
    closed: bool


@dataclass(slots=True)
class TickerRow:
    symbol: str
    last: float
    high: float
    low: float
    volume: float
    change: float  # 24h change ratio
    t: int  # ms


@dataclass
class MarketConfig:
    seed: int = 1
    symbols: int | Sequence[str] = 20
    quote: str = "USDT"
    grid_seconds: int = 300
    volatility: float = 0.002  # log-price std per grid step at the finest scale
    octaves: int = 12
    scenario_timeframe: int = 3600  # unit of `candles` in scenario scripts
    extra: dict[str, float] = field(default_factory=dict)


class SyntheticMarket:
    """Deterministic prices for a set of instruments, driven by an injectable clock."""

    def __init__(self, clock: EmulatorClock, config: MarketConfig | None = None) -> None:
        self.clock = clock
        self.config = config or MarketConfig()
        self.instruments: dict[str, Instrument] = {}
        self._scenarios: dict[str, list[Scenario]] = {}
        self.set_symbols(self.config.symbols)

    # -- instruments ---------------------------------------------------------------------

    def set_symbols(self, symbols: int | Sequence[str]) -> None:
        """Replace the instrument list: a count (known coins first, then SYN0001…) or names."""
        names: list[str]
        quote = self.config.quote
        if isinstance(symbols, int):
            names = [f"{b}_{quote}" for b, _ in _KNOWN[:symbols]]
            names += [f"SYN{i:04d}_{quote}" for i in range(1, symbols - len(names) + 1)]
        else:
            names = list(symbols)
        known = dict(_KNOWN)
        seed = self.config.seed
        instruments = {}
        for name in names:
            base, _, q = name.partition("_")
            u = _unit(np.array([_key(seed, name, "base")], dtype=np.uint64))[0]
            price = known.get(base, 10.0 ** (-2.0 + 5.0 * float(u)))
            pdec = max(2, min(8, 5 - math.floor(math.log10(price))))
            qdec = max(0, min(6, math.floor(math.log10(price)) + 2))
            volume = 2.0e6 / price * (0.3 + float(u))
            instruments[name] = Instrument(
                symbol=name, base=base, quote=q or quote, base_price=price,
                price_decimals=pdec, qty_decimals=qdec, hourly_volume=volume,
                key=_key(seed, name),
            )
        self.instruments = instruments

    def instrument(self, symbol: str) -> Instrument:
        return self.instruments[symbol]

    # -- scenarios -----------------------------------------------------------------------

    def script(
        self,
        symbol: str,
        kind: str,
        candles: int = 20,
        pct_per_candle: float = 3.0,
        start: float | None = None,
        volume_factor: float = 1.0,
    ) -> Scenario:
        """Make `symbol` fall (`decline`/`rsi_low`) or rise (`rise`/`rsi_high`) steadily.

        The drift starts at `start` (default: now) and lasts `candles` scenario timeframes;
        RSI(14) of closed candles is below 40 (resp. above 70) once ~10 candles of it have
        closed, and stays there until the drift ends. A past `start` rewrites history, so
        only use it before any client has read those candles (e.g. at emulator start).
        """
        if symbol not in self.instruments:
            raise KeyError(symbol)
        if kind in ("decline", "rsi_low", "fall"):
            sign = -1.0
        elif kind in ("rise", "rsi_high", "pump"):
            sign = 1.0
        else:
            raise ValueError(f"unknown scenario kind {kind!r} (decline|rise|rsi_low|rsi_high)")
        tf = self.config.scenario_timeframe
        begin = self.clock.now() if start is None else start
        scenario = Scenario(
            symbol=symbol,
            start=begin,
            end=begin + candles * tf,
            log_change=sign * candles * math.log1p(pct_per_candle / 100.0),
            volume_factor=volume_factor,
            kind=kind,
        )
        self._scenarios.setdefault(symbol, []).append(scenario)
        return scenario

    def hold(self, symbol: str) -> list[Scenario]:
        """Stop `symbol`'s scripted drifts from now on: the price keeps its level (and noise).

        Unlike `clear_scenarios`, history stays as clients saw it: each drift still under way
        gets a counter-drift over its remaining span, which cancels what it had left to do.
        """
        now = self.clock.now()
        held = []
        for sc in list(self._scenarios.get(symbol, ())):
            if sc.start <= now < sc.end:
                left = sc.log_change - float(sc.offset(np.array([now]))[0])
                held.append(Scenario(symbol=symbol, start=now, end=sc.end, log_change=-left,
                                     volume_factor=1.0, kind="hold"))
        self._scenarios.setdefault(symbol, []).extend(held)
        return held

    def clear_scenarios(self, symbol: str | None = None) -> None:
        if symbol is None:
            self._scenarios.clear()
        else:
            self._scenarios.pop(symbol, None)

    def scenarios(self) -> list[Scenario]:
        return [s for items in self._scenarios.values() for s in items]

    # -- the path ------------------------------------------------------------------------

    def _log_noise(self, keys: U64, n: npt.NDArray[np.int64]) -> F64:
        """Multi-octave value noise at integer grid indices `n` (random-walk-like scaling).

        `keys` broadcasts against `n`: one key per symbol, shape (S, 1) against (S, N).
        """
        cfg = self.config
        out = np.zeros(np.broadcast_shapes(keys.shape, n.shape), dtype=np.float64)
        for o in range(cfg.octaves):
            span = 1 << o
            i = n // span
            frac = (n - i * span).astype(np.float64) / span
            ko = _mix(keys ^ np.uint64(o * 0x1000193 + 1))
            a = _unit(_mix(i.astype(np.uint64) ^ ko)) * 2.0 - 1.0
            b = _unit(_mix((i + 1).astype(np.uint64) ^ ko)) * 2.0 - 1.0
            out += (a + (b - a) * frac) * (cfg.volatility * math.sqrt(span) * 1.7)
        return out

    def _drift(self, symbol: str, t: F64) -> F64 | float:
        total: F64 | float = 0.0
        for sc in self._scenarios.get(symbol, ()):
            total = total + sc.offset(t)
        return total

    def _grid_prices(self, inst: Instrument, n: npt.NDArray[np.int64]) -> F64:
        logp = self._log_noise(np.array([inst.key], dtype=np.uint64), n)
        if inst.symbol in self._scenarios:
            logp = logp + self._drift(inst.symbol, n.astype(np.float64) * self.config.grid_seconds)
        return np.asarray(inst.base_price * np.exp(logp), dtype=np.float64)

    def _grid_volumes(self, keys: U64, hourly: F64, n: npt.NDArray[np.int64]) -> F64:
        """Volume traded in grid step [n, n+1); `keys`/`hourly` broadcast against `n`."""
        g = self.config.grid_seconds
        u = _unit(_mix(n.astype(np.uint64) ^ (keys ^ np.uint64(0x5EED))))
        return np.asarray(hourly * (g / 3600.0) * (0.4 + 1.2 * u), dtype=np.float64)

    def _symbol_volumes(self, inst: Instrument, n: npt.NDArray[np.int64]) -> F64:
        vol = self._grid_volumes(
            np.array([inst.key], dtype=np.uint64), np.array([inst.hourly_volume]), n
        )
        t = n.astype(np.float64) * self.config.grid_seconds
        for sc in self._scenarios.get(inst.symbol, ()):
            if sc.volume_factor != 1.0:
                vol = np.where((t >= sc.start) & (t < sc.end), vol * sc.volume_factor, vol)
        return vol

    def price(self, symbol: str, t: float | None = None) -> float:
        """Last traded price at `t` (default now): linear between grid points."""
        return float(self.prices_at(symbol, np.array([self._t(t)]))[0])

    def prices_at(self, symbol: str, times: F64) -> F64:
        inst = self.instruments[symbol]
        g = self.config.grid_seconds
        n0 = np.floor(times / g).astype(np.int64)
        lo = self._grid_prices(inst, n0)
        hi = self._grid_prices(inst, n0 + 1)
        frac = (times - n0 * g) / g
        return np.asarray(lo + (hi - lo) * frac, dtype=np.float64)

    def extremes(self, symbol: str, t0: float, t1: float) -> tuple[float, float]:
        """(low, high) of the path over [t0, t1]: what a trigger order could have seen."""
        g = self.config.grid_seconds
        inner = np.arange(math.floor(t0 / g) + 1, math.ceil(t1 / g), dtype=np.int64)
        ends = self.prices_at(symbol, np.array([t0, t1], dtype=np.float64))
        vals = ends
        if inner.size:
            vals = np.concatenate([ends, self._grid_prices(self.instruments[symbol], inner)])
        return float(vals.min()), float(vals.max())

    def _t(self, t: float | None) -> float:
        return self.clock.now() if t is None else t

    # -- candles and tickers ---------------------------------------------------------------

    def candles(
        self, symbol: str, timeframe_s: int, end: float | None = None, count: int = 25
    ) -> list[CandleRow]:
        """The `count` candles up to `end`, oldest first; the last may be forming."""
        inst = self.instruments[symbol]
        now = self.clock.now()
        end_t = min(self._t(end), now)
        g = self.config.grid_seconds
        last_open = math.floor(end_t / timeframe_s) * timeframe_s
        opens = last_open - timeframe_s * np.arange(count - 1, -1, -1, dtype=np.int64)
        closes = np.minimum(opens + timeframe_s, now).astype(np.float64)
        t_first = float(opens[0])
        t_last = float(closes[-1])
        n = np.arange(math.floor(t_first / g), math.ceil(t_last / g) + 1, dtype=np.int64)
        grid_t = n.astype(np.float64) * g
        grid_p = self._grid_prices(inst, n)
        cum_v = np.concatenate([[0.0], np.cumsum(self._symbol_volumes(inst, n[:-1]))])
        bounds = np.concatenate([opens.astype(np.float64), closes[-1:]])
        # interior grid points of every candle plus its two ends
        times = np.unique(np.concatenate([grid_t[(grid_t >= t_first) & (grid_t <= t_last)],
                                          bounds]))
        values = np.interp(times, grid_t, grid_p)
        starts = np.searchsorted(times, opens.astype(np.float64))
        stops = np.searchsorted(times, closes)  # index of the closing point
        hi = np.maximum.reduceat(values, starts)
        lo = np.minimum.reduceat(values, starts)
        hi = np.maximum(hi, values[stops])
        lo = np.minimum(lo, values[stops])
        vols = np.interp(closes, grid_t, cum_v) - np.interp(opens.astype(np.float64), grid_t, cum_v)
        rows = []
        for k in range(count):
            rows.append(CandleRow(
                t=int(opens[k]) * 1000, o=float(values[starts[k]]), h=float(hi[k]),
                low=float(lo[k]), c=float(values[stops[k]]), v=float(vols[k]),
                closed=bool(opens[k] + timeframe_s <= now),
            ))
        return rows

    def tickers(self, symbols: Sequence[str] | None = None) -> list[TickerRow]:
        """24h stats on an hourly sampling of the path (vectorised over symbols), last exact."""
        now = self.clock.now()
        names = list(self.instruments) if symbols is None else list(symbols)
        if not names:
            return []
        insts = [self.instruments[name] for name in names]
        g = self.config.grid_seconds
        keys = np.array([i.key for i in insts], dtype=np.uint64)[:, None]
        base = np.array([i.base_price for i in insts])[:, None]
        times = np.concatenate([now - 3600.0 * np.arange(24, 0, -1), [now]])
        n0 = np.floor(times / g).astype(np.int64)
        frac = (times - n0 * g) / g
        lo = self._log_noise(keys, n0[None, :])
        hi = self._log_noise(keys, (n0 + 1)[None, :])
        for row, inst in enumerate(insts):
            if inst.symbol in self._scenarios:
                lo[row] += self._drift(inst.symbol, (n0 * g).astype(np.float64))
                hi[row] += self._drift(inst.symbol, ((n0 + 1) * g).astype(np.float64))
        p_lo, p_hi = base * np.exp(lo), base * np.exp(hi)
        prices = p_lo + (p_hi - p_lo) * frac[None, :]
        steps = np.arange(math.floor((now - 86400) / g), math.floor(now / g), dtype=np.int64)
        hourly = np.array([i.hourly_volume for i in insts])[:, None]
        vols = self._grid_volumes(keys, hourly, steps[None, :]).sum(axis=1)
        now_ms = int(now * 1000)
        return [
            TickerRow(
                symbol=inst.symbol, last=float(prices[r, -1]), high=float(prices[r].max()),
                low=float(prices[r].min()), volume=float(vols[r]),
                change=float(prices[r, -1] / prices[r, 0] - 1.0), t=now_ms,
            )
            for r, inst in enumerate(insts)
        ]
