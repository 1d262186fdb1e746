"""The PostgreSQL backend (psycopg 3): the local journal's semantics as transactional rows.

One schema per workspace (``<schema>`` for ``default``, ``<schema>__<workspace>`` otherwise),
created on first use, with four tables:

- ``meta``: one row, the snapshot's lineage and serial;
- ``resources``: the snapshot, one row per resource (its encoded JSON, or an envelope);
- ``journal``: one row per resource change since the snapshot (``data`` NULL: removed);
- ``lock``: one row naming the holder (id, pid, host, time, operation, its server pid).

Durability mirrors the local journal: a journal row is committed at once with
``synchronous_commit = off`` (it survives this process dying, as a written file line does) and
``durable()`` commits one transaction with ``synchronous_commit = on``, which flushes the WAL up
to it and so every row before it: one flush shared by every step waiting at that moment.
Compaction folds the journal in one transaction and rewrites only the resource rows that changed.

Locking: a session-level advisory lock held by the run's one connection (the server releases it
when that connection dies: a SIGKILLed runner never blocks the team), plus the ``lock`` row for
the refusal message and ``force-unlock``. Every write goes through the connection that holds the
lock, so a run that lost its connection cannot write after another run took over.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from cozyplan.errors import LockedError, StateError
from cozyplan.state.backend import DEFAULT_WORKSPACE, Snapshot
from cozyplan.state.envelope import Encryption, is_envelope, open_maybe
from cozyplan.state.local import journal_context
from cozyplan.state.lock import LockInfo
from cozyplan.state.model import FORMAT_VERSION

LOCK_NAMESPACE = "cozyplan-state:"
LAST_RUN_CONTEXT = "cozyplan-last-run"
HOLDER_WAIT_S = 2.0  # a holder writes its lock row right after taking the advisory lock

DDL = (
    "CREATE SCHEMA IF NOT EXISTS {s}",
    "CREATE TABLE IF NOT EXISTS {s}.meta (one boolean PRIMARY KEY DEFAULT true CHECK (one), "
    "lineage text NOT NULL, serial bigint NOT NULL, format integer NOT NULL)",
    "CREATE TABLE IF NOT EXISTS {s}.resources (address text PRIMARY KEY, data text NOT NULL)",
    "CREATE TABLE IF NOT EXISTS {s}.last_run (one boolean PRIMARY KEY DEFAULT true CHECK (one), "
    "data text NOT NULL)",
    "CREATE TABLE IF NOT EXISTS {s}.journal (serial bigint PRIMARY KEY, address text NOT NULL, "
    "data text)",
    "CREATE TABLE IF NOT EXISTS {s}.lock (one boolean PRIMARY KEY DEFAULT true CHECK (one), "
    "id text NOT NULL, pid integer NOT NULL, host text NOT NULL, created double precision "
    "NOT NULL, operation text NOT NULL, backend_pid integer NOT NULL)",
)


def _psycopg() -> Any:
    try:
        import psycopg
    except ImportError:
        raise StateError(
            "the postgres backend needs psycopg 3: pip install 'cozyplan[postgres]'"
        ) from None
    return psycopg


F = TypeVar("F", bound=Callable[..., Any])


def _db_errors(method: F) -> F:
    """A database error is a StateError naming the server (never a traceback, no password)."""

    @functools.wraps(method)
    def wrapper(self: PostgresBackend, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except _psycopg().Error as exc:
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise StateError(f"{self.describe()}: {first}") from None

    return wrapper  # type: ignore[return-value]


def describe_conninfo(conn_str: str) -> str:
    """host/dbname of a connection string, never its password."""
    psycopg = _psycopg()
    try:
        info = psycopg.conninfo.conninfo_to_dict(conn_str)
    except psycopg.ProgrammingError:
        return "postgres (unparsable connection string)"
    host = info.get("host") or os.environ.get("PGHOST") or "localhost"
    port = info.get("port") or os.environ.get("PGPORT")
    db = info.get("dbname") or os.environ.get("PGDATABASE") or info.get("user") or ""
    return f"postgres {host}{':' + str(port) if port else ''}/{db}"


def connect(conn_str: str) -> Any:
    psycopg = _psycopg()
    try:
        conn = psycopg.connect(conn_str, autocommit=True, application_name="cozyplan")
    except psycopg.Error as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise StateError(f"cannot connect to {describe_conninfo(conn_str)}: {first}") from None
    # journal rows commit without waiting for the WAL flush; durable() waits for it
    conn.execute("SET synchronous_commit = off")
    return conn


class PostgresBackend:
    kind = "postgres"

    def __init__(self, conn_str: str, schema: str, encryption: Encryption | None = None) -> None:
        self.conn_str = conn_str
        self.schema = schema
        self.encryption = encryption
        self._conn: Any = None
        self._mutex = threading.Lock()  # one unit of work at a time on the connection
        self._lock_info: LockInfo | None = None
        self._table: dict[str, str] | None = None  # address -> plain JSON in ``resources``
        self._meta_written = False
        self._written = 0
        self._synced = 0
        self._inflight: asyncio.Future[None] | None = None

    def describe(self) -> str:
        return f"{describe_conninfo(self.conn_str)} schema {self.schema}"

    # -- plumbing -----------------------------------------------------------------------------
    def _sql(self, text: str) -> Any:
        from psycopg import sql

        return sql.SQL(text).format(s=sql.Identifier(self.schema))

    @property
    def conn(self) -> Any:
        if self._conn is None or self._conn.closed:
            if self._lock_info is not None:
                raise StateError(
                    f"lost the connection to {self.describe()} while holding its lock; "
                    "nothing more is written (run again: the journal so far is kept)"
                )
            self._conn = connect(self.conn_str)
        return self._conn

    @contextlib.contextmanager
    def _work(self, durable: bool = False) -> Iterator[Any]:
        """One transaction (pipelined: one round trip for its statements)."""
        with self._mutex:
            conn = self.conn
            with conn.pipeline(), conn.transaction():
                if durable:
                    conn.execute("SET LOCAL synchronous_commit = on")
                yield conn

    def _schema_exists(self, conn: Any) -> bool:
        row = conn.execute(
            "SELECT to_regclass(%s) IS NOT NULL", (f'"{self.schema}".journal',)
        ).fetchone()
        return bool(row[0])

    @_db_errors
    def ensure_schema(self) -> None:
        with self._mutex:
            for stmt in DDL:
                self.conn.execute(self._sql(stmt))

    def _lock_key(self) -> str:
        return LOCK_NAMESPACE + self.schema

    # -- locking ------------------------------------------------------------------------------
    @_db_errors
    def lock(self, operation: str) -> LockInfo:
        with self._mutex:
            conn = self.conn
            got = conn.execute(
                "SELECT pg_try_advisory_lock(hashtextextended(%s, 0))", (self._lock_key(),)
            ).fetchone()[0]
        if not got:
            holder = self._wait_for_holder()
            self.close()
            detail = holder.describe() if holder else "holder unknown"
            hint = f"cozyplan force-unlock {holder.id}" if holder else "cozyplan force-unlock"
            raise LockedError(
                f"the state ({self.describe()}) is locked: {detail}. The lock is released when "
                f"that run ends or dies; if it hangs, '{hint}' ends its database session."
            )
        self.ensure_schema()
        info = LockInfo(
            str(uuid.uuid4()), os.getpid(), socket.gethostname(), time.time(), operation
        )
        with self._mutex:
            self.conn.execute(
                self._sql(
                    "INSERT INTO {s}.lock (id, pid, host, created, operation, backend_pid) "
                    "VALUES (%s, %s, %s, %s, %s, pg_backend_pid()) ON CONFLICT (one) DO UPDATE SET "
                    "id = EXCLUDED.id, pid = EXCLUDED.pid, host = EXCLUDED.host, "
                    "created = EXCLUDED.created, operation = EXCLUDED.operation, "
                    "backend_pid = EXCLUDED.backend_pid"
                ),
                (info.id, info.pid, info.host, info.created, info.operation),
            )
        self._lock_info = info
        return info

    def _wait_for_holder(self) -> LockInfo | None:
        deadline = time.monotonic() + HOLDER_WAIT_S
        while True:
            holder = self.read_lock()
            if holder is not None or time.monotonic() > deadline:
                return holder
            time.sleep(0.05)

    @_db_errors
    def read_lock(self) -> LockInfo | None:
        with self._mutex:
            conn = self.conn
            if not self._schema_exists(conn):
                return None
            row = conn.execute(
                self._sql("SELECT id, pid, host, created, operation FROM {s}.lock")
            ).fetchone()
        return LockInfo(*row) if row else None

    def unlock(self) -> None:
        if self._conn is None or self._conn.closed:
            self._conn = None
            self._lock_info = None
            return
        try:
            if self._lock_info is not None:
                with self._mutex:
                    self._conn.execute(
                        self._sql("DELETE FROM {s}.lock WHERE id = %s"), (self._lock_info.id,)
                    )
                    self._conn.execute(
                        "SELECT pg_advisory_unlock(hashtextextended(%s, 0))", (self._lock_key(),)
                    )
        except _psycopg().Error:
            pass  # the server drops the advisory lock with the connection anyway
        finally:
            self._lock_info = None
            self.close()

    @_db_errors
    def force_unlock(self, lock_id: str) -> LockInfo:
        with self._mutex:
            conn = self.conn
            if not self._schema_exists(conn):
                raise StateError(f"no lock is held on {self.describe()}")
            row = conn.execute(
                self._sql("SELECT id, pid, host, created, operation, backend_pid FROM {s}.lock")
            ).fetchone()
            if row is None:
                raise StateError(f"no lock is held on {self.describe()}")
            info = LockInfo(*row[:5])
            if info.id != lock_id:
                raise StateError(f"the lock id is {info.id}, not {lock_id}: nothing was unlocked")
            # the advisory lock is the real one: end the session that holds it, if it lives
            conn.execute(
                "SELECT pg_terminate_backend(l.pid) FROM pg_locks l WHERE l.locktype = 'advisory' "
                "AND l.granted AND l.pid = %s",
                (row[5],),
            )
            conn.execute(self._sql("DELETE FROM {s}.lock WHERE id = %s"), (lock_id,))
        self.close()
        return info

    # -- reading ------------------------------------------------------------------------------
    def _open(self, data: str, context: str, where: str) -> str:
        if self.encryption is None and not data.startswith('{"cozyplan-encrypted"'):
            return data
        return open_maybe(data.encode(), self.encryption, context, where).decode()

    def _seal(self, plain: str, context: str) -> str:
        if self.encryption is None:
            return plain
        return self.encryption.seal(plain.encode(), context).decode()

    @_db_errors
    def exists(self) -> bool:
        with self._mutex:
            conn = self.conn
            if not self._schema_exists(conn):
                return False
            return bool(
                conn.execute(self._sql("SELECT EXISTS (SELECT 1 FROM {s}.meta)")).fetchone()[0]
            )

    @_db_errors
    def has_journal(self) -> bool:
        with self._mutex:
            conn = self.conn
            if not self._schema_exists(conn):
                return False
            return bool(
                conn.execute(self._sql("SELECT EXISTS (SELECT 1 FROM {s}.journal)")).fetchone()[0]
            )

    @_db_errors
    def read(self) -> Snapshot | None:
        with self._mutex:
            conn = self.conn
            if not self._schema_exists(conn):
                self._table = {}
                return None
            with conn.transaction():
                conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
                meta = conn.execute(
                    self._sql("SELECT lineage, serial, format FROM {s}.meta")
                ).fetchone()
                rows = conn.execute(self._sql("SELECT address, data FROM {s}.resources")).fetchall()
                journal = conn.execute(
                    self._sql("SELECT serial, address, data FROM {s}.journal ORDER BY serial")
                ).fetchall()
                run = conn.execute(self._sql("SELECT data FROM {s}.last_run")).fetchone()
        if meta is None:
            self._table = {}
            return None
        lineage, serial, fmt = meta
        if fmt > FORMAT_VERSION:
            raise StateError(
                f"{self.describe()} holds state format {fmt}, newer than this cozyplan "
                f"understands ({FORMAT_VERSION})"
            )
        where = f"the state in {self.describe()}"
        table = {a: self._open(d, resource_context(lineage, a), where) for a, d in rows}
        snap = Snapshot(lineage, serial, {a: json.loads(d) for a, d in table.items()})
        if run is not None:
            snap.last_run = json.loads(self._open(run[0], LAST_RUN_CONTEXT, where))
        # a row stored in clear while encryption is on (or sealed while it is off) is
        # rewritten at the next compaction even if it did not change
        want_sealed = self.encryption is not None
        self._table = {a: table[a] if is_envelope(d) == want_sealed else "" for a, d in rows}
        for jserial, address, data in journal:
            if jserial <= snap.serial:
                continue
            snap.serial = jserial
            snap.journal_records += 1
            if data is None:
                snap.resources.pop(address, None)
            else:
                plain = self._open(data, journal_context(lineage, jserial) + address, where)
                snap.resources[address] = json.loads(plain)
        return snap

    # -- writing ------------------------------------------------------------------------------
    def append(
        self,
        lineage: str,
        base_serial: int,
        serial: int,
        address: str,
        resource: dict[str, Any] | None,
        *,
        sync: bool,
    ) -> None:
        data = None
        if resource is not None:
            plain = json.dumps(resource, separators=(",", ":"))
            data = self._seal(plain, journal_context(lineage, serial) + address)
        insert = self._sql("INSERT INTO {s}.journal (serial, address, data) VALUES (%s, %s, %s)")
        if not self._meta_written:
            # the journal's header: which snapshot these rows follow (as the local journal's
            # first line); a state never compacted yet gets its meta row here
            with self._work(durable=sync) as conn:
                conn.execute(
                    self._sql(
                        "INSERT INTO {s}.meta (lineage, serial, format) VALUES (%s, %s, %s) "
                        "ON CONFLICT (one) DO NOTHING"
                    ),
                    (lineage, base_serial, FORMAT_VERSION),
                )
                conn.execute(insert, (serial, address, data))
            self._meta_written = True
        elif sync:
            with self._work(durable=True) as conn:
                conn.execute(insert, (serial, address, data))
        else:
            with self._mutex:
                self.conn.execute(insert, (serial, address, data))
        self._written += 1
        if sync:
            self._synced = self._written

    async def durable(self) -> None:
        """Group commit: wait until every row appended so far survives a server crash."""
        target = self._written
        while self._synced < target:
            if self._inflight is None:
                self._inflight = asyncio.ensure_future(self._sync_now())
            inflight = self._inflight
            await asyncio.shield(inflight)

    async def _sync_now(self) -> None:
        upto = self._written
        try:
            await asyncio.to_thread(self._flush)
            self._synced = max(self._synced, upto)
        finally:
            self._inflight = None

    @_db_errors
    def _flush(self) -> None:
        # a transaction with an xid commits with a WAL flush, which covers every earlier commit
        with self._work(durable=True) as conn:
            conn.execute("SELECT txid_current()")

    @_db_errors
    def compact(self, snapshot: Snapshot, *, rewrite: bool = False) -> None:
        if self._table is None:
            self.read()
        assert self._table is not None
        if rewrite:
            self._table = {a: "" for a in self._table}
        self.ensure_schema()
        new = {a: json.dumps(r, separators=(",", ":")) for a, r in snapshot.resources.items()}
        changed = [
            (a, self._seal(p, resource_context(snapshot.lineage, a)))
            for a, p in new.items()
            if self._table.get(a) != p
        ]
        removed = [a for a in self._table if a not in new]
        with self._work(durable=True) as conn:
            conn.execute(
                self._sql(
                    "INSERT INTO {s}.meta (lineage, serial, format) VALUES (%s, %s, %s) "
                    "ON CONFLICT (one) DO UPDATE SET lineage = EXCLUDED.lineage, "
                    "serial = EXCLUDED.serial, format = EXCLUDED.format"
                ),
                (snapshot.lineage, snapshot.serial, FORMAT_VERSION),
            )
            if removed:
                conn.execute(
                    self._sql("DELETE FROM {s}.resources WHERE address = ANY(%s)"), (removed,)
                )
            if changed:
                with conn.cursor() as cur:
                    cur.executemany(
                        self._sql(
                            "INSERT INTO {s}.resources (address, data) VALUES (%s, %s) "
                            "ON CONFLICT (address) DO UPDATE SET data = EXCLUDED.data"
                        ),
                        changed,
                    )
            if snapshot.last_run is not None:
                conn.execute(
                    self._sql(
                        "INSERT INTO {s}.last_run (data) VALUES (%s) "
                        "ON CONFLICT (one) DO UPDATE SET data = EXCLUDED.data"
                    ),
                    (self._seal(json.dumps(snapshot.last_run), LAST_RUN_CONTEXT),),
                )
            conn.execute(self._sql("DELETE FROM {s}.journal"))
        self._table = new
        self._meta_written = True

    @_db_errors
    def destroy(self) -> None:
        with self._mutex:
            self.conn.execute(self._sql("DROP SCHEMA IF EXISTS {s} CASCADE"))
        self._table = None

    def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
            self._conn = None


def resource_context(lineage: str, address: str) -> str:
    return f"cozyplan-resource:{lineage}:{address}"


class PostgresLocation:
    kind = "postgres"

    def __init__(self, conn_str: str, schema: str, encryption: Encryption | None = None) -> None:
        self.conn_str = conn_str
        self.schema = schema
        self.encryption = encryption

    def schema_for(self, workspace: str) -> str:
        return self.schema if workspace == DEFAULT_WORKSPACE else f"{self.schema}__{workspace}"

    def backend(self, workspace: str) -> PostgresBackend:
        return PostgresBackend(self.conn_str, self.schema_for(workspace), self.encryption)

    def workspaces(self) -> list[str]:
        conn = connect(self.conn_str)
        try:
            rows = conn.execute(
                "SELECT nspname FROM pg_namespace WHERE starts_with(nspname, %s)",
                (self.schema + "__",),
            ).fetchall()
        finally:
            conn.close()
        prefix = len(self.schema) + 2
        return sorted({DEFAULT_WORKSPACE} | {r[0][prefix:] for r in rows})

    def create_workspace(self, workspace: str) -> None:
        backend = self.backend(workspace)
        try:
            backend.ensure_schema()
        finally:
            backend.close()

    def sensitive_key_file(self, workspace: str) -> None:
        return None
