// ClassCord's chat page in a real browser: Debian's headless chromium driven by playwright-core
// (no browser download), against a real server on loopback, beside a plain TCP client.
//
// Usage: node run.mjs SERVER_BINARY ARTIFACTS_DIR
// Exits 0 when every check passed; prints one line per check; screenshots go to ARTIFACTS_DIR.

import { mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import {
  WAIT, Server, account as accountOn, axe, check, commandLine, failures, finish, freePort,
  launchBrowser, unexpected,
} from "./harness.mjs";

const { binary, artifacts } = commandLine("run.mjs");

// ---------------------------------------------------------------- server

const data = mkdtempSync(path.join(os.tmpdir(), "classcord-browser-"));
const chatPort = await freePort();
const webPort = await freePort();
const base = `http://127.0.0.1:${webPort}`;
const server = new Server(binary, ["serve", "--log", "console", "--listen", `127.0.0.1:${chatPort}`,
  "--web-listen", `127.0.0.1:${webPort}`, "--data", path.join(data, "d")], "page web sur");
const startServer = () => server.start();
const stopServer = () => server.stop();

// ---------------------------------------------------------------- TCP clients, as the students write

const account = (name, password) => accountOn(chatPort, name, password);

// ---------------------------------------------------------------- browser helpers

const browser = await launchBrowser();

const dialogs = [];

async function newPage(width = 1100, height = 800) {
  const context = await browser.newContext({ viewport: { width, height } });
  const page = await context.newPage();
  page.on("dialog", (dialog) => {
    dialogs.push(dialog.message());
    dialog.dismiss();
  });
  page.on("pageerror", (error) => failures.push("page error: " + error.message));
  await page.goto(base + "/");
  return page;
}

async function asGuest(page, name) {
  await page.fill("#guest-name", name);
  await page.click("#guest-form button[type=submit]");
  await page.waitForSelector("#chat:not([hidden])", { timeout: WAIT });
}

async function asAccount(page, name, password, create) {
  await page.fill("#account-name", name);
  await page.fill("#account-password", password);
  await page.click(create ? "#register-button" : "#login-button");
  await page.waitForSelector("#chat:not([hidden])", { timeout: WAIT });
}

async function say(page, text) {
  await page.fill("#text", text);
  await page.press("#text", "Enter");
}

async function seen(page, text) {
  try {
    await page.waitForFunction(
      (wanted) => [...document.querySelectorAll("#log li")].some((li) => li.textContent.includes(wanted)),
      text,
      { timeout: WAIT },
    );
    return true;
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------- the class

try {
  await startServer();
  const tom = await account("tom", "secret-tom");
  const max = await account("max", "secret-max");
  max.close();
  await new Promise((r) => setTimeout(r, 300));

  const zoe = await newPage();
  await axe(zoe, "the sign-in page");
  await asGuest(zoe, "Zoé");
  check(await seen(zoe, "Bienvenue sur ClassCord, Zoé"), "a guest signs in and sees the welcome as a notice");
  check(await zoe.$eval("#log li.notice", (li) => li.textContent.includes("Bienvenue")), "the welcome is set apart as a notice");

  const lina = await newPage();
  await asAccount(lina, "lina", "secret-lina", true);
  check(await seen(lina, "Bienvenue sur ClassCord, lina"), "an account is created and signed in from the page");

  await say(zoe, "bonjour la classe");
  check(await seen(lina, "bonjour la classe"), "browser → browser");
  const got = await tom.until("zoé's line", (l) => l.type === "message" && l.content === "bonjour la classe");
  check(got.from === "Zoé", "browser → TCP client, under the guest's name");
  tom.send({ type: "message", content: "salut lina et Zoé" });
  check(await seen(zoe, "salut lina et Zoé"), "TCP client → browser");
  check(await zoe.$$eval("#log li.mention", (items) => items.some((li) => li.textContent.includes("salut lina et Zoé"))),
    "a mention of one's name is highlighted");

  // Private messages both ways.
  await say(lina, "/msg tom tu as fini ?");
  const privateLine = await tom.until("lina's private line", (l) => l.subtype === "private" && l.from === "lina");
  check(privateLine.content === "tu as fini ?", "browser → TCP private message");
  tom.send({ type: "message", subtype: "private", to: "lina", content: "presque" });
  check(await seen(lina, "presque"), "TCP → browser private message, in its own conversation");

  // A channel: joined from the page, seen by a TCP member, its history scrolled back.
  tom.send({ type: "join_channel", channel: "#projet" });
  await tom.until("join reply", (l) => l.type === "join_channel");
  // 55 lines: under the line rate's burst of 60 (a flood would be cut, rightly).
  for (let n = 1; n <= 55; n += 1) tom.send({ type: "message", channel: "#projet", content: "ligne " + n });
  await new Promise((r) => setTimeout(r, 500));
  await zoe.fill("#join-name", "#projet");
  await zoe.press("#join-name", "Enter");
  check(await seen(zoe, "ligne 55"), "joining a channel loads its history");
  const lines = await zoe.$$eval("#log li", (items) => items.map((li) => li.textContent));
  const hasLine = (n) => lines.some((text) => text.endsWith("tom : ligne " + n));
  check(lines.length <= 51 && hasLine(6) && !hasLine(5), "the first page of history is the last 50 lines",
    String(lines.length));
  await zoe.click("#older");
  check(await seen(zoe, "ligne 1"), "older lines come back on request (scroll back)");
  await say(zoe, "dans le projet");
  const inChannel = await tom.until("zoé in #projet", (l) => l.content === "dans le projet");
  check(inChannel.channel === "#projet", "a browser's channel message reaches the channel's TCP member");
  check(await lina.$$eval("#channels .badge", (b) => b.length) === 0, "lina is not in #projet: no unread badge there");

  // Hostile content is shown as text.
  await lina.click("#channels button");
  tom.send({ type: "message", content: "<img src=x onerror=alert(1)>" });
  check(await seen(lina, "<img src=x onerror=alert(1)>"), "hostile content arrives");
  check(await lina.$$eval("#log img", (imgs) => imgs.length) === 0 && dialogs.length === 0,
    "hostile content is shown as text, never run");

  // A private message kept for an offline account appears at sign-in.
  tom.send({ type: "message", subtype: "private", to: "max", content: "rendez-vous à 14 h" });
  await tom.until("the deferred notice", (l) => l.from === "Serveur" && /prochaine connexion/.test(l.content));
  const maxPage = await newPage();
  await asAccount(maxPage, "max", "secret-max", false);
  await maxPage.click("#privates button");
  check(await seen(maxPage, "rendez-vous à 14 h"), "an offline private message appears at sign-in");
  check(await maxPage.$$eval("#log li.deferred", (items) => items.length) === 1, "it is shown as received while away");
  await maxPage.screenshot({ path: path.join(artifacts, "private-deferred.png") });

  // Keyboard alone: Tab to the message field, type, Enter.
  await lina.bringToFront();
  await lina.click("#talk-title");
  let focused = "";
  for (let n = 0; n < 40 && focused !== "text"; n += 1) {
    await lina.keyboard.press("Tab");
    focused = await lina.evaluate(() => document.activeElement && document.activeElement.id);
  }
  await lina.keyboard.type("envoyé au clavier");
  await lina.keyboard.press("Enter");
  const typed = await tom.until("the keyboard line", (l) => l.content === "envoyé au clavier");
  check(focused === "text" && typed.from === "lina", "a message is sent with the keyboard alone");

  await axe(lina, "the chat page");
  await lina.screenshot({ path: path.join(artifacts, "chat-1100.png") });

  const phone = await newPage(360, 740);
  await asGuest(phone, "Téo");
  await say(phone, "depuis un téléphone");
  const fromPhone = await tom.until("the phone's line", (l) => l.content === "depuis un téléphone");
  check(fromPhone.from === "Téo", "usable at 360 px wide");
  const overflow = await phone.evaluate(() => document.documentElement.scrollWidth);
  check(overflow <= 360, "nothing overflows at 360 px", String(overflow));
  await phone.screenshot({ path: path.join(artifacts, "chat-360.png") });

  // The server restarts: the page reconnects by itself, back in the same channel.
  await stopServer();
  check(await zoe.waitForFunction(() => /Connexion perdue/.test(document.getElementById("link").textContent),
    null, { timeout: WAIT }).then(() => true, () => false), "a restart shows the connection is lost");
  await startServer();
  check(await zoe.waitForFunction(() => document.getElementById("link").textContent === "Connecté",
    null, { timeout: 30000 }).then(() => true, () => false), "the page reconnects with backoff");
  const title = await zoe.textContent("#talk-title");
  check(title === "#projet", "back in the same channel", title);
  const tom2 = await account("tom", "secret-tom");
  tom2.send({ type: "join_channel", channel: "#projet" });
  await tom2.until("join reply", (l) => l.type === "join_channel");
  await say(zoe, "de retour");
  const back = await tom2.until("zoé after the restart", (l) => l.content === "de retour");
  check(back.channel === "#projet" && back.from === "Zoé", "after the restart the guest chats in #projet again");
  await zoe.screenshot({ path: path.join(artifacts, "after-restart.png") });
  tom2.close();
} catch (error) {
  unexpected(error);
} finally {
  await browser.close();
  if (server.running) await stopServer();
}

finish("browser");
