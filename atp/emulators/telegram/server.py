"""The Telegram Bot API emulator as an HTTP server (aiohttp), with its control API.

Bot API: `GET|POST /bot<token>/<method>` with query, form, multipart or JSON parameters, as
python-telegram-bot sends them. Control API (loopback, no auth — it is a test double):

    POST   /_emulator/updates                 {"chat_id", "text", ["from_id", "token"]}
    POST   /_emulator/callbacks               {"chat_id", "message_id", "data", ["from_id",
                                              "token", "any_data"]}: a button pressed
    GET    /_emulator/callbacks/{id}          the query and how the bot answered it
    GET    /_emulator/chats                   chats and how many messages each received
    GET    /_emulator/chats/{chat_id}/messages what the bot sent to that chat
    GET    /_emulator/faults                  active faults
    POST   /_emulator/faults/{name}           {"retry_after"} / {"chat_id"} where relevant
    DELETE /_emulator/faults/{name}           [?chat_id=] ; DELETE /_emulator/faults: all

Outage is real: the Bot API's listening socket is closed (new connections are refused) and
open keep-alive connections to it are aborted; clearing the fault listens again on the same
port. To steer the emulator over HTTP during an outage, give it a `control_port`: the same
routes are served there and that socket stays open.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import Iterable
from types import TracebackType
from typing import Any

from aiohttp import web

from atp.emulators.clock import EmulatorClock
from atp.emulators.telegram.faults import Fault, FaultSpec, fault_name
from atp.emulators.telegram.state import (
    MAX_POLL_TIMEOUT,
    BotApiError,
    ChatMessage,
    EmulatorState,
)


class TelegramEmulator:
    """A Bot API server on loopback. `async with TelegramEmulator() as tg: tg.base_url`."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        tokens: Iterable[str] | None = None,
        faults: Iterable[str | FaultSpec] = (),
        control_port: int | None = None,
        strict_chats: bool = False,
        clock: EmulatorClock | None = None,
        max_poll_timeout: float = MAX_POLL_TIMEOUT,
    ) -> None:
        """`tokens=None` accepts any well-formed token; otherwise others get 401.

        `strict_chats`: sendMessage/getChat to a chat nobody wrote from (and not added with
        `add_chat`) answers 400 "chat not found"; by default such chats are created.
        """
        self.host = host
        self.port = port
        self.control_port = control_port
        self.state = EmulatorState(
            tokens, strict_chats=strict_chats, clock=clock, max_poll_timeout=max_poll_timeout
        )
        self._initial_faults = [f if isinstance(f, FaultSpec) else FaultSpec.parse(f)
                                for f in faults]
        self._runner: web.AppRunner | None = None
        self._site: web.SockSite | None = None
        self._control_site: web.SockSite | None = None
        self._lock = asyncio.Lock()
        self._thawed = asyncio.Event()  # cleared while the `freeze` fault is on
        self._thawed.set()

    # --- lifecycle ----------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """What `Settings.telegram_api_base` should be: `http://127.0.0.1:PORT`."""
        if self._runner is None:
            raise RuntimeError("the emulator is not started")
        return f"http://{self.host}:{self.port}"

    @property
    def control_url(self) -> str:
        port = self.control_port if self.control_port is not None else self.port
        return f"http://{self.host}:{port}"

    async def start(self) -> str:
        """Listen (port 0 = an ephemeral one) and return the base URL."""
        if self._runner is not None:
            return self.base_url
        app = web.Application()
        app.add_routes(self._routes())
        # No access log: request paths carry bot tokens. Cancel a long poll whose client left.
        runner = web.AppRunner(app, access_log=None, handler_cancellation=True)
        await runner.setup()
        self._runner = runner
        if self.control_port is not None:
            sock = _listen(self.host, self.control_port)
            self.control_port = sock.getsockname()[1]
            self._control_site = web.SockSite(runner, sock)
            await self._control_site.start()
        for spec in self._initial_faults:
            await self._apply(spec, on=True, listen=False)
        sock = _listen(self.host, self.port)
        self.port = sock.getsockname()[1]
        if self.state.faults.outage:
            sock.close()  # the port is known; an outage from the start refuses from the start
        else:
            await self._listen_on(sock)
        return self.base_url

    async def stop(self) -> None:
        self._thawed.set()  # held calls finish instead of hanging the shutdown
        if self._runner is not None:
            runner, self._runner = self._runner, None
            self._site = self._control_site = None
            await runner.cleanup()

    async def __aenter__(self) -> TelegramEmulator:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def _listen_on(self, sock: socket.socket) -> None:
        assert self._runner is not None
        self._site = web.SockSite(self._runner, sock)
        await self._site.start()

    async def _go_down(self) -> None:
        if self._site is not None:
            site, self._site = self._site, None
            await site.stop()
        if self._runner is not None and self._runner.server is not None:
            for conn in self._runner.server.connections:
                transport = conn.transport
                if transport is not None and _local_port(transport) == self.port:
                    transport.abort()

    async def _come_up(self) -> None:
        if self._site is None and self._runner is not None:
            await self._listen_on(_listen(self.host, self.port))

    # --- control (Python) ---------------------------------------------------------------

    async def post_user_message(
        self, chat_id: int, text: str, *, token: str | None = None, from_id: int | None = None,
        first_name: str = "Tester", username: str | None = None,
    ) -> dict[str, Any]:
        """A user writes `text` in `chat_id`; returns the update the bot will receive."""
        return await self.state.post_user_message(
            chat_id, text, token=token, from_id=from_id, first_name=first_name,
            username=username,
        )

    async def press_button(
        self, chat_id: int, message_id: int, data: str, *, token: str | None = None,
        from_id: int | None = None, first_name: str = "Tester", username: str | None = None,
        any_data: bool = False,
    ) -> dict[str, Any]:
        """A user presses the inline button `data` under the bot's message `message_id`;
        returns the `callback_query` update the bot will receive."""
        return await self.state.post_callback(
            chat_id, message_id, data, token=token, from_id=from_id, first_name=first_name,
            username=username, any_data=any_data,
        )

    async def wait_for_answer(self, query_id: str, *, timeout: float = 5.0) -> dict[str, object]:
        """How the bot answered callback query `query_id` (answerCallbackQuery's text)."""
        def answered() -> bool:
            query = self.state.callbacks.get(query_id)
            return query is not None and query.answered

        await self.state.wait_until(answered, timeout)
        return dict(self.state.callbacks[query_id].answer or {})

    def message(self, chat_id: int, message_id: int) -> ChatMessage | None:
        """A stored message as it is now (after any edit)."""
        return self.state.message(chat_id, message_id)

    def received(self, chat_id: int) -> list[ChatMessage]:
        """Messages the bot sent to `chat_id`, oldest first."""
        return self.state.received(chat_id)

    async def wait_for_message(
        self, chat_id: int, contains: str = "", *, after: int = 0, timeout: float = 5.0
    ) -> ChatMessage:
        """The first bot message to `chat_id` (index >= `after`) containing `contains`.

        Raises TimeoutError after `timeout` seconds: tests wait on a condition, never a sleep.
        """
        found: list[ChatMessage] = []

        def match() -> bool:
            found[:] = [m for m in self.received(chat_id)[after:] if contains in m.text]
            return bool(found)

        await self.state.wait_until(match, timeout)
        return found[0]

    def add_chat(self, chat_id: int, *, first_name: str = "Tester") -> None:
        self.state.add_chat(chat_id, first_name=first_name)

    @property
    def faults(self) -> dict[str, object]:
        return self.state.faults.snapshot()

    async def set_fault(
        self, name: str | Fault, *, retry_after: int = 1, chat_id: int | None = None,
        seconds: float | None = None,
    ) -> None:
        """Turn a fault on now (see `Fault`); `outage` closes the listening socket;
        `slow` delays sendMessage's answer by `seconds`."""
        fault = fault_name(str(name))
        if fault is Fault.BLOCKED_CHAT and chat_id is None:
            raise ValueError("blocked_chat needs chat_id")
        await self._apply(FaultSpec(fault, retry_after=retry_after, chat_id=chat_id,
                                    seconds=seconds), on=True)

    async def clear_fault(self, name: str | Fault, *, chat_id: int | None = None) -> None:
        """Turn a fault off; for blocked_chat without chat_id, unblock every chat."""
        await self._apply(FaultSpec(fault_name(str(name)), chat_id=chat_id), on=False)

    async def clear_faults(self) -> None:
        for fault in Fault:
            await self._apply(FaultSpec(fault), on=False)

    async def _apply(self, spec: FaultSpec, *, on: bool, listen: bool = True) -> None:
        async with self._lock:
            f = self.state.faults
            match spec.fault:
                case Fault.CONFLICT:
                    f.conflict = on
                case Fault.INVALID_TOKEN:
                    f.invalid_token = on
                case Fault.SERVER_ERROR:
                    f.server_error = on
                case Fault.RATE_LIMIT:
                    f.rate_limit_retry_after = (spec.retry_after or 1) if on else None
                case Fault.BLOCKED_CHAT:
                    if on and spec.chat_id is not None:
                        f.blocked_chats.add(spec.chat_id)
                    elif spec.chat_id is None:
                        f.blocked_chats.clear()
                    else:
                        f.blocked_chats.discard(spec.chat_id)
                case Fault.SLOW:
                    f.slow_seconds = (spec.seconds or 2.0) if on else None
                case Fault.FREEZE:
                    f.frozen = on
                    (self._thawed.clear if on else self._thawed.set)()
                case Fault.OUTAGE:
                    f.outage = on
                    if listen:
                        await (self._go_down() if on else self._come_up())
            await self.state.changed()

    # --- HTTP ---------------------------------------------------------------------------

    def _routes(self) -> list[web.RouteDef]:
        return [
            web.route("*", "/bot{token}/{method}", self._bot_api),
            web.route("*", "/file/bot{token}/{path:.*}", self._not_found),
            web.post("/_emulator/updates", self._c_post_update),
            web.post("/_emulator/callbacks", self._c_post_callback),
            web.get("/_emulator/callbacks/{query_id}", self._c_callback),
            web.get("/_emulator/chats", self._c_chats),
            web.get("/_emulator/chats/{chat_id}/messages", self._c_messages),
            web.get("/_emulator/faults", self._c_faults),
            web.post("/_emulator/faults/{name}", self._c_set_fault),
            web.delete("/_emulator/faults/{name}", self._c_clear_fault),
            web.delete("/_emulator/faults", self._c_clear_faults),
        ]

    async def _bot_api(self, request: web.Request) -> web.Response:
        try:
            params = await _params(request)
        except BotApiError as err:
            return web.json_response(err.payload(), status=err.code)
        # Shielded: a client that gave up (a timeout) does not undo the call, as with the
        # real Bot API, whose message may arrive although the sender saw no answer.
        work = asyncio.ensure_future(self._answer(
            request.match_info["token"], request.match_info["method"], params))
        return await asyncio.shield(work)

    async def _answer(self, token: str, method: str, params: dict[str, Any]) -> web.Response:
        await self._thawed.wait()  # `freeze`: held, carried out on thaw
        try:
            result = await self.state.call(token, method, params)
        except BotApiError as err:
            return web.json_response(err.payload(), status=err.code)
        slow = self.state.faults.slow_seconds
        if slow and method.lower() == "sendmessage":
            await asyncio.sleep(slow)  # delivered; the answer is late
        return web.json_response({"ok": True, "result": result})

    async def _not_found(self, request: web.Request) -> web.Response:
        return web.json_response(BotApiError(404, "Not Found").payload(), status=404)

    async def _c_post_update(self, request: web.Request) -> web.Response:
        body = await _json_body(request)
        try:
            update = await self.post_user_message(
                int(body["chat_id"]), str(body["text"]),
                token=body.get("token"),
                from_id=int(body["from_id"]) if body.get("from_id") is not None else None,
                first_name=str(body.get("first_name") or "Tester"),
                username=body.get("username"),
            )
        except (KeyError, ValueError, LookupError) as exc:
            raise web.HTTPBadRequest(text=f"bad update: {exc}") from None
        return web.json_response({"update_id": update["update_id"], "update": update})

    async def _c_post_callback(self, request: web.Request) -> web.Response:
        body = await _json_body(request)
        try:
            update = await self.press_button(
                int(body["chat_id"]), int(body["message_id"]), str(body["data"]),
                token=body.get("token"),
                from_id=int(body["from_id"]) if body.get("from_id") is not None else None,
                first_name=str(body.get("first_name") or "Tester"),
                username=body.get("username"), any_data=bool(body.get("any_data")),
            )
        except (KeyError, ValueError, LookupError) as exc:
            raise web.HTTPBadRequest(text=f"bad callback: {exc}") from None
        return web.json_response({"update_id": update["update_id"], "update": update})

    async def _c_callback(self, request: web.Request) -> web.Response:
        query = self.state.callbacks.get(request.match_info["query_id"])
        if query is None:
            raise web.HTTPNotFound(text="no such callback query")
        return web.json_response({"id": query.id, "chat_id": query.chat_id,
                                  "message_id": query.message_id, "data": query.data,
                                  "answered": query.answered, "answer": query.answer})

    async def _c_chats(self, request: web.Request) -> web.Response:
        chats = [
            {"chat_id": c.id, "received": len(self.received(c.id)),
             "messages": len(c.messages)}
            for c in self.state.chats.values()
        ]
        return web.json_response({"chats": chats})

    async def _c_messages(self, request: web.Request) -> web.Response:
        chat_id = _path_int(request, "chat_id")
        return web.json_response({"messages": [m.as_dict() for m in self.received(chat_id)]})

    async def _c_faults(self, request: web.Request) -> web.Response:
        return web.json_response({"faults": self.faults, "active": self.state.faults.active()})

    async def _c_set_fault(self, request: web.Request) -> web.Response:
        body = await _json_body(request)
        try:
            await self.set_fault(
                request.match_info["name"],
                retry_after=int(body.get("retry_after") or 1),
                chat_id=int(body["chat_id"]) if body.get("chat_id") is not None else None,
                seconds=float(body["seconds"]) if body.get("seconds") is not None else None,
            )
        except ValueError as exc:
            raise web.HTTPBadRequest(text=str(exc)) from None
        return await self._c_faults(request)

    async def _c_clear_fault(self, request: web.Request) -> web.Response:
        raw = request.query.get("chat_id")
        try:
            await self.clear_fault(
                request.match_info["name"], chat_id=int(raw) if raw is not None else None
            )
        except ValueError as exc:
            raise web.HTTPBadRequest(text=str(exc)) from None
        return await self._c_faults(request)

    async def _c_clear_faults(self, request: web.Request) -> web.Response:
        await self.clear_faults()
        return await self._c_faults(request)


def _listen(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.listen(128)
    sock.setblocking(False)
    return sock


def _local_port(transport: asyncio.BaseTransport) -> int | None:
    name = transport.get_extra_info("sockname")
    return int(name[1]) if isinstance(name, tuple) and len(name) >= 2 else None


def _path_int(request: web.Request, name: str) -> int:
    try:
        return int(request.match_info[name])
    except ValueError:
        raise web.HTTPBadRequest(text=f"{name} must be an integer") from None


async def _json_body(request: web.Request) -> dict[str, Any]:
    if not request.can_read_body:
        return {}
    try:
        body = await request.json()
    except json.JSONDecodeError:
        raise web.HTTPBadRequest(text="body must be JSON") from None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text="body must be a JSON object")
    return body


async def _params(request: web.Request) -> dict[str, Any]:
    """Merge query and body parameters the way the Bot API accepts them."""
    params: dict[str, Any] = dict(request.query)
    if request.can_read_body:
        if request.content_type == "application/json":
            body = await request.json()
            if isinstance(body, dict):
                params.update(body)
        else:
            form = await request.post()
            for key, value in form.items():
                if isinstance(value, str):
                    params[key] = value
    for key in ("reply_markup", "entities", "allowed_updates", "reply_parameters"):
        raw = params.get(key)
        if isinstance(raw, str):
            with contextlib.suppress(ValueError):
                params[key] = json.loads(raw)
    return params
