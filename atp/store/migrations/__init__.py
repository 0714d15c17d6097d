"""Alembic migrations, shipped inside the package so `atp db upgrade` works anywhere."""
