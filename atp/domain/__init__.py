"""The pure core: indicators, presets, signals, throttle, order rules.

Nothing in this package does I/O, reads a clock or logs: every function takes its inputs,
including `now`, so the monitor, `atp analyze`, the API and the integrity check all call
the same rules and tests need no mocks.
"""
