"""`atp demo`: the whole platform on one machine, no credentials, no internet.

SQLite in a temp dir, the Crypto.com emulator serving an accelerated synthetic market
(an hourly candle closes every few seconds), the Telegram Bot API emulator, and the real
adapters talking to both over loopback HTTP. A few symbols are scripted to fall or rise
so BUY and SELL decisions — and their alerts — appear within the first two minutes.
Three of the falling symbols trade (`TRADING`): in dry run, the default, their accepted
BUY alerts become paper orders, positions and SL/TP pairs within the same two minutes.
The order faults (`LIVE_FAULTS`) switch the demo to LIVE against its own emulator — keys
configured, the live switch on in the demo's database — with the emulator refusing
every order (`order-reject`) or every SL/TP pair (`naked-position`).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from atp import local_runs
from atp.config import Settings
from atp.emulators.clock import AcceleratedClock
from atp.emulators.cryptocom import CryptoComEmulator
from atp.emulators.proxy import AuthProxy
from atp.emulators.telegram.server import TelegramEmulator
from atp.engine.clock import Clock
from atp.engine.core import Conflict
from atp.engine.service import Platform, PlatformFaults
from atp.logging import setup_logging
from atp.runtime import PlatformApi, build_platform
from atp.store import migrate

# demo fault → the emulator fault it sets; the demo then trades LIVE on the emulator
LIVE_FAULTS = {"order-reject": "order-reject:306", "naked-position": "conditional-denied"}
FAULTS = ("telegram-conflict", "telegram-outage", "exchange-auth", "proxy-auth",
          "monitor-stall", "alert-drop", "stale-ticker:SYMBOL", *LIVE_FAULTS)
SYMBOLS = ("BTC_USDT", "ETH_USDT", "SOL_USDT", "XRP_USDT", "ADA_USDT", "DOGE_USDT",
           "DOT_USDT", "LTC_USDT", "LINK_USDT", "AVAX_USDT")
FALLING = ("ETH_USDT", "ADA_USDT", "DOT_USDT")  # scripted declines: RSI < 40 ⇒ BUY
RISING = ("SOL_USDT", "LINK_USDT")  # scripted rises: RSI > 70 ⇒ SELL
TRADING = {"ETH_USDT": 100.0, "ADA_USDT": 100.0, "DOT_USDT": 100.0}  # trade_amount_usd
# A wide stop for the scripted declines (2 % per 5-s candle), so a newcomer sees the
# positions and their SL/TP pairs for minutes rather than seconds.
TRADING_OVERRIDES = {"sl_pct": 45.0}
DEMO_KEY, DEMO_SECRET = "demo-api-key", "demo-api-secret-not-real"
DEMO_TOKEN = "424242:demo-bot-token-not-real"
DEMO_CHAT = 100200300
DEMO_API_TOKEN = "demo-api-token"
SPEED = 720.0  # market seconds per real second: an hourly candle every 5 s
INTERVAL = 5.0  # monitor interval in the demo (production default: 30 s)
PRESET = "swing-aggressive"


def unknown_faults(faults: Sequence[str]) -> list[str]:
    """The demo faults that are not known (`stale-ticker:` takes one of the demo's symbols)."""
    return [f for f in faults if f not in FAULTS
            and not (f.startswith("stale-ticker:") and f.partition(":")[2] in SYMBOLS)]


@dataclass
class Demo:
    port: int = 8002
    faults: Sequence[str] = ()
    workdir: Path | None = None
    seed: int = 7
    speed: float = SPEED
    interval: float = INTERVAL
    clock: Clock | None = None  # the engine's clock (tests drive it); None = system time
    platform: Platform | None = None
    exchange: CryptoComEmulator | None = None
    telegram: TelegramEmulator | None = None
    proxy: AuthProxy | None = None
    api: PlatformApi | None = None
    _tmp: tempfile.TemporaryDirectory[str] | None = field(default=None, repr=False)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list, repr=False)
    _coins: list[dict[str, Any]] = field(default_factory=list, repr=False)
    _outcomes: dict[str, int] = field(default_factory=dict, repr=False)
    _registration: Path | None = field(default=None, repr=False)
    _trading: dict[str, Any] = field(default_factory=dict, repr=False)

    async def start(self) -> None:
        unknown = unknown_faults(self.faults)
        if unknown:
            raise ValueError(f"unknown fault(s) {', '.join(unknown)}; known: {', '.join(FAULTS)}")
        if self.workdir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="atp-demo-")
            self.workdir = Path(self._tmp.name)
        self.workdir.mkdir(parents=True, exist_ok=True)
        db_url = f"sqlite:///{self.workdir / 'atp.db'}"
        await asyncio.to_thread(migrate.upgrade, db_url)

        market_clock = AcceleratedClock(speed=self.speed)
        self.exchange = CryptoComEmulator(clock=market_clock, symbols=list(SYMBOLS),
                                          seed=self.seed)
        self.exchange.add_key(DEMO_KEY, DEMO_SECRET)
        await self.exchange.start()
        for i, symbol in enumerate(FALLING):
            self.exchange.script(symbol, "rsi_low", candles=40, pct_per_candle=2.0,
                                 start=market_clock.now() + i * 3600 * 4)
        for i, symbol in enumerate(RISING):
            self.exchange.script(symbol, "rsi_high", candles=40, pct_per_candle=2.0,
                                 start=market_clock.now() + 3600 * 2 + i * 3600 * 4)
        if "exchange-auth" in self.faults:
            self.exchange.set_fault("exchange-auth")
        for fault in self.faults:
            if fault.startswith("stale-ticker:"):
                self.exchange.set_fault(fault)
            if fault in LIVE_FAULTS:
                self.exchange.set_fault(LIVE_FAULTS[fault])

        self.telegram = TelegramEmulator(tokens=[DEMO_TOKEN])
        await self.telegram.start()
        self.telegram.add_chat(DEMO_CHAT, first_name="Demo trader")

        proxy_url = None
        if "proxy-auth" in self.faults:
            self.proxy = AuthProxy(user="atp", password="the-right-password")
            await asyncio.to_thread(self.proxy.start)
            proxy_url = self.proxy.url_with("atp", "a-wrong-password")

        # port 0 (any free port) is a listen request, not a setting: the bound port is
        # `self.port` once the API accepts
        port_setting: dict[str, Any] = {"api_port": self.port} if self.port else {}
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            database_url=db_url,
            instance_name="demo",
            production=True,
            exchange_base_url=self.exchange.base_url,
            exchange_api_key=DEMO_KEY,
            exchange_api_secret=DEMO_SECRET,
            exchange_proxy_url=proxy_url,
            telegram_bot_token=DEMO_TOKEN,
            telegram_chat_id=str(DEMO_CHAT),
            telegram_api_base=self.telegram.base_url,
            monitor_interval_seconds=self.interval,
            **port_setting,
            api_token=DEMO_API_TOKEN,
            log_file=str(self.workdir / "atp.log"),
        )
        setup_logging(settings.log_level, settings.log_file, console=False,
                      max_bytes=settings.log_max_bytes, backups=settings.log_backups)
        faults = PlatformFaults(alert_drop="alert-drop" in self.faults)
        self.platform = build_platform(settings, clock=self.clock,
                                       market_clock=market_clock.now,
                                       time_scale=self.speed, faults=faults)
        await self._seed()
        if self.live:
            await self.platform.core.set_live_trading(True, "demo")
        await self.platform.start()
        if "telegram-conflict" in self.faults:
            await self.telegram.set_fault("conflict")
        if "telegram-outage" in self.faults:
            await self.telegram.set_fault("outage")
        if "monitor-stall" in self.faults:
            self._tasks.append(asyncio.create_task(self._stall_after_warmup()))
        self.api = PlatformApi(self.platform, "127.0.0.1", self.port)
        await self.api.start()
        self.port = self.api.server.port  # the bound one: `--port 0` picks a free port
        # so `atp logs` / `atp check` on this machine find this demo's log unasked
        self._registration = local_runs.register("demo", f"http://127.0.0.1:{self.port}",
                                                 settings.log_file)

    @property
    def live(self) -> bool:
        """An order fault trades LIVE against the demo's own emulator (never a real one)."""
        return any(f in LIVE_FAULTS for f in self.faults)

    async def _seed(self) -> None:
        """The watchlist, through the core like any other change (audited as "demo").
        The falling symbols use a preset without the MA200 check, which a steady decline
        fails; the rest use the swing preset. `TRADING` symbols trade their amount."""
        assert self.platform is not None
        for symbol in SYMBOLS:
            preset = "intraday-aggressive" if symbol in FALLING else PRESET
            amount = TRADING.get(symbol, 0.0)
            with contextlib.suppress(Conflict):
                await self.platform.core.add_symbol(
                    {"symbol": symbol, "preset": preset,
                     "overrides": dict(TRADING_OVERRIDES) if amount > 0 else {},
                     "trade_enabled": amount > 0, "trade_amount_usd": amount}, "demo")

    async def _stall_after_warmup(self) -> None:
        """The monitor stops cycling after two good cycles: what a hung loop looks like."""
        assert self.platform is not None
        while self.platform.monitor.ticks < 2:
            await asyncio.sleep(0.2)
        self.platform.monitor.stalled = True

    async def stop(self) -> None:
        local_runs.unregister(self._registration)
        for task in self._tasks:
            task.cancel()
        if self.api is not None:
            await self.api.stop()
        if self.platform is not None:
            await self.platform.stop()
        if self.telegram is not None:
            with contextlib.suppress(Exception):
                await self.telegram.stop()
        if self.exchange is not None:
            await self.exchange.stop()
        if self.proxy is not None:
            await asyncio.to_thread(self.proxy.stop)
        if self._tmp is not None:
            self._tmp.cleanup()

    # ── the terminal view ──────────────────────────────────────────────────────────────

    def view(self) -> Group:
        p = self.platform
        assert p is not None and self.telegram is not None
        header = Text.assemble(
            ("ATP demo ", "bold"), f"dashboard http://127.0.0.1:{self.port}  ",
            f"API token {DEMO_API_TOKEN}  ",
            (f"faults: {', '.join(self.faults) or 'none'}", "yellow" if self.faults else "dim"),
        )
        last = p.monitor.last
        cycle = ("waiting for the first cycle…" if last is None else
                 f"cycle {last.cycle_id}: {last.symbols} symbols in {last.duration_ms:.0f} ms, "
                 f"scheduler ticks {p.scheduler_ticks}, monitor ticks {p.monitor.ticks}"
                 + (" — STALLED" if p.monitor.stalled else ""))
        table = Table("symbol", "price", "decision", "buy index", "reasons", expand=True)
        colours = {"BUY": "green", "SELL": "red", "WAIT": "yellow"}
        for coin in self._coins:
            if coin["decision"] is None:
                table.add_row(coin["symbol"], "-", "unknown", "-", coin["error"] or "")
                continue
            price = coin["price"]
            table.add_row(coin["symbol"], "-" if price is None else f"{price:.6g}",
                          f"[{colours[coin['decision']]}]{coin['decision']}[/]",
                          str(coin["buy_index"]), (coin["reasons"] or [""])[0][:70])
        outcomes = self._outcomes
        messages = self.telegram.received(DEMO_CHAT)
        alerts = Text(
            "Alert outcomes: " + ", ".join(f"{k} {v}" for k, v in sorted(outcomes.items()))
            + f"   |   delivered to the emulated chat: {len(messages)}"
        )
        last_msg = Text("Last message: " + (messages[-1].text.splitlines()[0] if messages
                                            else "none yet"), style="cyan")
        return Group(header, Text(cycle), table, alerts, last_msg, self._trading_view(),
                     Text("Ctrl-C stops everything.", style="dim"))

    def _trading_view(self) -> Text:
        """Orders and positions, as the core reports them (dashboard → Trading)."""
        t = self._trading
        if not t:
            return Text("Trading: …", style="dim")
        state, intents = t["state"], t["intents"]
        counts: dict[str, int] = {}
        for intent in intents["intents"]:
            counts[intent["outcome"]] = counts.get(intent["outcome"], 0) + 1
        mode = "LIVE (on the demo's emulator)" if state["mode"] == "live" else "dry run"
        line = (f"Trading ({mode}{', KILL SWITCH ON' if state['kill_switch'] else ''}): "
                f"{intents['total']} order intents ("
                + (", ".join(f"{k.lower()} {v}" for k, v in sorted(counts.items())) or "none")
                + ")")
        rejected = intents.get("rejections_by_code") or {}
        if rejected:
            line += " · rejected " + ", ".join(f"{c} ×{n}" for c, n in rejected.items())
        positions = []
        for p in t["positions"]["positions"]:
            prot = p.get("protection") or {}
            positions.append(f"{p['symbol']} {p['quantity']:g}" + (
                f" SL {prot.get('stop_loss'):g} / TP {prot.get('take_profit'):g}"
                if p["protected"] else " UNPROTECTED"))
        line += "\nPositions: " + ("; ".join(positions) or "none open")
        return Text(line, style="magenta")

    async def refresh(self) -> None:
        """What the view shows, read through the core (the record every channel reads)."""
        assert self.platform is not None
        try:
            self._coins = await self.platform.core.coins()
            counts = await self.platform.core.summary_counts(None)
            core = self.platform.core
            self._trading = {"state": await core.trading_state(),
                             "intents": await core.order_intents(limit=200),
                             "positions": await core.positions()}
        except Exception:  # the view must never stop the demo
            return
        self._outcomes = {k.upper(): v for k, v in counts["outcomes"].items() if v}


async def run_demo(port: int, faults: Sequence[str], duration: float | None = None,
                   live: bool = True, workdir: Path | None = None,
                   on_ready: Callable[[int], None] | None = None) -> None:
    """Run until SIGINT/SIGTERM (or `duration`); `on_ready(port)` once the API accepts."""
    demo = Demo(port=port, faults=list(faults), workdir=workdir)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    try:
        await demo.start()
        if on_ready is not None:
            on_ready(demo.port)
        console = Console()
        if live:
            loop_time = asyncio.get_running_loop().time
            deadline = None if duration is None else loop_time() + duration
            await demo.refresh()
            with Live(demo.view(), console=console, refresh_per_second=2) as view:
                while not stop.is_set():
                    pause = 1.0 if deadline is None else min(1.0, deadline - loop_time())
                    if pause <= 0:
                        break
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), timeout=pause)
                    await demo.refresh()
                    view.update(demo.view())
        else:
            console.print(f"ATP demo on http://127.0.0.1:{demo.port} "
                          f"(log {demo.workdir}/atp.log)")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=duration)
    finally:
        await demo.stop()

