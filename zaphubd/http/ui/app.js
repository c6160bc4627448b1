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

function el(tag, text, attrs = {}) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, value);
  return node;
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
      url.searchParams.set("types", types);
      if (stream.lastId) url.searchParams.set("lastEventId", stream.lastId);
      const source = new EventSource(url.pathname + url.search);
      stream.source = source;
      // Open means subscribed: what the page reads now cannot miss an event after it.
      source.onopen = () => onOpen();
      source.onmessage = (frame) => {
        stream.lastId = frame.lastEventId;
        onEvent(JSON.parse(frame.data));
      };
      source.addEventListener("close", () => { source.close(); retry(); });
      source.onerror = () => { if (source.readyState === EventSource.CLOSED) retry(); };
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
}

// -- views ----------------------------------------------------------------------------------

function show(section) {
  for (const id of ["sign-in", "sessions", "session"]) $(id).hidden = id !== section;
}

async function sessionsView() {
  show("sessions");
  let pending = null;
  const refresh = () => {
    clearTimeout(pending);
    pending = setTimeout(renderSessions, 200);
  };
  await renderSessions();
  follow(null, "session.*", refresh, refresh);
}

async function renderSessions() {
  const rows = await api("GET", "/sessions?limit=100");
  const body = $("session-rows");
  body.replaceChildren(...rows.map(sessionRow));
  $("no-sessions").hidden = rows.length > 0;
}

function sessionRow(s) {
  const tr = el("tr", undefined, { "data-session": s.id });
  const link = el("a", s.label, { href: `#/sessions/${s.id}` });
  const cells = [
    ["Label", link], ["Status", s.status], ["Phone", phone(s.phone_number)],
    ["Name", s.push_name], ["Node", s.node_id], ["Last seen", when(s.last_seen)],
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
  await render();
  follow(id, "session.*", (event) => {
    if (event.event_type === "session.pair_code") showPairCode(event.payload.pairing_code);
    else rerender();
  }, rerender);
  state.timers.push(setInterval(() => countdown(qr), 1000));
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
  const match = location.hash.match(/^#\/sessions\/(.+)$/);
  try {
    if (match && UUID.test(match[1])) await sessionView(match[1]);
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
  window.addEventListener("hashchange", route);

  const health = await fetch("/api/v1/health", { credentials: "omit" }).then((r) => r.json());
  state.authOff = health.data?.auth === false;
  $("auth-off").hidden = !state.authOff;
  if (!state.authOff && !sessionStorage.getItem(KEY_SLOT)) return signIn();
  $("sign-out").hidden = state.authOff;
  route();
}

start();
