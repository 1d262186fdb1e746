"""Ctrl-C: stop starting work, let running steps finish, save state, exit 1; then converge."""

from __future__ import annotations

import json
import signal
import time

from tests.conftest import Project

SPEC = """\
version: 1
resources:
  local_command.slow:
    count: 6
    command: "sleep 1.5 && mkdir -p out && echo ${count.index} >> out/ran.log"
"""


def test_sigint_finishes_running_steps_and_saves_state(project: Project) -> None:
    project.write(SPEC)
    proc = project.spawn("apply", "--auto-approve", "--parallelism", "2")
    assert proc.stdout is not None
    seen = ""
    deadline = time.monotonic() + 60
    while "Creating..." not in seen and time.monotonic() < deadline:
        seen += proc.stdout.readline()  # the first steps are running
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    out = seen + out
    assert proc.returncode == 1, out + err
    assert "Interrupt received" in err
    assert "Run apply again to finish" in err
    state = json.loads((project.dir / "state/cozyplan.state.json").read_text())
    done = {a for a, r in state["resources"].items() if r["observed"] is not None}
    ran = (project.dir / "out/ran.log").read_text().split()
    # every step that ran was recorded; nothing half-done
    assert len(done) == len(ran)
    assert 0 < len(done) < 6
    again = project.sh("apply", "--auto-approve")
    assert again.returncode == 0, again.stderr
    assert sorted((project.dir / "out/ran.log").read_text().split()) == [str(i) for i in range(6)]


def test_second_sigint_abandons_running_steps_without_a_traceback(project: Project) -> None:
    project.write(SPEC.replace("sleep 1.5", "sleep 5"))
    proc = project.spawn("apply", "--auto-approve", "--parallelism", "2")
    assert proc.stdout is not None
    seen = ""
    deadline = time.monotonic() + 60
    while "Creating..." not in seen and time.monotonic() < deadline:
        seen += proc.stdout.readline()
    proc.send_signal(signal.SIGINT)
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1
    assert "Interrupted again" in err and "Traceback" not in err
    # the abandoned steps left crash markers; the next apply finishes everything
    again = project.sh("apply", "--auto-approve")
    assert again.returncode == 0, again.stderr
    assert project.sh("plan", "--detailed-exitcode").returncode == 0
