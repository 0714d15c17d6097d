"""Application services: scheduler, monitor cycle, alert pipeline, outbox, trader.

They orchestrate the pure `domain` rules and the adapters (store, exchange, telegram),
which they see through the small interfaces in `ports.py`.
"""
