"""Emulated ``systemctl``: unit files in the fake FS, enabled/active sets, daemon-reload.

Starting a service runs its ``ExecStart`` on the simulated host, so a unit whose command does
not exist (like ``nexcage daemon`` on v0.7.3) ends up ``failed`` as it would on the real host.
"""

from __future__ import annotations

import hashlib
import posixpath
from typing import Any

from cozyplan.lab.sshhost.host import Command, Proc
from cozyplan.lab.sshhost.shell import ShellSyntaxError, tokenize

UNIT_DIRS = ("/etc/systemd/system", "/lib/systemd/system")


def _state(p: Proc) -> dict[str, Any]:
    state: dict[str, Any] = p.host.data.setdefault(
        "systemd", {"enabled": [], "active": [], "failed": [], "loaded": {}}
    )
    return state


def _unit_file(p: Proc, unit: str) -> str | None:
    for d in UNIT_DIRS:
        path = posixpath.join(d, unit)
        if p.fs.is_file(path):
            return path
    return None


def _directives(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.strip().partition("=")
        if sep and not key.startswith(("#", ";", "[")):
            out[key.strip()] = value.strip()
    return out


def _set(state: dict[str, Any], key: str, unit: str, on: bool) -> None:
    items: list[str] = state[key]
    if on and unit not in items:
        items.append(unit)
    if not on and unit in items:
        items.remove(unit)


async def _start(p: Proc, unit: str, path: str) -> int:
    state = _state(p)
    text = p.fs.read(path).decode()
    digest = hashlib.sha256(text.encode()).hexdigest()
    if state["loaded"].get(unit) not in (None, digest):
        p.error(
            f"Warning: The unit file of {unit} changed on disk. Run 'systemctl "
            "daemon-reload' to reload units.\n"
        )
    state["loaded"].setdefault(unit, digest)
    _set(state, "failed", unit, False)
    if not unit.endswith(".service"):
        _set(state, "active", unit, True)
        return 0
    settings = _directives(text)
    try:
        words = [w for w in tokenize(settings.get("ExecStart", "")) if isinstance(w, str)]
    except ShellSyntaxError:
        words = []
    sub = Proc(p.host, [w.lstrip("-@") for w in words] or ["false"], "/", dict(p.env))
    code = await p.host.exec(sub)
    kind = settings.get("Type", "simple")
    if code != 0:
        _set(state, "active", unit, False)
        _set(state, "failed", unit, True)
        if kind in ("oneshot", "notify", "forking"):
            return p.fail(
                f"Job for {unit} failed because the control process exited with error code.\n"
                f'See "systemctl status {unit}" and "journalctl -xeu {unit}" for details.',
                1,
            )
        return 0
    stays = kind != "oneshot" or settings.get("RemainAfterExit", "no") in ("yes", "true")
    _set(state, "active", unit, stays)
    return 0


async def systemctl(p: Proc) -> int:
    args = [a for a in p.argv[1:] if not a.startswith("-")]
    now = "--now" in p.argv
    if not args:
        return p.fail("systemctl: lab needs a command", 1)
    op, units = args[0], [u if "." in u else u + ".service" for u in args[1:]]
    state = _state(p)
    if op == "daemon-reload":
        for d in UNIT_DIRS:
            for path in p.fs.children(d):
                if p.fs.is_file(path):
                    digest = hashlib.sha256(p.fs.read(path)).hexdigest()
                    state["loaded"][posixpath.basename(path)] = digest
        p.host.save()
        return 0
    code = 0
    for unit in units:
        unit_path = _unit_file(p, unit)
        if op == "is-active":
            status = (
                "active"
                if unit in state["active"]
                else ("failed" if unit in state["failed"] else "inactive")
            )
            p.print(status + "\n")
            code = code or (0 if status == "active" else 3)
            continue
        if op == "is-enabled":
            if unit_path is None:
                code = p.fail(
                    f"Failed to get unit file state for {unit}: No such file or directory"
                )
                continue
            enabled = unit in state["enabled"]
            p.print("enabled\n" if enabled else "disabled\n")
            code = code or (0 if enabled else 1)
            continue
        if unit_path is None and op not in ("stop", "disable"):
            code = p.fail(f"Failed to {op} {unit}: Unit {unit} not found.", 5)
            continue
        if op in ("enable", "disable"):
            _set(state, "enabled", unit, op == "enable")
            if now and op == "disable":
                _set(state, "active", unit, False)
            if now and op == "enable" and unit_path is not None:
                code = code or await _start(p, unit, unit_path)
        elif op in ("start", "restart") and unit_path is not None:
            code = code or await _start(p, unit, unit_path)
        elif op == "stop":
            _set(state, "active", unit, False)
        else:
            code = p.fail(f"systemctl: lab does not support '{op}'", 1)
    p.host.save()
    return code


COMMANDS: dict[str, Command] = {"systemctl": systemctl}
