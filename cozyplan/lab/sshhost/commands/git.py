"""Emulated ``git``: clone/fetch/checkout/rev-parse of remotes the lab knows.

Remotes live in the world data (``remotes``: url -> {"refs": {name: sha}, "trees": {sha:
{path: text}}}); a clone keeps its metadata in ``.git/lab-repo.json``. Like the real NexCage
repository, the seeded remote has a submodule with an SSH URL, so ``--recursive`` fails.
"""

from __future__ import annotations

import json
import posixpath
from typing import Any

from cozyplan.lab.sshhost.host import Command, Proc

NEXCAGE_URL = "https://github.com/CageForge/nexcage.git"
_ZON = '.{\n    .name = .nexcage,\n    .minimum_zig_version = "0.15.1",\n}\n'
NEXCAGE_TAGS = {
    "v0.7.2": ("7018f155dc7ddd6c0ab44df80b500680fd4b4f47", "0.7.2"),
    "v0.7.3": ("751c40352020e3df30ce775e573e7f3020133cce", "0.7.3"),
    "v0.7.4": ("b465341ab53b298f60eb9fe9394a2bde1c8d5018", "0.7.4"),
}


def nexcage_remote() -> dict[str, Any]:
    refs: dict[str, str] = {}
    trees: dict[str, dict[str, str]] = {}
    for tag, (sha, version) in NEXCAGE_TAGS.items():
        refs[tag] = sha
        trees[sha] = {
            "VERSION": version + "\n",
            "build.zig.zon": _ZON,
            "README.md": "# NexCage\n",
            "build.zig": "// lab stand-in: `zig build` produces zig-out/bin/nexcage\n",
            ".gitmodules": '[submodule "deps/bfc"]\n\tpath = deps/bfc\n'
            "\turl = git@github.com:themoriarti/bfc.git\n",
        }
    refs["main"] = NEXCAGE_TAGS["v0.7.4"][0]
    return {"refs": refs, "trees": trees, "default": "main"}


def _remotes(p: Proc) -> dict[str, Any]:
    remotes: dict[str, Any] = p.host.world.data("host").setdefault("remotes", {})
    return remotes


def _meta_path(repo: str) -> str:
    return posixpath.join(repo, ".git", "lab-repo.json")


def _load(p: Proc, repo: str) -> dict[str, Any] | None:
    path = _meta_path(repo)
    if not p.fs.is_file(path):
        return None
    meta: dict[str, Any] = json.loads(p.fs.read(path))
    return meta


def _store(p: Proc, repo: str, meta: dict[str, Any]) -> None:
    p.fs.write(_meta_path(repo), json.dumps(meta).encode())


def _resolve(meta: dict[str, Any], ref: str) -> str | None:
    ref = ref.removesuffix("^{commit}")
    if ref == "HEAD":
        return str(meta["head"])
    for name in (ref, ref.removeprefix("refs/tags/"), ref.removeprefix("origin/")):
        if name in meta["refs"]:
            return str(meta["refs"][name])
    matches = [sha for sha in meta["trees"] if len(ref) >= 7 and sha.startswith(ref)]
    return matches[0] if len(matches) == 1 else None


def _checkout(p: Proc, repo: str, meta: dict[str, Any], sha: str) -> None:
    for name, text in meta["trees"][sha].items():
        path = posixpath.join(repo, name)
        p.fs.mkdir(posixpath.dirname(path), parents=True)
        p.fs.write(path, text.encode())
    meta["head"] = sha
    _store(p, repo, meta)


async def _clone(p: Proc, args: list[str]) -> int:
    opts = [a for a in args if a.startswith("-") and a != "--"]
    operands = (
        [a for a in args if not a.startswith("-")]
        if "--" not in args
        else (args[args.index("--") + 1 :])
    )
    if len(operands) != 2:
        return p.fail("usage: git clone [<options>] [--] <repo> <dir> (lab)", 129)
    url, dest = operands[0], p.path(operands[1])
    if p.fs.exists(dest) and (not p.fs.is_dir(dest) or p.fs.children(dest)):
        return p.fail(
            f"fatal: destination path '{operands[1]}' already exists and is not an empty "
            "directory.",
            128,
        )
    remote = _remotes(p).get(url)
    if remote is None:
        return p.fail(f"remote: Repository not found.\nfatal: repository '{url}' not found", 128)
    await p.host.world.sleep(3)
    p.fs.mkdir(posixpath.join(dest, ".git"), parents=True)
    meta = {"url": url, "refs": dict(remote["refs"]), "trees": remote["trees"], "head": ""}
    sha = remote["refs"][remote["default"]]
    if "--no-checkout" in opts or "-n" in opts:
        meta["head"] = sha
        _store(p, dest, meta)
    else:
        _checkout(p, dest, meta, sha)
    p.error(f"Cloning into '{operands[1]}'...\n")
    if {"--recursive", "--recurse-submodules"} & set(opts):
        return p.fail(
            "Cloning into 'deps/bfc'...\ngit@github.com: Permission denied (publickey).\n"
            "fatal: Could not read from remote repository.\n"
            "fatal: clone of 'git@github.com:themoriarti/bfc.git' into submodule path "
            "'deps/bfc' failed",
            128,
        )
    return 0


async def git(p: Proc) -> int:
    args = p.argv[1:]
    repo = p.cwd
    while args and args[0] == "-C":
        target = p.path(args[1]) if len(args) > 1 else ""
        if not p.fs.is_dir(target):
            return p.fail(f"fatal: cannot change to '{args[1]}': No such file or directory", 128)
        repo = target
        args = args[2:]
    if not args:
        return p.fail("usage: git [-C <path>] <command> [<args>]", 1)
    sub, rest = args[0], args[1:]
    if sub == "clone":
        return await _clone(p, rest)
    meta = _load(p, repo)
    if meta is None:
        return p.fail("fatal: not a git repository (or any of the parent directories): .git", 128)
    if sub == "rev-parse":
        names = [a for a in rest if not a.startswith("-")]
        quiet = "-q" in rest or "--quiet" in rest
        code = 0
        for name in names:
            sha = _resolve(meta, name)
            if sha is None:
                code = 1 if quiet else p.fail(f"fatal: ambiguous argument '{name}'", 128)
                continue
            p.print(sha + "\n")
        return code
    if sub == "fetch":
        remote = _remotes(p).get(meta["url"])
        if remote is None:
            return p.fail(f"fatal: repository '{meta['url']}' not found", 128)
        await p.host.world.sleep(1)
        meta["refs"], meta["trees"] = dict(remote["refs"]), remote["trees"]
        _store(p, repo, meta)
        return 0
    if sub == "checkout":
        names = [a for a in rest if not a.startswith("-")]
        sha = _resolve(meta, names[0]) if names else None
        if sha is None:
            ref = names[0] if names else ""
            return p.fail(f"error: pathspec '{ref}' did not match any file(s) known to git", 1)
        _checkout(p, repo, meta, sha)
        return 0
    if sub == "remote" and rest[:1] == ["get-url"]:
        p.print(meta["url"] + "\n")
        return 0
    if sub == "status":
        return 0
    return p.fail(f"git: '{sub}' is not supported by the lab", 1)


COMMANDS: dict[str, Command] = {"git": git}
