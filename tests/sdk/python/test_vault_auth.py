"""The vault's bearer-token checks: every bad token gets Azure's 401 challenge (wire-protocol §2)."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

import keyhold_harness as kh

PROBE = "secrets/x"


def assert_challenge(server: kh.Server, resp) -> None:
    """401 + `WWW-Authenticate: Bearer authorization="<idp>/<tenant>", resource="<vault resource>"`."""
    assert resp.status_code == 401, f"want 401, got {resp.status_code}: {resp.text}"
    header = resp.headers.get("WWW-Authenticate")
    assert header, f"401 without WWW-Authenticate: {dict(resp.headers)}"
    scheme, params = kh.parse_challenge(header)
    assert scheme == "Bearer", header
    assert params.get("authorization") == f"{server.url}/{server.tenant}", header
    assert params.get("resource") == server.vault_resource, header
    if "scope" in params:
        assert params["scope"] == server.vault_resource + "/.default", header
    # Python's parser splits on ',' and '=': values must contain neither (wire-protocol §2.2).
    for value in params.values():
        assert "," not in value and "=" not in value and " " not in value, header
    body = resp.json()
    assert body["error"]["code"] == "Unauthorized", body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"], body


def probe(server: kh.Server, vault: kh.Vault, token: str | None, **kwargs):
    return kh.vault_request(server, vault, "GET", PROBE, token, **kwargs)


def test_control_valid_token_passes_authentication(server: kh.Server, vault: kh.Vault, vtoken: str) -> None:
    resp = probe(server, vault, vtoken)
    assert resp.status_code == 404, resp.text
    assert resp.json()["error"]["code"] == "SecretNotFound"


def test_vault_azure_net_audience_accepted(server: kh.Server, vault: kh.Vault) -> None:
    token = kh.vault_token(server, resource="https://vault.azure.net")
    resp = probe(server, vault, token)
    assert resp.status_code == 404, resp.text


def test_no_token(server: kh.Server, vault: kh.Vault) -> None:
    assert_challenge(server, probe(server, vault, None))


def test_no_token_with_invalid_json_body_gets_challenge_not_400(server: kh.Server, vault: kh.Vault) -> None:
    resp = kh.vault_request(server, vault, "PUT", f"secrets/{kh.unique('s')}", None, data=b"{not json")
    assert_challenge(server, resp)


def test_bodiless_sdk_probe_gets_challenge(server: kh.Server, vault: kh.Vault) -> None:
    """The SDKs' first request: PUT with Content-Length 0 and Content-Type json (wire-protocol §2.1)."""
    resp = kh.vault_request(server, vault, "PUT", f"secrets/{kh.unique('s')}", None, data=b"", api_version="2026-04-01")
    assert_challenge(server, resp)


def test_non_bearer_scheme(server: kh.Server, vault: kh.Vault, vtoken: str) -> None:
    resp = probe(server, vault, None, headers={"Authorization": f"Basic {vtoken}"})
    assert_challenge(server, resp)


@pytest.mark.parametrize("token", ["not-a-jwt", "", "a.b.c", "x" * 16000, "..", "e30.e30.", "e30.e30.e30"])
def test_garbage_token(server: kh.Server, vault: kh.Vault, token: str) -> None:
    assert_challenge(server, probe(server, vault, token))


def test_forged_payload(server: kh.Server, vault: kh.Vault, vtoken: str) -> None:
    header, claims, sig = kh.jwt_parts(vtoken)
    claims["oid"] = kh.new_guid()
    claims["exp"] = claims["exp"] + 86400
    forged = kh.jwt_compose(header, claims, sig)
    assert_challenge(server, probe(server, vault, forged))


def test_alg_none(server: kh.Server, vault: kh.Vault, vtoken: str) -> None:
    header, claims, _ = kh.jwt_parts(vtoken)
    for alg in ("none", "None", "NONE"):
        unsigned = kh.jwt_compose({**header, "alg": alg}, claims, b"")
        assert_challenge(server, probe(server, vault, unsigned))


def _public_pems(server: kh.Server, kid: str) -> list[bytes]:
    keys = {k["kid"]: k for k in kh.jwks(server)["keys"]}
    public = jwt.PyJWK(keys[kid], algorithm="RS256").key
    return [
        public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo),
        public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.PKCS1),
        json.dumps(keys[kid]).encode(),
    ]


def test_hs256_with_public_key_as_hmac_secret(server: kh.Server, vault: kh.Vault, vtoken: str) -> None:
    header, claims, _ = kh.jwt_parts(vtoken)
    for secret in _public_pems(server, header["kid"]):
        for variant in (secret, secret.strip()):
            h = {**header, "alg": "HS256"}
            signing_input = kh.jwt_compose(h, claims, b"").rsplit(".", 1)[0]
            sig = hmac.new(variant, signing_input.encode(), hashlib.sha256).digest()
            assert_challenge(server, probe(server, vault, f"{signing_input}.{kh.b64url(sig)}"))


def test_unknown_kid(server: kh.Server, vault: kh.Vault, vtoken: str) -> None:
    header, claims, _ = kh.jwt_parts(vtoken)
    attacker = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    token = jwt.encode(claims, attacker, algorithm="RS256", headers={"kid": "kid-" + kh.new_guid()})
    assert_challenge(server, probe(server, vault, token))


def test_known_kid_signed_by_other_key(server: kh.Server, vault: kh.Vault, vtoken: str) -> None:
    header, claims, _ = kh.jwt_parts(vtoken)
    attacker = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    token = jwt.encode(claims, attacker, algorithm="RS256", headers={"kid": header["kid"]})
    assert_challenge(server, probe(server, vault, token))


def test_management_audience_rejected(server: kh.Server, vault: kh.Vault) -> None:
    token = kh.admin_token(server)
    assert kh.jwt_parts(token)[1]["aud"] == server.url
    assert_challenge(server, probe(server, vault, token))


def test_token_from_another_keyhold_server(server: kh.Server, vault: kh.Vault, server_factory) -> None:
    other = server_factory()
    assert other.tenant != server.tenant
    # https://vault.azure.net is accepted by every keyhold vault, so only the issuer/key differ.
    token = kh.vault_token(other, resource="https://vault.azure.net")
    assert_challenge(server, probe(server, vault, token))


def test_expired_token(server_factory) -> None:
    srv = server_factory(extra_args=["--token-lifetime-secs", "3", "--clock-skew-secs", "0"])
    vault = kh.create_vault(srv)
    token = kh.vault_token(srv)
    claims = kh.jwt_parts(token)[1]
    assert claims["exp"] - claims["iat"] <= 3, claims
    fresh = probe(srv, vault, token)
    assert fresh.status_code == 404, f"fresh token should be accepted: {fresh.status_code} {fresh.text}"
    time.sleep(max(0.0, claims["exp"] + 1.5 - time.time()))
    assert_challenge(srv, probe(srv, vault, token))
