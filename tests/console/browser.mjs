#!/usr/bin/env node
// A $BROWSER for programs that open a sign-in URL (Python's webbrowser, as MSAL's
// InteractiveBrowserCredential does): opens the URL in real chromium (playwright-core, Debian's
// /usr/bin/chromium, keyhold's CA trusted through an NSS database under a temp HOME), fills keyhold's
// sign-in form with $SIGNIN_USER / $SIGNIN_PASSWORD and lets the page's answer reach the caller's
// loopback redirect URI, as the person at the browser would.
//
// It returns at once and drives the browser from a detached child, as a browser does: webbrowser
// waits for the command to exit before MSAL serves its redirect URI.
// Environment: SIGNIN_USER, SIGNIN_PASSWORD, SIGNIN_CA (keyhold's ca.pem), SIGNIN_LOG (a log file,
// which ends with a line "done <url>" or "error ..."), SIGNIN_SHOTS (a screenshot directory name
// under .cache/test-logs/console-screenshots/).

import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const log = (line) => fs.appendFileSync(process.env.SIGNIN_LOG, `${line}\n`);

if (process.argv[2] !== "--drive") {
  const url = process.argv[2];
  if (!url || !process.env.SIGNIN_LOG) {
    console.error("usage: browser.mjs URL (with SIGNIN_USER, SIGNIN_PASSWORD, SIGNIN_CA, SIGNIN_LOG set)");
    process.exit(2);
  }
  log(`opened ${url.split("?")[0]}`);
  const out = fs.openSync(`${process.env.SIGNIN_LOG}.child`, "a");
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), "--drive", url], {
    detached: true,
    stdio: ["ignore", out, out],
  });
  child.unref();
  process.exit(0);
}

const url = process.argv[3];
const h = await import("./harness.mjs");
const work = fs.mkdtempSync(path.join(os.tmpdir(), "keyhold-browser-"));
let b;
try {
  const steps = new h.Steps(process.env.SIGNIN_SHOTS || "browser");
  b = await h.launchChromium({ workDir: work, caPem: process.env.SIGNIN_CA });
  const context = await h.newContext(b.browser);
  const page = await context.newPage();
  const violations = [];
  page.on("console", (m) => /Content Security Policy/.test(m.text()) && violations.push(m.text()));
  await page.goto(url);
  await h.visible(page.getByLabel("Email, phone, or Skype"));
  await steps.shot(page, "sign-in page");
  await h.fillSignIn(page, process.env.SIGNIN_USER, process.env.SIGNIN_PASSWORD);
  // The answer goes to the loopback redirect URI (a redirect, or the form_post page's own post).
  const origin = new URL(url).origin;
  await h
    .eventually(() => new URL(page.url()).origin !== origin, "the loopback redirect URI", 20_000)
    .catch(async (e) => {
      await steps.shot(page, "stuck");
      throw new Error(`${e.message}; at ${page.url()}; CSP: ${violations.join(" / ") || "none"}`);
    });
  await page.waitForLoadState("load");
  await steps.shot(page, "redirect uri");
  const origins = [...new Set(context.requests.map((u) => new URL(u).origin))];
  log(`origins ${origins.join(" ")}`);
  log(`done ${page.url().split("?")[0]}`);
} catch (e) {
  log(`error ${String(e.message || e).replace(/\s+/g, " ")}`);
  process.exitCode = 1;
} finally {
  if (b) await b.close();
  fs.rmSync(work, { recursive: true, force: true });
}
