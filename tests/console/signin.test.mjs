// The browser sign-in page (/{tenant}/oauth2/v2.0/authorize) in real chromium: the CA trusted only
// through the NSS database (without it the page does not load), the page's fields by their labels,
// a wrong password refused on the page, and the code flow with PKCE reaching a loopback redirect URI
// whose code redeems for the person's token.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import * as h from "./harness.mjs";

const AZ_CLI = "04b07795-8ddb-461a-bbee-02f9e1bf7b46";
let env, srv, user;

before(async () => {
  env = await h.setup();
  srv = env.srv;
  user = await h.createUser(srv, "Dana Signin");
});
after(async () => env && (await env.teardown()));

function authorizeUrl(redirectUri, challenge, state, formPost = false) {
  const q = new URLSearchParams({
    ...(formPost ? { response_mode: "form_post" } : {}),
    client_id: AZ_CLI,
    response_type: "code",
    redirect_uri: redirectUri,
    scope: `${srv.url}/.default openid profile offline_access`,
    code_challenge: challenge,
    code_challenge_method: "S256",
    state,
  });
  return `${srv.url}/${srv.tenant}/oauth2/v2.0/authorize?${q}`;
}

test("without keyhold's CA in the NSS database the page does not load", async () => {
  const steps = new h.Steps("signin untrusted ca");
  const untrusted = await h.launchBrowser(srv, { trustCa: false });
  try {
    const ctx = await h.newContext(untrusted.browser);
    const page = await ctx.newPage();
    const err = await page.goto(authorizeUrl("http://localhost:1/", h.pkce().challenge, "s")).then(
      () => null,
      (e) => e,
    );
    await steps.shot(page, "refused");
    assert.ok(err, "the page loaded although the CA is not trusted");
    assert.match(err.message, /ERR_CERT_AUTHORITY_INVALID|ERR_CERT_/);
  } finally {
    await untrusted.close();
  }
});

/** Signs in through the authorize page in chromium (a wrong password first when asked) and
 * returns what reached the loopback redirect URI, redeemed. */
async function codeFlow(stepsName, { formPost, wrongFirst }) {
  const steps = new h.Steps(stepsName);
  const hits = [];
  const loopback = await h.localServer((req, res, body) => {
    const u = new URL(req.url, "http://localhost");
    if (u.pathname === "/favicon.ico") return res.writeHead(404).end(); // the browser's own request
    hits.push({ method: req.method, params: req.method === "POST" ? new URLSearchParams(body) : u.searchParams });
    res.writeHead(200, { "content-type": "text/html" }).end("<!doctype html><title>done</title><h1>Authentication complete</h1>");
  });
  const ctx = await h.newContext(env.browser);
  const page = await ctx.newPage();
  const violations = [];
  page.on("console", (m) => /Content Security Policy/.test(m.text()) && violations.push(m.text()));
  try {
    const redirectUri = `http://localhost:${loopback.port}/`;
    const { verifier, challenge } = h.pkce();
    const state = h.unique("state-", 8);
    const resp = await page.goto(authorizeUrl(redirectUri, challenge, state, formPost));
    assert.equal(resp.status(), 200);
    const csp = resp.headers()["content-security-policy"] ?? "";
    assert.match(csp, /default-src 'none'/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    await h.visible(page.getByLabel("Email, phone, or Skype"));
    await steps.shot(page, "sign-in page");

    if (wrongFirst) {
      await h.fillSignIn(page, user.upn, "Not-The-Password-1");
      const refusal = await h.alertText(page);
      await steps.shot(page, "wrong password");
      assert.match(refusal, /invalid username or password/);
      assert.equal(hits.length, 0, "a wrong password reached the redirect URI");
      assert.equal(new URL(page.url()).origin, srv.url);
    }

    await h.fillSignIn(page, user.upn, user.password);
    const reached = await h.visible(page.getByRole("heading", { name: "Authentication complete" }), 8_000).then(
      () => true,
      () => false,
    );
    await steps.shot(page, "after sign-in");
    assert.ok(reached, `the browser did not reach the redirect URI (still at ${page.url()}); CSP reports: ${violations.join(" / ") || "none"}`);
    assert.equal(hits.length, 1);
    assert.equal(hits[0].method, formPost ? "POST" : "GET");
    const back = hits[0].params;
    assert.equal(back.get("state"), state);
    const code = back.get("code");
    assert.ok(code, "no code reached the redirect URI");

    const form = new URLSearchParams({
      grant_type: "authorization_code",
      client_id: AZ_CLI,
      code,
      redirect_uri: redirectUri,
      code_verifier: verifier,
      scope: `${srv.url}/.default openid profile offline_access`,
    });
    const redeem = () =>
      h.httpsRequest(srv, "POST", `${srv.url}/${srv.tenant}/oauth2/v2.0/token`, {
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: form.toString(),
      });
    const tok = await redeem();
    assert.equal(tok.status, 200, tok.text);
    const claims = h.jwtClaims(JSON.parse(tok.text).access_token);
    assert.equal(claims.oid, user.id);
    assert.equal(claims.upn, user.upn);
    assert.equal(claims.idtyp, "user");
    const again = await redeem();
    assert.equal(again.status, 400, `a code redeemed twice: ${again.text}`);
    const origins = new Set(ctx.requests.map((u) => new URL(u).origin));
    assert.deepEqual([...origins].sort(), [srv.url, `http://localhost:${loopback.port}`].sort());
  } finally {
    await ctx.close();
    loopback.close();
  }
}

test("code flow, response_mode=form_post: a wrong password is refused, then the answer is posted to the loopback redirect URI", () =>
  codeFlow("signin code flow form post", { formPost: true, wrongFirst: true }));

test("code flow, response_mode=query: the sign-in page's redirect reaches the loopback redirect URI", () =>
  codeFlow("signin code flow query", { formPost: false, wrongFirst: false }));
