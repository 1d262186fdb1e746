"""PostgreSQL for the backend tests: one server per test session, one database per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bench.pgserver import admin_conninfo, create_database


@pytest.fixture(scope="session")
def pg_admin() -> Iterator[str]:
    try:
        import psycopg  # noqa: F401
    except ImportError:
        pytest.skip("psycopg is not installed (pip install 'cozyplan[postgres]')")
    with admin_conninfo() as conninfo:
        if conninfo is None:
            pytest.skip(
                "no PostgreSQL server binary (install Debian's postgresql package, as .ci/run "
                "does) and COZYPLAN_TEST_PG is not set"
            )
        yield conninfo


@pytest.fixture
def pg(pg_admin: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh database; the CLI (and its subprocesses) reach it via COZYPLAN_PG_CONN_STR."""
    conninfo = create_database(pg_admin)
    monkeypatch.setenv("COZYPLAN_PG_CONN_STR", conninfo)
    monkeypatch.delenv("COZYPLAN_STATE_ENCRYPTION", raising=False)
    monkeypatch.delenv("COZYPLAN_WORKSPACE", raising=False)
    monkeypatch.delenv("COZYPLAN_BACKEND", raising=False)
    return conninfo
