"""Whether a symbol is an instrument the exchange lists (business rule: a watchlist row
for a pair the exchange does not trade could never get a price, only WAIT forever).

Pure: the caller passes the exchange's list (the market data service caches it); this
module only decides and words the refusal.
"""

from __future__ import annotations

import difflib
from collections.abc import Collection

from atp.domain.errors import FieldError


class NotListedError(FieldError):
    """The symbol is not among the exchange's instruments; `problems["symbol"]` says so."""


def check_listed(symbol: str, listed: Collection[str] | None, *, field: str = "symbol",
                 exchange: str = "the exchange") -> None:
    """Refuse `symbol` unless `listed` contains it.

    `listed` None means the list is unknown (the exchange could not be asked): the write
    is allowed, since refusing every edit during an exchange outage would be worse, and
    the monitor records WAIT with the exchange's error for a symbol it cannot price.
    An empty list is a real answer and refuses everything.
    """
    if listed is None or symbol in listed:
        return
    close = difflib.get_close_matches(symbol, sorted(listed), n=3, cutoff=0.6)
    hint = f"; did you mean {', '.join(close)}?" if close else (
        "; use the exchange's instrument name, e.g. BTC_USDT")
    raise NotListedError({field: f"{symbol} is not an instrument {exchange} lists{hint}"})
