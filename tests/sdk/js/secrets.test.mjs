// @azure/keyvault-secrets SecretClient + DefaultAzureCredential against keyhold; each
// scenario runs in a child node process whose environment is `keyhold env
// --service-principal` + PATH (see sdk-child.mjs), with no client option changed.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import * as kh from "./harness.mjs";

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
  const r = await kh.runChild(name, spEnv, { vaultUrl: vault.url, prefix: kh.unique("js") });
  assert.equal(r.code, 0, `scenario ${name} failed (exit ${r.code}):\n${r.stderr}\n${r.stdout}\n${server.logTail()}`);
  return r.result;
}

test("setSecret / getSecret / updateSecretProperties / disabled → 403", () => scenario("set-get-update"));
test("listPropertiesOfSecrets byPage({maxPageSize: 2}) across >= 3 pages", async () => {
  const res = await scenario("paging");
  assert.ok(res.sizes.length >= 3, JSON.stringify(res));
});
test("versions: list, page, get by version", () => scenario("versions"));
test("beginDeleteSecret / getDeletedSecret / listDeletedSecrets / 409 / beginRecoverDeletedSecret / purgeDeletedSecret", () =>
  scenario("delete-recover-purge"));
test("backupSecret / restoreSecretBackup (409 over existing, works after purge)", () => scenario("backup-restore"));
test("404 → RestError statusCode 404 code SecretNotFound", () => scenario("not-found"));
