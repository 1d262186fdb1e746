"""Backend settings (spec, environment, --backend-config) and workspaces on local files."""

from __future__ import annotations

import json

import pytest

from tests.conftest import Project

SPEC = "version: 1\nresources:\n  null_resource.a: {triggers: {k: '${var.k}'}}\n"
VARS = "variables:\n  k: {default: one}\n"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("COZYPLAN_STATE_ENCRYPTION", "COZYPLAN_BACKEND", "COZYPLAN_WORKSPACE"):
        monkeypatch.delenv(name, raising=False)


def _spec(extra: str = "") -> str:
    return SPEC.replace("version: 1\n", "version: 1\n" + VARS + extra)


def test_credentials_in_the_spec_are_refused_with_their_position(project: Project) -> None:
    project.write(_spec("backend:\n  type: postgres\n  conn_str: postgres://u:pw@db/x\n"))
    for argv in (("validate",), ("state", "list")):
        result = project.sh(*argv)
        assert result.returncode == 1
        assert "cozyplan.yaml:6:" in result.stderr and "conn_str must not be in the spec" in (
            result.stderr
        )
        assert "pw@db" not in result.stderr


def test_backend_settings_are_checked(project: Project) -> None:
    project.write(_spec())
    wrong = project.sh("plan", "--backend-config", "type=etcd")
    assert wrong.returncode == 1 and "unknown state backend 'etcd'" in wrong.stderr
    extra = project.sh("plan", "--backend-config", "schema=x")
    assert extra.returncode == 1 and "the local backend has no setting schema" in extra.stderr
    bad_ws = project.sh("plan", "--workspace", "Prod!")
    assert bad_ws.returncode == 1 and "is not a workspace name" in bad_ws.stderr


def test_local_workspaces(project: Project) -> None:
    project.write(_spec())
    assert project.sh("apply", "--auto-approve").returncode == 0
    assert project.sh("workspace", "new", "prod").returncode == 0
    dup = project.sh("workspace", "new", "prod")
    assert dup.returncode == 1 and "already exists" in dup.stderr
    assert project.sh("apply", "--auto-approve", "--var", "k=two").returncode == 0
    ws_state = project.dir / "state/cozyplan.state.json.d/prod/cozyplan.state.json"
    default = project.dir / "state/cozyplan.state.json"
    desired = json.loads(ws_state.read_text())["resources"]["null_resource.a"]["desired"]
    assert desired["triggers"] == {"k": "two"}
    assert json.loads(default.read_text())["lineage"] != json.loads(ws_state.read_text())["lineage"]
    assert project.sh("workspace", "list").stdout == "  default\n* prod\n"
    missing = project.sh("workspace", "select", "nope")
    assert missing.returncode == 1 and "workspace new nope" in missing.stderr
    assert project.sh("plan", "--detailed-exitcode", "--workspace", "default").returncode == 0
    # a saved plan applies to the workspace it was made in
    assert project.sh("plan", "--out", "p.plan", "--var", "k=three").returncode == 0
    assert project.sh("workspace", "select", "default").returncode == 0
    applied = project.sh("apply", "p.plan")
    assert applied.returncode == 0, applied.stderr
    assert "three" in ws_state.read_text() and "three" not in default.read_text()
    assert project.sh("workspace", "delete", "default").returncode == 1
    assert project.sh("workspace", "delete", "prod", "--force").returncode == 0
    assert not ws_state.parent.exists()


def test_unreachable_postgres_is_named_without_its_password(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("psycopg")
    monkeypatch.setenv(
        "COZYPLAN_PG_CONN_STR", "host=127.0.0.1 port=1 user=ci dbname=states password=hunter2"
    )
    project.write(_spec("backend: {type: postgres}\n"))
    result = project.sh("plan")
    assert result.returncode == 1
    assert "cannot connect to postgres 127.0.0.1:1/states" in result.stderr
    assert "hunter2" not in result.stderr and "Traceback" not in result.stderr
