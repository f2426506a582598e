// @azure/keyvault-certificates CertificateClient + DefaultAzureCredential against keyhold; each
// scenario runs in a child process (certificates-child.mjs) whose environment is `keyhold env
// --service-principal` + PATH, with no client option changed.
import assert from "node:assert/strict";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, test } from "node:test";

import * as kh from "./harness.mjs";

const CHILD = path.join(path.dirname(fileURLToPath(import.meta.url)), "certificates-child.mjs");
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

test("create with beginCreateCertificate().pollUntilDone(), download as PEM, import raw PEM, backup/restore", async () => {
  const vault = await kh.createVault(server);
  const r = await kh.runChild("create-download-import", spEnv, { vaultUrl: vault.url, prefix: kh.unique("js") }, { childFile: CHILD });
  assert.equal(r.code, 0, `scenario failed (exit ${r.code}):\n${r.stderr}\n${r.stdout}\n${server.logTail()}`);
  assert.equal(r.result.versions, 1);
});
