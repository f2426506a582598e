// Seed 004 ("Use a Linux VM system-assigned managed identity to access Azure Key Vault") as written,
// in the console: inside a network namespace this test creates, the server, chromium and a
// `keyhold agent` serving the VM's identity on 169.254.169.254:80. A person with Owner on the
// resource group creates the vault, the secret and the VM's access policy in the browser; then the
// seed's two curl commands, run "on the VM" (in the namespace), read the secret created in the page.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import * as h from "./harness.mjs";
import * as p from "./portal.mjs";

let env, srv, alice, vm, group;
const VAULT = h.unique("mitestkv");
const SECRET = "tutorial-secret";
const VALUE = `p@ssw0rd!-${h.unique("", 4)}`;

before(async () => {
  env = await h.setup({ netns: true, imds: true });
  srv = env.srv;
  // The seed's prerequisites: a resource group with a Linux VM whose system-assigned identity is on,
  // and "Owner" permissions on it for the person.
  group = await srv.cli("group", "create", "-n", "mi-test", "-l", "eastus");
  alice = await h.createUser(srv, "Alice", { upn: "alice@contoso.example" });
  await srv.cli("role", "assignment", "create", "--assignee", alice.upn, "--role", "Owner", "--scope", group.id);
  await srv.cli("vm", "create", "-g", "mi-test", "-n", "myVM", "--image", "UbuntuLTS", "--admin-username", "azureuser", "--generate-ssh-keys", "--assign-identity");
  vm = await srv.cli("vm", "show", "-g", "mi-test", "-n", "myVM");
  const join = await srv.cli("agent", "join-token", "create", "--data-dir", srv.dataDir, "--resource-id", vm.id);
  srv.spawnChild(
    h.keyholdBin(),
    ["agent", "--server", srv.url, "--join-token", join.token, "--state-dir", `${srv.work}/agent`, "--ca-file", srv.caPem,
      "--listen", "127.0.0.1:18481", "--imds-listen", "169.254.169.254:80"],
    "agent.log",
  );
  await h.eventually(async () => (await h.run("curl", ["-s", "-o", "/dev/null", "http://169.254.169.254/"], { netns: env.ns })).code === 0, "the agent on 169.254.169.254:80", 20_000);
});
after(async () => env && (await env.teardown()));

test("seed 004: the vault, secret and VM access policy made in the console; the VM's curl reads the secret", async () => {
  const steps = new h.Steps("seed 004 tutorial");
  const context = await h.newContext(env.browser);
  const page = await context.newPage();
  try {
    // 1. Sign in to the portal.
    await h.signInToConsole(page, srv, alice, steps);
    // 2-9. Create a resource → Key Vault → Create → Name, subscription, mi-test → Review + create → Create.
    await p.createVault(page, steps, { name: VAULT, group: "mi-test" });
    const shown = await srv.cli("keyvault", "show", "-n", VAULT);
    assert.equal(shown.resourceGroup ?? shown.id.split("/")[4], "mi-test");
    assert.equal(shown.properties.enableRbacAuthorization, false);

    // Create a secret: Secrets → Generate/Import → Manual, name and value, no dates, Enabled Yes → Create.
    await p.createSecret(page, steps, { name: SECRET, value: VALUE });
    // The admin checks with the CLI through a read policy of its own (it did not create the vault).
    await srv.cli("keyvault", "set-policy", "-n", VAULT, "--object-id", srv.admin.objectId, "--secret-permissions", "get", "list");
    const secret = await srv.cli("keyvault", "secret", "show", "--vault-name", VAULT, "-n", SECRET);
    assert.equal(secret.value, VALUE);
    assert.equal(secret.attributes.enabled, true);
    assert.equal(secret.attributes.nbf ?? null, null);
    assert.equal(secret.attributes.exp ?? null, null);

    // Grant access: Access policies → Add Access Policy → Secret Management → Select principal myVM → Select → Add → Save.
    const checked = await p.addAccessPolicy(page, steps, { template: "Secret Management", search: "myVM", principal: /myVM/ });
    assert.deepEqual(checked.secrets.sort(), ["backup", "delete", "get", "list", "recover", "restore", "set"]);
    assert.deepEqual(checked.keys, []);
    assert.deepEqual(checked.certificates, []);
    const policies = (await srv.cli("keyvault", "show", "-n", VAULT)).properties.accessPolicies;
    const forVm = policies.find((x) => x.objectId === vm.identity.principalId);
    assert.ok(forVm, `no access policy for the VM's identity ${vm.identity.principalId}: ${JSON.stringify(policies)}`);
    assert.deepEqual([...forVm.permissions.secrets].sort(), ["backup", "delete", "get", "list", "recover", "restore", "set"]);

    // The vault's URL "is in the Essentials section of the Overview page".
    await p.blade(page, "Overview");
    const essentials = p.essentials(page);
    await h.visible(essentials);
    await steps.shot(page, "overview essentials");
    const vaultUri = (await essentials.textContent()).match(/https:\/\/\S+?\.vault\.localhost:\d+\/?/)?.[0];
    assert.equal(vaultUri?.replace(/\/?$/, "/"), shown.properties.vaultUri);

    // On "the VM": the seed's two curl commands, verbatim but for its placeholders.
    const vmEnv = { PATH: process.env.PATH, CURL_CA_BUNDLE: srv.env.CURL_CA_BUNDLE };
    const step1 = `curl 'http://169.254.169.254/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https%3A%2F%2Fvault.azure.net' -H Metadata:true`;
    const r1 = await h.run("bash", ["-c", step1], { netns: env.ns, env: vmEnv });
    assert.equal(r1.code, 0, r1.stderr);
    const token = JSON.parse(r1.stdout);
    assert.equal(token.resource, "https://vault.azure.net");
    assert.equal(typeof token.expires_in, "string");
    assert.equal(h.jwtClaims(token.access_token).oid, vm.identity.principalId);
    const host = new URL(vaultUri).host;
    const step2 = `curl 'https://${host}/secrets/${SECRET}?api-version=2016-10-01' -H "Authorization: Bearer ${token.access_token}"`;
    const r2 = await h.run("bash", ["-c", step2], { netns: env.ns, env: vmEnv });
    assert.equal(r2.code, 0, r2.stderr);
    const read = JSON.parse(r2.stdout);
    assert.equal(read.value, VALUE, r2.stdout);
    assert.match(read.id, new RegExp(`^https://${host.replace(/\./g, "\\.")}/secrets/${SECRET}/[0-9a-f]{32}$`));

    // Everything the page loaded came from the server's own origin.
    assert.deepEqual(p.origins(context), [srv.url]);
  } catch (e) {
    await steps.shot(page, "failure");
    throw e;
  } finally {
    await context.close();
  }
});
