"""``validate`` on a spec written the runbook's way reports every runbook mistake in one run,
each at its file:line with the fix (the fixture beside this file)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from tests.conftest import Project

FIXTURE = Path(__file__).with_name("runbook_style.yaml")

#: (field the error names, the line's text in the fixture, words of the fix)
MISTAKES = [
    ("host_nexcage.main.config", "    config:", "runtime must be an object"),
    ("host_systemd_unit.nexcage.content", "content: |", "no daemon command"),
    ("proxmox_image.talos", "proxmox_image.talos:", "download the uncompressed .raw or .qcow2"),
    ("proxmox_image.talos.url", "url: https://github.com", "runs on Talos v1.10.6"),
    ("cozystack_platform.main.config.bundle", "bundle: paas-proxmox", "the key is `bundle-name`"),
    ("cozystack_platform.main.config.bundle", "bundle: paas-proxmox", "bundles: distro-full"),
    ("capmox_credentials.pve.url", "url: https://10.0.0.1:8006/api2/json", "use https://HOST:8006"),
    ("capmox_credentials.pve.token_id", "token_id: capmox", "capmox reads `token`"),
    ("capmox_credentials.pve.token_secret", "token_secret: secret", "capmox reads `secret`"),
    ("cozystack_app.test_tenant.spec.replicas", "replicas: 1", "controlPlane.replicas"),
    ("cozystack_app.test_tenant.spec.nodeGroups", "nodeGroups:", "a map keyed by name"),
    ("cozystack_app.test_db.spec.storage", "storage: 10Gi", "did you mean 'size'"),
]


def _line_of(text: str, needle: str) -> int:
    lines = enumerate(text.splitlines(), 1)
    return next(i for i, line in lines if needle in line and not line.lstrip().startswith("#"))


def test_every_runbook_mistake_in_one_run(project: Project) -> None:
    spec = project.dir / "runbook.yaml"
    shutil.copy(FIXTURE, spec)
    text = spec.read_text()
    out = project.sh("validate", "-f", "runbook.yaml")
    assert out.returncode == 1, out.stdout + out.stderr
    errors = [line for line in out.stderr.splitlines() if line.startswith("Error: ")]
    for field, needle, fix in MISTAKES:
        line = _line_of(text, needle)
        pattern = re.compile(rf"^Error: runbook\.yaml:{line}:\d+: {re.escape(field)}: .*")
        found = [e for e in errors if pattern.match(e) and fix in e]
        assert found, f"{field} at line {line} with {fix!r} not in:\n" + "\n".join(errors)
    # nothing else: each mistake once, no follow-on noise (e.g. capmox's missing `token`)
    assert len(errors) == len(MISTAKES), "\n".join(errors)


def test_the_shipped_spec_has_none_of_them(project: Project) -> None:
    main = Path(__file__).resolve().parents[2] / "specs" / "cozystack.yaml"
    out = project.sh("validate", "-f", str(main))
    assert out.returncode == 0, out.stdout + out.stderr
