"""The emulated Bot API itself: bots, chats, the update queue, and the methods.

Kept apart from the HTTP server so the semantics (offsets, long polling, 409s, faults) read
in one place. Behaviour follows https://core.telegram.org/bots/api as the real server
answers it, including the error descriptions python-telegram-bot maps to exceptions.
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from atp.emulators.clock import EmulatorClock, RealClock
from atp.emulators.telegram.faults import FaultState

TOKEN_RE = re.compile(r"^(\d{1,20}):[A-Za-z0-9_-]{1,200}$")
MAX_POLL_TIMEOUT = 50.0  # what Telegram caps long polling at
MAX_TEXT = 4096
MAX_CALLBACK_DATA = 64  # bytes, per InlineKeyboardButton.callback_data
MAX_CALLBACK_ANSWER = 200  # characters, per answerCallbackQuery.text
# Telegram forgets an unanswered callback query after some seconds (undocumented; bots
# report 10-20 s); answering it later, twice, or an id never issued: QUERY_TOO_OLD.
CALLBACK_TTL = 15.0
QUERY_TOO_OLD = "query is too old and response timeout expired or query ID is invalid"
NOT_MODIFIED = ("message is not modified: specified new message content and reply markup "
                "are exactly the same as a current content and reply markup of the message")
UPDATE_TYPES = ("message", "edited_message", "channel_post", "edited_channel_post",
                "callback_query", "inline_query", "chosen_inline_result", "my_chat_member")

CONFLICT_OTHER_POLLER = (
    "Conflict: terminated by other getUpdates request; "
    "make sure that only one bot instance is running"
)
CONFLICT_WEBHOOK = (
    "Conflict: can't use getUpdates method while webhook is active; "
    "use deleteWebhook to delete the webhook first"
)


class BotApiError(Exception):
    """An error answer of the Bot API: HTTP status == error_code, as Telegram does."""

    def __init__(
        self, code: int, description: str, parameters: Mapping[str, object] | None = None
    ) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.parameters = dict(parameters) if parameters else None

    def payload(self) -> dict[str, object]:
        body: dict[str, object] = {
            "ok": False, "error_code": self.code, "description": self.description
        }
        if self.parameters:
            body["parameters"] = self.parameters
        return body


def bad_request(what: str) -> BotApiError:
    return BotApiError(400, f"Bad Request: {what}")


@dataclass
class ChatMessage:
    """One message in a chat, as the control API reports it."""

    message_id: int
    chat_id: int
    text: str
    date: int
    from_bot: bool
    sender_id: int
    parse_mode: str | None = None
    reply_markup: object | None = None
    edit_date: int | None = None  # set by editMessageText / editMessageReplyMarkup
    edits: int = 0

    def as_dict(self) -> dict[str, object]:
        return {
            "message_id": self.message_id,
            "chat_id": self.chat_id,
            "text": self.text,
            "date": self.date,
            "from_bot": self.from_bot,
            "sender_id": self.sender_id,
            "parse_mode": self.parse_mode,
            "reply_markup": self.reply_markup,
            "edit_date": self.edit_date,
        }

    def callback_data(self) -> list[str]:
        """The callback_data of every button of the message's inline keyboard."""
        rows = (self.reply_markup or {}).get("inline_keyboard", []) if isinstance(
            self.reply_markup, dict) else []
        return [b["callback_data"] for row in rows for b in row
                if isinstance(b, dict) and "callback_data" in b]


@dataclass
class CallbackQuery:
    """A button press waiting for answerCallbackQuery (valid once, until it expires)."""

    id: str
    chat_id: int
    message_id: int
    data: str
    from_id: int
    at: float
    answered: bool = False
    answer: dict[str, object] | None = None


@dataclass
class Chat:
    id: int
    first_name: str = "Tester"
    username: str | None = None
    title: str | None = None
    messages: list[ChatMessage] = field(default_factory=list)
    next_message_id: int = 1

    @property
    def type(self) -> str:
        return "private" if self.id > 0 else "group"

    def api(self) -> dict[str, object]:
        out: dict[str, object] = {"id": self.id, "type": self.type}
        if self.type == "private":
            out["first_name"] = self.first_name
            if self.username:
                out["username"] = self.username
        else:
            out["title"] = self.title or f"Group {self.id}"
        return out


class _Poll:
    """A getUpdates request that is waiting; woken with the reason it should re-check."""

    def __init__(self) -> None:
        self.woken: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    def wake(self, reason: str) -> None:
        if not self.woken.done():
            self.woken.set_result(reason)


@dataclass
class Bot:
    """One bot (one token): its update queue, webhook and the getUpdates call in flight."""

    id: int
    token: str
    username: str
    updates: list[dict[str, Any]] = field(default_factory=list)
    next_update_id: int = 1
    webhook_url: str = ""
    poll: _Poll | None = None
    # getUpdates' allowed_updates, remembered until changed (as Telegram does); empty =
    # every type except the opt-in ones.
    allowed_updates: tuple[str, ...] = ()

    def wants(self, update: Mapping[str, Any]) -> bool:
        kinds = self.allowed_updates or UPDATE_TYPES
        return any(k in update for k in kinds)

    def user(self) -> dict[str, object]:
        return {
            "id": self.id,
            "is_bot": True,
            "first_name": "ATP Emulator",
            "username": self.username,
        }

    def confirm(self, offset: int | None) -> None:
        """Telegram semantics: ids below `offset` are forgotten; negative = keep the tail."""
        if offset is None or offset == 0:
            return
        if offset < 0:
            del self.updates[: max(0, len(self.updates) + offset)]
        else:
            self.updates = [u for u in self.updates if u["update_id"] >= offset]


class EmulatorState:
    """All bots, chats and faults, with the Bot API methods as async functions."""

    def __init__(
        self,
        tokens: Iterable[str] | None = None,
        *,
        strict_chats: bool = False,
        clock: EmulatorClock | None = None,
        max_poll_timeout: float = MAX_POLL_TIMEOUT,
    ) -> None:
        self.clock = clock or RealClock()
        self.faults = FaultState()
        self.strict_chats = strict_chats
        self.max_poll_timeout = max_poll_timeout
        self.any_token = tokens is None
        self.bots: dict[str, Bot] = {}
        self.chats: dict[int, Chat] = {}
        self.calls: Counter[str] = Counter()
        self.callbacks: dict[str, CallbackQuery] = {}
        self._next_callback = 1
        self._changed = asyncio.Condition()
        for token in tokens or ():
            self.add_token(token)

    # --- registry -----------------------------------------------------------------------

    def add_token(self, token: str) -> Bot:
        m = TOKEN_RE.match(token)
        if m is None:
            raise ValueError("a bot token looks like 123456:ABC-DEF (digits, colon, secret)")
        bot = self.bots.get(token)
        if bot is None:
            bot_id = int(m.group(1))
            bot = Bot(id=bot_id, token=token, username=f"atp_emulator_{bot_id}_bot")
            self.bots[token] = bot
        return bot

    def bot_for(self, token: str) -> Bot:
        if self.faults.invalid_token:
            raise BotApiError(401, "Unauthorized")
        bot = self.bots.get(token)
        if bot is None:
            if not self.any_token or TOKEN_RE.match(token) is None:
                raise BotApiError(401, "Unauthorized")
            bot = self.add_token(token)
        return bot

    def default_bot(self, token: str | None = None) -> Bot:
        if token is not None:
            return self.add_token(token) if self.any_token else self.bots[token]
        if not self.bots:
            raise LookupError("no bot has been used yet; pass the token explicitly")
        return next(iter(self.bots.values()))

    def add_chat(
        self, chat_id: int, *, first_name: str = "Tester", username: str | None = None,
        title: str | None = None,
    ) -> Chat:
        chat = self.chats.get(chat_id)
        if chat is None:
            chat = Chat(id=chat_id, first_name=first_name, username=username, title=title)
            self.chats[chat_id] = chat
        return chat

    def _chat(self, raw: object) -> Chat:
        try:
            chat_id = int(str(raw))
        except ValueError:
            raise bad_request("chat not found") from None
        chat = self.chats.get(chat_id)
        if chat is None:
            if self.strict_chats:
                raise bad_request("chat not found")
            chat = self.add_chat(chat_id)
        return chat

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def wait_until(self, predicate: Callable[[], bool], timeout: float) -> None:
        """Wait (bounded) until `predicate()` holds; re-checked after every change."""
        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(predicate)

    # --- control ------------------------------------------------------------------------

    async def post_user_message(
        self, chat_id: int, text: str, *, token: str | None = None, from_id: int | None = None,
        first_name: str = "Tester", username: str | None = None,
    ) -> dict[str, Any]:
        """A user writes `text` in `chat_id`: it becomes an update for the bot."""
        bot = self.default_bot(token)
        chat = self.add_chat(chat_id, first_name=first_name, username=username)
        sender = from_id if from_id is not None else (chat_id if chat_id > 0 else 1)
        msg = self._append(chat, text, from_bot=False, sender_id=sender)
        message: dict[str, Any] = {
            "message_id": msg.message_id,
            "from": {"id": sender, "is_bot": False, "first_name": first_name},
            "chat": chat.api(),
            "date": msg.date,
            "text": text,
        }
        if username:
            message["from"]["username"] = username
        if text.startswith("/"):
            length = len(text.split(maxsplit=1)[0])
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": length}]
        update = {"update_id": bot.next_update_id, "message": message}
        bot.next_update_id += 1
        bot.updates.append(update)
        if bot.poll is not None:
            bot.poll.wake("update")
        await self._notify()
        return update

    async def post_callback(
        self, chat_id: int, message_id: int, data: str, *, token: str | None = None,
        from_id: int | None = None, first_name: str = "Tester", username: str | None = None,
        any_data: bool = False,
    ) -> dict[str, Any]:
        """A user presses the inline button `data` under the bot's message `message_id`:
        a `callback_query` update. Only a button the message shows can be pressed, unless
        `any_data` (a crafted client sending other data, which Telegram passes on)."""
        bot = self.default_bot(token)
        chat = self.chats.get(chat_id)
        msg = self._message(chat, message_id) if chat is not None else None
        if chat is None or msg is None or not msg.from_bot:
            raise LookupError(f"no bot message {message_id} in chat {chat_id}")
        if not any_data and data not in msg.callback_data():
            raise LookupError(f"message {message_id} has no button with data {data!r}")
        sender = from_id if from_id is not None else (chat_id if chat_id > 0 else 1)
        query_id = f"{bot.id}{self._next_callback:08d}"
        self._next_callback += 1
        self.callbacks[query_id] = CallbackQuery(query_id, chat_id, message_id, data, sender,
                                                 self.clock.now())
        user: dict[str, Any] = {"id": sender, "is_bot": False, "first_name": first_name}
        if username:
            user["username"] = username
        query = {"id": query_id, "from": user, "message": self._message_api(bot, chat, msg),
                 "chat_instance": str(-abs(chat_id) * 7919), "data": data}
        update = {"update_id": bot.next_update_id, "callback_query": query}
        bot.next_update_id += 1
        bot.updates.append(update)
        if bot.poll is not None:
            bot.poll.wake("update")
        await self._notify()
        return update

    def message(self, chat_id: int, message_id: int) -> ChatMessage | None:
        """One stored message (as edited), or None."""
        chat = self.chats.get(chat_id)
        return self._message(chat, message_id) if chat is not None else None

    @staticmethod
    def _message(chat: Chat, message_id: int) -> ChatMessage | None:
        return next((m for m in chat.messages if m.message_id == message_id), None)

    def _message_api(self, bot: Bot, chat: Chat, msg: ChatMessage) -> dict[str, Any]:
        out: dict[str, Any] = {
            "message_id": msg.message_id,
            "from": bot.user() if msg.from_bot else {"id": msg.sender_id, "is_bot": False,
                                                     "first_name": chat.first_name},
            "chat": chat.api(),
            "date": msg.date,
            "text": msg.text,
        }
        if msg.edit_date is not None:
            out["edit_date"] = msg.edit_date
        if isinstance(msg.reply_markup, dict) and msg.reply_markup.get("inline_keyboard"):
            out["reply_markup"] = msg.reply_markup
        return out

    def received(self, chat_id: int) -> list[ChatMessage]:
        """What the bot(s) sent to `chat_id`, oldest first."""
        chat = self.chats.get(chat_id)
        return [m for m in chat.messages if m.from_bot] if chat else []

    async def changed(self) -> None:
        """Faults or webhooks changed: a waiting getUpdates must re-check and maybe 409."""
        for bot in self.bots.values():
            if bot.poll is not None:
                bot.poll.wake("changed")
        await self._notify()

    def _append(
        self, chat: Chat, text: str, *, from_bot: bool, sender_id: int,
        parse_mode: str | None = None, reply_markup: object | None = None,
    ) -> ChatMessage:
        msg = ChatMessage(
            message_id=chat.next_message_id, chat_id=chat.id, text=text,
            date=int(self.clock.now()), from_bot=from_bot, sender_id=sender_id,
            parse_mode=parse_mode, reply_markup=reply_markup,
        )
        chat.next_message_id += 1
        chat.messages.append(msg)
        return msg

    # --- Bot API ------------------------------------------------------------------------

    async def call(self, token: str, method: str, params: Mapping[str, Any]) -> object:
        """Run one Bot API method; raises BotApiError with Telegram's code and text."""
        self.calls[method] += 1
        bot = self.bot_for(token)
        if self.faults.server_error:
            raise BotApiError(502, "Bad Gateway")
        handler = self._methods.get(method.lower())
        if handler is None:
            raise BotApiError(404, "Not Found")
        return await handler(self, bot, params)

    async def _get_me(self, bot: Bot, params: Mapping[str, Any]) -> object:
        return {**bot.user(), "can_join_groups": True, "can_read_all_group_messages": False,
                "supports_inline_queries": False}

    async def _get_chat(self, bot: Bot, params: Mapping[str, Any]) -> object:
        chat = self._chat(params.get("chat_id"))
        return {**chat.api(), "accent_color_id": 0, "max_reaction_count": 11}

    async def _send_message(self, bot: Bot, params: Mapping[str, Any]) -> object:
        if "chat_id" not in params:
            raise bad_request("chat_id is empty")
        text = str(params.get("text") or "")
        if not text.strip():
            raise bad_request("message text is empty")
        if len(text) > MAX_TEXT:
            raise bad_request("message is too long")
        retry_after = self.faults.rate_limit_retry_after
        if retry_after is not None:
            raise BotApiError(
                429, f"Too Many Requests: retry after {retry_after}",
                {"retry_after": retry_after},
            )
        markup = _reply_markup(params.get("reply_markup"))
        chat = self._chat(params["chat_id"])
        if chat.id in self.faults.blocked_chats:
            raise BotApiError(403, "Forbidden: bot was blocked by the user")
        msg = self._append(
            chat, text, from_bot=True, sender_id=bot.id,
            parse_mode=params.get("parse_mode"), reply_markup=markup,
        )
        await self._notify()
        return self._message_api(bot, chat, msg)

    async def _answer_callback_query(self, bot: Bot, params: Mapping[str, Any]) -> object:
        query_id = str(params.get("callback_query_id") or "")
        if not query_id:
            raise bad_request("callback_query_id is empty")
        query = self.callbacks.get(query_id)
        if query is None or query.answered or (
                self.clock.now() - query.at > CALLBACK_TTL):
            raise bad_request(QUERY_TOO_OLD)
        text = str(params.get("text") or "")
        if len(text) > MAX_CALLBACK_ANSWER:
            raise bad_request("MESSAGE_TOO_LONG")
        query.answered = True
        query.answer = {"text": text, "show_alert": _opt_bool(params, "show_alert")}
        await self._notify()
        return True

    def _editable(self, bot: Bot, params: Mapping[str, Any]) -> tuple[Chat, ChatMessage]:
        if params.get("inline_message_id"):
            raise bad_request("MESSAGE_ID_INVALID")  # inline messages: none are emulated
        if "chat_id" not in params:
            raise bad_request("chat_id is empty")
        message_id = _opt_int(params, "message_id")
        if message_id is None:
            raise bad_request("message identifier is not specified")
        chat = self._chat(params["chat_id"])
        msg = self._message(chat, message_id)
        if msg is None:
            raise bad_request("message to edit not found")
        if not msg.from_bot or msg.sender_id != bot.id:
            raise bad_request("message can't be edited")
        return chat, msg

    async def _edit_message_text(self, bot: Bot, params: Mapping[str, Any]) -> object:
        chat, msg = self._editable(bot, params)
        text = str(params.get("text") or "")
        if not text.strip():
            raise bad_request("message text is empty")
        if len(text) > MAX_TEXT:
            raise bad_request("MESSAGE_TOO_LONG")
        markup = _reply_markup(params.get("reply_markup"))
        # Without reply_markup, Telegram removes the inline keyboard of the edited message.
        if text == msg.text and markup == msg.reply_markup:
            raise bad_request(NOT_MODIFIED)
        msg.text, msg.reply_markup = text, markup
        msg.parse_mode = params.get("parse_mode")
        return await self._edited(bot, chat, msg)

    async def _edit_message_reply_markup(self, bot: Bot, params: Mapping[str, Any]) -> object:
        chat, msg = self._editable(bot, params)
        markup = _reply_markup(params.get("reply_markup"))
        if markup == msg.reply_markup:
            raise bad_request(NOT_MODIFIED)
        msg.reply_markup = markup
        return await self._edited(bot, chat, msg)

    async def _edited(self, bot: Bot, chat: Chat, msg: ChatMessage) -> object:
        msg.edit_date = int(self.clock.now())
        msg.edits += 1
        await self._notify()
        return self._message_api(bot, chat, msg)

    async def _get_updates(self, bot: Bot, params: Mapping[str, Any]) -> object:
        offset = _opt_int(params, "offset")
        limit = min(100, max(1, _opt_int(params, "limit") or 100))
        timeout = min(self.max_poll_timeout, max(0.0, _opt_float(params, "timeout") or 0.0))
        allowed = params.get("allowed_updates")
        if isinstance(allowed, list):
            bot.allowed_updates = tuple(str(a) for a in allowed)
        bot.confirm(offset)
        # A newer getUpdates always wins: the one in flight is told it was terminated.
        if bot.poll is not None:
            bot.poll.wake("terminated")
        poll = _Poll()
        bot.poll = poll
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        try:
            while True:
                self._check_can_poll(bot)
                bot.updates = [u for u in bot.updates if bot.wants(u)]  # not asked for: dropped
                if bot.updates or loop.time() >= deadline:
                    return bot.updates[:limit]
                try:
                    async with asyncio.timeout_at(deadline):
                        reason = await asyncio.shield(poll.woken)
                except TimeoutError:
                    continue
                if reason == "terminated":
                    raise BotApiError(409, CONFLICT_OTHER_POLLER)
                poll = _Poll()
                bot.poll = poll
        finally:
            if bot.poll is poll:
                bot.poll = None

    def _check_can_poll(self, bot: Bot) -> None:
        if self.faults.conflict:
            raise BotApiError(409, CONFLICT_OTHER_POLLER)
        if bot.webhook_url:
            raise BotApiError(409, CONFLICT_WEBHOOK)

    async def _set_webhook(self, bot: Bot, params: Mapping[str, Any]) -> object:
        url = str(params.get("url") or "")
        bot.webhook_url = url
        if _opt_bool(params, "drop_pending_updates"):
            bot.updates.clear()
        await self.changed()
        return True

    async def _delete_webhook(self, bot: Bot, params: Mapping[str, Any]) -> object:
        bot.webhook_url = ""
        if _opt_bool(params, "drop_pending_updates"):
            bot.updates.clear()
        await self.changed()
        return True

    async def _get_webhook_info(self, bot: Bot, params: Mapping[str, Any]) -> object:
        return {
            "url": bot.webhook_url,
            "has_custom_certificate": False,
            "pending_update_count": len(bot.updates),
        }

    async def _log_out(self, bot: Bot, params: Mapping[str, Any]) -> object:
        return True

    _methods: ClassVar[dict[str, Callable[[EmulatorState, Bot, Mapping[str, Any]], Any]]] = {
        "getme": _get_me,
        "getchat": _get_chat,
        "sendmessage": _send_message,
        "answercallbackquery": _answer_callback_query,
        "editmessagetext": _edit_message_text,
        "editmessagereplymarkup": _edit_message_reply_markup,
        "getupdates": _get_updates,
        "setwebhook": _set_webhook,
        "deletewebhook": _delete_webhook,
        "getwebhookinfo": _get_webhook_info,
        "logout": _log_out,
        "close": _log_out,
    }


def _opt_int(params: Mapping[str, Any], name: str) -> int | None:
    value = params.get(name)
    if value in (None, ""):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise bad_request(f"invalid {name} specified") from None


def _opt_float(params: Mapping[str, Any], name: str) -> float | None:
    value = params.get(name)
    if value in (None, ""):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        raise bad_request(f"invalid {name} specified") from None


def _opt_bool(params: Mapping[str, Any], name: str) -> bool:
    value = params.get(name)
    if isinstance(value, bool):
        return value
    return str(value).lower() in ("true", "1")


def _reply_markup(raw: object) -> dict[str, Any] | None:
    """Validate an InlineKeyboardMarkup the way Telegram does (other markups are stored
    as sent); None when there is none or its keyboard is empty."""
    if raw in (None, ""):
        return None
    if not isinstance(raw, dict):
        raise bad_request("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" not in raw:
        return dict(raw)
    rows = raw["inline_keyboard"]
    if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
        raise bad_request("field \"inline_keyboard\" of the InlineKeyboardMarkup must be an "
                          "Array of Arrays")
    for row in rows:
        for button in row:
            if not isinstance(button, dict):
                raise bad_request("can't parse inline keyboard button: InlineKeyboardButton "
                                  "must be an Object")
            if not str(button.get("text") or "").strip():
                raise bad_request("BUTTON_TEXT_INVALID")
            if "callback_data" in button:
                data = str(button["callback_data"])
                if not 1 <= len(data.encode()) <= MAX_CALLBACK_DATA:
                    raise bad_request("BUTTON_DATA_INVALID")
            elif not any(k in button for k in ("url", "switch_inline_query", "pay",
                                                "switch_inline_query_current_chat",
                                                "callback_game", "web_app", "login_url",
                                                "copy_text")):
                raise bad_request("can't parse inline keyboard button: Text buttons are "
                                  "unallowed in the inline keyboard")
    if not any(rows):
        return None
    return {"inline_keyboard": rows}
