"""The PostgreSQL backend against a real server: locking, crashes, compaction, workspaces."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet

from bench.pgserver import wait_until
from cozyplan.state.crypto import StateCipher
from cozyplan.state.model import Pending, ResourceState
from cozyplan.state.postgres import PostgresBackend
from cozyplan.state.store import StateStore
from tests.conftest import Project
from tests.engine.test_crash_and_lock import chain_spec

SCHEMA = "cozyplan_cozyplan"  # the default schema of cozyplan.yaml

pytestmark = pytest.mark.postgres


def query(conninfo: str, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    import psycopg

    with psycopg.connect(conninfo, autocommit=True) as conn:
        return list(conn.execute(sql, args).fetchall())


def pg_spec(body: str) -> str:
    return body.replace("version: 1\n", "version: 1\nbackend: {type: postgres}\n", 1)


def pg_state(conninfo: str, schema: str = SCHEMA) -> dict[str, Any]:
    rows = query(conninfo, f'SELECT address, data FROM "{schema}".resources')
    return {a: json.loads(d) for a, d in rows}


def locked(conninfo: str) -> bool:
    import psycopg

    try:
        return bool(query(conninfo, f'SELECT 1 FROM "{SCHEMA}".lock'))
    except psycopg.errors.UndefinedTable:
        return False


def _store(conninfo: str, schema: str = "s1") -> StateStore:
    return StateStore(PostgresBackend(conninfo, schema), StateCipher(key=Fernet.generate_key()))


def test_journal_rows_survive_a_dead_run_and_compaction_rewrites_only_changes(pg: str) -> None:
    store = _store(pg)
    store.lock("apply")
    state = store.load()
    assert state.serial == 0 and not state.resources
    for i in range(3):
        store.record(state, f"null_resource.n{i}", ResourceState("null_resource", "null", {"i": i}))
    marker = Pending("create", time.time(), {"vmid": 7}, "run-1")
    store.record(state, "local_file.f", ResourceState("local_file", "local", pending=marker))
    store.backend.close()  # the run dies: no compaction, no unlock

    again = _store(pg)
    again.lock("apply")  # the server dropped the dead session's advisory lock
    loaded = again.load()
    assert again.replayed == 4 and loaded.serial == 4 and loaded.lineage == state.lineage
    assert loaded.resources["local_file.f"].pending == marker
    again.write(loaded)
    assert query(pg, "SELECT count(*) FROM s1.journal") == [(0,)]
    xmin = dict(query(pg, "SELECT address, xmin::text FROM s1.resources"))

    loaded.resources["null_resource.n1"].observed = {"i": 100}
    again.record(loaded, "null_resource.n1", loaded.resources["null_resource.n1"])
    again.write(loaded)
    after = dict(query(pg, "SELECT address, xmin::text FROM s1.resources"))
    assert [a for a in after if after[a] != xmin[a]] == ["null_resource.n1"]
    assert query(pg, "SELECT lineage, serial FROM s1.meta") == [(state.lineage, 5)]
    again.unlock()
    assert query(pg, "SELECT count(*) FROM s1.lock") == [(0,)]


def test_second_apply_is_refused_naming_the_holder_and_a_killed_holder_blocks_nobody(
    project: Project, pg: str
) -> None:
    project.write(pg_spec(chain_spec(3, sleep="5")))
    first = project.spawn("apply", "--auto-approve")
    wait_until(lambda: locked(pg))
    (lock_id, pid, operation), *_ = query(pg, f'SELECT id, pid, operation FROM "{SCHEMA}".lock')
    assert pid == first.pid and operation == "apply"
    started = time.monotonic()
    second = project.sh("apply", "--auto-approve")
    assert time.monotonic() - started < 10
    assert second.returncode == 1
    assert f"pid {first.pid}" in second.stderr and lock_id in second.stderr
    assert "force-unlock" in second.stderr

    first.send_signal(signal.SIGKILL)  # mid-apply: the slow command is running
    first.wait()
    third = project.sh("apply", "--auto-approve")  # no force-unlock needed
    assert third.returncode == 0, third.stderr
    _assert_converged(project, pg, 3)


def _assert_converged(project: Project, pg: str, n: int) -> None:
    resources = pg_state(pg)
    assert set(resources) == {f"null_resource.n{i}" for i in range(n)} | {
        f"local_file.f{i}" for i in range(n)
    } | {"local_command.slow"}
    assert all(r["pending"] is None for r in resources.values())
    for i in range(n):  # every file holds the id in the state: nothing orphaned or doubled
        rid = resources[f"null_resource.n{i}"]["observed"]["id"]
        assert (project.dir / f"out/f{i}").read_text() == rid
    assert query(pg, f'SELECT count(*) FROM "{SCHEMA}".journal') == [(0,)]
    plan = project.sh("plan", "--detailed-exitcode")
    assert plan.returncode == 0, plan.stdout + plan.stderr


@pytest.mark.slow
def test_sigkill_loop_ends_with_state_equal_to_reality(project: Project, pg: str) -> None:
    n = 30
    project.write(pg_spec(chain_spec(n)))
    started = time.monotonic()
    assert project.sh("apply", "--auto-approve", "--parallelism", "4").returncode == 0
    full = time.monotonic() - started
    kills = 0
    for k, fraction in enumerate((0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)):
        # a new start value each round: every round replaces the chain, so kills land mid-work
        project.write(pg_spec(chain_spec(n).replace('"start"', f'"start{k}"')))
        proc = project.spawn("apply", "--auto-approve", "--parallelism", "4")
        time.sleep(full * fraction)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.wait()
    assert kills >= 3
    final = project.sh("apply", "--auto-approve")
    assert final.returncode == 0, final.stdout + final.stderr
    _assert_converged(project, pg, n)


def test_force_unlock_ends_a_hung_holders_session(project: Project, pg: str) -> None:
    project.write(pg_spec(chain_spec(2, sleep="30")))
    hung = project.spawn("apply", "--auto-approve")
    wait_until(lambda: locked(pg))
    ((lock_id,),) = query(pg, f'SELECT id FROM "{SCHEMA}".lock')
    wrong = project.sh("force-unlock", "nope")
    assert wrong.returncode == 1 and lock_id in wrong.stderr
    ok = project.sh("force-unlock", lock_id)
    assert ok.returncode == 0, ok.stderr
    assert project.sh("plan").returncode == 0  # the lock is free
    hung.kill()
    hung.wait()


def test_workspaces_keep_separate_states(project: Project, pg: str) -> None:
    project.write(
        pg_spec(
            "version: 1\nvariables:\n  env: {default: dev}\nresources:\n"
            "  local_file.a: {path: 'out/${var.env}', content: '${var.env}'}\n"
        )
    )
    assert project.sh("apply", "--auto-approve").returncode == 0
    new = project.sh("workspace", "new", "staging")
    assert new.returncode == 0, new.stderr
    assert project.sh("workspace", "show").stdout.strip() == "staging"
    staged = project.sh("apply", "--auto-approve", "--var", "env=staging")
    assert staged.returncode == 0, staged.stderr
    assert pg_state(pg, SCHEMA + "__staging")["local_file.a"]["desired"]["content"] == "staging"
    assert pg_state(pg)["local_file.a"]["desired"]["content"] == "dev"
    listed = project.sh("workspace", "list").stdout.split("\n")
    assert listed[:2] == ["  default", "* staging"]
    # --workspace picks another one for one command
    dev = project.sh("plan", "--detailed-exitcode", "--workspace", "default")
    assert dev.returncode == 0, dev.stdout + dev.stderr
    assert project.sh("workspace", "delete", "staging").returncode == 1  # the current one
    assert project.sh("workspace", "select", "default").returncode == 0
    busy = project.sh("workspace", "delete", "staging")
    assert busy.returncode == 1 and "still manages 1 resource" in busy.stderr
    gone = project.sh("workspace", "delete", "staging", "--force")
    assert gone.returncode == 0, gone.stderr
    assert project.sh("workspace", "list").stdout.split() == ["*", "default"]
    assert not query(pg, f"SELECT 1 FROM pg_namespace WHERE nspname = '{SCHEMA}__staging'")


EXAMPLE = Path(__file__).resolve().parents[2] / "specs/examples/proxmox.yaml"


@pytest.mark.slow
def test_sigkill_mid_create_then_the_next_run_adopts_it(
    project: Project, pg: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Against the lab's Proxmox, running in the background as a real one does (its clone tasks
    go on when cozyplan dies): the kill lands while VM creates are in flight (their crash
    markers are committed journal rows); the next run adopts the VMs instead of failing on
    them or making others."""
    monkeypatch.setenv("COZYPLAN_STATE_KEY", Fernet.generate_key().decode())
    (project.dir / "pve.yaml").write_text(EXAMPLE.read_text())
    up = project.sh("lab", "up", "--time-scale", "0.2")
    assert up.returncode == 0, up.stderr
    try:
        _kill_mid_create_and_rerun(project, pg)
    finally:
        project.sh("lab", "down")


def _kill_mid_create_and_rerun(project: Project, pg: str) -> None:
    args = ("-f", "pve.yaml", "--lab", "--backend-config", "type=postgres")
    schema = "cozyplan_pve"
    proc = project.spawn("apply", "--auto-approve", "--quiet", *args)
    in_flight = (
        f'SELECT address FROM "{schema}".journal j WHERE address LIKE %s AND data LIKE %s '
        f'AND serial = (SELECT max(serial) FROM "{schema}".journal WHERE address = j.address)'
    )
    markers = ("proxmox_vm.%", '%"pending":{"operation"%')

    def creating() -> bool:
        try:
            return bool(query(pg, in_flight, *markers))
        except Exception:
            return False

    wait_until(creating, timeout=60)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert query(pg, in_flight, *markers)  # the kill left creates in flight

    again = project.sh("apply", "--auto-approve", "--quiet", *args)  # no force-unlock
    assert again.returncode == 0, again.stdout + again.stderr
    world = json.loads((project.dir / ".lab/world.json").read_text())
    names = sorted(vm["config"].get("name", "") for vm in world["proxmox"]["vms"].values())
    expected = ["cozy-cp1", "cozy-cp2", "cozy-cp3", "cozy-worker1"]
    assert [n for n in names if n.startswith("cozy-")] == expected  # one VM each
    resources = pg_state(pg, schema)
    assert all(r["pending"] is None for r in resources.values())
    plan = project.sh("plan", "--detailed-exitcode", *args)
    assert plan.returncode == 0, plan.stdout + plan.stderr


def test_turning_encryption_on_seals_every_row_and_rekey_rotates(
    project: Project, pg: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import base64
    import os

    spec = pg_spec("version: 1\nresources:\n  null_resource.a: {triggers: {k: one}}\n"
                   "  null_resource.b: {triggers: {k: two}}\n")  # fmt: skip
    project.write(spec)
    assert project.sh("apply", "--auto-approve").returncode == 0
    for name in ("K1", "K2"):
        monkeypatch.setenv(name, base64.b64encode(os.urandom(32)).decode())
    monkeypatch.setenv("COZYPLAN_STATE_ENCRYPTION", "key-env:K1")
    project.write(spec.replace("k: one", "k: uno"))  # only null_resource.a changes
    assert project.sh("apply", "--auto-approve").returncode == 0
    rows = query(pg, f'SELECT address, data FROM "{SCHEMA}".resources')
    assert len(rows) == 2 and all(d.startswith('{"cozyplan-encrypted"') for _, d in rows)
    assert not any("uno" in d or "two" in d for _, d in rows)
    rekeyed = project.sh("state", "rekey", "--to", "key-env:K2")
    assert rekeyed.returncode == 0, rekeyed.stderr
    old = project.sh("plan")
    assert old.returncode == 1 and "wrong key from key-env:K1" in old.stderr
    monkeypatch.setenv("COZYPLAN_STATE_ENCRYPTION", "key-env:K2")
    assert project.sh("plan", "--detailed-exitcode").returncode == 0
