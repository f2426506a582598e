// Black-box harness for the keyhold server, shared by the JS SDK tests.
//
// Starts `keyhold serve` in a temporary data directory on ephemeral loopback
// ports, reads state.json/admin.json/ca.pem, parses `keyhold env`, mints
// tokens and drives the admin API with node:https (trusting only keyhold's CA),
// and runs SDK scenarios in child node processes whose environment is exactly
// what `keyhold env` prints (+ PATH): NODE_EXTRA_CA_CERTS is only read at
// process start, so the SDK code cannot run in the test runner's process.

import { spawn, execFileSync } from "node:child_process";
import { randomBytes, randomUUID, createPublicKey, verify as cryptoVerify } from "node:crypto";
import fs from "node:fs";
import https from "node:https";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = path.resolve(HERE, "../../..");
export const STARTUP_TIMEOUT_MS = 30_000;
const HOSTS_FILE = "/etc/hosts";

export function keyholdBin() {
  const raw = process.env.KEYHOLD_BIN || "target/debug/keyhold";
  return path.isAbsolute(raw) ? raw : path.join(REPO_ROOT, raw);
}

export function unique(prefix, nbytes = 4) {
  return `${prefix}-${randomBytes(nbytes).toString("hex")}`;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------- server

export class Server {
  constructor({ dataDir, proc, logPath, state, admin, args }) {
    Object.assign(this, { dataDir, proc, logPath, state, admin, args });
    this.exitCode = null;
    this.exited = new Promise((resolve) => {
      proc.on("exit", (code, signal) => {
        this.exitCode = code;
        this.exitSignal = signal;
        resolve({ code, signal });
      });
    });
  }
  get url() { return this.state.url; }
  get tenant() { return this.state.tenant_id; }
  get vaultResource() { return this.state.vault_resource; }
  get dnsSuffix() { return this.state.dns_suffix; }
  get port() { return Number(this.state.listen.split(":").pop()); }
  get caPem() { return path.join(this.dataDir, "ca.pem"); }
  get caBundle() { return path.join(this.dataDir, "ca-bundle.pem"); }
  get ca() { return (this._ca ??= fs.readFileSync(this.caPem)); }

  alive() { return this.proc.exitCode === null && this.proc.signalCode === null; }

  /** SIGTERM and wait; resolves to the exit code (kills and throws after the timeout). */
  async stop(timeoutMs = 20_000) {
    if (this.alive()) this.proc.kill("SIGTERM");
    let timer;
    const timeout = new Promise((resolve) => (timer = setTimeout(() => resolve(null), timeoutMs)));
    const res = await Promise.race([this.exited, timeout]);
    clearTimeout(timer);
    if (res === null) {
      this.proc.kill("SIGKILL");
      await this.exited;
      throw new Error(`keyhold ignored SIGTERM for ${timeoutMs} ms; killed.\n${this.logTail()}`);
    }
    return res.code;
  }

  async kill() {
    if (this.alive()) {
      this.proc.kill("SIGKILL");
      await this.exited;
    }
  }

  logTail(n = 4000) {
    try {
      const data = fs.readFileSync(this.logPath, "utf8");
      return `--- keyhold log tail ---\n${data.slice(-n)}`;
    } catch {
      return "(no server log)";
    }
  }
}

export async function startServer({ dataDir, listen = "127.0.0.1:0", miListen = "127.0.0.1:0", extraArgs = [] } = {}) {
  const bin = keyholdBin();
  if (!fs.existsSync(bin)) throw new Error(`keyhold binary not found at ${bin} (set KEYHOLD_BIN or cargo build -p keyhold)`);
  dataDir ??= path.join(fs.mkdtempSync(path.join(os.tmpdir(), "keyhold-js-")), "data");
  fs.mkdirSync(dataDir, { recursive: true });
  const logPath = `${dataDir}.log`;
  const log = fs.openSync(logPath, "a");
  const args = ["serve", "--data-dir", dataDir, "--listen", listen, "--mi-listen", miListen, ...extraArgs];
  // The server reads KEYHOLD_* overrides from its environment; start it from a clean slate.
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("KEYHOLD_")));
  const proc = spawn(bin, args, { stdio: ["ignore", log, log], env: { ...env, RUST_BACKTRACE: "1" } });
  fs.closeSync(log);
  const server = new Server({ dataDir, proc, logPath, state: {}, admin: {}, args });
  try {
    server.state = await waitForState(server);
    server.admin = JSON.parse(fs.readFileSync(path.join(dataDir, "admin.json"), "utf8"));
  } catch (err) {
    await server.kill();
    throw err;
  }
  return server;
}

async function waitForState(server) {
  const statePath = path.join(server.dataDir, "state.json");
  const deadline = Date.now() + STARTUP_TIMEOUT_MS;
  let last = "state.json not written";
  while (Date.now() < deadline) {
    if (!server.alive()) {
      throw new Error(`keyhold exited (${server.proc.exitCode ?? server.proc.signalCode}) before writing state.json\n${server.logTail()}`);
    }
    try {
      const state = JSON.parse(fs.readFileSync(statePath, "utf8"));
      if (state.pid === server.proc.pid) {
        for (const f of ["admin.json", "ca.pem", "ca-bundle.pem"]) {
          if (!fs.existsSync(path.join(server.dataDir, f))) throw new Error(`${f} missing`);
        }
        return state;
      }
      last = `state.json has pid ${state.pid}, want ${server.proc.pid}`;
    } catch (err) {
      last = String(err);
    }
    await sleep(50);
  }
  throw new Error(`keyhold did not publish state.json within ${STARTUP_TIMEOUT_MS} ms (${last})\n${server.logTail()}`);
}

// ---------------------------------------------------------------------------- keyhold env

/** Parse one shell word made of '...' / "..." / bare / backslash-escaped parts. */
function shellWord(text) {
  let out = "";
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c === "'") {
      const end = text.indexOf("'", i + 1);
      if (end < 0) throw new Error(`unterminated quote in ${text}`);
      out += text.slice(i + 1, end);
      i = end + 1;
    } else if (c === "\\") {
      out += text[i + 1] ?? "";
      i += 2;
    } else if (c === '"') {
      const end = text.indexOf('"', i + 1);
      if (end < 0) throw new Error(`unterminated quote in ${text}`);
      out += text.slice(i + 1, end);
      i = end + 1;
    } else {
      out += c;
      i += 1;
    }
  }
  return out;
}

export function parseEnvOutput(text) {
  const env = {};
  text.split("\n").forEach((line, idx) => {
    const s = line.trim();
    if (!s || s.startsWith("#")) return;
    const m = /^export ([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(s);
    if (!m) throw new Error(`keyhold env line ${idx + 1} is not "export NAME='value'": ${line}`);
    env[m[1]] = shellWord(m[2]);
  });
  return env;
}

export function keyholdEnv(dataDir, { servicePrincipal = false } = {}) {
  const args = ["env", "--data-dir", dataDir];
  if (servicePrincipal) args.push("--service-principal");
  return parseEnvOutput(execFileSync(keyholdBin(), args, { encoding: "utf8", timeout: 30_000 }));
}

// ---------------------------------------------------------------------------- /etc/hosts

const HOSTS_LOCK = "/tmp/keyhold-tests-etc-hosts.lock"; // shared with the Python harness (flock(2))
const HOSTS_TAG = "# keyhold-tests";
const pinned = [];
const hostsLine = (hostname) => `127.0.0.1 ${hostname} ${HOSTS_TAG}`;

/** Run a shell snippet while holding the /etc/hosts lock ($1.. are `args`). */
function underHostsLock(script, args) {
  execFileSync("flock", [HOSTS_LOCK, "sh", "-c", script, "sh", ...args], { stdio: ["ignore", "ignore", "pipe"] });
}

/** Make `hostname` resolve to 127.0.0.1 via /etc/hosts (idempotent, safe across processes). */
export function pinHost(hostname) {
  if (!/^[A-Za-z0-9.-]+$/.test(hostname)) throw new Error(`refusing to pin odd host name ${hostname}`);
  const present = fs
    .readFileSync(HOSTS_FILE, "utf8")
    .split("\n")
    .some((line) => {
      const f = line.split("#")[0].trim().split(/\s+/);
      return f[0] === "127.0.0.1" && f.slice(1).includes(hostname);
    });
  if (present) return;
  underHostsLock('grep -qxF "$1" /etc/hosts || printf "%s\\n" "$1" >> /etc/hosts', [hostsLine(hostname)]);
  pinned.push(hostname);
}

/** Remove the /etc/hosts lines this process added (rewritten in place: it may be a bind mount). */
export function unpinHosts() {
  if (!pinned.length) return;
  const patterns = path.join(os.tmpdir(), `keyhold-unpin-${process.pid}`);
  fs.writeFileSync(patterns, pinned.map(hostsLine).join("\n") + "\n");
  try {
    underHostsLock('grep -vxF -f "$1" /etc/hosts > "$1.new"; cat "$1.new" > /etc/hosts; rm -f "$1.new"', [patterns]);
    pinned.length = 0;
  } finally {
    fs.rmSync(patterns, { force: true });
  }
}

// ---------------------------------------------------------------------------- HTTP

/** HTTPS request trusting only keyhold's CA. Resolves {status, headers, text, json()}. */
export function request(server, method, url, { headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const data = body === undefined ? undefined : typeof body === "string" || Buffer.isBuffer(body) ? body : JSON.stringify(body);
    const hdrs = { Accept: "application/json", ...headers };
    if (data !== undefined) {
      hdrs["Content-Length"] = Buffer.byteLength(data);
      if (!Object.keys(hdrs).some((k) => k.toLowerCase() === "content-type")) hdrs["Content-Type"] = "application/json";
    }
    const req = https.request(
      {
        method,
        hostname: u.hostname,
        port: u.port,
        path: u.pathname + u.search,
        headers: hdrs,
        ca: server.ca,
        agent: false,
        timeout: 30_000,
      },
      (res) => {
        const chunks = [];
        res.on("data", (c) => chunks.push(c));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          resolve({
            status: res.statusCode,
            headers: res.headers,
            text,
            json() {
              return JSON.parse(text);
            },
          });
        });
      },
    );
    req.on("timeout", () => req.destroy(new Error(`timeout: ${method} ${url}`)));
    req.on("error", reject);
    if (data !== undefined) req.write(data);
    req.end();
  });
}

export async function clientCredentials(server, clientId, secret, scope, { tenant } = {}) {
  const form = new URLSearchParams({ grant_type: "client_credentials", client_id: clientId, client_secret: secret, scope });
  const res = await request(server, "POST", `${server.url}/${tenant ?? server.tenant}/oauth2/v2.0/token`, {
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: form.toString(),
  });
  if (res.status !== 200) throw new Error(`token request for ${scope} failed: ${res.status} ${res.text}`);
  return res.json().access_token;
}

export const adminToken = (server) =>
  clientCredentials(server, server.admin.appId, server.admin.password, `${server.url}/.default`);

export const vaultToken = (server, principal = server.admin) =>
  clientCredentials(server, principal.appId, principal.password, `${server.vaultResource}/.default`);

export async function adminCall(server, method, p, body, token) {
  token ??= await adminToken(server);
  return request(server, method, `${server.url}/keyhold/v1/${p.replace(/^\//, "")}`, {
    headers: { Authorization: `Bearer ${token}` },
    body,
  });
}

export async function createVault(server, name = unique("kv")) {
  const res = await adminCall(server, "PUT", `vaults/${name}`, {});
  if (res.status !== 200) throw new Error(`create vault ${name}: ${res.status} ${res.text}`);
  const host = `${name}.${server.dnsSuffix}`;
  pinHost(host);
  return { name, host, url: `https://${host}:${server.port}`, info: res.json() };
}

export async function createServicePrincipal(server, displayName = unique("js-sp")) {
  const res = await adminCall(server, "POST", "servicePrincipals", { displayName });
  if (res.status !== 200) throw new Error(`create service principal: ${res.status} ${res.text}`);
  return res.json();
}

export async function jwks(server) {
  const conf = await request(server, "GET", `${server.url}/${server.tenant}/v2.0/.well-known/openid-configuration`);
  if (conf.status !== 200) throw new Error(`openid-configuration: ${conf.status} ${conf.text}`);
  const res = await request(server, "GET", conf.json().jwks_uri);
  if (res.status !== 200) throw new Error(`jwks: ${res.status} ${res.text}`);
  return res.json();
}

// ---------------------------------------------------------------------------- JWT

const b64urlJson = (s) => JSON.parse(Buffer.from(s, "base64url").toString("utf8"));

export function jwtParts(token) {
  const [h, p, s] = token.split(".");
  return { header: b64urlJson(h), claims: b64urlJson(p), signature: s };
}

/** Verify an RS256 token against the server's JWKS; returns its claims. */
export async function verifyToken(server, token, audience) {
  const { header, claims } = jwtParts(token);
  if (header.alg !== "RS256") throw new Error(`alg ${header.alg}`);
  const jwk = (await jwks(server)).keys.find((k) => k.kid === header.kid);
  if (!jwk) throw new Error(`kid ${header.kid} not in JWKS`);
  const [h, p, s] = token.split(".");
  const ok = cryptoVerify("RSA-SHA256", Buffer.from(`${h}.${p}`), createPublicKey({ key: jwk, format: "jwk" }), Buffer.from(s, "base64url"));
  if (!ok) throw new Error("token signature does not verify against JWKS");
  if (claims.aud !== audience) throw new Error(`aud ${claims.aud} != ${audience}`);
  if (claims.iss !== `${server.url}/${server.tenant}/v2.0`) throw new Error(`iss ${claims.iss}`);
  if (claims.tid !== server.tenant) throw new Error(`tid ${claims.tid}`);
  const now = Date.now() / 1000;
  if (!(claims.exp > now && claims.nbf <= now + 5)) throw new Error(`token not currently valid: ${JSON.stringify(claims)}`);
  return claims;
}

// ---------------------------------------------------------------------------- SDK children

const CHILD = path.join(HERE, "sdk-child.mjs");

/**
 * Run one scenario of sdk-child.mjs in a fresh node process whose environment is
 * exactly `env` + PATH. Resolves {code, stdout, stderr, result} where result is
 * the JSON the child printed on its last stdout line (if any).
 */
export function runChild(scenario, env, input = {}, { timeoutMs = 180_000, childFile = CHILD } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [childFile, scenario], {
      env: { ...env, PATH: process.env.PATH },
      stdio: ["pipe", "pipe", "pipe"],
      cwd: HERE,
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      stderr += `\n[harness] child killed after ${timeoutMs} ms`;
    }, timeoutMs);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      const lines = stdout.trim().split("\n");
      let result;
      try {
        result = JSON.parse(lines[lines.length - 1]);
      } catch {
        result = undefined;
      }
      resolve({ code, stdout, stderr, result });
    });
    child.stdin.end(JSON.stringify(input));
  });
}

export const newGuid = () => randomUUID();

// ---------------------------------------------------------------------------- ARM and managed identity

export const MI_VARIABLES = ["IDENTITY_ENDPOINT", "IDENTITY_HEADER", "MSI_ENDPOINT", "MSI_SECRET", "AZURE_POD_IDENTITY_AUTHORITY_HOST"];

/** An ARM call (`p` from `/subscriptions...`) as the admin; api-version added unless present. */
export async function armCall(server, method, p, body, token) {
  token ??= await adminToken(server);
  const url = p.includes("api-version=") ? `${server.url}${p}` : `${server.url}${p}${p.includes("?") ? "&" : "?"}api-version=2023-07-01`;
  return request(server, method, url, { headers: { Authorization: `Bearer ${token}` }, body });
}

async function armJson(res, what, ok = [200, 201]) {
  if (!ok.includes(res.status)) throw new Error(`${what} failed: ${res.status} ${res.text}`);
  return res.text ? res.json() : {};
}

export async function resourceGroupId(server) {
  const subs = await armJson(await armCall(server, "GET", "/subscriptions?api-version=2022-12-01"), "list subscriptions");
  return `/subscriptions/${subs.value[0].subscriptionId}/resourceGroups/keyhold`;
}

/** `<data-dir>/mi.json`: the host's system-assigned identity (object_id, client_id, resource_id). */
export const miFile = (server) => JSON.parse(fs.readFileSync(path.join(server.dataDir, "mi.json"), "utf8"));

/** Add an access policy for `objectId` on `vault` (identities are deny-by-default). */
export async function grantVaultAccess(server, vault, objectId, secrets = ["get", "list", "set"]) {
  const body = { properties: { accessPolicies: [{ tenantId: server.tenant, objectId, permissions: { secrets } }] } };
  const p = `${await resourceGroupId(server)}/providers/Microsoft.KeyVault/vaults/${vault.name}/accessPolicies/add`;
  await armJson(await armCall(server, "PUT", p, body), `grant ${objectId} on ${vault.name}`);
}

/** Create a user-assigned identity: {name, id, principalId, clientId}. */
export async function createUserAssignedIdentity(server, name = unique("js-uai")) {
  const id = `${await resourceGroupId(server)}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/${name}`;
  const body = await armJson(await armCall(server, "PUT", id, { location: "local" }), `create identity ${name}`);
  return { name, id, principalId: body.properties.principalId, clientId: body.properties.clientId };
}

/** Attach user-assigned identities to the host's VM resource (keeps the system-assigned one). */
export async function attachUserAssigned(server, identities) {
  const body = {
    identity: {
      type: "SystemAssigned, UserAssigned",
      userAssignedIdentities: Object.fromEntries(identities.map((u) => [u.id, {}])),
    },
  };
  return armJson(await armCall(server, "PATCH", miFile(server).resource_id, body), "attach identities", [200]);
}

/** `keyhold env` (no service principal) keeping only the managed-identity variables in `keep`. */
export function miEnv(dataDir, keep) {
  const env = keyholdEnv(dataDir);
  const missing = MI_VARIABLES.filter((k) => !(k in env));
  if (missing.length) throw new Error(`keyhold env did not print ${missing}`);
  for (const k of MI_VARIABLES) if (!keep.includes(k)) delete env[k];
  return env;
}
