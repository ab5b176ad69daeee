// What the two browser runs (run.mjs: the chat page; dashboard.mjs: the teacher's dashboard)
// share: their command line, the checks and their tally, free loopback ports, the server process,
// a TCP client that reads like the students' clients, Debian's headless chromium and axe-core.
// Each run is its own node process, so the tally here is that run's.

import { spawn } from "node:child_process";
import { mkdirSync, readFileSync } from "node:fs";
import net from "node:net";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const { chromium } = require("playwright-core");
const AXE = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");

/** How long any one wait of a run may take, in milliseconds. */
export const WAIT = 15000;

/** `node SCRIPT SERVER_BINARY ARTIFACTS_DIR`: exits 2 with the usage otherwise. */
export function commandLine(script) {
  const [binary, artifacts] = process.argv.slice(2);
  if (!binary || !artifacts) {
    console.error(`usage: node ${script} SERVER_BINARY ARTIFACTS_DIR`);
    process.exit(2);
  }
  mkdirSync(artifacts, { recursive: true });
  return { binary, artifacts };
}

// ---------------------------------------------------------------- checks

export let passed = 0;
export const failures = [];

export function check(ok, what, detail = "") {
  if (ok) {
    passed += 1;
    console.log("ok   - " + what);
  } else {
    failures.push(what);
    console.log("FAIL - " + what + (detail ? " (" + detail + ")" : ""));
  }
}

/** Records an exception that ended a run's scenario early. */
export function unexpected(error) {
  failures.push("unexpected: " + (error && error.stack ? error.stack : error));
  console.log("FAIL - unexpected: " + error);
}

/** Prints the tally and exits 0 only when every check passed. */
export function finish(label) {
  console.log(`${label}: ${passed} passed, ${failures.length} failed`);
  process.exit(failures.length === 0 ? 0 : 1);
}

// ---------------------------------------------------------------- the server

export async function freePort() {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.listen(0, "127.0.0.1", () => {
      const port = server.address().port;
      server.close(() => resolve(port));
    });
  });
}

/** A `classcord serve` process, started again after each stop; `log` keeps all it wrote. */
export class Server {
  constructor(binary, args, readyText) {
    this.binary = binary;
    this.args = args;
    this.readyText = readyText;
    this.child = null;
    this.log = "";
  }
  async start() {
    const child = spawn(this.binary, this.args, { stdio: ["ignore", "ignore", "pipe"] });
    const from = this.log.length;
    await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("server did not start:\n" + this.log.slice(from))), WAIT);
      child.stderr.on("data", (chunk) => {
        this.log += chunk;
        if (this.log.slice(from).includes(this.readyText)) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    this.child = child;
  }
  get running() {
    return this.child !== null;
  }
  async stop() {
    const child = this.child;
    this.child = null;
    const done = new Promise((resolve) => child.on("exit", resolve));
    child.kill("SIGTERM");
    await done;
  }
}

// ---------------------------------------------------------------- a TCP client, as the students write

export class TcpClient {
  constructor(port) {
    this.port = port;
    this.lines = [];
    this.waiters = [];
    this.buffer = "";
    this.closed = false;
  }
  async connect() {
    this.socket = net.connect(this.port, "127.0.0.1");
    await new Promise((resolve, reject) => {
      this.socket.once("connect", resolve);
      this.socket.once("error", reject);
    });
    this.socket.on("close", () => {
      this.closed = true;
      this.wake();
    });
    this.socket.on("data", (chunk) => {
      this.buffer += chunk.toString("utf8");
      let at;
      while ((at = this.buffer.indexOf("\n")) >= 0) {
        const line = JSON.parse(this.buffer.slice(0, at));
        this.buffer = this.buffer.slice(at + 1);
        this.lines.push(line);
        this.wake();
      }
    });
    return this;
  }
  wake() {
    for (const waiter of [...this.waiters]) waiter();
  }
  send(object) {
    this.socket.write(JSON.stringify(object) + "\n");
  }
  /** Waits until `done()` returns something true (checked on each line, and every 200 ms). */
  async wait(what, done) {
    const deadline = Date.now() + WAIT;
    for (;;) {
      const value = done();
      if (value) return value;
      if (Date.now() > deadline) throw new Error("TCP client never saw " + what);
      await new Promise((resolve) => {
        const timer = setTimeout(resolve, 200);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }
  /** Takes the first line received that `predicate` accepts, waiting for it if needed. */
  async until(what, predicate) {
    return this.wait(what, () => {
      const index = this.lines.findIndex(predicate);
      return index >= 0 ? this.lines.splice(index, 1)[0] : null;
    });
  }
  close() {
    this.socket.destroy();
  }
}

/** A logged-in TCP client (registered first if needed), past its login and its users reply. */
export async function account(port, name, password) {
  const client = await new TcpClient(port).connect();
  client.send({ type: "register", username: name, password });
  await client.until("register reply", (l) => l.type === "register" || l.type === "error");
  client.send({ type: "login", username: name, password });
  await client.until("login reply", (l) => l.type === "login");
  client.send({ type: "users" });
  await client.until("users", (l) => l.type === "users");
  return client;
}

// ---------------------------------------------------------------- the browser

/** Debian's chromium, headless (playwright-core never downloads a browser of its own). */
export function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
}

/** axe-core on the page as it is: a check that no serious or critical violation shows. */
export async function axe(page, what) {
  const session = await page.context().newCDPSession(page);
  // The pages' CSP forbids inline scripts: axe goes in through the DevTools protocol.
  await session.send("Runtime.evaluate", { expression: AXE });
  const result = await session.send("Runtime.evaluate", {
    expression: "axe.run(document, { resultTypes: ['violations'] }).then(r => JSON.stringify(r.violations.map(v => ({ id: v.id, impact: v.impact, nodes: v.nodes.length }))))",
    awaitPromise: true,
    returnByValue: true,
  });
  const violations = JSON.parse(result.result.value);
  const serious = violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  check(serious.length === 0, `axe-core: no serious or critical violation on ${what}`, JSON.stringify(serious));
}
