"""Watchlist rows, presets and settings: the audited writes, each change with its author.

Only rows and audit trail live here; what a change may be is the core's to decide
(`atp.engine.core` validates, then calls these inside the same unit of work, so the
change and its audit rows commit together or not at all: failure mode 15).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from atp.domain.presets import Preset
from atp.store import repository as repo
from atp.store.models import AuditLogRow, PresetRow, SettingRow, WatchlistRow
from atp.store.queries import PRESET_FIELDS, WATCHLIST_FIELDS


def _audit(session: Session, *, at: datetime, author: str, entity: str, key: str, field: str,
           old: Any, new: Any) -> None:
    session.add(AuditLogRow(at=at, author=author, entity=entity, entity_key=key, field=field,
                            old_value=old, new_value=new))


def _row_dict(row: WatchlistRow) -> dict[str, Any]:
    return {f: getattr(row, f) for f in WATCHLIST_FIELDS}


def _jsonable(values: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in values.items()
            if k not in ("created_at", "updated_at")}


def _watch_row(session: Session, symbol: str) -> WatchlistRow | None:
    return session.scalars(select(WatchlistRow).where(WatchlistRow.symbol == symbol)).first()


def watch_row(session: Session, symbol: str) -> dict[str, Any] | None:
    row = _watch_row(session, symbol)
    return None if row is None else _row_dict(row)


def preset(session: Session, name: str) -> Preset | None:
    row = session.get(PresetRow, name)
    return None if row is None else repo.preset_of(row)


def preset_names(session: Session) -> list[str]:
    return list(session.scalars(select(PresetRow.name).order_by(PresetRow.name)))


def insert_watch_row(session: Session, values: dict[str, Any], author: str,
                     now: datetime) -> dict[str, Any]:
    row = WatchlistRow(**values, created_at=now, updated_at=now)
    session.add(row)
    session.flush()
    created = _row_dict(row)
    _audit(session, at=now, author=author, entity="watchlist", key=row.symbol, field="row",
           old=None, new=_jsonable(created))
    return created


def update_watch_row(session: Session, symbol: str, changes: dict[str, Any], author: str,
                     now: datetime) -> dict[str, Any]:
    """Apply `changes`, one audit row per field that really changed."""
    row = _watch_row(session, symbol)
    if row is None:
        raise LookupError(symbol)
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


def delete_watch_row(session: Session, symbol: str, author: str, now: datetime) -> bool:
    row = _watch_row(session, symbol)
    if row is None:
        return False
    old = _jsonable(_row_dict(row))
    session.delete(row)
    _audit(session, at=now, author=author, entity="watchlist", key=symbol, field="row",
           old=old, new=None)
    return True


def update_preset_row(session: Session, updated: Preset, author: str,
                      now: datetime) -> dict[str, Any]:
    row = session.get(PresetRow, updated.name)
    if row is None:
        raise LookupError(updated.name)
    for field, new in updated.to_dict().items():
        old = getattr(row, field)
        if field != "name" and old != new:
            setattr(row, field, new)
            _audit(session, at=now, author=author, entity="preset", key=updated.name,
                   field=field, old=old, new=new)
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


def get_setting(session: Session, key: str) -> Any:
    row = session.get(SettingRow, key)
    return None if row is None else row.value
