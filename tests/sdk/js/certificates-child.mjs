// Certificate scenarios for certificates.test.mjs, one per process, in the same contract as
// sdk-child.mjs: the environment is exactly `keyhold env --service-principal` + PATH; input JSON on
// stdin; the result JSON on the last stdout line. Certificates and keys are checked with node:crypto
// (OpenSSL), independently of keyhold's rcgen / aws-lc-rs.

import assert from "node:assert/strict";
import crypto from "node:crypto";
import { DefaultAzureCredential } from "@azure/identity";
import { CertificateClient, DefaultCertificatePolicy } from "@azure/keyvault-certificates";
import { SecretClient } from "@azure/keyvault-secrets";

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

const spki = (key) => key.export({ type: "spki", format: "der" }).toString("base64");

const scenarios = {
  async "create-download-import"(input) {
    const cred = new DefaultAzureCredential();
    const client = new CertificateClient(input.vaultUrl, cred);
    const secrets = new SecretClient(input.vaultUrl, cred);

    // Create with the default policy, through the poller (it compares "inProgress" exactly).
    const name = `${input.prefix}-default`;
    const poller = await client.beginCreateCertificate(name, DefaultCertificatePolicy, { intervalInMs: 100 });
    const cert = await poller.pollUntilDone();
    assert.equal(cert.name, name);
    assert.equal(cert.policy.issuerName, "Self");
    const x509 = new crypto.X509Certificate(Buffer.from(cert.cer));
    assert.match(x509.subject, new RegExp(DefaultCertificatePolicy.subject, "i"));
    assert.ok(x509.verify(x509.publicKey), "self-signed");
    assert.equal(Buffer.from(cert.properties.x509Thumbprint).toString("hex"), x509.fingerprint.replaceAll(":", "").toLowerCase());
    const op = await client.getCertificateOperation(name);
    assert.equal(op.getOperationState().certificateOperation.status, "completed");

    // A PEM certificate, downloaded as its secret: key and certificate agree.
    const pemName = `${input.prefix}-pem`;
    const pemPolicy = { issuerName: "Self", subject: "CN=js.internal", contentType: "application/x-pem-file", subjectAlternativeNames: { dnsNames: ["js.internal"] } };
    await (await client.beginCreateCertificate(pemName, pemPolicy, { intervalInMs: 100 })).pollUntilDone();
    const secret = await secrets.getSecret(pemName);
    assert.equal(secret.properties.contentType, "application/x-pem-file");
    const key = crypto.createPrivateKey(secret.value);
    const leaf = new crypto.X509Certificate(secret.value);
    assert.equal(spki(crypto.createPublicKey(key)), spki(leaf.publicKey));
    assert.match(leaf.subjectAltName, /DNS:js\.internal/);

    // Import the downloaded PEM (the JS SDK sends it as raw text) under another name.
    const importedName = `${input.prefix}-imported`;
    const imported = await client.importCertificate(importedName, Buffer.from(secret.value), {
      policy: { contentType: "application/x-pem-file", issuerName: "Unknown" },
    });
    assert.equal(new crypto.X509Certificate(Buffer.from(imported.cer)).fingerprint256, leaf.fingerprint256);
    await expectRestError(
      client.importCertificate(`${input.prefix}-nokey`, Buffer.from(leaf.toString()), {
        policy: { contentType: "application/x-pem-file", issuerName: "Unknown" },
      }),
      400,
    );
    await expectRestError(client.getCertificate(`${input.prefix}-nokey`), 404);

    // Backup, delete, purge, restore.
    const backup = await client.backupCertificate(pemName);
    await (await client.beginDeleteCertificate(pemName, { intervalInMs: 100 })).pollUntilDone();
    await client.purgeDeletedCertificate(pemName);
    const restored = await client.restoreCertificateBackup(backup);
    assert.equal(restored.name, pemName);
    const versions = [];
    for await (const v of client.listPropertiesOfCertificateVersions(name)) versions.push(v.version);
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
