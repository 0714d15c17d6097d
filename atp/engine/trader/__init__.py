"""The trader: accepted alerts → order intents → one order outcome each (business-rules §6).

- `atp.engine.intents.record_intent` runs inside the alert pipeline's transaction: an
  accepted alert on a trade-enabled symbol can never lose its intent.
- `Trader.run_once` ends every PENDING intent with exactly one outcome: BLOCKED (a gate,
  the kill switch, live refused), PLACED → FILLED / CANCELLED, REJECTED (code + message)
  or FAILED. Before an order is sent its row is written with `unknown` set; only the
  broker's answer clears it. A crash in between leaves an order to look up by its
  client_oid — never one to send again blind (never a duplicate).
- `Trader.sync_once` (one replica, under a lease) reads the state of every open ATP order,
  records fills, positions and realised P&L, removes the other leg of a filled SL/TP
  pair, records orders cancelled outside ATP without fighting them, and retries the
  protection of a filled entry until it holds (never naked for long, always told).

The trader is one class built in layers, one module each; a layer uses only the ones
below it (the arrows point one way):

- `base.py` — the fields (the attribute state), the stats, the snapshots read from the
  store, and the helpers every layer shares (journal event, Telegram notice, the last
  private order call, broker look-ups).
- `state.py` — switches and state: the live switch, the kill switch, why live is refused,
  the mode, `GET /api/trading/state` and the positions' view.
- `protection.py` — SL/TP: placing (or finding) the pair of a filled entry, retry with
  backoff while it is naked.
- `intents.py` — order intents: the gates (kill switch, live refusal, buy gate, nothing
  to sell), placing entries and exits write-ahead, and recording each outcome.
- `sync.py` — sync: reading open orders, fills, SL/TP legs, resends, start-up
  reconciliation; and /panic.
- `loop.py` — `Trader`: one round (lease, reconciliation, intents, sync) and the worker.
"""

from atp.engine.trader.base import TraderStats
from atp.engine.trader.loop import Trader

__all__ = ["Trader", "TraderStats"]
