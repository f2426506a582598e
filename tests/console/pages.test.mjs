// Every other page of docs/console.md at least once, as a person with Owner on the subscription:
// the menu and Home, the marketplace, resource groups (create, delete with confirmation), a key vault
// made in the console (Essentials, access policies, secrets with versions, Show Secret Value, delete,
// recover and purge, keys, certificates, IAM, Activity log), a VM's Identity blade (system and user
// assigned), user-assigned identities, storage accounts' Access keys; and the layout at 1280×800 and
// on a phone (390×844). Each change is checked with the CLI as the admin.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import * as h from "./harness.mjs";
import * as p from "./portal.mjs";

let env, srv, sub, olivia, pat;
const VAULT = h.unique("pageskv");
const SECRETS_USER = "4633458b-17de-408a-b874-0445c86b69e6"; // Key Vault Secrets User

before(async () => {
  env = await h.setup();
  srv = env.srv;
  sub = await h.subscriptionId(srv);
  await srv.cli("group", "create", "-n", "mi-test", "-l", "eastus");
  olivia = await h.createUser(srv, "Olivia Owner", { upn: "olivia@contoso.example" });
  pat = await h.createUser(srv, "Pat Member", { upn: "pat@contoso.example" });
  await srv.cli("role", "assignment", "create", "--assignee", olivia.upn, "--role", "Owner", "--scope", `/subscriptions/${sub}`);
});
after(async () => env && (await env.teardown()));

const session = (user, steps, opts) => p.session(env.browser, srv, user, steps, opts);
const field = (page, label) => page.getByLabel(label, { exact: true });
const cellsOf = async (row) => (await row.getByRole("cell").allTextContents()).map((t) => t.trim());

test("Home, the Portal menu and the marketplace's products", () =>
  p.withShots("pages home menu marketplace", async (steps, pages) => {
    const { page } = await session(olivia, steps);
    pages.push(page);
    await p.heading(page, "Home");
    await h.visible(page.getByRole("banner").or(page.locator("header")).getByText(olivia.displayName).or(page.getByText(olivia.upn)));
    for (const name of p.MENU) assert.equal(await p.link(h.portalMenu(page), name).count(), 1, `menu link ${name}`);
    // Home links to the services (beside the menu's own links).
    for (const name of p.MENU.slice(2)) assert.ok((await p.link(page, name).count()) >= 2, `Home has no link to ${name}`);
    for (const name of p.MENU) {
      await p.menu(page, name);
      await p.heading(page, name);
    }
    const products = ["Key Vault", "Resource group", "Virtual machine", "User Assigned Managed Identity", "Storage account"];
    await p.menu(page, "Create a resource");
    for (const product of products) {
      const box = page.getByRole("searchbox", { name: "Search the Marketplace", exact: true });
      await box.fill(product);
      await box.press("Enter");
      await h.visible(p.button(page, product));
    }
    await steps.shot(page, "marketplace");
    const box = page.getByRole("searchbox", { name: "Search the Marketplace", exact: true });
    await box.fill("Resource group");
    await box.press("Enter");
    await p.button(page, "Resource group").click();
    await p.heading(page, "Resource group");
    await p.button(page, "Create").click();
    await p.heading(page, "Create a resource group");
  }));

test("Resource groups: create, then delete with the name typed to confirm", () =>
  p.withShots("pages resource groups", async (steps, pages) => {
    const { page } = await session(olivia, steps);
    pages.push(page);
    await p.menu(page, "Resource groups");
    await p.heading(page, "Resource groups");
    await h.visible(p.link(page.getByRole("table"), "mi-test"));
    await p.button(page, "Create").click();
    await p.heading(page, "Create a resource group");
    assert.ok((await field(page, "Subscription").inputValue()).length > 0);
    await field(page, "Resource group").fill("pages-rg");
    await p.setRegion(field(page, "Region"), "westus");
    await p.button(page, "Review + create").click();
    await steps.shot(page, "review");
    await p.button(page, "Create").click();
    await h.eventually(async () => (await srv.cliRaw("group", "exists", "-n", "pages-rg")).stdout.trim() === "true", "pages-rg created");
    assert.equal((await srv.cli("group", "show", "-n", "pages-rg")).location, "westus");
    await p.menu(page, "Resource groups");
    await p.link(page.getByRole("table"), "pages-rg").click();
    await p.heading(page, "pages-rg");
    await p.blade(page, "Overview");
    await p.button(page, "Delete resource group").click();
    const dialog = page.getByRole("dialog");
    await h.visible(dialog);
    const confirmBox = dialog.getByLabel("Enter resource group name to confirm deletion");
    await confirmBox.fill("pages-r");
    const del = p.button(dialog, "Delete");
    if (await del.isEnabled()) {
      await del.click();
      await h.sleep(1000);
    }
    assert.equal((await srv.cliRaw("group", "exists", "-n", "pages-rg")).stdout.trim(), "true", "deleted with the wrong name typed");
    await confirmBox.fill("pages-rg");
    await steps.shot(page, "confirm deletion");
    await del.click();
    await h.eventually(async () => (await srv.cliRaw("group", "exists", "-n", "pages-rg")).stdout.trim() === "false", "pages-rg deleted", 20_000);
    await steps.shot(page, "deleted");
  }));

test("A key vault made in the console: Essentials, the creator's policy, secrets, versions, recover/purge, keys, certificates, Activity log, IAM", () =>
  p.withShots("pages key vault", async (steps, pages) => {
    const { context, page } = await session(olivia, steps);
    pages.push(page);
    await p.createVault(page, steps, { name: VAULT, group: "mi-test" });
    const shown = await srv.cli("keyvault", "show", "-n", VAULT);
    // Overview → Essentials.
    const essentials = p.essentials(page);
    await h.visible(essentials);
    const text = await essentials.textContent();
    for (const label of ["Resource group", "Location", "Subscription", "Subscription ID", "Vault URI", "Pricing tier", "Directory ID", "Soft-delete", "Days to retain deleted vaults", "Purge protection", "Permission model"]) {
      assert.ok(text.includes(label), `Essentials lacks ${label}`);
    }
    for (const value of ["mi-test", sub, shown.properties.vaultUri.replace(/\/$/, ""), srv.tenant, "90"]) assert.ok(text.includes(value), `Essentials lacks ${value}`);

    // The creator's access policy: Key, Secret & Certificate Management.
    await p.blade(page, "Access policies");
    await p.heading(page, "Access policies");
    await h.visible(p.row(page, olivia.displayName));
    await steps.shot(page, "access policies");
    const mine = shown.properties.accessPolicies.find((x) => x.objectId === olivia.id);
    assert.ok(mine, "the creator has no access policy");
    // Azure's template "Key, Secret, & Certificate Management" (no purge, no cryptographic operations).
    assert.deepEqual([...mine.permissions.secrets].sort(), ["backup", "delete", "get", "list", "recover", "restore", "set"]);
    assert.ok(["get", "list", "update", "create", "import", "delete", "recover", "backup", "restore"].every((x) => mine.permissions.keys.includes(x)), JSON.stringify(mine));
    assert.ok(!mine.permissions.keys.includes("sign") && !mine.permissions.keys.includes("purge"), JSON.stringify(mine));
    assert.ok(["get", "list", "update", "create", "import", "delete", "managecontacts", "manageissuers"].every((x) => mine.permissions.certificates.includes(x)), JSON.stringify(mine));
    // Delete stages a change; Discard drops it (nothing is written until Save).
    await p.rowButton(p.row(page, olivia.displayName), "Delete").click();
    await h.eventually(async () => (await p.row(page, olivia.displayName).count()) === 0, "Olivia's row staged for deletion");
    await steps.shot(page, "policy delete staged");
    const stillThere = async () => (await srv.cli("keyvault", "show", "-n", VAULT)).properties.accessPolicies.some((x) => x.objectId === olivia.id);
    assert.equal(await stillThere(), true, "a staged delete was written before Save");
    await p.button(page, "Discard").click();
    await h.visible(p.row(page, olivia.displayName));
    assert.equal(await stillThere(), true);
    // The admin (who checks with the CLI) reads this vault's data plane through a policy of its own.
    await srv.cli("keyvault", "set-policy", "-n", VAULT, "--object-id", srv.admin.objectId, "--secret-permissions", "get", "list", "set", "delete",
      "--key-permissions", "get", "list", "--certificate-permissions", "get", "list");

    // Secrets: the Generate/Import form's optional fields.
    await p.blade(page, "Secrets");
    await p.heading(page, "Secrets");
    await p.button(page, "Generate/Import").or(p.link(page, "Generate/Import")).click();
    await p.heading(page, "Create a secret");
    assert.equal(await field(page, "Activation date").isVisible(), false, "Activation date shown before its checkbox");
    assert.equal(await field(page, "Expiration date").isVisible(), false, "Expiration date shown before its checkbox");
    await page.getByRole("checkbox", { name: "Set activation date", exact: true }).check();
    await h.visible(field(page, "Activation date"));
    await page.getByRole("checkbox", { name: "Set expiration date", exact: true }).check();
    await h.visible(field(page, "Expiration date"));
    await page.getByRole("checkbox", { name: "Set activation date", exact: true }).uncheck();
    await page.getByRole("checkbox", { name: "Set expiration date", exact: true }).uncheck();
    await steps.shot(page, "secret form dates");
    await p.menu(page, "Key vaults");
    await p.link(page.getByRole("table"), VAULT).click();
    await p.heading(page, VAULT);
    await p.createSecret(page, steps, { name: "app-secret", value: "first value", contentType: "text/plain", tags: "env=test\nteam=pages" });
    const s1 = await srv.cli("keyvault", "secret", "show", "--vault-name", VAULT, "-n", "app-secret");
    assert.equal(s1.value, "first value");
    assert.equal(s1.contentType, "text/plain");
    assert.deepEqual(s1.tags, { env: "test", team: "pages" });
    await srv.cli("keyvault", "secret", "set", "--vault-name", VAULT, "-n", "app-secret", "--value", "second value");
    const s2 = await srv.cli("keyvault", "secret", "show", "--vault-name", VAULT, "-n", "app-secret");
    const v1 = s1.id.split("/").pop();

    await p.button(page, "Refresh").click();
    await p.link(page.getByRole("table"), "app-secret").click();
    await p.heading(page, "app-secret");
    const versions = page.getByRole("table");
    await h.visible(p.link(versions, s2.id.split("/").pop()));
    await h.visible(p.link(versions, v1));
    await steps.shot(page, "versions");
    await p.link(versions, v1).click();
    await p.heading(page, v1);
    const body = await page.locator("body").textContent();
    assert.ok(body.includes(s1.id), "Secret Identifier not shown");
    assert.ok(body.includes("text/plain"), "Content type not shown");
    assert.equal(body.includes("first value"), false, "the value is shown before Show Secret Value");
    const valueFetches = () =>
      context.gets.filter((u) => [`/console/api/vault/${VAULT}/secrets/app-secret/${v1}`, `/console/api/vault/${VAULT}/secrets/app-secret`, `/console/api/vault/${VAULT}/secrets/app-secret/`].includes(new URL(u).pathname)).length;
    assert.equal(valueFetches(), 0);
    await p.button(page, "Show Secret Value").click();
    await h.eventually(async () => (await field(page, "Secret value").inputValue()) === "first value", "the value");
    assert.equal(valueFetches(), 1);
    // Enabled: No → Save.
    await page.getByRole("radio", { name: "No", exact: true }).check();
    await p.button(page, "Save").click();
    await h.eventually(
      async () =>
        (await srv.cli("keyvault", "secret", "list-versions", "--vault-name", VAULT, "-n", "app-secret")).find((x) => x.id === s1.id)?.attributes.enabled === false,
      "version disabled",
    );
    await steps.shot(page, "version disabled");

    // Delete (confirm) → Manage deleted secrets → Recover; delete again → Purge.
    await p.blade(page, "Secrets");
    await p.link(page.getByRole("table"), "app-secret").click();
    await p.heading(page, "app-secret");
    await p.button(page, "Delete").click();
    await p.confirm(page, "Delete");
    const deletedNames = async () => (await srv.cli("keyvault", "secret", "list-deleted", "--vault-name", VAULT)).map((x) => x.id.split("/").pop());
    await h.eventually(async () => (await deletedNames()).includes("app-secret"), "app-secret deleted");
    await p.blade(page, "Secrets");
    await p.button(page, "Manage deleted secrets").click();
    await p.heading(page, "Deleted secrets");
    await steps.shot(page, "deleted secrets");
    await p.rowButton(p.row(page, "app-secret"), "Recover").click();
    await h.eventually(async () => (await srv.cliRaw("keyvault", "secret", "show", "--vault-name", VAULT, "-n", "app-secret")).code === 0, "app-secret recovered", 20_000);
    await srv.cli("keyvault", "secret", "delete", "--vault-name", VAULT, "-n", "app-secret");
    // Purge is not in the creator's template (as in Azure): Olivia's policy gains it.
    await srv.cli("keyvault", "set-policy", "-n", VAULT, "--object-id", olivia.id, "--secret-permissions", "get", "list", "set", "delete", "recover", "backup", "restore", "purge");
    await p.blade(page, "Secrets");
    await p.button(page, "Manage deleted secrets").click();
    await p.heading(page, "Deleted secrets");
    await p.rowButton(p.row(page, "app-secret"), "Purge").click();
    const dialog = page.getByRole("dialog");
    if (await dialog.isVisible()) await p.button(dialog, "Purge").or(p.button(dialog, "Delete")).first().click();
    await h.eventually(async () => !(await deletedNames()).includes("app-secret"), "app-secret purged", 20_000);
    await steps.shot(page, "purged");

    // Keys and certificates.
    await p.blade(page, "Keys");
    await p.heading(page, "Keys");
    await p.button(page, "Generate/Import").or(p.link(page, "Generate/Import")).click();
    await p.heading(page, "Create a key");
    await field(page, "Name").fill("pages-key");
    await field(page, "Key type").selectOption({ label: "RSA" }).catch(() => page.getByRole("radio", { name: "RSA", exact: true }).check());
    await field(page, "RSA key size").selectOption({ label: "2048" }).catch(() => {});
    await p.button(page, "Create").click();
    await p.heading(page, "Keys");
    await h.visible(p.row(page, "pages-key").filter({ hasText: "RSA" }));
    assert.equal((await srv.cli("keyvault", "key", "show", "--vault-name", VAULT, "-n", "pages-key")).key.kty, "RSA");
    await p.blade(page, "Certificates");
    await p.heading(page, "Certificates");
    await p.button(page, "Generate/Import").or(p.link(page, "Generate/Import")).click();
    await p.heading(page, "Create a certificate");
    await field(page, "Certificate Name").fill("pages-cert");
    await field(page, "Subject").fill("CN=pages.example");
    await field(page, "Validity Period (in months)").fill("12");
    await p.button(page, "Create").click();
    await p.heading(page, "Certificates");
    await h.visible(p.row(page, "pages-cert"), 30_000);
    await steps.shot(page, "certificates");
    const cert = await srv.cli("keyvault", "certificate", "show", "--vault-name", VAULT, "-n", "pages-cert");
    assert.match(JSON.stringify(cert.policy), /CN=pages\.example/);

    // Activity log: the secret write, initiated by Olivia.
    await p.blade(page, "Activity log");
    await p.heading(page, "Activity log");
    const setRow = page
      .getByRole("row")
      .filter({ hasText: /SecretSet|Set Secret/i })
      .filter({ hasText: "Succeeded" })
      .filter({ hasText: new RegExp(`${olivia.upn}|${olivia.displayName}|${olivia.id}`) });
    await h.visible(setRow);
    await steps.shot(page, "activity log");

    // Access control (IAM): add Pat as Key Vault Secrets User, then remove.
    await p.blade(page, "Access control (IAM)");
    await p.heading(page, "Access control (IAM)");
    await p.button(page, "Add role assignment").click();
    await field(page, "Role").selectOption({ label: "Key Vault Secrets User" });
    await p.button(page, "Select members").click();
    const picker = page.getByRole("dialog", { name: "Principal", exact: true });
    await picker.getByRole("searchbox", { name: "Search", exact: true }).fill("Pat");
    await picker.getByRole("option", { name: /Pat Member/ }).first().click();
    await p.button(picker, "Select").click();
    await p.button(page, "Review + assign").click();
    await h.visible(p.row(page, "Pat Member").filter({ hasText: "Key Vault Secrets User" }));
    await steps.shot(page, "role assigned");
    const assigned = async () =>
      (await srv.cli("role", "assignment", "list", "--scope", shown.id)).filter(
        (a) => a.properties.principalId === pat.id && a.properties.scope === shown.id && a.properties.roleDefinitionId.endsWith(`/${SECRETS_USER}`),
      ).length;
    assert.equal(await assigned(), 1);
    await p.rowButton(p.row(page, "Pat Member"), "Remove").click();
    const rm = page.getByRole("dialog");
    if (await rm.isVisible()) await p.button(rm, "Remove").or(p.button(rm, "Delete")).first().click();
    await h.eventually(async () => (await assigned()) === 0, "role assignment removed");
    await steps.shot(page, "role removed");
    assert.deepEqual(p.origins(context), [srv.url]);
  }));

test("Virtual machines, their Identity blade, Managed Identities and Storage accounts' Access keys", () =>
  p.withShots("pages vm identity storage", async (steps, pages) => {
    const { context, page } = await session(olivia, steps);
    pages.push(page);
    // A user-assigned identity.
    await p.menu(page, "Managed Identities");
    await p.heading(page, "Managed Identities");
    await p.button(page, "Create").click();
    await p.heading(page, "Create User Assigned Managed Identity");
    await field(page, "Resource group").selectOption({ label: "mi-test" });
    await p.setRegion(field(page, "Region"));
    await field(page, "Name").fill("pages-uai");
    await p.button(page, "Create").click();
    await h.eventually(async () => (await srv.cliRaw("identity", "show", "-g", "mi-test", "-n", "pages-uai")).code === 0, "pages-uai created");
    const uai = await srv.cli("identity", "show", "-g", "mi-test", "-n", "pages-uai");
    await p.menu(page, "Managed Identities");
    await p.link(page.getByRole("table"), "pages-uai").click();
    await p.heading(page, "pages-uai");
    const overview = await page.locator("body").textContent();
    assert.ok(overview.includes("Client ID") && overview.includes(uai.clientId), "Client ID not shown");
    assert.ok(overview.includes("Object (principal) ID") && overview.includes(uai.principalId), "Object (principal) ID not shown");
    await steps.shot(page, "identity overview");

    // A VM, then its Identity blade.
    await p.menu(page, "Virtual machines");
    await p.heading(page, "Virtual machines");
    await p.button(page, "Create").click();
    await p.heading(page, "Create a virtual machine");
    await field(page, "Resource group").selectOption({ label: "mi-test" });
    await field(page, "Virtual machine name").fill("pagesVM");
    await p.setRegion(field(page, "Region"));
    await p.button(page, "Create").click();
    await h.eventually(async () => (await srv.cliRaw("vm", "show", "-g", "mi-test", "-n", "pagesVM")).code === 0, "pagesVM created");
    await p.menu(page, "Virtual machines");
    await p.link(page.getByRole("table"), "pagesVM").click();
    await p.heading(page, "pagesVM");
    await p.blade(page, "Identity");
    await page.getByRole("tab", { name: "System assigned", exact: true }).click();
    await page.getByRole("radio", { name: "On", exact: true }).check();
    await p.button(page, "Save").click();
    const vmId = await h.eventually(async () => (await srv.cli("vm", "show", "-g", "mi-test", "-n", "pagesVM")).identity?.principalId, "the VM's system-assigned identity");
    await h.visible(page.getByText(vmId));
    assert.ok((await page.locator("body").textContent()).includes("Object (principal) ID"));
    await steps.shot(page, "system assigned on");
    await page.getByRole("tab", { name: "User assigned", exact: true }).click();
    // Add: select an identity, Add (a chooser on the tab, or one that Add opens).
    const chooser = () => page.locator("select", { has: page.locator("option", { hasText: "pages-uai" }) });
    await h.visible(p.button(page, "Add"));
    if (!(await chooser().count())) await p.button(page, "Add").click();
    await h.visible(chooser());
    await chooser().selectOption({ label: "pages-uai" });
    await steps.shot(page, "user assigned chosen");
    const dlg = page.getByRole("dialog");
    await p.button((await dlg.isVisible()) ? dlg : page, "Add").click();
    const userAssigned = async () => Object.keys((await srv.cli("vm", "show", "-g", "mi-test", "-n", "pagesVM")).identity?.userAssignedIdentities ?? {}).map((k) => k.toLowerCase());
    await h.eventually(async () => (await userAssigned()).includes(uai.id.toLowerCase()), "pages-uai attached");
    await h.visible(p.row(page, "pages-uai"));
    await steps.shot(page, "user assigned added");
    await p.rowButton(p.row(page, "pages-uai"), "Remove").click();
    const rm = page.getByRole("dialog");
    if (await rm.isVisible()) await p.button(rm, "Remove").click();
    await h.eventually(async () => !(await userAssigned()).includes(uai.id.toLowerCase()), "pages-uai detached");

    // A storage account and its keys, fetched only on request.
    await p.menu(page, "Storage accounts");
    await p.heading(page, "Storage accounts");
    await p.button(page, "Create").click();
    await p.heading(page, "Create a storage account");
    await field(page, "Resource group").selectOption({ label: "mi-test" });
    await field(page, "Storage account name").fill("pagesstore");
    await p.setRegion(field(page, "Region"));
    await p.button(page, "Create").click();
    await h.eventually(async () => (await srv.cliRaw("storage", "account", "show", "-g", "mi-test", "-n", "pagesstore")).code === 0, "pagesstore created");
    await p.menu(page, "Storage accounts");
    await p.link(page.getByRole("table"), "pagesstore").click();
    await p.heading(page, "pagesstore");
    await p.blade(page, "Access keys");
    const keys = await srv.cli("storage", "account", "keys", "list", "-g", "mi-test", "-n", "pagesstore");
    const listKeys = () => context.requests.filter((u) => /\/listKeys$/i.test(new URL(u).pathname)).length;
    assert.equal(listKeys(), 0, "keys fetched before Show keys");
    assert.equal((await page.content()).includes(keys[0].value), false);
    await p.button(page, "Show keys").click();
    await h.eventually(async () => (await page.content()).includes(keys[0].value) && (await page.content()).includes(keys[1].value), "key1 and key2 shown");
    assert.ok(listKeys() >= 1);
    const body = await page.locator("body").textContent();
    assert.ok(body.includes("key1") && body.includes("key2"));
    await steps.shot(page, "access keys");
  }));

test("Layout at 1280×800 and on a phone (390×844): the menu and a form are usable", () =>
  p.withShots("pages layout", async (steps, pages) => {
    for (const viewport of [{ width: 1280, height: 800 }, { width: 390, height: 844 }]) {
      const { page } = await session(olivia, steps, { viewport, isMobile: viewport.width < 500, hasTouch: viewport.width < 500 });
      pages.push(page);
      const tag = `${viewport.width}x${viewport.height}`;
      await steps.shot(page, `home ${tag}`);
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(overflow <= 1, `${tag}: the page scrolls sideways by ${overflow}px`);
      await p.menu(page, "Resource groups");
      await p.heading(page, "Resource groups");
      await p.button(page, "Create").click();
      await p.heading(page, "Create a resource group");
      const name = `layout-${viewport.width}`;
      for (const label of ["Subscription", "Resource group", "Region"]) {
        const box = await field(page, label).boundingBox();
        assert.ok(box && box.x >= 0 && box.x + box.width <= viewport.width + 1, `${tag}: ${label} is off screen (${JSON.stringify(box)})`);
      }
      await field(page, "Resource group").fill(name);
      await p.setRegion(field(page, "Region"));
      await steps.shot(page, `form ${tag}`);
      await p.button(page, "Review + create").click();
      await p.button(page, "Create").click();
      await h.eventually(async () => (await srv.cliRaw("group", "exists", "-n", name)).stdout.trim() === "true", `${name} created`);
      await page.getByRole("button", { name: "Sign out" }).scrollIntoViewIfNeeded();
      assert.ok(await page.getByRole("button", { name: "Sign out" }).isVisible(), `${tag}: Sign out not reachable`);
    }
  }));
