"""SIGKILL at any moment, locking, saved plans: nothing lost, nothing created twice."""

from __future__ import annotations

import json
import os
import signal
import time

import pytest

from tests.conftest import Project

N = 40


def chain_spec(n: int = N, sleep: str = "0.02") -> str:
    lines = ["version: 1", "resources:"]
    for i in range(n):
        prev = f"${{null_resource.n{i - 1}.id}}" if i else "start"
        lines += [
            f"  null_resource.n{i}:",
            f'    triggers: {{prev: "{prev}"}}',
            f"  local_file.f{i}:",
            f"    path: out/f{i}",
            f'    content: "${{null_resource.n{i}.id}}"',
        ]
    # a slow step in the middle so kills land while work is in flight
    lines += [
        "  local_command.slow:",
        f'    command: "sleep {sleep} && echo ran >> out/slow.log"',
        "    depends_on: [null_resource.n0]",
    ]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("delay", [0.3, 0.45, 0.6, 0.75, 0.9, 1.1, 1.4])
def test_sigkill_then_apply_converges(project: Project, delay: float) -> None:
    project.write(chain_spec())
    proc = project.spawn("apply", "--auto-approve", "--parallelism", "4")
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    again = project.sh("apply", "--auto-approve")
    assert again.returncode == 0, again.stdout + again.stderr
    state = json.loads((project.dir / "state/cozyplan.state.json").read_text())
    addresses = set(state["resources"])
    assert addresses == {f"null_resource.n{i}" for i in range(N)} | {
        f"local_file.f{i}" for i in range(N)
    } | {"local_command.slow"}
    assert all(r["pending"] is None for r in state["resources"].values())
    # every file holds the id of the null_resource that is in the state: nothing orphaned
    for i in range(N):
        rid = state["resources"][f"null_resource.n{i}"]["observed"]["id"]
        assert (project.dir / f"out/f{i}").read_text() == rid
    assert project.sh("plan", "--detailed-exitcode").returncode == 0
    assert not (project.dir / "state/cozyplan.state.json.journal").exists()


def test_second_apply_fails_at_once_naming_the_holder(project: Project) -> None:
    project.write(chain_spec(3, sleep="5"))
    first = project.spawn("apply", "--auto-approve")
    lock = project.dir / "state/cozyplan.state.json.lock"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not (lock.exists() and lock.read_text()):
        time.sleep(0.05)
    started = time.monotonic()
    second = project.sh("apply", "--auto-approve")
    assert time.monotonic() - started < 10
    assert second.returncode == 1
    info = json.loads(lock.read_text())
    assert f"pid {first.pid}" in second.stderr
    assert info["id"] in second.stderr
    assert "force-unlock" in second.stderr
    # a killed holder does not block the next run (the kernel drops its flock)
    first.send_signal(signal.SIGKILL)
    first.wait()
    third = project.sh("apply", "--auto-approve")
    assert third.returncode == 0, third.stderr


def test_force_unlock(project: Project) -> None:
    project.write(chain_spec(2))
    lock = project.dir / "state/cozyplan.state.json.lock"
    lock.parent.mkdir(parents=True)
    # a lock left on a shared disk by another machine: the file names it, no flock is held
    fd = os.open(lock, os.O_RDWR | os.O_CREAT)
    import fcntl

    fcntl.flock(fd, fcntl.LOCK_EX)
    lock.write_text(
        json.dumps(
            {
                "id": "abc-123",
                "pid": 999999,
                "host": "elsewhere",
                "created": time.time(),
                "operation": "apply",
            }
        )
    )
    blocked = project.sh("plan")
    assert blocked.returncode == 1 and "abc-123" in blocked.stderr
    wrong = project.sh("force-unlock", "nope")
    assert wrong.returncode == 1 and "abc-123" in wrong.stderr
    ok = project.sh("force-unlock", "abc-123")
    assert ok.returncode == 0, ok.stderr
    assert project.sh("plan").returncode == 0
    os.close(fd)


def test_saved_plan_applies_and_refuses_when_stale(project: Project) -> None:
    spec = chain_spec(3)
    project.write(spec)
    assert project.run("plan", "--out", "p.plan").exit_code == 0
    out = project.run("show", "p.plan")
    assert "Plan: 7 to add" in out.output
    applied = project.run("apply", "p.plan")
    assert applied.exit_code == 0, applied.output
    # the same plan again: the state moved on
    stale = project.run("apply", "p.plan")
    assert stale.exit_code == 1
    assert "the saved plan is stale: the state changed" in stale.output
    # a spec edit after planning
    project.write(spec.replace("start", "begin"))
    assert project.run("plan", "--out", "q.plan").exit_code == 0
    project.write(spec.replace("start", "again"))
    edited = project.run("apply", "q.plan")
    assert edited.exit_code == 1
    assert "the spec file changed" in edited.output


def test_state_key_is_created_only_when_a_secret_is_stored(project: Project) -> None:
    project.write(chain_spec(2))  # local_file has a sensitive field, but it is never set here
    assert project.sh("apply", "--auto-approve").returncode == 0
    key = project.dir / "state/cozyplan.state.json.key"
    assert not key.exists()
    project.write(
        chain_spec(2) + "  local_file.s:\n    path: out/s\n"
        "    sensitive_content: top-secret-value\n"
    )
    assert project.sh("apply", "--auto-approve").returncode == 0
    assert key.exists() and oct(key.stat().st_mode & 0o777) == "0o600"
    assert "top-secret-value" not in (project.dir / "state/cozyplan.state.json").read_text()
    key.write_text("garbage")
    broken = project.sh("plan")
    assert broken.returncode == 1
    assert "not a valid key" in broken.stderr and "Traceback" not in broken.stderr


def test_saved_plan_refuses_when_a_variable_changed(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    project.write(
        "version: 1\nvariables:\n  msg: {default: aaa, env: MSG_FOR_TEST}\n"
        "resources:\n  local_file.a: {path: out/a, content: '${var.msg}'}\n"
    )
    monkeypatch.setenv("MSG_FOR_TEST", "bbb")
    assert project.run("plan", "--out", "p.plan").exit_code == 0
    monkeypatch.setenv("MSG_FOR_TEST", "ccc")
    wrong = project.run("apply", "p.plan")  # other values than reviewed
    assert wrong.exit_code == 1
    assert "the values it would write changed" in wrong.output
    assert not (project.dir / "out/a").exists()
    monkeypatch.setenv("MSG_FOR_TEST", "bbb")
    right = project.run("apply", "p.plan")
    assert right.exit_code == 0, right.output
    assert (project.dir / "out/a").read_text() == "bbb"
