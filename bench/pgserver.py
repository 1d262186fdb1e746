"""A real PostgreSQL server for tests and the backend bench: the one CI started
(``COZYPLAN_TEST_PG``, a connection string with rights to create databases), else a throwaway
cluster in a temp dir, on a Unix socket and loopback TCP, run as the ``postgres`` user when we
are root (initdb refuses root)."""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path


def server_bin() -> Path | None:
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).resolve().parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), reverse=True)
    return Path(candidates[0]).parent if candidates else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def throwaway_cluster(bindir: Path) -> Iterator[str]:
    root = Path(tempfile.mkdtemp(prefix="cozyplan-pg-"))
    data, sock = root / "data", root / "sock"
    sock.mkdir()
    user: str | None = None
    if os.geteuid() == 0:
        user = "postgres"
        pw = pwd.getpwnam(user)
        for path in (root, sock):
            os.chown(path, pw.pw_uid, pw.pw_gid)

    def run(*argv: str) -> None:
        cmd = [*(["runuser", "-u", user, "--"] if user else []), *argv]
        subprocess.run(cmd, check=True, capture_output=True, timeout=120)

    port = _free_port()
    run(str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync")
    opts = (
        f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={sock} "
        "-c max_connections=100 -c shared_buffers=32MB"
    )
    run(str(bindir / "pg_ctl"), "-D", str(data), "-o", opts, "-w", "-l", str(root / "log"), "start")
    try:
        yield f"host={sock} port={port} user=postgres dbname=postgres"
    finally:
        with contextlib.suppress(Exception):
            run(str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop")
        shutil.rmtree(root, ignore_errors=True)


@contextlib.contextmanager
def admin_conninfo() -> Iterator[str | None]:
    env = os.environ.get("COZYPLAN_TEST_PG")
    if env:
        yield env
        return
    bindir = server_bin()
    if bindir is None:
        yield None
        return
    with throwaway_cluster(bindir) as conninfo:
        yield conninfo


def create_database(admin: str) -> str:
    """A fresh database; returns its connection string."""
    import psycopg
    from psycopg import sql

    name = f"cozyplan_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    info = psycopg.conninfo.conninfo_to_dict(admin)
    info["dbname"] = name
    return psycopg.conninfo.make_conninfo(**{k: str(v) for k, v in info.items()})


def wait_until(check: object, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")
