"""A Telegram Bot API emulator: the real python-telegram-bot talks to it over loopback.

    async with TelegramEmulator(tokens=[TOKEN]) as tg:
        bot = Bot(TOKEN, base_url=f"{tg.base_url}/bot")
        await tg.post_user_message(42, "/status")
        await tg.wait_for_message(42, "status")
        await tg.set_fault("outage")
"""

from atp.emulators.telegram.faults import Fault, FaultSpec, fault_name
from atp.emulators.telegram.server import TelegramEmulator
from atp.emulators.telegram.state import BotApiError, ChatMessage

__all__ = [
    "BotApiError",
    "ChatMessage",
    "Fault",
    "FaultSpec",
    "TelegramEmulator",
    "fault_name",
]
