"""host_nexcage against the lab's simulated Proxmox host: converge, idempotency, drift."""

from __future__ import annotations

from typing import Any

from conftest import LabHost, arun
from harness import converge, plan

from cozyplan.plan import Action
from cozyplan_host.resources import HostNexCage

BODY: dict[str, Any] = {"host": "pve", "version": "0.7.3"}


def _programs(argvs: list[list[str]]) -> list[str]:
    """The commands among ``argvs`` that change the host (reads and wrappers left out)."""
    out = []
    for argv in argvs:
        name, args = argv[0].rsplit("/", 1)[-1], argv[1:]
        words = [a for a in args if not a.startswith("-")]
        if name in ("env", "sudo", "stat", "cat", "sha256sum", "dpkg-query", "test"):
            continue
        if name == "apt-get":
            out.append(f"apt-get {words[0]}")
        elif name == "git":
            sub = words[1] if args[:1] == ["-C"] else words[0]
            if sub in ("clone", "fetch", "checkout"):
                out.append(f"git {sub}")
        elif "build" in words:
            out.append("zig build")
        elif "pip" in words:
            out.append("pip install")
        elif "venv" in words:
            out.append("venv")
        elif "version" not in words:
            out.append(name)
    return out


def test_converges_then_plan_is_empty(lab_host: LabHost) -> None:
    async def main() -> None:
        res = HostNexCage(lab_host.provider())
        try:
            first = await converge(res, None, BODY)
            assert first.action is Action.CREATE
            state = first.state
            assert state is not None
            assert state["commit"] == "751c40352020e3df30ce775e573e7f3020133cce"
            mark = lab_host.mark()
            action, changes, _, _ = await plan(res, state, BODY)
            assert action is Action.NOOP, changes
            assert _programs(lab_host.since(mark)) == []
        finally:
            await res.provider.close()

    arun(main())
    fs = lab_host.host.fs
    assert fs.read("/usr/local/bin/nexcage").startswith(b"#!lab nexcage 0.7.3")
    config = fs.read("/etc/nexcage/config.json").decode()
    assert '"runtime": {' in config and fs.is_dir("/var/log/nexcage")
    ran = _programs(lab_host.history())
    assert ran.count("zig build") == 1 and ran.count("pip install") == 1
    # lists were empty on the fresh host: install failed, update once, install again
    assert [r for r in ran if r.startswith("apt-get")] == [
        "apt-get install",
        "apt-get update",
        "apt-get install",
    ]
    assert "git clone" in ran and not any("--recursive" in a for a in lab_host.history())


def test_deleted_binary_is_drift_and_only_install_reruns(lab_host: LabHost) -> None:
    async def main() -> None:
        res = HostNexCage(lab_host.provider())
        try:
            state = (await converge(res, None, BODY)).state
            lab_host.host.fs.remove("/usr/local/bin/nexcage")
            mark = lab_host.mark()
            again = await converge(res, state, BODY)
            assert again.action is Action.UPDATE
            assert [c.path_str for c in again.changes] == ["version"]
            assert _programs(lab_host.since(mark)) == ["install", "mv"]
            action, _, _, _ = await plan(res, again.state, BODY)
            assert action is Action.NOOP
        finally:
            await res.provider.close()

    arun(main())


def test_config_edit_changes_only_the_config(lab_host: LabHost) -> None:
    edited = {**BODY, "config": {"runtime": {"log_level": "debug"}}}

    async def main() -> None:
        res = HostNexCage(lab_host.provider())
        try:
            state = (await converge(res, None, BODY)).state
            mark = lab_host.mark()
            again = await converge(res, state, edited)
            assert again.action is Action.UPDATE
            assert [c.path_str for c in again.changes] == ["config.runtime.log_level"]
            ran = _programs(lab_host.since(mark))
            assert ran == ["chmod", "mv", "rm"], ran  # upload, chmod, rename over, cleanup
            assert again.progress == ["write /etc/nexcage/config.json"]
        finally:
            await res.provider.close()

    arun(main())
    assert '"log_level": "debug"' in lab_host.host.fs.read("/etc/nexcage/config.json").decode()


def test_new_tag_rebuilds_and_delete_removes(lab_host: LabHost) -> None:
    async def main() -> None:
        res = HostNexCage(lab_host.provider())
        try:
            state = (await converge(res, None, BODY)).state
            newer = await converge(res, state, {**BODY, "version": "0.7.4"})
            assert newer.action is Action.UPDATE and newer.state is not None
            assert newer.state["commit"].startswith("b465341a")
            await res.apply(Action.DELETE, newer.state, None, [], _ctx())
            assert await res.read_attrs(newer.state) is None
        finally:
            await res.provider.close()

    arun(main())
    assert _programs(lab_host.history()).count("zig build") == 2


def _ctx() -> Any:
    from cozyplan.provider import ApplyContext

    return ApplyContext("host_nexcage.main")
