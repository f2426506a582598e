"""Fixtures for the keyhold Python SDK tests (see keyhold_harness.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterator

import pytest

import keyhold_harness as kh


@pytest.fixture(scope="session", autouse=True)
def _clean_etc_hosts() -> Iterator[None]:
    """Remove the /etc/hosts lines pinned during the session."""
    yield
    kh.unpin_hosts()


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[kh.Server]:
    """One keyhold server shared by the tests that need nothing special from it."""
    root = tmp_path_factory.mktemp("keyhold-shared")
    srv = kh.start_server(root / "data")
    yield srv
    rc = srv.stop()
    if rc != 0:
        raise kh.HarnessError(f"shared keyhold server exited {rc} on SIGTERM\n{srv.log_tail()}")


@pytest.fixture
def server_factory(tmp_path: Path) -> Iterator[Callable[..., kh.Server]]:
    """Start dedicated servers (each in its own empty data dir); all are stopped at teardown."""
    started: list[kh.Server] = []

    def start(data_dir: Path | None = None, **kwargs) -> kh.Server:
        if data_dir is None:
            data_dir = tmp_path / f"data{len(started)}"
        srv = kh.start_server(data_dir, log_path=tmp_path / f"server{len(started)}.log", **kwargs)
        started.append(srv)
        return srv

    start.started = started  # type: ignore[attr-defined]  (read by the report hook)
    yield start
    for srv in started:
        srv.kill()


@pytest.fixture
def vault(server: kh.Server) -> kh.Vault:
    """A fresh, empty vault on the shared server (host pinned in /etc/hosts)."""
    return kh.create_vault(server)


@pytest.fixture
def vtoken(server: kh.Server) -> str:
    """A data-plane token for the admin principal on the shared server."""
    return kh.vault_token(server)


@pytest.fixture(scope="session")
def sp_env(server: kh.Server) -> dict[str, str]:
    """Exactly what `keyhold env --service-principal` prints for the shared server."""
    return kh.keyhold_env(server.data_dir, service_principal=True)


@pytest.fixture
def sdk_environ(sp_env: dict[str, str]) -> Iterator[dict[str, str]]:
    """The process environment is `keyhold env --service-principal` + PATH, nothing else."""
    with kh.process_environ(sp_env):
        yield sp_env


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        servers: list[kh.Server] = []
        for value in getattr(item, "funcargs", {}).values():
            if isinstance(value, kh.Server):
                servers.append(value)
            servers.extend(getattr(value, "started", []))
        for srv in servers:
            report.sections.append((f"keyhold log ({srv.log_path})", srv.log_tail()))
