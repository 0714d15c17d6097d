"""On SQLite, reads never hold the write lock (issue 14): while a reader's transaction is
open, a writer commits at once instead of waiting out the busy timeout."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from sqlalchemy import func, select

from atp.store import migrate
from atp.store import repository as repo
from atp.store.database import Database
from atp.store.models import OutboxRow


def test_an_open_read_transaction_does_not_block_a_writer(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'atp.db'}"
    migrate.upgrade(url)
    db = Database(url)
    wrote = threading.Event()
    try:
        with db.read_sessions() as reader, reader.begin():
            assert reader.scalar(select(func.count(OutboxRow.id))) == 0  # transaction open

            def write() -> None:
                with db.unit("test") as uow:
                    repo.enqueue(uow.session, kind="alert", chat_id="1", text="x",
                                 origin="t", at=datetime.now(UTC))
                wrote.set()

            writer = threading.Thread(target=write)
            writer.start()
            # with the write lock taken by the reader, this would wait 15 s (busy timeout)
            assert wrote.wait(5), "the writer waited for the reader's transaction"
            writer.join()
        with db.read_sessions() as reader:
            assert reader.scalar(select(func.count(OutboxRow.id))) == 1
    finally:
        db.close()
