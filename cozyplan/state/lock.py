"""State locking with flock: a killed holder's lock is released by the kernel.

The lock file also holds who has it (id, pid, host, time, operation) so a second run can name
the holder, and ``force-unlock ID`` can break a lock held on another machine's shared disk.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path

from cozyplan.errors import LockedError, StateError


@dataclass
class LockInfo:
    id: str
    pid: int
    host: str
    created: float
    operation: str

    def describe(self) -> str:
        when = time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime(self.created))
        return (
            f"lock {self.id} held by pid {self.pid} on {self.host} since {when} "
            f"(operation: {self.operation})"
        )


class StateLock:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None
        self.info: LockInfo | None = None

    def acquire(self, operation: str) -> LockInfo:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(20):
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = read_lock_info(self.path)
                os.close(fd)
                detail = holder.describe() if holder else "holder unknown"
                hint = f"cozyplan force-unlock {holder.id}" if holder else "cozyplan force-unlock"
                raise LockedError(
                    f"the state {self.path.with_suffix('')} is locked: {detail}. "
                    f"If that run is gone, remove the lock with '{hint}'."
                ) from None
            # the file may have been unlinked by the previous holder or force-unlock: retry
            try:
                same = os.stat(self.path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if not same:
                os.close(fd)
                continue
            info = LockInfo(
                str(uuid.uuid4()), os.getpid(), socket.gethostname(), time.time(), operation
            )
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps(asdict(info)).encode(), 0)
            self._fd = fd
            self.info = info
            return info
        raise StateError(f"could not lock {self.path}: it keeps being replaced")

    def release(self) -> None:
        if self._fd is None:
            return
        with contextlib.suppress(FileNotFoundError):
            if os.stat(self.path).st_ino == os.fstat(self._fd).st_ino:
                os.unlink(self.path)
        os.close(self._fd)
        self._fd = None
        self.info = None


def read_lock_info(path: Path) -> LockInfo | None:
    try:
        data = json.loads(path.read_text() or "null")
    except (FileNotFoundError, json.JSONDecodeError, UnicodeDecodeError):
        return None
    if not isinstance(data, dict):
        return None
    try:
        return LockInfo(**data)
    except TypeError:
        return None


def force_unlock(path: Path, lock_id: str) -> LockInfo:
    info = read_lock_info(path)
    if info is None:
        raise StateError(f"no lock is held on {path.with_suffix('')}")
    if info.id != lock_id:
        raise StateError(f"the lock id is {info.id}, not {lock_id}: nothing was unlocked")
    path.unlink()
    return info
