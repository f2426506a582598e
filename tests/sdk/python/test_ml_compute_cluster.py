"""Azure's "use Key Vault from a training job on a compute cluster" flow (seed 001), end to end.

An Azure Machine Learning workspace and a compute cluster with a system-assigned identity are
created through ARM; the cluster's identity is granted `get` on secrets (by access policy, or by
the Key Vault Secrets User role on an RBAC vault); the server then serves the cluster's identity
(`--host-resource`), and the tutorial's training code runs unchanged in the environment a
compute cluster gives its jobs (`MSI_ENDPOINT` + `MSI_SECRET`, plus `keyhold env`'s CA bundle).
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Iterator

import pytest
from azure.core.exceptions import HttpResponseError

import keyhold_harness as kh

SECRETS_USER = "4633458b-17de-408a-b874-0445c86b69e6"
ML = "Microsoft.MachineLearningServices"


def training_job(vault_url: str, name: str) -> str:
    """The tutorial's training code, verbatim but for the vault URL and the secret's name."""
    from azure.identity import DefaultAzureCredential
    from azure.keyvault.secrets import SecretClient

    credential = DefaultAzureCredential()

    secret_client = SecretClient(vault_url=vault_url, credential=credential)
    secret = secret_client.get_secret(name)
    return secret.value


def put_secret(server: kh.Server, vault: kh.Vault, name: str, value: str) -> None:
    with server.session() as s:
        r = s.put(
            f"{vault.url}/secrets/{name}?api-version=7.4",
            json={"value": value},
            headers={"Authorization": f"Bearer {kh.vault_token(server)}"},
            timeout=kh.HTTP_TIMEOUT,
        )
    assert r.status_code == 200, r.text


def grant(server: kh.Server, vault: kh.Vault, oid: str, mode: str) -> None:
    if mode == "access-policy":
        kh.grant_vault_access(server, vault, oid, secrets=("get",))
        return
    scope = f"{kh.resource_group_id(server)}/providers/Microsoft.KeyVault/vaults/{vault.name}"
    role = f"/subscriptions/{kh.subscription_id(server)}/providers/Microsoft.Authorization/roleDefinitions/{SECRETS_USER}"
    r = kh.arm_call(
        server,
        "PUT",
        f"{scope}/providers/Microsoft.Authorization/roleAssignments/{uuid.uuid4()}",
        {"properties": {"roleDefinitionId": role, "principalId": oid}},
    )
    assert r.status_code == 201, r.text


@pytest.fixture
def cluster_world(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[dict]:
    mode = request.param
    data = tmp_path / "data"
    server = kh.start_server(data)
    try:
        vault = kh.create_vault(server, kh.unique("kvml"))
        # Written while the creator's access policy applies; an RBAC vault needs a data-plane role.
        put_secret(server, vault, "secret-name", "the training secret")
        if mode == "rbac":
            r = kh.arm_call(
                server,
                "PATCH",
                f"{kh.resource_group_id(server)}/providers/Microsoft.KeyVault/vaults/{vault.name}",
                {"properties": {"enableRbacAuthorization": True}},
            )
            assert r.status_code == 200, r.text
        workspace = f"{kh.resource_group_id(server)}/providers/{ML}/workspaces/{kh.unique('ws')}"
        r = kh.arm_call(server, "PUT", workspace, {"location": "westus"})
        assert r.status_code == 201, r.text
        cluster_id = f"{workspace}/computes/cpu-cluster"
        r = kh.arm_call(
            server,
            "PUT",
            cluster_id,
            {"location": "westus", "identity": {"type": "SystemAssigned"}, "properties": {"computeType": "AmlCompute"}},
        )
        assert r.status_code == 201, r.text
        cluster = r.json()
        assert cluster["type"] == f"{ML}/workspaces/computes" and cluster["name"] == "cpu-cluster"
    finally:
        assert server.stop() == 0, server.log_tail()

    # The server now plays the cluster's node: its managed-identity endpoints serve the cluster.
    server = kh.start_server(data, extra_args=("--host-resource", cluster_id))
    try:
        vault_url = f"https://{vault.host}:{server.port}"
        yield {"server": server, "vault": vault, "vault_url": vault_url, "mode": mode, "cluster": cluster}
    finally:
        assert server.stop() == 0, server.log_tail()


@pytest.mark.parametrize("cluster_world", ["access-policy", "rbac"], indirect=True)
def test_training_job_reads_the_secret_as_the_cluster(cluster_world: dict) -> None:
    server, vault = cluster_world["server"], cluster_world["vault"]
    oid = cluster_world["cluster"]["identity"]["principalId"]
    env = kh.mi_environ(server.data_dir, ("MSI_ENDPOINT", "MSI_SECRET"))
    with kh.process_environ(env):
        # Deny by default: the cluster's identity is not yet granted.
        with pytest.raises(HttpResponseError) as denied:
            training_job(cluster_world["vault_url"], "secret-name")
        assert denied.value.status_code == 403

        grant(server, vault, oid, cluster_world["mode"])
        assert training_job(cluster_world["vault_url"], "secret-name") == "the training secret"

        from azure.identity import DefaultAzureCredential

        token = DefaultAzureCredential().get_token(f"{server.vault_resource}/.default").token
    _, claims, _ = kh.jwt_parts(token)
    assert claims["oid"] == oid
    assert claims["xms_mirid"].lower() == cluster_world["cluster"]["id"].lower()
