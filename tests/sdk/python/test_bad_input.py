"""Raw data-plane requests with a valid token: bad input is refused with 400 BadParameter
and nothing is stored; plus the exact wire shapes the SDKs depend on (wire-protocol §7)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

import keyhold_harness as kh


def assert_bad_parameter(resp) -> None:
    assert resp.status_code == 400, f"want 400, got {resp.status_code}: {resp.text}"
    assert resp.headers.get("Content-Type", "").startswith("application/json"), resp.headers
    body = resp.json()
    assert body["error"]["code"] == "BadParameter", body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"], body


def list_names(server: kh.Server, vault: kh.Vault, token: str) -> list[str]:
    resp = kh.vault_request(server, vault, "GET", "secrets", token)
    assert resp.status_code == 200, resp.text
    return [item["id"].rsplit("/", 1)[1] for item in resp.json()["value"]]


def assert_absent(server: kh.Server, vault: kh.Vault, token: str, name: str | None) -> None:
    assert list_names(server, vault, token) == [], "a rejected request stored something"
    if name is not None:
        resp = kh.vault_request(server, vault, "GET", f"secrets/{name}", token)
        assert resp.status_code == 404, resp.text
        assert resp.json()["error"]["code"] == "SecretNotFound"


GOOD = "good-name"

CASES = {
    # case: (secret name, raw body or json, api-version, name checkable by GET)
    "malformed-json": (GOOD, b'{"value": "x"', "7.4", True),
    "json-not-object": (GOOD, b'["value"]', "7.4", True),
    "missing-value": (GOOD, {"contentType": "text/plain"}, "7.4", True),
    "value-not-string": (GOOD, {"value": 42}, "7.4", True),
    "oversized-value": (GOOD, {"value": "x" * 25601}, "7.4", True),
    "underscore-name": ("bad_name", {"value": "x"}, "7.4", False),
    "name-128-chars": ("a" * 128, {"value": "x"}, "7.4", False),
    "dot-in-name": ("a.b", {"value": "x"}, "7.4", False),
    "encoded-slash-in-name": ("a%2Fb", {"value": "x"}, "7.4", False),
    "non-ascii-name": ("%C3%A4", {"value": "x"}, "7.4", False),
    "16-tags": (GOOD, {"value": "x", "tags": {f"t{i}": "v" for i in range(16)}}, "7.4", True),
    "content-type-256": (GOOD, {"value": "x", "contentType": "c" * 256}, "7.4", True),
    "unknown-api-version": (GOOD, {"value": "x"}, "1999-01-01", True),
    "missing-api-version": (GOOD, {"value": "x"}, None, True),
    "tag-value-not-string": (GOOD, {"value": "x", "tags": {"k": 5}}, "7.4", True),
    "enabled-not-bool": (GOOD, {"value": "x", "attributes": {"enabled": "yes"}}, "7.4", True),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_rejected_and_not_stored(server: kh.Server, vault: kh.Vault, vtoken: str, case: str) -> None:
    name, body, api_version, checkable = CASES[case]
    if isinstance(body, bytes):
        resp = kh.vault_request(server, vault, "PUT", f"secrets/{name}", vtoken, data=body, api_version=api_version)
    else:
        resp = kh.vault_request(
            server, vault, "PUT", f"secrets/{name}", vtoken, json_body=body, api_version=api_version
        )
    assert_bad_parameter(resp)
    assert_absent(server, vault, vtoken, name if checkable else None)


@pytest.mark.parametrize("method", ["GET", "PATCH", "DELETE"])
def test_bad_name_on_other_operations(server: kh.Server, vault: kh.Vault, vtoken: str, method: str) -> None:
    body = {"tags": {}} if method == "PATCH" else None
    resp = kh.vault_request(server, vault, method, "secrets/bad_name", vtoken, json_body=body)
    assert_bad_parameter(resp)


def test_unknown_api_version_on_get(server: kh.Server, vault: kh.Vault, vtoken: str) -> None:
    kh.set_secret_raw(server, vault, vtoken, GOOD, "x")
    resp = kh.vault_request(server, vault, "GET", f"secrets/{GOOD}", vtoken, api_version="1999-01-01")
    assert_bad_parameter(resp)


@pytest.mark.parametrize(
    "case",
    ["value-25600-bytes", "name-127-chars", "15-tags", "content-type-255"],
)
def test_limits_are_inclusive(server: kh.Server, vault: kh.Vault, vtoken: str, case: str) -> None:
    name, body = {
        "value-25600-bytes": (GOOD, {"value": "y" * 25600}),
        "name-127-chars": ("N" * 127, {"value": "x"}),
        "15-tags": (GOOD, {"value": "x", "tags": {f"t{i}": "v" for i in range(15)}}),
        "content-type-255": (GOOD, {"value": "x", "contentType": "c" * 255}),
    }[case]
    created = kh.set_secret_raw(server, vault, vtoken, name, body.pop("value"), **body)
    got = kh.vault_request(server, vault, "GET", f"secrets/{name}", vtoken)
    assert got.status_code == 200, got.text
    assert got.json()["value"] == created["value"]
    assert got.json().get("tags", {}) == body.get("tags", {})


@pytest.mark.parametrize("api_version", ["7.4", "2016-10-01", "7.6", "2025-07-01", "2026-04-01"])
def test_known_api_versions_accepted(server: kh.Server, vault: kh.Vault, vtoken: str, api_version: str) -> None:
    kh.set_secret_raw(server, vault, vtoken, GOOD, "v")
    for path in (f"secrets/{GOOD}", f"secrets/{GOOD}/"):
        resp = kh.vault_request(server, vault, "GET", path, vtoken, api_version=api_version)
        assert resp.status_code == 200, f"{path} {api_version}: {resp.text}"


def test_percent_encoded_api_version_name(server: kh.Server, vault: kh.Vault, vtoken: str) -> None:
    """The JS SDK writes `?api%2Dversion=2025-07-01` (wire-protocol §7.1)."""
    kh.set_secret_raw(server, vault, vtoken, GOOD, "v")
    with server.session() as s:
        prepared = s.prepare_request(
            requests.Request("GET", f"{vault.url}/secrets/{GOOD}/", headers={"Authorization": f"Bearer {vtoken}"})
        )
        prepared.url = f"{vault.url}/secrets/{GOOD}/?api%2Dversion=2025-07-01"  # requests would unquote %2D
        resp = s.send(prepared, timeout=kh.HTTP_TIMEOUT)
    assert resp.status_code == 200, resp.text
    assert resp.json()["value"] == "v"


def test_raw_paging_next_link(server: kh.Server, vault: kh.Vault, vtoken: str) -> None:
    names = sorted(kh.unique(f"p{i}") for i in range(3))
    for n in names:
        kh.set_secret_raw(server, vault, vtoken, n, "secret-value-" + n)
    resp = kh.vault_request(server, vault, "GET", "secrets", vtoken, params={"maxresults": "1"})
    seen: list[str] = []
    pages = 0
    while True:
        assert resp.status_code == 200, resp.text
        assert resp.headers["Content-Type"].startswith("application/json")
        page = resp.json()
        pages += 1
        assert isinstance(page["value"], list) and len(page["value"]) <= 1
        for item in page["value"]:
            assert "value" not in item, "listings must not return secret values"
            assert item["id"].startswith(f"{vault.url}/secrets/")
            assert isinstance(item["attributes"]["created"], int)
            seen.append(item["id"].rsplit("/", 1)[1])
        assert "nextLink" in page, "nextLink must be present (null on the last page)"
        link = page["nextLink"]
        if link is None:
            break
        assert link.startswith(f"{vault.url}/"), f"nextLink must be absolute on the vault host: {link}"
        assert pages < 10, "paging does not terminate"
        resp = kh.vault_request(server, vault, "GET", link, vtoken, api_version=None)
    assert sorted(seen) == names
    assert pages >= 3


def test_purge_is_204_with_empty_body(server: kh.Server, vault: kh.Vault, vtoken: str) -> None:
    kh.set_secret_raw(server, vault, vtoken, GOOD, "v")
    deleted = kh.vault_request(server, vault, "DELETE", f"secrets/{GOOD}", vtoken)
    assert deleted.status_code == 200, deleted.text
    body = deleted.json()
    assert body["recoveryId"] == f"{vault.url}/deletedsecrets/{GOOD}"
    assert isinstance(body["deletedDate"], int) and isinstance(body["scheduledPurgeDate"], int)
    assert body["id"].startswith(f"{vault.url}/secrets/{GOOD}/")
    purged = kh.vault_request(server, vault, "DELETE", f"deletedsecrets/{GOOD}", vtoken)
    assert purged.status_code == 204, purged.text
    assert purged.content == b""


@pytest.mark.parametrize("maxresults", ["0", "26", "-1", "abc"])
def test_maxresults_out_of_range(server: kh.Server, vault: kh.Vault, vtoken: str, maxresults: str) -> None:
    resp = kh.vault_request(server, vault, "GET", "secrets", vtoken, params={"maxresults": maxresults})
    assert_bad_parameter(resp)


def test_update_recover_restore_do_not_return_the_value(server: kh.Server, vault: kh.Vault, vtoken: str) -> None:
    kh.set_secret_raw(server, vault, vtoken, GOOD, "very-secret")
    patched = kh.vault_request(server, vault, "PATCH", f"secrets/{GOOD}/", vtoken, json_body={"tags": {"a": "b"}})
    assert patched.status_code == 200 and patched.json()["tags"] == {"a": "b"}, patched.text
    assert "value" not in patched.json()
    listed = kh.vault_request(server, vault, "GET", f"secrets/{GOOD}/versions", vtoken)
    assert all("value" not in item for item in listed.json()["value"])
    backup = kh.vault_request(server, vault, "POST", f"secrets/{GOOD}/backup", vtoken)
    assert backup.status_code == 200, backup.text
    assert b"very-secret" not in backup.content, "the backup blob must not carry the value in clear"
    assert kh.vault_request(server, vault, "DELETE", f"secrets/{GOOD}", vtoken).status_code == 200
    deleted = kh.vault_request(server, vault, "GET", f"deletedsecrets/{GOOD}", vtoken)
    assert "value" not in deleted.json()
    recovered = kh.vault_request(server, vault, "POST", f"deletedsecrets/{GOOD}/recover", vtoken)
    assert recovered.status_code == 200 and "value" not in recovered.json(), recovered.text
    assert kh.vault_request(server, vault, "DELETE", f"secrets/{GOOD}", vtoken).status_code == 200
    assert kh.vault_request(server, vault, "DELETE", f"deletedsecrets/{GOOD}", vtoken).status_code == 204
    restored = kh.vault_request(server, vault, "POST", "secrets/restore", vtoken, json_body=backup.json())
    assert restored.status_code == 200 and "value" not in restored.json(), restored.text
    assert kh.vault_request(server, vault, "GET", f"secrets/{GOOD}", vtoken).json()["value"] == "very-secret"


def _tamper(blob: str) -> str:
    raw = bytearray(kh.b64url_decode(blob))
    raw[len(raw) // 2] ^= 0x01
    return kh.b64url(bytes(raw))


@pytest.mark.parametrize("case", ["tampered", "truncated", "not-base64", "empty-object"])
def test_restore_rejects_bad_blobs(server: kh.Server, vault: kh.Vault, vtoken: str, case: str) -> None:
    kh.set_secret_raw(server, vault, vtoken, GOOD, "v")
    blob = kh.vault_request(server, vault, "POST", f"secrets/{GOOD}/backup", vtoken).json()["value"]
    assert kh.vault_request(server, vault, "DELETE", f"secrets/{GOOD}", vtoken).status_code == 200
    assert kh.vault_request(server, vault, "DELETE", f"deletedsecrets/{GOOD}", vtoken).status_code == 204
    body = {
        "tampered": {"value": _tamper(blob)},
        "truncated": {"value": blob[: len(blob) // 2]},
        "not-base64": {"value": "!!!not base64!!!"},
        "empty-object": {},
    }[case]
    resp = kh.vault_request(server, vault, "POST", "secrets/restore", vtoken, json_body=body)
    assert_bad_parameter(resp)
    assert_absent(server, vault, vtoken, GOOD)
    # The untouched blob still restores.
    ok = kh.vault_request(server, vault, "POST", "secrets/restore", vtoken, json_body={"value": blob})
    assert ok.status_code == 200, ok.text


def test_restore_refuses_a_blob_from_another_server(
    server: kh.Server, vault: kh.Vault, vtoken: str, server_factory
) -> None:
    other = server_factory()
    other_vault = kh.create_vault(other)
    other_token = kh.vault_token(other)
    kh.set_secret_raw(other, other_vault, other_token, GOOD, "foreign")
    blob = kh.vault_request(other, other_vault, "POST", f"secrets/{GOOD}/backup", other_token).json()["value"]
    resp = kh.vault_request(server, vault, "POST", "secrets/restore", vtoken, json_body={"value": blob})
    assert_bad_parameter(resp)
    assert_absent(server, vault, vtoken, GOOD)


def test_restore_into_another_vault_of_the_same_server(server: kh.Server, vault: kh.Vault, vtoken: str) -> None:
    kh.set_secret_raw(server, vault, vtoken, GOOD, "moving")
    blob = kh.vault_request(server, vault, "POST", f"secrets/{GOOD}/backup", vtoken).json()
    target = kh.create_vault(server)
    resp = kh.vault_request(server, target, "POST", "secrets/restore", vtoken, json_body=blob)
    assert resp.status_code == 200, resp.text
    assert resp.json()["id"].startswith(f"{target.url}/secrets/{GOOD}/")
    assert kh.vault_request(server, target, "GET", f"secrets/{GOOD}", vtoken).json()["value"] == "moving"


def test_value_limit_counts_utf8_bytes(server: kh.Server, vault: kh.Vault, vtoken: str) -> None:
    # 12801 two-byte characters: fewer than 25600 characters, but 25602 bytes.
    resp = kh.vault_request(server, vault, "PUT", f"secrets/{GOOD}", vtoken, json_body={"value": "é" * 12801})
    assert_bad_parameter(resp)
    assert_absent(server, vault, vtoken, GOOD)
    created = kh.set_secret_raw(server, vault, vtoken, GOOD, "é" * 12800)
    assert created["value"] == "é" * 12800


def test_secret_names_are_case_insensitive(server: kh.Server, vault: kh.Vault, vtoken: str) -> None:
    """As in Azure Key Vault: `MySecret` and `MYSECRET` are one secret with two versions."""
    first = kh.set_secret_raw(server, vault, vtoken, "MySecret", "one")
    second = kh.set_secret_raw(server, vault, vtoken, "MYSECRET", "two")
    got = kh.vault_request(server, vault, "GET", "secrets/mysecret", vtoken)
    assert got.status_code == 200 and got.json()["value"] == "two", got.text
    assert len(list_names(server, vault, vtoken)) == 1
    versions = kh.vault_request(server, vault, "GET", "secrets/MySecret/versions", vtoken).json()["value"]
    assert {v["id"].rsplit("/", 1)[1] for v in versions} == {
        first["id"].rsplit("/", 1)[1],
        second["id"].rsplit("/", 1)[1],
    }


def test_concurrent_sets_keep_every_version(server: kh.Server, vault: kh.Vault, vtoken: str) -> None:
    def put(i: int) -> dict:
        return kh.set_secret_raw(server, vault, vtoken, "race", f"value-{i}")

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(put, range(20)))
    ids = {r["id"] for r in results}
    assert len(ids) == 20, "every concurrent set must create its own version"
    listed = kh.vault_request(server, vault, "GET", "secrets/race/versions", vtoken, params={"maxresults": "25"})
    assert {item["id"] for item in listed.json()["value"]} == ids
    for r in results[:5]:
        got = kh.vault_request(server, vault, "GET", r["id"], vtoken)
        assert got.json()["value"] == r["value"]
    latest = kh.vault_request(server, vault, "GET", "secrets/race", vtoken).json()
    assert latest["id"] in ids


def test_oversized_and_garbage_bodies_are_client_errors(server: kh.Server, vault: kh.Vault, vtoken: str) -> None:
    huge = b'{"value":"' + b"x" * 3_000_000 + b'"}'
    resp = kh.vault_request(server, vault, "PUT", f"secrets/{GOOD}", vtoken, data=huge)
    assert 400 <= resp.status_code < 500, resp.status_code
    for body in (b"x" * 2_000_000, b"\xff\xfe\x00garbage=%%%&&==", b""):
        tok = kh.post_token(server, data=body, headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert tok.status_code == 400, tok.text[:300]
        assert tok.json()["error"] == "invalid_request"
    assert_absent(server, vault, vtoken, GOOD)
    assert server.alive()


def test_bearer_scheme_is_case_insensitive(server: kh.Server, vault: kh.Vault, vtoken: str) -> None:
    resp = kh.vault_request(server, vault, "GET", "secrets/x", None, headers={"Authorization": f"bearer {vtoken}"})
    assert resp.status_code == 404, resp.text


def test_conflicts_on_soft_deleted_and_existing_names(server: kh.Server, vault: kh.Vault, vtoken: str) -> None:
    kh.set_secret_raw(server, vault, vtoken, GOOD, "original")
    blob = kh.vault_request(server, vault, "POST", f"secrets/{GOOD}/backup", vtoken).json()

    over_existing = kh.vault_request(server, vault, "POST", "secrets/restore", vtoken, json_body=blob)
    assert over_existing.status_code == 409, over_existing.text
    assert over_existing.json()["error"]["code"] == "Conflict"

    assert kh.vault_request(server, vault, "DELETE", f"secrets/{GOOD}", vtoken).status_code == 200
    set_deleted = kh.vault_request(server, vault, "PUT", f"secrets/{GOOD}", vtoken, json_body={"value": "new"})
    assert set_deleted.status_code == 409, set_deleted.text
    assert set_deleted.json()["error"]["code"] == "Conflict"
    restore_deleted = kh.vault_request(server, vault, "POST", "secrets/restore", vtoken, json_body=blob)
    assert restore_deleted.status_code == 409, restore_deleted.text
    assert restore_deleted.json()["error"]["code"] == "Conflict"

    # Neither rejected request changed the deleted secret.
    deleted = kh.vault_request(server, vault, "GET", f"deletedsecrets/{GOOD}", vtoken)
    assert deleted.status_code == 200, deleted.text
    assert kh.vault_request(server, vault, "POST", f"deletedsecrets/{GOOD}/recover", vtoken).status_code == 200
    got = kh.vault_request(server, vault, "GET", f"secrets/{GOOD}/versions", vtoken).json()["value"]
    assert len(got) == 1
    assert kh.vault_request(server, vault, "GET", f"secrets/{GOOD}", vtoken).json()["value"] == "original"


@pytest.mark.parametrize(
    "case",
    ["malformed-json", "content-type-256", "16-tags", "tags-not-object", "unknown-api-version"],
)
def test_rejected_update_changes_nothing(server: kh.Server, vault: kh.Vault, vtoken: str, case: str) -> None:
    created = kh.set_secret_raw(server, vault, vtoken, GOOD, "v", contentType="text/plain", tags={"a": "1"})
    body, api_version = {
        "malformed-json": (b"{bad", "7.4"),
        "content-type-256": ({"contentType": "c" * 256}, "7.4"),
        "16-tags": ({"tags": {f"t{i}": "v" for i in range(16)}}, "7.4"),
        "tags-not-object": ({"tags": ["a"]}, "7.4"),
        "unknown-api-version": ({"contentType": "changed"}, "1999-01-01"),
    }[case]
    if isinstance(body, bytes):
        resp = kh.vault_request(server, vault, "PATCH", f"secrets/{GOOD}/", vtoken, data=body, api_version=api_version)
    else:
        resp = kh.vault_request(
            server, vault, "PATCH", f"secrets/{GOOD}/", vtoken, json_body=body, api_version=api_version
        )
    assert_bad_parameter(resp)
    got = kh.vault_request(server, vault, "GET", f"secrets/{GOOD}", vtoken).json()
    assert got["contentType"] == "text/plain" and got["tags"] == {"a": "1"}
    assert got["attributes"] == created["attributes"]


def test_delete_twice_and_recover_live_secret_are_not_found(server: kh.Server, vault: kh.Vault, vtoken: str) -> None:
    kh.set_secret_raw(server, vault, vtoken, GOOD, "v")
    recover_live = kh.vault_request(server, vault, "POST", f"deletedsecrets/{GOOD}/recover", vtoken)
    assert recover_live.status_code == 404, recover_live.text
    assert recover_live.json()["error"]["code"] == "SecretNotFound"
    assert kh.vault_request(server, vault, "DELETE", f"secrets/{GOOD}", vtoken).status_code == 200
    again = kh.vault_request(server, vault, "DELETE", f"secrets/{GOOD}", vtoken)
    assert again.status_code == 404, again.text
    assert again.json()["error"]["code"] == "SecretNotFound"
    assert kh.vault_request(server, vault, "GET", f"deletedsecrets/{GOOD}", vtoken).status_code == 200


def test_raw_paging_of_deleted_secrets(server: kh.Server, vault: kh.Vault, vtoken: str) -> None:
    names = sorted(kh.unique(f"d{i}") for i in range(3))
    for n in names:
        kh.set_secret_raw(server, vault, vtoken, n, "v")
        assert kh.vault_request(server, vault, "DELETE", f"secrets/{n}", vtoken).status_code == 200
    resp = kh.vault_request(server, vault, "GET", "deletedsecrets", vtoken, params={"maxresults": "2"})
    seen: list[str] = []
    pages = 0
    while True:
        assert resp.status_code == 200, resp.text
        page = resp.json()
        pages += 1
        for item in page["value"]:
            assert "value" not in item
            assert item["recoveryId"] == f"{vault.url}/deletedsecrets/{item['id'].rsplit('/', 1)[1]}"
            assert isinstance(item["deletedDate"], int) and isinstance(item["scheduledPurgeDate"], int)
            seen.append(item["id"].rsplit("/", 1)[1])
        if page.get("nextLink") is None:
            assert "nextLink" in page
            break
        assert page["nextLink"].startswith(f"{vault.url}/")
        assert pages < 10
        resp = kh.vault_request(server, vault, "GET", page["nextLink"], vtoken, api_version=None)
    assert sorted(seen) == names
    assert pages == 2
