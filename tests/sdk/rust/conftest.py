"""Fixtures for the Rust SDK driver: reuses the Python suite's harness (tests/sdk/python)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Iterator

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "python"))

import keyhold_harness as kh  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def _clean_etc_hosts() -> Iterator[None]:
    yield
    kh.unpin_hosts()
