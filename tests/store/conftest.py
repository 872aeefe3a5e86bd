"""Fixtures of the store tests."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pytest
from tests.conftest import PG_URL


@pytest.fixture
def pg_url() -> Iterator[str]:
    """The URL of a PostgreSQL store in a schema of its own, dropped afterwards."""
    schema = f"store_{uuid.uuid4().hex[:12]}"
    yield f"{PG_URL}{'&' if '?' in PG_URL else '?'}schema={schema}"
    with psycopg.connect(PG_URL, autocommit=True) as connection:
        connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
