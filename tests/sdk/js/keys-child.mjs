// Key scenarios for keys.test.mjs, one per process, in the same contract as sdk-child.mjs: the
// environment is exactly `keyhold env --service-principal` + PATH; input JSON on stdin; the result
// JSON on the last stdout line. Signatures and ciphertexts are checked with node:crypto (OpenSSL),
// independently of keyhold's aws-lc-rs, against the JWK keyhold returned.

import assert from "node:assert/strict";
import crypto from "node:crypto";
import { DefaultAzureCredential } from "@azure/identity";
import { CryptographyClient, KeyClient } from "@azure/keyvault-keys";

async function readInput() {
  const chunks = [];
  for await (const c of process.stdin) chunks.push(c);
  const text = Buffer.concat(chunks).toString("utf8");
  return text ? JSON.parse(text) : {};
}

async function expectRestError(promise, statusCode) {
  try {
    await promise;
  } catch (err) {
    assert.equal(err.name, "RestError", `expected RestError, got ${err.name}: ${err.message}`);
    assert.equal(err.statusCode, statusCode, err.message);
    return err;
  }
  assert.fail(`expected RestError ${statusCode}, but the call succeeded`);
}

const b64u = (bytes) => Buffer.from(bytes).toString("base64url");

/** A node KeyObject from the public JWK keyhold returned. */
function publicKey(key) {
  const k = key.key;
  const jwk = k.kty === "RSA" ? { kty: "RSA", n: b64u(k.n), e: b64u(k.e) } : { kty: "EC", crv: k.crv, x: b64u(k.x), y: b64u(k.y) };
  return crypto.createPublicKey({ key: jwk, format: "jwk" });
}

const scenarios = {
  async "rsa-sign-encrypt"(input) {
    const cred = new DefaultAzureCredential();
    const client = new KeyClient(input.vaultUrl, cred);
    const key = await client.createRsaKey(`${input.prefix}-rsa`, { keySize: 2048 });
    assert.equal(key.key.d, undefined, "no private member");
    const crypt = new CryptographyClient(key.id, cred);
    const message = Buffer.from("keyhold from js");
    const digest = crypto.createHash("sha256").update(message).digest();
    const pub = publicKey(key);
    const rs = await crypt.sign("RS256", digest);
    assert.ok(crypto.verify("sha256", message, pub, Buffer.from(rs.result)), "RS256 verified by node:crypto");
    const ps = await crypt.sign("PS256", digest);
    assert.ok(
      crypto.verify("sha256", message, { key: pub, padding: crypto.constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }, Buffer.from(ps.result)),
      "PS256 verified by node:crypto",
    );
    assert.equal((await crypt.verify("PS256", digest, ps.result)).result, true);
    const bad = Buffer.from(ps.result);
    bad[0] ^= 1;
    assert.equal((await crypt.verify("PS256", digest, bad)).result, false);
    // Made by node:crypto, decrypted by keyhold.
    const ct = crypto.publicEncrypt({ key: pub, padding: crypto.constants.RSA_PKCS1_OAEP_PADDING, oaepHash: "sha256" }, Buffer.from("plain"));
    const pt = await crypt.decrypt({ algorithm: "RSA-OAEP-256", ciphertext: ct });
    assert.equal(Buffer.from(pt.result).toString(), "plain");
    const wrapped = await crypt.wrapKey("RSA-OAEP", Buffer.alloc(32, 7));
    const unwrapped = await crypt.unwrapKey("RSA-OAEP", wrapped.result);
    assert.deepEqual(Buffer.from(unwrapped.result), Buffer.alloc(32, 7));
    return { kid: key.id };
  },

  async "ec-lifecycle"(input) {
    const cred = new DefaultAzureCredential();
    const client = new KeyClient(input.vaultUrl, cred);
    const name = `${input.prefix}-ec`;
    const key = await client.createEcKey(name, { curve: "P-384" });
    const crypt = new CryptographyClient(key, cred);
    const message = Buffer.from("ec from js");
    const digest = crypto.createHash("sha384").update(message).digest();
    const sig = await crypt.sign("ES384", digest);
    assert.equal(sig.result.length, 96, "raw r||s");
    assert.ok(crypto.verify("sha384", message, { key: publicKey(key), dsaEncoding: "ieee-p1363" }, Buffer.from(sig.result)));
    const rotated = await client.rotateKey(name);
    assert.notEqual(rotated.properties.version, key.properties.version);
    const versions = [];
    for await (const p of client.listPropertiesOfKeyVersions(name)) versions.push(p.version);
    assert.equal(versions.length, 2);
    const backup = await client.backupKey(name);
    const poller = await client.beginDeleteKey(name, { intervalInMs: 100 });
    const deleted = await poller.pollUntilDone();
    assert.equal(deleted.name, name);
    await client.purgeDeletedKey(name);
    const restored = await client.restoreKeyBackup(backup);
    assert.equal(restored.id, rotated.id);
    await expectRestError(client.createRsaKey(`${input.prefix}-bad`, { keySize: 1024 }), 400);
    await expectRestError(client.getKey(`${input.prefix}-bad`), 404);
    return { versions: versions.length };
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
