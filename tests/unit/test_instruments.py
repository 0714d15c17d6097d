"""A watchlist symbol must be an instrument the exchange lists."""

from __future__ import annotations

import pytest

from atp.domain.errors import FieldError
from atp.domain.instruments import NotListedError, check_listed

LISTED = frozenset({"BTC_USDT", "ETH_USDT", "SOL_USDT", "BTC_USD"})


def test_a_listed_symbol_passes():
    check_listed("ETH_USDT", LISTED)


def test_an_unlisted_symbol_is_refused_naming_the_field_and_close_matches():
    with pytest.raises(NotListedError) as err:
        check_listed("BTC_USDTT", LISTED)
    assert err.value.field == "symbol"
    why = err.value.problems["symbol"]
    assert why.startswith("BTC_USDTT is not an instrument the exchange lists")
    assert "did you mean BTC_USDT" in why
    assert isinstance(err.value, FieldError)


def test_without_a_close_match_the_fix_names_the_format():
    with pytest.raises(NotListedError, match=r"e\.g\. BTC_USDT"):
        check_listed("ZZZ_QQQ", LISTED, exchange="Crypto.com")


def test_field_and_exchange_are_named_as_asked():
    with pytest.raises(NotListedError) as err:
        check_listed("DOGE_USDT", LISTED, field="instrument", exchange="Crypto.com")
    assert list(err.value.problems) == ["instrument"]
    assert "Crypto.com" in err.value.problems["instrument"]


def test_an_empty_list_refuses_and_an_unknown_list_allows():
    with pytest.raises(NotListedError):
        check_listed("BTC_USDT", [])
    check_listed("ANY_THING", None)  # the exchange could not be asked: not a refusal
