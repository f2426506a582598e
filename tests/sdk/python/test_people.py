"""People signing in: the official azure-identity DeviceCodeCredential against keyhold, its prompt
callback completing the code on keyhold's sign-in page over HTTP as a person would, and the token it
gets read by the official Key Vault client with the user's own access policy."""

from __future__ import annotations

import pytest
import requests
from azure.core.exceptions import HttpResponseError
from azure.identity import DeviceCodeCredential
from azure.keyvault.secrets import SecretClient

import keyhold_harness as kh

PASSWORD = "Wonder-Land-2031!"


def graph_call(server: kh.Server, method: str, path: str, body: object = None) -> requests.Response:
    token = kh.vault_token(server, resource=f"{server.url}/graph/")
    with server.session() as s:
        return s.request(
            method,
            f"{server.url}/graph/v1.0{path}",
            json=body,
            headers={"Authorization": f"Bearer {token}"},
            timeout=kh.HTTP_TIMEOUT,
        )


def approve(server: kh.Server, upn: str, password: str):
    """A prompt callback that does what the person reading the prompt does."""
    seen = {}

    def callback(verification_uri: str, user_code: str, expires_on) -> None:
        seen["uri"] = verification_uri
        with server.session() as s:
            page = s.get(verification_uri, timeout=kh.HTTP_TIMEOUT)
            assert page.status_code == 200 and "<form" in page.text
            resp = s.post(
                verification_uri,
                data={"code": user_code, "username": upn, "password": password},
                timeout=kh.HTTP_TIMEOUT,
            )
            seen["status"] = resp.status_code

    return callback, seen


def test_device_code_credential_gets_a_users_token_the_vault_accepts(server: kh.Server) -> None:
    upn = f"{kh.unique('alice')}@contoso.example"
    resp = graph_call(
        server,
        "POST",
        "/users",
        {"displayName": "Alice", "userPrincipalName": upn, "passwordProfile": {"password": PASSWORD}},
    )
    assert resp.status_code == 201, resp.text
    alice = resp.json()["id"]
    vault = kh.create_vault(server)
    admin = kh.vault_token(server)
    kh.set_secret_raw(server, vault, admin, "for-alice", "hello alice")
    # Alice may get secrets in this vault (an access policy for her object id, through ARM).
    sub = server.session().get(
        f"{server.url}/subscriptions?api-version=2022-12-01",
        headers={"Authorization": f"Bearer {kh.admin_token(server)}"},
        timeout=kh.HTTP_TIMEOUT,
    ).json()["value"][0]["subscriptionId"]
    policy = {"properties": {"accessPolicies": [{"tenantId": server.tenant, "objectId": alice, "permissions": {"secrets": ["get"]}}]}}
    r = server.session().put(
        f"{server.url}/subscriptions/{sub}/resourceGroups/keyhold/providers/Microsoft.KeyVault/vaults/{vault.name}/accessPolicies/add?api-version=2023-07-01",
        json=policy,
        headers={"Authorization": f"Bearer {kh.admin_token(server)}"},
        timeout=kh.HTTP_TIMEOUT,
    )
    assert r.status_code in (200, 201), r.text

    callback, seen = approve(server, upn, PASSWORD)
    with kh.process_environ({"REQUESTS_CA_BUNDLE": str(server.ca_bundle)}):
        cred = DeviceCodeCredential(
            tenant_id=server.tenant,
            authority=server.url,
            disable_instance_discovery=True,
            prompt_callback=callback,
        )
        token = cred.get_token(f"{server.vault_resource}/.default")
        assert seen == {"uri": f"{server.url}/devicelogin", "status": 200}
        _, claims, _ = kh.jwt_parts(token.token)
        assert claims["idtyp"] == "user" and claims["oid"] == alice and claims["upn"] == upn
        kh.pin_host(f"{vault.name}.{server.dns_suffix}")
        client = SecretClient(vault.url, cred)
        assert client.get_secret("for-alice").value == "hello alice"
        with pytest.raises(HttpResponseError) as refused:
            client.set_secret("not-allowed", "x")
        assert refused.value.status_code == 403


def test_device_code_credential_with_a_wrong_password_gets_nothing(server: kh.Server) -> None:
    upn = f"{kh.unique('bob')}@contoso.example"
    resp = graph_call(
        server,
        "POST",
        "/users",
        {"displayName": "Bob", "userPrincipalName": upn, "passwordProfile": {"password": PASSWORD}},
    )
    assert resp.status_code == 201, resp.text
    callback, seen = approve(server, upn, "Not-The-Password-1")
    with kh.process_environ({"REQUESTS_CA_BUNDLE": str(server.ca_bundle)}):
        cred = DeviceCodeCredential(
            tenant_id=server.tenant,
            authority=server.url,
            disable_instance_discovery=True,
            prompt_callback=callback,
            timeout=8,
        )
        with pytest.raises(Exception):
            cred.get_token(f"{server.vault_resource}/.default")
    assert seen["status"] == 400


def test_interactive_browser_credential_signs_a_person_in_with_the_code_flow(server: kh.Server, monkeypatch) -> None:
    """InteractiveBrowserCredential (MSAL's authorization-code flow with PKCE and a loopback
    redirect) with the browser played over HTTP: open keyhold's sign-in page, post the person's name
    and password, follow the redirect back to MSAL's local server."""
    import re
    import threading
    import webbrowser

    from azure.identity import InteractiveBrowserCredential

    upn = f"{kh.unique('carol')}@contoso.example"
    resp = graph_call(
        server,
        "POST",
        "/users",
        {"displayName": "Carol", "userPrincipalName": upn, "passwordProfile": {"password": PASSWORD}},
    )
    assert resp.status_code == 201, resp.text
    carol = resp.json()["id"]
    seen = {}

    def browse(url: str) -> None:
        with server.session() as s:
            page = s.get(url, timeout=kh.HTTP_TIMEOUT)
            assert page.status_code == 200, page.text
            fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', page.text))
            fields = {k: v.replace("&amp;", "&").replace("&quot;", '"').replace("&#39;", "'") for k, v in fields.items()}
            seen["challenge_method"] = fields.get("code_challenge_method")
            fields.update({"username": upn, "password": PASSWORD})
            action = re.search(r'<form method="post" action="([^"]+)"', page.text).group(1)
            answer = s.post(f"{server.url}{action}", data=fields, allow_redirects=False, timeout=kh.HTTP_TIMEOUT)
            seen["status"] = answer.status_code
        if answer.status_code == 302:
            # response_mode=query: the browser follows the redirect to MSAL's loopback server.
            location = answer.headers["Location"]
            seen["redirect"] = location.split("?")[0]
            requests.get(location, timeout=kh.HTTP_TIMEOUT)
        else:
            # response_mode=form_post: the page's form posts the answer there, as a browser does.
            assert answer.status_code == 200, answer.text
            back = re.search(r'<form method="post" action="([^"]+)"', answer.text).group(1)
            posted = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', answer.text))
            seen["redirect"] = back
            requests.post(back, data=posted, timeout=kh.HTTP_TIMEOUT)

    class Browser:
        def open(self, url, *args, **kwargs):
            threading.Thread(target=browse, args=(url,), daemon=True).start()
            return True

    monkeypatch.setattr(webbrowser, "open", lambda url, *a, **k: Browser().open(url))
    monkeypatch.setattr(webbrowser, "get", lambda *a, **k: Browser())
    with kh.process_environ({"REQUESTS_CA_BUNDLE": str(server.ca_bundle)}):
        cred = InteractiveBrowserCredential(
            tenant_id=server.tenant,
            authority=server.url,
            disable_instance_discovery=True,
            timeout=60,
        )
        token = cred.get_token(f"{server.vault_resource}/.default")
    assert seen["status"] in (200, 302) and seen["challenge_method"] == "S256", seen
    assert seen["redirect"].startswith("http://localhost:"), seen
    _, claims, _ = kh.jwt_parts(token.token)
    assert claims["idtyp"] == "user" and claims["oid"] == carol and claims["upn"] == upn
