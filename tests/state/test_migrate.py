"""state migrate: local -> postgres -> local keeps every resource byte for byte."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet

from tests.conftest import Project

SPEC = """\
version: 1
resources:
  null_resource.a: {triggers: {k: v}}
  local_file.f: {path: out/f, content: "${null_resource.a.id}"}
  local_file.s: {path: out/s, sensitive_content: top-secret}
"""

pytestmark = pytest.mark.postgres


def _resources_bytes(path: Path) -> tuple[str, int, list[str]]:
    doc = json.loads(path.read_text())
    lines = [
        f"{a}:{json.dumps(r, separators=(',', ':'), sort_keys=False)}"
        for a, r in sorted(doc["resources"].items())
    ]
    return doc["lineage"], doc["serial"], lines


def test_local_to_postgres_to_local_round_trips(
    project: Project, pg: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COZYPLAN_STATE_KEY", Fernet.generate_key().decode())
    project.write(SPEC)
    assert project.sh("apply", "--auto-approve").returncode == 0
    original = _resources_bytes(project.dir / "state/cozyplan.state.json")

    to_pg = project.sh("state", "migrate", "--to", "postgres")
    assert to_pg.returncode == 0, to_pg.stderr
    assert "Copied 3 resource(s)" in to_pg.stdout
    on_pg = project.sh("plan", "--detailed-exitcode", "--backend-config", "type=postgres")
    assert on_pg.returncode == 0, on_pg.stdout + on_pg.stderr

    back = project.sh(
        "state", "migrate", "--backend-config", "type=postgres",
        "--to", "local", "--to-state", "state/back.state.json",
    )  # fmt: skip
    assert back.returncode == 0, back.stderr
    assert _resources_bytes(project.dir / "state/back.state.json") == original

    # the same lineage again replaces an older copy; another lineage is refused
    again = project.sh("state", "migrate", "--to", "postgres")
    assert again.returncode == 0, again.stderr
    other = project.dir / "other"
    other.mkdir()
    (other / "cozyplan.yaml").write_text(SPEC)
    fresh = Project(other)
    assert fresh.sh("apply", "--auto-approve").returncode == 0
    refused = fresh.sh("state", "migrate", "--to", "postgres")
    assert refused.returncode == 1
    assert "already holds another state" in refused.stderr
    assert "nothing was copied" in refused.stderr


def test_migrate_carries_the_sensitive_key_to_a_local_target(project: Project) -> None:
    project.write(SPEC)
    assert project.sh("apply", "--auto-approve").returncode == 0
    moved = project.sh("state", "migrate", "--to", "local", "--to-state", "elsewhere/s.json")
    assert moved.returncode == 0, moved.stderr
    key: Any = project.dir / "elsewhere/s.json.key"
    assert key.read_bytes() == (project.dir / "state/cozyplan.state.json.key").read_bytes()
    shown = project.sh("state", "show", "local_file.s", "--state", "elsewhere/s.json")
    assert shown.returncode == 0, shown.stderr
