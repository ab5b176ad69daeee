// ClassCord's dashboard: what the server sends over wss://HOST/admin/ws, shown live, and the
// operator's actions sent back as the console's own requests (src/web/admin/live.rs describes the
// messages). Every text from the server is written with textContent: a hostile name stays text.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const KINDS = { anonymous: "anonyme", guest: "invité", account: "compte" };
  const TRANSPORTS = { tcp: "tcp", websocket: "navigateur" };
  // Slow mode choices (seconds between two messages of one person; 0: none).
  const SLOW_CHOICES = [["0", "aucun"], ["10", "10 s"], ["30", "30 s"], ["60", "1 min"], ["300", "5 min"]];
  // French labels of the security lines' tokens (SECURITE.md §3.2 says what each means).
  const EVENT_LABELS = {
    AUTH_FAIL: "Mot de passe refusé",
    REGISTER_REFUSED: "Inscription refusée",
    PROTOCOL_ERROR: "Ligne refusée",
    RATE_LIMIT: "Limite de débit",
    CONN_REJECTED: "Connexion refusée",
    FLOOD: "Inondation",
    SLOW_CLIENT: "Client trop lent",
    LINE_TOO_LONG: "Ligne trop longue",
    TIMEOUT: "Délai dépassé",
    BRUTE_FORCE: "Verdict : essais de mots de passe",
    CONN_FLOOD: "Verdict : inondation de connexions",
    BANNED: "Refus : banni",
    ADMIN_BAN: "Bannissement",
    ADMIN_UNBAN: "Fin de bannissement",
    ADMIN_REFUSED: "Console refusée",
    ADMIN_WEB_REFUSED: "Tableau de bord refusé",
  };

  let socket = null;
  let nextId = 1;
  let backoff = 1000;
  let ended = false;
  let commands = [];
  let lastEvents = "";
  // The live protocol trace: the id of the request that started it, and whether one runs.
  let traceRequest = null;
  let tracing = false;
  // Trace events kept on the page (the oldest leave first).
  const TRACE_KEPT = 1000;
  const TRACE_ENDS = {
    elapsed: "durée écoulée",
    lines: "100 000 lignes",
    closed: "la connexion suivie est fermée",
    stopped: "arrêtée",
    shutdown: "le serveur s'arrête",
    interrupted: "interrompue",
  };
  // Names without the right to write (folded to lower case, as the server compares them).
  let muted = new Map();

  // ------------------------------------------------------------------ connection

  function setLink(text, good) {
    const link = $("link");
    link.textContent = text;
    link.classList.toggle("bad", !good);
  }

  function connect() {
    socket = new WebSocket(`wss://${location.host}/admin/ws`);
    socket.addEventListener("open", () => {
      backoff = 1000;
      setLink("Connecté", true);
    });
    socket.addEventListener("message", (event) => {
      let message;
      try {
        message = JSON.parse(event.data);
      } catch {
        return;
      }
      receive(message);
    });
    socket.addEventListener("close", () => {
      // The server drops a page's trace with its connection.
      if (tracing) traceEnded("interrompue, connexion au serveur perdue");
      if (ended) return;
      setLink("Connexion perdue : nouvel essai…", false);
      setTimeout(retry, backoff);
      backoff = Math.min(backoff * 2, 15000);
    });
  }

  // A session that ended (sign-out elsewhere, restart) sends back to the sign-in page.
  async function retry() {
    try {
      const answer = await fetch("/admin/session", { cache: "no-store" });
      if (answer.status === 401) {
        location.assign("/admin");
        return;
      }
    } catch {
      // The server is away: try again later.
    }
    connect();
  }

  // `confirmed`: the operator already confirmed in the page (else the server may ask first).
  // Returns the message's id (null when not sent).
  function send(request, confirmed = false) {
    if (!socket || socket.readyState !== WebSocket.OPEN) {
      result(false, "Pas de connexion au serveur : action non envoyée.");
      return null;
    }
    result(true, "Envoyé…");
    const message = { id: nextId++, request };
    if (confirmed) message.confirmed = true;
    socket.send(JSON.stringify(message));
    return message.id;
  }

  function receive(message) {
    switch (message.type) {
      case "hello":
        $("operator").textContent = message.operator;
        // The actions this server takes (src/web/admin/live.rs, COMMANDS): a control for a
        // later command (mute, slow...) is shown only when it is listed here.
        commands = message.commands || [];
        break;
      case "snapshot":
        show(message);
        break;
      case "reply":
        result(message.ok, message.text);
        if (message.id === traceRequest) traceStarted(message.ok, message.text);
        break;
      case "trace":
        traceEvents(message.events || []);
        break;
      case "confirm":
        // The console would ask too (deleting a message, banning a network): its own words.
        confirmThen(message.text, false, () => send(message.request, true));
        break;
      case "closed":
        ended = true;
        setLink(message.text, false);
        result(false, message.text + " Rechargez la page pour vous reconnecter.");
        break;
      default:
        // Messages of a later server are ignored by this version of the page.
        break;
    }
  }

  function result(ok, text) {
    const box = $("result");
    box.textContent = text;
    box.classList.toggle("bad", !ok);
  }

  // ------------------------------------------------------------------ rendering

  function text(element, value) {
    const wanted = String(value);
    if (element.textContent !== wanted) element.textContent = wanted;
  }

  function button(label, className, onClick) {
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = label;
    if (className) b.className = className;
    b.addEventListener("click", onClick);
    return b;
  }

  // Updates a table body in place (rows keyed), so a focused button keeps its focus.
  function sync(tbody, items, keyOf, build, update) {
    const wanted = new Set(items.map((item) => String(keyOf(item))));
    for (const row of [...tbody.children]) {
      if (!wanted.has(row.dataset.key)) row.remove();
    }
    const rows = new Map([...tbody.children].map((row) => [row.dataset.key, row]));
    let cursor = tbody.firstElementChild;
    for (const item of items) {
      const key = String(keyOf(item));
      let row = rows.get(key);
      if (!row) {
        row = build(item);
        row.dataset.key = key;
      }
      update(row, item);
      if (row === cursor) {
        cursor = cursor.nextElementSibling;
      } else {
        tbody.insertBefore(row, cursor);
      }
    }
  }

  function cells(row, count) {
    while (row.children.length < count) row.appendChild(document.createElement("td"));
    return [...row.children];
  }

  function show(snapshot) {
    if (snapshot.stats) showStats(snapshot.stats);
    if (Array.isArray(snapshot.mutes)) showMutes(snapshot.mutes);
    if (Array.isArray(snapshot.who)) showPeople(snapshot.who);
    if (Array.isArray(snapshot.channels)) showChannels(snapshot.channels);
    if (Array.isArray(snapshot.bans)) showBans(snapshot.bans);
    if (Array.isArray(snapshot.events)) showEvents(snapshot.events);
  }

  function duration(seconds) {
    const minutes = Math.floor(seconds / 60);
    if (minutes < 1) return `${Math.floor(seconds)} s`;
    if (minutes < 60) return `${minutes} min`;
    return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
  }

  function showStats(stats) {
    const m = stats.metrics || {};
    const get = (name) => Math.round(m["classcord_" + name] || 0);
    const rate = (stats.messages_per_second || 0).toFixed(2).replace(".", ",");
    const figures = [
      // One gauge per transport (students' TCP clients, browsers).
      ["Connexions ouvertes", get('connections_open{transport="tcp"}') + get('connections_open{transport="websocket"}')],
      ["Comptes", get('sessions{kind="account"}')],
      ["Invités", get('sessions{kind="guest"}')],
      ["Anonymes", get('sessions{kind="anonymous"}')],
      ["Salons", get("channels")],
      ["Messages par seconde", rate],
      ["Messages relayés", get("messages_relayed_total")],
      ["Mots de passe refusés", get("auth_failures_total")],
      ["Exclusions", get("kicks_total")],
      ["En service depuis", duration(get("uptime_seconds"))],
    ];
    const list = $("figures");
    if (list.children.length !== figures.length) {
      list.replaceChildren();
      for (const [label] of figures) {
        const group = document.createElement("div");
        const dt = document.createElement("dt");
        dt.textContent = label;
        group.append(dt, document.createElement("dd"));
        list.append(group);
      }
    }
    figures.forEach(([, value], index) => text(list.children[index].lastElementChild, value));
    drawChart(stats.per_minute || []);
  }

  function drawChart(minutes) {
    const width = 600;
    const height = 170;
    const top = 10;
    const bottom = 150;
    const max = Math.max(1, ...minutes.map((m) => Math.max(m.messages, m.connections)));
    const points = (field) => minutes.map((m, index) => {
      const x = (width * (60 - minutes.length + index)) / 59;
      const y = bottom - ((bottom - top) * m[field]) / max;
      return `${x.toFixed(1)},${y.toFixed(1)}`;
    }).join(" ");
    $("chart-messages").setAttribute("points", points("messages"));
    $("chart-connections").setAttribute("points", points("connections"));
    const grid = $("chart-grid");
    grid.replaceChildren();
    const ns = "http://www.w3.org/2000/svg";
    // A dot on each minute: the first minutes (or a lone one) show before a line can.
    const dots = $("chart-dots");
    dots.replaceChildren();
    for (const [field, className] of [["messages", "dot-messages"], ["connections", "dot-connections"]]) {
      for (const pair of points(field).split(" ").filter(Boolean)) {
        const [x, y] = pair.split(",");
        const dot = document.createElementNS(ns, "circle");
        dot.setAttribute("cx", x);
        dot.setAttribute("cy", y);
        dot.setAttribute("r", "3");
        dot.setAttribute("class", className);
        dots.append(dot);
      }
    }
    for (const [value, y] of [[max, top], [Math.round(max / 2), (top + bottom) / 2], [0, bottom]]) {
      const line = document.createElementNS(ns, "line");
      line.setAttribute("x1", "0");
      line.setAttribute("x2", String(width));
      line.setAttribute("y1", String(y));
      line.setAttribute("y2", String(y));
      const label = document.createElementNS(ns, "text");
      label.setAttribute("x", "4");
      label.setAttribute("y", String(y - 3));
      label.textContent = String(value);
      grid.append(line, label);
    }
    const axis = document.createElementNS(ns, "text");
    axis.setAttribute("x", String(width - 4));
    axis.setAttribute("y", String(height - 3));
    axis.setAttribute("text-anchor", "end");
    axis.textContent = "maintenant";
    const start = document.createElementNS(ns, "text");
    start.setAttribute("x", "4");
    start.setAttribute("y", String(height - 3));
    start.textContent = "il y a 1 h";
    grid.append(axis, start);
    const last = minutes[minutes.length - 1] || { messages: 0, connections: 0 };
    const summary = `Dernière minute : ${last.messages} message(s), ${last.connections} connexion(s). ` +
      `Maximum sur l'heure : ${max} par minute.`;
    text($("chart-desc"), summary);
    text($("chart-scale"), summary);
  }

  function showPeople(rows) {
    text($("people-count"), `(${rows.length})`);
    sync($("people").tBodies[0], rows, (r) => r.id, (r) => {
      const row = document.createElement("tr");
      cells(row, 9);
      const tag = document.createElement("span");
      tag.className = "tag";
      tag.hidden = true;
      row.children[1].append(document.createElement("span"), " ", tag);
      const actions = row.children[8];
      actions.className = "actions";
      actions.append(
        button("Exclure", "danger", () => kick(row.dataset.name)),
        button("Bannir", "light", () => prepareBan(row.dataset.name || row.dataset.ip)),
        button("Écrire", "light", () => prepareSay(row.dataset.name)),
        button("Retirer la parole", "light", () => {
          if (row.dataset.muted === "true") {
            send({ cmd: "unmute", name: row.dataset.name });
          } else {
            askMute(row.dataset.name);
          }
        }),
        button("Tracer", "light", () => startTrace("#" + row.dataset.id)),
      );
      return row;
    }, (row, r) => {
      const [id, name, kind, transport, ip, channels, since, messages, actions] = cells(row, 9);
      row.dataset.name = r.name || "";
      row.dataset.ip = r.ip;
      row.dataset.id = String(r.id);
      text(id, "#" + r.id);
      const [nameText, , tag] = name.childNodes;
      text(nameText, r.name || "—");
      const mute = r.name ? muted.get(r.name.toLowerCase()) : undefined;
      row.dataset.muted = String(Boolean(mute));
      tag.hidden = !mute;
      if (mute) text(tag, `sans parole jusqu'à ${localDate(mute.until_unix).slice(11)}`);
      text(kind, KINDS[r.kind] || r.kind);
      text(transport, TRANSPORTS[r.transport] || r.transport || "");
      text(ip, r.ip);
      text(channels, (r.channels || []).join(", "));
      text(since, (r.since || "").slice(11, 16));
      text(messages, r.messages);
      const named = Boolean(r.name);
      const [kickButton, , sayButton, muteButton] = actions.children;
      kickButton.hidden = !named;
      sayButton.hidden = !named;
      muteButton.hidden = !named;
      text(muteButton, mute ? "Rendre la parole" : "Retirer la parole");
      for (const b of actions.children) {
        b.setAttribute("aria-label", `${b.textContent} ${r.name || r.ip}`);
      }
    });
  }

  function showChannels(rows) {
    sync($("channels").tBodies[0], rows, (c) => c.name, (c) => {
      const row = document.createElement("tr");
      cells(row, 5);
      const slow = document.createElement("select");
      for (const [value, label] of SLOW_CHOICES) slow.append(new Option(label, value));
      // A choice being made is not undone by the next refresh.
      slow.addEventListener("change", () => { slow.dataset.dirty = "true"; });
      row.children[3].className = "actions";
      row.children[3].append(slow, button("Appliquer", "light", () => {
        slow.dataset.dirty = "";
        send({ cmd: "slow", channel: row.dataset.name, seconds: Number(slow.value) });
      }));
      row.children[4].append(button("", "light", () => {
        const name = row.dataset.name;
        if (row.dataset.closed === "true") {
          send({ cmd: "channel", action: "open", name });
        } else {
          confirmThen(`Le salon ${name} sera fermé : ses membres en sortent et personne ne peut plus y écrire ni le rejoindre.`,
            false, () => send({ cmd: "channel", action: "close", name }));
        }
      }));
      return row;
    }, (row, c) => {
      const [name, members, state, slowCell, actions] = cells(row, 5);
      row.dataset.name = c.name;
      row.dataset.closed = String(Boolean(c.closed));
      text(name, c.name);
      text(members, c.members);
      const notes = [c.closed ? "fermé" : "ouvert"];
      if (c.permanent) notes.push("créé par l'administrateur");
      const seconds = c.slow_secs || 0;
      if (seconds > 0) notes.push(`mode lent : ${duration(seconds)}`);
      text(state, notes.join(", "));
      const [slow, apply] = slowCell.children;
      slow.setAttribute("aria-label", `Mode lent de ${c.name}`);
      apply.setAttribute("aria-label", `Appliquer le mode lent de ${c.name}`);
      if (slow.dataset.dirty !== "true" && document.activeElement !== slow) {
        if (![...slow.options].some((o) => o.value === String(seconds))) {
          slow.append(new Option(duration(seconds), String(seconds)));
        }
        slow.value = String(seconds);
      }
      const b = actions.firstElementChild;
      text(b, c.closed ? "Rouvrir" : "Fermer");
      b.setAttribute("aria-label", `${b.textContent} ${c.name}`);
    });
  }

  function localDate(unix) {
    const d = new Date(unix * 1000);
    const two = (n) => String(n).padStart(2, "0");
    return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())} ${two(d.getHours())}:${two(d.getMinutes())}`;
  }

  function showBans(bans) {
    sync($("bans").tBodies[0], bans, (b) => b.kind + ":" + b.target, () => {
      const row = document.createElement("tr");
      cells(row, 5);
      row.children[4].append(button("Lever", "light", () => send({ cmd: "unban", target: row.dataset.target })));
      return row;
    }, (row, b) => {
      const [target, kind, until, reason, actions] = cells(row, 5);
      row.dataset.target = b.target;
      text(target, b.target);
      text(kind, b.kind === "name" ? "nom" : "adresse");
      text(until, b.until_unix ? localDate(b.until_unix) : "définitif");
      text(reason, b.reason || "");
      actions.firstElementChild.setAttribute("aria-label", `Lever le bannissement de ${b.target}`);
    });
  }

  function showMutes(mutes) {
    muted = new Map(mutes.map((m) => [m.name.toLowerCase(), m]));
    text($("mutes-count"), `(${mutes.length})`);
    sync($("mutes").tBodies[0], mutes, (m) => m.name.toLowerCase(), () => {
      const row = document.createElement("tr");
      cells(row, 4);
      row.children[3].append(button("Rendre la parole", "light", () => send({ cmd: "unmute", name: row.dataset.name })));
      return row;
    }, (row, m) => {
      const [name, until, reason, actions] = cells(row, 4);
      row.dataset.name = m.name;
      text(name, m.name);
      text(until, localDate(m.until_unix));
      text(reason, m.reason || "");
      actions.firstElementChild.setAttribute("aria-label", `Rendre la parole à ${m.name}`);
    });
  }

  function showEvents(events) {
    const key = events.length ? events[events.length - 1].unix + events[events.length - 1].line + events.length : "";
    if (key === lastEvents) return;
    lastEvents = key;
    const list = $("events");
    list.replaceChildren();
    if (events.length === 0) {
      const empty = document.createElement("li");
      empty.textContent = "Aucun événement de sécurité depuis le démarrage.";
      list.append(empty);
      return;
    }
    for (const event of [...events].reverse()) {
      const item = document.createElement("li");
      const time = document.createElement("time");
      time.textContent = new Date(event.unix * 1000).toLocaleTimeString("fr-FR");
      const label = document.createElement("strong");
      label.textContent = EVENT_LABELS[event.token] || event.token;
      const line = document.createElement("code");
      line.textContent = event.line;
      item.append(time, " ", label, " ", line);
      list.append(item);
    }
  }

  // ------------------------------------------------------------------ live protocol trace

  function startTrace(target) {
    $("trace-target").value = target;
    $("trace-form").scrollIntoView({ block: "nearest" });
    const id = send({ cmd: "trace", target, duration: $("trace-duration").value });
    if (id !== null) {
      traceRequest = id;
      text($("trace-state"), `Demande de trace de ${target}…`);
    }
  }

  function traceStarted(ok, answer) {
    traceRequest = null;
    const state = $("trace-state");
    state.classList.toggle("bad", !ok);
    if (!ok) {
      text(state, "Trace refusée : " + answer);
      return;
    }
    tracing = true;
    $("trace-lines").replaceChildren();
    $("trace-stop").disabled = false;
    text(state, "Trace en cours. " + answer);
  }

  function traceEnded(why) {
    tracing = false;
    $("trace-stop").disabled = true;
    $("trace-state").classList.remove("bad");
    text($("trace-state"), `Trace terminée : ${why}. Les lignes restent affichées ci-dessous.`);
  }

  // Each event as the console prints it (its `text`), set apart by direction and verdict.
  function traceEvents(events) {
    const box = $("trace-lines");
    const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 30;
    for (const event of events) {
      const item = document.createElement("div");
      item.className = "trace-" + event.kind;
      if (event.verdict && event.verdict.verdict === "refused") item.classList.add("trace-refused");
      item.textContent = event.text;
      box.append(item);
      if (event.kind === "end") traceEnded(TRACE_ENDS[event.reason] || event.reason);
    }
    while (box.childElementCount > TRACE_KEPT) box.firstElementChild.remove();
    if (atBottom) box.scrollTop = box.scrollHeight;
  }

  // ------------------------------------------------------------------ actions

  let confirmed = null;

  function confirmThen(what, withReason, action) {
    const dialog = $("confirm");
    $("confirm-text").textContent = what;
    $("confirm-reason-box").hidden = !withReason;
    $("confirm-reason").value = "";
    confirmed = action;
    dialog.showModal();
    (withReason ? $("confirm-reason") : $("confirm-no")).focus();
  }

  function kick(name) {
    if (!name) return;
    confirmThen(`« ${name} » sera déconnecté (toutes ses connexions).`, true,
      (reason) => send({ cmd: "kick", name, reason: reason || null }));
  }

  function askMute(name) {
    if (!name) return;
    $("mute-text").textContent = `« ${name} » ne pourra plus envoyer de messages (il continue de lire la discussion).`;
    $("mute-name").value = name;
    $("mute-reason").value = "";
    $("mute").showModal();
    $("mute-duration").focus();
  }

  function prepareBan(target) {
    $("ban-target").value = target || "";
    $("ban-form").scrollIntoView({ block: "nearest" });
    $("ban-duration").focus();
  }

  function prepareSay(name) {
    $("say-name").value = name || "";
    $("say-form").scrollIntoView({ block: "nearest" });
    $("say-text").focus();
  }

  function wire() {
    $("confirm-yes").addEventListener("click", () => {
      const action = confirmed;
      const reason = $("confirm-reason").value.trim();
      confirmed = null;
      $("confirm").close();
      if (action) action(reason);
    });
    $("confirm-no").addEventListener("click", () => {
      confirmed = null;
      $("confirm").close();
      result(true, "Annulé : rien n'a été fait.");
    });
    $("alert-form").addEventListener("submit", (event) => {
      event.preventDefault();
      send({ cmd: "alert", text: $("alert-text").value });
      $("alert-text").value = "";
    });
    $("say-form").addEventListener("submit", (event) => {
      event.preventDefault();
      send({ cmd: "say", name: $("say-name").value.trim(), text: $("say-text").value });
      $("say-text").value = "";
    });
    $("ban-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const target = $("ban-target").value.trim();
      const duration = $("ban-duration").value;
      const reason = $("ban-reason").value.trim();
      const length = duration ? `pour ${duration}` : "définitivement";
      confirmThen(`« ${target} » sera banni ${length} : ses connexions sont fermées, puis refusées.`, false, () => {
        send({ cmd: "ban", target, duration: duration || null, reason: reason || null }, true);
        $("ban-reason").value = "";
      });
    });
    $("trace-form").addEventListener("submit", (event) => {
      event.preventDefault();
      startTrace($("trace-target").value.trim());
    });
    $("trace-stop").addEventListener("click", () => {
      if (socket && socket.readyState === WebSocket.OPEN) {
        socket.send(JSON.stringify({ id: nextId++, stop: "trace" }));
      }
    });
    $("mute-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const name = $("mute-name").value;
      const reason = $("mute-reason").value.trim();
      $("mute").close();
      send({ cmd: "mute", name, duration: $("mute-duration").value, reason: reason || null });
    });
    $("mute-no").addEventListener("click", () => {
      $("mute").close();
      result(true, "Annulé : rien n'a été fait.");
    });
    $("delete-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const id = Number($("delete-id").value.trim().replace(/^(#|n°)/i, ""));
      if (!Number.isSafeInteger(id) || id < 0) {
        result(false, "N° de message invalide : un nombre (son id, que montre la trace).");
        return;
      }
      // The server asks for the confirmation, in the console's words.
      send({ cmd: "delete", id });
      $("delete-id").value = "";
    });
    $("channel-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const name = $("channel-name").value.trim();
      const action = $("channel-action").value;
      const request = { cmd: "channel", action, name };
      if (action === "close") {
        confirmThen(`Le salon ${name} sera fermé : ses membres en sortent.`, false, () => send(request));
      } else {
        send(request);
      }
    });
  }

  wire();
  connect();
})();
