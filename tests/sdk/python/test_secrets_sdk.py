"""The official azure-keyvault-secrets client against keyhold, configured only by `keyhold env`.

Every test runs with os.environ replaced by exactly the output of
`keyhold env --service-principal` (+ PATH) and uses
`SecretClient(vault_url, DefaultAzureCredential())` with no option changed.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest
from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError
from azure.identity import DefaultAzureCredential
from azure.keyvault.secrets import SecretClient

import keyhold_harness as kh

VERSION_RE = re.compile(r"[0-9a-f]{32}")


@pytest.fixture
def client(vault: kh.Vault, sdk_environ: dict) -> SecretClient:
    return SecretClient(vault.url, DefaultAzureCredential())


def whole_seconds(dt: datetime) -> datetime:
    return dt.replace(microsecond=0)


def test_set_and_get_with_properties(client: SecretClient, vault: kh.Vault) -> None:
    name = kh.unique("full")
    nbf = whole_seconds(datetime.now(timezone.utc) - timedelta(hours=1))
    exp = whole_seconds(datetime.now(timezone.utc) + timedelta(days=30))
    secret = client.set_secret(
        name,
        "s3cr3t value ✓",
        content_type="text/plain",
        tags={"env": "test", "owner": "keyhold"},
        enabled=True,
        not_before=nbf,
        expires_on=exp,
    )
    assert secret.name == name
    assert secret.value == "s3cr3t value ✓"
    props = secret.properties
    assert VERSION_RE.fullmatch(props.version), props.version
    assert props.id == f"{vault.url}/secrets/{name}/{props.version}"
    assert props.vault_url.rstrip("/") == vault.url
    assert props.content_type == "text/plain"
    assert props.tags == {"env": "test", "owner": "keyhold"}
    assert props.enabled is True
    assert props.not_before == nbf
    assert props.expires_on == exp
    assert props.created_on is not None and props.updated_on is not None
    assert abs((props.created_on - datetime.now(timezone.utc)).total_seconds()) < 120
    assert props.recovery_level == "Recoverable+Purgeable"
    assert props.recoverable_days == 90

    latest = client.get_secret(name)
    assert latest.value == "s3cr3t value ✓"
    assert latest.properties.version == props.version
    assert latest.properties.tags == {"env": "test", "owner": "keyhold"}
    assert latest.properties.not_before == nbf and latest.properties.expires_on == exp

    by_version = client.get_secret(name, props.version)
    assert by_version.value == "s3cr3t value ✓"
    assert by_version.id == props.id


def test_versions(client: SecretClient) -> None:
    name = kh.unique("ver")
    v1 = client.set_secret(name, "one")
    v2 = client.set_secret(name, "two")
    v3 = client.set_secret(name, "three")
    versions = [v.properties.version for v in (v1, v2, v3)]
    assert len(set(versions)) == 3

    assert client.get_secret(name).value == "three"
    assert client.get_secret(name).properties.version == versions[2]
    assert client.get_secret(name, versions[0]).value == "one"
    assert client.get_secret(name, versions[1]).value == "two"

    listed = list(client.list_properties_of_secret_versions(name))
    assert sorted(p.version for p in listed) == sorted(versions)
    for p in listed:
        assert p.name == name
        assert p.id == f"{client.vault_url.rstrip('/')}/secrets/{name}/{p.version}"

    # Versions list pages too.
    pages = [list(page) for page in client.list_properties_of_secret_versions(name, max_page_size=1).by_page()]
    assert [len(p) for p in pages] == [1, 1, 1]

    with pytest.raises(ResourceNotFoundError):
        client.get_secret(name, "0" * 32)


def test_update_secret_properties(client: SecretClient) -> None:
    name = kh.unique("upd")
    first = client.set_secret(name, "v1", content_type="text/plain", tags={"a": "1"})
    second = client.set_secret(name, "v2", tags={"b": "2"})

    exp = whole_seconds(datetime.now(timezone.utc) + timedelta(days=7))
    updated = client.update_secret_properties(name, content_type="application/json", tags={"c": "3"}, expires_on=exp)
    assert updated.version == second.properties.version
    assert updated.content_type == "application/json"
    assert updated.tags == {"c": "3"}
    assert updated.expires_on == exp
    assert updated.updated_on >= updated.created_on

    got = client.get_secret(name)
    assert got.value == "v2"  # the value is untouched
    assert got.properties.content_type == "application/json"
    assert got.properties.tags == {"c": "3"}

    # A specific older version; fields not sent stay as they were.
    old = client.update_secret_properties(name, first.properties.version, tags={"old": "yes"})
    assert old.version == first.properties.version
    assert old.tags == {"old": "yes"}
    assert old.content_type == "text/plain"
    assert client.get_secret(name, first.properties.version).properties.tags == {"old": "yes"}
    assert client.get_secret(name).properties.tags == {"c": "3"}


def test_disabled_secret_get_is_forbidden(client: SecretClient) -> None:
    name = kh.unique("off")
    client.set_secret(name, "hidden")
    props = client.update_secret_properties(name, enabled=False)
    assert props.enabled is False
    with pytest.raises(HttpResponseError) as info:
        client.get_secret(name)
    assert info.value.status_code == 403
    assert info.value.error is not None and info.value.error.code == "Forbidden"
    # Properties stay visible in listings, and re-enabling restores access.
    listed = {p.name: p for p in client.list_properties_of_secrets()}
    assert listed[name].enabled is False
    client.update_secret_properties(name, enabled=True)
    assert client.get_secret(name).value == "hidden"


def test_list_properties_paging(client: SecretClient, vault: kh.Vault) -> None:
    names = sorted(kh.unique(f"page{i}") for i in range(5))
    for n in names:
        client.set_secret(n, f"value-of-{n}", tags={"n": n})
    pages = [list(page) for page in client.list_properties_of_secrets(max_page_size=2).by_page()]
    assert len(pages) >= 3, [len(p) for p in pages]
    assert all(1 <= len(p) <= 2 for p in pages), [len(p) for p in pages]
    seen = [p.name for page in pages for p in page]
    assert sorted(seen) == names, "every secret exactly once"
    for page in pages:
        for p in page:
            assert p.id == f"{vault.url}/secrets/{p.name}"
            assert p.tags == {"n": p.name}
            assert p.enabled is True


def test_delete_get_deleted_list_deleted_recover(client: SecretClient) -> None:
    name = kh.unique("del")
    created = client.set_secret(name, "bring-me-back", tags={"t": "1"})
    poller = client.begin_delete_secret(name)
    poller.wait()
    assert poller.done()
    deleted = poller.result()
    assert deleted.name == name
    assert deleted.recovery_id == f"{client.vault_url.rstrip('/')}/deletedsecrets/{name}"

    got = client.get_deleted_secret(name)
    assert got.name == name
    assert got.properties.version == created.properties.version
    assert got.deleted_date is not None and got.scheduled_purge_date is not None
    days = (got.scheduled_purge_date - got.deleted_date).total_seconds() / 86400
    assert 89.9 < days < 90.1, days
    assert name in {d.name for d in client.list_deleted_secrets()}

    with pytest.raises(ResourceNotFoundError):
        client.get_secret(name)
    assert name not in {p.name for p in client.list_properties_of_secrets()}

    recovered = client.begin_recover_deleted_secret(name)
    recovered.wait()
    assert recovered.result().name == name
    back = client.get_secret(name)
    assert back.value == "bring-me-back"
    assert back.properties.version == created.properties.version
    assert back.properties.tags == {"t": "1"}
    with pytest.raises(ResourceNotFoundError):
        client.get_deleted_secret(name)
    assert name not in {d.name for d in client.list_deleted_secrets()}


def test_set_on_soft_deleted_name_conflicts(client: SecretClient) -> None:
    name = kh.unique("conf")
    first = client.set_secret(name, "first")
    client.begin_delete_secret(name).wait()
    with pytest.raises(ResourceExistsError) as info:
        client.set_secret(name, "second")
    assert info.value.status_code == 409
    assert info.value.error is not None and info.value.error.code == "Conflict"
    # Nothing was stored by the rejected request.
    with pytest.raises(ResourceNotFoundError):
        client.get_secret(name)
    assert client.get_deleted_secret(name).properties.version == first.properties.version
    client.begin_recover_deleted_secret(name).wait()
    assert client.get_secret(name).value == "first"
    assert [p.version for p in client.list_properties_of_secret_versions(name)] == [first.properties.version]


def test_purge_after_delete(client: SecretClient) -> None:
    name = kh.unique("purge")
    client.set_secret(name, "gone soon")
    client.begin_delete_secret(name).wait()
    assert client.purge_deleted_secret(name) is None
    with pytest.raises(ResourceNotFoundError):
        client.get_deleted_secret(name)
    with pytest.raises(ResourceNotFoundError):
        client.get_secret(name)
    assert name not in {d.name for d in client.list_deleted_secrets()}
    # The name is free again.
    again = client.set_secret(name, "reborn")
    assert client.get_secret(name).value == "reborn"
    assert again.properties.version is not None


def test_purge_of_live_secret_is_not_found(client: SecretClient) -> None:
    name = kh.unique("live")
    client.set_secret(name, "alive")
    with pytest.raises(ResourceNotFoundError):
        client.purge_deleted_secret(name)
    assert client.get_secret(name).value == "alive"


def test_backup_and_restore(client: SecretClient) -> None:
    name = kh.unique("bak")
    v1 = client.set_secret(name, "old", content_type="text/plain")
    v2 = client.set_secret(name, "new", tags={"x": "y"})
    blob = client.backup_secret(name)
    assert isinstance(blob, bytes) and len(blob) > 0

    with pytest.raises(ResourceExistsError) as info:
        client.restore_secret_backup(blob)
    assert info.value.status_code == 409

    client.begin_delete_secret(name).wait()
    client.purge_deleted_secret(name)
    with pytest.raises(ResourceNotFoundError):
        client.get_secret(name)

    restored = client.restore_secret_backup(blob)
    assert restored.name == name
    assert restored.version == v2.properties.version
    got = client.get_secret(name)
    assert got.value == "new"
    assert got.properties.tags == {"x": "y"}
    # All versions come back with their ids (Azure's restore semantics).
    assert client.get_secret(name, v1.properties.version).value == "old"
    versions = {p.version for p in client.list_properties_of_secret_versions(name)}
    assert versions == {v1.properties.version, v2.properties.version}


def test_not_found(client: SecretClient) -> None:
    name = kh.unique("nope")
    with pytest.raises(ResourceNotFoundError) as info:
        client.get_secret(name)
    assert info.value.status_code == 404
    assert info.value.error is not None and info.value.error.code == "SecretNotFound"
    with pytest.raises(ResourceNotFoundError):
        client.get_deleted_secret(name)
    with pytest.raises(ResourceNotFoundError):
        client.update_secret_properties(name, tags={"a": "b"})
    with pytest.raises(ResourceNotFoundError):
        client.backup_secret(name)
    with pytest.raises(ResourceNotFoundError):
        client.begin_recover_deleted_secret(name).wait()
    with pytest.raises(ResourceNotFoundError):
        client.begin_delete_secret(name).wait()
    with pytest.raises(ResourceNotFoundError):
        client.purge_deleted_secret(name)
