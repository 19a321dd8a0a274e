"""A PostgreSQL server for the fleet tests (one per session, a fresh database per test)."""

from __future__ import annotations

import uuid

import pytest

from fleet.local_postgres import find_bindir


@pytest.fixture(scope="session")
def postgres():
    if find_bindir() is None:
        pytest.skip("PostgreSQL is not installed (apt install postgresql)")
    pytest.importorskip("psycopg")
    from fleet.local_postgres import LocalPostgres
    with LocalPostgres() as server:
        yield server


@pytest.fixture
def pg_url(postgres) -> str:
    import psycopg
    name = f"t_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(postgres.url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return postgres.url.rsplit("/", 1)[0] + "/" + name
