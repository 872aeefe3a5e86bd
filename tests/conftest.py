"""Fixtures every area shares: the example ops config, and every store backend behind one fixture so the
contract suite and the engine tests run against each of them.

PostgreSQL runs on the server named by QUEUEOPT_TEST_DATABASE_URL (default: the local one), each test in a
schema of its own that is dropped afterwards. In CI it must run, so it is never skipped: an unreachable
server fails the test.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from queueopt.config import OpsConfig, load_config
from queueopt.store import MemoryStore, Store, open_store

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def example_config_path() -> Path:
    return REPO / "examples" / "ops.toml"


@pytest.fixture(scope="session")
def example_config(example_config_path: Path) -> OpsConfig:
    return load_config(example_config_path)


PG_URL = os.environ.get("QUEUEOPT_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")

StoreFactory = Callable[[], Store]


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_factory(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreFactory]:
    """Opens the same store again on each call: a restart for durable backends, the same object for memory."""
    opened: list[Store] = []
    if request.param == "memory":
        memory = MemoryStore()

        def factory() -> Store:
            return memory

    elif request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'queueopt.db'}"

        def factory() -> Store:
            opened.append(open_store(url))
            return opened[-1]

    else:
        schema = f"t_{uuid.uuid4().hex[:16]}"
        separator = "&" if "?" in PG_URL else "?"
        url = f"{PG_URL}{separator}schema={schema}"

        def factory() -> Store:
            opened.append(open_store(url))
            return opened[-1]

    yield factory
    for store in opened:
        store.close()
    if request.param == "postgres":
        with psycopg.connect(PG_URL, autocommit=True) as connection:
            connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture
def store(store_factory: StoreFactory) -> Store:
    return store_factory()
