"""Whole-state encryption: snapshot, journal and saved plans sealed; clear errors; rekey."""

from __future__ import annotations

import base64
import json
import os
import signal
import time

import pytest

from tests.conftest import Project
from tests.engine.test_crash_and_lock import chain_spec

SPEC = """\
version: 1
resources:
  null_resource.alpha: {triggers: {k: visible-trigger}}
  local_file.f: {path: out/f, content: "${null_resource.alpha.id}"}
  local_file.s: {path: out/s, sensitive_content: top-secret}
"""
STATE = "state/cozyplan.state.json"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("COZYPLAN_STATE_ENCRYPTION", "COZYPLAN_BACKEND", "COZYPLAN_WORKSPACE"):
        monkeypatch.delenv(name, raising=False)


def _key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


def test_passphrase_encrypts_snapshot_journal_and_plans(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COZYPLAN_STATE_ENCRYPTION", "passphrase-env:STATE_PW")
    monkeypatch.setenv("STATE_PW", "correct horse battery staple")
    project.write(SPEC)
    first = project.sh("apply", "--auto-approve")
    assert first.returncode == 0, first.stderr
    raw = (project.dir / STATE).read_text()
    for clear in ("null_resource.alpha", "visible-trigger", "out/f", "lineage"):
        assert clear not in raw
    assert json.loads(raw)["kdf"]["name"] == "argon2id"
    backup = project.dir / (STATE + ".backup")
    assert not backup.exists() or "null_resource" not in backup.read_text()
    assert project.sh("plan", "--detailed-exitcode").returncode == 0
    assert "null_resource.alpha" in project.sh("state", "list").stdout

    # a saved plan is sealed too, and applies with the key
    project.write(SPEC.replace("visible-trigger", "other-trigger"))
    assert project.sh("plan", "--out", "p.plan").returncode == 0
    assert "other-trigger" not in (project.dir / "p.plan").read_text()
    assert "other-trigger" in project.sh("show", "p.plan").stdout

    # wrong and missing keys are named
    monkeypatch.setenv("STATE_PW", "wrong")
    wrong = project.sh("plan")
    assert wrong.returncode == 1 and "wrong key from passphrase-env:STATE_PW" in wrong.stderr
    wrong_plan = project.sh("apply", "p.plan")
    assert wrong_plan.returncode == 1 and "passphrase-env:STATE_PW" in wrong_plan.stderr
    monkeypatch.delenv("STATE_PW")
    unset = project.sh("plan")
    assert unset.returncode == 1 and "STATE_PW, which is not set" in unset.stderr
    monkeypatch.delenv("COZYPLAN_STATE_ENCRYPTION")
    none = project.sh("plan")
    assert none.returncode == 1 and "is encrypted and no key was given" in none.stderr
    assert "Traceback" not in wrong.stderr + unset.stderr + none.stderr

    monkeypatch.setenv("COZYPLAN_STATE_ENCRYPTION", "passphrase-env:STATE_PW")
    monkeypatch.setenv("STATE_PW", "correct horse battery staple")
    applied = project.sh("apply", "p.plan")
    assert applied.returncode == 0, applied.stderr


def test_encrypted_journal_survives_sigkill(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COZYPLAN_STATE_ENCRYPTION", "key-env:STATE_KEY")
    monkeypatch.setenv("STATE_KEY", _key())
    project.write(chain_spec(20))
    proc = project.spawn("apply", "--auto-approve", "--parallelism", "4")
    journal = project.dir / (STATE + ".journal")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not (
        journal.exists() and journal.read_text().count("\n") > 5
    ):
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    if journal.exists():
        assert "null_resource" not in journal.read_text()
    again = project.sh("apply", "--auto-approve")
    assert again.returncode == 0, again.stderr
    assert project.sh("plan", "--detailed-exitcode").returncode == 0


def test_rekey_from_clear_to_key_file_to_passphrase(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    project.write(SPEC)
    assert project.sh("apply", "--auto-approve").returncode == 0
    assert "null_resource.alpha" in (project.dir / STATE).read_text()
    key_file = project.dir / "state.key"
    key_file.write_text(_key())
    moved = project.sh("state", "rekey", "--to", f"key-file:{key_file}")
    assert moved.returncode == 0, moved.stderr
    for name in (STATE, STATE + ".backup"):  # no clear copy left behind
        assert "null_resource.alpha" not in (project.dir / name).read_text()
    monkeypatch.setenv("COZYPLAN_STATE_ENCRYPTION", f"key-file:{key_file}")
    assert project.sh("plan", "--detailed-exitcode").returncode == 0

    monkeypatch.setenv("NEW_PW", "a new passphrase")
    rotated = project.sh("state", "rekey", "--to", "passphrase-env:NEW_PW")
    assert rotated.returncode == 0, rotated.stderr
    old = project.sh("plan")
    assert old.returncode == 1 and f"key-file:{key_file}" in old.stderr
    monkeypatch.setenv("COZYPLAN_STATE_ENCRYPTION", "passphrase-env:NEW_PW")
    assert project.sh("plan", "--detailed-exitcode").returncode == 0
    clear = project.sh("state", "rekey", "--to", "none")
    assert clear.returncode == 0, clear.stderr
    assert "null_resource.alpha" in (project.dir / STATE).read_text()


def test_bad_key_sources_are_named(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    project.write(SPEC)
    monkeypatch.setenv("COZYPLAN_STATE_ENCRYPTION", "rot13:x")
    bad = project.sh("plan")
    assert bad.returncode == 1 and "'rot13:x' is not a key source" in bad.stderr
    monkeypatch.setenv("COZYPLAN_STATE_ENCRYPTION", "key-file:/nonexistent/key")
    missing = project.sh("apply", "--auto-approve")
    assert missing.returncode == 1
    assert "cannot read the state encryption key from key-file:/nonexistent/key" in missing.stderr
    monkeypatch.setenv("SHORT", "abc")
    monkeypatch.setenv("COZYPLAN_STATE_ENCRYPTION", "key-env:SHORT")
    short = project.sh("apply", "--auto-approve")
    assert short.returncode == 1 and "not 32 bytes of base64" in short.stderr
    assert "abc" not in short.stderr.replace("base64", "")
