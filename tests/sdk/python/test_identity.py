"""keyhold as an identity provider, driven by azure-identity/MSAL and by hand-made requests."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import socket
import stat
import time
import uuid

import jwt
import pytest
from azure.identity import (
    CertificateCredential,
    ClientSecretCredential,
    DefaultAzureCredential,
    EnvironmentCredential,
)
from cryptography.hazmat.primitives import serialization

import keyhold_harness as kh

PRIVATE_JWK_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}
GUID_RE = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


# --------------------------------------------------------------------------- helpers


def verify_token(server: kh.Server, token: str, audience: str) -> dict:
    """Verify an access token against the published JWKS; returns its claims."""
    header = jwt.get_unverified_header(token)
    assert header.get("alg") == "RS256", header
    assert header.get("kid"), f"token header has no kid: {header}"
    keys = {k["kid"]: k for k in kh.jwks(server)["keys"]}
    assert header["kid"] in keys, f"kid {header['kid']} not in JWKS {sorted(keys)}"
    public_key = jwt.PyJWK(keys[header["kid"]], algorithm="RS256").key
    claims = jwt.decode(
        token,
        public_key,
        algorithms=["RS256"],
        audience=audience,
        issuer=f"{server.url}/{server.tenant}/v2.0",
        options={"require": ["exp", "iat", "nbf", "aud", "iss", "sub"]},
    )
    assert claims["tid"] == server.tenant
    assert claims["idtyp"] == "app"
    for name in ("oid", "sub", "appid", "azp"):
        assert isinstance(claims.get(name), str) and claims[name], f"claim {name} missing: {claims}"
    assert claims["nbf"] <= time.time() + 5
    return claims


def sdk_ca_environ(server: kh.Server):
    """Only what the SDK needs to trust keyhold's CA; everything else is passed explicitly."""
    return kh.process_environ({"REQUESTS_CA_BUNDLE": str(server.ca_bundle)})


@pytest.fixture(scope="module")
def cert_sp(server: kh.Server, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A new service principal with a registered self-signed certificate."""
    sp = kh.create_service_principal(server, kh.unique("cert-sp"))
    key, cert = kh.make_cert()
    thumbprint = kh.register_certificate(server, sp["appId"], kh.cert_pem(cert))
    pem_path = tmp_path_factory.mktemp("cert") / "client.pem"
    pem_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        + cert.public_bytes(serialization.Encoding.PEM)
    )
    return {"sp": sp, "key": key, "cert": cert, "thumbprint": thumbprint, "pem_path": pem_path}


# --------------------------------------------------------------------------- published files and documents


def test_first_start_files(server: kh.Server) -> None:
    admin_path = server.data_dir / "admin.json"
    assert stat.S_IMODE(os.stat(admin_path).st_mode) == 0o600
    admin = json.loads(admin_path.read_text())
    assert admin["displayName"] == "keyhold-admin"
    assert admin["tenant"] == server.tenant
    for name in ("appId", "objectId", "tenant"):
        assert re.fullmatch(GUID_RE, admin[name]), (name, admin[name])
    assert len(admin["password"]) >= 16
    ca = server.ca_pem.read_text()
    bundle = server.ca_bundle.read_text()
    assert "BEGIN CERTIFICATE" in ca
    assert ca.strip() in bundle, "ca-bundle.pem must contain keyhold's CA"
    assert bundle.count("BEGIN CERTIFICATE") > ca.count("BEGIN CERTIFICATE"), (
        "ca-bundle.pem must also hold system roots"
    )
    assert server.state["url"] == f"https://localhost:{server.port}"
    assert server.state["dns_suffix"] == "vault.localhost"
    assert server.state["vault_resource"] == f"https://vault.localhost:{server.port}"
    assert server.state["listen"] == f"127.0.0.1:{server.port}"
    assert server.state["mi_listen"] == f"127.0.0.1:{server.mi_port}" and server.mi_port != server.port
    with socket.create_connection(("127.0.0.1", server.mi_port), timeout=5):
        pass  # the managed-identity listener is up


def test_keyhold_env_output(server: kh.Server, sp_env: dict) -> None:
    bundle = str(server.ca_bundle)
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE", "NODE_EXTRA_CA_CERTS"):
        assert sp_env[name] == bundle, name
    assert sp_env["AZURE_AUTHORITY_HOST"] == server.url
    assert sp_env["AZURE_TENANT_ID"] == "adfs"
    assert sp_env["KEYHOLD_TENANT_ID"] == server.tenant
    assert sp_env["KEYHOLD_URL"] == server.url
    assert sp_env["KEYHOLD_VAULT_RESOURCE"] == server.vault_resource
    assert sp_env["AZURE_CLIENT_ID"] == server.admin["appId"]
    assert sp_env["AZURE_CLIENT_SECRET"] == server.admin["password"]
    plain = kh.keyhold_env(server.data_dir)
    assert "AZURE_CLIENT_SECRET" not in plain and "AZURE_CLIENT_ID" not in plain
    assert plain["AZURE_AUTHORITY_HOST"] == server.url


@pytest.mark.parametrize("tenant", ["guid", "adfs"])
def test_openid_configuration(server: kh.Server, tenant: str) -> None:
    tenant = server.tenant if tenant == "guid" else "adfs"
    doc = kh.openid_configuration(server, tenant)
    origin = server.url + "/"
    for name in ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri"):
        assert isinstance(doc.get(name), str) and doc[name].startswith(origin), (name, doc.get(name))
    if tenant != "adfs":
        assert doc["issuer"] == f"{server.url}/{server.tenant}/v2.0"
        assert doc["token_endpoint"] == f"{server.url}/{server.tenant}/oauth2/v2.0/token"
    # The advertised token endpoint really issues tokens for the tenant.
    with server.session() as s:
        resp = s.post(
            doc["token_endpoint"],
            data={
                "grant_type": "client_credentials",
                "client_id": server.admin["appId"],
                "client_secret": server.admin["password"],
                "scope": f"{server.vault_resource}/.default",
            },
            timeout=kh.HTTP_TIMEOUT,
        )
        assert resp.status_code == 200, resp.text
        verify_token(server, resp.json()["access_token"], server.vault_resource)
        keys = s.get(doc["jwks_uri"], timeout=kh.HTTP_TIMEOUT).json()["keys"]
    assert keys, "JWKS is empty"


def test_jwks_is_public_only(server: kh.Server) -> None:
    keys = kh.jwks(server)["keys"]
    assert keys
    for key in keys:
        assert key["kty"] == "RSA" and key.get("kid") and key.get("n") and key.get("e"), key
        leaked = PRIVATE_JWK_MEMBERS & set(key)
        assert not leaked, f"JWKS publishes private members {leaked}"


# --------------------------------------------------------------------------- azure-identity credentials


def test_client_secret_credential(server: kh.Server) -> None:
    with sdk_ca_environ(server):
        cred = ClientSecretCredential(
            server.tenant,
            server.admin["appId"],
            server.admin["password"],
            authority=server.url,
            disable_instance_discovery=True,
        )
        token = cred.get_token(f"{server.vault_resource}/.default")
    lifetime = token.expires_on - time.time()
    assert 3000 < lifetime <= 3700, lifetime
    claims = verify_token(server, token.token, server.vault_resource)
    assert claims["appid"] == server.admin["appId"]
    assert claims["azp"] == server.admin["appId"]
    assert claims["oid"] == server.admin["objectId"]
    assert 3000 < claims["exp"] - claims["iat"] <= 3700


def test_environment_credential_from_keyhold_env(server: kh.Server, sdk_environ: dict) -> None:
    token = EnvironmentCredential().get_token(f"{server.vault_resource}/.default")
    claims = verify_token(server, token.token, server.vault_resource)
    assert claims["appid"] == sdk_environ["AZURE_CLIENT_ID"]
    assert claims["tid"] == sdk_environ["KEYHOLD_TENANT_ID"]


def test_default_credential_picks_the_service_principal(server: kh.Server, sdk_environ: dict) -> None:
    """`keyhold env --service-principal` also prints managed-identity variables; the chain must
    still authenticate as the admin service principal (EnvironmentCredential comes first)."""
    token = DefaultAzureCredential().get_token(f"{server.vault_resource}/.default")
    claims = verify_token(server, token.token, server.vault_resource)
    assert claims["appid"] == sdk_environ["AZURE_CLIENT_ID"] == server.admin["appId"]


def test_adfs_alias_token_endpoint(server: kh.Server) -> None:
    token = kh.client_credentials(
        server, server.admin["appId"], server.admin["password"], f"{server.vault_resource}/.default", tenant="adfs"
    )
    claims = verify_token(server, token, server.vault_resource)
    assert claims["tid"] == server.tenant


def test_issuer_does_not_depend_on_the_host_used(server: kh.Server) -> None:
    """Tokens minted through https://127.0.0.1:PORT still carry the canonical issuer."""
    with server.session() as s:
        resp = s.post(
            f"https://127.0.0.1:{server.port}/{server.tenant}/oauth2/v2.0/token",
            data={
                "grant_type": "client_credentials",
                "client_id": server.admin["appId"],
                "client_secret": server.admin["password"],
                "scope": f"{server.vault_resource}/.default",
            },
            timeout=kh.HTTP_TIMEOUT,
        )
    assert resp.status_code == 200, resp.text
    verify_token(server, resp.json()["access_token"], server.vault_resource)


def test_v1_token_endpoint_resource(server: kh.Server) -> None:
    resp = kh.post_token(
        server,
        {
            "grant_type": "client_credentials",
            "client_id": server.admin["appId"],
            "client_secret": server.admin["password"],
            "resource": "https://vault.azure.net",
        },
        v1=True,
    )
    assert resp.status_code == 200, resp.text
    verify_token(server, resp.json()["access_token"], "https://vault.azure.net")


# --------------------------------------------------------------------------- client certificates


def test_certificate_registration_thumbprint(cert_sp: dict) -> None:
    der = cert_sp["cert"].public_bytes(serialization.Encoding.DER)
    assert cert_sp["thumbprint"].lower() == hashlib.sha1(der).hexdigest()


def test_certificate_credential_token_accepted_by_vault(server: kh.Server, cert_sp: dict, vault: kh.Vault) -> None:
    sp = cert_sp["sp"]
    with sdk_ca_environ(server):
        cred = CertificateCredential(
            server.tenant,
            sp["appId"],
            certificate_path=str(cert_sp["pem_path"]),
            authority=server.url,
            disable_instance_discovery=True,
        )
        token = cred.get_token(f"{server.vault_resource}/.default").token
    claims = verify_token(server, token, server.vault_resource)
    assert claims["appid"] == sp["appId"]
    assert claims["oid"] == sp["objectId"]
    kh.assert_authenticated(kh.vault_request(server, vault, "GET", "secrets/cert-probe", token))


def test_client_assertion_replay_rejected(server: kh.Server, cert_sp: dict) -> None:
    sp = cert_sp["sp"]
    scope = f"{server.vault_resource}/.default"
    assertion = kh.client_assertion(cert_sp["key"], cert_sp["cert"], sp["appId"], kh.token_endpoint(server))
    first = kh.post_token(server, kh.assertion_form(sp["appId"], assertion, scope))
    assert first.status_code == 200, first.text
    verify_token(server, first.json()["access_token"], server.vault_resource)
    replay = kh.post_token(server, kh.assertion_form(sp["appId"], assertion, scope))
    # Entra answers client-authentication failures (invalid_client) with 401.
    assert replay.status_code == 401, replay.text
    assert replay.json()["error"] == "invalid_client"
    assert "access_token" not in replay.json()


def test_client_assertion_ps256_sha256_thumbprint(server: kh.Server, cert_sp: dict) -> None:
    """What msal-node 5 sends: PS256 with an `x5t#S256` header (wire-protocol §6)."""
    sp = cert_sp["sp"]
    assertion = kh.client_assertion(
        cert_sp["key"], cert_sp["cert"], sp["appId"], kh.token_endpoint(server), alg="PS256", thumbprint="x5t#S256"
    )
    resp = kh.post_token(server, kh.assertion_form(sp["appId"], assertion, f"{server.vault_resource}/.default"))
    assert resp.status_code == 200, resp.text
    assert verify_token(server, resp.json()["access_token"], server.vault_resource)["appid"] == sp["appId"]


def _assert_assertion_rejected(resp) -> None:
    assert resp.status_code in (400, 401), f"{resp.status_code} {resp.text}"
    body = resp.json()
    assert body["error"] == "invalid_client", body
    assert "access_token" not in body
    assert body["error_description"].startswith("AADSTS"), body


@pytest.mark.parametrize(
    "case",
    [
        "wrong-audience",
        "forged-host-audience",
        "expired",
        "unregistered-key",
        "issuer-mismatch",
        "alg-none",
        "hs256-with-cert-public-key",
        "cert-of-another-client",
    ],
)
def test_bad_client_assertion_rejected(server: kh.Server, cert_sp: dict, case: str) -> None:
    sp = cert_sp["sp"]
    scope = f"{server.vault_resource}/.default"
    endpoint = kh.token_endpoint(server)
    # Positive control: a correct assertion works, so the rejection below is due to `case`.
    good = kh.client_assertion(cert_sp["key"], cert_sp["cert"], sp["appId"], endpoint)
    assert kh.post_token(server, kh.assertion_form(sp["appId"], good, scope)).status_code == 200

    if case == "wrong-audience":
        bad = kh.client_assertion(
            cert_sp["key"],
            cert_sp["cert"],
            sp["appId"],
            f"https://login.microsoftonline.com/{server.tenant}/oauth2/v2.0/token",
        )
    elif case == "forged-host-audience":
        # Addressed to another host, and sent with that Host header: still not our endpoint.
        bad = kh.client_assertion(
            cert_sp["key"], cert_sp["cert"], sp["appId"], f"https://evil.com/{server.tenant}/oauth2/v2.0/token"
        )
    elif case == "expired":
        bad = kh.client_assertion(
            cert_sp["key"], cert_sp["cert"], sp["appId"], endpoint, issued_at=time.time() - 1200, lifetime=600
        )
    elif case == "unregistered-key":
        other_key, _ = kh.make_cert("attacker")
        # Claims the registered certificate's thumbprint but is signed by another key.
        bad = kh.client_assertion(other_key, cert_sp["cert"], sp["appId"], endpoint)
    elif case == "alg-none":
        signed = kh.client_assertion(cert_sp["key"], cert_sp["cert"], sp["appId"], endpoint)
        header, claims, _ = kh.jwt_parts(signed)
        bad = kh.jwt_compose({**header, "alg": "none"}, claims, b"")
    elif case == "hs256-with-cert-public-key":
        signed = kh.client_assertion(cert_sp["key"], cert_sp["cert"], sp["appId"], endpoint)
        header, claims, _ = kh.jwt_parts(signed)
        secret = (
            cert_sp["cert"]
            .public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        )
        signing_input = kh.jwt_compose({**header, "alg": "HS256"}, claims, b"").rsplit(".", 1)[0]
        mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
        bad = f"{signing_input}.{kh.b64url(mac)}"
    elif case == "cert-of-another-client":
        # A valid assertion for another principal's registered certificate, presented as this client.
        other = kh.create_service_principal(server)
        other_key, other_cert = kh.make_cert("other-client")
        kh.register_certificate(server, other["appId"], kh.cert_pem(other_cert))
        bad = kh.client_assertion(other_key, other_cert, sp["appId"], endpoint)
        # Control: the same key pair works for its own client.
        own = kh.client_assertion(other_key, other_cert, other["appId"], endpoint)
        assert kh.post_token(server, kh.assertion_form(other["appId"], own, scope)).status_code == 200
    else:
        other_sp = kh.create_service_principal(server)
        # iss/sub name another client than client_id.
        key, cert = cert_sp["key"], cert_sp["cert"]
        der = cert.public_bytes(serialization.Encoding.DER)
        now = int(time.time())
        bad = jwt.encode(
            {
                "aud": endpoint,
                "iss": other_sp["appId"],
                "sub": other_sp["appId"],
                "jti": str(uuid.uuid4()),
                "iat": now,
                "nbf": now,
                "exp": now + 600,
            },
            key,
            algorithm="RS256",
            headers={"typ": "JWT", "x5t": kh.b64url(hashlib.sha1(der).digest())},
        )
    headers = {"Host": "evil.com"} if case == "forged-host-audience" else None
    _assert_assertion_rejected(kh.post_token(server, kh.assertion_form(sp["appId"], bad, scope), headers=headers))
