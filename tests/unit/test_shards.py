"""The watchlist's split between replicas: a stable hash, a fair share, readable sets."""

from __future__ import annotations

from collections import Counter

from atp.domain.shards import fair_share, ranges, shard_of
from atp.engine.shards import replicas_view, shard_index


def test_a_symbols_shard_is_stable_across_processes_and_case() -> None:
    # CRC-32, not Python's per-process string hash: every replica computes the same split
    assert [shard_of(s, 8) for s in ("BTC_USDT", "ETH_USDT", "SOL_USDT")] == [0, 2, 4]
    assert shard_of("btc_usdt", 8) == shard_of("BTC_USDT", 8)
    assert shard_of("BTC_USDT", 1) == 0


def test_a_thousand_symbols_spread_over_every_shard() -> None:
    counts = Counter(shard_of(f"C{n}_USDT", 8) for n in range(1000))
    assert set(counts) == set(range(8)) and max(counts.values()) < 1.25 * 1000 / 8


def test_the_fair_share_is_the_ceiling_of_shards_per_live_replica() -> None:
    assert [fair_share(8, n) for n in (0, 1, 2, 3, 8, 9)] == [8, 8, 4, 3, 1, 1]


def test_shard_sets_read_as_ranges() -> None:
    assert ranges([0, 1, 2, 5, 7, 6]) == "0-2,5-7"
    assert ranges([3]) == "3" and ranges([]) == "none"


def test_the_replicas_view_names_every_lease_generically() -> None:
    a, b = "a@h/1/x", "b@h/2/y"
    rows = [{"name": f"presence:{a}", "holder": a}, {"name": f"presence:{b}", "holder": b},
            {"name": f"replica:{a}", "holder": a}, {"name": "shard:0", "holder": a},
            {"name": "shard:2", "holder": b}, {"name": "telegram-sender", "holder": a},
            {"name": "reports", "holder": b}, {"name": "shard:1", "holder": "c@h/3/z"}]
    view = replicas_view(rows, "presence:", a, 4, sharded=True)
    assert view["unowned_shards"] == [3]
    by = {r["owner"]: r for r in view["replicas"]}
    assert by[a]["shards"] == [0] and by[a]["holds"] == ["telegram-sender"] and by[a]["me"]
    assert by[b]["holds"] == ["reports"] and by[b]["alive"]
    assert not by["c@h/3/z"]["alive"] and view["replicas"][-1]["owner"] == "c@h/3/z"
    solo = replicas_view(rows[:1], "presence:", a, 4, sharded=False)
    assert solo["replicas"][0]["shards"] == [0, 1, 2, 3] and solo["unowned_shards"] == []
    assert shard_index("shard:12") == 12 and shard_index("shard:x") is None
    assert shard_index("telegram-sender") is None
