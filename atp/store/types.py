"""Column types that behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import fields
from datetime import UTC, datetime
from functools import cache
from typing import Any

from sqlalchemy import JSON, DateTime
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on every backend.

    PostgreSQL stores `timestamptz`; SQLite has no time zones, so values are stored as naive
    UTC text (which sorts correctly, keeping range queries right) and come back aware.
    Naive datetimes are rejected on write: "local or UTC?" is a bug waiting to happen, and
    the platform's clocks always hand out aware UTC times.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r}: pass an aware datetime (UTC)")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


# The decision columns (`decisions.flags`, `decisions.indicators`) are most of a decision
# row, and a busy day writes tens of thousands of rows at 1,000 symbols (issue 14: < 1 GB
# for 30 days). Their keys are always the same names in the same order, so the names were
# most of those columns' bytes. The types below drop them when the keys are exactly the
# canonical set and keep plain JSON otherwise (older rows, partial dicts in tests).
#
# The columns stay `JSON` on both backends: the compact forms are JSON values themselves
# (a string, an array), so the DDL, the migrations and the drivers' JSON handling stay as
# they are (psycopg hands back parsed JSON, SQLite text that SQLAlchemy parses); rows
# written before read back unchanged, and no migration is needed. The price: the flag
# code's two quote characters.
#
# Both encodings are positional: the canonical orders are part of the stored format.
# Reordering FLAG_NAMES or the Indicators fields would misread stored rows, and adding a
# name makes the old ones fail to decode (a length check, never a silent shift); such a
# change needs a new encoding beside these (tests/unit/test_store_types.py pins them).
# The domain modules are imported on first use: they load TA-Lib and numpy, which
# processes that only open the database (migrations, `atp db ...`) do not need.


@cache
def indicator_keys() -> tuple[str, ...]:
    """What a decision row's `indicators` holds: the `Indicators` fields in their order,
    then the price's age, which the monitor stores beside them (engine/monitor.py)."""
    from atp.domain.indicators import Indicators

    return (*(f.name for f in fields(Indicators)), "price_age_seconds")


class DecisionFlags(TypeDecorator[dict[str, Any]]):
    """`{flag: True | False | None}` stored as its flag code (domain/flagcode.py, one
    character a flag: `"FFFTTF-F"`) instead of ~180 bytes of JSON. Any other dict (other
    keys, non-boolean values) is stored as the JSON object it is. Reads accept both, so
    rows written before this encoding stay readable as they are."""

    impl = JSON
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        from atp.domain.flagcode import encode_flags, is_canonical

        if isinstance(value, dict) and is_canonical(value):
            return encode_flags(value)
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        from atp.domain.flagcode import decode_flags

        if isinstance(value, str):
            return decode_flags(value)
        return value  # a JSON object: the general (and the older) form


class DecisionIndicators(TypeDecorator[dict[str, Any]]):
    """`{indicator: value}` stored as a JSON array of the values in `indicator_keys()`
    order when its keys are exactly those: `[1.5,42.0,null,...]` instead of repeating the
    names in every row. Values are JSON numbers either way, so floats round-trip exactly
    (JSON writes a float's shortest exact repr). Any other dict is stored as the JSON
    object it is; reads accept both (rows written before stay readable)."""

    impl = JSON
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if isinstance(value, dict) and value.keys() == set(indicator_keys()):
            return [value[key] for key in indicator_keys()]
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        if not isinstance(value, list):
            return value  # a JSON object: the general (and the older) form
        keys = indicator_keys()
        if len(value) != len(keys):
            raise ValueError(f"decision indicators {value!r}: not {len(keys)} values")
        return dict(zip(keys, value, strict=True))
