// The console tests' harness: a `keyhold serve` per test file (optionally inside a network namespace
// the test creates), state set up with the keyhold CLI as the data dir's admin, Debian's chromium
// driven by playwright-core and trusting keyhold's CA through an NSS database under a temporary HOME
// (never by ignoring certificate errors), a screenshot of every step kept with the test logs, and
// clean-up of everything it started.
//
// Environment: KEYHOLD_BIN (default target/debug/keyhold, relative to the repository root),
// CHROMIUM (default /usr/bin/chromium), KEEP_WORK=1 (keep the temp dirs).

import { spawn, execFile, execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import fs from "node:fs";
import http from "node:http";
import https from "node:https";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = path.resolve(HERE, "../..");
export const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
export const SHOTS_ROOT = path.join(REPO_ROOT, ".cache/test-logs/console-screenshots");
export const PASSWORD = "Wonder-Land-2031!";
const STARTUP_TIMEOUT_MS = 30_000;

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
export const unique = (prefix, n = 3) => `${prefix}${randomBytes(n).toString("hex")}`;

export function keyholdBin() {
  const raw = process.env.KEYHOLD_BIN || "target/debug/keyhold";
  return path.isAbsolute(raw) ? raw : path.join(REPO_ROOT, raw);
}

/** The environment without KEYHOLD_* and the CA/identity variables other suites use. */
function cleanEnv(extra = {}) {
  const drop = /^(KEYHOLD_|REQUESTS_CA_BUNDLE$|CURL_CA_BUNDLE$|SSL_CERT_FILE$|NODE_EXTRA_CA_CERTS$|AZURE_|IDENTITY_|MSI_)/;
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !drop.test(k)));
  return { ...env, ...extra };
}

// ---------------------------------------------------------------------------- network namespaces

/** A network namespace of the test's own: its loopback up, optionally 169.254.169.254/32 on it. */
export class Netns {
  constructor(name) {
    this.name = name;
  }
  static create({ imds = false } = {}) {
    const ns = new Netns(`khcon-${process.pid}-${randomBytes(2).toString("hex")}`);
    execFileSync("ip", ["netns", "add", ns.name]);
    execFileSync("ip", ["netns", "exec", ns.name, "ip", "link", "set", "lo", "up"]);
    if (imds) execFileSync("ip", ["netns", "exec", ns.name, "ip", "addr", "add", "169.254.169.254/32", "dev", "lo"]);
    return ns;
  }
  /** [cmd, args] that run `cmd args` inside the namespace. */
  wrap(cmd, args) {
    return ["ip", ["netns", "exec", this.name, cmd, ...args]];
  }
  /** A script that runs chromium inside the namespace (playwright's executablePath). */
  chromiumWrapper(dir) {
    const p = path.join(dir, "chromium-in-netns");
    fs.writeFileSync(p, `#!/bin/sh\nexec ip netns exec ${this.name} ${CHROMIUM} "$@"\n`, { mode: 0o755 });
    return p;
  }
  async destroy() {
    let pids = [];
    try {
      pids = execFileSync("ip", ["netns", "pids", this.name], { encoding: "utf8" }).split("\n").filter(Boolean);
    } catch {}
    for (const pid of pids) {
      try {
        process.kill(Number(pid), "SIGTERM");
      } catch {}
    }
    if (pids.length) await sleep(300);
    try {
      execFileSync("ip", ["netns", "del", this.name]);
    } catch {}
  }
}

// ---------------------------------------------------------------------------- processes

/** Runs a command to completion (inside `netns` if given); resolves {code, stdout, stderr}. */
export function run(cmd, args, { env, netns, input, timeoutMs = 60_000 } = {}) {
  const [c, a] = netns ? netns.wrap(cmd, args) : [cmd, args];
  return new Promise((resolve) => {
    const child = execFile(c, a, { env, timeout: timeoutMs, maxBuffer: 16 << 20, encoding: "utf8" }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === "number" ? err.code : 1) : 0, stdout, stderr: stderr || (err && !stdout ? String(err) : stderr) });
    });
    if (input !== undefined) child.stdin.end(input);
  });
}

// ---------------------------------------------------------------------------- the server

export class Server {
  constructor(work, netns) {
    this.work = work;
    this.netns = netns;
    this.dataDir = path.join(work, "data");
    this.configDir = path.join(work, "config");
    this.logPath = path.join(work, "server.log");
    this.children = [];
  }
  get url() { return this.env.KEYHOLD_URL; }
  get tenant() { return this.env.KEYHOLD_TENANT_ID; }
  get port() { return Number(new URL(this.url).port); }
  get caPem() { return path.join(this.dataDir, "ca.pem"); }
  get dnsSuffix() { return this.state.dns_suffix; }
  vaultHost(name) { return `${name}.${this.dnsSuffix}`; }
  vaultUrl(name) { return `https://${this.vaultHost(name)}:${this.port}`; }

  cliEnv() {
    return cleanEnv({ KEYHOLD_DATA_DIR: this.dataDir, KEYHOLD_CONFIG_DIR: this.configDir });
  }

  /** `keyhold ARGS` as the local admin; resolves the parsed JSON (throws on a non-zero exit). */
  async cli(...args) {
    const r = await this.cliRaw(...args);
    if (r.code !== 0) throw new Error(`keyhold ${args.join(" ")} exited ${r.code}: ${r.stderr}`);
    return r.stdout.trim() ? JSON.parse(r.stdout) : null;
  }
  /** `keyhold ARGS`; resolves {code, stdout, stderr} whatever the exit. */
  cliRaw(...args) {
    return run(keyholdBin(), args, { env: this.cliEnv(), netns: this.netns });
  }

  /** Spawns a long-running process (inside the server's namespace if any), stopped at clean-up. */
  spawnChild(cmd, args, logName, env = cleanEnv()) {
    const [c, a] = this.netns ? this.netns.wrap(cmd, args) : [cmd, args];
    const log = fs.openSync(path.join(this.work, logName), "a");
    const proc = spawn(c, a, { stdio: ["ignore", log, log], env });
    fs.closeSync(log);
    this.children.push(proc);
    return proc;
  }

  logTail(n = 3000) {
    try {
      return fs.readFileSync(this.logPath, "utf8").slice(-n);
    } catch {
      return "(no server log)";
    }
  }

  async stop() {
    for (const p of this.children.reverse()) {
      if (p.exitCode === null && p.signalCode === null) {
        const done = new Promise((r) => p.once("exit", r));
        p.kill("SIGTERM");
        await Promise.race([done, sleep(10_000)]);
        if (p.exitCode === null && p.signalCode === null) p.kill("SIGKILL");
      }
    }
    this.children = [];
  }
}

/** Starts `keyhold serve` on port 0 in a temp dir (inside `netns` if given) and waits for it. */
export async function startServer({ netns, extraArgs = [] } = {}) {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "keyhold-console-"));
  const srv = new Server(work, netns);
  const bin = keyholdBin();
  if (!fs.existsSync(bin)) throw new Error(`keyhold binary missing: ${bin}`);
  fs.mkdirSync(srv.dataDir, { recursive: true });
  const proc = srv.spawnChild(
    bin,
    ["serve", "--data-dir", srv.dataDir, "--listen", "127.0.0.1:0", "--mi-listen", "127.0.0.1:0", ...extraArgs],
    "server.log",
    cleanEnv({ RUST_BACKTRACE: "1" }),
  );
  srv.proc = proc;
  const deadline = Date.now() + STARTUP_TIMEOUT_MS;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`keyhold serve exited ${proc.exitCode}\n${srv.logTail()}`);
    try {
      const state = JSON.parse(fs.readFileSync(path.join(srv.dataDir, "state.json"), "utf8"));
      // `ip netns exec` execs the server in its own process, so the pid is the same.
      if (state.pid === proc.pid && ["admin.json", "ca.pem", "mi.json"].every((f) => fs.existsSync(path.join(srv.dataDir, f)))) {
        srv.state = state;
        break;
      }
    } catch {}
    if (Date.now() > deadline) throw new Error(`keyhold serve did not start\n${srv.logTail()}`);
    await sleep(50);
  }
  const env = await run(bin, ["env", "--data-dir", srv.dataDir], { env: cleanEnv() });
  if (env.code !== 0) throw new Error(`keyhold env: ${env.stderr}`);
  srv.env = parseEnv(env.stdout);
  srv.admin = JSON.parse(fs.readFileSync(path.join(srv.dataDir, "admin.json"), "utf8"));
  return srv;
}

/** `export NAME='value'` lines (keyhold env's output) as an object. */
export function parseEnv(text) {
  const out = {};
  for (const line of text.split("\n")) {
    const m = /^export ([A-Za-z_][A-Za-z0-9_]*)='((?:[^']|'\\'')*)'$/.exec(line.trim());
    if (m) out[m[1]] = m[2].replaceAll("'\\''", "'");
  }
  return out;
}

// ---------------------------------------------------------------------------- people and resources

/** A user (through the CLI, as the admin); resolves {id, upn, displayName, password}. */
export async function createUser(srv, displayName, { upn, password = PASSWORD } = {}) {
  upn ??= `${displayName.toLowerCase().replace(/[^a-z0-9]/g, "")}@contoso.example`;
  const u = await srv.cli("ad", "user", "create", "--display-name", displayName, "--user-principal-name", upn, `--password=${password}`);
  return { id: u.id, upn, displayName, password };
}

export const subscriptionId = async (srv) => (await srv.cli("account", "show")).id;

// ---------------------------------------------------------------------------- HTTP from node

/** An HTTPS request trusting only keyhold's CA (resolving vault hosts to 127.0.0.1). */
export function httpsRequest(srv, method, url, { headers = {}, body } = {}) {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        method,
        host: u.hostname,
        port: u.port,
        path: u.pathname + u.search,
        headers,
        ca: fs.readFileSync(srv.caPem),
        servername: u.hostname,
        lookup: (host, opts, cb) => (opts && opts.all ? cb(null, [{ address: "127.0.0.1", family: 4 }]) : cb(null, "127.0.0.1", 4)),
        agent: false,
        timeout: 30_000,
      },
      (res) => {
        const chunks = [];
        res.on("data", (c) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode, headers: res.headers, text: Buffer.concat(chunks).toString("utf8") }));
      },
    );
    req.on("error", reject);
    req.on("timeout", () => req.destroy(new Error(`timeout: ${method} ${url}`)));
    if (body !== undefined) req.write(body);
    req.end();
  });
}

/** A plain HTTP server on 127.0.0.1:0 answering with `handler(req, res, body)`. */
export async function localServer(handler, host = "127.0.0.1") {
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => handler(req, res, Buffer.concat(chunks).toString("utf8")));
  });
  await new Promise((r) => server.listen(0, host, r));
  server.port = server.address().port;
  return server;
}

export function pkce() {
  const verifier = randomBytes(32).toString("base64url");
  const challenge = createHash("sha256").update(verifier).digest("base64url");
  return { verifier, challenge };
}

export function jwtClaims(token) {
  return JSON.parse(Buffer.from(token.split(".")[1], "base64url").toString("utf8"));
}

// ---------------------------------------------------------------------------- the browser

/** An NSS database under `home` (an empty one; with `caPem` trusted as a CA when given). */
export function nssDatabase(home, caPem) {
  const dir = path.join(home, ".pki/nssdb");
  fs.mkdirSync(dir, { recursive: true });
  execFileSync("certutil", ["-N", "--empty-password", "-d", `sql:${dir}`]);
  if (caPem) execFileSync("certutil", ["-A", "-n", "keyhold", "-t", "C,,", "-i", caPem, "-d", `sql:${dir}`]);
}

/**
 * Debian's chromium, headless, with HOME a new temp dir under `workDir` whose NSS database trusts
 * `caPem` (none: an empty database). Never told to ignore certificate errors. Resolves
 * {browser, home, close()}.
 */
export async function launchChromium({ workDir, caPem, executablePath = CHROMIUM }) {
  const home = fs.mkdtempSync(path.join(workDir, "home-"));
  nssDatabase(home, caPem);
  const browser = await chromium.launch({
    executablePath,
    headless: true,
    env: { PATH: process.env.PATH, HOME: home, TZ: "UTC", LANG: "en_US.UTF-8" },
    args: ["--disable-dev-shm-usage", "--no-first-run", "--disable-background-networking", "--disable-component-update"],
    timeout: 60_000,
  });
  return { browser, home, close: () => browser.close().catch(() => {}) };
}

/** chromium for a server: trusting its CA (unless trustCa is false), in its namespace if it has one. */
export function launchBrowser(srv, { trustCa = true } = {}) {
  return launchChromium({
    workDir: srv.work,
    caPem: trustCa ? srv.caPem : undefined,
    executablePath: srv.netns ? srv.netns.chromiumWrapper(srv.work) : CHROMIUM,
  });
}

/** A new context at the given viewport, recording the origin of every request its pages make. */
export async function newContext(browser, { viewport = { width: 1280, height: 800 }, ...opts } = {}) {
  const context = await browser.newContext({ viewport, locale: "en-US", ...opts });
  context.setDefaultTimeout(15_000);
  context.setDefaultNavigationTimeout(30_000);
  context.requests = []; // every URL requested
  context.gets = []; // the GETs among them
  context.on("request", (r) => {
    context.requests.push(r.url());
    if (r.method() === "GET") context.gets.push(r.url());
  });
  return context;
}

/** Screenshots of a test's steps, numbered: .cache/test-logs/console-screenshots/<test>/NN-step.png */
export class Steps {
  constructor(testName) {
    this.dir = path.join(SHOTS_ROOT, slug(testName));
    fs.rmSync(this.dir, { recursive: true, force: true });
    fs.mkdirSync(this.dir, { recursive: true });
    this.n = 0;
  }
  async shot(page, step) {
    this.n += 1;
    const file = path.join(this.dir, `${String(this.n).padStart(2, "0")}-${slug(step)}.png`);
    try {
      await page.screenshot({ path: file, fullPage: true, timeout: 10_000 });
    } catch (e) {
      fs.writeFileSync(file.replace(/\.png$/, ".txt"), `screenshot failed: ${e}`);
    }
    return file;
  }
}

const slug = (s) => s.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "").slice(0, 60);

/** Polls `fn` until it returns a truthy value (resolved), or throws the last error / `what`. */
export async function eventually(fn, what, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${last.message}` : ""}`);
    await sleep(150);
  }
}

/** Waits for a locator to be visible and returns it. */
export async function visible(locator, timeout) {
  await locator.first().waitFor({ state: "visible", timeout });
  return locator;
}

/**
 * Signs in on keyhold's sign-in page (the page must be on it, or be sent there by `gotoUrl`):
 * the fields and button the contract names.
 */
export async function fillSignIn(page, upn, password) {
  await page.getByLabel("Email, phone, or Skype").fill(upn);
  await page.getByLabel("Password", { exact: true }).fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
}

/** Opens the console (`/`), is sent to the sign-in page, signs in, and waits for the console. */
export async function signInToConsole(page, srv, user, steps) {
  const resp = await page.goto(`${srv.url}/`);
  const signInPath = `/${srv.tenant}/oauth2/v2.0/authorize`;
  await eventually(() => new URL(page.url()).pathname === signInPath, "the sign-in page", 10_000).catch(() => {
    throw new Error(`GET / did not lead to the sign-in page ${signInPath}: at ${page.url()} (status ${resp?.status()})`);
  });
  await visible(page.getByLabel("Email, phone, or Skype"));
  const authorize = new URL(page.url());
  const first = resp?.request().redirectedFrom();
  if (steps) await steps.shot(page, "sign-in page");
  await fillSignIn(page, user.upn, user.password);
  await visible(page.getByRole("button", { name: "Sign out" }), 20_000);
  if (steps) await steps.shot(page, "signed in");
  return { authorize, rootStatus: first ? (await first.response())?.status() : resp?.status() };
}

/** The console's navigation menu (contract: nav "Portal menu"). */
export const portalMenu = (page) => page.getByRole("navigation", { name: "Portal menu" });
export const resourceMenu = (page) => page.getByRole("navigation", { name: "Resource menu" });
export const h1 = (page, name) => page.getByRole("heading", { level: 1, name, exact: true });

/** The text of the page's alert region(s), once one is shown and non-empty. */
export async function alertText(page, timeout = 15_000) {
  return eventually(
    async () => {
      const texts = await page.getByRole("alert").allTextContents();
      return texts.map((t) => t.trim()).filter(Boolean).join(" | ");
    },
    "an alert",
    timeout,
  );
}

/** Removes a temp dir unless KEEP_WORK=1. */
export function removeWork(dir) {
  if (process.env.KEEP_WORK === "1") {
    console.log(`kept ${dir}`);
    return;
  }
  fs.rmSync(dir, { recursive: true, force: true });
}

/** Everything a test file starts: server (and its namespace), browser; stopped in reverse order. */
export async function setup({ netns = false, imds = false, trustCa = true } = {}) {
  const ns = netns ? Netns.create({ imds }) : undefined;
  let srv;
  try {
    srv = await startServer({ netns: ns });
    const b = await launchBrowser(srv, { trustCa });
    return {
      srv,
      browser: b.browser,
      ns,
      async teardown() {
        await b.close();
        await srv.stop();
        if (ns) await ns.destroy();
        removeWork(srv.work);
      },
    };
  } catch (e) {
    if (srv) await srv.stop();
    if (ns) await ns.destroy();
    throw e;
  }
}
