"""Persistence: SQLAlchemy models, migrations, engine set-up, unit of work, the journal."""
