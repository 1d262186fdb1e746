"""SFTP over the fake filesystem, so the provider's file uploads land in the simulated host."""

from __future__ import annotations

import posixpath
import stat as statmod
from dataclasses import dataclass, field

import asyncssh

from cozyplan.lab.sshhost.fakefs import FakeFS, FSError
from cozyplan.lab.sshhost.host import SimHost


@dataclass
class _Handle:
    path: str
    writable: bool
    data: bytearray = field(default_factory=bytearray)


def _str(path: bytes) -> str:
    return path.decode("utf-8", "surrogateescape")


class FakeSFTPServer(asyncssh.SFTPServer):
    def __init__(self, chan: asyncssh.SSHServerChannel[bytes], host: SimHost) -> None:
        super().__init__(chan)
        self._host = host

    @property
    def _fs(self) -> FakeFS:
        return self._host.fs

    def _path(self, path: bytes) -> str:
        return FakeFS.norm(_str(path), "/root")

    def _attrs(self, path: str) -> asyncssh.SFTPAttrs:
        node = self._fs.get(path)
        if node is None:
            raise asyncssh.SFTPNoSuchFile(f"{path}: No such file")
        is_dir = node["type"] == "dir"
        kind = statmod.S_IFDIR if is_dir else statmod.S_IFREG
        size = 4096 if is_dir else len(self._fs.read(path))
        return asyncssh.SFTPAttrs(
            type=asyncssh.FILEXFER_TYPE_DIRECTORY if is_dir else asyncssh.FILEXFER_TYPE_REGULAR,
            size=size,
            uid=0,
            gid=0,
            owner=node["owner"],
            group=node["group"],
            permissions=kind | node["mode"],
            atime=0,
            mtime=0,
        )

    def open(self, path: bytes, pflags: int, attrs: asyncssh.SFTPAttrs) -> object:
        target = self._path(path)
        writable = bool(pflags & asyncssh.FXF_WRITE)
        handle = _Handle(target, writable)
        try:
            if writable and (pflags & asyncssh.FXF_TRUNC or not self._fs.exists(target)):
                mode = (attrs.permissions or 0o644) & 0o7777
                self._fs.write(target, b"", mode=mode)
            else:
                handle.data = bytearray(self._fs.read(target))
        except FSError as exc:
            raise asyncssh.SFTPNoSuchFile(str(exc)) from None
        return handle

    def read(self, file_obj: object, offset: int, size: int) -> bytes:
        assert isinstance(file_obj, _Handle)
        return bytes(file_obj.data[offset : offset + size])

    def write(self, file_obj: object, offset: int, data: bytes) -> int:
        assert isinstance(file_obj, _Handle)
        buf = file_obj.data
        if len(buf) < offset:
            buf.extend(b"\0" * (offset - len(buf)))
        buf[offset : offset + len(data)] = data
        return len(data)

    def close(self, file_obj: object) -> None:
        assert isinstance(file_obj, _Handle)
        if file_obj.writable:
            self._fs.write(file_obj.path, bytes(file_obj.data))
            self._host.save()

    def stat(self, path: bytes) -> asyncssh.SFTPAttrs:
        return self._attrs(self._path(path))

    lstat = stat

    def fstat(self, file_obj: object) -> asyncssh.SFTPAttrs:
        assert isinstance(file_obj, _Handle)
        return self._attrs(file_obj.path)

    def setstat(self, path: bytes, attrs: asyncssh.SFTPAttrs) -> None:
        if attrs.permissions is not None:
            self._fs.chmod(self._path(path), attrs.permissions & 0o7777)

    def fsetstat(self, file_obj: object, attrs: asyncssh.SFTPAttrs) -> None:
        assert isinstance(file_obj, _Handle)
        if attrs.permissions is not None:
            self._fs.chmod(file_obj.path, attrs.permissions & 0o7777)

    def exit(self) -> None:
        self._host.save()

    def realpath(self, path: bytes) -> bytes:
        return self._path(path).encode("utf-8", "surrogateescape")

    def remove(self, path: bytes) -> None:
        try:
            self._fs.remove(self._path(path))
        except FSError as exc:
            raise asyncssh.SFTPNoSuchFile(str(exc)) from None

    def mkdir(self, path: bytes, attrs: asyncssh.SFTPAttrs) -> None:
        try:
            self._fs.mkdir(self._path(path), mode=(attrs.permissions or 0o755) & 0o7777)
        except FSError as exc:
            raise asyncssh.SFTPFailure(str(exc)) from None

    def posix_rename(self, oldpath: bytes, newpath: bytes) -> None:
        try:
            self._fs.rename(self._path(oldpath), self._path(newpath))
        except FSError as exc:
            raise asyncssh.SFTPNoSuchFile(str(exc)) from None

    def rename(self, oldpath: bytes, newpath: bytes) -> None:
        if self._fs.exists(self._path(newpath)):
            raise asyncssh.SFTPFailure(f"{posixpath.basename(_str(newpath))}: File exists")
        self.posix_rename(oldpath, newpath)
