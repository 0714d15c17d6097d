"""Audited writes: watchlist rows, presets and settings, each change with its author.

Each function runs in the database writer thread inside one `UnitOfWork`, so the change
and its audit rows commit together or not at all (failure mode 15: edits that vanished).
Validation of preset values is the domain's (`atp.domain.presets`), shared with Telegram
and the engine; a refused change raises `Refused` with the field and the reason.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from atp.api.queries import PRESET_FIELDS, WATCHLIST_FIELDS
from atp.domain.presets import PresetError, apply_overrides
from atp.store import repository as repo
from atp.store.models import AuditLogRow, PresetRow, SettingRow, WatchlistRow

LIVE_TRADING = "live_trading"


class Refused(Exception):
    """A change the API refuses: `status` 404 / 409 / 422, `loc` names the field."""

    def __init__(self, status: int, message: str, loc: list[str | int] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.loc = status, message, loc


def _audit(session: Session, *, at: datetime, author: str, entity: str, key: str, field: str,
           old: Any, new: Any) -> None:
    session.add(AuditLogRow(at=at, author=author, entity=entity, entity_key=key, field=field,
                            old_value=old, new_value=new))


def _check_preset_and_overrides(
    session: Session, preset: str, overrides: dict[str, Any], loc_prefix: str
) -> None:
    """The preset must exist and the overrides must give a valid preset on top of it."""
    row = session.get(PresetRow, preset)
    if row is None:
        names = ", ".join(session.scalars(select(PresetRow.name).order_by(PresetRow.name)))
        raise Refused(422, f"unknown preset {preset!r} (known: {names})", ["body", "preset"])
    try:
        apply_overrides(repo.preset_of(row), overrides)
    except PresetError as exc:
        field, why = next(iter(exc.problems.items()))
        raise Refused(422, f"{field}: {why}", ["body", loc_prefix, field]) from None


def _row_dict(row: WatchlistRow) -> dict[str, Any]:
    return {f: getattr(row, f) for f in WATCHLIST_FIELDS}


def _jsonable(values: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in values.items()}


def create_symbol(session: Session, values: dict[str, Any], author: str,
                  now: datetime) -> dict[str, Any]:
    symbol = values["symbol"]
    if session.scalars(select(WatchlistRow.id).where(WatchlistRow.symbol == symbol)).first():
        raise Refused(409, f"{symbol} is already on the watchlist", ["body", "symbol"])
    _check_preset_and_overrides(session, values["preset"], values["overrides"], "overrides")
    row = WatchlistRow(**values, created_at=now, updated_at=now)
    session.add(row)
    session.flush()
    created = _row_dict(row)
    _audit(session, at=now, author=author, entity="watchlist", key=symbol, field="row",
           old=None, new=_jsonable({k: v for k, v in created.items()
                                    if k not in ("created_at", "updated_at")}))
    return created


def update_symbol(session: Session, symbol: str, changes: dict[str, Any], author: str,
                  now: datetime) -> dict[str, Any]:
    row = session.scalars(select(WatchlistRow).where(WatchlistRow.symbol == symbol)).first()
    if row is None:
        raise Refused(404, f"{symbol} is not on the watchlist")
    if "preset" in changes or "overrides" in changes:
        _check_preset_and_overrides(session, changes.get("preset", row.preset),
                                    changes.get("overrides", row.overrides or {}), "overrides")
    changed = False
    for field, new in changes.items():
        old = getattr(row, field)
        if old != new:
            setattr(row, field, new)
            _audit(session, at=now, author=author, entity="watchlist", key=symbol,
                   field=field, old=old, new=new)
            changed = True
    if changed:
        row.updated_at = now
    session.flush()
    return _row_dict(row)


def delete_symbol(session: Session, symbol: str, author: str, now: datetime) -> None:
    row = session.scalars(select(WatchlistRow).where(WatchlistRow.symbol == symbol)).first()
    if row is None:
        raise Refused(404, f"{symbol} is not on the watchlist")
    old = _jsonable({k: v for k, v in _row_dict(row).items()
                     if k not in ("created_at", "updated_at")})
    session.delete(row)
    _audit(session, at=now, author=author, entity="watchlist", key=symbol, field="row",
           old=old, new=None)


def update_preset(session: Session, name: str, changes: dict[str, Any], author: str,
                  now: datetime) -> dict[str, Any]:
    row = session.get(PresetRow, name)
    if row is None:
        raise Refused(404, f"no preset named {name!r}")
    current = repo.preset_of(row)
    try:
        updated = apply_overrides(current, changes)
    except PresetError as exc:
        field, why = next(iter(exc.problems.items()))
        raise Refused(422, f"{field}: {why}", ["body", field]) from None
    updated = replace(updated, name=name)
    for field, new in updated.to_dict().items():
        old = getattr(row, field)
        if field != "name" and old != new:
            setattr(row, field, new)
            _audit(session, at=now, author=author, entity="preset", key=name, field=field,
                   old=old, new=new)
    row.updated_at, row.updated_by = now, author
    session.flush()
    return {f: getattr(row, f) for f in PRESET_FIELDS}


def set_setting(session: Session, key: str, value: Any, author: str,
                now: datetime) -> dict[str, Any]:
    row = session.get(SettingRow, key)
    old = None if row is None else row.value
    if row is None:
        row = SettingRow(key=key, value=value, updated_at=now, updated_by=author)
        session.add(row)
    elif old != value:
        row.value, row.updated_at, row.updated_by = value, now, author
    if old != value:
        _audit(session, at=now, author=author, entity="setting", key=key, field="value",
               old=old, new=value)
    session.flush()
    return {"key": key, "value": row.value, "updated_at": row.updated_at,
            "updated_by": row.updated_by}
