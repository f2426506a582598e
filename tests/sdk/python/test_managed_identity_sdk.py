"""azure-identity's ManagedIdentityCredential and DefaultAzureCredential against keyhold's
managed-identity endpoints, with the official SecretClient.

The process environment of every test is `keyhold env` (no service principal) + PATH,
minus the managed-identity variables of the other sources, so the SDK picks its source
from what is left (wire-protocol §4.1):

    imds        AZURE_POD_IDENTITY_AUTHORITY_HOST           GET /metadata/identity/oauth2/token
    appservice  IDENTITY_ENDPOINT + IDENTITY_HEADER         GET /msi/token, X-IDENTITY-HEADER
    azureml     MSI_ENDPOINT + MSI_SECRET (2017-09-01)      GET /msi/token, secret
    cloudshell  MSI_ENDPOINT only                           POST /msi/token, form resource=

No client option is changed. Each test reads and writes a secret through
`SecretClient(vault_url, credential)` on a vault where only the managed identity under test
has been granted access (identities are deny-by-default), and checks that the token's `oid`
is that identity's object id.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Callable, Iterator

import pytest
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError
from azure.identity import CredentialUnavailableError, DefaultAzureCredential, ManagedIdentityCredential
from azure.keyvault.secrets import SecretClient

import keyhold_harness as kh

SOURCES = {
    "imds": ("AZURE_POD_IDENTITY_AUTHORITY_HOST",),
    "appservice": ("IDENTITY_ENDPOINT", "IDENTITY_HEADER"),
    "azureml": ("MSI_ENDPOINT", "MSI_SECRET"),
    "cloudshell": ("MSI_ENDPOINT",),
}
FAIL_FAST_SECS = 10.0


@dataclass
class MiWorld:
    server: kh.Server
    vault: kh.Vault
    system: dict  # mi.json
    attached: kh.UserAssignedIdentity  # attached to the host VM, granted on the vault
    stranger: kh.UserAssignedIdentity  # granted on the vault, NOT attached to the host
    ungranted: kh.Vault  # a vault nobody but the admin may use


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MiWorld]:
    root = tmp_path_factory.mktemp("keyhold-mi")
    srv = kh.start_server(root / "data")
    try:
        vault = kh.create_vault(srv, kh.unique("kvmi"))
        ungranted = kh.create_vault(srv, kh.unique("kvno"))
        system = kh.mi_file(srv)
        attached = kh.create_user_assigned_identity(srv, kh.unique("uai-attached"))
        stranger = kh.create_user_assigned_identity(srv, kh.unique("uai-stranger"))
        vm = kh.attach_user_assigned(srv, [attached])
        assert attached.id in vm["identity"]["userAssignedIdentities"], vm
        for oid in (system["object_id"], attached.principal_id, stranger.principal_id):
            kh.grant_vault_access(srv, vault, oid)
        yield MiWorld(srv, vault, system, attached, stranger, ungranted)
    finally:
        rc = srv.stop()
        assert rc == 0, srv.log_tail()


@pytest.fixture
def mi_env(world: MiWorld) -> Iterator[Callable[..., dict]]:
    """mi_env(source, **extra): enter (for the rest of the test) an environment of exactly
    `keyhold env` + PATH with only `source`'s managed-identity variables (+ `extra`)."""
    stack: list = []

    def enter(source: str, **extra: str) -> dict:
        env = kh.mi_environ(world.server.data_dir, SOURCES[source])
        env.update(extra)
        cm = kh.process_environ(env)
        cm.__enter__()
        stack.append(cm)
        return env

    yield enter
    while stack:
        stack.pop().__exit__(None, None, None)


def scope(world: MiWorld) -> str:
    return f"{world.server.vault_resource}/.default"


def token_oid(credential, world: MiWorld) -> str:
    token = credential.get_token(scope(world)).token
    _, claims, _ = kh.jwt_parts(token)
    return claims["oid"]


def roundtrip(credential, world: MiWorld, label: str) -> None:
    """Write then read a secret through the official SecretClient with `credential`."""
    client = SecretClient(world.vault.url, credential)
    name = kh.unique(f"mi-{label}")
    value = f"value of {name}"
    stored = client.set_secret(name, value)
    assert stored.value == value
    got = client.get_secret(name)
    assert got.value == value and got.properties.version == stored.properties.version


def assert_identity_works(credential, world: MiWorld, expected_oid: str, label: str) -> None:
    assert token_oid(credential, world) == expected_oid
    roundtrip(credential, world, label)


# --------------------------------------------------------------------------- system-assigned


@pytest.mark.parametrize("source", list(SOURCES))
def test_managed_identity_credential_system_assigned(world: MiWorld, mi_env, source: str) -> None:
    mi_env(source)
    assert_identity_works(ManagedIdentityCredential(), world, world.system["object_id"], source)


@pytest.mark.parametrize("source", ["imds", "appservice", "azureml"])
def test_default_azure_credential_system_assigned(world: MiWorld, mi_env, source: str) -> None:
    env = mi_env(source)
    assert "AZURE_CLIENT_ID" not in env and "AZURE_CLIENT_SECRET" not in env
    assert_identity_works(DefaultAzureCredential(), world, world.system["object_id"], f"dac-{source}")


def test_default_azure_credential_imds_only_pod_identity_host(world: MiWorld, mi_env) -> None:
    """Only AZURE_POD_IDENTITY_AUTHORITY_HOST (no service-principal variables, no other MI source):
    DefaultAzureCredential's ImdsCredential gets the token; the vault accepts it."""
    env = mi_env("imds")
    for name in ("AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "AZURE_CLIENT_CERTIFICATE_PATH", "AZURE_FEDERATED_TOKEN_FILE",
                 "IDENTITY_ENDPOINT", "MSI_ENDPOINT"):
        assert name not in env
    credential = DefaultAzureCredential()
    assert_identity_works(credential, world, world.system["object_id"], "dac-probe")
    # The chain settled on the managed identity credential.
    assert type(credential._successful_credential).__name__ in ("ManagedIdentityCredential", "ImdsCredential")


def test_default_azure_credential_imds_probe_against_keyhold(world: MiWorld, mi_env, caplog) -> None:
    """DefaultAzureCredential's IMDS probe (a GET without `Metadata`, 1 s timeout, no retries) is only
    sent when AZURE_POD_IDENTITY_AUTHORITY_HOST is absent when the credential is built (azure-identity
    `ImdsCredential.__init__`); the probe and the token request read the variable when they are sent.
    So: build DAC without it, then set it, and keyhold's IMDS answers both the probe (400, which counts
    as "IMDS is there") and the token request."""
    env = mi_env("imds")
    pod_host = env.pop("AZURE_POD_IDENTITY_AUTHORITY_HOST")
    del os.environ["AZURE_POD_IDENTITY_AUTHORITY_HOST"]
    credential = DefaultAzureCredential()
    os.environ["AZURE_POD_IDENTITY_AUTHORITY_HOST"] = pod_host
    with caplog.at_level("INFO", logger="azure.core.pipeline.policies.http_logging_policy"):
        assert token_oid(credential, world) == world.system["object_id"]
    imds = [r.getMessage() for r in caplog.records if "/metadata/identity/oauth2/token" in r.getMessage()]
    probes = [m for m in imds if "'Metadata'" not in m]
    assert probes and len(imds) > len(probes), imds
    roundtrip(credential, world, "dac-probe-sent")


def test_imds_probe_requests_get_400(world: MiWorld) -> None:
    """What the probes get from keyhold's IMDS (wire-protocol §4.4): 400 invalid_request, not 404
    (retried) and not a hang; Python's probe has the token query, JS's has none."""
    base = kh.keyhold_env(world.server.data_dir)["AZURE_POD_IDENTITY_AUTHORITY_HOST"].rstrip("/")
    with kh.requests.Session() as s:
        s.trust_env = False
        for url in (
            f"{base}/metadata/identity/oauth2/token?api-version=2018-02-01&resource={world.server.vault_resource}",
            f"{base}/metadata/identity/oauth2/token",
        ):
            resp = s.get(url, headers={"Accept": "application/json"}, timeout=5)
            assert resp.status_code == 400, (url, resp.status_code, resp.text)
            assert resp.json() == {
                "error": "invalid_request",
                "error_description": "Required metadata header not specified",
            }, resp.text


def test_system_identity_is_denied_on_a_vault_without_a_grant(world: MiWorld, mi_env) -> None:
    """Control: the token is accepted, but without an access policy the identity gets 403."""
    mi_env("imds")
    client = SecretClient(world.ungranted.url, ManagedIdentityCredential())
    with pytest.raises(HttpResponseError) as err:
        client.get_secret(kh.unique("nope"))
    assert err.value.status_code == 403, err.value


# --------------------------------------------------------------------------- user-assigned


SELECTORS = {
    # name -> (ManagedIdentityCredential kwargs builder, sources that support it)
    "client_id": (lambda u: {"client_id": u.client_id}, ("imds", "appservice", "azureml")),
    "identity_config_client_id": (lambda u: {"identity_config": {"client_id": u.client_id}}, ("imds", "appservice", "azureml")),
    "object_id": (lambda u: {"identity_config": {"object_id": u.principal_id}}, ("imds", "appservice")),
    "resource_id": (lambda u: {"identity_config": {"resource_id": u.id}}, ("imds", "appservice")),
}
SELECTOR_CASES = [(sel, src) for sel, (_, sources) in SELECTORS.items() for src in sources]


@pytest.mark.parametrize(("selector", "source"), SELECTOR_CASES)
def test_user_assigned_selection(world: MiWorld, mi_env, selector: str, source: str) -> None:
    mi_env(source)
    kwargs = SELECTORS[selector][0](world.attached)
    credential = ManagedIdentityCredential(**kwargs)
    assert_identity_works(credential, world, world.attached.principal_id, f"{selector}-{source}".replace("_", "-"))
    assert world.attached.principal_id != world.system["object_id"]


@pytest.mark.parametrize("source", ["imds", "appservice", "azureml"])
def test_default_azure_credential_with_azure_client_id_alone(world: MiWorld, mi_env, source: str) -> None:
    """A lone AZURE_CLIENT_ID (no secret) makes DAC's managed identity request user-assigned."""
    mi_env(source, AZURE_CLIENT_ID=world.attached.client_id)
    assert_identity_works(DefaultAzureCredential(), world, world.attached.principal_id, f"dac-uai-{source}")


@pytest.mark.parametrize(("selector", "source"), SELECTOR_CASES)
def test_identity_not_attached_to_the_host_fails_fast(world: MiWorld, mi_env, selector: str, source: str) -> None:
    """An identity that exists (and even has vault access) but is not attached to the host: keyhold
    answers 400, the SDK raises an authentication error quickly (no retries, no hang)."""
    mi_env(source)
    credential = ManagedIdentityCredential(**SELECTORS[selector][0](world.stranger))
    client = SecretClient(world.vault.url, credential)
    started = time.monotonic()
    with pytest.raises(CredentialUnavailableError) as err:
        client.get_secret(kh.unique("stranger"))
    elapsed = time.monotonic() - started
    assert elapsed < FAIL_FAST_SECS, f"took {elapsed:.1f}s: {err.value}"
    if source != "appservice":
        # keyhold's 400 {"error":"invalid_request","error_description":"Identity not found"}. MSAL's
        # App Service path reads only statusCode/message from an error body, so it says "None, None".
        assert "Identity not found" in str(err.value), err.value


def test_dac_with_unattached_azure_client_id_fails_fast(world: MiWorld, mi_env) -> None:
    mi_env("imds", AZURE_CLIENT_ID=world.stranger.client_id)
    client = SecretClient(world.vault.url, DefaultAzureCredential())
    started = time.monotonic()
    with pytest.raises(ClientAuthenticationError) as err:
        client.get_secret(kh.unique("stranger"))
    elapsed = time.monotonic() - started
    assert elapsed < FAIL_FAST_SECS, f"took {elapsed:.1f}s: {err.value}"
    assert "ManagedIdentityCredential" in str(err.value) and "Identity not found" in str(err.value), err.value


def test_managed_identity_credential_unavailable_error_type(world: MiWorld, mi_env) -> None:
    """The 400 'identity not found' maps to CredentialUnavailableError (so a chain moves on)."""
    mi_env("imds")
    started = time.monotonic()
    with pytest.raises(CredentialUnavailableError):
        ManagedIdentityCredential(client_id=world.stranger.client_id).get_token(scope(world))
    assert time.monotonic() - started < FAIL_FAST_SECS
