"""Fixtures for the console stage's Python test: tests/sdk/python's harness, one server per session."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Iterator

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "sdk" / "python"))

import keyhold_harness as kh  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def _clean_etc_hosts() -> Iterator[None]:
    yield
    kh.unpin_hosts()


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[kh.Server]:
    srv = kh.start_server(tmp_path_factory.mktemp("keyhold-console-py") / "data")
    yield srv
    rc = srv.stop()
    if rc != 0:
        raise kh.HarnessError(f"keyhold exited {rc} on SIGTERM\n{srv.log_tail()}")
