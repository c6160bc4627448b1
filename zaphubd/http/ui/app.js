// The zaphubd dashboard: plain JavaScript over the public REST API and the event stream.
// Everything shown comes from the API and is written with textContent (never innerHTML),
// and the key is sent as a header only: kept in sessionStorage, never put in a URL.
"use strict";

const KEY_SLOT = "zaphubd.apiKey";
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const $ = (id) => document.getElementById(id);

const state = { authOff: false, streams: [], timers: [] };

class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

async function api(method, path, body) {
  const headers = { "Accept": "application/json" };
  const key = sessionStorage.getItem(KEY_SLOT);
  if (key) headers["Authorization"] = `Bearer ${key}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const res = await fetch(`/api/v1${path}`, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "omit", cache: "no-store",
  });
  const payload = await res.json().catch(() => ({}));
  if (!res.ok) throw new ApiError(res.status, payload.error?.message || res.statusText);
  return payload.data;
}

function notify(text, kind = "") {
  const box = $("notice");
  box.textContent = text;
  box.className = `banner ${kind}`;
  box.hidden = !text;
}

// Redraw a table body only when its data changed, so a button is not replaced under the
// pointer by an identical one.
const drawn = new Map();
function fill(bodyId, rows, draw) {
  const key = JSON.stringify(rows);
  if (drawn.get(bodyId) === key) return;
  drawn.set(bodyId, key);
  $(bodyId).replaceChildren(...rows.map(draw));
}

// `draw` once, 200 ms after the last of a burst of calls (events come in bursts).
function soon(draw) {
  let pending = null;
  return () => {
    clearTimeout(pending);
    pending = setTimeout(() => draw().catch((err) => notify(err.message, "error")), 200);
  };
}

function el(tag, text, attrs = {}) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, value);
  return node;
}

// crypto.randomUUID exists only on HTTPS and localhost; getRandomValues everywhere.
function newMessageId() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return "ui-" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function when(iso) {
  return iso ? new Date(iso).toLocaleString() : "";
}

function phone(number) {
  return number ? `+${String(number).replace(/^\+/, "")}` : "";
}

// -- the event stream ---------------------------------------------------------------------

// Opens a stream with a short-lived token, and again (with a new token and the last id
// seen, so nothing is missed) whenever the daemon or the network ends it.
function follow(sessionId, types, onEvent, onOpen) {
  const stream = { source: null, lastId: "", stopped: false };
  async function open() {
    if (stream.stopped) return;
    try {
      const grant = await api("POST", "/events/stream-token", sessionId ? { sessionId } : {});
      const url = new URL(grant.url, location.origin);
      if (types) url.searchParams.set("types", types);
      if (stream.lastId) url.searchParams.set("lastEventId", stream.lastId);
      const source = new EventSource(url.pathname + url.search);
      stream.source = source;
      // Open means subscribed: what the page reads now cannot miss an event after it.
      source.onopen = () => {
        if ($("notice").textContent.startsWith("The live updates stopped")) notify("");
        onOpen();
      };
      source.onmessage = (frame) => {
        stream.lastId = frame.lastEventId;
        onEvent(JSON.parse(frame.data));
      };
      source.addEventListener("close", () => { source.close(); retry(); });
      source.onerror = () => {
        if (source.readyState !== EventSource.CLOSED) return;  // the browser reconnects
        notify("The live updates stopped (a bad filter, or the daemon is away); retrying…", "error");
        retry();
      };
    } catch (err) {
      retry();
    }
  }
  function retry() {
    if (!stream.stopped) state.timers.push(setTimeout(open, 2000));
  }
  stream.stop = () => { stream.stopped = true; stream.source?.close(); };
  state.streams.push(stream);
  open();
}

function stopAll() {
  state.streams.forEach((s) => s.stop());
  state.timers.forEach((t) => { clearTimeout(t); clearInterval(t); });
  state.streams = [];
  state.timers = [];
  state.refreshMessages = null;
  drawn.clear();
}

// -- views ----------------------------------------------------------------------------------

function show(section) {
  for (const id of ["sign-in", "sessions", "session", "messages", "webhooks", "events"]) {
    $(id).hidden = id !== section;
  }
}

async function sessionsView() {
  show("sessions");
  const refresh = soon(renderSessions);
  await renderSessions();
  follow(null, "session.*,message.send.queued,message.sent,message.moved_to_dlq", refresh, refresh);
}

async function renderSessions() {
  const rows = await api("GET", "/sessions?limit=100");
  fill("session-rows", rows, sessionRow);
  $("no-sessions").hidden = rows.length > 0;
}

function sessionRow(s) {
  const tr = el("tr", undefined, { "data-session": s.id });
  const link = el("a", s.label, { href: `#/sessions/${s.id}` });
  const cells = [
    ["Label", link], ["Status", s.status], ["Phone", phone(s.phone_number)],
    ["Name", s.push_name], ["Node", s.node_id],
    ["Queued / sending", s.sends ? `${s.sends.queued} / ${s.sends.in_flight}` : ""],
    ["Last seen", when(s.last_seen)],
  ];
  for (const [label, value] of cells) {
    const td = el("td", value instanceof Node ? undefined : value, { "data-label": label });
    if (value instanceof Node) td.append(value);
    tr.append(td);
  }
  const actions = el("td", undefined, { class: "actions", "data-label": "Actions" });
  actions.append(
    action("Reconnect", () => api("POST", `/sessions/${s.id}/reconnect`)),
    action("Restart", () => api("POST", `/sessions/${s.id}/restart`),
      `Restart "${s.label}"? Its login is cleared: it needs a new QR scan.`),
    action("Delete", () => api("DELETE", `/sessions/${s.id}`),
      `Delete "${s.label}"? It is logged out and removed.`),
  );
  tr.append(actions);
  return tr;
}

function action(label, run, confirmText) {
  const button = el("button", label, { type: "button" });
  button.addEventListener("click", async () => {
    if (confirmText && !window.confirm(confirmText)) return;
    try {
      await run();
      notify(`${label}: done`);
      await renderSessions();
    } catch (err) {
      notify(`${label} failed: ${err.message}`, "error");
    }
  });
  return button;
}

async function sessionView(id) {
  show("session");
  const qr = { expiresAt: null, url: null };
  const render = async () => {
    const s = await api("GET", `/sessions/${id}`);
    $("session-title").textContent = s.label;
    $("session-status").textContent = s.status;
    $("session-error").textContent = s.error_message || "";
    const connected = s.status === "connected";
    $("connected-as").hidden = !connected;
    $("connected-as").textContent = connected
      ? `Connected as ${phone(s.phone_number)}${s.push_name ? ` (${s.push_name})` : ""}` : "";
    $("qr-box").hidden = s.status !== "qr_pending";
    if (s.status === "qr_pending") await drawQr(id, qr);
  };
  const rerender = () => render().catch((err) => notify(err.message, "error"));
  $("to-messages").href = `#/sessions/${id}/messages`;
  $("to-webhooks").href = `#/sessions/${id}/webhooks`;
  await render();
  follow(id, "session.*", (event) => {
    if (event.event_type === "session.pair_code") showPairCode(event.payload.pairing_code);
    else rerender();
  }, rerender);
  state.timers.push(setInterval(() => countdown(qr), 1000));
}

async function messagesView(id) {
  show("messages");
  $("back-to-session").href = `#/sessions/${id}`;
  const refresh = soon(() => renderMessages(id));
  state.refreshMessages = refresh;
  await renderMessages(id);
  follow(id, "message.*", refresh, refresh);
}

async function renderMessages(id) {
  const query = new URLSearchParams({ limit: "50" });
  for (const name of ["status", "direction"]) {
    const value = $(`filter-${name}`).value;
    if (value) query.set(name, value);
  }
  const rows = await api("GET", `/sessions/${id}/messages?${query}`);
  fill("message-rows", rows, messageRow);
}

function messageRow(m) {
  const tr = el("tr", undefined, { "data-message": m.messageId });
  const content = m.content?.text ?? m.content?.caption ?? (m.type === "text" ? "" : `[${m.type}]`);
  const status = m.error_message ? `${m.status}: ${m.error_message}` : m.status;
  const cells = [
    ["When", when(m.created_at)], ["Direction", m.direction],
    ["To / from", m.direction === "outbound" ? m.to : m.from], ["Type", m.type],
    ["Content", content], ["Status", status],
  ];
  for (const [label, value] of cells) tr.append(el("td", value, { "data-label": label }));
  tr.lastChild.className = `status status-${m.status}`;
  tr.children[4].classList.add("content");
  return tr;
}

async function webhooksView(id) {
  show("webhooks");
  $("webhooks-back").href = `#/sessions/${id}`;
  $("webhook-test-result").textContent = "";
  const refresh = soon(() => renderDeliveries(id));
  await renderDeliveries(id);
  follow(id, "webhook.*", refresh, refresh);
}

// The global webhook's deliveries carry this webhook_id (it is not one of the session's).
const GLOBAL_WEBHOOK = "00000000-0000-0000-0000-000000000000";

async function renderDeliveries(id) {
  const [rows, hooks] = await Promise.all([
    api("GET", `/sessions/${id}/webhook/events?limit=50`),
    api("GET", `/sessions/${id}/webhooks`),
  ]);
  const firstId = hooks.find((h) => h.first)?.id;
  const label = (d) => d.webhook_id === GLOBAL_WEBHOOK ? "global"
    : d.webhook_id === firstId ? "webhook_url" : d.webhook_id.slice(0, 8);
  fill("delivery-rows", rows, (d) => deliveryRow(id, d, label(d)));
  $("no-deliveries").hidden = rows.length > 0;
}

function deliveryRow(sessionId, d, webhook) {
  const tr = el("tr", undefined, { "data-delivery": d.delivery_id });
  const cells = [
    ["Created", when(d.created_at)], ["Event", d.event], ["Webhook", webhook],
    ["URL", d.url], ["Status", d.status],
  ];
  for (const [label, value] of cells) tr.append(el("td", value, { "data-label": label }));
  tr.lastChild.className = `status status-${d.status}`;
  const log = el("ol", undefined, { class: "attempts" });
  for (const a of d.attempt_log) {
    const outcome = a.error ? a.error : `HTTP ${a.status_code}`;
    log.append(el("li", `${when(a.at)}: ${outcome} (${a.latency_ms} ms)`));
  }
  const attempts = el("td", undefined, { "data-label": "Attempts" });
  attempts.append(log);
  tr.append(attempts);
  const actions = el("td", undefined, { class: "actions", "data-label": "Actions" });
  if (d.status === "failed") {
    const retry = el("button", "Retry", { type: "button" });
    retry.addEventListener("click", async () => {
      try {
        await api("POST", `/sessions/${sessionId}/webhook/retry`, { delivery_id: d.delivery_id });
        notify("Retry queued");
      } catch (err) {
        notify(`Retry failed: ${err.message}`, "error");
      }
    });
    actions.append(retry);
  }
  tr.append(actions);
  return tr;
}

async function eventsView() {
  show("events");
  const feed = $("event-feed");
  feed.replaceChildren();
  const types = $("events-types").value.trim() || "*";
  follow(null, types === "*" ? "" : types, (event) => {
    const line = `${when(event.created_at)}  ${event.event_type}  ${event.session_id || "-"}  ` +
      JSON.stringify(event.payload);
    feed.prepend(el("li", line.slice(0, 600), { "data-type": event.event_type }));
    while (feed.children.length > 200) feed.lastChild.remove();  // the page keeps the last 200
  }, () => {});
}

async function drawQr(id, qr) {
  try {
    const data = await api("GET", `/sessions/${id}/qr?format=svg`);
    const image = new Blob([data.qr_code], { type: "image/svg+xml" });
    if (qr.url) URL.revokeObjectURL(qr.url);
    qr.url = URL.createObjectURL(image);
    qr.expiresAt = new Date(data.expires_at);
    $("qr").src = qr.url;
    countdown(qr);
  } catch (err) {
    if (err.status !== 404 && err.status !== 410) throw err;
    $("qr-countdown").textContent = "Waiting for a new QR code…";
  }
}

function countdown(qr) {
  if (!qr.expiresAt) return;
  const left = Math.max(0, Math.round((qr.expiresAt - Date.now()) / 1000));
  $("qr-countdown").textContent = left > 0 ? `This code expires in ${left} s` : "Expired: a new code is on its way";
}

function showPairCode(code) {
  $("pair-code").hidden = false;
  $("pair-code").textContent = code;
}

// -- start ----------------------------------------------------------------------------------

async function route() {
  stopAll();
  notify("");
  const [, id, page] = location.hash.match(/^#\/sessions\/([^/]+)(?:\/(\w+))?$/) || [];
  try {
    if (location.hash === "#/events") await eventsView();
    else if (id && UUID.test(id) && page === "messages") await messagesView(id);
    else if (id && UUID.test(id) && page === "webhooks") await webhooksView(id);
    else if (id && UUID.test(id)) await sessionView(id);
    else await sessionsView();
  } catch (err) {
    if (err.status === 401) return signIn("That key was refused.");
    notify(err.message, "error");
  }
}

function signIn(message) {
  stopAll();
  sessionStorage.removeItem(KEY_SLOT);
  show("sign-in");
  $("sign-out").hidden = true;
  notify(message || "", message ? "error" : "");
  $("key").focus();
}

async function start() {
  $("key-form").addEventListener("submit", (e) => {
    e.preventDefault();
    sessionStorage.setItem(KEY_SLOT, $("key").value.trim());
    $("key").value = "";
    $("sign-out").hidden = false;
    route();
  });
  $("sign-out").addEventListener("click", () => signIn());
  $("create-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const body = { label: $("new-label").value.trim() };
    if ($("new-webhook").value.trim()) body.webhook_url = $("new-webhook").value.trim();
    if ($("new-config").value.trim()) {
      try {
        body.config = JSON.parse($("new-config").value);
      } catch (err) {
        return notify("Config must be a JSON object, e.g. {\"retryLimit\": 5}", "error");
      }
    }
    try {
      const created = await api("POST", "/sessions", body);
      e.target.reset();
      location.hash = `#/sessions/${created.id}`;
    } catch (err) {
      notify(`Create failed: ${err.message}`, "error");
    }
  });
  $("pair-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const id = location.hash.split("/")[2];
    try {
      const data = await api("POST", `/sessions/${id}/pair`, { phone: $("pair-phone").value.trim() });
      showPairCode(data.pairing_code);
    } catch (err) {
      notify(`Pairing failed: ${err.message}`, "error");
    }
  });
  $("send-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const id = location.hash.split("/")[2];
    // A fresh messageId per send: a retried request can never send twice.
    const body = { messageId: newMessageId(), to: $("send-to").value.trim(),
      text: $("send-text").value };
    try {
      await api("POST", `/sessions/${id}/messages`, body);
      $("send-text").value = "";
      notify(`Queued: ${body.messageId}`);
      state.refreshMessages?.();
    } catch (err) {
      notify(`Send failed: ${err.message}`, "error");
    }
  });
  for (const name of ["status", "direction"]) {
    $(`filter-${name}`).addEventListener("change", () => state.refreshMessages?.());
  }
  $("webhook-test").addEventListener("click", async () => {
    const id = location.hash.split("/")[2];
    $("webhook-test-result").textContent = "Sending…";
    try {
      const r = await api("POST", `/sessions/${id}/webhook/test`, {});
      $("webhook-test-result").textContent = r.ok
        ? `OK: HTTP ${r.status_code} in ${r.latency_ms} ms`
        : `Failed: ${r.error || `HTTP ${r.status_code}`} (${r.latency_ms} ms)`;
    } catch (err) {
      $("webhook-test-result").textContent = `Failed: ${err.message}`;
    }
  });
  $("events-filter").addEventListener("submit", (e) => {
    e.preventDefault();
    stopAll();
    eventsView();
  });
  window.addEventListener("hashchange", route);

  const health = await fetch("/api/v1/health", { credentials: "omit" }).then((r) => r.json());
  state.authOff = health.data?.auth === false;
  $("auth-off").hidden = !state.authOff;
  if (!state.authOff && !sessionStorage.getItem(KEY_SLOT)) return signIn();
  $("sign-out").hidden = state.authOff;
  route();
}

start();
