"""Emulated coreutils and friends: the basic shell utilities the host provider uses."""

from __future__ import annotations

import asyncio
import posixpath

from cozyplan.lab.sshhost.fakefs import ENOENT, FSError
from cozyplan.lab.sshhost.host import Command, Proc


def _split_flags(args: list[str], with_value: str = "") -> tuple[dict[str, str], list[str]]:
    """Short options (clustered, ``with_value`` letters take an argument), then operands."""
    flags: dict[str, str] = {}
    rest = list(args)
    while rest and rest[0].startswith("-") and rest[0] != "-":
        arg = rest.pop(0)
        if arg == "--":
            break
        if arg.startswith("--"):
            key, _, value = arg[2:].partition("=")
            flags[key] = value
            continue
        letters = arg[1:]
        for i, letter in enumerate(letters):
            if letter in with_value:
                value = letters[i + 1 :] or (rest.pop(0) if rest else "")
                flags[letter] = value
                break
            flags[letter] = ""
    return flags, rest


async def sudo(p: Proc) -> int:
    args = p.argv[1:]
    while args and args[0].startswith("-"):
        if args.pop(0) == "--":
            break
    if not args:
        return p.fail("usage: sudo -h | -K | -k | -V", 1)
    return await p.run(args)


async def env(p: Proc) -> int:
    args = p.argv[1:]
    extra: dict[str, str] = {}
    while args and "=" in args[0] and not args[0].startswith("="):
        key, _, value = args.pop(0).partition("=")
        extra[key] = value
    if not args:
        p.print("".join(f"{k}={v}\n" for k, v in {**p.env, **extra}.items()))
        return 0
    sub = Proc(p.host, args, p.cwd, {**p.env, **extra}, b"", p.out, p.err)
    return await p.host.exec(sub)


async def true(p: Proc) -> int:
    return 0


async def false(p: Proc) -> int:
    return 1


async def echo(p: Proc) -> int:
    p.print(" ".join(p.argv[1:]) + "\n")
    return 0


async def whoami(p: Proc) -> int:
    p.print(p.env.get("USER", "root") + "\n")
    return 0


async def sleep(p: Proc) -> int:
    await asyncio.sleep(float(p.argv[1]) if len(p.argv) > 1 else 0)
    return 0


async def cat(p: Proc) -> int:
    code = 0
    for arg in p.argv[1:] or ["-"]:
        if arg == "-":
            p.out += p.stdin
            continue
        try:
            p.out += p.fs.read(p.path(arg))
        except FSError as exc:
            code = p.fail(f"cat: {arg}: {exc.reason}")
    return code


async def test(p: Proc) -> int:
    args = p.argv[1:]
    if len(args) != 2 or args[0] not in ("-e", "-f", "-d", "-x", "-s"):
        return p.fail("test: lab supports only -e/-f/-d/-x/-s PATH", 2)
    node = p.fs.get(p.path(args[1]))
    if node is None:
        return 1
    flag = args[0]
    ok = (
        flag == "-e"
        or (flag == "-f" and node["type"] == "file")
        or (flag == "-d" and node["type"] == "dir")
        or (flag == "-x" and bool(node["mode"] & 0o111))
        or (flag == "-s" and node["type"] == "file" and bool(node.get("data")))
    )
    return 0 if ok else 1


async def mkdir(p: Proc) -> int:
    flags, paths = _split_flags(p.argv[1:], "m")
    mode = int(flags["m"], 8) if "m" in flags else 0o755
    code = 0
    for arg in paths:
        try:
            p.fs.mkdir(p.path(arg), parents="p" in flags, mode=mode)
        except FSError as exc:
            code = p.fail(f"mkdir: cannot create directory '{arg}': {exc.reason}")
    return code


async def rm(p: Proc) -> int:
    flags, paths = _split_flags(p.argv[1:])
    recursive = "r" in flags or "R" in flags
    code = 0
    for arg in paths:
        try:
            p.fs.remove(p.path(arg), recursive=recursive)
        except FSError as exc:
            if not ("f" in flags and exc.reason == ENOENT):
                code = p.fail(f"rm: cannot remove '{arg}': {exc.reason}")
    return code


async def mv(p: Proc) -> int:
    _flags, paths = _split_flags(p.argv[1:])
    if len(paths) != 2:
        return p.fail("mv: lab supports exactly SOURCE DEST")
    try:
        p.fs.rename(p.path(paths[0]), p.path(paths[1]))
    except FSError as exc:
        return p.fail(f"mv: cannot move '{paths[0]}' to '{paths[1]}': {exc.reason}")
    return 0


async def cp(p: Proc) -> int:
    _flags, paths = _split_flags(p.argv[1:])
    if len(paths) != 2:
        return p.fail("cp: lab supports exactly SOURCE DEST")
    try:
        p.fs.copy(p.path(paths[0]), p.path(paths[1]))
    except FSError as exc:
        return p.fail(f"cp: cannot stat '{exc.path}': {exc.reason}")
    return 0


async def install(p: Proc) -> int:
    flags, paths = _split_flags(p.argv[1:], "mog")
    mode = int(flags["m"], 8) if "m" in flags else 0o755
    try:
        if "d" in flags:
            for arg in paths:
                p.fs.mkdir(p.path(arg), parents=True, mode=mode)
                p.fs.chown(p.path(arg), flags.get("o"), flags.get("g"))
            return 0
        if len(paths) != 2:
            return p.fail("install: lab supports exactly SOURCE DEST")
        src, dst = p.path(paths[0]), p.path(paths[1])
        if p.fs.is_dir(dst):
            dst = posixpath.join(dst, posixpath.basename(src))
        p.fs.write(dst, p.fs.read(src), mode=mode)
        p.fs.chown(dst, flags.get("o"), flags.get("g"))
    except FSError as exc:
        return p.fail(f"install: cannot stat '{exc.path}': {exc.reason}")
    return 0


async def chmod(p: Proc) -> int:
    if len(p.argv) != 3:
        return p.fail("chmod: lab supports exactly OCTAL-MODE FILE")
    try:
        p.fs.chmod(p.path(p.argv[2]), int(p.argv[1], 8))
    except ValueError:
        return p.fail(f"chmod: invalid mode: '{p.argv[1]}'")
    except FSError as exc:
        return p.fail(f"chmod: cannot access '{p.argv[2]}': {exc.reason}")
    return 0


async def chown(p: Proc) -> int:
    if len(p.argv) != 3:
        return p.fail("chown: lab supports exactly OWNER[:GROUP] FILE")
    owner, _, group = p.argv[1].partition(":")
    try:
        p.fs.chown(p.path(p.argv[2]), owner or None, group or None)
    except FSError as exc:
        return p.fail(f"chown: cannot access '{p.argv[2]}': {exc.reason}")
    return 0


async def stat(p: Proc) -> int:
    flags, paths = _split_flags(p.argv[1:], "c")
    fmt = flags.get("c")
    if fmt is None:
        return p.fail("stat: lab supports only -c FORMAT")
    code = 0
    for arg in paths:
        node = p.fs.get(p.path(arg))
        if node is None:
            code = p.fail(f"stat: cannot statx '{arg}': {ENOENT}")
            continue
        size = len(p.fs.read(p.path(arg))) if node["type"] == "file" else 4096
        values = {
            "a": format(node["mode"] & 0o7777, "o"),
            "U": node["owner"],
            "G": node["group"],
            "s": str(size),
            "n": arg,
            "F": "regular file" if node["type"] == "file" else "directory",
        }
        out, i = "", 0
        while i < len(fmt):
            if fmt[i] == "%" and i + 1 < len(fmt):
                out += values.get(fmt[i + 1], "?")
                i += 2
            else:
                out += fmt[i]
                i += 1
        p.print(out + "\n")
    return code


async def sha256sum(p: Proc) -> int:
    code = 0
    for arg in p.argv[1:]:
        try:
            p.print(f"{p.fs.sha256(p.path(arg))}  {arg}\n")
        except FSError as exc:
            code = p.fail(f"sha256sum: {arg}: {exc.reason}")
    return code


COMMANDS: dict[str, Command] = {
    "sudo": sudo,
    "env": env,
    "true": true,
    "false": false,
    "echo": echo,
    "whoami": whoami,
    "sleep": sleep,
    "cat": cat,
    "test": test,
    "mkdir": mkdir,
    "rm": rm,
    "mv": mv,
    "cp": cp,
    "install": install,
    "chmod": chmod,
    "chown": chown,
    "stat": stat,
    "sha256sum": sha256sum,
}
