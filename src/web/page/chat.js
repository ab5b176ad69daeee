// ClassCord browser client: the TCP clients' JSON protocol (docs/PROTOCOL.md), one object per
// WebSocket text frame. Every user text is shown with textContent, never parsed as HTML.
"use strict";

const DEFAULT = "#général";
const HISTORY_PAGE = 50;
const $ = (id) => document.getElementById(id);

const state = {
  ws: null,
  // What to do again after a reconnection: { kind: "guest", name } or { kind: "account", name, password }.
  identity: null,
  name: null,
  signedIn: false,
  wanted: false, // the user wants to be connected (false after "Quitter")
  retries: 0,
  retryTimer: null,
  current: DEFAULT,
  // Conversations by key: "#salon" (channel key, lower case) or "@nom" (private).
  conversations: new Map(),
  joined: new Set([DEFAULT]),
  people: new Map(), // name -> state
  myStatus: "online",
};

function key(name) {
  return name.normalize("NFC").toLowerCase();
}

function conversation(id, title) {
  let found = state.conversations.get(id);
  if (!found) {
    found = { id, title, lines: [], ids: new Set(), unread: 0, oldest: null, complete: false, loaded: false };
    state.conversations.set(id, found);
  }
  return found;
}

function channelId(display) {
  if (!display) return DEFAULT;
  const bare = display.startsWith("#") ? display : "#" + display;
  const folded = key(bare);
  return folded === "#general" || folded === "#général" ? DEFAULT : folded;
}

// ---------------------------------------------------------------- connection

function setLink(text) {
  $("link").textContent = text;
}

function connect() {
  clearTimeout(state.retryTimer);
  const scheme = location.protocol === "https:" ? "wss://" : "ws://";
  const ws = new WebSocket(scheme + location.host + "/ws");
  state.ws = ws;
  setLink("Connexion…");
  ws.addEventListener("open", () => {
    state.retries = 0;
    setLink("Connecté");
    send({ type: "hello", features: ["kick", "shutdown", "no-hold", "deleted"] });
    identify();
  });
  ws.addEventListener("message", (event) => {
    let line;
    try {
      line = JSON.parse(event.data);
    } catch {
      return;
    }
    receive(line);
  });
  ws.addEventListener("close", () => {
    if (state.ws !== ws) return;
    state.ws = null;
    state.signedIn = false;
    if (!state.wanted) {
      setLink("Hors ligne");
      return;
    }
    // Back off: 1, 2, 4, 8, then 15 s at most, with a little jitter so a class does not return at once.
    const wait = Math.min(15, 2 ** state.retries) + Math.random();
    state.retries += 1;
    setLink("Connexion perdue : nouvelle tentative dans " + Math.round(wait) + " s");
    state.retryTimer = setTimeout(connect, wait * 1000);
  });
}

function send(object) {
  if (state.ws && state.ws.readyState === WebSocket.OPEN) {
    state.ws.send(JSON.stringify(object));
    return true;
  }
  return false;
}

function identify() {
  const who = state.identity;
  if (!who) return;
  if (who.kind === "guest") {
    // An empty message names the guest; the welcome (or the user list) then tells its name.
    send({ type: "message", from: who.name, content: "" });
    send({ type: "users" });
  } else if (who.kind === "register") {
    send({ type: "register", username: who.name, password: who.password });
  } else {
    send({ type: "login", username: who.name, password: who.password });
  }
}

function signedIn(name) {
  state.name = name;
  state.signedIn = true;
  $("sign-in").hidden = true;
  $("chat").hidden = false;
  $("me").hidden = false;
  $("me-name").textContent = name;
  $("sign-in-error").textContent = "";
  send({ type: "users" });
  send({ type: "channels" });
  for (const id of state.joined) {
    if (id !== DEFAULT) send({ type: "join_channel", channel: conversation(id, id).title });
  }
  if (state.myStatus !== "online") send({ type: "status", state: state.myStatus });
  for (const c of state.conversations.values()) c.loaded = false;
  open(state.current);
}

// ---------------------------------------------------------------- what the server sends

function receive(line) {
  switch (line.type) {
    case "login":
      if (line.status === "ok") signedIn(line.username);
      break;
    case "register":
      if (line.status === "ok" && state.identity && state.identity.kind === "register") {
        state.identity.kind = "account";
        identify();
      }
      break;
    case "error":
      if (!state.signedIn) {
        $("sign-in-error").textContent = line.message;
        state.wanted = false;
        if (state.ws) state.ws.close();
      } else {
        notice(state.current, line.message, null, true);
      }
      break;
    case "message":
      if (guestPending() && line.from === "Serveur" && line.to) signedIn(line.to);
      chatLine(line);
      break;
    case "status":
      if (line.state === "offline") state.people.delete(line.user);
      else state.people.set(line.user, line.state);
      drawPeople();
      break;
    case "users":
    case "list_users":
      if (guestPending()) {
        const asked = state.identity.name;
        const marked = asked + " (invité)";
        signedIn(line.users.includes(asked) ? asked : line.users.includes(marked) ? marked : asked);
      }
      for (const name of line.users) if (!state.people.has(name)) state.people.set(name, "online");
      drawPeople();
      break;
    case "channels":
      for (const item of line.channels) conversation(channelId(item.name), item.name).members = item.members;
      drawLists();
      break;
    case "join_channel":
      if (line.status === "ok") {
        const id = channelId(line.channel);
        conversation(id, line.channel);
        state.joined.add(id);
        drawLists();
      }
      break;
    case "leave_channel":
      if (line.status === "ok") {
        state.joined.delete(channelId(line.channel));
        if (state.current === channelId(line.channel)) open(DEFAULT);
        drawLists();
      }
      break;
    case "history":
      history(line);
      break;
    case "deleted":
      removeLine(line.id);
      break;
    case "kick":
    case "shutdown":
      // The notice that follows says why; after a shutdown the reconnection brings the user back.
      if (line.type === "kick") state.wanted = false;
      break;
    default:
      break;
  }
}

function guestPending() {
  return !state.signedIn && state.identity !== null && state.identity.kind === "guest";
}

function isSystem(line) {
  return line.from === "Serveur" && line.system === true;
}

function chatLine(line) {
  let id;
  if (line.subtype === "private") {
    const other = line.from === state.name ? line.to : line.from;
    if (isSystem(line)) {
      id = state.current;
    } else {
      id = "@" + key(other);
      conversation(id, other);
    }
  } else {
    id = channelId(line.channel);
    conversation(id, line.channel || DEFAULT);
  }
  if (isSystem(line)) {
    notice(id, line.content, line.timestamp, false);
    return;
  }
  add(id, line, false);
}

function notice(id, text, timestamp, isError) {
  add(id, { from: "Serveur", content: text, timestamp, system: true, error: isError }, false);
}

function add(id, line, older) {
  const c = conversation(id, id);
  if (line.id !== undefined) {
    if (c.ids.has(line.id)) return;
    c.ids.add(line.id);
    if (c.oldest === null || line.id < c.oldest) c.oldest = line.id;
  }
  if (older) c.lines.unshift(line);
  else c.lines.push(line);
  if (id === state.current) {
    draw(line, older);
  } else if (!older && !line.system) {
    c.unread += 1;
    drawLists();
  }
}

// The teacher deleted a message: it leaves every conversation holding it, and the screen.
function removeLine(id) {
  for (const c of state.conversations.values()) {
    const before = c.lines.length;
    c.lines = c.lines.filter((l) => l.id !== id);
    if (c.lines.length !== before && c.id === state.current) {
      $("log").replaceChildren(...c.lines.map(item));
    }
  }
}

function history(line) {
  const id = line.with ? "@" + key(line.with) : channelId(line.channel);
  const c = conversation(id, line.with || line.channel || DEFAULT);
  const messages = line.messages || [];
  for (let i = messages.length - 1; i >= 0; i -= 1) add(id, messages[i], true);
  if (messages.length < HISTORY_PAGE) c.complete = true;
  $("older").hidden = c.complete;
}

// ---------------------------------------------------------------- drawing

function time(stamp) {
  return typeof stamp === "string" && stamp.length >= 16 ? stamp.slice(11, 16) : "";
}

function mentions(text) {
  if (!state.name) return false;
  const at = text.toLowerCase().indexOf(state.name.toLowerCase());
  return at >= 0;
}

function item(line) {
  const li = document.createElement("li");
  const when = time(line.timestamp);
  if (when) {
    const t = document.createElement("time");
    t.textContent = when;
    li.append(t);
  }
  if (line.system) {
    li.className = "notice";
    if (line.error) li.setAttribute("role", "alert");
    li.append(document.createTextNode(line.content));
    return li;
  }
  const who = document.createElement("span");
  who.className = "who";
  who.textContent = line.from + " : ";
  li.append(who, document.createTextNode(line.content));
  if (line.deferred === true) li.classList.add("deferred");
  if (line.from !== state.name && mentions(line.content)) li.classList.add("mention");
  return li;
}

function draw(line, older) {
  const box = $("log-box");
  const atBottom = box.scrollTop + box.clientHeight >= box.scrollHeight - 40;
  if (older) {
    const before = box.scrollHeight;
    $("log").prepend(item(line));
    box.scrollTop += box.scrollHeight - before;
  } else {
    $("log").append(item(line));
    if (atBottom) box.scrollTop = box.scrollHeight;
  }
}

function open(id) {
  state.current = id;
  const c = conversation(id, id === DEFAULT ? DEFAULT : id);
  c.unread = 0;
  $("talk-title").textContent = c.title.startsWith("#") || id.startsWith("#") ? c.title : "Privé : " + c.title;
  $("leave").hidden = !id.startsWith("#") || id === DEFAULT;
  $("log").replaceChildren(...c.lines.map(item));
  $("log-box").scrollTop = $("log-box").scrollHeight;
  $("older").hidden = c.complete;
  if (!c.loaded && state.signedIn) {
    c.loaded = true;
    loadOlder();
  }
  drawLists();
  $("side").classList.remove("open");
  $("toggle-side").setAttribute("aria-expanded", "false");
}

function loadOlder() {
  const c = conversation(state.current, state.current);
  const ask = { type: "history", limit: HISTORY_PAGE };
  if (state.current.startsWith("@")) ask.with = c.title;
  else ask.channel = c.title;
  if (c.oldest !== null) ask.before = c.oldest;
  send(ask);
}

function entry(id, label, extra, onClick) {
  const li = document.createElement("li");
  const button = document.createElement("button");
  button.type = "button";
  const name = document.createElement("span");
  name.textContent = label;
  button.append(name);
  if (extra) button.append(extra);
  if (id === state.current) button.setAttribute("aria-current", "true");
  button.addEventListener("click", onClick);
  li.append(button);
  return li;
}

function badge(count) {
  if (!count) return null;
  const b = document.createElement("span");
  b.className = "badge";
  b.textContent = String(count);
  b.setAttribute("aria-label", count + " non lu" + (count > 1 ? "s" : ""));
  return b;
}

function drawLists() {
  const channels = [...state.conversations.values()].filter((c) => c.id.startsWith("#"));
  channels.sort((a, b) => (a.id === DEFAULT ? -1 : b.id === DEFAULT ? 1 : a.id.localeCompare(b.id)));
  $("channels").replaceChildren(
    ...channels.map((c) => {
      const joined = state.joined.has(c.id);
      const label = c.title + (joined ? "" : " (rejoindre)");
      return entry(c.id, label, badge(c.unread), () => {
        if (!joined) send({ type: "join_channel", channel: c.title });
        open(c.id);
      });
    }),
  );
  const privates = [...state.conversations.values()].filter((c) => c.id.startsWith("@"));
  $("privates").replaceChildren(...privates.map((c) => entry(c.id, c.title, badge(c.unread), () => open(c.id))));
}

const STATES = { online: "disponible", away: "absent", dnd: "ne pas déranger", invisible: "invisible" };

function drawPeople() {
  const names = [...state.people.keys()].sort((a, b) => a.localeCompare(b));
  $("people").replaceChildren(
    ...names.map((name) => {
      const s = document.createElement("span");
      s.className = "state";
      s.textContent = STATES[state.people.get(name)] || state.people.get(name);
      if (name === state.name) return entry(null, name + " (moi)", s, () => $("my-status").focus());
      return entry("@" + key(name), name, s, () => {
        conversation("@" + key(name), name);
        open("@" + key(name));
      });
    }),
  );
}

// ---------------------------------------------------------------- what the user does

function submitText(text) {
  const trimmed = text.trim();
  if (!trimmed) return;
  const join = trimmed.match(/^\/join\s+(\S+)/i);
  if (join) {
    send({ type: "join_channel", channel: join[1] });
    open(channelId(join[1]));
    return;
  }
  if (/^\/leave\b/i.test(trimmed)) {
    if (state.current !== DEFAULT && state.current.startsWith("#")) {
      send({ type: "leave_channel", channel: conversation(state.current, state.current).title });
    }
    return;
  }
  const msg = trimmed.match(/^\/msg\s+(\S+)\s+([\s\S]+)/i);
  if (msg) {
    sendPrivate(msg[1], msg[2]);
    return;
  }
  if (state.current.startsWith("@")) {
    sendPrivate(conversation(state.current, state.current).title, text);
    return;
  }
  const line = { type: "message", subtype: "global", content: text };
  if (state.current !== DEFAULT) line.channel = conversation(state.current, state.current).title;
  if (send(line)) {
    add(state.current, { from: state.name, content: text, timestamp: now() }, false);
  }
}

function sendPrivate(to, text) {
  if (send({ type: "message", subtype: "private", to, content: text })) {
    const id = "@" + key(to);
    conversation(id, to);
    if (key(to) !== key(state.name || "")) {
      add(id, { from: state.name, content: text, timestamp: now() }, false);
    }
    if (state.current !== id) open(id);
  }
}

function now() {
  const d = new Date();
  const pad = (n) => String(n).padStart(2, "0");
  return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + "T" + pad(d.getHours()) + ":" + pad(d.getMinutes());
}

function start(identity) {
  state.identity = identity;
  state.wanted = true;
  $("sign-in-error").textContent = "";
  if (state.ws) state.ws.close();
  connect();
}

document.addEventListener("DOMContentLoaded", () => {
  $("guest-form").addEventListener("submit", (event) => {
    event.preventDefault();
    start({ kind: "guest", name: $("guest-name").value.trim() });
  });
  $("account-form").addEventListener("submit", (event) => {
    event.preventDefault();
    start({ kind: "account", name: $("account-name").value.trim(), password: $("account-password").value });
  });
  $("register-button").addEventListener("click", () => {
    if (!$("account-form").reportValidity()) return;
    start({ kind: "register", name: $("account-name").value.trim(), password: $("account-password").value });
  });
  $("compose").addEventListener("submit", (event) => {
    event.preventDefault();
    submitText($("text").value);
    $("text").value = "";
  });
  $("join-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const name = $("join-name").value.trim();
    if (name) submitText("/join " + name);
    $("join-name").value = "";
  });
  $("leave").addEventListener("click", () => submitText("/leave"));
  $("older").addEventListener("click", loadOlder);
  $("log-box").addEventListener("scroll", () => {
    const c = conversation(state.current, state.current);
    if ($("log-box").scrollTop === 0 && !c.complete && c.lines.length > 0) loadOlder();
  });
  $("my-status").addEventListener("change", () => {
    state.myStatus = $("my-status").value;
    send({ type: "status", state: state.myStatus });
    if (state.name) state.people.set(state.name, state.myStatus);
    drawPeople();
  });
  $("sign-out").addEventListener("click", () => {
    state.wanted = false;
    state.identity = null;
    if (state.ws) state.ws.close();
    location.reload();
  });
  $("toggle-side").addEventListener("click", () => {
    const open = $("side").classList.toggle("open");
    $("toggle-side").setAttribute("aria-expanded", String(open));
  });
  conversation(DEFAULT, DEFAULT);
});
