"""The official Rust SDK's ManagedIdentityCredential (azure_identity 1.0.0) with SecretClient
(azure_security_keyvault_secrets 1.0.1) against keyhold's App Service endpoint.

The program (src/main.rs, built by tools/test-all.sh's rust-sdk stage) runs with an environment
that is exactly `keyhold env` (no service principal) + PATH, minus the IMDS and MSI_* variables:
`IDENTITY_ENDPOINT` + `IDENTITY_HEADER` select the App Service source, `SSL_CERT_FILE` makes it
trust keyhold's CA, and the vault host is pinned in /etc/hosts. It takes a token (whose `oid` it
reports), then set_secret/get_secret through SecretClient with default options.

Rust 1.0.0 cannot use keyhold's IMDS endpoint: its IMDS URL is the constant
http://169.254.169.254/metadata/identity/oauth2/token (no AZURE_POD_IDENTITY_AUTHORITY_HOST), and
MSI_ENDPOINT/MSI_SECRET sources are "isn't supported" (wire-protocol §4.1).
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest

import keyhold_harness as kh

FAIL_FAST_SECS = 10.0


def rust_bin() -> Path:
    raw = os.environ.get("RUST_SDK_BIN", ".cache/rust-sdk-target/debug/keyhold-rust-sdk-tests")
    path = Path(raw)
    return path if path.is_absolute() else kh.REPO_ROOT / path


@dataclass
class World:
    server: kh.Server
    vault: kh.Vault
    ungranted: kh.Vault
    system: dict
    attached: kh.UserAssignedIdentity
    stranger: kh.UserAssignedIdentity
    env: dict


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    if not rust_bin().exists():
        pytest.fail(f"Rust SDK program not built: {rust_bin()} (cargo build --manifest-path tests/sdk/rust/Cargo.toml)")
    srv = kh.start_server(tmp_path_factory.mktemp("keyhold-rust-mi") / "data")
    try:
        vault = kh.create_vault(srv, kh.unique("kvrs"))
        ungranted = kh.create_vault(srv, kh.unique("kvrsno"))
        system = kh.mi_file(srv)
        attached = kh.create_user_assigned_identity(srv, kh.unique("rs-uai-attached"))
        stranger = kh.create_user_assigned_identity(srv, kh.unique("rs-uai-stranger"))
        kh.attach_user_assigned(srv, [attached])
        for oid in (system["object_id"], attached.principal_id, stranger.principal_id):
            kh.grant_vault_access(srv, vault, oid)
        env = kh.mi_environ(srv.data_dir, ("IDENTITY_ENDPOINT", "IDENTITY_HEADER"))
        assert env["SSL_CERT_FILE"].endswith("ca-bundle.pem")
        env["PATH"] = os.environ.get("PATH", "/usr/bin:/bin")
        yield World(srv, vault, ungranted, system, attached, stranger, env)
    finally:
        rc = srv.stop()
        assert rc == 0, srv.log_tail()


def run(world: World, *selector: str, vault: kh.Vault | None = None) -> tuple[int, dict, str, float]:
    vault = vault or world.vault
    name = kh.unique("rs")
    args = [str(rust_bin()), vault.url, name, f"{world.server.vault_resource}/.default", *selector]
    started = time.monotonic()
    out = subprocess.run(args, env=world.env, capture_output=True, text=True, timeout=180)
    elapsed = time.monotonic() - started
    lines = out.stdout.strip().splitlines()
    try:
        result = json.loads(lines[-1]) if lines else {}
    except ValueError:
        result = {}
    diag = f"exit {out.returncode}\nstdout: {out.stdout}\nstderr: {out.stderr}\n{world.server.log_tail()}"
    if out.returncode == 0:
        assert result.get("value") == f"rust-mi-{name}", diag
        assert result["got_id"].startswith(f"{vault.url}/secrets/{name}/"), diag
    return out.returncode, result, diag, elapsed


def test_system_assigned_via_app_service(world: World) -> None:
    rc, result, diag, _ = run(world)
    assert rc == 0, diag
    assert result["oid"] == world.system["object_id"], diag


@pytest.mark.parametrize("selector", ["client_id", "object_id"])
def test_user_assigned_via_app_service(world: World, selector: str) -> None:
    value = {"client_id": world.attached.client_id, "object_id": world.attached.principal_id}[selector]
    rc, result, diag, _ = run(world, f"{selector}={value}")
    assert rc == 0, diag
    assert result["oid"] == world.attached.principal_id != world.system["object_id"], diag


def test_user_assigned_resource_id_is_refused_by_the_sdk(world: World) -> None:
    """azure_identity 1.0.0 refuses UserAssignedId::ResourceId for App Service before sending anything
    (it would send the wrong query parameter, azure-sdk-for-rust#2407). Pinned here so that a newer
    SDK that lifts the limitation shows up."""
    rc, _, diag, _ = run(world, f"resource_id={world.attached.id}")
    assert rc == 1, diag
    assert "resource IDs aren't supported for App Service" in diag, diag


@pytest.mark.parametrize("selector", ["client_id", "object_id"])
def test_identity_not_attached_fails_fast(world: World, selector: str) -> None:
    value = {"client_id": world.stranger.client_id, "object_id": world.stranger.principal_id}[selector]
    rc, result, diag, elapsed = run(world, f"{selector}={value}")
    assert rc == 3, diag
    assert elapsed < FAIL_FAST_SECS, f"took {elapsed:.1f}s\n{diag}"
    assert result["elapsed_ms"] < FAIL_FAST_SECS * 1000, diag
    # azure_identity's wording for a 400 from the managed-identity endpoint.
    assert result["kind"] == "Credential", diag
    assert "requested identity has not been assigned to this resource" in result["error"], diag


def test_control_no_access_policy_is_403(world: World) -> None:
    """The system identity on a vault where it has no access policy: the SDK call fails with 403."""
    rc, _, diag, _ = run(world, vault=world.ungranted)
    assert rc == 1, diag
    assert "403" in diag or "Forbidden" in diag, diag
