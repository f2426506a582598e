"""Server lifecycle: restart on the same data dir and ports, signing-key rotation."""

from __future__ import annotations

import signal
import subprocess

import jwt

import keyhold_harness as kh


def test_restart_keeps_identity_tokens_and_secrets(server_factory, tmp_path) -> None:
    data_dir = tmp_path / "restart-data"
    first = server_factory(data_dir)
    vault = kh.create_vault(first)
    token = kh.vault_token(first)
    name = kh.unique("survivor")
    created = kh.set_secret_raw(first, vault, token, name, "still-here", tags={"k": "v"})
    admin_before = (data_dir / "admin.json").read_bytes()
    ca_before = first.ca_pem.read_bytes()
    port, mi_port, tenant = first.port, first.mi_port, first.tenant

    rc = first.stop()
    assert rc == 0, f"SIGTERM should exit 0, got {rc}\n{first.log_tail()}"

    second = server_factory(data_dir, listen=f"127.0.0.1:{port}", mi_listen=f"127.0.0.1:{mi_port}")
    assert second.pid != first.pid
    assert second.port == port and second.mi_port == mi_port
    assert second.tenant == tenant
    assert second.state["vault_resource"] == first.state["vault_resource"]
    assert (data_dir / "admin.json").read_bytes() == admin_before
    assert second.ca_pem.read_bytes() == ca_before

    # A token minted before the restart is still valid, and the secret survived.
    resp = kh.vault_request(second, vault, "GET", f"secrets/{name}", token)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["value"] == "still-here"
    assert body["id"] == created["id"]
    assert body["tags"] == {"k": "v"}
    # Fresh tokens work too, and the admin credentials still authenticate.
    fresh = kh.vault_token(second)
    assert kh.vault_request(second, vault, "GET", f"secrets/{name}", fresh).json()["value"] == "still-here"
    assert second.stop() == 0


def test_sigint_exits_zero(server_factory) -> None:
    srv = server_factory()
    srv.proc.send_signal(signal.SIGINT)
    assert srv.proc.wait(timeout=20) == 0, srv.log_tail()


def test_signing_key_rotation(server_factory) -> None:
    srv = server_factory()
    vault = kh.create_vault(srv)
    old_token = kh.vault_token(srv)
    old_admin = kh.admin_token(srv)
    old_kid = jwt.get_unverified_header(old_token)["kid"]
    name = kh.unique("rot")
    kh.set_secret_raw(srv, vault, old_token, name, "v1")

    new_kid = kh.rotate_signing_key(srv, old_admin)
    assert new_kid and new_kid != old_kid

    kids = [k["kid"] for k in kh.jwks(srv)["keys"]]
    assert len(kids) >= 2 and old_kid in kids and new_kid in kids, kids

    # Tokens minted before the rotation keep working (vault and admin API).
    resp = kh.vault_request(srv, vault, "GET", f"secrets/{name}", old_token)
    assert resp.status_code == 200 and resp.json()["value"] == "v1", resp.text
    assert kh.admin_call(srv, "PUT", f"vaults/{kh.unique('kv')}", {}, old_admin).status_code == 200

    new_token = kh.vault_token(srv)
    assert jwt.get_unverified_header(new_token)["kid"] == new_kid
    keys = {k["kid"]: k for k in kh.jwks(srv)["keys"]}
    jwt.decode(
        new_token,
        jwt.PyJWK(keys[new_kid], algorithm="RS256").key,
        algorithms=["RS256"],
        audience=srv.vault_resource,
        issuer=f"{srv.url}/{srv.tenant}/v2.0",
    )
    resp = kh.vault_request(srv, vault, "GET", f"secrets/{name}", new_token)
    assert resp.status_code == 200 and resp.json()["value"] == "v1", resp.text


def test_restart_keeps_principals_certificates_keys_and_secret_states(server_factory, tmp_path) -> None:
    data_dir = tmp_path / "restart2"
    first = server_factory(data_dir)
    vault = kh.create_vault(first, softDeleteRetentionInDays=7)
    sp = kh.create_service_principal(first)
    key, cert = kh.make_cert("restart")
    kh.register_certificate(first, sp["appId"], kh.cert_pem(cert))
    token_old_key = kh.vault_token(first)
    new_kid = kh.rotate_signing_key(first)
    token_new_key = kh.vault_token(first)
    assert kh.jwt_parts(token_new_key)[0]["kid"] == new_kid
    kh.set_secret_raw(first, vault, token_new_key, "gone", "deleted-before-restart")
    assert kh.vault_request(first, vault, "DELETE", "secrets/gone", token_new_key).status_code == 200
    kh.set_secret_raw(first, vault, token_new_key, "off", "disabled", attributes={"enabled": False})
    jwks_before = sorted(k["kid"] for k in kh.jwks(first)["keys"])
    assert first.stop() == 0

    second = server_factory(data_dir, listen=f"127.0.0.1:{first.port}", mi_listen=f"127.0.0.1:{first.mi_port}")
    assert sorted(k["kid"] for k in kh.jwks(second)["keys"]) == jwks_before
    # Tokens signed with the old and the new key both still verify.
    for token in (token_old_key, token_new_key):
        resp = kh.vault_request(second, vault, "GET", "deletedsecrets/gone", token)
        assert resp.status_code == 200, resp.text
        assert resp.json()["scheduledPurgeDate"] - resp.json()["deletedDate"] == 7 * 86400
    # New tokens are signed with the rotated key.
    assert kh.jwt_parts(kh.vault_token(second))[0]["kid"] == new_kid
    # The service principal's secret and certificate still authenticate.
    assert kh.jwt_parts(kh.vault_token(second, sp))[1]["appid"] == sp["appId"]
    assertion = kh.client_assertion(key, cert, sp["appId"], kh.token_endpoint(second))
    resp = kh.post_token(second, kh.assertion_form(sp["appId"], assertion, f"{second.vault_resource}/.default"))
    assert resp.status_code == 200, resp.text
    # Secret states survived: disabled stays disabled, deleted stays recoverable.
    assert kh.vault_request(second, vault, "GET", "secrets/off", token_new_key).status_code == 403
    recovered = kh.vault_request(second, vault, "POST", "deletedsecrets/gone/recover", token_new_key)
    assert recovered.status_code == 200, recovered.text
    got = kh.vault_request(second, vault, "GET", "secrets/gone", token_new_key)
    assert got.status_code == 200 and got.json()["value"] == "deleted-before-restart", got.text
    assert second.stop() == 0


def test_replayed_assertion_stays_rejected_after_restart(server_factory, tmp_path) -> None:
    """The jti memory must not be lost on restart while the assertion is still unexpired."""
    data_dir = tmp_path / "replay"
    first = server_factory(data_dir)
    sp = kh.create_service_principal(first)
    key, cert = kh.make_cert("replay")
    kh.register_certificate(first, sp["appId"], kh.cert_pem(cert))
    assertion = kh.client_assertion(key, cert, sp["appId"], kh.token_endpoint(first))
    form = kh.assertion_form(sp["appId"], assertion, f"{first.vault_resource}/.default")
    assert kh.post_token(first, form).status_code == 200
    assert first.stop() == 0
    second = server_factory(data_dir, listen=f"127.0.0.1:{first.port}", mi_listen=f"127.0.0.1:{first.mi_port}")
    replay = kh.post_token(second, form)
    assert replay.status_code in (400, 401), f"assertion replayed after restart was accepted: {replay.text[:200]}"
    assert replay.json()["error"] == "invalid_client"


def test_second_server_on_a_data_dir_in_use_refuses_to_start(server_factory, tmp_path) -> None:
    """Two processes on one data dir would interleave the hash-chained audit log (and split the
    assertion-replay memory): the second `serve` must fail instead of running alongside."""
    data_dir = tmp_path / "shared-dir"
    first = server_factory(data_dir)
    state_before = (data_dir / "state.json").read_text()
    second = subprocess.Popen(
        [
            str(kh.keyhold_bin()),
            "serve",
            "--data-dir",
            str(data_dir),
            "--listen",
            "127.0.0.1:0",
            "--mi-listen",
            "127.0.0.1:0",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
    )
    try:
        rc = second.wait(timeout=30)
    except subprocess.TimeoutExpired:
        second.kill()
        second.wait(timeout=10)
        rc = None
    assert rc not in (None, 0), "a second keyhold serve on a data dir in use kept running"
    assert (data_dir / "state.json").read_text() == state_before, "the second server overwrote state.json"
    assert first.alive()
    assert kh.admin_token(first)
    assert first.stop() == 0
