"""The admin API (vaults, service principals) and the vault properties it sets."""

from __future__ import annotations

import secrets

import pytest

import keyhold_harness as kh

DAY = 86400


def assert_admin_error(resp, status: int) -> None:
    """Admin API errors: the status, and an Azure-shaped body (the code itself is not part of the contract)."""
    assert resp.status_code == status, f"want {status}, got {resp.status_code}: {resp.text}"
    error = resp.json()["error"]
    assert isinstance(error["code"], str) and error["code"], error
    assert isinstance(error["message"], str) and error["message"], error


def test_create_vault_response(server: kh.Server) -> None:
    name = kh.unique("kv")
    resp = kh.admin_call(server, "PUT", f"vaults/{name}", {})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["name"] == name
    assert body["vaultUri"] == f"https://{name}.{server.dns_suffix}:{server.port}/"


@pytest.mark.parametrize("name", ["ab", "1abc", "a" * 25, "a_bc", "-abc"])
def test_bad_vault_names_rejected(server: kh.Server, name: str) -> None:
    resp = kh.admin_call(server, "PUT", f"vaults/{name}", {})
    assert_admin_error(resp, 400)


@pytest.mark.parametrize("length", [3, 24])
def test_vault_name_limits_inclusive(server: kh.Server, length: int) -> None:
    name = "K" + secrets.token_hex(12)[: length - 2] + "9"
    assert len(name) == length
    resp = kh.admin_call(server, "PUT", f"vaults/{name}", {})
    assert resp.status_code == 200, resp.text


@pytest.mark.parametrize("days", [6, 91, 0])
def test_retention_out_of_range_rejected(server: kh.Server, days: int) -> None:
    resp = kh.admin_call(server, "PUT", f"vaults/{kh.unique('kv')}", {"softDeleteRetentionInDays": days})
    assert_admin_error(resp, 400)


def test_admin_api_requires_a_management_token(server: kh.Server) -> None:
    path = f"vaults/{kh.unique('kv')}"
    with server.session() as s:
        anonymous = s.put(f"{server.url}/keyhold/v1/{path}", json={}, timeout=kh.HTTP_TIMEOUT)
    assert anonymous.status_code == 401, anonymous.text
    wrong_audience = kh.admin_call(server, "PUT", path, {}, kh.vault_token(server))
    assert wrong_audience.status_code == 401, wrong_audience.text
    assert kh.admin_call(server, "PUT", path, {}).status_code == 200


def test_admin_api_refuses_non_admin_principals(server: kh.Server) -> None:
    sp = kh.create_service_principal(server)
    token = kh.client_credentials(server, sp["appId"], sp["password"], f"{server.url}/.default")
    for method, path, body in (
        ("PUT", f"vaults/{kh.unique('kv')}", {}),
        ("POST", "servicePrincipals", {"displayName": "escalation"}),
        ("POST", "signingKeys/rotate", None),
    ):
        resp = kh.admin_call(server, method, path, body, token)
        assert resp.status_code == 403, f"{method} {path}: {resp.status_code} {resp.text}"


def test_new_service_principal_authenticates_at_the_vault(server: kh.Server, vault: kh.Vault) -> None:
    sp = kh.create_service_principal(server, "app-one")
    assert sp["displayName"] == "app-one"
    assert sp["tenant"] == server.tenant
    assert sp["appId"] != server.admin["appId"] and sp["objectId"] != server.admin["objectId"]
    token = kh.vault_token(server, sp)
    claims = kh.jwt_parts(token)[1]
    assert claims["appid"] == sp["appId"] and claims["oid"] == sp["objectId"]
    kh.assert_authenticated(kh.vault_request(server, vault, "GET", "secrets/anything", token))


def _delete(server: kh.Server, vault: kh.Vault, token: str, name: str) -> dict:
    kh.set_secret_raw(server, vault, token, name, "x")
    resp = kh.vault_request(server, vault, "DELETE", f"secrets/{name}", token)
    assert resp.status_code == 200, resp.text
    return resp.json()


def test_custom_retention_days(server: kh.Server, vtoken: str) -> None:
    vault = kh.create_vault(server, softDeleteRetentionInDays=7)
    deleted = _delete(server, vault, vtoken, "short")
    assert deleted["scheduledPurgeDate"] - deleted["deletedDate"] == 7 * DAY
    assert deleted["attributes"]["recoverableDays"] == 7
    # Azure's name for a retention below 90 days.
    assert deleted["attributes"]["recoveryLevel"] == "CustomizedRecoverable+Purgeable"


def test_purge_protection_forbids_purge(server: kh.Server, vtoken: str) -> None:
    vault = kh.create_vault(server, enablePurgeProtection=True)
    deleted = _delete(server, vault, vtoken, "kept")
    assert deleted["scheduledPurgeDate"] - deleted["deletedDate"] == 90 * DAY
    assert deleted["attributes"]["recoveryLevel"] == "Recoverable"
    purge = kh.vault_request(server, vault, "DELETE", "deletedsecrets/kept", vtoken)
    assert purge.status_code == 403, purge.text
    assert purge.json()["error"]["code"] == "Forbidden"
    still = kh.vault_request(server, vault, "GET", "deletedsecrets/kept", vtoken)
    assert still.status_code == 200, still.text
    # Recovery is still allowed.
    assert kh.vault_request(server, vault, "POST", "deletedsecrets/kept/recover", vtoken).status_code == 200
    assert kh.vault_request(server, vault, "GET", "secrets/kept", vtoken).json()["value"] == "x"


def test_certificate_registration_errors(server: kh.Server) -> None:
    sp = kh.create_service_principal(server)
    garbage = kh.admin_call(server, "POST", f"servicePrincipals/{sp['appId']}/certificates", {"certificate": "garbage"})
    assert_admin_error(garbage, 400)
    unknown = kh.admin_call(server, "POST", f"servicePrincipals/{kh.new_guid()}/certificates", {"certificate": "x"})
    assert unknown.status_code in (400, 404), unknown.text


def test_service_principal_display_name_required(server: kh.Server) -> None:
    for body in ({}, {"displayName": ""}):
        resp = kh.admin_call(server, "POST", "servicePrincipals", body)
        assert_admin_error(resp, 400)
