// ATP dashboard: fills the server-rendered pages from the JSON API and refreshes them.
// It only displays what the API returns (what the engine decided): no rule lives here.
"use strict";

const TOKEN_KEY = "atp-token";
const FLAGS = ["buy_rsi_ok", "buy_ma_ok", "buy_volume_ok", "buy_target_ok", "buy_price_ok",
               "sell_rsi_ok", "sell_trend_ok", "sell_volume_ok"];
const SWITCHES = ["enabled", "alert_enabled", "buy_alert_enabled", "sell_alert_enabled",
                  "trade_enabled"];

// ── small helpers ───────────────────────────────────────────────────────────────────────

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") node.className = v;
    else if (k === "dataset") Object.assign(node.dataset, v);
    // CSSOM, not a style="" attribute: the Content-Security-Policy forbids inline styles
    else if (k === "style") Object.assign(node.style, v);
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function fill(tbody, rows) {
  tbody.replaceChildren(...rows);
}

function fmtTime(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  return isNaN(d) ? iso : d.toISOString().replace("T", " ").slice(0, 19);
}

function fmtNum(v, digits = 6) {
  if (v === null || v === undefined) return "—";
  return Number(v).toPrecision(digits).replace(/\.?0+$/, "");
}

function fmtAge(s) {
  if (s === null || s === undefined) return "—";
  if (s < 60) return `${s.toFixed(0)} s`;
  if (s < 3600) return `${(s / 60).toFixed(1)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}

function notice(text, isError) {
  const box = document.getElementById("notice");
  box.textContent = text;
  box.className = isError ? "error" : "";
  box.hidden = !text;
}

async function api(path, options = {}) {
  const headers = { Accept: "application/json", ...(options.headers || {}) };
  if (options.body !== undefined) headers["Content-Type"] = "application/json";
  if (options.method && options.method !== "GET") {
    const token = localStorage.getItem(TOKEN_KEY);
    if (token) headers.Authorization = `Bearer ${token}`;
    headers["X-ATP-Client"] = "dashboard";
  }
  const response = await fetch(path, {
    ...options, headers,
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
  });
  let data = null;
  if (response.status !== 204) {
    try { data = await response.json(); } catch (e) { data = null; }
  }
  if (!response.ok) {
    const err = new Error(describeError(response.status, data));
    err.status = response.status;
    err.data = data;
    throw err;
  }
  return data;
}

function describeError(status, data) {
  const detail = data && data.detail;
  if (Array.isArray(detail)) {
    return `${status}: ` + detail.map((d) => `${(d.loc || []).slice(1).join(".")}: ${d.msg}`).join("; ");
  }
  return `${status}: ${detail || "request failed"}`;
}

// ── header: health and summary on every page ────────────────────────────────────────────

async function refreshHeader() {
  const badge = document.getElementById("health");
  try {
    const h = await api("/api/health");
    badge.textContent = h.status;
    badge.className = `badge ${h.status}`;
    badge.title = h.reason;
    const s = await api("/api/monitoring/summary");
    const d = s.decision_counts, o = s.alert_outcome_counts;
    document.getElementById("summary").textContent =
      `cycles ${s.signal_monitor_ticks} · last ${s.last_update_seconds_ago === null ? "never" : fmtAge(s.last_update_seconds_ago) + " ago"}` +
      ` (${s.last_cycle_symbols ?? 0} symbols, ${s.last_cycle_duration_ms ?? "—"} ms)` +
      ` · BUY ${d.BUY} SELL ${d.SELL} WAIT ${d.WAIT} · sent ${o.sent} throttled ${o.throttled}` +
      ` blocked ${o.blocked} failed ${o.failed} pending ${o.pending}` +
      (o.abandoned ? ` abandoned ${o.abandoned}` : "");
  } catch (e) {
    badge.textContent = "unreachable";
    badge.className = "badge down";
  }
  const trading = document.getElementById("trading-badge");
  try {
    const t = await api("/api/trading/state");
    trading.textContent = (t.mode === "live" ? "LIVE" : "paper") + (t.kill_switch ? " · KILL" : "") +
      (t.unprotected_positions ? ` · ${t.unprotected_positions} unprotected` : "");
    trading.className = `badge trading ${t.mode}${t.kill_switch || t.unprotected_positions ? " alarm" : ""}`;
    trading.hidden = false;
  } catch (e) {
    trading.hidden = true;  // a backend without the trading API
  }
}

// ── watchlist page ──────────────────────────────────────────────────────────────────────

let selected = new URLSearchParams(location.search).get("symbol");

function flagCell(value, name) {
  const cls = value === true ? "on" : value === false ? "off" : "unknown";
  const mark = value === true ? "✓" : value === false ? "✗" : "?";
  return el("td", { class: `flag ${cls}`, title: name, dataset: { flag: name } }, mark);
}

// A compact page of the watchlist per refresh, plus the selected symbol's full record
// (its reasons): at 1,000 symbols the whole list is ~1 MB every 5 s, this page ~60 KB.
const WATCHLIST_PAGE = 100;
let watchOffset = 0;

async function refreshWatchlist() {
  const feed = "/api/market/top-coins-data";
  const rows = await api(`${feed}?compact=true&limit=${WATCHLIST_PAGE + 1}&offset=${watchOffset}`);
  const coins = rows.slice(0, WATCHLIST_PAGE);
  const info = document.getElementById("coins-page-info");
  if (info) {
    info.textContent = coins.length ? `symbols ${watchOffset + 1}–${watchOffset + coins.length}` : "";
    document.getElementById("coins-next").disabled = rows.length <= WATCHLIST_PAGE;
    document.getElementById("coins-prev").disabled = watchOffset === 0;
  }
  const tbody = document.querySelector("#coins tbody");
  if (!selected && coins.length) selected = coins[0].symbol;
  fill(tbody, coins.map((c) => {
    const alerts = ["alert_enabled", "buy_alert_enabled", "sell_alert_enabled"]
      .map((f) => (c[f] ? "on" : "off")).join("/");
    return el("tr", {
      dataset: { symbol: c.symbol }, class: c.symbol === selected ? "selected" : null,
      onclick: () => { selected = c.symbol; history.replaceState(null, "", `?symbol=${c.symbol}`); refreshWatchlist(); },
    },
      el("td", { class: "mono" }, c.symbol),
      el("td", { class: "num" }, fmtNum(c.price)),
      el("td", { class: "num", title: "price age" }, fmtAge(c.price_age_seconds)),
      el("td", { class: "num", dataset: { indicator: "ma10w" },
                 title: "MA10w: SMA(70) of daily closes (the SELL trend's second branch)" },
         fmtNum((c.indicators || {}).ma10w)),
      el("td", { class: `decision ${c.decision || ""}`, title: c.error || c.decision_id || "" },
         c.decision || (c.enabled === false ? "disabled" : c.error ? "unknown" : "—")),
      FLAGS.map((f) => flagCell(c.flags[f], f)),
      el("td", { title: `buy index ${c.buy_index ?? "—"}` },
         el("span", { class: "bar" }, el("span", { style: { width: `${c.buy_index || 0}%` } })),
         ` ${c.buy_index ?? "—"}`),
      el("td", {}, c.preset),
      el("td", { class: "mono" }, alerts),
    );
  }));
  const current = selected
    ? (await api(`${feed}?symbols=${encodeURIComponent(selected)}`))[0] : undefined;
  document.getElementById("reasons").replaceChildren(
    ...(current ? current.reasons.map((r) => el("li", {}, r)) : []));
  if (selected) await drawChart(selected);
}

async function drawChart(symbol) {
  const box = document.getElementById("chart");
  document.getElementById("chart-symbol").textContent = symbol;
  let data;
  try {
    data = await api(`/api/market/candles/${encodeURIComponent(symbol)}?limit=120`);
  } catch (e) {
    box.replaceChildren(el("p", { class: "muted" }, `No candles: ${e.message}`));
    return;
  }
  const dec = document.getElementById("chart-decision");
  dec.textContent = data.decision || "";
  dec.className = `decision ${data.decision || ""}`;
  const W = 900, H = 320, PAD = 50;
  const cs = data.candles;
  const values = cs.flatMap((c) => [c.h, c.l]);
  for (const line of Object.values(data.overlays)) values.push(...line.filter((v) => v !== null));
  const lo = Math.min(...values), hi = Math.max(...values);
  const y = (v) => H - 20 - ((v - lo) / (hi - lo || 1)) * (H - 40);
  const step = (W - PAD - 10) / Math.max(cs.length, 1);
  const x = (i) => PAD + i * step + step / 2;
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
  svg.setAttribute("preserveAspectRatio", "none");
  const add = (tag, attrs) => {
    const n = document.createElementNS(ns, tag);
    for (const [k, v] of Object.entries(attrs)) n.setAttribute(k, v);
    svg.append(n);
    return n;
  };
  for (const v of [lo, (lo + hi) / 2, hi]) {
    add("line", { x1: PAD, x2: W - 10, y1: y(v), y2: y(v), stroke: "#eceef2" });
    add("text", { x: 4, y: y(v) + 4, "font-size": 11, fill: "#6b7385" }).textContent = fmtNum(v, 5);
  }
  cs.forEach((c, i) => {
    const up = c.c >= c.o, color = up ? "#1f9d55" : "#d64545";
    add("line", { x1: x(i), x2: x(i), y1: y(c.h), y2: y(c.l), stroke: color });
    const top = y(Math.max(c.o, c.c)), bottom = y(Math.min(c.o, c.c));
    add("rect", { x: x(i) - step * 0.35, y: top, width: Math.max(step * 0.7, 1),
                  height: Math.max(bottom - top, 1), fill: color, class: "candle" });
  });
  for (const [name, line] of Object.entries(data.overlays)) {
    const pts = line.map((v, i) => (v === null ? null : `${x(i)},${y(v)}`)).filter(Boolean);
    if (pts.length > 1) add("polyline", { points: pts.join(" "), class: `line ${name}` });
  }
  box.replaceChildren(svg);
}

// ── messages page ───────────────────────────────────────────────────────────────────────

async function refreshMessages() {
  const form = new FormData(document.getElementById("filters"));
  const q = new URLSearchParams({ limit: "200" });
  for (const key of ["outcome", "symbol"]) if (form.get(key)) q.set(key, form.get(key).trim());
  const rows = await api(`/api/alerts/outcomes?${q}`);
  fill(document.querySelector("#outcomes tbody"), rows.map((o) => el("tr",
    { dataset: { decisionId: o.decision_id, outcome: o.outcome } },
    el("td", {}, fmtTime(o.updated_at)),
    el("td", { class: "mono" }, o.symbol),
    el("td", { class: `decision ${o.side}` }, o.side),
    el("td", {}, el("span", { class: `outcome ${o.outcome}` }, o.outcome)),
    el("td", {}, [o.reason, o.error].filter(Boolean).join(" — ")),
    el("td", {}, o.message ? el("pre", { class: "msg" }, o.message) : "—"),
    el("td", { class: "num" }, o.message_id ?? "—"),
    el("td", { class: "mono" },
       el("a", { href: `/events?decision_id=${o.decision_id}` }, o.decision_id)),
  )));
}

// ── events page ─────────────────────────────────────────────────────────────────────────

const EVENTS_PAGE = 50;
let eventsOffset = 0;

async function refreshEvents() {
  const form = new FormData(document.getElementById("filters"));
  const q = new URLSearchParams({ limit: String(EVENTS_PAGE), offset: String(eventsOffset) });
  for (const key of ["type", "symbol", "decision_id"]) {
    const v = (form.get(key) || "").trim();
    if (v) q.set(key, v);
  }
  let rows;
  try {
    rows = await api(`/api/events?${q}`);
  } catch (e) {
    notice(e.message, true);
    return;
  }
  fill(document.querySelector("#events tbody"), rows.map((ev) => el("tr",
    { dataset: { type: ev.type } },
    el("td", {}, fmtTime(ev.at)),
    el("td", { class: "mono" }, ev.type),
    el("td", { class: `sev-${ev.severity}` }, ev.severity),
    el("td", { class: "mono" }, ev.symbol || ""),
    el("td", { class: "mono" }, ev.decision_id || ""),
    el("td", {}, ev.message),
    el("td", { class: "mono" }, Object.keys(ev.payload).length ? JSON.stringify(ev.payload) : ""),
  )));
  document.getElementById("page-info").textContent =
    `rows ${eventsOffset + 1}–${eventsOffset + rows.length}`;
  document.getElementById("older").disabled = rows.length < EVENTS_PAGE;
  document.getElementById("newer").disabled = eventsOffset === 0;
}

// ── settings page ───────────────────────────────────────────────────────────────────────

let presetNames = [];

async function change(path, method, body, what, after = refreshSettings) {
  try {
    await api(path, { method, body });
    notice(`${what}: saved`, false);
  } catch (e) {
    const hint = e.status === 401 ? " (enter the API token on the Settings page)" : "";
    notice(`${what}: ${e.message}${hint}`, true);
  }
  await after();
}

async function refreshSettings() {
  const [rows, settings, presets, audit] = await Promise.all([
    api("/api/watchlist"), api("/api/settings"), api("/api/presets"), api("/api/audit?limit=50"),
  ]);
  fill(document.querySelector("#switches tbody"), rows.map((r) => el("tr",
    { dataset: { symbol: r.symbol } },
    el("td", { class: "mono" }, r.symbol),
    SWITCHES.map((f) => el("td", {}, el("button", {
      type: "button", class: `toggle ${r[f] ? "on" : "off"}`,
      dataset: { field: f, symbol: r.symbol, value: String(r[f]) },
      onclick: () => change(`/api/watchlist/${r.symbol}`, "PATCH", { [f]: !r[f] }, `${r.symbol} ${f}`),
    }, r[f] ? "on" : "off"))),
    el("td", {}, r.preset),
    el("td", {}, el("button", {
      type: "button", dataset: { remove: r.symbol },
      onclick: () => { if (confirm(`Stop watching ${r.symbol}?`)) change(`/api/watchlist/${r.symbol}`, "DELETE", undefined, `remove ${r.symbol}`); },
    }, "remove")),
  )));
  document.getElementById("live-state").textContent = settings.live_trading ? "LIVE" : "dry run";
  document.getElementById("live-toggle").dataset.enabled = String(settings.live_trading);
  const names = presets.map((p) => p.name);
  if (names.join() !== presetNames.join()) {
    presetNames = names;
    for (const id of ["add-preset", "preset-name"]) {
      document.getElementById(id).replaceChildren(...names.map((n) => el("option", {}, n)));
    }
    const fields = Object.keys(presets[0] || {}).filter((k) => !["name", "updated_at", "updated_by"].includes(k));
    document.getElementById("preset-field").replaceChildren(...fields.map((n) => el("option", {}, n)));
    const head = document.querySelector("#presets thead");
    head.replaceChildren(el("tr", {}, el("th", {}, "preset"), fields.map((f) => el("th", {}, f))));
  }
  const fields = Object.keys(presets[0] || {}).filter((k) => !["name", "updated_at", "updated_by"].includes(k));
  fill(document.querySelector("#presets tbody"), presets.map((p) => el("tr", { dataset: { preset: p.name } },
    el("td", { class: "mono" }, p.name), fields.map((f) => el("td", {}, String(p[f]))))));
  fill(document.querySelector("#audit tbody"), audit.map((a) => el("tr", {},
    el("td", {}, fmtTime(a.at)), el("td", {}, a.author), el("td", { class: "mono" }, `${a.entity} ${a.entity_key}`),
    el("td", { class: "mono" }, a.field), el("td", { class: "mono" }, JSON.stringify(a.old_value)),
    el("td", { class: "mono" }, JSON.stringify(a.new_value)))));
  document.getElementById("token-state").textContent =
    localStorage.getItem(TOKEN_KEY) ? "token saved in this browser" : "no token saved";
}

function setupSettings() {
  document.getElementById("token-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const value = document.getElementById("token").value.trim();
    if (value) localStorage.setItem(TOKEN_KEY, value);
    document.getElementById("token").value = "";
    refreshSettings();
  });
  document.getElementById("token-clear").addEventListener("click", () => {
    localStorage.removeItem(TOKEN_KEY);
    refreshSettings();
  });
  document.getElementById("live-toggle").addEventListener("click", (ev) => {
    const enabled = ev.target.dataset.enabled !== "true";
    if (enabled && !confirm("Switch to LIVE orders?")) return;
    change("/api/settings/live-trading", "PUT", { enabled }, "live trading");
  });
  document.getElementById("add-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const f = new FormData(ev.target);
    change("/api/watchlist", "POST", { symbol: f.get("symbol").trim(), preset: f.get("preset") },
           `add ${f.get("symbol")}`);
  });
  document.getElementById("preset-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const f = new FormData(ev.target);
    let value = f.get("value").trim();
    if (value === "true" || value === "false") value = value === "true";
    else if (value !== "" && !isNaN(Number(value))) value = Number(value);
    change(`/api/presets/${f.get("name")}`, "PATCH", { [f.get("field")]: value },
           `preset ${f.get("name")} ${f.get("field")}`);
  });
}

// ── trading page ────────────────────────────────────────────────────────────────────────

function legs(orders) {
  return (orders || []).map((o) => el("div", { class: "leg mono", dataset: { role: o.role, status: o.status } },
    `${o.role} ${o.order_type} ${o.side} ${fmtNum(o.filled_quantity > 0 ? o.filled_quantity : o.quantity)}` +
    (o.avg_price ? ` @ ${fmtNum(o.avg_price)}` : "") +
    (o.trigger_price ? ` trigger ${fmtNum(o.trigger_price)}` : "") + ` · ${o.status}`));
}

function protectionCell(p) {
  if (p.protected) {
    const st = (p.protection && p.protection.status) || "ACTIVE";
    return el("td", { class: "protection protected", dataset: { protected: "true" } }, `protected (${st})`);
  }
  const err = p.protection_error;
  const why = err ? ` — ${err.code ?? ""} ${err.message} (${err.attempts} attempts since ${fmtTime(err.since)})` : "";
  return el("td", { class: "protection naked", dataset: { protected: "false" } }, `UNPROTECTED${why}`);
}

function intentReason(i) {
  if (i.error_code !== null && i.error_code !== undefined) {
    return el("span", { class: "code", dataset: { code: String(i.error_code) } },
      `${i.error_code} ${i.error_message || ""}`.trim());
  }
  return [i.reason, i.error_message].filter(Boolean).join(" — ");
}

async function refreshTrading() {
  const [state, orders, positions] = await Promise.all([
    api("/api/trading/state"), api("/api/orders?limit=50"), api("/api/positions"),
  ]);
  const mode = document.getElementById("trading-mode");
  mode.textContent = state.mode === "live" ? "LIVE" : "paper (dry run)";
  mode.className = `mode ${state.mode}`;
  mode.dataset.mode = state.mode;
  document.getElementById("live-switch").textContent = state.live_switch ? "on" : "off";
  const kill = document.getElementById("kill-switch");
  kill.textContent = state.kill_switch ? "ON — no new orders" : "off";
  kill.className = `kill ${state.kill_switch ? "on" : "off"}`;
  kill.dataset.on = String(state.kill_switch);
  const refused = document.getElementById("live-refused");
  refused.hidden = !state.live_refused_reason;
  refused.textContent = state.live_refused_reason ? `Live refused: ${state.live_refused_reason}` : "";
  document.getElementById("trading-counts").textContent =
    `open orders ${state.open_orders} · open positions ${state.open_positions} · ` +
    `unprotected ${state.unprotected_positions}`;
  const call = state.last_private_order_call;
  document.getElementById("last-order-call").textContent = call
    ? `${call.operation} at ${fmtTime(call.at)} ${call.ok ? "ok" : `failed: ${call.code ?? ""} ${call.message || ""}`}`
    : "none yet";

  const rows = positions.positions || [];
  document.getElementById("no-positions").hidden = rows.length > 0;
  fill(document.querySelector("#positions tbody"), rows.map((p) => el("tr",
    { dataset: { symbol: p.symbol, protected: String(p.protected) }, class: p.protected ? null : "naked" },
    el("td", { class: "mono" }, p.symbol),
    el("td", { class: "num" }, fmtNum(p.quantity)),
    el("td", { class: "num" }, fmtNum(p.avg_entry)),
    el("td", { class: "num" }, fmtNum(p.mark_price)),
    el("td", { class: `num ${(p.unrealised_pnl || 0) >= 0 ? "gain" : "loss"}` }, fmtNum(p.unrealised_pnl, 4)),
    el("td", { class: "num", dataset: { leg: "stop_loss" } }, fmtNum(p.protection ? p.protection.stop_loss : null)),
    el("td", { class: "num", dataset: { leg: "take_profit" } }, fmtNum(p.protection ? p.protection.take_profit : null)),
    protectionCell(p),
    el("td", {}, fmtTime(p.opened_at)),
    el("td", { class: "mono" }, p.decision_id ? el("a", { href: `/events?decision_id=${p.decision_id}` }, p.decision_id) : ""),
  )));

  const codes = Object.entries(orders.rejections_by_code || {});
  const messages = {};
  for (const i of orders.intents || []) {
    if (i.error_code !== null && i.error_code !== undefined && !messages[i.error_code]) messages[i.error_code] = i.error_message;
  }
  document.getElementById("rejections").replaceChildren(...(codes.length
    ? codes.map(([code, n]) => el("li", { dataset: { code } },
        el("strong", { class: "mono" }, code), ` ×${n}`, messages[code] ? ` — ${messages[code]}` : ""))
    : [el("li", { class: "muted" }, "none")]));

  fill(document.querySelector("#intents tbody"), (orders.intents || []).map((i) => el("tr",
    { dataset: { decisionId: i.decision_id, outcome: i.outcome, symbol: i.symbol } },
    el("td", {}, fmtTime(i.updated_at)),
    el("td", { class: "mono" }, i.symbol),
    el("td", { class: `decision ${i.side}` }, i.side),
    el("td", {}, i.mode),
    el("td", {}, el("span", { class: `order-outcome ${i.outcome}` }, i.outcome)),
    el("td", {}, intentReason(i)),
    el("td", {}, legs(i.orders)),
    el("td", { class: "mono" }, el("a", { href: `/events?decision_id=${i.decision_id}` }, i.decision_id)),
  )));
}

function setupTrading() {
  document.getElementById("kill-toggle").addEventListener("click", async () => {
    const on = document.getElementById("kill-switch").dataset.on !== "true";
    if (on && !confirm("Switch the kill switch ON (no new orders)?")) return;
    await change("/api/trading/kill-switch", "PUT", { enabled: on }, "kill switch", refresh);
  });
  document.getElementById("panic").addEventListener("click", async () => {
    if (!confirm("Cancel every open ATP entry order? SL/TP orders stay.")) return;
    await change("/api/trading/panic", "POST", undefined, "panic", refresh);
  });
}

// ── portfolio and orders pages ──────────────────────────────────────────────────────────
// Figures formatted exactly as Telegram formats them (atp/telegram/format.py): the API's
// values, the same rounding — the raw value is kept in data-value for comparison.

function fmtUsd(v) {
  // toFixed rounds the exact value (a tie away from zero), as atp/telegram/format.py does
  if (v === null || v === undefined) return "unknown";
  const [int, frac] = Math.abs(Number(v)).toFixed(2).split(".");
  return `${Number(v) < 0 && Number(`${int}.${frac}`) !== 0 ? "-" : ""}${int.replace(/\B(?=(\d{3})+(?!\d))/g, ",")}.${frac}`;
}

function fmtSigned(v) {
  if (v === null || v === undefined) return "unknown";
  return (Number(v) < 0 ? "-" : "+") + fmtUsd(Math.abs(Number(v)));
}

function fmtPct(v) {
  if (v === null || v === undefined) return "unknown";
  return `${Number(v) < 0 ? "-" : "+"}${Math.abs(Number(v)).toFixed(2)}%`;
}

function fmtPrice(v) {
  if (v === null || v === undefined) return "unknown";
  const n = Number(v);
  if (Math.abs(n) >= 1000) return fmtUsd(n);
  const text = Math.abs(n) >= 1 ? n.toFixed(4) : n.toFixed(8);
  return text.includes(".") ? text.replace(/0+$/, "").replace(/\.$/, "") : text;
}

function numCell(value, text, extra = {}) {
  const cls = extra.class || "num";
  return el("td", { ...extra, class: cls, dataset: { ...(extra.dataset || {}), value: value === null || value === undefined ? "" : String(value) } }, text);
}

function pnlClass(v) {
  return v === null || v === undefined ? "num" : `num ${Number(v) >= 0 ? "gain" : "loss"}`;
}

function executedRows(orders, wide) {
  return orders.map((o) => el("tr", { dataset: { clientOid: o.client_oid, side: o.side, role: o.role, symbol: o.symbol } },
    el("td", {}, fmtTime(o.executed_at)),
    el("td", { class: "mono" }, o.symbol),
    el("td", { class: `decision ${o.side}` }, o.side),
    el("td", {}, o.role),
    numCell(o.quantity, fmtPrice(o.quantity), { dataset: { field: "quantity" } }),
    numCell(o.avg_price, fmtPrice(o.avg_price), { dataset: { field: "avg_price" } }),
    wide ? numCell(o.notional, fmtUsd(o.notional), { dataset: { field: "notional" } }) : null,
    numCell(o.fee, `${fmtPrice(o.fee)} ${o.fee_currency || ""}`.trim(), { dataset: { field: "fee" } }),
    numCell(o.realised_pnl, o.side === "SELL" ? fmtSigned(o.realised_pnl) : "—",
      { class: pnlClass(o.realised_pnl), dataset: { field: "realised_pnl" }, title: o.realised_pnl_reason }),
    wide ? el("td", {}, o.mode) : null,
    wide ? el("td", { class: "mono" }, o.client_oid) : null,
  ));
}

async function refreshPortfolio() {
  const [p, pnl, executed] = await Promise.all([
    api("/api/portfolio"), api("/api/pnl"), api("/api/orders/executed?limit=10"),
  ]);
  const mode = document.getElementById("portfolio-mode");
  mode.textContent = p.mode === "live" ? "LIVE" : "paper (dry run)";
  mode.dataset.mode = p.mode;
  const total = document.getElementById("total-usd");
  total.textContent = fmtUsd(p.total_usd);
  total.dataset.value = String(p.total_usd);
  document.getElementById("unvalued").textContent = p.unvalued.length
    ? `(without ${p.unvalued.join(", ")}: no price)` : "";
  const err = document.getElementById("balances-error");
  err.hidden = !p.balances_error;
  err.textContent = p.balances_error || "";
  for (const [id, key] of [["pnl-today", "realised_today"], ["pnl-total", "realised_total"], ["pnl-unrealised", "unrealised"]]) {
    const node = document.getElementById(id);
    node.textContent = fmtSigned(pnl[key]);
    node.dataset.value = String(pnl[key]);
  }

  fill(document.querySelector("#balances tbody"), p.balances.map((b) => el("tr",
    { dataset: { currency: b.currency, valued: String(b.value_usd !== null) } },
    el("td", { class: "mono" }, b.currency),
    numCell(b.amount, fmtPrice(b.amount), { dataset: { field: "amount" } }),
    numCell(b.price_usd, fmtPrice(b.price_usd), { dataset: { field: "price_usd" } }),
    numCell(b.value_usd, fmtUsd(b.value_usd), { dataset: { field: "value_usd" } }),
    el("td", { class: b.reason ? "error-text" : "muted" }, b.reason || b.price_source),
  )));

  const rows = p.positions || [];
  document.getElementById("no-portfolio-positions").hidden = rows.length > 0;
  fill(document.querySelector("#portfolio-positions tbody"), rows.map((x) => el("tr",
    { dataset: { symbol: x.symbol, entry: x.entry_client_oid, protected: String(x.protected) }, class: x.protected ? null : "naked" },
    el("td", { class: "mono" }, x.symbol),
    numCell(x.quantity, fmtPrice(x.quantity), { dataset: { field: "quantity" } }),
    numCell(x.avg_entry, fmtPrice(x.avg_entry), { dataset: { field: "avg_entry" } }),
    numCell(x.mark_price, fmtPrice(x.mark_price), { dataset: { field: "mark_price" }, title: x.mark_reason }),
    numCell(x.unrealised_pnl, fmtSigned(x.unrealised_pnl), { class: pnlClass(x.unrealised_pnl), dataset: { field: "unrealised_pnl" } }),
    numCell(x.unrealised_pnl_pct, fmtPct(x.unrealised_pnl_pct), { class: pnlClass(x.unrealised_pnl_pct), dataset: { field: "unrealised_pnl_pct" } }),
    numCell(x.stop_loss, fmtPrice(x.stop_loss), { dataset: { field: "stop_loss" } }),
    numCell(x.take_profit, fmtPrice(x.take_profit), { dataset: { field: "take_profit" } }),
    protectionCell(x),
  )));

  fill(document.querySelector("#expected-tp tbody"), (p.expected_take_profit || []).map((t) => el("tr",
    { dataset: { symbol: t.symbol } },
    el("td", { class: "mono" }, t.symbol),
    numCell(t.held, fmtPrice(t.held), { dataset: { field: "held" } }),
    numCell(t.covered, fmtPrice(t.covered), { dataset: { field: "covered" } }),
    numCell(t.uncovered, fmtPrice(t.uncovered), { dataset: { field: "uncovered" } }),
    numCell(t.avg_take_profit, fmtPrice(t.avg_take_profit), { dataset: { field: "avg_take_profit" } }),
    numCell(t.profit_at_tp, fmtSigned(t.profit_at_tp), { class: pnlClass(t.profit_at_tp), dataset: { field: "profit_at_tp" } }),
  )));

  fill(document.querySelector("#portfolio-executed tbody"), executedRows(executed.orders, false));
}

const EXECUTED_PAGE = 50;
let executedOffset = 0;

async function refreshOrders() {
  const [open, executed] = await Promise.all([
    api("/api/orders/open"), api(`/api/orders/executed?limit=${EXECUTED_PAGE}&offset=${executedOffset}`),
  ]);
  document.getElementById("open-count").textContent = `(${open.total})`;
  document.getElementById("no-open-orders").hidden = open.orders.length > 0;
  fill(document.querySelector("#open-orders tbody"), open.orders.map((o) => el("tr",
    { dataset: { clientOid: o.client_oid, role: o.role, symbol: o.symbol, status: o.status } },
    el("td", {}, fmtTime(o.created_at)),
    el("td", { class: "mono" }, o.symbol),
    el("td", { class: `decision ${o.side}` }, o.side),
    el("td", {}, o.role),
    el("td", {}, o.order_type),
    numCell(o.quantity, fmtPrice(o.quantity), { dataset: { field: "quantity" } }),
    numCell(o.trigger_price, o.trigger_price ? fmtPrice(o.trigger_price) : "—", { dataset: { field: "trigger_price" } }),
    el("td", {}, o.status),
    el("td", {}, o.mode),
    el("td", { class: "mono" }, o.client_oid),
  )));
  const last = Math.min(executed.total, executedOffset + executed.orders.length);
  document.getElementById("executed-count").textContent =
    `(${executed.orders.length ? executedOffset + 1 : 0}–${last} of ${executed.total})`;
  document.getElementById("executed-newer").disabled = executedOffset === 0;
  document.getElementById("executed-older").disabled = last >= executed.total;
  fill(document.querySelector("#executed-orders tbody"), executedRows(executed.orders, true));
}

function setupOrders() {
  document.getElementById("executed-older").addEventListener("click", () => { executedOffset += EXECUTED_PAGE; refresh(); });
  document.getElementById("executed-newer").addEventListener("click", () => { executedOffset = Math.max(0, executedOffset - EXECUTED_PAGE); refresh(); });
}

// ── integrity page ──────────────────────────────────────────────────────────────────────

async function refreshIntegrity() {
  const box = document.getElementById("integrity");
  let report;
  try {
    report = await api("/api/monitoring/integrity");
  } catch (e) {
    box.replaceChildren(el("div", { class: "placeholder", "data-testid": "integrity-placeholder" },
      e.status === 503
        ? "The integrity check is not available on this instance yet. Run `atp check` from a shell meanwhile."
        : `The integrity report could not be read: ${e.message}`));
    return;
  }
  const icon = { ok: "✅", warning: "⚠️", critical: "❌", unknown: "❔", skipped: "⏭" };
  const counts = report.counts || {};
  box.replaceChildren(
    el("p", {}, el("strong", { class: `check-${report.status}` }, `Overall: ${report.status}`),
       ` · passed ${counts.passed ?? 0} · warnings ${counts.warnings ?? 0} · failed ${counts.failed ?? 0}`),
    el("table", { class: "grid" },
      el("thead", {}, el("tr", {}, ["", "Check", "Summary", "Remediation"].map((h) => el("th", {}, h)))),
      el("tbody", {}, (report.checks || []).map((c) => el("tr", { dataset: { check: c.id } },
        el("td", {}, icon[c.status] || ""), el("td", { class: `mono check-${c.status}` }, c.id),
        el("td", {}, c.summary), el("td", {}, c.remediation || ""))))));
}

// ── wiring ──────────────────────────────────────────────────────────────────────────────

const PAGES = {
  watchlist: refreshWatchlist,
  trading: refreshTrading,
  portfolio: refreshPortfolio,
  orders: refreshOrders,
  messages: refreshMessages,
  events: refreshEvents,
  settings: refreshSettings,
  integrity: refreshIntegrity,
};

async function refresh() {
  const page = document.body.dataset.page;
  try {
    await Promise.all([refreshHeader(), PAGES[page] ? PAGES[page]() : null]);
    document.getElementById("updated").textContent = `updated ${new Date().toLocaleTimeString()}`;
    document.body.dataset.loaded = "true";
  } catch (e) {
    notice(`Could not refresh: ${e.message}`, true);
  }
}

document.addEventListener("DOMContentLoaded", () => {
  const page = document.body.dataset.page;
  if (page === "settings") setupSettings();
  if (page === "trading") setupTrading();
  if (page === "orders") setupOrders();
  if (page === "events") {
    const params = new URLSearchParams(location.search);
    const form = document.getElementById("filters");
    for (const key of ["type", "symbol", "decision_id"]) if (params.get(key)) form.elements[key].value = params.get(key);
    form.addEventListener("submit", (ev) => { ev.preventDefault(); eventsOffset = 0; refresh(); });
    document.getElementById("older").addEventListener("click", () => { eventsOffset += EVENTS_PAGE; refresh(); });
    document.getElementById("newer").addEventListener("click", () => { eventsOffset = Math.max(0, eventsOffset - EVENTS_PAGE); refresh(); });
  }
  if (page === "watchlist") {
    document.getElementById("coins-next").addEventListener("click", () => { watchOffset += WATCHLIST_PAGE; refresh(); });
    document.getElementById("coins-prev").addEventListener("click", () => { watchOffset = Math.max(0, watchOffset - WATCHLIST_PAGE); refresh(); });
  }
  if (page === "messages") {
    document.getElementById("filters").addEventListener("change", refresh);
    document.getElementById("filters").addEventListener("submit", (ev) => { ev.preventDefault(); refresh(); });
  }
  refresh();
  setInterval(refresh, Number(document.body.dataset.refreshMs) || 5000);
});
