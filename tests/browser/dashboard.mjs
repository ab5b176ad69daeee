// ClassCord's teacher dashboard (/admin) in a real browser: Debian's headless chromium driven by
// playwright-core, over the server's HTTPS with its self-signed certificate (accepted as a teacher
// does once), beside plain TCP clients: plain HTTP never gets the form, a wrong password is
// refused then the account locked out, a non-operator is refused, an operator signs in and sees
// the class live, a kick from the dashboard closes the right TCP client, a mute refuses that TCP
// student's next message, a message is deleted after the server's confirmation, slow mode refuses a
// message sent too soon, the live trace shows a refused line with its reason (passwords masked)
// and says when it ended, axe-core finds no serious or critical violation, nothing overflows at
// 360 px, and the screenshots are kept.
//
// Usage: node dashboard.mjs SERVER_BINARY ARTIFACTS_DIR
// Exits 0 when every check passed; prints one line per check.

import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import {
  WAIT, Server, account as accountOn, axe, check, commandLine, failures, finish, freePort,
  launchBrowser, unexpected,
} from "./harness.mjs";

const { binary, artifacts } = commandLine("dashboard.mjs");

// ---------------------------------------------------------------- server

const work = mkdtempSync(path.join(os.tmpdir(), "classcord-dashboard-"));
const data = path.join(work, "d");
const config = path.join(work, "classcord.toml");
// Three wrong passwords lock an account (the default is ten, and slows down from the fourth).
writeFileSync(config, "[security]\nlogin_failures_before_delay = 0\naccount_lockout_after = 3\n");

const chatPort = await freePort();
const webPort = await freePort();
const https = `https://127.0.0.1:${webPort}`;
const server = new Server(binary, ["serve", "--config", config, "--log", "console", "--listen",
  `127.0.0.1:${chatPort}`, "--web-listen", `127.0.0.1:${webPort}`, "--data", data], "tableau de bord : ");
const startServer = () => server.start();
const stopServer = () => server.stop();

function admin(...args) {
  return execFileSync(binary, ["admin", "--data", data, ...args], { encoding: "utf8" });
}

// ---------------------------------------------------------------- TCP clients, as the students write

const account = (name, password) => accountOn(chatPort, name, password);

// A plain HTTP request on the web port, as a browser typing http:// would send it.
function plainGet(pathname) {
  return new Promise((resolve, reject) => {
    http.get({ host: "127.0.0.1", port: webPort, path: pathname }, (response) => {
      let body = "";
      response.on("data", (chunk) => { body += chunk; });
      response.on("end", () => resolve({ status: response.statusCode, headers: response.headers, body }));
    }).on("error", reject);
  });
}

// ---------------------------------------------------------------- browser helpers

const browser = await launchBrowser();

async function newPage(width = 1280, height = 900) {
  // The teacher accepted the self-signed certificate once (its fingerprint checked, see below).
  const context = await browser.newContext({ viewport: { width, height }, ignoreHTTPSErrors: true });
  const page = await context.newPage();
  page.on("pageerror", (error) => failures.push("page error: " + error.message));
  return page;
}

async function signIn(page, name, password) {
  await page.goto(https + "/admin");
  await page.fill("#name", name);
  await page.fill("#password", password);
  const [response] = await Promise.all([
    page.waitForNavigation({ timeout: WAIT }),
    page.click("form.card button[type=submit]"),
  ]);
  return response;
}

async function rowOf(page, name) {
  return page.waitForSelector(`#people tbody tr[data-name="${name}"]`, { timeout: WAIT }).then(() => true, () => false);
}

// ---------------------------------------------------------------- the class

try {
  await startServer();
  await account("prof", "secret-prof").then((c) => c.close());
  await account("suppleant", "secret-supp").then((c) => c.close());
  await account("eleve", "secret-eleve").then((c) => c.close());
  admin("operator", "add", "prof");
  admin("operator", "add", "suppleant");
  const alice = await account("alice", "secret-alice");
  const bob = await account("bob", "secret-bob");

  // Plain HTTP: a redirection to https://, never the form.
  const plain = await plainGet("/admin");
  check(plain.status === 301 && plain.headers.location === `${https}/admin` && !plain.body.includes("<form"),
    "plain HTTP /admin only redirects to https:// (never the form)", `${plain.status} ${plain.headers.location}`);

  // The certificate the browser is shown is the one `classcord admin certificate` names.
  const printed = admin("certificate").match(/Empreinte SHA-256 : ([0-9A-F:]+)/);
  const logged = server.log.match(/empreinte SHA-256 du certificat : ([0-9A-F:]+)/);
  check(printed && logged && printed[1] === logged[1], "the console and the start-up log give the same fingerprint");

  const page = await newPage();
  await page.goto(`http://127.0.0.1:${webPort}/admin`);
  check(page.url() === `${https}/admin` && (await page.$("#password")) !== null,
    "typing http://…/admin lands on the HTTPS sign-in form", page.url());
  await axe(page, "the sign-in page");

  // A wrong password, then the account locked out (the chat's own limits).
  let response = await signIn(page, "suppleant", "mauvais");
  const wrong = await page.textContent("#message");
  check(response.status() === 401 && wrong.includes("Nom ou mot de passe incorrect"), "a wrong password is refused", wrong);
  await page.screenshot({ path: path.join(artifacts, "dashboard-wrong-password.png") });
  await signIn(page, "suppleant", "mauvais2");
  await signIn(page, "suppleant", "mauvais3");
  response = await signIn(page, "suppleant", "secret-supp");
  const locked = await page.textContent("#message");
  check(response.status() === 429 && /Trop d'échecs de connexion pour ce compte/.test(locked),
    "after three failures the account is locked out, even with the right password", locked);
  await page.screenshot({ path: path.join(artifacts, "dashboard-locked.png") });

  // The right password of an account that is not an operator.
  response = await signIn(page, "eleve", "secret-eleve");
  const refused = await page.textContent("#message");
  check(response.status() === 403 && refused.includes("n'a pas accès au tableau de bord"), "a non-operator is refused", refused);
  check((await page.context().cookies()).length === 0, "no session cookie for a refused sign-in");

  // The operator signs in.
  response = await signIn(page, "prof", "secret-prof");
  await page.waitForSelector("#link:not(.bad)", { timeout: WAIT });
  await page.waitForFunction(() => document.getElementById("link").textContent === "Connecté", null, { timeout: WAIT });
  const cookie = (await page.context().cookies()).find((c) => c.name === "classcord_admin");
  check(cookie && cookie.httpOnly && cookie.secure && cookie.sameSite === "Strict" && cookie.path === "/admin",
    "the session cookie is HttpOnly, Secure, SameSite=Strict, Path=/admin", JSON.stringify(cookie));
  check(await page.textContent("#operator") === "prof", "the dashboard names the operator");
  check(await rowOf(page, "alice") && await rowOf(page, "bob"), "the connected TCP clients are listed live");
  const aliceTransport = await page.$eval('#people tbody tr[data-name="alice"] td:nth-child(4)', (td) => td.textContent);
  check(aliceTransport === "tcp", "each connection shows its transport", aliceTransport);

  // A browser on the chat page shows up as such.
  const chat = await browser.newContext({ viewport: { width: 1000, height: 700 } }).then((c) => c.newPage());
  await chat.goto(`http://127.0.0.1:${webPort}/`);
  await chat.fill("#guest-name", "Zoé");
  await chat.click("#guest-form button[type=submit]");
  await chat.waitForSelector("#chat:not([hidden])", { timeout: WAIT });
  check(await rowOf(page, "Zoé"), "a browser on the chat page appears");
  const zoeTransport = await page.$eval('#people tbody tr[data-name="Zoé"] td:nth-child(4)', (td) => td.textContent);
  check(zoeTransport === "navigateur", "…with its transport (navigateur)", zoeTransport);
  const open = await page.waitForFunction(() => {
    const figure = document.querySelector("#figures > div:first-child dd");
    return figure && Number(figure.textContent) >= 3;
  }, null, { timeout: WAIT }).then(() => true, () => false);
  check(open, "the open connections count both transports (two TCP clients and a browser at least)");

  // Some traffic for the chart and the figures.
  for (let n = 0; n < 5; n += 1) bob.send({ type: "message", content: "message " + n });
  await page.waitForFunction(() => {
    const points = document.getElementById("chart-messages").getAttribute("points");
    return points && points.length > 0;
  }, null, { timeout: WAIT });
  check(true, "the chart draws messages and connections per minute");
  const events = await page.textContent("#events");
  check(events.includes("Mot de passe refusé") && events.includes("AUTH_FAIL"), "recent security events show the failed sign-ins");

  // Kick alice from the dashboard: only her connection closes.
  await page.click('#people tbody tr[data-name="alice"] button:has-text("Exclure")');
  await page.waitForSelector("#confirm[open]", { timeout: WAIT });
  await page.screenshot({ path: path.join(artifacts, "dashboard-confirm-kick.png") });
  await page.fill("#confirm-reason", "bavardage");
  await page.click("#confirm-yes");
  await alice.wait("the kick to close alice's connection", () => alice.closed);
  const notice = alice.lines.find((l) => l.from === "Serveur" && /bavardage/.test(l.content || ""));
  check(alice.closed && notice, "a kick from the dashboard closes the right TCP client, with the reason");
  bob.send({ type: "ping" });
  await bob.until("bob's pong", (l) => l.type === "pong");
  check(!bob.closed, "the other client stays connected");
  await page.waitForFunction(() => /fermée/.test(document.getElementById("result").textContent), null, { timeout: WAIT });
  check(true, "the dashboard shows the server's answer");
  check(await page.waitForSelector('#people tbody tr[data-name="alice"]', { state: "detached", timeout: WAIT }).then(() => true, () => false),
    "alice leaves the list");
  check(/\[ADMIN\] "prof" : kick alice/.test(server.log), "the kick is logged with the operator's name");

  // An alert reaches the class.
  await page.fill("#alert-text", "Fin du TP dans 5 minutes");
  await page.press("#alert-text", "Enter");
  const alert = await bob.until("the alert", (l) => l.from === "Serveur" && /Fin du TP/.test(l.content || ""));
  check(Boolean(alert), "an alert sent from the dashboard reaches a TCP client");

  // Moderation from the dashboard. carl reads bob's message with its number (id).
  const carl = await account("carl", "secret-carl");
  check(await rowOf(page, "carl"), "carl is listed");
  bob.send({ type: "message", content: "oups, pas ici" });
  const oops = await carl.until("bob's message", (l) => l.content === "oups, pas ici");

  // Mute carl for 15 minutes: his next message is refused with the French notice.
  await page.click('#people tbody tr[data-name="carl"] button:has-text("Retirer la parole")');
  await page.waitForSelector("#mute[open]", { timeout: WAIT });
  await page.selectOption("#mute-duration", "15 min");
  await page.fill("#mute-reason", "bavardage");
  await page.screenshot({ path: path.join(artifacts, "dashboard-mute.png") });
  await page.click("#mute-yes");
  await carl.until("the mute notice", (l) => l.from === "Serveur" && /retiré la parole pour 15 min/.test(l.content || ""));
  carl.send({ type: "message", content: "je parle quand même" });
  const muteRefusal = await carl.until("the refusal", (l) => l.from === "Serveur" &&
    (l.content || "").startsWith("Message non envoyé : l'administrateur vous a retiré la parole"));
  bob.send({ type: "ping" });
  await bob.until("bob's pong", (l) => l.type === "pong");
  check(Boolean(muteRefusal) && !bob.lines.some((l) => l.content === "je parle quand même"),
    "a mute from the dashboard refuses that TCP student's next message, with the French notice");
  const mutedRow = await page.waitForSelector('#people tbody tr[data-name="carl"] .tag:not([hidden])', { timeout: WAIT })
    .then(() => true, () => false);
  const listed = await page.waitForSelector('#mutes tbody tr[data-name="carl"]', { timeout: WAIT }).then(() => true, () => false);
  check(mutedRow && listed, "the muted student is marked in the list and listed with the mutes");
  check(/\[ADMIN\] "prof" : mute carl 15 min bavardage/.test(server.log), "the mute is logged with the operator's name");

  // Delete bob's message by its number: the server asks for the confirmation, in the console's words.
  await page.fill("#delete-id", String(oops.id));
  await page.press("#delete-id", "Enter");
  await page.waitForSelector("#confirm[open]", { timeout: WAIT });
  const asked = await page.textContent("#confirm-text");
  check(asked.includes(`Le message n°${oops.id} sera supprimé`), "deleting a message asks for a confirmation first", asked);
  await page.click("#confirm-yes");
  const deleted = await page.waitForFunction((id) => document.getElementById("result").textContent.includes(`Message n°${id} supprimé`),
    oops.id, { timeout: WAIT }).then(() => true, () => false);
  check(deleted && server.log.includes(`[ADMIN] "prof" : delete ${oops.id}`),
    "once confirmed, the message is deleted and the deletion logged with the operator's name");

  // Slow mode in #général from its row: bob's second message in a row is refused.
  const general = '#channels tbody tr[data-name="#général"]';
  await page.selectOption(`${general} select`, "30");
  await page.click(`${general} button:has-text("Appliquer")`);
  const slowShown = await page.waitForFunction((row) => /mode lent : 30 s/.test(document.querySelector(row).textContent),
    general, { timeout: WAIT }).then(() => true, () => false);
  bob.send({ type: "message", content: "un" });
  bob.send({ type: "message", content: "deux" });
  const tooSoon = await bob.until("the slow-mode refusal", (l) => l.from === "Serveur" && /^Message non envoyé : mode lent/.test(l.content || ""));
  check(slowShown && Boolean(tooSoon), "slow mode set from the dashboard refuses a message sent too soon");

  // The live trace of dave's connection: a refused line shows with its reason, passwords masked.
  const dave = await account("dave", "secret-dave");
  check(await rowOf(page, "dave"), "dave is listed");
  await page.click('#people tbody tr[data-name="dave"] button:has-text("Tracer")');
  const tracing = await page.waitForFunction(() => /^Trace en cours/.test(document.getElementById("trace-state").textContent),
    null, { timeout: WAIT }).then(() => true, () => false);
  check(tracing, "a trace starts from a connection's row");
  dave.socket.write("{pas du json\n");
  await dave.until("the error line", (l) => l.type === "error");
  dave.send({ type: "login", username: "dave", password: "secret-dave" });
  dave.send({ type: "ping" });
  await dave.until("dave's pong", (l) => l.type === "pong");
  const refusedShown = await page.waitForFunction(() => [...document.querySelectorAll("#trace-lines .trace-refused")]
    .some((e) => e.textContent.includes(">> {pas du json") && e.textContent.includes("REFUSÉ [bad-json]")),
  null, { timeout: WAIT }).then(() => true, () => false);
  await page.waitForFunction(() => /ping/.test(document.getElementById("trace-lines").textContent), null, { timeout: WAIT })
    .catch(() => {});
  const traced = await page.textContent("#trace-lines");
  check(refusedShown, "the trace shows a refused line (bad JSON from a raw TCP client) with its reason", traced.slice(0, 400));
  check(traced.includes('"password":"********"') && !traced.includes("secret-dave"), "the trace masks passwords");
  await page.locator(".area-trace").screenshot({ path: path.join(artifacts, "dashboard-trace.png") });
  await page.click("#trace-stop");
  const stopped = await page.waitForFunction(() => /^Trace terminée : arrêtée/.test(document.getElementById("trace-state").textContent),
    null, { timeout: WAIT }).then(() => true, () => false);
  check(stopped, "stopping the trace says so in the page");
  check(/\[ADMIN\] "prof" : trace #\d+/.test(server.log), "the trace is logged with the operator's name");

  await axe(page, "the dashboard");
  await page.screenshot({ path: path.join(artifacts, "dashboard-1280.png"), fullPage: true });

  // 360 px wide: the page itself never scrolls sideways (tables scroll in their panel).
  const phone = await newPage(360, 740);
  await signIn(phone, "prof", "secret-prof");
  await phone.waitForFunction(() => document.getElementById("link").textContent === "Connecté", null, { timeout: WAIT });
  await rowOf(phone, "bob");
  const width = await phone.evaluate(() => document.documentElement.scrollWidth);
  check(width <= 360, "nothing overflows at 360 px", String(width));
  await phone.screenshot({ path: path.join(artifacts, "dashboard-360.png"), fullPage: true });

  // Keyboard alone: Tab reaches the alert field, Enter sends.
  await phone.click("h1");
  let focused = "";
  for (let n = 0; n < 250 && focused !== "alert-text"; n += 1) {
    await phone.keyboard.press("Tab");
    focused = await phone.evaluate(() => document.activeElement && document.activeElement.id);
  }
  await phone.keyboard.type("au clavier");
  await phone.keyboard.press("Enter");
  const typed = await bob.until("the keyboard alert", (l) => l.from === "Serveur" && /au clavier/.test(l.content || ""));
  check(focused === "alert-text" && Boolean(typed), "an action is sent with the keyboard alone");

  // Signing out ends the session.
  await Promise.all([page.waitForNavigation({ timeout: WAIT }), page.click("form[action='/admin/logout'] button")]);
  check((await page.$("#password")) !== null, "signing out goes back to the sign-in form");

  bob.close();
} catch (error) {
  unexpected(error);
} finally {
  await browser.close();
  if (server.running) await stopServer();
}

// The administration lines of the run, kept with the screenshots (FONCTIONNALITES.md shows them).
const adminLines = server.log.split("\n").filter((line) => line.includes("[ADMIN]")).join("\n");
writeFileSync(path.join(artifacts, "dashboard-admin-log.txt"), adminLines + "\n");
console.log(adminLines);
finish("dashboard");
