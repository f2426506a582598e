// keyhold's identity provider through @azure/identity (ClientSecretCredential, DefaultAzureCredential).
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
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

function childOk(r) {
  assert.equal(r.code, 0, `child failed (exit ${r.code}):\n${r.stderr}\n${r.stdout}\n${server.logTail()}`);
  return r.result;
}

test("keyhold env --service-principal prints what the SDKs need", () => {
  for (const v of ["REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE", "NODE_EXTRA_CA_CERTS"]) {
    assert.equal(spEnv[v], server.caBundle, v);
  }
  assert.equal(spEnv.AZURE_AUTHORITY_HOST, server.url);
  assert.equal(spEnv.AZURE_TENANT_ID, "adfs");
  assert.equal(spEnv.KEYHOLD_TENANT_ID, server.tenant);
  assert.equal(spEnv.AZURE_CLIENT_ID, server.admin.appId);
  assert.equal(spEnv.AZURE_CLIENT_SECRET, server.admin.password);
});

test("ClientSecretCredential with authorityHost + disableInstanceDiscovery", async () => {
  const scope = `${server.vaultResource}/.default`;
  const res = childOk(
    await kh.runChild("client-secret-credential", { NODE_EXTRA_CA_CERTS: server.caBundle }, {
      tenant: server.tenant,
      appId: server.admin.appId,
      password: server.admin.password,
      url: server.url,
      scope,
    }),
  );
  const claims = await kh.verifyToken(server, res.token, server.vaultResource);
  assert.equal(claims.appid, server.admin.appId);
  assert.equal(claims.oid, server.admin.objectId);
  assert.equal(claims.idtyp, "app");
  const lifetime = (res.expiresOnTimestamp - Date.now()) / 1000;
  assert.ok(lifetime > 3000 && lifetime <= 3700, String(lifetime));
});

test("DefaultAzureCredential from keyhold env alone (AZURE_TENANT_ID=adfs)", async () => {
  const res = childOk(await kh.runChild("dac-token", spEnv, { scope: `${server.vaultResource}/.default` }));
  const claims = await kh.verifyToken(server, res.token, server.vaultResource);
  assert.equal(claims.appid, server.admin.appId);
});

test("ClientSecretCredential with a wrong secret fails", async () => {
  const r = await kh.runChild("client-secret-credential", { NODE_EXTRA_CA_CERTS: server.caBundle }, {
    tenant: server.tenant,
    appId: (await kh.createServicePrincipal(server)).appId,
    password: "wrong-secret",
    url: server.url,
    scope: `${server.vaultResource}/.default`,
  });
  assert.notEqual(r.code, 0, "a wrong secret must not yield a token");
  assert.match(r.stderr, /7000215|invalid_client/, r.stderr);
});

test("ClientCertificateCredential (PS256 + x5t#S256) gets a token the vault accepts", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "keyhold-js-cert-"));
  const keyPath = path.join(dir, "key.pem");
  const certPath = path.join(dir, "cert.pem");
  execFileSync("openssl", [
    "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", keyPath, "-out", certPath,
    "-subj", "/CN=keyhold-js-test", "-days", "2",
  ], { stdio: "pipe" });
  const combined = path.join(dir, "client.pem");
  fs.writeFileSync(combined, fs.readFileSync(keyPath, "utf8") + fs.readFileSync(certPath, "utf8"));

  const sp = await kh.createServicePrincipal(server, kh.unique("js-cert"));
  const reg = await kh.adminCall(server, "POST", `servicePrincipals/${sp.appId}/certificates`, {
    certificate: fs.readFileSync(certPath, "utf8"),
  });
  assert.equal(reg.status, 200, reg.text);

  const res = childOk(
    await kh.runChild("certificate-credential", { NODE_EXTRA_CA_CERTS: server.caBundle }, {
      tenant: server.tenant,
      appId: sp.appId,
      certificatePath: combined,
      url: server.url,
      scope: `${server.vaultResource}/.default`,
    }),
  );
  const claims = await kh.verifyToken(server, res.token, server.vaultResource);
  assert.equal(claims.appid, sp.appId);
  assert.equal(claims.oid, sp.objectId);

  const vault = await kh.createVault(server);
  const probe = await kh.request(server, "GET", `${vault.url}/secrets/nope?api-version=7.4`, {
    headers: { Authorization: `Bearer ${res.token}` },
  });
  // Authenticated: no 401 challenge. Without an access policy the principal may get 403 Forbidden
  // (authorization), which still means the vault accepted the token.
  assert.notEqual(probe.status, 401, probe.text);
  assert.ok([404, 403].includes(probe.status), probe.text);
  assert.equal(probe.json().error.code, probe.status === 404 ? "SecretNotFound" : "Forbidden", probe.text);
  fs.rmSync(dir, { recursive: true, force: true });
});
