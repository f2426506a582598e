// @azure/identity ManagedIdentityCredential / DefaultAzureCredential against keyhold's
// managed-identity endpoints, with @azure/keyvault-secrets' SecretClient.
//
// Each scenario runs in a child node process whose environment is `keyhold env` (no
// service principal) + PATH, minus the managed-identity variables of the other sources,
// so msal-node picks its source from what is left:
//   imds        AZURE_POD_IDENTITY_AUTHORITY_HOST     GET /metadata/identity/oauth2/token/
//   appservice  IDENTITY_ENDPOINT + IDENTITY_HEADER   GET /msi/token, X-IDENTITY-HEADER
//   azureml     MSI_ENDPOINT + MSI_SECRET             GET /msi/token?api-version=2017-09-01, secret
//   cloudshell  MSI_ENDPOINT                          POST /msi/token, form resource=
// No client option is changed. Only the identities under test are granted on the vault
// (identities are deny-by-default), and each token's oid is checked.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import * as kh from "./harness.mjs";

const SOURCES = {
  imds: ["AZURE_POD_IDENTITY_AUTHORITY_HOST"],
  appservice: ["IDENTITY_ENDPOINT", "IDENTITY_HEADER"],
  azureml: ["MSI_ENDPOINT", "MSI_SECRET"],
  cloudshell: ["MSI_ENDPOINT"],
};
// The user-assigned selectors msal-node supports per source (Azure ML: clientId only; Cloud Shell: none).
const SELECTORS = {
  imds: ["clientId", "resourceId", "objectId"],
  appservice: ["clientId", "resourceId", "objectId"],
  azureml: ["clientId"],
  cloudshell: [],
};
const selectorOf = (selector, u) => ({ clientId: { clientId: u.clientId }, resourceId: { resourceId: u.id }, objectId: { objectId: u.principalId } })[selector];
const FAIL_FAST_MS = 10_000;

let server;
let vault;
let ungranted;
let system;
let attached;
let stranger;

before(async () => {
  server = await kh.startServer();
  vault = await kh.createVault(server, kh.unique("jsmi"));
  ungranted = await kh.createVault(server, kh.unique("jsno"));
  system = kh.miFile(server);
  attached = await kh.createUserAssignedIdentity(server, kh.unique("js-uai-attached"));
  stranger = await kh.createUserAssignedIdentity(server, kh.unique("js-uai-stranger"));
  const vm = await kh.attachUserAssigned(server, [attached]);
  assert.ok(attached.id in vm.identity.userAssignedIdentities, JSON.stringify(vm));
  for (const oid of [system.object_id, attached.principalId, stranger.principalId]) await kh.grantVaultAccess(server, vault, oid);
});

after(async () => {
  kh.unpinHosts();
  if (server) assert.equal(await server.stop(), 0, `SIGTERM must exit 0\n${server.logTail()}`);
});

async function run(scenario, source, input, extraEnv = {}) {
  const env = { ...kh.miEnv(server.dataDir, SOURCES[source]), ...extraEnv };
  assert.ok(!("AZURE_CLIENT_SECRET" in env));
  const r = await kh.runChild(scenario, env, {
    vaultUrl: vault.url,
    scope: `${server.vaultResource}/.default`,
    prefix: kh.unique("js"),
    ...input,
  });
  assert.equal(r.code, 0, `${scenario} (${source}) failed (exit ${r.code}):\n${r.stderr}\n${r.stdout}\n${server.logTail()}`);
  return r.result;
}

for (const source of Object.keys(SOURCES)) {
  test(`ManagedIdentityCredential() via ${source}: system-assigned token (oid) + setSecret/getSecret`, async () => {
    const res = await run("mi-secret", source, { credential: "mi" });
    assert.equal(res.oid, system.object_id);
    // expires_on was understood (else msal-node reports 0 and asks again before every call).
    assert.ok(res.expiresOnTimestamp > Date.now() + 30 * 60_000, `token expiry ${res.expiresOnTimestamp}`);
  });

  test(`DefaultAzureCredential via ${source}: system-assigned`, async () => {
    const res = await run("mi-secret", source, { credential: "dac" });
    assert.equal(res.oid, system.object_id);
  });

  for (const selector of SELECTORS[source]) {
    test(`ManagedIdentityCredential({${selector}}) via ${source}: the attached user-assigned identity`, async () => {
      const res = await run("mi-secret", source, { credential: "mi", options: selectorOf(selector, attached) });
      assert.equal(res.oid, attached.principalId);
      assert.notEqual(res.oid, system.object_id);
    });

    test(`ManagedIdentityCredential({${selector}}) via ${source}: an identity not attached to the host fails fast`, async () => {
      const res = await run("mi-fail", source, { credential: "mi", options: selectorOf(selector, stranger) });
      // keyhold's 400 invalid_request "Identity not found", as msal-node reports it.
      assert.equal(res.name, "CredentialUnavailableError", JSON.stringify(res));
      assert.match(res.message, /Identity not found/, JSON.stringify(res));
      assert.ok(res.elapsedMs < FAIL_FAST_MS, `took ${res.elapsedMs} ms: ${res.message}`);
    });
  }

  if (!SELECTORS[source].includes("clientId")) continue;
  test(`DefaultAzureCredential via ${source} with AZURE_CLIENT_ID alone: user-assigned`, async () => {
    const res = await run("mi-secret", source, { credential: "dac" }, { AZURE_CLIENT_ID: attached.clientId });
    assert.equal(res.oid, attached.principalId);
  });
}

test("control: the system identity without an access policy gets 403 from the vault", async () => {
  const res = await run("mi-fail", "imds", { credential: "mi", vaultUrl: ungranted.url });
  assert.equal(res.statusCode, 403, JSON.stringify(res));
});

test("DefaultAzureCredential via imds with an unattached AZURE_CLIENT_ID fails fast", async () => {
  const res = await run("mi-fail", "imds", { credential: "dac" }, { AZURE_CLIENT_ID: stranger.clientId });
  assert.equal(res.name, "AggregateAuthenticationError", JSON.stringify(res));
  assert.match(res.message, /ManagedIdentityCredential: Authentication failed\. .*Identity not found/, JSON.stringify(res));
  assert.ok(res.elapsedMs < FAIL_FAST_MS, `took ${res.elapsedMs} ms: ${res.message}`);
});
