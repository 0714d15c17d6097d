"""Runbook step i: token valid, last send succeeded, 409s counted and shown not to block.

A 409 on getUpdates means another client reads this bot's updates: a second poller (an
old server, a developer's laptop) or a webhook set on the token. Either is a warning:
outgoing alerts go through sendMessage, which a 409 never blocks, and the check shows
the sends that succeeded since the last conflict. A Bot API that refuses sends while
alerts wait in the outbox is critical: the chain is broken there (alerts are delayed, not
lost: the outbox retries). Possible repeats (a send of unknown fate sent again, marked) are
shown in the details, not warned about: each is the designed answer to a timeout or a
crash, visible as such in the chat, and bounded to one per message.
"""

from __future__ import annotations

import asyncio
from typing import Any

from atp.event_kinds import EventKind
from atp.integrity.checks._common import hhmmss, plural
from atp.integrity.context import PENDING_LIMIT_S, CheckContext
from atp.integrity.report import CheckResult, Status, ago
from atp.integrity.sources.http import parse_time

ID = "telegram"
TITLE = "Telegram status (including 409 conflicts)"
RETRIES_CRITICAL = 3
_TOKEN_WORDS = ("unauthorized", "401", "invalid token", "not found", "404")


def _second_client(description: str) -> tuple[str, str]:
    if "webhook" in description.lower():
        return ("a webhook is set on this bot token",
                "delete the webhook (Bot API deleteWebhook) or give this platform its own bot")
    return ("a second poller uses this bot token (another instance, an old server or a "
            "developer's laptop)",
            "stop the other instance, or give it its own bot token; only the production "
            "backend may poll")


def _same_instance(state: dict[str, Any]) -> tuple[str, list[str]] | None:
    """Two live processes with one INSTANCE_NAME on one database: a copy started from
    the same `.env` by mistake (replicas have names of their own)."""
    by_name: dict[str, list[str]] = {}
    for proc in state.get("processes") or []:
        by_name.setdefault(str(proc.get("instance")), []).append(str(proc.get("owner")))
    for name, owners in by_name.items():
        if len(owners) > 1:
            return name, owners
    return None


async def run(ctx: CheckContext) -> CheckResult:
    since = ctx.since_iso()
    state, retries, conflicts_ev, sent_ev = await asyncio.gather(  # independent reads
        ctx.api.get("/api/telegram/state"),
        ctx.api.get_all("/api/events", type=EventKind.ALERT_RETRY.value, since=since),
        ctx.api.get_all("/api/events", type=EventKind.TELEGRAM_GETUPDATES_CONFLICT.value,
                        since=since),
        ctx.api.get_all("/api/events", type=EventKind.ALERT_SENT.value, since=since))
    repeats_in_window = sum(1 for e in sent_ev
                            if (e.get("payload") or {}).get("possible_repeat"))
    last_send = parse_time(state.get("last_send_at"))
    last_error_at = parse_time(state.get("last_error_at"))
    last_error = str(state.get("last_error") or "")
    pending = int(state.get("outbox_pending") or 0)
    oldest = state.get("oldest_pending_age_seconds")
    conflicts = state.get("conflicts") or {}
    conflict_count = int(conflicts.get("count") or 0)
    conflict_at = parse_time(conflicts.get("last_at"))
    details = [
        f"token configured: {'yes' if state.get('token_configured') else 'no'}; chat "
        f"configured: {'yes' if state.get('chat_configured') else 'no'}; production: "
        f"{'yes' if state.get('production') else 'no (messages logged only)'}",
        f"sent {state.get('sent', 0)}, failed {state.get('failed', 0)}, retries "
        f"{state.get('retries', 0)}; last send {hhmmss(last_send)}; outbox pending {pending}"
        + (f" (oldest {ago(float(oldest))})" if oldest is not None else ""),
        f"possible repeats (sent again, marked, after a timeout or a crash mid-send): "
        f"{repeats_in_window} in the window, {state.get('possible_repeats_total', 0)} ever",
        f"poller: {'polling' if state.get('polling') else 'not polling'}; lease held by "
        f"{state.get('lease_holder') or 'nobody'}"
        + (" (this instance)" if state.get("holding_lease") else "")
        + (f" until {state.get('lease_expires_at')}" if state.get("lease_expires_at") else ""),
    ]
    if last_error:
        details.append(f"last error {hhmmss(last_error_at)}: {last_error}")
    if state.get("bot_username"):
        details.insert(0, f"getMe: @{state['bot_username']}")
    sends_since_conflict = sum(
        1 for e in sent_ev
        if conflict_at is None or ((t := parse_time(e.get("at"))) and t > conflict_at)
    )
    data = {"token_configured": state.get("token_configured"), "sent": state.get("sent"),
            "failed": state.get("failed"), "retries_in_window": len(retries),
            "outbox_pending": pending, "oldest_pending_age_seconds": oldest,
            "conflicts": conflict_count, "conflicts_in_window": len(conflicts_ev),
            "sends_since_last_conflict": sends_since_conflict,
            "lease_holder": state.get("lease_holder"),
            "possible_repeats_in_window": repeats_in_window,
            "possible_repeats_total": state.get("possible_repeats_total", 0)}

    twins = _same_instance(state)
    if twins:
        instance, owners = twins
        holds = {state.get("sender_lease_holder"): "sender", state.get("lease_holder"): "poller"}
        named = ", ".join(o + (f" (holds the {holds[o]} lease)" if o in holds else "")
                          for o in owners)
        data["same_instance"] = owners
        return CheckResult(
            ID, Status.CRITICAL,
            f"{len(owners)} processes run as instance '{instance}' on one database: {named}",
            details, "stop the extra copy (two `atp run` from one .env); replicas each need "
            "their own INSTANCE_NAME", data)
    if not state.get("token_configured"):
        return CheckResult(ID, Status.WARNING, "Telegram not configured: alerts are recorded "
                           "but not sent", details, "set TELEGRAM_BOT_TOKEN and "
                           "TELEGRAM_CHAT_ID (and ALERTS_ENABLED=true)", data)
    token_bad = state.get("token_valid") is False or (
        last_error and any(w in last_error.lower() for w in _TOKEN_WORDS)
        and (last_send is None or (last_error_at is not None and last_error_at > last_send)))
    if token_bad:
        return CheckResult(ID, Status.CRITICAL, f"bot token rejected by the Bot API: "
                           f"{last_error or 'getMe failed'}", details,
                           "copy TELEGRAM_BOT_TOKEN again from @BotFather (/token) and restart",
                           data)
    failing_now = bool(last_error) and last_error_at is not None and (
        last_send is None or last_error_at > last_send)
    retries_since_send = sum(
        1 for e in retries
        if last_send is None or ((t := parse_time(e.get("at"))) and t > last_send))
    if failing_now and pending > 0 and (
        retries_since_send >= RETRIES_CRITICAL
        or (oldest is not None and float(oldest) > PENDING_LIMIT_S)
    ):
        return CheckResult(
            ID, Status.CRITICAL,
            f"Bot API not accepting messages: {plural(pending, 'alert')} waiting"
            + (f" (oldest {ago(float(oldest))})" if oldest is not None else "")
            + f", {plural(retries_since_send, 'retry')} since the last send; last error: "
            f"{last_error}", details,
            "check the host's route to the Bot API (TELEGRAM_API_BASE, DNS, firewall, "
            "https://api.telegram.org reachable?); alerts wait in the outbox and are sent "
            "when it recovers", data)
    if conflict_count or conflicts_ev:
        who, fix = _second_client(str(conflicts.get("last_description") or ""))
        blocked = "; outgoing alerts unaffected" if (
            sends_since_conflict or not pending) else "; alerts are waiting too"
        details.append(f"409 conflicts: {conflict_count} since start, {len(conflicts_ev)} in "
                       f"the window, last {hhmmss(conflict_at)}; {sends_since_conflict} "
                       "alerts sent since")
        return CheckResult(ID, Status.WARNING,
                           plural(conflict_count or len(conflicts_ev),
                                  "getUpdates 409 conflict") + f": {who}{blocked}",
                           details, fix, data)
    if state.get("polling_stopped_reason"):
        return CheckResult(ID, Status.WARNING, f"command polling stopped: "
                           f"{state['polling_stopped_reason']}; it retries by itself and "
                           "gave up its lease meanwhile", details,
                           "if it does not resume, check TELEGRAM_BOT_TOKEN and the route to "
                           "the Bot API", data)
    if failing_now:
        return CheckResult(ID, Status.WARNING, f"last delivery attempt failed ({last_error});"
                           " retrying", details, "if it persists, check the route to the "
                           "Bot API (TELEGRAM_API_BASE)", data)
    if last_send is None:
        return CheckResult(ID, Status.OK, "token configured; no alert sent yet"
                           + ("" if state.get("polling") is None else
                              f"; poller {'active' if state.get('polling') else 'idle'}"),
                           details, None, data)
    return CheckResult(ID, Status.OK, f"last send succeeded at {hhmmss(last_send)}; no 409 "
                       "conflicts", details, None, data)
