"""The primitive host_* resources against the lab host: create, read, update, delete."""

from __future__ import annotations

from conftest import LabHost, arun
from harness import converge, destroy, plan

from cozyplan.plan import Action
from cozyplan_host.resources import (
    HostCommand,
    HostFile,
    HostGitCheckout,
    HostPackages,
    HostSystemdUnit,
)


def test_packages(lab_host: LabHost) -> None:
    async def main() -> None:
        res = HostPackages(lab_host.provider())
        body = {"host": "pve", "packages": ["jq", "git"], "remove_on_delete": True}
        try:
            made = await converge(res, None, body)
            assert made.action is Action.CREATE
            assert (await plan(res, made.state, body))[0] is Action.NOOP
            more = {**body, "packages": ["jq", "git", "htop"]}
            grown = await converge(res, made.state, more)
            assert grown.action is Action.UPDATE
            assert grown.progress == ["apt-get install htop"]  # lists are fresh: no update
            assert grown.state is not None
            await destroy(res, grown.state)
        finally:
            await res.provider.close()

    arun(main())
    assert not {"jq", "git", "htop"} & set(lab_host.host.packages)


def test_file_with_diff_mode_and_sensitive(lab_host: LabHost) -> None:
    async def main() -> None:
        res = HostFile(lab_host.provider())
        body = {
            "host": "pve",
            "path": "/etc/demo/app.conf",
            "content": "a=1\nb=2\n",
            "mode": "600",
            "owner": "root",
        }
        try:
            made = await converge(res, None, body)
            assert made.state is not None and made.state["mode"] == "0600"
            assert (await plan(res, made.state, body))[0] is Action.NOOP
            edited = await converge(res, made.state, {**body, "content": "a=1\nb=3\n"})
            assert edited.action is Action.UPDATE
            assert "-b=2\n+b=3" in edited.progress[0]  # a unified diff
            secret = {"host": "pve", "path": "/etc/demo/token", "sensitive_content": "s3cr3t"}
            s1 = await converge(res, None, secret)
            s2 = await converge(res, s1.state, {**secret, "sensitive_content": "other"})
            assert s2.action is Action.UPDATE and s2.changes[0].sensitive
            assert not any("s3cr3t" in p or "other" in p for p in s2.progress)
            assert edited.state is not None
            await destroy(res, edited.state)
            assert await res.read_attrs(edited.state) is None
            await destroy(res, edited.state)  # already gone: fine
        finally:
            await res.provider.close()

    arun(main())
    fs = lab_host.host.fs
    assert fs.read("/etc/demo/token") == b"other" and not fs.exists("/etc/demo/app.conf")
    assert not [p for p in fs.children("/etc/demo") if "cozyplan" in p]  # no temp files left


def test_git_checkout(lab_host: LabHost) -> None:
    async def main() -> None:
        res = HostGitCheckout(lab_host.provider())
        await HostPackages(lab_host.provider()).create(
            HostPackages.model.model_validate({"host": "pve", "packages": ["git"]}), _ctx()
        )
        body = {
            "host": "pve",
            "repository": "https://github.com/CageForge/nexcage.git",
            "ref": "v0.7.3",
            "destination": "/opt/src/nexcage",
        }
        try:
            made = await converge(res, None, body)
            assert made.state is not None
            assert made.state["commit"] == "751c40352020e3df30ce775e573e7f3020133cce"
            assert (await plan(res, made.state, body))[0] is Action.NOOP
            moved = await converge(res, made.state, {**body, "ref": "v0.7.4"})
            assert moved.action is Action.UPDATE and moved.state is not None
            assert moved.state["commit"].startswith("b465341a")
            await destroy(res, moved.state)
            assert await res.read_attrs(moved.state) is None
        finally:
            await res.provider.close()

    arun(main())


def test_command_creates_and_triggers(lab_host: LabHost) -> None:
    async def main() -> None:
        res = HostCommand(lab_host.provider())
        body = {
            "host": "pve",
            "command": ["mkdir", "-p", "/srv/out"],
            "creates": "/srv/out",
            "triggers": {"commit": "aaa"},
        }
        try:
            made = await converge(res, None, body)
            assert made.action is Action.CREATE
            mark = lab_host.mark()
            assert (await plan(res, made.state, body))[0] is Action.NOOP
            assert not [a for a in lab_host.since(mark) if a[0] == "mkdir"]
            rerun = await converge(res, made.state, {**body, "triggers": {"commit": "bbb"}})
            assert rerun.action is Action.UPDATE
            assert [a for a in lab_host.since(mark) if a[0] == "mkdir"]
            lab_host.host.fs.remove("/srv/out", recursive=True)
            back = await converge(res, rerun.state, {**body, "triggers": {"commit": "bbb"}})
            assert back.action is Action.CREATE  # what it creates vanished: run again
            assert back.state is not None
            await destroy(res, back.state)
        finally:
            await res.provider.close()

    arun(main())


def test_systemd_unit(lab_host: LabHost) -> None:
    unit = "[Unit]\nDescription=t\n\n[Timer]\nOnUnitActiveSec=5min\n"

    async def main() -> None:
        res = HostSystemdUnit(lab_host.provider())
        body = {
            "host": "pve",
            "name": "demo.timer",
            "content": unit,
            "enabled": True,
            "active": True,
        }
        try:
            made = await converge(res, None, body)
            assert "systemctl daemon-reload" in made.progress
            assert (await plan(res, made.state, body))[0] is Action.NOOP
            edited = await converge(res, made.state, {**body, "content": unit + "# x\n"})
            assert "systemctl daemon-reload" in edited.progress
            assert "systemctl restart demo.timer" in edited.progress
            off = await converge(
                res, edited.state, {**body, "content": unit + "# x\n", "active": False}
            )
            assert off.progress == ["systemctl stop demo.timer"]
            assert off.state is not None
            await destroy(res, off.state)
            assert await res.read_attrs(off.state) is None
        finally:
            await res.provider.close()

    arun(main())
    assert "demo.timer" not in lab_host.host.data["systemd"]["enabled"]


def _ctx():  # type: ignore[no-untyped-def]
    from cozyplan.provider import ApplyContext

    return ApplyContext("t")
