"""Malformed state, journal and key files (issue 12, items 4 and 7): a clear message naming the
file, the field and how to recover; never a traceback, never a silently replaced key."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import Project

SECRET_SPEC = """\
version: 1
resources:
  local_file.x: {path: out/x, sensitive_content: top-secret}
"""
PLAIN_SPEC = """\
version: 1
resources:
  null_resource.a: {triggers: {k: v}}
"""
STATE = "state/cozyplan.state.json"


def applied(project: Project, spec: str = PLAIN_SPEC) -> Path:
    project.write(spec)
    result = project.sh("apply", "--auto-approve")
    assert result.returncode == 0, result.stdout + result.stderr
    return project.dir / STATE


def test_deleted_key_with_secrets_in_state_is_its_own_error(project: Project) -> None:
    state = applied(project, SECRET_SPEC)
    key = state.with_name(state.name + ".key")
    key.unlink()
    result = project.sh("plan")
    assert result.returncode == 1
    assert f"key file {STATE}.key is missing" in result.stderr
    assert "Restore" in result.stderr
    assert "wrong key" not in result.stderr
    assert not key.exists(), "a new key must not replace the lost one"


def test_new_key_only_for_a_state_without_secrets(project: Project) -> None:
    applied(project, PLAIN_SPEC)
    project.write(SECRET_SPEC)
    result = project.sh("apply", "--auto-approve")
    assert result.returncode == 0, result.stderr
    assert (project.dir / (STATE + ".key")).exists()


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"[]", "expected a JSON object, found a list"),
        (b"null", "expected a JSON object, found null"),
        (b"\xff\xfe\x00garbage", "not valid JSON"),
        (b'{"version": 0, "serial": 1, "lineage": "l", "resources": {}}', "version 0"),
        (b'{"version": 1, "serial": "abc", "lineage": "l", "resources": {}}', "serial"),
        (
            b'{"version": 1, "serial": 1, "lineage": "l", "resources": {"a.b": {"provider": "x"}}}',
            "resources.a.b.type: Field required",
        ),
        (b'{"version": 1, "serial": 1, "lineage": "l", "resources": []}', "resources"),
    ],
)
def test_malformed_snapshot_is_named_with_recovery(
    project: Project, content: bytes, expected: str
) -> None:
    project.write(PLAIN_SPEC)
    state = project.dir / STATE
    state.parent.mkdir()
    state.write_bytes(content)
    for cmd in (("plan",), ("state", "list")):
        result = project.sh(*cmd)
        assert result.returncode == 1, result.stdout
        assert "Internal error" not in result.stderr
        assert "Traceback" not in result.stderr
        assert f"{STATE} is malformed" in result.stderr
        assert expected in result.stderr
        # no backup exists: the message must not send the user to one
        assert "There is no backup" in result.stderr
        assert "copy it over" not in result.stderr


def test_truncated_snapshot_points_at_the_backup_only_when_it_exists(project: Project) -> None:
    state = applied(project)
    project.write(PLAIN_SPEC.replace("v}", "w}"))
    assert project.sh("apply", "--auto-approve").returncode == 0
    backup = state.with_name(state.name + ".backup")
    assert backup.exists()
    state.write_bytes(state.read_bytes()[:40])
    result = project.sh("plan")
    assert result.returncode == 1
    assert f"The previous snapshot is in {STATE}.backup" in result.stderr


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (b'{"address": "null_resource.a", "resource": null}', "line 2: serial: Field required"),
        (b'{"serial": 5, "address": "x.y", "resource": {"type": 1}}', "line 2: resource.type"),
        (b"[1, 2]", "line 2"),
    ],
)
def test_malformed_journal_line(project: Project, line: bytes, expected: str) -> None:
    state = applied(project)
    journal = state.with_name(state.name + ".journal")
    header = json.dumps({"lineage": json.loads(state.read_text())["lineage"], "base_serial": 1})
    journal.write_bytes(header.encode() + b"\n" + line + b"\n" + b'{"serial": 9}\n')
    result = project.sh("plan")
    assert result.returncode == 1
    assert "Internal error" not in result.stderr
    assert f"{STATE}.journal is malformed: {expected}" in result.stderr
    assert "move it aside" in result.stderr


def test_empty_sensitive_path_is_refused(project: Project) -> None:
    """Found by the fuzz test: a sensitive path [] masked a whole object into a string."""
    state = applied(project, SECRET_SPEC)
    data = json.loads(state.read_text())
    data["resources"]["local_file.x"]["sensitive_paths"] = [[]]
    state.write_text(json.dumps(data))
    result = project.sh("show")
    assert result.returncode == 1
    assert "resources.local_file.x.sensitive_paths.0: List should have at least 1 item" in (
        result.stderr
    )


def test_damaged_encrypted_value_is_named(project: Project) -> None:
    """Found by the fuzz test: a sealed value that is not a token string gave a TypeError."""
    state = applied(project, SECRET_SPEC)
    data = json.loads(state.read_text())
    data["resources"]["local_file.x"]["observed"]["sensitive_content"] = {
        "$cozyplan-encrypted": None
    }
    state.write_text(json.dumps(data))
    result = project.sh("state", "list")
    assert result.returncode == 1
    assert "Internal error" not in result.stderr
    assert f"{STATE}: an encrypted value in the state is damaged" in result.stderr


def test_binary_lock_file_is_no_lock(project: Project) -> None:
    (project.dir / "state").mkdir()
    (project.dir / f"{STATE}.lock").write_bytes(b"\xff\xfe")
    result = project.sh("force-unlock", "abc")
    assert result.returncode == 1
    assert "no lock is held" in result.stderr and "Internal error" not in result.stderr
