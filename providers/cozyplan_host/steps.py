"""Facts (read-only) and the operations that change a host only where a fact differs.

Like pyinfra: each ``ensure_*`` reads the facts first and runs nothing when the host already
matches. Resources (including ``host_nexcage``) are compositions of these.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from cozyplan.provider import PermanentError
from cozyplan_host.ssh import HostConnection

Progress = Callable[[str], None]
DPKG_FORMAT = "${Package}\\t${db:Status-Abbrev}\\n"


def _noop(message: str) -> None:
    pass


# -- files -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class FileStat:
    kind: str  # "file" | "directory" | other
    mode: str  # "0644"
    owner: str
    group: str


async def stat(c: HostConnection, path: str, *, step: str) -> FileStat | None:
    r = await c.run(["stat", "-c", "%a %U %G %F", path], step=step, check=False)
    if not r.ok:
        if "No such file" in r.stderr:
            return None
        raise PermanentError(f"{c.label}: step '{step}' cannot stat {path}: {r.stderr.strip()}")
    mode, owner, group, kind = r.stdout.strip().split(" ", 3)
    kinds = {"regular file": "file", "regular empty file": "file", "directory": "directory"}
    return FileStat(kinds.get(kind, kind), mode.zfill(4), owner, group)


async def read_bytes(c: HostConnection, path: str, *, step: str) -> bytes | None:
    found = await stat(c, path, step=step)
    if found is None:
        return None
    if found.kind != "file":
        raise PermanentError(f"{c.label}: step '{step}': {path} is a {found.kind}, not a file")
    return await c.run_bytes(["cat", path], step=step)


async def read_text(c: HostConnection, path: str, *, step: str) -> str | None:
    data = await read_bytes(c, path, step=step)
    return None if data is None else data.decode("utf-8", "replace")


async def sha256_of(c: HostConnection, paths: Sequence[str], *, step: str) -> dict[str, str]:
    """sha256 of each existing path (missing ones are left out)."""
    r = await c.run(["sha256sum", *paths], step=step, check=False)
    found: dict[str, str] = {}
    for line in r.stdout.splitlines():
        digest, _, name = line.partition("  ")
        found[name] = digest
    return found


async def ensure_dir(
    c: HostConnection,
    path: str,
    *,
    step: str,
    progress: Progress = _noop,
) -> bool:
    found = await stat(c, path, step=step)
    if found is not None:
        if found.kind != "directory":
            raise PermanentError(f"{c.label}: step '{step}': {path} exists and is not a directory")
        return False
    progress(f"mkdir -p {path}")
    await c.run(["mkdir", "-p", path], step=step)
    return True


async def write_file(
    c: HostConnection,
    path: str,
    data: bytes,
    *,
    mode: str,
    owner: str | None,
    group: str | None,
    step: str,
) -> None:
    """Replace ``path`` atomically: upload to a temp file, set mode/owner, rename over."""
    await ensure_dir(c, posixpath.dirname(path) or "/", step=step)
    staged = c.temp_name(None if c.host.sudo else path)
    await c.upload(staged, data, step=step)
    try:
        if c.host.sudo:  # uploaded as the login user: install it as root next to the target
            final = c.temp_name(path)
            args = ["install", "-m", mode]
            args += ["-o", owner] if owner else []
            args += ["-g", group] if group else []
            await c.run([*args, staged, final], step=step)
            staged_done = final
        else:
            await c.run(["chmod", mode, staged], step=step)
            if owner or group:
                await c.run(
                    ["chown", f"{owner or ''}{':' + group if group else ''}", staged], step=step
                )
            staged_done = staged
        await c.run(["mv", "-f", staged_done, path], step=step)
    finally:
        await c.run(["rm", "-f", staged], step=step, check=False, sudo=False)


async def ensure_file(
    c: HostConnection,
    path: str,
    data: bytes,
    *,
    mode: str = "0644",
    owner: str | None = None,
    group: str | None = None,
    step: str,
    progress: Progress = _noop,
) -> bool:
    """Make ``path`` hold ``data`` with ``mode``/``owner``/``group``; True when changed."""
    found = await stat(c, path, step=step)
    if found is not None:
        same = found.kind == "file" and await read_bytes(c, path, step=step) == data
        if (
            same
            and found.mode == mode
            and owner in (None, found.owner)
            and group in (None, found.group)
        ):
            return False
        if same:
            progress(f"set mode/owner of {path}")
            await c.run(["chmod", mode, path], step=step)
            if (owner and owner != found.owner) or (group and group != found.group):
                await c.run(
                    ["chown", f"{owner or ''}{':' + group if group else ''}", path], step=step
                )
            return True
    progress(f"write {path}")
    await write_file(c, path, data, mode=mode, owner=owner, group=group, step=step)
    return True


# -- packages ----------------------------------------------------------------------------------
async def installed_packages(c: HostConnection, names: Sequence[str], *, step: str) -> set[str]:
    if not names:
        return set()
    r = await c.run(
        ["dpkg-query", "-W", f"-f={DPKG_FORMAT}", *names], step=step, check=False, sudo=False
    )
    found = set()
    for line in r.stdout.splitlines():
        name, _, status = line.partition("\t")
        if status.startswith("ii"):
            found.add(name.split(":", 1)[0])
    return found


async def ensure_packages(
    c: HostConnection,
    names: Sequence[str],
    *,
    step: str,
    progress: Progress = _noop,
) -> list[str]:
    """Install what is missing with one ``apt-get install``; ``apt-get update`` only if needed.

    Returns the packages that were installed.
    """
    missing = [n for n in names if n not in await installed_packages(c, names, step=step)]
    if not missing:
        return []
    install = [
        "env",
        "DEBIAN_FRONTEND=noninteractive",
        "apt-get",
        "install",
        "-y",
        "-q",
        "--no-install-recommends",
        *missing,
    ]
    progress(f"apt-get install {' '.join(missing)}")
    first = await c.run(install, step=step, check=False, timeout=max(c.host.command_timeout, 1800))
    if not first.ok:  # stale or empty package lists: refresh once, then retry
        progress("apt-get update")
        await c.run(["env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "update", "-q"], step=step)
        await c.run(install, step=step, timeout=max(c.host.command_timeout, 1800))
    still = [n for n in missing if n not in await installed_packages(c, missing, step=step)]
    if still:
        raise PermanentError(
            f"{c.label}: step '{step}': apt-get reported success but "
            f"{', '.join(still)} is not installed"
        )
    return missing


# -- git ---------------------------------------------------------------------------------------
async def git_head(c: HostConnection, dest: str, *, step: str) -> str | None:
    r = await c.run(
        ["git", "-C", dest, "rev-parse", "--verify", "-q", "HEAD"], step=step, check=False
    )
    return r.stdout.strip() or None if r.ok else None


async def git_origin(c: HostConnection, dest: str, *, step: str) -> str | None:
    r = await c.run(["git", "-C", dest, "remote", "get-url", "origin"], step=step, check=False)
    return r.stdout.strip() if r.ok else None


async def git_resolve(c: HostConnection, dest: str, ref: str, *, step: str) -> str | None:
    for name in (ref, f"origin/{ref}"):
        r = await c.run(
            ["git", "-C", dest, "rev-parse", "--verify", "-q", f"{name}^{{commit}}"],
            step=step,
            check=False,
        )
        if r.ok and r.stdout.strip():
            return r.stdout.strip()
    return None


async def ensure_checkout(
    c: HostConnection,
    url: str,
    ref: str,
    dest: str,
    *,
    step: str,
    progress: Progress = _noop,
) -> str:
    """``dest`` is a clone of ``url`` (no submodules) with ``ref`` checked out; its commit."""
    head = await git_head(c, dest, step=step)
    if head is None:
        if await stat(c, dest, step=step) is not None:
            raise PermanentError(
                f"{c.label}: step '{step}': {dest} exists and is not a git "
                "checkout; move it away or choose another destination"
            )
        await ensure_dir(c, posixpath.dirname(dest) or "/", step=step)
        progress(f"git clone {url} {dest}")
        await c.run(["git", "clone", "--no-checkout", "-q", "--", url, dest], step=step)
    else:
        origin = await git_origin(c, dest, step=step)
        if origin != url:
            raise PermanentError(
                f"{c.label}: step '{step}': {dest} is a checkout of {origin}, not {url}"
            )
    wanted = await git_resolve(c, dest, ref, step=step)
    if wanted is None:
        progress(f"git fetch {url}")
        await c.run(["git", "-C", dest, "fetch", "-q", "--tags", "origin"], step=step)
        wanted = await git_resolve(c, dest, ref, step=step)
        if wanted is None:
            raise PermanentError(
                f"{c.label}: step '{step}': {ref!r} is not a tag, branch or commit of {url}"
            )
    if wanted != head:
        progress(f"git checkout {ref}")
        await c.run(["git", "-C", dest, "checkout", "-q", "--force", "--detach", wanted], step=step)
    return wanted
