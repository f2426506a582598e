"""azure-identity's InteractiveBrowserCredential with a real browser: $BROWSER is
tests/console/browser.mjs, which opens MSAL's sign-in URL in chromium (playwright-core), fills
keyhold's sign-in form and lets the answer reach MSAL's loopback listener. The token it gets reads a
secret through the official Key Vault client."""

from __future__ import annotations

import time
import webbrowser
from pathlib import Path

import requests
from azure.identity import InteractiveBrowserCredential
from azure.keyvault.secrets import SecretClient

import keyhold_harness as kh

PASSWORD = "Wonder-Land-2031!"
BROWSER = Path(__file__).resolve().parents[1] / "browser.mjs"


def graph_call(server: kh.Server, method: str, path: str, body: object = None) -> requests.Response:
    token = kh.vault_token(server, resource=f"{server.url}/graph/")
    with server.session() as s:
        return s.request(method, f"{server.url}/graph/v1.0{path}", json=body,
                         headers={"Authorization": f"Bearer {token}"}, timeout=kh.HTTP_TIMEOUT)


def test_interactive_browser_credential_in_chromium_reads_a_secret(server: kh.Server, tmp_path: Path) -> None:
    upn = f"{kh.unique('erin')}@contoso.example"
    resp = graph_call(server, "POST", "/users",
                      {"displayName": "Erin", "userPrincipalName": upn, "passwordProfile": {"password": PASSWORD}})
    assert resp.status_code == 201, resp.text
    erin = resp.json()["id"]
    vault = kh.create_vault(server)
    kh.set_secret_raw(server, vault, kh.vault_token(server), "for-erin", "hello erin")
    sub = kh.subscription_id(server)
    policy = {"properties": {"accessPolicies": [
        {"tenantId": server.tenant, "objectId": erin, "permissions": {"secrets": ["get"]}}]}}
    r = kh.arm_call(server, "PUT",
                    f"/subscriptions/{sub}/resourceGroups/keyhold/providers/Microsoft.KeyVault/vaults/{vault.name}/accessPolicies/add?api-version=2023-07-01",
                    policy)
    assert r.status_code in (200, 201), r.text

    log = tmp_path / "browser.log"
    log.touch()
    # Python's webbrowser reads $BROWSER when it is first used (nothing in this process used it before).
    assert webbrowser._tryorder is None  # type: ignore[attr-defined]
    browser_env = {
        "REQUESTS_CA_BUNDLE": str(server.ca_bundle),
        "BROWSER": str(BROWSER),
        "SIGNIN_USER": upn,
        "SIGNIN_PASSWORD": PASSWORD,
        "SIGNIN_CA": str(server.ca_pem),
        "SIGNIN_LOG": str(log),
        "SIGNIN_SHOTS": "python-interactive-browser-credential",
    }
    lines: list[str] = []
    try:
        with kh.process_environ(browser_env):
            cred = InteractiveBrowserCredential(
                tenant_id=server.tenant, authority=server.url, disable_instance_discovery=True, timeout=90
            )
            kh.pin_host(f"{vault.name}.{server.dns_suffix}")
            # The client's first request is answered with the vault's challenge; the credential
            # then signs Erin in through the browser.
            assert SecretClient(vault.url, cred).get_secret("for-erin").value == "hello erin"
            # The same token, from the credential's cache (the client asks with CAE enabled).
            token = cred.get_token(f"{server.vault_resource}/.default", enable_cae=True)
            _, claims, _ = kh.jwt_parts(token.token)
            assert claims["idtyp"] == "user" and claims["oid"] == erin and claims["upn"] == upn
    finally:
        # The browser finishes (a screenshot, its log line) after MSAL has its answer.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not any(l.startswith(("done ", "error ")) for l in log.read_text().splitlines()):
            time.sleep(0.2)
        lines = log.read_text().splitlines()
        print("\n".join(lines))
        child = Path(f"{log}.child")
        if child.exists():
            print(child.read_text())
    # The browser script did it: it opened keyhold's sign-in page and ended on MSAL's listener.
    assert [l for l in lines if l.startswith("opened ")] == lines[:1], f"the browser was opened more than once: {lines}"
    assert lines and lines[0] == f"opened {server.url}/{server.tenant}/oauth2/v2.0/authorize", lines
    assert lines[-1].startswith("done http://localhost:"), lines
    origins = next(line for line in lines if line.startswith("origins ")).split()[1:]
    assert server.url in origins, origins
    assert all(o == server.url or o.startswith("http://localhost:") for o in origins), origins
