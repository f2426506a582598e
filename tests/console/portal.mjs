// The console's pages as docs/console.md names them: every locator is an accessible role or label
// with the contract's exact name. Each step that changes the page takes a screenshot.

import assert from "node:assert/strict";
import * as h from "./harness.mjs";

export const MENU = ["Home", "Create a resource", "Resource groups", "Key vaults", "Virtual machines", "Managed Identities", "Storage accounts"];

const exact = (name) => ({ name, exact: true });
export const button = (scope, name) => scope.getByRole("button", exact(name));
export const link = (scope, name) => scope.getByRole("link", exact(name));

/** Waits for the page's h1 to be exactly `name`. */
export async function heading(page, name, timeout = 20_000) {
  await h.visible(h.h1(page, name), timeout);
}

/** Clicks a link of the left navigation (opening it first if a small screen hides it behind a button). */
export async function menu(page, name) {
  const nav = h.portalMenu(page);
  const target = link(nav, name);
  if (!(await target.isVisible())) {
    const toggle = page.getByRole("button", { name: /menu/i }).first();
    await toggle.click();
  }
  await target.click();
}

/** Clicks a blade of the resource menu. */
export async function blade(page, name) {
  await link(h.resourceMenu(page), name).click();
}

/** Chooses a region in a Region control (a select by value or label, or a text field). */
export async function setRegion(control, region = "eastus") {
  const tag = await control.evaluate((el) => el.tagName.toLowerCase());
  if (tag !== "select") return control.fill(region);
  const options = await control.locator("option").evaluateAll((os) => os.map((o) => ({ v: o.value, t: o.textContent.trim() })));
  const pick = options.find((o) => o.v.toLowerCase() === region) ?? options.find((o) => o.t.toLowerCase().replace(/\s/g, "") === region);
  assert.ok(pick, `region ${region} not among ${JSON.stringify(options)}`);
  await control.selectOption(pick.v);
}

/** Marketplace: Create a resource → search → select the product → Create. */
export async function marketplace(page, steps, product, search = product) {
  await menu(page, "Create a resource");
  await heading(page, "Create a resource");
  const box = page.getByRole("searchbox", exact("Search the Marketplace"));
  await box.fill(search);
  await box.press("Enter");
  await h.visible(button(page, product));
  await steps.shot(page, `marketplace ${search}`);
  await button(page, product).click();
  await heading(page, product);
  await steps.shot(page, `product ${product}`);
  await button(page, "Create").click();
}

/** The key vault creation form to "Go to resource" (from the marketplace). */
export async function createVault(page, steps, { name, group, rbac = false }) {
  await marketplace(page, steps, "Key Vault");
  await heading(page, "Create a key vault");
  const sub = page.getByLabel("Subscription", { exact: true });
  await h.visible(sub);
  assert.ok((await sub.inputValue()).length > 0, "no subscription selected");
  await page.getByLabel("Resource group", { exact: true }).selectOption({ label: group });
  await page.getByLabel("Name", { exact: true }).fill(name);
  const region = page.getByLabel("Region", { exact: true });
  if (!(await region.inputValue())) await setRegion(region);
  if (rbac) await page.getByRole("radio", exact("Azure role-based access control")).check();
  await steps.shot(page, "create a key vault");
  await button(page, "Review + create").click();
  await h.visible(page.getByText(name, { exact: true }));
  await steps.shot(page, "review + create");
  await button(page, "Create").click();
  await h.visible(page.getByText("Your deployment is complete"), 30_000);
  await steps.shot(page, "deployment complete");
  await button(page, "Go to resource").or(link(page, "Go to resource")).click();
  await heading(page, name);
  await steps.shot(page, "vault overview");
}

/** Opens a vault from Key vaults. */
export async function openVault(page, name) {
  await menu(page, "Key vaults");
  await heading(page, "Key vaults");
  await link(page.getByRole("table"), name).click();
  await heading(page, name);
}

/** Secrets → Generate/Import → the form → Create; back on Secrets with the new name listed. */
export async function createSecret(page, steps, { name, value, contentType, enabled = true, tags }) {
  await blade(page, "Secrets");
  await heading(page, "Secrets");
  await button(page, "Generate/Import").or(link(page, "Generate/Import")).click();
  await heading(page, "Create a secret");
  const upload = page.getByLabel("Upload options", { exact: true });
  const uploadValue = await upload.evaluate((el) => (el.tagName === "SELECT" ? el.selectedOptions[0]?.textContent : el.value));
  assert.equal(uploadValue.trim(), "Manual");
  await page.getByLabel("Name", { exact: true }).fill(name);
  await page.getByLabel("Secret value", { exact: true }).fill(value);
  if (contentType) await page.getByLabel("Content type", { exact: true }).fill(contentType);
  if (tags) await page.getByLabel("Tags", { exact: true }).fill(tags);
  // The seed: leave the activation and expiration dates clear, Enabled Yes.
  assert.equal(await page.getByRole("checkbox", exact("Set activation date")).isChecked(), false);
  assert.equal(await page.getByRole("checkbox", exact("Set expiration date")).isChecked(), false);
  const yes = page.getByRole("radio", exact("Yes"));
  assert.equal(await yes.isChecked(), true, "Enabled is not Yes by default");
  if (!enabled) await page.getByRole("radio", exact("No")).check();
  await steps.shot(page, "create a secret");
  await button(page, "Create").click();
  await heading(page, "Secrets");
  await h.visible(link(page.getByRole("table"), name));
  await steps.shot(page, `secret ${name} listed`);
}

/**
 * Access policies → Add Access Policy → template → Select principal (search, option, Select) → Add
 * → Save. Returns the permissions the template checked ({secrets: [...], ...} lower-cased).
 */
export async function addAccessPolicy(page, steps, { template, search, principal }) {
  await blade(page, "Access policies");
  await heading(page, "Access policies");
  await button(page, "Add Access Policy").or(link(page, "Add Access Policy")).click();
  await heading(page, "Add access policy");
  await page.getByLabel("Configure from template (optional)", { exact: true }).selectOption({ label: template });
  const checked = {};
  for (const [kind, legend] of [["keys", "Key permissions"], ["secrets", "Secret permissions"], ["certificates", "Certificate permissions"]]) {
    const group = page.getByRole("group", exact(legend));
    await h.visible(group);
    checked[kind] = await group
      .getByRole("checkbox")
      .evaluateAll((boxes) => boxes.filter((b) => b.checked).map((b) => (b.labels?.[0]?.textContent ?? b.getAttribute("aria-label") ?? "").trim().toLowerCase()));
  }
  await steps.shot(page, `template ${template}`);
  await button(page, "Select principal").click();
  const dialog = page.getByRole("dialog", exact("Principal"));
  await h.visible(dialog);
  await dialog.getByRole("searchbox", exact("Search")).fill(search);
  const option = dialog.getByRole("option", { name: principal });
  await h.visible(option);
  await steps.shot(page, `principal search ${search}`);
  await option.first().click();
  await button(dialog, "Select").click();
  await dialog.waitFor({ state: "hidden" });
  await steps.shot(page, "principal selected");
  await button(page, "Add").click();
  await heading(page, "Access policies");
  await steps.shot(page, "policy staged");
  await button(page, "Save").click();
  await h.visible(page.getByRole("status").filter({ hasText: /\S/ }));
  await steps.shot(page, "policies saved");
  return checked;
}

/** The CSRF token of the page (contract: <meta name="keyhold-csrf">). */
export const csrfToken = (page) => page.locator('meta[name="keyhold-csrf"]').getAttribute("content");

/** fetch() from the page; resolves {status, text}. */
export function pageFetch(page, url, init = {}) {
  return page.evaluate(
    async ([url, init]) => {
      const r = await fetch(url, init);
      return { status: r.status, text: await r.text(), redirected: r.redirected, url: r.url };
    },
    [url, init],
  );
}

/** The origins of every request a context's pages made. */
export const origins = (context) => [...new Set(context.requests.map((u) => new URL(u).origin))].sort();

/** A signed-in context and page for `user`. */
export async function session(browser, srv, user, steps, opts) {
  const context = await h.newContext(browser, opts);
  const page = await context.newPage();
  await h.signInToConsole(page, srv, user, steps);
  return { context, page };
}

/** Runs fn(steps, pages); on failure a screenshot of every page still open; the pages' contexts closed. */
export async function withShots(name, fn) {
  const steps = new h.Steps(name);
  const pages = [];
  try {
    await fn(steps, pages);
  } catch (e) {
    for (const pg of pages) if (!pg.isClosed()) await steps.shot(pg, "failure");
    throw e;
  } finally {
    for (const pg of pages) await pg.context().close().catch(() => {});
  }
}

/** Waits for an alert whose text matches `re`; returns the alerts' text. */
export async function alertMatching(page, re, timeout = 15_000) {
  return h
    .eventually(
      async () => {
        const t = (await page.getByRole("alert").allTextContents()).join(" | ");
        return re.test(t) ? t : false;
      },
      `an alert matching ${re}`,
      timeout,
    )
    .catch(async (e) => {
      throw new Error(`${e.message}; alerts: ${JSON.stringify(await page.getByRole("alert").allTextContents())}`);
    });
}

/** Waits for a status notification matching `re`. */
export async function statusMatching(page, re, timeout = 20_000) {
  return h.eventually(
    async () => {
      const t = (await page.getByRole("status").allTextContents()).join(" | ");
      return re.test(t) ? t : false;
    },
    `a status matching ${re}`,
    timeout,
  );
}

/** The row of a table that contains `text`. */
export const row = (page, text) => page.getByRole("row").filter({ hasText: text });

/** Clicks a button, then the confirming dialog's button of the same or a given name. */
export async function confirm(page, dialogButton = "Delete") {
  const dialog = page.getByRole("dialog").or(page.getByRole("alertdialog"));
  await h.visible(dialog);
  await button(dialog, dialogButton).click();
  await dialog.first().waitFor({ state: "hidden" });
}

/** The content under the heading "Essentials" (the vault's Overview: a section, or the heading's next sibling). */
export const essentials = (page) =>
  page.getByRole("heading", { name: "Essentials", exact: true }).locator("xpath=following-sibling::*[1]");

/** A row's button for `verb`: named exactly that, or "verb <what>" (an aria-label saying which row). */
export const rowButton = (row, verb) => row.getByRole("button", { name: new RegExp(`^${verb}(\\s|$)`) });
