"""The official management SDKs (azure-mgmt-keyvault, azure-mgmt-authorization) drive keyhold's ARM
plane. Only `base_url` and the credential's scope point at keyhold; everything else is the SDK's own."""

from __future__ import annotations

import uuid

import pytest
from azure.core.exceptions import ResourceNotFoundError
from azure.identity import ClientSecretCredential
from azure.mgmt.authorization import AuthorizationManagementClient
from azure.mgmt.authorization.models import RoleAssignmentCreateParameters
from azure.mgmt.keyvault import KeyVaultManagementClient
from azure.mgmt.keyvault.models import (
    AccessPolicyEntry,
    Permissions,
    Sku,
    VaultAccessPolicyParameters,
    VaultAccessPolicyProperties,
    VaultCreateOrUpdateParameters,
    VaultProperties,
)

import keyhold_harness as kh


def _credential(server: kh.Server) -> ClientSecretCredential:
    return ClientSecretCredential(
        server.tenant,
        server.admin["appId"],
        server.admin["password"],
        authority=server.url,
        disable_instance_discovery=True,
        connection_verify=str(server.ca_bundle),
    )


def _subscription(server: kh.Server) -> str:
    token = kh.admin_token(server)
    with server.session() as s:
        resp = s.get(f"{server.url}/subscriptions", params={"api-version": "2022-12-01"}, headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 200, resp.text
    return resp.json()["value"][0]["subscriptionId"]


def _client(server: kh.Server, cls):
    return cls(
        _credential(server),
        _subscription(server),
        base_url=server.url,
        credential_scopes=[f"{server.url}/.default"],
        connection_verify=str(server.ca_bundle),
    )


def _resource_group(server: kh.Server, name: str) -> None:
    token = kh.admin_token(server)
    sub = _subscription(server)
    with server.session() as s:
        resp = s.put(
            f"{server.url}/subscriptions/{sub}/resourceGroups/{name}",
            params={"api-version": "2022-09-01"},
            json={"location": "westus"},
            headers={"Authorization": f"Bearer {token}"},
        )
    assert resp.status_code in (200, 201), resp.text


def _vault_client(server: kh.Server, name: str) -> kh.Vault:
    host = f"{name}.{server.dns_suffix}"
    kh.pin_host(host)
    return kh.Vault(name=name, url=f"https://{host}:{server.port}", host=host, info={})


@pytest.fixture
def group(server: kh.Server) -> str:
    name = kh.unique("rg")
    _resource_group(server, name)
    return name


def test_keyvault_management_sdk_lifecycle(server: kh.Server, group: str) -> None:
    client = _client(server, KeyVaultManagementClient)
    name = kh.unique("kvm")
    params = VaultCreateOrUpdateParameters(
        location="westus",
        properties=VaultProperties(tenant_id=server.tenant, sku=Sku(family="A", name="standard"), access_policies=[]),
    )
    created = client.vaults.begin_create_or_update(group, name, params).result()
    assert created.name == name
    assert created.properties.vault_uri == f"https://{name}.{server.dns_suffix}:{server.port}/"
    assert created.properties.enable_soft_delete is True
    assert client.vaults.get(group, name).properties.tenant_id == server.tenant
    assert name in [v.name for v in client.vaults.list_by_resource_group(group)]

    # Access policy through the SDK: a new principal gets get + list, and that is what it can do.
    sp = kh.create_service_principal(server)
    entry = AccessPolicyEntry(tenant_id=server.tenant, object_id=sp["objectId"], permissions=Permissions(secrets=["get", "list"]))
    updated = client.vaults.update_access_policy(
        group, name, "add", VaultAccessPolicyParameters(properties=VaultAccessPolicyProperties(access_policies=[entry]))
    )
    assert [p.object_id for p in updated.properties.access_policies] == [sp["objectId"]]
    policies = client.vaults.get(group, name).properties.access_policies
    assert sorted(policies[0].permissions.secrets) == ["get", "list"]
    vault = _vault_client(server, name)
    sp_token = kh.vault_token(server, sp)
    assert kh.vault_request(server, vault, "GET", "secrets", sp_token).status_code == 200
    assert kh.vault_request(server, vault, "PUT", "secrets/x", sp_token, json_body={"value": "v"}).status_code == 403

    client.vaults.update_access_policy(
        group, name, "remove", VaultAccessPolicyParameters(properties=VaultAccessPolicyProperties(access_policies=[entry]))
    )
    assert client.vaults.get(group, name).properties.access_policies == []
    assert kh.vault_request(server, vault, "GET", "secrets", sp_token).status_code == 403

    client.vaults.delete(group, name)
    with pytest.raises(ResourceNotFoundError):
        client.vaults.get(group, name)
    deleted = client.vaults.get_deleted(name, "westus")
    assert deleted.properties.vault_id.endswith(f"/vaults/{name}")
    client.vaults.begin_purge_deleted(name, "westus").result()
    with pytest.raises(ResourceNotFoundError):
        client.vaults.get_deleted(name, "westus")


def test_authorization_sdk_role_assignment_grants_and_revokes(server: kh.Server, group: str) -> None:
    kv = _client(server, KeyVaultManagementClient)
    auth = _client(server, AuthorizationManagementClient)
    name = kh.unique("kvr")
    params = VaultCreateOrUpdateParameters(
        location="westus",
        properties=VaultProperties(
            tenant_id=server.tenant, sku=Sku(family="A", name="standard"), access_policies=[], enable_rbac_authorization=True
        ),
    )
    vault_id = kv.vaults.begin_create_or_update(group, name, params).result().id
    roles = list(auth.role_definitions.list(vault_id, filter="roleName eq 'Key Vault Secrets User'"))
    assert [r.id.rsplit("/", 1)[1] for r in roles] == ["4633458b-17de-408a-b874-0445c86b69e6"]
    admin_role = list(auth.role_definitions.list(vault_id, filter="roleName eq 'Key Vault Administrator'"))[0]
    auth.role_assignments.create(
        vault_id,
        str(uuid.uuid4()),
        RoleAssignmentCreateParameters(role_definition_id=admin_role.id, principal_id=server.admin["objectId"], principal_type="ServicePrincipal"),
    )
    vault = _vault_client(server, name)
    kh.set_secret_raw(server, vault, kh.vault_token(server), "db", "s3cret")

    sp = kh.create_service_principal(server)
    sp_token = kh.vault_token(server, sp)
    assert kh.vault_request(server, vault, "GET", "secrets/db", sp_token).status_code == 403

    assignment_name = str(uuid.uuid4())
    created = auth.role_assignments.create(
        vault_id,
        assignment_name,
        RoleAssignmentCreateParameters(role_definition_id=roles[0].id, principal_id=sp["objectId"], principal_type="ServicePrincipal"),
    )
    assert created.principal_id == sp["objectId"]
    assert created.scope == vault_id
    resp = kh.vault_request(server, vault, "GET", "secrets/db", sp_token)
    assert resp.status_code == 200 and resp.json()["value"] == "s3cret", resp.text
    assert assignment_name in [a.name for a in auth.role_assignments.list_for_scope(vault_id)]

    auth.role_assignments.delete(vault_id, assignment_name)
    assert assignment_name not in [a.name for a in auth.role_assignments.list_for_scope(vault_id)]
    assert kh.vault_request(server, vault, "GET", "secrets/db", sp_token).status_code == 403
