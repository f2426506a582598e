"""What Azure's curl tutorials do: v1 token for https://vault.azure.net, then a plain GET."""

from __future__ import annotations

import json
import re
import subprocess
import time

import keyhold_harness as kh


def curl(*args: str) -> tuple[int, str]:
    out = subprocess.run(
        ["curl", "-sS", "--noproxy", "*", "-w", "\n%{http_code}", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert out.returncode == 0, f"curl failed ({out.returncode}): {out.stderr}"
    body, _, status = out.stdout.rpartition("\n")
    return int(status), body


def test_curl_v1_token_and_get_secret(server: kh.Server, vault: kh.Vault, vtoken: str) -> None:
    name = kh.unique("curl")
    created = kh.set_secret_raw(server, vault, vtoken, name, "from curl")

    status, body = curl(
        "--cacert",
        str(server.ca_pem),
        "-X",
        "POST",
        "--data-urlencode",
        "grant_type=client_credentials",
        "--data-urlencode",
        f"client_id={server.admin['appId']}",
        "--data-urlencode",
        f"client_secret={server.admin['password']}",
        "--data-urlencode",
        "resource=https://vault.azure.net",
        f"{server.url}/{server.tenant}/oauth2/token",
    )
    assert status == 200, body
    token = json.loads(body)["access_token"]
    assert kh.jwt_parts(token)[1]["aud"] == "https://vault.azure.net"

    status, body = curl(
        "--cacert",
        str(server.ca_pem),
        "-H",
        f"Authorization: Bearer {token}",
        f"{vault.url}/secrets/{name}?api-version=2016-10-01",
    )
    assert status == 200, body
    secret = json.loads(body)
    assert secret["value"] == "from curl"
    assert secret["id"] == created["id"]
    assert re.fullmatch(rf"{re.escape(vault.url)}/secrets/{name}/[0-9a-f]{{32}}", secret["id"]), secret["id"]
    attrs = secret["attributes"]
    assert attrs["enabled"] is True
    assert isinstance(attrs["created"], int) and isinstance(attrs["updated"], int)
    assert abs(attrs["created"] - time.time()) < 120
    assert attrs["recoveryLevel"] == "Recoverable+Purgeable"
