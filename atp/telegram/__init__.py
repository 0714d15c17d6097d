"""Telegram adapter: alerts out (sender), commands in (poller), and the message format.

python-telegram-bot stops at this package's edge: callers see `TransientSendError` /
`PermanentSendError`, a `CommandCore` protocol and plain strings.
"""
