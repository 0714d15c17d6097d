"""Figure: bytes of the dashboard's watchlist feed (`/api/market/top-coins-data`) per
refresh at 1,000 symbols: the whole list (what every caller got before paging) next to
the dashboard's page (`limit`, `compact`) and the selected symbol's full record.

One monitor cycle over 1,000 synthetic symbols (SQLite in a temp dir) stores real
decisions; the API app is called in-process (httpx's ASGI transport), gzip off, so the
figure is the JSON body. Target (issue 14, "paged or compact dashboard feeds"): the
dashboard's refresh ≤ 100 KB at 1,000 symbols.

    .venv/bin/python bench/feed_bytes.py [--symbols 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

import httpx
from _result import emit, row

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from health_latency import SyntheticMarket

from atp.api.app import create_app
from atp.config import Settings
from atp.engine.service import Platform
from atp.logging import setup_logging
from atp.store import migrate
from atp.store import repository as repo
from atp.store.uow import UnitOfWork

TARGET_KB = 100
PAGE = 100  # the dashboard's page size (atp/web/static/app.js WATCHLIST_PAGE)


async def main(symbols: int) -> None:
    setup_logging("WARNING", None, console=False)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        migrate.upgrade(url)
        names = [f"SYN{i:04d}_USDT" for i in range(symbols)]
        settings = Settings(_env_file=None, database_url=url, instance_name="bench",  # type: ignore[call-arg]
                            telegram_chat_id="1", production=False)
        platform = Platform(settings, market=SyntheticMarket(names), sender=None)
        with UnitOfWork(platform.db.sessions, "bench_seed") as uow:
            repo.add_symbols(uow.session, names, "swing-aggressive")
        await platform.monitor.run_cycle()
        transport = httpx.ASGITransport(app=create_app(platform))
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            async def get(path: str) -> tuple[int, float]:
                t0 = time.perf_counter()
                reply = await client.get(path)
                reply.raise_for_status()
                return len(reply.content), (time.perf_counter() - t0) * 1000

            feed = "/api/market/top-coins-data"
            full, full_ms = await get(feed)
            page, page_ms = await get(f"{feed}?limit={PAGE}&offset=0&compact=true")
            one, _ = await get(f"{feed}?symbols={names[0]}")
        platform.db.close()
    refresh = page + one
    print(f"top-coins-data at {symbols} symbols (JSON body, no gzip):")
    print(f"  whole list (before paging, still the default): {full / 1000:8.1f} KB "
          f"({full / symbols:.0f} B/symbol, {full_ms:.0f} ms)")
    print(f"  dashboard page ({PAGE}, compact):               {page / 1000:8.1f} KB "
          f"({page_ms:.0f} ms)")
    print(f"  selected symbol, full record:                  {one / 1000:8.1f} KB")
    print(f"  dashboard refresh (page + selected):           {refresh / 1000:8.1f} KB "
          f"(target <= {TARGET_KB} KB)")
    emit([row(f"watchlist feed, whole list, {symbols} symbols", full / 1000, "KB"),
          row(f"dashboard refresh bytes, {symbols} symbols", refresh / 1000, "KB",
              f"≤ {TARGET_KB} KB", refresh / 1000 <= TARGET_KB)])


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--symbols", type=int, default=1000)
    asyncio.run(main(parser.parse_args().symbols))
