"""The official Rust SDK's KeyClient (azure_security_keyvault_keys 1.0.1) against keyhold's keys data
plane, authenticated as the host's system-assigned identity (ManagedIdentityCredential, App Service
source, as in test_rust_mi.py).

The program (`keyhold-rust-sdk-tests keys VAULT_URL PREFIX DIGEST`, src/keys.rs) runs once per module
and prints one JSON line per step: create RSA 2048 + EC P-256, get, sign/verify RS256 and ES256
(verify through the service, and a modified digest), RSA-OAEP-256 encrypt/decrypt, wrap/unwrap of
a 32-byte key, list, rotate, disable, delete. Each test below asserts one step; one RS256
signature is also checked here with `cryptography` against the JWK the SDK returned.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
from dataclasses import dataclass
from typing import Iterator

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa, utils

import keyhold_harness as kh
from test_rust_mi import rust_bin

KEY_PERMISSIONS = [
    "get", "list", "create", "update", "delete", "sign", "verify",
    "encrypt", "decrypt", "wrapKey", "unwrapKey", "rotate",
]  # fmt: skip
DIGEST = hashlib.sha256(b"keyhold rust sdk keys").digest()


def b64d(s: str) -> bytes:
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


@dataclass
class Run:
    vault: kh.Vault
    prefix: str
    rc: int
    steps: dict
    diag: str

    def step(self, name: str) -> dict:
        assert name in self.steps, f"step {name!r} not reached\n{self.diag}"
        return self.steps[name]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    if not rust_bin().exists():
        pytest.fail(f"Rust SDK program not built: {rust_bin()} (cargo build --manifest-path tests/sdk/rust/Cargo.toml)")
    srv = kh.start_server(tmp_path_factory.mktemp("keyhold-rust-keys") / "data")
    try:
        vault = kh.create_vault(srv, kh.unique("kvrsk"))
        oid = kh.mi_file(srv)["object_id"]
        body = {
            "properties": {
                "accessPolicies": [
                    {"tenantId": srv.tenant, "objectId": oid, "permissions": {"keys": KEY_PERMISSIONS}}
                ]
            }
        }
        path = f"{kh.resource_group_id(srv)}/providers/Microsoft.KeyVault/vaults/{vault.name}/accessPolicies/add"
        kh._arm_json(kh.arm_call(srv, "PUT", path, body), f"grant keys to {oid}")
        env = kh.mi_environ(srv.data_dir, ("IDENTITY_ENDPOINT", "IDENTITY_HEADER"))
        env["PATH"] = os.environ.get("PATH", "/usr/bin:/bin")
        prefix = kh.unique("rsk")
        digest = base64.urlsafe_b64encode(DIGEST).rstrip(b"=").decode()
        out = subprocess.run(
            [str(rust_bin()), "keys", vault.url, prefix, digest], env=env, capture_output=True, text=True, timeout=300
        )
        steps = {}
        for line in out.stdout.splitlines():
            if line.startswith("{"):
                doc = json.loads(line)
                steps[doc["step"]] = doc
        diag = f"exit {out.returncode}\nstdout: {out.stdout}\nstderr: {out.stderr}\n{srv.log_tail()}"
        yield Run(vault, prefix, out.returncode, steps, diag)
    finally:
        rc = srv.stop()
        assert rc == 0, srv.log_tail()


def test_program_completes(run: Run) -> None:
    assert run.rc == 0, run.diag
    assert list(run.steps) == [
        "create", "get", "sign_rs256", "sign_es256", "encrypt_decrypt", "wrap_unwrap", "list", "rotate", "update", "delete",
    ], run.diag  # fmt: skip


@pytest.mark.parametrize("step", ["create", "get"])
def test_create_and_get_jwk(run: Run, step: str) -> None:
    doc = run.step(step)
    rsa_jwk, ec_jwk = doc["rsa"], doc["ec"]
    assert rsa_jwk["kid"].startswith(f"{run.vault.url}/keys/{run.prefix}-rsa/"), run.diag
    assert ec_jwk["kid"].startswith(f"{run.vault.url}/keys/{run.prefix}-ec/"), run.diag
    assert rsa_jwk["kty"] == "RSA" and len(b64d(rsa_jwk["n"])) == 256 and b64d(rsa_jwk["e"]) == b"\x01\x00\x01", run.diag
    assert ec_jwk["kty"] == "EC" and ec_jwk["crv"] == "P-256", run.diag
    assert len(b64d(ec_jwk["x"])) == 32 and len(b64d(ec_jwk["y"])) == 32, run.diag
    assert "d" not in rsa_jwk and "d" not in ec_jwk, run.diag
    if step == "get":
        assert doc["rsa"] == run.step("create")["rsa"], run.diag
        assert doc["rsa_enabled"] is True, run.diag


@pytest.mark.parametrize("step", ["sign_rs256", "sign_es256"])
def test_sign_verify_through_the_service(run: Run, step: str) -> None:
    doc = run.step(step)
    which = "rsa" if step == "sign_rs256" else "ec"
    assert doc["kid"] == run.step("create")[which]["kid"], run.diag
    assert len(b64d(doc["signature"])) == (256 if which == "rsa" else 64), run.diag  # ES256: raw r||s
    assert doc["verified"] is True, run.diag
    assert doc["verified_modified"] is False, run.diag


def test_rs256_signature_verifies_locally_against_the_jwk(run: Run) -> None:
    jwk = run.step("create")["rsa"]
    public = rsa.RSAPublicNumbers(int.from_bytes(b64d(jwk["e"]), "big"), int.from_bytes(b64d(jwk["n"]), "big"))
    signature = b64d(run.step("sign_rs256")["signature"])
    public.public_key().verify(signature, DIGEST, padding.PKCS1v15(), utils.Prehashed(hashes.SHA256()))


def test_encrypt_decrypt_and_wrap_unwrap_round_trip(run: Run) -> None:
    enc = run.step("encrypt_decrypt")
    assert enc["kid"] == run.step("create")["rsa"]["kid"], run.diag
    assert enc["ciphertext_len"] == 256 and enc["round_trip"] is True, run.diag
    wrap = run.step("wrap_unwrap")
    assert wrap["wrapped_len"] == 256 and wrap["round_trip"] is True, run.diag


def test_list_shows_created_keys(run: Run) -> None:
    names = run.step("list")["names"]
    assert {f"{run.prefix}-rsa", f"{run.prefix}-ec"} <= set(names), run.diag


def test_rotate_makes_a_new_version(run: Run) -> None:
    doc = run.step("rotate")
    assert doc["new"] and doc["new"] != doc["old"], run.diag
    assert sorted(doc["versions"]) == sorted([doc["old"], doc["new"]]), run.diag


def test_update_disables(run: Run) -> None:
    doc = run.step("update")
    assert doc["enabled"] is False and doc["get_enabled"] is False, run.diag
    assert run.step("create")["rsa"]["kid"].endswith("/" + doc["version"]), run.diag


def test_delete(run: Run) -> None:
    deleted = run.step("delete")["deleted"]
    assert [d["name"] for d in deleted] == [f"{run.prefix}-rsa", f"{run.prefix}-ec"], run.diag
    for d in deleted:
        assert d["kid"].startswith(f"{run.vault.url}/keys/{d['name']}/"), run.diag
        assert d["recovery_id"] == f"{run.vault.url}/deletedkeys/{d['name']}", run.diag
