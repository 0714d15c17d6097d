"""The emulator's own protocol, over raw HTTP: long polling, offsets, errors, control API."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from atp.emulators.telegram import FaultSpec, TelegramEmulator

# Raw httpx logs URLs with the token and is not ATP code: these tests use their own token,
# so the canary guard in conftest keeps watching ATP's sender and poller only.
TOKEN = "555:rawHttpTestToken"


@pytest.fixture
async def emulator():
    async with TelegramEmulator(tokens=[TOKEN]) as tg:
        yield tg


@pytest.fixture
async def http(emulator: TelegramEmulator):
    async with httpx.AsyncClient(base_url=emulator.base_url, timeout=5) as client:
        yield client


def api(method: str) -> str:
    return f"/bot{TOKEN}/{method}"


async def test_long_poll_wakes_on_a_new_update(emulator, http):
    poll = asyncio.create_task(http.post(api("getUpdates"), data={"timeout": "30"}))
    await asyncio.wait_for(_until_polling(emulator), 5)
    started = time.monotonic()
    await emulator.post_user_message(5, "hi", token=TOKEN)
    body = (await asyncio.wait_for(poll, 5)).json()
    assert time.monotonic() - started < 1.0
    assert [u["message"]["text"] for u in body["result"]] == ["hi"]


async def test_long_poll_is_bounded_by_its_timeout(http):
    started = time.monotonic()
    body = (await http.get(api("getUpdates"), params={"timeout": "0.2"})).json()
    assert body == {"ok": True, "result": []}
    assert 0.15 < time.monotonic() - started < 2.0


async def test_offsets_limit_and_negative_offset(emulator, http):
    for i in range(4):
        await emulator.post_user_message(5, f"m{i}", token=TOKEN)

    async def texts(**params: object) -> list[str]:
        body = (await http.post(api("getUpdates"), json=params)).json()
        return [u["message"]["text"] for u in body["result"]]

    assert await texts(limit=2) == ["m0", "m1"]
    assert await texts(offset=3) == ["m2", "m3"]  # confirms updates 1 and 2
    assert await texts() == ["m2", "m3"]
    assert await texts(offset=-1) == ["m3"]  # everything before the last is forgotten
    assert await texts() == ["m3"]


async def test_command_entities_for_ptb(emulator):
    update = await emulator.post_user_message(5, "/alerts BTC_USDT buy off", token=TOKEN)
    assert update["message"]["entities"] == [{"type": "bot_command", "offset": 0, "length": 7}]


async def test_errors_look_like_telegram(emulator, http):
    r = await http.post(api("fooBar"))
    assert (r.status_code, r.json()["description"]) == (404, "Not Found")
    r = await http.post("/bot1:wrong/getMe")
    assert r.status_code == 401
    assert r.json() == {"ok": False, "error_code": 401, "description": "Unauthorized"}
    r = await http.post(api("sendMessage"), data={"chat_id": "5", "text": ""})
    assert r.json()["description"] == "Bad Request: message text is empty"


async def test_two_pollers_the_older_is_terminated(emulator, http):
    first = asyncio.create_task(http.post(api("getUpdates"), data={"timeout": "30"}))
    await asyncio.wait_for(_until_polling(emulator), 5)
    async with httpx.AsyncClient(base_url=emulator.base_url, timeout=5) as other:
        second = asyncio.create_task(other.post(api("getUpdates"), data={"timeout": "0.2"}))
        r = await asyncio.wait_for(first, 5)
        assert r.status_code == 409
        assert r.json()["description"].startswith("Conflict: terminated by other getUpdates")
        assert (await second).json()["result"] == []


async def test_control_api_over_http_survives_an_outage():
    async with TelegramEmulator(tokens=[TOKEN], control_port=0) as tg, httpx.AsyncClient(
        base_url=tg.control_url, timeout=5
    ) as control:
        r = await control.post("/_emulator/updates", json={"chat_id": 9, "text": "/status"})
        assert r.json()["update_id"] == 1
        await control.post("/_emulator/faults/outage")
        async with httpx.AsyncClient(base_url=tg.base_url) as bot_api:
            with pytest.raises(httpx.ConnectError):
                await bot_api.get(api("getMe"))
        r = await control.post("/_emulator/faults/blocked_chat", json={"chat_id": 9})
        assert r.json()["active"] == ["outage", "blocked_chat:9"]
        await control.delete("/_emulator/faults")
        async with httpx.AsyncClient(base_url=tg.base_url) as bot_api:
            r = await bot_api.post(api("sendMessage"), json={"chat_id": 9, "text": "hello"})
            assert r.json()["result"]["text"] == "hello"
        messages = (await control.get("/_emulator/chats/9/messages")).json()["messages"]
        assert [m["text"] for m in messages] == ["hello"]


def test_fault_specs_parse_cli_and_demo_names():
    assert FaultSpec.parse("telegram-conflict").fault.value == "conflict"
    assert FaultSpec.parse("rate-limit:5").retry_after == 5
    assert FaultSpec.parse("blocked_chat:-100").chat_id == -100
    with pytest.raises(ValueError, match="unknown Telegram fault"):
        FaultSpec.parse("gremlins")
    with pytest.raises(ValueError, match="needs a chat id"):
        FaultSpec.parse("blocked_chat")
    assert FaultSpec.parse("telegram-slow:1.5").seconds == 1.5
    assert FaultSpec.parse("freeze").fault.value == "freeze"
    with pytest.raises(ValueError, match="takes no argument"):
        FaultSpec.parse("freeze:3")


async def test_freeze_holds_calls_and_carries_them_out_on_thaw(emulator: TelegramEmulator) -> None:
    tg = emulator
    """SIGSTOP-like: the request is read, not answered; on thaw it is carried out (the
    message arrives) although its client gave up long ago."""
    await tg.set_fault("freeze")
    async with httpx.AsyncClient(base_url=tg.base_url) as bot_api:
        with pytest.raises(httpx.ReadTimeout):
            await bot_api.post(api("sendMessage"), json={"chat_id": 9, "text": "held"},
                               timeout=0.3)
    assert tg.received(9) == [] and "freeze" in tg.state.faults.active()
    await tg.clear_fault("freeze")
    assert (await tg.wait_for_message(9, "held", timeout=5)).text == "held"


async def test_slow_delivers_at_once_and_answers_late(emulator: TelegramEmulator) -> None:
    tg = emulator
    await tg.set_fault("slow", seconds=0.5)
    async with httpx.AsyncClient(base_url=tg.base_url) as bot_api:
        with pytest.raises(httpx.ReadTimeout):
            await bot_api.post(api("sendMessage"), json={"chat_id": 9, "text": "late"},
                               timeout=0.2)
        assert [m.text for m in tg.received(9)] == ["late"]  # in the chat already
        await tg.clear_fault("slow")
        r = await bot_api.post(api("sendMessage"), json={"chat_id": 9, "text": "quick"},
                               timeout=2)
        assert r.json()["ok"]


async def _until_polling(emulator: TelegramEmulator) -> None:
    while not (TOKEN in emulator.state.bots and emulator.state.bots[TOKEN].poll):
        await asyncio.sleep(0.01)
