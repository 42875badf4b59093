"""Shared fixtures: paths of the repository's shared vectors and of the `vane` binary."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
SPEC = ROOT / "spec"


def vane_binary() -> Path:
    """The `vane` binary the test script built (`VANE_BIN`), or the default debug build."""
    explicit = os.environ.get("VANE_BIN")
    if explicit:
        return Path(explicit)
    target = Path(os.environ.get("CARGO_TARGET_DIR", Path.home() / ".cache" / "vane-target"))
    return target / "debug" / "vane"


@pytest.fixture(scope="session")
def vane_bin() -> Path:
    path = vane_binary()
    if not path.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{path} does not exist: build it with `cargo build --bin vane`")
        pytest.skip(f"{path} does not exist: build it with `cargo build --bin vane`")
    return path
