"""A small POSIX-like filesystem kept in the lab world's JSON data.

Nodes are stored flat by absolute path: ``{"type": "dir"|"file", "mode": int, "owner": str,
"group": str, "data": str}``. File data is bytes stored as text with ``surrogateescape`` so any
byte sequence survives the JSON round trip. No permission checks: the simulated host is used
as root (sudo is accepted and changes nothing).
"""

from __future__ import annotations

import hashlib
import posixpath
from collections.abc import Callable, Iterator
from typing import Any

Node = dict[str, Any]


class FSError(Exception):
    """An error with the text coreutils would print after the path (e.g. ENOENT)."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


ENOENT = "No such file or directory"
ENOTDIR = "Not a directory"
EISDIR = "Is a directory"
EEXIST = "File exists"
ENOTEMPTY = "Directory not empty"

SEED_DIRS = (
    "/",
    "/bin",
    "/etc",
    "/etc/apt",
    "/etc/systemd",
    "/etc/systemd/system",
    "/etc/pve",
    "/opt",
    "/root",
    "/tmp",
    "/usr",
    "/usr/bin",
    "/usr/sbin",
    "/usr/lib",
    "/usr/local",
    "/usr/local/bin",
    "/var",
    "/var/lib",
    "/var/lib/apt",
    "/var/lib/apt/lists",
    "/var/log",
    "/run",
)
SEED_FILES = {
    "/etc/os-release": 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\n'
    'VERSION_ID="12"\nVERSION_CODENAME=bookworm\n',
    "/etc/pve/.version": '{"version":"8.4.1"}\n',
    "/etc/hostname": "pve\n",
}


def _encode(data: bytes) -> str:
    return data.decode("utf-8", "surrogateescape")


def _decode(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


class FakeFS:
    """The filesystem of one simulated host; ``save`` persists the world after changes."""

    def __init__(self, nodes: dict[str, Node], save: Callable[[], None]) -> None:
        self.nodes = nodes
        self._save = save
        if "/" not in nodes:
            for d in SEED_DIRS:
                nodes[d] = {"type": "dir", "mode": 0o755, "owner": "root", "group": "root"}
            nodes["/tmp"]["mode"] = 0o1777
            for path, text in SEED_FILES.items():
                self.write(path, text.encode(), save=False)

    @staticmethod
    def norm(path: str, cwd: str = "/") -> str:
        joined = posixpath.join(cwd, path) if path else cwd
        out = posixpath.normpath(joined)
        return "/" + out.lstrip("/")

    # -- queries ----------------------------------------------------------------------------
    def get(self, path: str) -> Node | None:
        return self.nodes.get(path)

    def exists(self, path: str) -> bool:
        return path in self.nodes

    def is_dir(self, path: str) -> bool:
        node = self.nodes.get(path)
        return node is not None and node["type"] == "dir"

    def is_file(self, path: str) -> bool:
        node = self.nodes.get(path)
        return node is not None and node["type"] == "file"

    def read(self, path: str) -> bytes:
        node = self.nodes.get(path)
        if node is None:
            raise FSError(path, ENOENT)
        if node["type"] == "dir":
            raise FSError(path, EISDIR)
        return _decode(node["data"])

    def sha256(self, path: str) -> str:
        return hashlib.sha256(self.read(path)).hexdigest()

    def children(self, path: str) -> list[str]:
        prefix = path.rstrip("/") + "/"
        return sorted(
            p
            for p in self.nodes
            if p.startswith(prefix) and p != "/" and "/" not in p[len(prefix) :]
        )

    def walk(self, path: str) -> Iterator[str]:
        """``path`` and everything under it."""
        prefix = path.rstrip("/") + "/"
        yield from sorted(p for p in self.nodes if p == path or p.startswith(prefix))

    # -- changes ----------------------------------------------------------------------------
    def _parent_ok(self, path: str) -> None:
        parent = posixpath.dirname(path)
        node = self.nodes.get(parent)
        if node is None:
            raise FSError(path, ENOENT)
        if node["type"] != "dir":
            raise FSError(path, ENOTDIR)

    def write(self, path: str, data: bytes, *, mode: int | None = None, save: bool = True) -> None:
        node = self.nodes.get(path)
        if node is not None and node["type"] == "dir":
            raise FSError(path, EISDIR)
        self._parent_ok(path)
        if node is None:
            node = {"type": "file", "mode": 0o644, "owner": "root", "group": "root"}
            self.nodes[path] = node
        if mode is not None:
            node["mode"] = mode
        node["data"] = _encode(data)
        if save:
            self._save()

    def mkdir(self, path: str, *, parents: bool = False, mode: int = 0o755) -> None:
        if path in self.nodes:
            if parents and self.is_dir(path):
                return
            raise FSError(path, EEXIST)
        if parents and posixpath.dirname(path) not in self.nodes:
            self.mkdir(posixpath.dirname(path), parents=True)
        self._parent_ok(path)
        self.nodes[path] = {"type": "dir", "mode": mode, "owner": "root", "group": "root"}
        self._save()

    def remove(self, path: str, *, recursive: bool = False) -> None:
        node = self.nodes.get(path)
        if node is None:
            raise FSError(path, ENOENT)
        if node["type"] == "dir":
            if not recursive:
                raise FSError(path, EISDIR)
            for p in list(self.walk(path)):
                del self.nodes[p]
        else:
            del self.nodes[path]
        self._save()

    def rename(self, src: str, dst: str) -> None:
        if src not in self.nodes:
            raise FSError(src, ENOENT)
        if self.is_dir(dst):
            dst = posixpath.join(dst, posixpath.basename(src))
        self._parent_ok(dst)
        if self.is_dir(dst) and self.children(dst):
            raise FSError(dst, ENOTEMPTY)
        moved = {p: self.nodes.pop(p) for p in list(self.walk(src))}
        for p, node in moved.items():
            self.nodes[dst + p[len(src) :]] = node
        self._save()

    def copy(self, src: str, dst: str, *, mode: int | None = None) -> None:
        if self.is_dir(dst):
            dst = posixpath.join(dst, posixpath.basename(src))
        old = self.nodes.get(src)
        self.write(dst, self.read(src), mode=mode if mode is not None else (old or {})["mode"])

    def chmod(self, path: str, mode: int) -> None:
        node = self.nodes.get(path)
        if node is None:
            raise FSError(path, ENOENT)
        node["mode"] = mode
        self._save()

    def chown(self, path: str, owner: str | None, group: str | None) -> None:
        node = self.nodes.get(path)
        if node is None:
            raise FSError(path, ENOENT)
        if owner:
            node["owner"] = owner
        if group:
            node["group"] = group
        self._save()
