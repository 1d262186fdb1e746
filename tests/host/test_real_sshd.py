"""The host resources against Debian's real OpenSSH server on 127.0.0.1.

Files and git are real; apt-get, dpkg-query, systemctl and zig are stubs on the session's PATH
(tests/host/stubs) so the machine running the tests is not changed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import asyncssh
import pytest
from conftest import RealSSHD, arun
from harness import converge, destroy, plan

from cozyplan.errors import PermanentError
from cozyplan.plan import Action
from cozyplan_host.resources import (
    HostCommand,
    HostFile,
    HostGitCheckout,
    HostNexCage,
    HostPackages,
    HostSystemdUnit,
)

pytestmark = pytest.mark.sshd


def _nexcage(tmp: Path, repo: str, **extra: Any) -> dict[str, Any]:
    return {
        "host": "pve",
        "version": "0.7.3",
        "repository": repo,
        "source_dir": str(tmp / "src"),
        "install_path": str(tmp / "bin" / "nexcage"),
        "config_path": str(tmp / "etc" / "config.json"),
        "zig": {"source": "path", "command": "zig"},
        "config": {
            "runtime": {
                "log_path": str(tmp / "log" / "runtime.log"),
                "root_path": str(tmp / "lib"),
                **extra,
            }
        },
    }


def test_nexcage_converges_drifts_and_edits(
    sshd: RealSSHD, tmp_path: Path, nexcage_repo: str
) -> None:
    body = _nexcage(tmp_path, nexcage_repo)

    async def main() -> None:
        res = HostNexCage(sshd.provider())
        try:
            made = await converge(res, None, body)
            assert made.action is Action.CREATE and made.state is not None
            assert (await plan(res, made.state, body))[0] is Action.NOOP
            builds = sshd.log().count(next(x for x in sshd.log() if x.startswith("zig build")))
            assert builds == 1
            (tmp_path / "bin" / "nexcage").unlink()
            again = await converge(res, made.state, body)
            assert again.action is Action.UPDATE
            assert again.progress == [f"install {tmp_path / 'bin' / 'nexcage'}"]
            edited = _nexcage(tmp_path, nexcage_repo, log_level="debug")
            third = await converge(res, again.state, edited)
            assert third.progress == [f"write {tmp_path / 'etc' / 'config.json'}"]
            assert (await plan(res, third.state, edited))[0] is Action.NOOP
            assert third.state is not None
            await destroy(res, third.state)
            assert not (tmp_path / "src").exists()
        finally:
            await res.provider.close()

    arun(main())
    assert len([x for x in sshd.log() if x.startswith("zig build")]) == 1


def test_primitives(sshd: RealSSHD, tmp_path: Path, nexcage_repo: str) -> None:
    async def main() -> None:
        p = sshd.provider()
        try:
            pk = {"host": "pve", "packages": ["libcap-dev", "jq"], "remove_on_delete": True}
            made = await converge(HostPackages(p), None, pk)
            assert (await plan(HostPackages(p), made.state, pk))[0] is Action.NOOP
            assert made.state is not None
            await destroy(HostPackages(p), made.state)

            f = {
                "host": "pve",
                "path": str(tmp_path / "d" / "f.conf"),
                "content": "x\n",
                "mode": "0640",
            }
            fs = await converge(HostFile(p), None, f)
            assert oct((tmp_path / "d" / "f.conf").stat().st_mode & 0o777) == "0o640"
            assert (await plan(HostFile(p), fs.state, f))[0] is Action.NOOP
            fs2 = await converge(HostFile(p), fs.state, {**f, "content": "y\n"})
            assert "-x\n+y" in fs2.progress[0]
            assert fs2.state is not None
            await destroy(HostFile(p), fs2.state)

            g = {
                "host": "pve",
                "repository": nexcage_repo,
                "ref": "v0.7.3",
                "destination": str(tmp_path / "co"),
            }
            gs = await converge(HostGitCheckout(p), None, g)
            assert gs.state is not None and len(gs.state["commit"]) == 40
            assert (await plan(HostGitCheckout(p), gs.state, g))[0] is Action.NOOP
            gs2 = await converge(HostGitCheckout(p), gs.state, {**g, "ref": "v0.7.4"})
            assert gs2.state is not None and gs2.state["commit"] != gs.state["commit"]
            assert (tmp_path / "co" / "VERSION").read_text() == "0.7.4\n"
            await destroy(HostGitCheckout(p), gs2.state)

            c = {
                "host": "pve",
                "command": ["touch", str(tmp_path / "made")],
                "creates": str(tmp_path / "made"),
            }
            cs = await converge(HostCommand(p), None, c)
            assert (await plan(HostCommand(p), cs.state, c))[0] is Action.NOOP

            u = {
                "host": "pve",
                "name": "demo.service",
                "directory": str(tmp_path / "units"),
                "content": "[Service]\nExecStart=/bin/true\n",
                "enabled": True,
                "active": True,
            }
            us = await converge(HostSystemdUnit(p), None, u)
            assert "systemctl daemon-reload" in us.progress
            assert (await plan(HostSystemdUnit(p), us.state, u))[0] is Action.NOOP
            assert us.state is not None
            await destroy(HostSystemdUnit(p), us.state)
            assert not (tmp_path / "units" / "demo.service").exists()
        finally:
            await p.close()

    arun(main())


def _error(provider: Any, body: dict[str, Any]) -> str:
    async def main() -> None:
        try:
            await converge(HostCommand(provider), None, body)
        finally:
            await provider.close()

    with pytest.raises(PermanentError) as info:
        arun(main())
    return str(info.value)


def test_errors(sshd: RealSSHD) -> None:
    other = asyncssh.generate_private_key("ssh-ed25519")
    ok = {"host": "pve", "command": ["true"]}
    assert "host key verification failed" in _error(
        sshd.provider(host_key=other.export_public_key().decode()), ok
    )
    refused = _error(
        sshd.provider(private_key=other.export_private_key().decode(), private_key_file=None), ok
    )
    assert "host pve" in refused and "refused our key for user 'root'" in refused
    slow = _error(sshd.provider(), {"host": "pve", "command": ["sleep", "5"], "timeout": 0.3})
    assert "step 'run sleep' timed out" in slow
    bad = _error(sshd.provider(), {"host": "pve", "command": ["ls", "/no/such/dir"]})
    assert "step 'run ls' failed with exit status 2" in bad and "No such file" in bad
