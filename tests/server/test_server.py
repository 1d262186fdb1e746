"""The command server, as a user runs it: ``cozyplan server start``, then plain commands.

Each test starts a real server process (in a short private directory) and runs ``cozyplan``
as a subprocess with the server enabled; ``served`` in the server's status proves a command
went through it rather than falling back to running on its own.
"""

from __future__ import annotations

import json
import os
import pty
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from cozyplan.server import ENV_DIR, control, fingerprint, interpreter, package_dir
from cozyplan.server.daemon import Server

REPO = Path(__file__).resolve().parents[2]
PROXMOX_EXAMPLE = REPO / "specs/examples/proxmox.yaml"

SPEC = """\
version: 1
variables:
  greeting:
    env: GREETING
    default: hello
resources:
  null_resource.a:
    triggers: {v: "1"}
  local_file.f:
    path: out/greeting.txt
    content: "${var.greeting} ${null_resource.a.id}"
"""


class Env:
    """The environment of commands that may use the test's server."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.vars = {**os.environ, ENV_DIR: str(directory), "NO_COLOR": "1"}
        self.vars.pop("COZYPLAN_SERVER", None)

    def cozyplan(self, *args: str, cwd: Path, **kw: Any) -> subprocess.CompletedProcess[str]:
        env = {**self.vars, **kw.pop("env", {})}
        return subprocess.run(
            [sys.executable, "-m", "cozyplan", *args],
            cwd=cwd,
            env=env,
            text=True,
            capture_output=True,
            timeout=kw.pop("timeout", 120),
            **kw,
        )

    def spawn(self, *args: str, cwd: Path) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "cozyplan", *args],
            cwd=cwd,
            env=self.vars,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )

    def status(self) -> dict[str, Any] | None:
        saved = os.environ.get(ENV_DIR)
        os.environ[ENV_DIR] = str(self.dir)
        try:
            return control.request({"op": "status"})
        finally:
            if saved is None:
                del os.environ[ENV_DIR]
            else:
                os.environ[ENV_DIR] = saved


@pytest.fixture
def idle() -> Iterator[Env]:
    """An environment with a private server directory and no server (yet)."""
    # a short path: a Unix socket's path is limited to ~107 bytes
    directory = Path(tempfile.mkdtemp(prefix="czs-", dir="/tmp"))
    env = Env(directory)
    try:
        yield env
    finally:
        env.cozyplan("server", "stop", cwd=directory)
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def server(idle: Env) -> Env:
    started = idle.cozyplan("server", "start", "--idle-timeout", "120", cwd=idle.dir)
    assert started.returncode == 0, started.stdout + started.stderr
    return idle


def slow_apply(server: Env, directory: Path, command: str) -> subprocess.Popen[str]:
    """``cozyplan apply`` of one ``local_command``, returned once the server runs it."""
    (directory / "cozyplan.yaml").write_text(
        f'version: 1\nresources:\n  local_command.slow:\n    command: "{command}"\n'
    )
    proc = server.spawn("apply", "--auto-approve", cwd=directory)
    wait_for(lambda: (server.status() or {}).get("running") == 1)
    return proc


def wait_for(predicate: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_a_command_runs_in_the_server_as_it_would_on_its_own(server: Env, tmp_path: Path) -> None:
    (tmp_path / "cozyplan.yaml").write_text(SPEC)
    warm = server.cozyplan("plan", "--detailed-exitcode", cwd=tmp_path)
    cold = server.cozyplan(
        "plan", "--detailed-exitcode", cwd=tmp_path, env={"COZYPLAN_SERVER": "off"}
    )
    assert (warm.returncode, warm.stdout, warm.stderr) == (
        cold.returncode,
        cold.stdout,
        cold.stderr,
    )
    assert warm.returncode == 2 and "2 to add" in warm.stdout
    status = server.status()
    assert status is not None and status["served"] == 1  # the cold one did not reach it


def test_environment_working_directory_and_stdin_are_the_clients(
    server: Env, tmp_path: Path
) -> None:
    (tmp_path / "cozyplan.yaml").write_text(SPEC)
    env = {"GREETING": "bonjour"}
    refused = server.cozyplan("apply", cwd=tmp_path, input="no\n", env=env)
    assert refused.returncode == 1 and "cancelled" in refused.stderr + refused.stdout
    assert not (tmp_path / "out").exists()
    applied = server.cozyplan(
        "apply", cwd=tmp_path, input="yes\n", env=env, preexec_fn=lambda: os.umask(0o077)
    )
    assert applied.returncode == 0, applied.stderr
    # relative paths resolve against the client's directory, variables come from its
    # environment, directories are created with its umask
    written = tmp_path / "out/greeting.txt"
    assert written.read_text().startswith("bonjour ")
    assert written.parent.stat().st_mode & 0o777 == 0o700
    # a usage error and its exit code come back as they are
    usage = server.cozyplan("apply", "--no-such-option", cwd=tmp_path)
    assert usage.returncode == 2 and "No such option" in usage.stderr
    assert server.cozyplan("plan", "--detailed-exitcode", cwd=tmp_path, env=env).returncode == 0
    status = server.status()
    assert status is not None and status["served"] == 4


def test_ctrl_c_reaches_the_command(server: Env, tmp_path: Path) -> None:
    proc = slow_apply(server, tmp_path, "sleep 3")
    time.sleep(0.5)  # in the apply
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    # cozyplan's own Ctrl-C handling: the step in flight finishes and is recorded
    assert "Interrupt" in err + out, err + out
    state = json.loads((tmp_path / "state/cozyplan.state.json").read_text())
    assert "local_command.slow" in state["resources"]
    assert proc.returncode != 0


def test_a_killed_client_takes_its_command_with_it(server: Env, tmp_path: Path) -> None:
    (tmp_path / "cozyplan.yaml").write_text(
        "version: 1\nresources:\n"
        + "".join(
            f'  local_command.c{i}:\n    command: "sleep 0.3 && echo {i} >> log"\n'
            + (f"    depends_on: [local_command.c{i - 1}]\n" if i else "")
            for i in range(12)
        )
    )
    proc = server.spawn("apply", "--auto-approve", cwd=tmp_path)
    wait_for(lambda: (tmp_path / "log").exists())
    proc.kill()
    proc.wait()
    wait_for(lambda: (server.status() or {}).get("running") == 0)
    # the step in flight (a shell in a session of its own, as without the server) may finish
    time.sleep(1.0)
    lines = (tmp_path / "log").read_text().split()
    time.sleep(1.5)  # a command still running would have run two more steps by now
    assert (tmp_path / "log").read_text().split() == lines
    assert len(lines) < 12
    # and what it did is in the state, to be resumed
    resumed = server.cozyplan("apply", "--auto-approve", cwd=tmp_path, timeout=60)
    assert resumed.returncode == 0, resumed.stderr
    # (a shell command cut off by the kill runs again: it cannot be read back)
    assert set(map(int, (tmp_path / "log").read_text().split())) == set(range(12))


def test_a_different_python_environment_is_run_on_its_own(server: Env, tmp_path: Path) -> None:
    (tmp_path / "cozyplan.yaml").write_text(SPEC)
    other = server.cozyplan(
        "plan", "--detailed-exitcode", cwd=tmp_path, env={"PYTHONPATH": str(tmp_path)}
    )
    assert other.returncode == 2 and "2 to add" in other.stdout
    status = server.status()
    assert status is not None and (status["served"], status["refused"]) == (0, 1)


def test_a_lab_command_forks_its_lab(server: Env, tmp_path: Path) -> None:
    (tmp_path / "pve.yaml").write_text(PROXMOX_EXAMPLE.read_text())
    lab = ("--lab", "--time-scale", "0.02", "-f", "pve.yaml")
    applied = server.cozyplan("apply", "--auto-approve", *lab, cwd=tmp_path, timeout=300)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    again = server.cozyplan("plan", "--detailed-exitcode", *lab, cwd=tmp_path)
    assert again.returncode == 0, again.stdout + again.stderr
    cold = server.cozyplan(
        "plan", "--detailed-exitcode", *lab, cwd=tmp_path, env={"COZYPLAN_SERVER": "off"}
    )
    assert cold.returncode == 0 and cold.stdout == again.stdout
    status = server.status()
    assert status is not None and status["served"] == 2


def test_stop_lets_a_running_command_finish(server: Env, tmp_path: Path) -> None:
    proc = slow_apply(server, tmp_path, "sleep 1 && echo done > out")
    stopped = server.cozyplan("server", "stop", cwd=tmp_path)
    assert stopped.returncode == 0 and "stopped" in stopped.stdout
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, out + err
    assert (tmp_path / "out").read_text() == "done\n"
    assert server.status() is None
    # with no server, commands run on their own
    assert server.cozyplan("plan", "--detailed-exitcode", cwd=tmp_path).returncode == 0


def test_one_server_per_environment(server: Env, tmp_path: Path) -> None:
    again = server.cozyplan("server", "start", cwd=tmp_path)
    assert again.returncode == 1 and "already runs" in again.stderr
    status = server.cozyplan("server", "status", cwd=tmp_path)
    assert status.returncode == 0 and "0 commands run" in status.stdout


def test_an_idle_server_exits(idle: Env, tmp_path: Path) -> None:
    started = idle.cozyplan("server", "start", "--idle-timeout", "2", cwd=tmp_path)
    assert started.returncode == 0
    wait_for(lambda: idle.status() is None)
    gone = idle.cozyplan("server", "status", cwd=tmp_path)
    assert gone.returncode == 3 and "no cozyplan server" in gone.stdout


def test_a_shared_directory_is_refused(idle: Env, tmp_path: Path) -> None:
    os.chmod(idle.dir, 0o777)
    started = idle.cozyplan("server", "start", cwd=tmp_path)
    assert started.returncode == 1
    assert f"{idle.dir} must be a directory of this user's only" in started.stderr


def test_changed_code_is_refused(tmp_path: Path) -> None:
    """The server compares the stamps of its packages' files before each command."""
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "mod.py").write_text("x = 1\n")
    server = Server(tmp_path / "s.sock")
    server._roots = [package]
    server._stamps = fingerprint.take([package])
    request = {
        "argv": ["plan"],
        "cwd": str(tmp_path),
        "umask": 0o022,
        "env": {"HOME": str(tmp_path)},
        "version": __import__("cozyplan").__version__,
        "executable": interpreter(),
        "package": package_dir(),
        "path": sys.path,
    }
    assert server._refusal(request, [0, 1, 2]) in (None, "threads")  # pytest may run threads
    (package / "mod.py").write_text("x = 22\n")
    assert server._refusal(request, [0, 1, 2]) == "stale"
    (package / "mod.py").write_text("x = 1\n")
    os.utime(package / "mod.py", ns=(0, 0))
    assert server._refusal(request, [0, 1, 2]) == "stale"
    assert server._refusal({**request, "path": ["/elsewhere"]}, [0, 1, 2]) == "environment"
    # ``python -m cozyplan`` in another checkout imports that checkout's cozyplan
    assert server._refusal({**request, "package": "/elsewhere"}, [0, 1, 2]) == "environment"
    server.close()


def test_auto_starts_a_server_for_the_next_commands(idle: Env, tmp_path: Path) -> None:
    (tmp_path / "cozyplan.yaml").write_text(SPEC)
    first = idle.cozyplan("plan", cwd=tmp_path, env={"COZYPLAN_SERVER": "auto"})
    assert first.returncode == 0 and "2 to add" in first.stdout  # run on its own
    wait_for(lambda: idle.status() is not None)
    second = idle.cozyplan("plan", cwd=tmp_path, env={"COZYPLAN_SERVER": "auto"})
    assert second.stdout == first.stdout
    status = idle.status()
    assert status is not None and status["served"] == 1


def test_commands_at_once(server: Env, tmp_path: Path) -> None:
    (tmp_path / "cozyplan.yaml").write_text(SPEC)
    procs = [
        # a state each: plans of one state would queue on its lock
        server.spawn("plan", "--detailed-exitcode", "--state", f"s{i}.json", cwd=tmp_path)
        for i in range(4)
    ]
    done = [p.communicate(timeout=60) for p in procs]
    outs = [out for out, _ in done]
    assert [p.returncode for p in procs] == [2, 2, 2, 2], done
    assert len(set(outs)) == 1
    status = server.status()
    assert status is not None and status["served"] == 4


def test_a_dead_server_leaves_its_command_to_finish(server: Env, tmp_path: Path) -> None:
    proc = slow_apply(server, tmp_path, "sleep 1 && echo done > out")
    status = server.status()
    assert status is not None
    os.kill(int(status["pid"]), signal.SIGKILL)
    out, err = proc.communicate(timeout=60)
    # the client waited for the command, which finished its work and wrote its output
    assert (tmp_path / "out").read_text() == "done\n"
    assert "Apply complete!" in out
    assert proc.returncode == 1 and "exit status is unknown" in err


def test_the_lab_tests_pass_through_the_server(server: Env) -> None:
    """Every ``cozyplan`` the lab tests start as a subprocess (apply, plan, refresh, lab up,
    drift...) runs in the server: they pass as they do without it."""
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/lab"],
        cwd=REPO,
        env={**server.vars, "COZYPLAN_TEST_THROUGH_SERVER": "1", "COZYPLAN_SERVER": "on"},
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    status = server.status()
    assert status is not None and status["served"] > 20 and status["refused"] == 0


def _at_a_terminal(env: Env, cwd: Path, *args: str, **extra: str) -> tuple[int, str]:
    """Run ``cozyplan ARGS`` with a terminal on stdin and stderr (stdout is not one): its
    exit code and what it wrote to the terminal."""
    master, slave = pty.openpty()
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "cozyplan", *args],
            cwd=cwd,
            env={**env.vars, **extra},
            stdin=slave,
            stdout=subprocess.DEVNULL,
            stderr=slave,
            timeout=120,
        )
        os.set_blocking(master, False)
        try:
            said = os.read(master, 1 << 16).decode(errors="replace")
        except BlockingIOError:
            said = ""
    finally:
        os.close(slave)
        os.close(master)
    return proc.returncode, said


def test_a_lab_rehearsal_at_a_terminal_starts_a_server(idle: Env, tmp_path: Path) -> None:
    idle.vars.pop("CI", None)
    (tmp_path / "cozyplan.yaml").write_text(SPEC)
    lab = ("plan", "--lab", "--time-scale", "0.05")
    # not at a terminal, or in CI, or without --lab: none is started
    assert idle.cozyplan(*lab, cwd=tmp_path).returncode == 0
    assert _at_a_terminal(idle, tmp_path, *lab, CI="true") == (0, "")
    assert _at_a_terminal(idle, tmp_path, "plan") == (0, "")
    time.sleep(0.5)
    assert idle.status() is None
    # a rehearsal typed at a terminal starts one for the next commands, and says so
    code, said = _at_a_terminal(idle, tmp_path, *lab)
    assert code == 0 and "started a command server" in said
    assert "COZYPLAN_SERVER=off" in said
    wait_for(lambda: idle.status() is not None)
    status = idle.status()
    assert status is not None and status["idle_timeout"] == 1800


def test_a_client_that_breaks_the_protocol_harms_nobody(server: Env, tmp_path: Path) -> None:
    import socket

    from cozyplan.server import wire

    path = next(server.dir.glob("server-*.sock"))
    for payload in (b"\x00\x00\x00\x05nojson", b"\xff\xff\xff\xff", b"\x00\x00"):
        with socket.socket(socket.AF_UNIX) as sock:
            sock.connect(str(path))
            sock.sendall(payload)
    # a request without what a command needs is refused (its descriptors closed), not run
    with socket.socket(socket.AF_UNIX) as sock:
        sock.connect(str(path))
        wire.send(sock, {"op": "run", "argv": "plan", "env": {}}, [0, 1, 2])
        assert wire.recv(sock) == ({"refused": "malformed"}, [])
    (tmp_path / "cozyplan.yaml").write_text(SPEC)
    assert server.cozyplan("plan", "--detailed-exitcode", cwd=tmp_path).returncode == 2
    status = server.status()
    assert status is not None and (status["served"], status["refused"]) == (1, 1)
