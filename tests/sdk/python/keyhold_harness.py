"""Black-box harness for the keyhold server, shared by the Python SDK tests.

It starts `keyhold serve` in a temporary data directory on ephemeral loopback
ports, reads the files the server publishes there (state.json, admin.json,
ca.pem), parses `keyhold env`, mints tokens with plain `requests` and drives
the admin API. It never talks to anything but loopback.

The binary is `$KEYHOLD_BIN` (default `target/debug/keyhold`, relative to the
repository root).
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import json
import os
import re
import secrets as pysecrets
import shlex
import signal
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterator, Mapping

import jwt
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

REPO_ROOT = Path(__file__).resolve().parents[3]
STARTUP_TIMEOUT_SECS = 30.0
HOSTS_FILE = Path("/etc/hosts")
HOSTS_LOCK = Path("/tmp/keyhold-tests-etc-hosts.lock")
HTTP_TIMEOUT = 30

# Default api-version for raw data-plane calls (what Azure's curl tutorials use).
API_VERSION = "7.4"


class HarnessError(RuntimeError):
    """The server could not be started, or did something the harness cannot work with."""


def keyhold_bin() -> Path:
    raw = os.environ.get("KEYHOLD_BIN", "target/debug/keyhold")
    path = Path(raw)
    if not path.is_absolute():
        path = REPO_ROOT / path
    return path


def unique(prefix: str, nbytes: int = 4) -> str:
    """A name that is unique per call: `prefix-<hex>`."""
    return f"{prefix}-{pysecrets.token_hex(nbytes)}"


# --------------------------------------------------------------------------- server


@dataclass
class Server:
    data_dir: Path
    proc: subprocess.Popen
    log_path: Path
    state: dict
    admin: dict
    args: list[str] = field(default_factory=list)
    _log_file: object = None

    # -- published facts
    @property
    def url(self) -> str:
        return self.state["url"]

    @property
    def tenant(self) -> str:
        return self.state["tenant_id"]

    @property
    def vault_resource(self) -> str:
        return self.state["vault_resource"]

    @property
    def dns_suffix(self) -> str:
        return self.state["dns_suffix"]

    @property
    def port(self) -> int:
        return int(self.state["listen"].rsplit(":", 1)[1])

    @property
    def mi_port(self) -> int:
        return int(self.state["mi_listen"].rsplit(":", 1)[1])

    @property
    def ca_pem(self) -> Path:
        return self.data_dir / "ca.pem"

    @property
    def ca_bundle(self) -> Path:
        return self.data_dir / "ca-bundle.pem"

    @property
    def pid(self) -> int:
        return self.proc.pid

    # -- lifecycle
    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, timeout: float = 20.0) -> int:
        """SIGTERM and wait; returns the exit code (kills and raises on timeout)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired as exc:
                self.proc.kill()
                self.proc.wait(timeout=10)
                raise HarnessError(
                    f"keyhold (pid {self.proc.pid}) ignored SIGTERM for {timeout}s; killed.\n{self.log_tail()}"
                ) from exc
        self._close_log()
        return self.proc.returncode

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=10)
        self._close_log()

    def _close_log(self) -> None:
        if self._log_file is not None:
            with contextlib.suppress(Exception):
                self._log_file.close()
            self._log_file = None

    def log_tail(self, nbytes: int = 4000) -> str:
        try:
            data = self.log_path.read_bytes()
        except OSError:
            return "(no server log)"
        return "--- keyhold log tail ---\n" + data[-nbytes:].decode("utf-8", "replace")

    # -- HTTP
    def session(self) -> requests.Session:
        """A requests session that trusts only keyhold's CA and ignores proxy/CA env vars."""
        s = requests.Session()
        s.trust_env = False
        s.verify = str(self.ca_pem)
        return s


def start_server(
    data_dir: Path,
    *,
    listen: str = "127.0.0.1:0",
    mi_listen: str = "127.0.0.1:0",
    extra_args: tuple[str, ...] | list[str] = (),
    log_path: Path | None = None,
    timeout: float = STARTUP_TIMEOUT_SECS,
) -> Server:
    """Start `keyhold serve` and wait until state.json names this process."""
    binary = keyhold_bin()
    if not binary.exists():
        raise HarnessError(f"keyhold binary not found at {binary} (set KEYHOLD_BIN or run cargo build -p keyhold)")
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    if log_path is None:
        log_path = data_dir.parent / f"{data_dir.name}.log"
    args = [
        str(binary),
        "serve",
        "--data-dir",
        str(data_dir),
        "--listen",
        listen,
        "--mi-listen",
        mi_listen,
        *extra_args,
    ]
    log_file = open(log_path, "ab")
    # The server reads KEYHOLD_* overrides from its environment; start it from a clean slate.
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEYHOLD_")}
    env.setdefault("RUST_BACKTRACE", "1")
    proc = subprocess.Popen(args, stdout=log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)
    server = Server(data_dir=data_dir, proc=proc, log_path=log_path, state={}, admin={}, args=args, _log_file=log_file)
    try:
        server.state = _wait_for_state(server, timeout)
        server.admin = json.loads((data_dir / "admin.json").read_text())
    except BaseException:
        server.kill()
        raise
    return server


def _wait_for_state(server: Server, timeout: float) -> dict:
    state_path = server.data_dir / "state.json"
    deadline = time.monotonic() + timeout
    last_err = "state.json not written"
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise HarnessError(
                f"keyhold exited with {server.proc.returncode} before writing state.json\n"
                f"args: {server.args}\n{server.log_tail()}"
            )
        try:
            state = json.loads(state_path.read_text())
            if state.get("pid") == server.proc.pid:
                for name in ("admin.json", "ca.pem", "ca-bundle.pem"):
                    if not (server.data_dir / name).exists():
                        raise FileNotFoundError(name)
                return state
            last_err = f"state.json has pid {state.get('pid')}, want {server.proc.pid}"
        except (OSError, ValueError) as exc:
            last_err = f"{type(exc).__name__}: {exc}"
        time.sleep(0.05)
    raise HarnessError(f"keyhold did not publish state.json within {timeout}s ({last_err})\n{server.log_tail()}")


# --------------------------------------------------------------------------- keyhold env


def parse_env_output(text: str) -> dict[str, str]:
    """Parse `export NAME='value'` lines (as printed by `keyhold env`) into a dict."""
    env: dict[str, str] = {}
    for lineno, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        parts = shlex.split(stripped)
        if len(parts) != 2 or parts[0] != "export" or "=" not in parts[1]:
            raise HarnessError(f"keyhold env line {lineno} is not `export NAME='value'`: {line!r}")
        name, value = parts[1].split("=", 1)
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise HarnessError(f"keyhold env line {lineno}: bad variable name {name!r}")
        env[name] = value
    return env


def keyhold_env(data_dir: Path, service_principal: bool = False) -> dict[str, str]:
    args = [str(keyhold_bin()), "env", "--data-dir", str(data_dir)]
    if service_principal:
        args.append("--service-principal")
    out = subprocess.run(args, capture_output=True, text=True, timeout=30)
    if out.returncode != 0:
        raise HarnessError(f"`{' '.join(args)}` exited {out.returncode}: {out.stderr}")
    return parse_env_output(out.stdout)


@contextlib.contextmanager
def process_environ(env: Mapping[str, str]) -> Iterator[None]:
    """Replace os.environ by exactly `env` plus PATH for the duration of the block."""
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    os.environ["PATH"] = saved.get("PATH", "/usr/bin:/bin")
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


# --------------------------------------------------------------------------- /etc/hosts


HOSTS_TAG = "# keyhold-tests"
_PINNED: list[str] = []


def _hosts_line(hostname: str) -> str:
    return f"127.0.0.1 {hostname} {HOSTS_TAG}"


def pin_host(hostname: str) -> None:
    """Make `hostname` resolve to 127.0.0.1 via /etc/hosts (idempotent, safe across processes).

    The line is tagged and remembered, so unpin_hosts() can remove it at the end of the session.
    Writers (this harness and the JS one) serialise on HOSTS_LOCK with flock(2)."""
    if not re.fullmatch(r"[A-Za-z0-9.-]+", hostname):
        raise HarnessError(f"refusing to pin odd host name {hostname!r}")
    with open(HOSTS_LOCK, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            for line in HOSTS_FILE.read_text().splitlines():
                fields = line.split("#", 1)[0].split()
                if len(fields) >= 2 and fields[0] == "127.0.0.1" and hostname in fields[1:]:
                    return
            try:
                with open(HOSTS_FILE, "a") as hosts:
                    hosts.write(_hosts_line(hostname) + "\n")
            except PermissionError as exc:
                raise HarnessError(f"cannot append {hostname} to {HOSTS_FILE} (tests need root): {exc}") from exc
            _PINNED.append(hostname)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def unpin_hosts() -> None:
    """Remove the /etc/hosts lines this process added (rewritten in place: it may be a bind mount)."""
    if not _PINNED:
        return
    mine = {_hosts_line(h) for h in _PINNED}
    with open(HOSTS_LOCK, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            lines = HOSTS_FILE.read_text().splitlines(keepends=True)
            kept = "".join(line for line in lines if line.rstrip("\n") not in mine)
            with open(HOSTS_FILE, "r+") as hosts:
                hosts.write(kept)
                hosts.truncate()
            _PINNED.clear()
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


# --------------------------------------------------------------------------- tokens


def token_endpoint(server: Server, tenant: str | None = None, v1: bool = False) -> str:
    tenant = tenant or server.tenant
    return f"{server.url}/{tenant}/oauth2/token" if v1 else f"{server.url}/{tenant}/oauth2/v2.0/token"


def post_token(
    server: Server,
    form: Mapping[str, str] | None = None,
    *,
    tenant: str | None = None,
    v1: bool = False,
    data: bytes | str | None = None,
    headers: Mapping[str, str] | None = None,
) -> requests.Response:
    """POST to the token endpoint; `form` is form-encoded, `data` is sent raw."""
    with server.session() as s:
        return s.post(
            token_endpoint(server, tenant, v1),
            data=form if data is None else data,
            headers=dict(headers or {}),
            timeout=HTTP_TIMEOUT,
        )


def client_credentials(
    server: Server,
    client_id: str,
    secret: str,
    scope: str,
    *,
    tenant: str | None = None,
) -> str:
    resp = post_token(
        server,
        {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret, "scope": scope},
        tenant=tenant,
    )
    if resp.status_code != 200:
        raise HarnessError(f"token request for {scope} failed: {resp.status_code} {resp.text}")
    return resp.json()["access_token"]


def admin_token(server: Server) -> str:
    """A token for the management resource (the admin API), as the admin principal."""
    return client_credentials(server, server.admin["appId"], server.admin["password"], f"{server.url}/.default")


def vault_token(server: Server, principal: Mapping[str, str] | None = None, resource: str | None = None) -> str:
    """A data-plane token (audience = vault_resource unless `resource` is given)."""
    principal = principal or server.admin
    return client_credentials(
        server, principal["appId"], principal["password"], f"{resource or server.vault_resource}/.default"
    )


# --------------------------------------------------------------------------- admin API


def admin_call(
    server: Server, method: str, path: str, body: object = None, token: str | None = None
) -> requests.Response:
    token = token or admin_token(server)
    with server.session() as s:
        return s.request(
            method,
            f"{server.url}/keyhold/v1/{path.lstrip('/')}",
            json=body,
            headers={"Authorization": f"Bearer {token}"},
            timeout=HTTP_TIMEOUT,
        )


def _admin_json(resp: requests.Response, what: str) -> dict:
    if resp.status_code != 200:
        raise HarnessError(f"{what} failed: {resp.status_code} {resp.text}")
    return resp.json()


@dataclass
class Vault:
    name: str
    url: str  # https://{name}.vault.localhost:PORT (no trailing slash)
    host: str  # {name}.vault.localhost
    info: dict


def create_vault(server: Server, name: str | None = None, token: str | None = None, **props: object) -> Vault:
    name = name or unique("kv")
    info = _admin_json(admin_call(server, "PUT", f"vaults/{name}", props or {}, token), f"create vault {name}")
    host = f"{name}.{server.dns_suffix}"
    pin_host(host)
    url = f"https://{host}:{server.port}"
    return Vault(name=name, url=url, host=host, info=info)


def create_service_principal(server: Server, display_name: str | None = None, token: str | None = None) -> dict:
    display_name = display_name or unique("sp")
    return _admin_json(
        admin_call(server, "POST", "servicePrincipals", {"displayName": display_name}, token),
        "create service principal",
    )


def register_certificate(server: Server, app_id: str, cert_pem: str, token: str | None = None) -> str:
    out = _admin_json(
        admin_call(server, "POST", f"servicePrincipals/{app_id}/certificates", {"certificate": cert_pem}, token),
        "register certificate",
    )
    return out["thumbprint"]


def rotate_signing_key(server: Server, token: str | None = None) -> str:
    return _admin_json(admin_call(server, "POST", "signingKeys/rotate", None, token), "rotate signing key")["kid"]


# --------------------------------------------------------------------------- identity documents


def openid_configuration(server: Server, tenant: str | None = None) -> dict:
    tenant = tenant or server.tenant
    path = (
        "adfs/.well-known/openid-configuration"
        if tenant == "adfs"
        else f"{tenant}/v2.0/.well-known/openid-configuration"
    )
    with server.session() as s:
        resp = s.get(f"{server.url}/{path}", timeout=HTTP_TIMEOUT)
    if resp.status_code != 200:
        raise HarnessError(f"GET {path}: {resp.status_code} {resp.text}")
    return resp.json()


def jwks(server: Server) -> dict:
    uri = openid_configuration(server)["jwks_uri"]
    with server.session() as s:
        resp = s.get(uri, timeout=HTTP_TIMEOUT)
    if resp.status_code != 200:
        raise HarnessError(f"GET {uri}: {resp.status_code} {resp.text}")
    return resp.json()


# --------------------------------------------------------------------------- vault data plane


def vault_request(
    server: Server,
    vault: Vault,
    method: str,
    path: str,
    token: str | None,
    *,
    api_version: str | None = API_VERSION,
    json_body: object = None,
    data: bytes | str | None = None,
    headers: Mapping[str, str] | None = None,
    params: Mapping[str, str] | None = None,
) -> requests.Response:
    hdrs = dict(headers or {})
    if token is not None:
        hdrs["Authorization"] = f"Bearer {token}"
    query = dict(params or {})
    if api_version is not None:
        query["api-version"] = api_version
    url = path if path.startswith("https://") else f"{vault.url}/{path.lstrip('/')}"
    with server.session() as s:
        if json_body is not None:
            return s.request(method, url, json=json_body, headers=hdrs, params=query, timeout=HTTP_TIMEOUT)
        if data is not None:
            hdrs.setdefault("Content-Type", "application/json")
        return s.request(method, url, data=data, headers=hdrs, params=query, timeout=HTTP_TIMEOUT)


def assert_authenticated(resp: requests.Response) -> None:
    """The vault accepted the bearer token: no 401 challenge. Once per-vault authorization exists,
    a principal without access gets 403 Forbidden, which still proves the token was accepted."""
    assert resp.status_code != 401, f"token rejected: {resp.status_code} {resp.text}"
    if resp.status_code == 403:
        assert resp.json()["error"]["code"] == "Forbidden", resp.text
    else:
        assert resp.status_code in (200, 404), f"{resp.status_code} {resp.text}"


def set_secret_raw(server: Server, vault: Vault, token: str, name: str, value: str, **extra: object) -> dict:
    resp = vault_request(server, vault, "PUT", f"secrets/{name}", token, json_body={"value": value, **extra})
    if resp.status_code != 200:
        raise HarnessError(f"PUT secrets/{name}: {resp.status_code} {resp.text}")
    return resp.json()


# --------------------------------------------------------------------------- JWT and challenge helpers


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def jwt_parts(token: str) -> tuple[dict, dict, str]:
    """(header, claims, signature) without any verification."""
    h, p, sig = token.split(".")
    return json.loads(b64url_decode(h)), json.loads(b64url_decode(p)), sig


def jwt_compose(header: Mapping, claims: Mapping, signature: bytes | str = b"") -> str:
    h = b64url(json.dumps(header, separators=(",", ":")).encode())
    p = b64url(json.dumps(claims, separators=(",", ":")).encode())
    sig = signature if isinstance(signature, str) else b64url(signature)
    return f"{h}.{p}.{sig}"


# --------------------------------------------------------------------------- client certificates


def make_cert(common_name: str = "keyhold-test") -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.now(timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    return key, cert


def cert_pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def client_assertion(
    key,
    cert: x509.Certificate,
    client_id: str,
    audience: str,
    *,
    alg: str = "RS256",
    thumbprint: str = "x5t",
    lifetime: int = 600,
    issued_at: float | None = None,
    jti: str | None = None,
) -> str:
    der = cert.public_bytes(serialization.Encoding.DER)
    headers = {"typ": "JWT"}
    if thumbprint == "x5t":
        headers["x5t"] = b64url(hashlib.sha1(der).digest())
    else:
        headers["x5t#S256"] = b64url(hashlib.sha256(der).digest())
    iat = time.time() if issued_at is None else issued_at
    claims = {
        "aud": audience,
        "iss": client_id,
        "sub": client_id,
        "jti": jti or str(uuid.uuid4()),
        "iat": int(iat),
        "nbf": int(iat),
        "exp": int(iat) + lifetime,
    }
    return jwt.encode(claims, key, algorithm=alg, headers=headers)


def assertion_form(client_id: str, assertion: str, scope: str) -> dict:
    return {
        "grant_type": "client_credentials",
        "client_id": client_id,
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": assertion,
        "scope": scope,
    }


_CHALLENGE_PARAM = re.compile(r'([A-Za-z_]+)="([^"]*)"')


def parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    scheme, _, rest = header.strip().partition(" ")
    return scheme, dict(_CHALLENGE_PARAM.findall(rest))


def new_guid() -> str:
    return str(uuid.uuid4())


# --------------------------------------------------------------------------- ARM and managed identity

ARM_API_VERSION = "2023-07-01"
MI_VARIABLES = ("IDENTITY_ENDPOINT", "IDENTITY_HEADER", "MSI_ENDPOINT", "MSI_SECRET", "AZURE_POD_IDENTITY_AUTHORITY_HOST")


def arm_call(server: Server, method: str, path: str, body: object = None, token: str | None = None) -> requests.Response:
    """An ARM call (`path` from `/subscriptions...`) as the admin; api-version is added unless present."""
    token = token or admin_token(server)
    sep = "&" if "?" in path else "?"
    url = f"{server.url}{path}" if "api-version=" in path else f"{server.url}{path}{sep}api-version={ARM_API_VERSION}"
    with server.session() as s:
        return s.request(method, url, json=body, headers={"Authorization": f"Bearer {token}"}, timeout=HTTP_TIMEOUT)


def _arm_json(resp: requests.Response, what: str, ok: tuple[int, ...] = (200, 201)) -> dict:
    if resp.status_code not in ok:
        raise HarnessError(f"{what} failed: {resp.status_code} {resp.text}")
    return resp.json() if resp.content else {}


def subscription_id(server: Server) -> str:
    body = _arm_json(arm_call(server, "GET", "/subscriptions?api-version=2022-12-01"), "list subscriptions")
    return body["value"][0]["subscriptionId"]


def resource_group_id(server: Server) -> str:
    """The resource group that vaults made through the admin API live in."""
    return f"/subscriptions/{subscription_id(server)}/resourceGroups/keyhold"


def mi_file(server: Server) -> dict:
    """`<data-dir>/mi.json`: the host's system-assigned identity (object_id, client_id, resource_id)."""
    return json.loads((server.data_dir / "mi.json").read_text())


def grant_vault_access(
    server: Server, vault: Vault, object_id: str, secrets: tuple[str, ...] = ("get", "list", "set")
) -> None:
    """Add an access policy for `object_id` on `vault` (identities are deny-by-default)."""
    body = {
        "properties": {
            "accessPolicies": [{"tenantId": server.tenant, "objectId": object_id, "permissions": {"secrets": list(secrets)}}]
        }
    }
    path = f"{resource_group_id(server)}/providers/Microsoft.KeyVault/vaults/{vault.name}/accessPolicies/add"
    _arm_json(arm_call(server, "PUT", path, body), f"grant {object_id} on {vault.name}")


@dataclass
class UserAssignedIdentity:
    name: str
    id: str  # ARM resource id
    principal_id: str  # = the token's oid
    client_id: str


def create_user_assigned_identity(server: Server, name: str | None = None) -> UserAssignedIdentity:
    name = name or unique("uai")
    rid = f"{resource_group_id(server)}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{name}"
    body = _arm_json(arm_call(server, "PUT", rid, {"location": "local"}), f"create identity {name}")
    props = body["properties"]
    return UserAssignedIdentity(name=name, id=rid, principal_id=props["principalId"], client_id=props["clientId"])


def attach_user_assigned(server: Server, identities: list[UserAssignedIdentity]) -> dict:
    """Attach user-assigned identities to the host's VM resource (keeps the system-assigned one)."""
    body = {
        "identity": {
            "type": "SystemAssigned, UserAssigned",
            "userAssignedIdentities": {u.id: {} for u in identities},
        }
    }
    return _arm_json(arm_call(server, "PATCH", mi_file(server)["resource_id"], body), "attach identities", ok=(200,))


def mi_environ(data_dir: Path, keep: tuple[str, ...]) -> dict[str, str]:
    """`keyhold env` (no service principal) with only the managed-identity variables in `keep`:
    the SDKs pick their managed-identity source from which of these are set."""
    env = keyhold_env(data_dir)
    missing = [name for name in MI_VARIABLES if name not in env]
    if missing:
        raise HarnessError(f"keyhold env did not print {missing}")
    for name in MI_VARIABLES:
        if name not in keep:
            del env[name]
    return env
