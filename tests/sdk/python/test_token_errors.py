"""Token endpoint rejections: status and Entra-shaped error body (wire-protocol §5.3 item 4)."""

from __future__ import annotations

import json

import pytest

import keyhold_harness as kh


def assert_token_error(resp, status: int, error: str, code: int) -> dict:
    assert resp.status_code == status, f"want {status}, got {resp.status_code}: {resp.text}"
    assert resp.headers.get("Content-Type", "").startswith("application/json"), resp.headers
    body = resp.json()
    assert body["error"] == error, body
    assert body["error_codes"] == [code], body
    assert body["error_description"].startswith(f"AADSTS{code}:"), body
    for name in ("timestamp", "trace_id", "correlation_id"):
        assert isinstance(body.get(name), str) and body[name], f"{name} missing: {body}"
    assert isinstance(body.get("error_uri"), str), f"error_uri missing: {body}"
    assert "access_token" not in body
    return body


def good_form(server: kh.Server, **overrides: str) -> dict:
    form = {
        "grant_type": "client_credentials",
        "client_id": server.admin["appId"],
        "client_secret": server.admin["password"],
        "scope": f"{server.vault_resource}/.default",
    }
    form.update(overrides)
    return {k: v for k, v in form.items() if v is not None}


def test_control_good_request_succeeds(server: kh.Server) -> None:
    resp = kh.post_token(server, good_form(server))
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["token_type"] == "Bearer"
    assert isinstance(body["expires_in"], int) and 3000 < body["expires_in"] <= 3600
    assert isinstance(body["ext_expires_in"], int)
    assert body["access_token"].count(".") == 2


def test_wrong_secret(server: kh.Server) -> None:
    # A fresh principal, so that these failures cannot throttle the admin used by other tests.
    sp = kh.create_service_principal(server)
    resp = kh.post_token(server, good_form(server, client_id=sp["appId"], client_secret=sp["password"] + "x"))
    assert_token_error(resp, 401, "invalid_client", 7000215)


def test_unknown_client(server: kh.Server) -> None:
    resp = kh.post_token(server, good_form(server, client_id=kh.new_guid()))
    assert_token_error(resp, 400, "unauthorized_client", 700016)


def test_unknown_tenant(server: kh.Server) -> None:
    resp = kh.post_token(server, good_form(server), tenant=kh.new_guid())
    assert_token_error(resp, 400, "invalid_request", 90002)


def test_body_not_form_encoded(server: kh.Server) -> None:
    resp = kh.post_token(server, data=json.dumps(good_form(server)), headers={"Content-Type": "application/json"})
    assert_token_error(resp, 400, "invalid_request", 900144)


@pytest.mark.parametrize("missing", ["grant_type", "client_id", "scope", "v1-resource"])
def test_missing_parameter(server: kh.Server, missing: str) -> None:
    if missing == "v1-resource":
        resp = kh.post_token(server, good_form(server, scope=None), v1=True)
    else:
        resp = kh.post_token(server, good_form(server, **{missing: None}))
    body = assert_token_error(resp, 400, "invalid_request", 900144)
    assert (missing.removeprefix("v1-")) in body["error_description"], body


def test_unsupported_grant_type(server: kh.Server) -> None:
    resp = kh.post_token(server, good_form(server, grant_type="urn:keyhold:no-such-grant"))
    assert_token_error(resp, 400, "unsupported_grant_type", 70003)


@pytest.mark.parametrize("scope", ["vault", "vault-slash", "bare-word"])
def test_scope_without_default_suffix(server: kh.Server, scope: str) -> None:
    value = {
        "vault": server.vault_resource,
        "vault-slash": server.vault_resource + "/",
        "bare-word": "secrets.read",
    }[scope]
    resp = kh.post_token(server, good_form(server, scope=value))
    assert_token_error(resp, 400, "invalid_scope", 70011)


@pytest.mark.parametrize("resource", ["https://example.org", "https://vault.localhost:1", "other-port"])
def test_unknown_resource_is_refused(server: kh.Server, resource: str) -> None:
    """As in Entra, tokens are only issued for resources the tenant knows (the vault resources,
    https://vault.azure.net and the management resource), so no token can carry a stray audience."""
    if resource == "other-port":
        resource = f"https://vault.localhost:{server.port + 1}"
    resp = kh.post_token(server, good_form(server, scope=f"{resource}/.default"))
    assert_token_error(resp, 400, "invalid_resource", 500011)


@pytest.mark.parametrize("kind", ["secret-v2", "secret-v1", "assertion"])
def test_repeated_failures_are_throttled(server: kh.Server, kind: str) -> None:
    sp = kh.create_service_principal(server)
    v1 = kind == "secret-v1"
    base = {"grant_type": "client_credentials", "client_id": sp["appId"]}
    if v1:
        base["resource"] = "https://vault.azure.net"
    else:
        base["scope"] = f"{server.vault_resource}/.default"
    if kind == "assertion":
        bad = {
            **base,
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": "e30.e30.e30",
        }
        want = (400, 401)
    else:
        bad = {**base, "client_secret": "definitely-wrong"}
        want = (401,)
    statuses = [kh.post_token(server, bad, v1=v1).status_code for _ in range(10)]
    assert all(s in want for s in statuses), statuses
    kh.post_token(server, bad, v1=v1)  # the 11th failure within the minute
    throttled = kh.post_token(server, bad, v1=v1)
    assert throttled.status_code == 429, f"{throttled.status_code} {throttled.text}"
    retry_after = throttled.headers.get("Retry-After")
    assert retry_after is not None and retry_after.isdigit() and 0 < int(retry_after) <= 60, retry_after
    assert "access_token" not in throttled.json()
    # While this source is throttled, the right secret still gets its token: client ids are not
    # secret, so a throttle that refused it would let anyone lock the client out ...
    right = kh.post_token(server, {**base, "client_secret": sp["password"]}, v1=v1)
    assert right.status_code == 200, f"correct secret during throttling: {right.status_code} {right.text[:200]}"
    # ... and other principals are not affected.
    assert kh.post_token(server, good_form(server)).status_code == 200
