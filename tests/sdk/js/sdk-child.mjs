// One SDK scenario per process (see harness.mjs runChild). Its environment is
// exactly what `keyhold env` printed (+ PATH), so NODE_EXTRA_CA_CERTS, the
// authority host and the credentials reach the SDK the way they reach a user's
// program. Reads its input as JSON on stdin, prints a JSON result as the last
// stdout line, exits non-zero (with the error on stderr) if an assertion fails.
//
// Not a test file on its own (the name does not match node --test's patterns).

import assert from "node:assert/strict";
import {
  ClientCertificateCredential,
  ClientSecretCredential,
  DefaultAzureCredential,
  ManagedIdentityCredential,
} from "@azure/identity";
import { SecretClient } from "@azure/keyvault-secrets";

const VERSION_RE = /^[0-9a-f]{32}$/;

async function readInput() {
  const chunks = [];
  for await (const c of process.stdin) chunks.push(c);
  const text = Buffer.concat(chunks).toString("utf8");
  return text ? JSON.parse(text) : {};
}

/** Await `promise`, expecting a RestError with the given status (and code). */
async function expectRestError(promise, statusCode, code) {
  try {
    await promise;
  } catch (err) {
    assert.equal(err.name, "RestError", `expected RestError, got ${err.name}: ${err.message}`);
    assert.equal(err.statusCode, statusCode, err.message);
    if (code) assert.equal(err.code, code, err.message);
    return err;
  }
  assert.fail(`expected RestError ${statusCode}, but the call succeeded`);
}

async function collect(iter) {
  const out = [];
  for await (const x of iter) out.push(x);
  return out;
}

const client = (input) => new SecretClient(input.vaultUrl, new DefaultAzureCredential());
const wholeSeconds = (ms) => new Date(Math.floor(ms / 1000) * 1000);

/** The credential a managed-identity scenario asks for: {credential: "mi"|"dac", options}. */
function miCredential(input) {
  if (input.credential === "dac") return new DefaultAzureCredential(input.options);
  return input.options ? new ManagedIdentityCredential(input.options) : new ManagedIdentityCredential();
}

const claimsOf = (token) => JSON.parse(Buffer.from(token.split(".")[1], "base64url").toString("utf8"));

const scenarios = {
  // Token (oid) + setSecret/getSecret through SecretClient with a managed identity credential.
  async "mi-secret"(input) {
    const cred = miCredential(input);
    const tok = await cred.getToken(input.scope);
    const { oid, xms_mirid: mirid } = claimsOf(tok.token);
    const c = new SecretClient(input.vaultUrl, cred);
    const name = `${input.prefix}-mi`;
    const set = await c.setSecret(name, `value of ${name}`);
    assert.equal(set.value, `value of ${name}`);
    const got = await c.getSecret(name);
    assert.equal(got.value, `value of ${name}`);
    assert.equal(got.properties.version, set.properties.version);
    return { oid, mirid, expiresOnTimestamp: tok.expiresOnTimestamp };
  },

  // The identity must not work: getSecret through SecretClient fails; report how and how fast.
  async "mi-fail"(input) {
    const cred = miCredential(input);
    const c = new SecretClient(input.vaultUrl, cred);
    const started = Date.now();
    try {
      await c.getSecret(`${input.prefix}-nope`);
    } catch (err) {
      return { name: err.name, message: String(err.message), statusCode: err.statusCode, elapsedMs: Date.now() - started };
    }
    assert.fail("getSecret succeeded with an identity that must not work");
  },

  async "client-secret-credential"(input) {
    const cred = new ClientSecretCredential(input.tenant, input.appId, input.password, {
      authorityHost: input.url,
      disableInstanceDiscovery: true,
    });
    const tok = await cred.getToken(input.scope);
    return { token: tok.token, expiresOnTimestamp: tok.expiresOnTimestamp };
  },

  async "certificate-credential"(input) {
    // msal-node signs the assertion with PS256 and an x5t#S256 header (wire-protocol §6).
    const cred = new ClientCertificateCredential(
      input.tenant,
      input.appId,
      { certificatePath: input.certificatePath },
      { authorityHost: input.url, disableInstanceDiscovery: true },
    );
    const tok = await cred.getToken(input.scope);
    return { token: tok.token, expiresOnTimestamp: tok.expiresOnTimestamp };
  },

  async "dac-token"(input) {
    const tok = await new DefaultAzureCredential().getToken(input.scope);
    return { token: tok.token, expiresOnTimestamp: tok.expiresOnTimestamp };
  },

  async "set-get-update"(input) {
    const c = client(input);
    const name = `${input.prefix}-full`;
    const nbf = wholeSeconds(Date.now() - 3600_000);
    const exp = wholeSeconds(Date.now() + 30 * 86400_000);
    const set = await c.setSecret(name, "js value ✓", {
      contentType: "text/plain",
      tags: { env: "test", lang: "js" },
      enabled: true,
      notBefore: nbf,
      expiresOn: exp,
    });
    assert.equal(set.name, name);
    assert.equal(set.value, "js value ✓");
    const p = set.properties;
    assert.match(p.version, VERSION_RE);
    assert.equal(p.id, `${input.vaultUrl}/secrets/${name}/${p.version}`);
    assert.equal(p.vaultUrl.replace(/\/$/, ""), input.vaultUrl);
    assert.equal(p.contentType, "text/plain");
    assert.deepEqual(p.tags, { env: "test", lang: "js" });
    assert.equal(p.enabled, true);
    assert.equal(p.notBefore.getTime(), nbf.getTime());
    assert.equal(p.expiresOn.getTime(), exp.getTime());
    assert.ok(p.createdOn instanceof Date && Math.abs(p.createdOn.getTime() - Date.now()) < 120_000, String(p.createdOn));
    assert.equal(p.recoveryLevel, "Recoverable+Purgeable");
    assert.equal(p.recoverableDays, 90);

    const latest = await c.getSecret(name);
    assert.equal(latest.value, "js value ✓");
    assert.equal(latest.properties.version, p.version);

    const second = await c.setSecret(name, "second");
    assert.notEqual(second.properties.version, p.version);
    assert.equal((await c.getSecret(name)).value, "second");
    assert.equal((await c.getSecret(name, { version: p.version })).value, "js value ✓");

    const updated = await c.updateSecretProperties(name, second.properties.version, {
      contentType: "application/json",
      tags: { updated: "yes" },
    });
    assert.equal(updated.version, second.properties.version);
    assert.equal(updated.contentType, "application/json");
    assert.deepEqual(updated.tags, { updated: "yes" });
    const after = await c.getSecret(name);
    assert.equal(after.value, "second");
    assert.deepEqual(after.properties.tags, { updated: "yes" });
    // The older version is untouched.
    assert.deepEqual((await c.getSecret(name, { version: p.version })).properties.tags, { env: "test", lang: "js" });

    // Disabled secrets cannot be read.
    await c.updateSecretProperties(name, second.properties.version, { enabled: false });
    await expectRestError(c.getSecret(name), 403, "Forbidden");
    return { ok: true };
  },

  async paging(input) {
    const c = client(input);
    const names = [];
    for (let i = 0; i < 5; i++) {
      const n = `${input.prefix}-page${i}`;
      await c.setSecret(n, `value-${i}`);
      names.push(n);
    }
    const pages = [];
    for await (const page of c.listPropertiesOfSecrets().byPage({ maxPageSize: 2 })) pages.push(page);
    const sizes = pages.map((p) => p.length);
    assert.ok(pages.length >= 3, `want >= 3 pages, got ${JSON.stringify(sizes)}`);
    assert.ok(sizes.every((s) => s >= 1 && s <= 2), JSON.stringify(sizes));
    const seen = pages.flat().map((p) => p.name).sort();
    assert.deepEqual(seen, [...names].sort());
    for (const p of pages.flat()) assert.equal(p.id, `${input.vaultUrl}/secrets/${p.name}`);
    // Flat iteration agrees.
    assert.deepEqual((await collect(c.listPropertiesOfSecrets())).map((p) => p.name).sort(), [...names].sort());
    return { sizes };
  },

  async versions(input) {
    const c = client(input);
    const name = `${input.prefix}-ver`;
    const ids = [];
    for (const v of ["one", "two", "three"]) ids.push((await c.setSecret(name, v)).properties.version);
    assert.equal(new Set(ids).size, 3);
    const listed = await collect(c.listPropertiesOfSecretVersions(name));
    assert.deepEqual(listed.map((p) => p.version).sort(), [...ids].sort());
    for (const p of listed) assert.equal(p.name, name);
    const pages = [];
    for await (const page of c.listPropertiesOfSecretVersions(name).byPage({ maxPageSize: 1 })) pages.push(page.length);
    assert.deepEqual(pages, [1, 1, 1]);
    assert.equal((await c.getSecret(name, { version: ids[0] })).value, "one");
    assert.equal((await c.getSecret(name)).value, "three");
    return { ids };
  },

  async "delete-recover-purge"(input) {
    const c = client(input);
    const name = `${input.prefix}-del`;
    const created = await c.setSecret(name, "bring me back", { tags: { t: "1" } });

    const poller = await c.beginDeleteSecret(name);
    const deleted = await poller.pollUntilDone();
    assert.equal(deleted.name, name);
    assert.equal(deleted.recoveryId, `${input.vaultUrl}/deletedsecrets/${name}`);
    assert.ok(deleted.deletedOn instanceof Date);
    assert.ok(deleted.scheduledPurgeDate instanceof Date);

    const got = await c.getDeletedSecret(name);
    assert.equal(got.name, name);
    assert.equal(got.properties.version, created.properties.version);
    const days = (got.scheduledPurgeDate - got.deletedOn) / 86400_000;
    assert.ok(days > 89.9 && days < 90.1, String(days));
    assert.ok((await collect(c.listDeletedSecrets())).some((d) => d.name === name));

    await expectRestError(c.getSecret(name), 404, "SecretNotFound");
    // Setting a soft-deleted name is a conflict, and stores nothing.
    await expectRestError(c.setSecret(name, "not allowed"), 409);

    const recover = await c.beginRecoverDeletedSecret(name);
    const recovered = await recover.pollUntilDone();
    assert.equal(recovered.name, name);
    const back = await c.getSecret(name);
    assert.equal(back.value, "bring me back");
    assert.equal(back.properties.version, created.properties.version);
    await expectRestError(c.getDeletedSecret(name), 404);

    // Delete again and purge: gone for good, and the name is free.
    await (await c.beginDeleteSecret(name)).pollUntilDone();
    await c.purgeDeletedSecret(name);
    await expectRestError(c.getDeletedSecret(name), 404, "SecretNotFound");
    assert.ok(!(await collect(c.listDeletedSecrets())).some((d) => d.name === name));
    await c.setSecret(name, "reborn");
    assert.equal((await c.getSecret(name)).value, "reborn");
    return { ok: true };
  },

  async "backup-restore"(input) {
    const c = client(input);
    const name = `${input.prefix}-bak`;
    const v1 = await c.setSecret(name, "old");
    const v2 = await c.setSecret(name, "new", { tags: { x: "y" } });
    const blob = await c.backupSecret(name);
    assert.ok(blob instanceof Uint8Array && blob.length > 0);

    await expectRestError(c.restoreSecretBackup(blob), 409);

    await (await c.beginDeleteSecret(name)).pollUntilDone();
    await c.purgeDeletedSecret(name);
    await expectRestError(c.getSecret(name), 404);

    const restored = await c.restoreSecretBackup(blob);
    assert.equal(restored.name, name);
    assert.equal(restored.version, v2.properties.version);
    const got = await c.getSecret(name);
    assert.equal(got.value, "new");
    assert.deepEqual(got.properties.tags, { x: "y" });
    assert.equal((await c.getSecret(name, { version: v1.properties.version })).value, "old");
    return { ok: true };
  },

  async "not-found"(input) {
    const c = client(input);
    const name = `${input.prefix}-nope`;
    await expectRestError(c.getSecret(name), 404, "SecretNotFound");
    await expectRestError(c.getDeletedSecret(name), 404, "SecretNotFound");
    await expectRestError(c.purgeDeletedSecret(name), 404);
    await expectRestError(c.backupSecret(name), 404);
    await expectRestError(c.updateSecretProperties(name, "0".repeat(32), { tags: {} }), 404);
    await expectRestError(c.beginDeleteSecret(name), 404);
    return { ok: true };
  },
};

const scenario = scenarios[process.argv[2]];
if (!scenario) {
  console.error(`unknown scenario ${process.argv[2]}; known: ${Object.keys(scenarios).join(", ")}`);
  process.exit(2);
}
try {
  const result = await scenario(await readInput());
  console.log(JSON.stringify(result ?? {}));
} catch (err) {
  console.error(err?.stack ?? String(err));
  if (err?.response) console.error("response:", err.response.status, err.response.bodyAsText);
  process.exit(1);
}
