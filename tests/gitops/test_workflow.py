"""The GitOps workflow of docs/examples, run for real: its cozyplan steps are read from the
workflow file (so the two cannot drift) and run with bash, as GitHub's runner would, on a small
local spec. Each job runs in its own checkout; the shared backend is a state directory every
checkout sees (the workflow's postgres backend is swapped for the local one)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

WORKFLOW = Path(__file__).resolve().parents[2] / "docs" / "examples" / "github-actions-cozyplan.yml"
SECRET = "tok-9f3Qx7LmWv"
COMMAND = re.compile(r"(^|[\s;&|(])cozyplan\s", re.M)

SPEC_V1 = """\
version: 1
variables:
  infra: {env: INFRA_DIR}
  token: {env: PVE_TOKEN_SECRET, sensitive: true}
resources:
  null_resource.cluster: {triggers: {name: demo}}
  local_file.motd:
    path: "${var.infra}/motd"
    content: "welcome to ${null_resource.cluster.id}\\n"
  local_file.token:
    path: "${var.infra}/token"
    sensitive_content: "${var.token}"
"""


@dataclass
class Step:
    id: str
    script: str
    env: dict[str, str]


def _load() -> dict[str, Any]:
    data: dict[str, Any] = YAML(typ="safe").load(WORKFLOW.read_text())
    return data


def _plain_env(env: dict[str, Any] | None) -> dict[str, str]:
    """Workflow env without GitHub expressions (secrets come from the test instead)."""
    return {k: str(v) for k, v in (env or {}).items() if "${{" not in str(v)}


def cozyplan_steps(job: str) -> list[Step]:
    """The steps of a job that run cozyplan, in order."""
    steps = []
    for step in _load()["jobs"][job]["steps"]:
        script = step.get("run")
        if script is None or not COMMAND.search(script):
            continue
        assert "${{" not in script, f"step {step.get('id')}: keep expressions out of scripts"
        steps.append(Step(step["id"], script, _plain_env(step.get("env"))))
    return steps


class Runner:
    """Runs jobs of the workflow in fresh checkouts sharing one state directory."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.shared_state = root / "backend"
        self.infra = root / "infra"
        self.shared_state.mkdir()
        self.infra.mkdir()
        self.n = 0
        workflow = _load()
        assert workflow["defaults"]["run"]["shell"] == "bash"
        self.env = {
            **os.environ,
            **_plain_env(workflow["env"]),
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
            "SPEC": "specs/demo.yaml",
            "COZYPLAN_BACKEND": "local",  # the shared state: a directory every checkout sees
            "INFRA_DIR": str(self.infra),
            "PVE_TOKEN_SECRET": SECRET,
        }
        for name in ("COZYPLAN_PG_CONN_STR", "COZYPLAN_STATE_KEY"):
            self.env.pop(name, None)

    def checkout(self, spec: str) -> Path:
        self.n += 1
        work = self.root / f"checkout{self.n}"
        (work / "specs").mkdir(parents=True)
        (work / "specs" / "demo.yaml").write_text(spec)
        (work / "state").symlink_to(self.shared_state)
        return work

    def job(self, name: str, work: Path) -> tuple[int, str, dict[str, str]]:
        """Run the job's cozyplan steps like the runner: stop at the first failing step."""
        outputs = work / "github_output"
        outputs.touch()
        log = ""
        for step in cozyplan_steps(name):
            env = {**self.env, **step.env, "GITHUB_OUTPUT": str(outputs)}
            done = subprocess.run(
                ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step.script],
                cwd=work,
                env=env,
                capture_output=True,
                text=True,
                timeout=300,
            )
            log += f"--- {step.id}\n{done.stdout}{done.stderr}"
            if done.returncode != 0:
                return done.returncode, log, {}
        pairs = dict(line.split("=", 1) for line in outputs.read_text().splitlines() if "=" in line)
        return 0, log, pairs

    def pull_request(self, spec: str) -> tuple[Path, str, dict[str, str]]:
        work = self.checkout(spec)
        code, log, outputs = self.job("plan", work)
        assert code == 0, log
        return work / "plan.cozyplan", log, outputs

    def merge(self, spec: str, artifact: Path) -> tuple[int, str]:
        work = self.checkout(spec)
        shutil.copy(artifact, work / "plan.cozyplan")  # what the fetch step downloads
        code, log, _ = self.job("apply", work)
        return code, log


def test_the_workflow_runs_the_documented_commands() -> None:
    assert [s.id for s in cozyplan_steps("plan")] == ["validate", "plan"]
    assert [s.id for s in cozyplan_steps("apply")] == ["apply"]
    plan = cozyplan_steps("plan")[1].script
    assert "--detailed-exitcode" in plan and "--markdown" in plan and "--out" in plan
    assert "cozyplan apply plan.cozyplan" in cozyplan_steps("apply")[0].script


def test_pull_request_plan_merge_apply_and_stale_plan_refusal(tmp_path: Path) -> None:
    ci = Runner(tmp_path)

    # PR 1 creates everything; the comment shows the plan, no secret anywhere
    artifact, log, outputs = ci.pull_request(SPEC_V1)
    assert outputs == {"changes": "true"}
    comment = (artifact.parent / "plan.md").read_text()
    assert "**Plan: 3 to add, 0 to change, 0 to destroy.**" in comment
    assert SECRET not in comment and SECRET not in log and SECRET not in artifact.read_text()
    code, log = ci.merge(SPEC_V1, artifact)
    assert code == 0, log
    assert (ci.infra / "token").read_text() == SECRET
    assert (ci.infra / "motd").read_text().startswith("welcome to ")
    report = next(ci.root.glob("checkout*/apply-report.html"))
    assert "local_file.motd" in report.read_text()

    # PR 2 and PR 3 are planned against the same state; PR 2 merges first
    spec2 = SPEC_V1.replace("welcome to", "hello from")
    spec3 = SPEC_V1.replace("name: demo", "name: demo2")
    plan2, _, out2 = ci.pull_request(spec2)
    plan3, _, out3 = ci.pull_request(spec3)
    assert out2 == out3 == {"changes": "true"}
    assert ":warning:" in (plan3.parent / "plan.md").read_text()  # a replacement
    code, log = ci.merge(spec2, plan2)
    assert code == 0, log
    assert (ci.infra / "motd").read_text().startswith("hello from ")

    # PR 3's plan was made against a state that has moved on: refused, nothing changed
    before = {p.name: p.read_text() for p in ci.infra.iterdir()}
    state_before = (ci.shared_state / "demo.state.json").read_text()
    code, log = ci.merge(spec3, plan3)
    assert code == 1
    assert "the saved plan is stale: the state changed since it was made" in log
    assert "run 'cozyplan plan' again" in log
    assert {p.name: p.read_text() for p in ci.infra.iterdir()} == before
    assert (ci.shared_state / "demo.state.json").read_text() == state_before

    # PR 3 brought up to date: a fresh plan is reviewed and applies; then nothing is left
    spec3b = spec2.replace("name: demo", "name: demo2")
    plan3b, _, _ = ci.pull_request(spec3b)
    code, log = ci.merge(spec3b, plan3b)
    assert code == 0, log
    _, _, outputs = ci.pull_request(spec3b)
    assert outputs == {"changes": "false"}
