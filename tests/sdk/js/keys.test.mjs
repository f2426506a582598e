// @azure/keyvault-keys KeyClient + CryptographyClient + DefaultAzureCredential against keyhold; each
// scenario runs in a child process (keys-child.mjs) whose environment is `keyhold env
// --service-principal` + PATH, with no client option changed.
import assert from "node:assert/strict";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, test } from "node:test";

import * as kh from "./harness.mjs";

const CHILD = path.join(path.dirname(fileURLToPath(import.meta.url)), "keys-child.mjs");
let server;
let spEnv;

before(async () => {
  server = await kh.startServer();
  spEnv = kh.keyholdEnv(server.dataDir, { servicePrincipal: true });
});

after(async () => {
  kh.unpinHosts();
  if (server) assert.equal(await server.stop(), 0, `SIGTERM must exit 0\n${server.logTail()}`);
});

async function scenario(name) {
  const vault = await kh.createVault(server);
  const r = await kh.runChild(name, spEnv, { vaultUrl: vault.url, prefix: kh.unique("js") }, { childFile: CHILD });
  assert.equal(r.code, 0, `scenario ${name} failed (exit ${r.code}):\n${r.stderr}\n${r.stdout}\n${server.logTail()}`);
  return r.result;
}

test("RSA: create, sign RS256/PS256 and decrypt checked with node:crypto, wrap/unwrap", () => scenario("rsa-sign-encrypt"));
test("EC P-384: ES384 raw r||s, rotate, versions, backup, delete poller, purge, restore, 400/404", () =>
  scenario("ec-lifecycle"));
