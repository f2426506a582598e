// The console's session and its guards in chromium: the session cookie's flags, the page's headers
// and CSP, seed 003's "grant yourself Secret Management" (the data plane then takes the person's own
// token), refusals naming the missing permission with nothing created, CSRF (the header, another
// session's token, pages on other origins — cross-site and same-site), and sign-out.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import https from "node:https";
import path from "node:path";
import * as h from "./harness.mjs";
import * as p from "./portal.mjs";

let env, srv, sub, group, alice, rita, bob;
const VAULT = h.unique("sharedkv");
const DB_PASSWORD = `s3cret-${h.unique("", 4)}`;

before(async () => {
  env = await h.setup();
  srv = env.srv;
  sub = await h.subscriptionId(srv);
  group = await srv.cli("group", "create", "-n", "mi-test", "-l", "eastus");
  await srv.cli("keyvault", "create", "-n", VAULT, "-g", "mi-test", "-l", "eastus");
  await srv.cli("keyvault", "secret", "set", "--vault-name", VAULT, "-n", "db-password", "--value", DB_PASSWORD);
  await srv.cli("keyvault", "secret", "set", "--vault-name", VAULT, "-n", "gone", "--value", "deleted one");
  await srv.cli("keyvault", "secret", "delete", "--vault-name", VAULT, "-n", "gone");
  alice = await h.createUser(srv, "Alice", { upn: "alice@contoso.example" });
  rita = await h.createUser(srv, "Rita Reader", { upn: "rita@contoso.example" });
  bob = await h.createUser(srv, "Bob", { upn: "bob@contoso.example" });
  await srv.cli("role", "assignment", "create", "--assignee", alice.upn, "--role", "Owner", "--scope", group.id);
  await srv.cli("role", "assignment", "create", "--assignee", rita.upn, "--role", "Reader", "--scope", group.id);
  const bobs = await srv.cli("group", "create", "-n", "bob-rg", "-l", "eastus");
  await srv.cli("role", "assignment", "create", "--assignee", bob.upn, "--role", "Reader", "--scope", bobs.id);
});
after(async () => env && (await env.teardown()));

const session = (user, steps, opts) => p.session(env.browser, srv, user, steps, opts);
const withShots = p.withShots;
const alertMatching = p.alertMatching;

const CONTRACT_CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";
const parseCsp = (v) =>
  Object.fromEntries(
    v.split(";").map((d) => d.trim()).filter(Boolean).map((d) => {
      const [name, ...values] = d.split(/\s+/);
      return [name.toLowerCase(), values.sort()];
    }),
  );

test("the session cookie's flags, the page's headers and CSP, and no request to another origin", () =>
  withShots("console cookie csp origins", async (steps, pages) => {
    const context = await h.newContext(env.browser);
    const page = await context.newPage();
    pages.push(page);
    // GET / without a session: a 302 to the authorize page as the Azure portal's client, with PKCE.
    const { authorize, rootStatus } = await h.signInToConsole(page, srv, alice, steps);
    assert.equal(rootStatus, 302);
    const q = authorize.searchParams;
    assert.equal(q.get("client_id"), "c44b4083-3bb0-49c1-b47d-974e53cbdf3c");
    assert.equal(q.get("redirect_uri"), `${srv.url}/signin-oidc`);
    assert.equal(q.get("response_type"), "code");
    assert.equal(q.get("code_challenge_method"), "S256");
    assert.match(q.get("code_challenge") ?? "", /^[A-Za-z0-9_-]{43}$/);
    assert.ok(q.get("state") && q.get("nonce"), `no state or nonce in ${authorize}`);
    const cookie = (await context.cookies(srv.url)).find((c) => c.name === "keyhold_session");
    assert.ok(cookie, "no keyhold_session cookie");
    assert.equal(cookie.httpOnly, true, "keyhold_session is not HttpOnly");
    assert.equal(cookie.secure, true, "keyhold_session is not Secure");
    assert.equal(cookie.sameSite, "Strict", "keyhold_session is not SameSite=Strict");
    assert.equal(cookie.path, "/");
    assert.equal(await page.evaluate(() => document.cookie.includes("keyhold_session")), false, "the page's script can read the session cookie");

    const resp = await page.goto(`${srv.url}/`);
    await h.visible(page.getByRole("button", { name: "Sign out" }));
    const headers = resp.headers();
    const csp = headers["content-security-policy"];
    assert.ok(csp, "no Content-Security-Policy on the console page");
    assert.doesNotMatch(csp, /'unsafe-inline'|'unsafe-eval'|'unsafe-hashes'|https?:|\*|data:|blob:/, `CSP not strict: ${csp}`);
    assert.deepEqual(parseCsp(csp), parseCsp(CONTRACT_CSP));
    assert.equal(headers["x-frame-options"], "DENY");
    assert.match(headers["cache-control"] ?? "", /no-store/);
    assert.equal(headers["referrer-policy"], "no-referrer");
    assert.ok(await p.csrfToken(page), "no <meta name=keyhold-csrf>");
    const loaded = context.requests.map((u) => new URL(u));
    assert.ok(loaded.some((u) => u.pathname === "/console/app.js"), "app.js not loaded from the server");
    assert.ok(loaded.some((u) => u.pathname === "/console/app.css"), "app.css not loaded from the server");
    // Walk the menu once: still nothing but the server's origin.
    for (const name of p.MENU) {
      await p.menu(page, name);
      await p.heading(page, name === "Home" ? "Home" : name);
    }
    await steps.shot(page, "menu walked");
    assert.deepEqual(p.origins(context), [srv.url]);
  }));

test("seed 003: the person grants themself Secret Management, then the vault takes their token (Show Secret Value)", () =>
  withShots("console seed 003 grant yourself", async (steps, pages) => {
    const { context, page } = await session(alice, steps);
    pages.push(page);
    await p.openVault(page, VAULT);
    await steps.shot(page, "vault");
    // Before: no access policy for Alice, so the vault refuses her listing, naming the permission.
    await p.blade(page, "Secrets");
    await p.heading(page, "Secrets");
    const before = await alertMatching(page, /does not have secrets list permission/);
    assert.match(before, new RegExp(`oid=${alice.id}`));
    await steps.shot(page, "secrets refused before the policy");

    const checked = await p.addAccessPolicy(page, steps, { template: "Secret Management", search: "Alice", principal: /Alice/ });
    assert.deepEqual(checked.secrets.sort(), ["backup", "delete", "get", "list", "recover", "restore", "set"]);
    const mine = (await srv.cli("keyvault", "show", "-n", VAULT)).properties.accessPolicies.find((x) => x.objectId === alice.id);
    assert.ok(mine, "no access policy for Alice after Save");
    assert.deepEqual([...mine.permissions.secrets].sort(), ["backup", "delete", "get", "list", "recover", "restore", "set"]);

    await p.blade(page, "Secrets");
    await p.heading(page, "Secrets");
    await p.button(page, "Refresh").click();
    await p.link(page.getByRole("table"), "db-password").click();
    await p.heading(page, "db-password");
    const version = (await srv.cli("keyvault", "secret", "show", "--vault-name", VAULT, "-n", "db-password")).id.split("/").pop();
    await steps.shot(page, "secret versions");
    await p.link(page.getByRole("table"), version).click();
    await p.heading(page, version);
    // The value comes from GET /secrets/{name}[/{version}] (the versions list has none).
    const valueUrl = (u) => [`/console/api/vault/${VAULT}/secrets/db-password/${version}`, `/console/api/vault/${VAULT}/secrets/db-password`, `/console/api/vault/${VAULT}/secrets/db-password/`].includes(new URL(u).pathname);
    assert.equal(context.gets.filter(valueUrl).length, 0, "the secret's value was fetched before Show Secret Value");
    assert.equal((await page.content()).includes(DB_PASSWORD), false, "the value is in the page before Show Secret Value");
    await steps.shot(page, "version before show");
    await p.button(page, "Show Secret Value").click();
    const field = page.getByLabel("Secret value", { exact: true });
    await h.eventually(async () => (await field.inputValue().catch(() => field.textContent())) === DB_PASSWORD, "the secret value shown");
    await steps.shot(page, "secret value shown");
    assert.equal(context.gets.filter(valueUrl).length, 1);
    // The vault saw Alice's own token: the audit record of that get names her.
    const records = fs.readFileSync(path.join(srv.dataDir, "audit.log"), "utf8").trim().split("\n").map((l) => JSON.parse(l));
    const gets = records.filter((r) => r.operation === "SecretGet" && r.vault === VAULT && r.caller_oid === alice.id && r.result === 200);
    assert.ok(gets.length >= 1, "no audited SecretGet by Alice");
  }));

test("refusals: a Reader cannot create a vault or a secret, a person without a role on the subscription cannot create a group; the alert names the missing permission and nothing is created", () =>
  withShots("console refusals", async (steps, pages) => {
    const { page } = await session(rita, steps);
    pages.push(page);
    const refusedVault = h.unique("refusedkv");
    await p.marketplace(page, steps, "Key Vault");
    await p.heading(page, "Create a key vault");
    await page.getByLabel("Resource group", { exact: true }).selectOption({ label: "mi-test" });
    await page.getByLabel("Name", { exact: true }).fill(refusedVault);
    const region = page.getByLabel("Region", { exact: true });
    if (!(await region.inputValue())) await p.setRegion(region);
    await p.button(page, "Review + create").click();
    await p.button(page, "Create").click();
    const vaultAlert = await alertMatching(page, /does not have authorization/);
    await steps.shot(page, "vault create refused");
    assert.match(vaultAlert, /Microsoft\.KeyVault\/vaults\/write/i);
    assert.match(vaultAlert, new RegExp(rita.id));
    assert.equal(await page.getByText("Your deployment is complete").count(), 0);
    const vaults = await srv.cli("keyvault", "list", "-g", "mi-test");
    assert.deepEqual(vaults.map((v) => v.name), [VAULT]);

    // A secret in the admin's vault (Rita may read the vault's ARM resource, not its secrets).
    await p.openVault(page, VAULT);
    await p.blade(page, "Secrets");
    await p.heading(page, "Secrets");
    await p.button(page, "Generate/Import").or(p.link(page, "Generate/Import")).click();
    await p.heading(page, "Create a secret");
    await page.getByLabel("Name", { exact: true }).fill("not-allowed");
    await page.getByLabel("Secret value", { exact: true }).fill("x");
    await p.button(page, "Create").click();
    const secretAlert = await alertMatching(page, /does not have secrets set permission/);
    await steps.shot(page, "secret create refused");
    assert.match(secretAlert, new RegExp(`oid=${rita.id}`));
    const names = (await srv.cli("keyvault", "secret", "list", "--vault-name", VAULT)).map((s) => s.id.split("/").pop());
    assert.equal(names.includes("not-allowed"), false);

    // Bob has no role on the subscription or on mi-test (only Reader on a group of his own, so he
    // sees the subscription): he cannot create a resource group.
    const { page: bobPage } = await session(bob, steps);
    pages.push(bobPage);
    await p.menu(bobPage, "Resource groups");
    await p.heading(bobPage, "Resource groups");
    await p.button(bobPage, "Create").click();
    await p.heading(bobPage, "Create a resource group");
    await bobPage.getByLabel("Resource group", { exact: true }).fill("bobs-group");
    await p.setRegion(bobPage.getByLabel("Region", { exact: true }));
    await p.button(bobPage, "Review + create").click();
    await p.button(bobPage, "Create").click();
    const groupAlert = await alertMatching(bobPage, /does not have authorization/);
    await steps.shot(bobPage, "group create refused");
    assert.match(groupAlert, /Microsoft\.Resources\/subscriptions\/resourcegroups\/write/i);
    assert.equal((await srv.cliRaw("group", "exists", "-n", "bobs-group")).stdout.trim(), "false");
  }));

test("a person without any role: each page still shows its own heading, and the refusal in an alert", () =>
  p.withShots("console no role at all", async (steps, pages) => {
    const nora = await h.createUser(srv, "Nora Norole", { upn: "nora@contoso.example" });
    const { page } = await session(nora, steps);
    pages.push(page);
    for (const [name, h1] of [["Resource groups", "Resource groups"], ["Key vaults", "Key vaults"], ["Virtual machines", "Virtual machines"]]) {
      await p.menu(page, name);
      await p.alertMatching(page, /\S/);
      await steps.shot(page, name);
      const headings = await page.getByRole("heading", { level: 1 }).allTextContents();
      assert.deepEqual(headings, [h1], `${name} for a person without a role: h1 ${JSON.stringify(headings)}`);
    }
  }));

/** A leaf for `localhost` signed by keyhold's own CA (so a page on another localhost port is same-site). */
function sameSiteCert(dir) {
  const key = path.join(dir, "other.key"), csr = path.join(dir, "other.csr"), crt = path.join(dir, "other.crt"), ext = path.join(dir, "other.ext");
  fs.writeFileSync(ext, "subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n");
  execFileSync("openssl", ["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", csr, "-subj", "/CN=localhost"], { stdio: "ignore" });
  execFileSync("openssl", ["x509", "-req", "-in", csr, "-CA", srv.caPem, "-CAkey", path.join(srv.dataDir, "ca.key"), "-CAcreateserial", "-days", "1", "-out", crt, "-extfile", ext], { stdio: "ignore" });
  return { key: fs.readFileSync(key), cert: fs.readFileSync(crt) };
}

/** The attacker's page: tries a PUT, a no-cors POST and a form POST at the console API, and a sign-out. */
function attackPage(identityName) {
  const target = srv.url;
  const put = `${target}/console/api/arm/subscriptions/${sub}/resourceGroups/mi-test/providers/Microsoft.ManagedIdentity/userAssignedIdentities/${identityName}?api-version=2023-01-31`;
  const recover = `${target}/console/api/vault/${VAULT}/deletedsecrets/gone/recover?api-version=7.4`;
  return `<!doctype html><html><body><pre id="out"></pre>
<iframe name="sink1"></iframe><iframe name="sink2"></iframe>
<form id="f1" method="post" target="sink1" enctype="text/plain" action="${recover}"><input name='{"x":"' value='"}'></form>
<form id="f2" method="post" target="sink2" action="${target}/signout"><input name="csrf" value="guess"></form>
<script>
const out = document.getElementById("out");
const log = (s) => { out.textContent += s + "\\n"; };
(async () => {
  try { const r = await fetch(${JSON.stringify(put)}, { method: "PUT", credentials: "include", headers: { "content-type": "application/json" }, body: JSON.stringify({ location: "eastus" }) }); log("put:" + r.status); }
  catch (e) { log("put:blocked"); }
  try { await fetch(${JSON.stringify(recover)}, { method: "POST", mode: "no-cors", credentials: "include", headers: { "content-type": "text/plain" }, body: "{}" }); log("recover:sent"); }
  catch (e) { log("recover:error " + e); }
  document.getElementById("f1").submit(); log("form:sent");
  document.getElementById("f2").submit(); log("signout:sent");
  setTimeout(() => log("done"), 1500);
})();
</script></body></html>`;
}

test("CSRF: state changes need the session's X-Keyhold-Csrf token; other origins (cross-site and same-site) change nothing", () =>
  withShots("console csrf", async (steps, pages) => {
    // Alice may recover secrets (so a forged recover would work if it got through).
    await srv.cli("keyvault", "set-policy", "-n", VAULT, "--object-id", alice.id, "--secret-permissions", "get", "list", "set", "delete", "recover", "backup", "restore");
    const { context, page } = await session(alice, steps);
    pages.push(page);
    const { page: other } = await session(alice, undefined);
    pages.push(other);
    const token = await p.csrfToken(page);
    const otherToken = await p.csrfToken(other);
    assert.ok(token && otherToken && token !== otherToken, "two sessions share a CSRF token");

    const name = h.unique("csrfid");
    const url = `/console/api/arm/subscriptions/${sub}/resourceGroups/mi-test/providers/Microsoft.ManagedIdentity/userAssignedIdentities/${name}?api-version=2023-01-31`;
    const body = JSON.stringify({ location: "eastus" });
    const json = { "content-type": "application/json" };
    const exists = async (n) => (await srv.cliRaw("identity", "show", "-g", "mi-test", "-n", n)).code === 0;
    for (const [why, headers] of [
      ["no header", json],
      ["a wrong token", { ...json, "X-Keyhold-Csrf": "wrong" }],
      ["another session's token", { ...json, "X-Keyhold-Csrf": otherToken }],
    ]) {
      const r = await p.pageFetch(page, url, { method: "PUT", headers, body });
      assert.equal(r.status, 403, `PUT with ${why}: ${r.status} ${r.text}`);
      assert.equal(await exists(name), false, `PUT with ${why} created the identity`);
    }
    // The same request with the session's own token is the console's: it works.
    const ok = await p.pageFetch(page, url, { method: "PUT", headers: { ...json, "X-Keyhold-Csrf": token }, body });
    assert.ok([200, 201].includes(ok.status), `PUT with the token: ${ok.status} ${ok.text}`);
    assert.equal(await exists(name), true);

    // Pages on other origins: 127.0.0.1 (another site) and https://localhost:<other port> (the same
    // site: the SameSite=Strict cookie goes with its requests, so only the token stands in the way).
    const cert = sameSiteCert(srv.work);
    const victims = [];
    const crossSite = await h.localServer((req, res) => res.writeHead(200, { "content-type": "text/html" }).end(attackPage(victims.at(-1))));
    const sameSite = https.createServer(cert, (req, res) => res.writeHead(200, { "content-type": "text/html" }).end(attackPage(victims.at(-1))));
    await new Promise((r) => sameSite.listen(0, "127.0.0.1", r));
    try {
      for (const [label, origin] of [
        ["cross-site", `http://127.0.0.1:${crossSite.port}`],
        ["same-site", `https://localhost:${sameSite.address().port}`],
      ]) {
        const victim = h.unique("xorigin");
        victims.push(victim);
        const attacker = await context.newPage();
        await attacker.goto(`${origin}/`);
        await h.eventually(async () => (await attacker.locator("#out").textContent()).includes("done"), `the ${label} page's attempts`, 20_000);
        const log = await attacker.locator("#out").textContent();
        await steps.shot(attacker, `${label} attacker`);
        assert.match(log, /put:(blocked|403)/, `${label}: ${log}`);
        assert.match(log, /recover:sent/);
        await attacker.close();
        assert.equal(await exists(victim), false, `${label} page created an identity`);
        const gone = await srv.cliRaw("keyvault", "secret", "show", "--vault-name", VAULT, "-n", "gone");
        assert.notEqual(gone.code, 0, `${label} page recovered the deleted secret`);
        // Its sign-out post did not end Alice's session.
        const still = await p.pageFetch(page, `/console/api/arm/subscriptions?api-version=2022-12-01`);
        assert.equal(still.status, 200, `${label}: Alice's session ended: ${still.status}`);
      }
    } finally {
      crossSite.close();
      sameSite.close();
    }
    // And the recover the pages tried does work from the console with the token.
    const rec = await p.pageFetch(page, `/console/api/vault/${VAULT}/deletedsecrets/gone/recover?api-version=7.4`, { method: "POST", headers: { "X-Keyhold-Csrf": token } });
    assert.equal(rec.status, 200, rec.text);
    await h.eventually(async () => (await srv.cliRaw("keyvault", "secret", "show", "--vault-name", VAULT, "-n", "gone")).code === 0, "the recovered secret", 15_000);
  }));

test("sign-out ends the session: the old cookie is refused afterwards", () =>
  withShots("console sign out", async (steps, pages) => {
    const { context, page } = await session(alice, steps);
    pages.push(page);
    const cookie = (await context.cookies(srv.url)).find((c) => c.name === "keyhold_session");
    assert.ok(cookie);
    // The cookie alone carries the session (in a fresh context) ...
    const probe = async (what) => {
      const ctx = await h.newContext(env.browser);
      await ctx.addCookies([cookie]);
      const pg = await ctx.newPage();
      pages.push(pg);
      await pg.goto(`${srv.url}/`);
      await pg.waitForLoadState("load");
      await h.sleep(1000); // the console's script has run (or the sign-in page is there)
      await steps.shot(pg, what);
      const signedIn = await pg.getByRole("button", { name: "Sign out" }).isVisible();
      const at = new URL(pg.url()).pathname;
      // The API directly (a navigation: the sign-in page's CSP would stop a fetch from it).
      const api = await pg.goto(`${srv.url}/console/api/arm/subscriptions?api-version=2022-12-01`);
      const apiAt = new URL(api.url()).pathname;
      await ctx.close();
      return { api: api.status(), apiAt, signedIn, at };
    };
    const live = await probe("old cookie before sign-out");
    assert.equal(live.api, 200);
    assert.equal(live.apiAt, "/console/api/arm/subscriptions");
    assert.equal(live.signedIn, true);

    await page.getByRole("button", { name: "Sign out" }).click();
    await h.visible(page.getByText("You signed out of your account"));
    await h.visible(page.getByRole("link", { name: "Sign in", exact: true }));
    await steps.shot(page, "signed out");
    const dead = await probe("old cookie after sign-out");
    const refused = [401, 403].includes(dead.api) || dead.apiAt === `/${srv.tenant}/oauth2/v2.0/authorize`;
    assert.ok(refused, `the old cookie still reaches /console/api: ${dead.api} at ${dead.apiAt}`);
    assert.equal(dead.signedIn, false);
    assert.equal(dead.at, `/${srv.tenant}/oauth2/v2.0/authorize`, "the old cookie did not lead to the sign-in page");
  }));
