"""Fixtures every area shares: the example ops config and where the shared reference data lives."""

from __future__ import annotations

from pathlib import Path

import pytest

from queueopt.config import OpsConfig, load_config

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def example_config_path() -> Path:
    return REPO / "examples" / "ops.toml"


@pytest.fixture(scope="session")
def example_config(example_config_path: Path) -> OpsConfig:
    return load_config(example_config_path)
