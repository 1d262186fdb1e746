"""The report page renders in a real headless browser (Debian's chromium, installed by .ci/run)."""

from __future__ import annotations

import random
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from cozyplan.render.report import render_report
from cozyplan.runlog import RunRecord, StepRecord
from tests.conftest import Project

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="chromium is not installed (apt-get install chromium; .ci/run installs it)",
)


class _Steps(HTMLParser):
    """Which elements carry data-step, by kind (timeline row, graph node, table row)."""

    def __init__(self) -> None:
        super().__init__()
        self.kinds: dict[str, set[str]] = {"row": set(), "node": set(), "tr": set()}
        self.rendered: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "body":
            self.rendered = a.get("data-rendered")
        step = a.get("data-step")
        if step is None:
            return
        classes = (a.get("class") or "").split()
        if tag == "tr":
            self.kinds["tr"].add(step)
        elif tag == "g" and "row" in classes:
            self.kinds["row"].add(step)
        elif tag == "g" and "node" in classes:
            self.kinds["node"].add(step)


def _dom_after_scripts(page: Path, tmp_path: Path) -> _Steps:
    assert CHROMIUM is not None
    out = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            f"--user-data-dir={tmp_path / 'chromium-profile'}",
            "--dump-dom",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    parser = _Steps()
    parser.feed(out.stdout)
    return parser


def test_apply_report_renders_every_step(project: Project, tmp_path: Path) -> None:
    project.write("""\
version: 1
resources:
  null_resource.base: {triggers: {a: "1"}}
  local_command.step:
    for_each: {a: "0.05", b: "0.1", "c<script>": "0.02"}
    command: "sleep ${each.value}"
    triggers: {dep: "${null_resource.base.id}"}
  local_command.fails:
    command: "exit 1"
    depends_on: [null_resource.base]
  local_file.never:
    path: out/never
    content: "${local_command.fails.id}"
""")
    out = project.run("apply", "--auto-approve", "--report", "run.html")
    assert out.exit_code == 1
    dom = _dom_after_scripts(project.dir / "run.html", tmp_path)
    expected = {
        "null_resource.base",
        "local_command.step[a]",
        "local_command.step[b]",
        "local_command.step[c<script>]",
        "local_command.fails",
        "local_file.never",
    }
    assert dom.rendered == str(len(expected))
    for kind, seen in dom.kinds.items():
        assert seen == expected, kind


def test_a_large_run_renders(tmp_path: Path) -> None:
    rng = random.Random(7)
    steps = []
    for i in range(150):
        after = sorted(rng.sample(range(i), min(i, 2))) if i else []
        start = max((steps[j].end or 0.0 for j in after), default=0.0) + rng.random()
        steps.append(
            StepRecord(
                f"proxmox_vm.node[n{i:03}]",
                "create",
                "done",
                start,
                start + rng.uniform(1, 60),
                rng.choice([0, 0, 0, 2]),
                after,
            )
        )
    run = RunRecord("r", "apply", 1.8e9, max(s.end or 0 for s in steps), 10, "done", steps)
    page = tmp_path / "big.html"
    page.write_text(render_report(run, "big"))
    dom = _dom_after_scripts(page, tmp_path)
    assert dom.rendered == "150"
    for kind, seen in dom.kinds.items():
        assert len(seen) == 150, kind
