"""The local backend: an atomic snapshot file plus an append-only journal file.

Terraform rewrites the whole state after every resource, which makes big applies quadratic.
cozyplan appends one journal line per change (O(size of that resource)) and folds the journal
into the snapshot at the end of a run (temp file, fsync, rename; the previous snapshot kept as
``.backup``). A crash leaves snapshot + journal, which the next read replays; a torn last line is
ignored. Files are mode 0600. Journal fsyncs are group-committed (``durable``).

Workspaces other than ``default`` live in ``<state>.d/<workspace>/<state file name>``.
With whole-state encryption the snapshot file is one envelope and each journal line after the
header is ``{"serial": N, "sealed": "<envelope>"}``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

from cozyplan.errors import StateError
from cozyplan.state.backend import DEFAULT_WORKSPACE, Snapshot
from cozyplan.state.envelope import Encryption, EncryptionError, is_envelope, open_maybe
from cozyplan.state.files import (
    JournalEntry,
    JournalHeader,
    ResourceFile,
    SealedJournalEntry,
    check,
)
from cozyplan.state.lock import LockInfo, StateLock, force_unlock
from cozyplan.state.model import FORMAT_VERSION, State

SNAPSHOT_CONTEXT = "cozyplan-snapshot"


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes, mode: int = 0o600) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)


def journal_context(lineage: str, serial: int) -> str:
    return f"cozyplan-journal:{lineage}:{serial}"


def render_snapshot(snapshot: Snapshot) -> bytes:
    """One resource per line: diffable, and ~5x faster than indent= (the C encoder)."""
    from cozyplan import __version__

    head = {
        "version": FORMAT_VERSION,
        "serial": snapshot.serial,
        "lineage": snapshot.lineage,
        "cozyplan_version": __version__,
    }
    if snapshot.last_run is not None:
        head["last_run"] = snapshot.last_run
    lines = [json.dumps(head, separators=(",", ":"))[:-1] + ',"resources":{']
    items = sorted(snapshot.resources.items())
    for i, (addr, res) in enumerate(items):
        sep = "," if i < len(items) - 1 else ""
        lines.append(f"{json.dumps(addr)}:{json.dumps(res, separators=(',', ':'))}{sep}")
    lines.append("}}")
    return "\n".join(lines).encode() + b"\n"


class LocalBackend:
    kind = "local"

    def __init__(
        self, path: Path, *, fsync: bool = True, encryption: Encryption | None = None
    ) -> None:
        self.path = path
        self.journal_path = path.with_name(path.name + ".journal")
        self.backup_path = path.with_name(path.name + ".backup")
        self.lock_path = path.with_name(path.name + ".lock")
        self.encryption = encryption
        self._lock = StateLock(self.lock_path)
        self._journal: Any = None
        self._fsync = fsync
        self._written = 0
        self._synced = 0
        self._inflight: asyncio.Future[None] | None = None

    def describe(self) -> str:
        return str(self.path)

    # -- locking ------------------------------------------------------------------------------
    def lock(self, operation: str) -> LockInfo:
        return self._lock.acquire(operation)

    def unlock(self) -> None:
        self.close()
        self._lock.release()

    def force_unlock(self, lock_id: str) -> LockInfo:
        return force_unlock(self.lock_path, lock_id)

    # -- reading ------------------------------------------------------------------------------
    def exists(self) -> bool:
        return self.path.exists() or self.journal_path.exists()

    def has_journal(self) -> bool:
        return self.journal_path.exists()

    def read(self) -> Snapshot | None:
        snapshot: Snapshot | None = None
        if self.path.exists():
            snapshot = self._read_snapshot()
        if self.journal_path.exists():
            snapshot = self._replay(snapshot)
        return snapshot

    def _read_snapshot(self) -> Snapshot:
        data = open_maybe(
            self.path.read_bytes(), self.encryption, SNAPSHOT_CONTEXT, f"the state {self.path}"
        )
        try:
            raw = json.loads(data)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise self._malformed(self.path, f"not valid JSON ({exc})") from None
        try:
            if not isinstance(raw, dict) or not isinstance(raw.get("resources"), dict):
                State.from_json(raw)  # names what is wrong
                raise StateError("resources: expected an object")
            head = State.from_json({**raw, "resources": {}})  # version check and upgrade
            for address, resource in raw["resources"].items():
                check(ResourceFile, resource, f"resources.{address}")
        except StateError as exc:
            raise self._malformed(self.path, str(exc)) from None
        return Snapshot(head.lineage, head.serial, raw["resources"], last_run=head.last_run)

    def _malformed(self, path: Path, problem: str) -> StateError:
        """The problem, and how to recover from it (naming only files that exist)."""
        if path == self.journal_path:
            how = (
                f"It records the changes of a run that did not finish. To continue from the last "
                f"snapshot, move it aside (e.g. mv {path} {path}.bad); objects that run created "
                f"are then unknown to the state: bring them back with 'cozyplan import ADDR ID'."
            )
        elif self.backup_path.exists():
            how = (
                f"The previous snapshot is in {self.backup_path}: check it and copy it over "
                f"{path} to restore it (changes recorded after it are then unknown to the state: "
                f"bring them back with 'cozyplan import ADDR ID')."
            )
        else:
            how = (
                f"There is no backup ({self.backup_path} does not exist): restore {path} from "
                f"your own copy, or move it aside and bring existing objects back with "
                f"'cozyplan import ADDR ID'."
            )
        return StateError(f"{path} is malformed: {problem}\n{how}")

    def _replay(self, snapshot: Snapshot | None) -> Snapshot:
        lines = self.journal_path.read_bytes().split(b"\n")
        out = snapshot or Snapshot(State().lineage, 0)
        for i, line in enumerate(lines):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
            except (json.JSONDecodeError, UnicodeDecodeError):
                if i >= len(lines) - 2:
                    break  # a torn last write: the change it described never completed
                raise self._malformed(self.journal_path, f"line {i + 1} is not JSON") from None
            try:
                if isinstance(entry, dict) and "lineage" in entry and "address" not in entry:
                    check(JournalHeader, entry)
                    if snapshot is not None and entry["lineage"] != snapshot.lineage:
                        raise StateError("it belongs to another state lineage")
                    out.lineage = entry["lineage"]
                    continue
                if isinstance(entry, dict) and "sealed" in entry:
                    check(SealedJournalEntry, entry)
                    if entry["serial"] <= out.serial:
                        continue
                    entry = json.loads(
                        open_maybe(
                            entry["sealed"].encode(),
                            self.encryption,
                            journal_context(out.lineage, entry["serial"]),
                            f"{self.journal_path} line {i + 1}",
                        )
                    )
                check(JournalEntry, entry)
                if entry["serial"] <= out.serial:
                    continue  # already folded into the snapshot
            except EncryptionError:
                raise  # a key problem, not a damaged file
            except StateError as exc:
                raise self._malformed(self.journal_path, f"line {i + 1}: {exc}") from None
            out.serial = entry["serial"]
            out.journal_records += 1
            if entry["resource"] is None:
                out.resources.pop(entry["address"], None)
            else:
                out.resources[entry["address"]] = entry["resource"]
        return out

    # -- writing ------------------------------------------------------------------------------
    def _open_journal(self, lineage: str, base_serial: int) -> Any:
        if self._journal is None:
            new = not self.journal_path.exists()
            self.journal_path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.journal_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            self._journal = os.fdopen(fd, "ab")
            if new:
                header = {"lineage": lineage, "base_serial": base_serial}
                self._journal.write(json.dumps(header).encode() + b"\n")
                if self._fsync:
                    self._journal.flush()
                    _fsync_dir(self.journal_path.parent)
        return self._journal

    def append(
        self,
        lineage: str,
        base_serial: int,
        serial: int,
        address: str,
        resource: dict[str, Any] | None,
        *,
        sync: bool,
    ) -> None:
        entry: dict[str, Any] = {"serial": serial, "address": address, "resource": resource}
        line = json.dumps(entry, separators=(",", ":")).encode()
        if self.encryption is not None:
            sealed = self.encryption.seal(line, journal_context(lineage, serial))
            line = json.dumps({"serial": serial, "sealed": sealed.decode()}).encode()
        journal = self._open_journal(lineage, base_serial)
        journal.write(line + b"\n")
        journal.flush()
        self._written += 1
        if sync and self._fsync:
            os.fdatasync(journal.fileno())
            self._synced = self._written

    async def durable(self) -> None:
        """Group commit: wait until every line written so far is on disk."""
        if not self._fsync or self._journal is None:
            return
        target = self._written
        while self._synced < target:
            if self._inflight is None:
                self._inflight = asyncio.ensure_future(self._sync_now())
            inflight = self._inflight
            await asyncio.shield(inflight)

    async def _sync_now(self) -> None:
        upto = self._written
        try:
            await asyncio.to_thread(os.fdatasync, self._journal.fileno())
            self._synced = max(self._synced, upto)
        finally:
            self._inflight = None

    def close(self) -> None:
        if self._journal is not None:
            self._journal.close()
            self._journal = None

    def compact(self, snapshot: Snapshot, *, rewrite: bool = False) -> None:
        """Fold everything into a new snapshot; keep the previous one as the backup."""
        self.close()
        payload = render_snapshot(snapshot)
        if self.encryption is not None:
            payload = self.encryption.seal(payload, SNAPSHOT_CONTEXT) + b"\n"
        if rewrite:
            write_atomic(self.backup_path, payload)  # no copy under the old key stays behind
        elif self.path.exists():
            previous = self.path.read_bytes()
            if self.encryption is not None and not is_envelope(previous):
                # never leave a clear-text copy behind once the state is encrypted
                previous = self.encryption.seal(previous, SNAPSHOT_CONTEXT) + b"\n"
            write_atomic(self.backup_path, previous)
        write_atomic(self.path, payload)
        with contextlib.suppress(FileNotFoundError):
            self.journal_path.unlink()

    def destroy(self) -> None:
        self.close()
        for path in (self.path, self.journal_path, self.backup_path):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        if self.path.parent.parent.name.endswith(".d"):  # a workspace's own directory
            shutil.rmtree(self.path.parent, ignore_errors=True)


WORKSPACE_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")


class LocalLocation:
    """``default`` is the state file itself; workspace W is ``<state>.d/W/<state file name>``."""

    kind = "local"

    def __init__(
        self, path: Path, *, fsync: bool = True, encryption: Encryption | None = None
    ) -> None:
        self.path = path
        self.fsync = fsync
        self.encryption = encryption
        self.workspaces_dir = path.with_name(path.name + ".d")

    def state_path(self, workspace: str) -> Path:
        if workspace == DEFAULT_WORKSPACE:
            return self.path
        return self.workspaces_dir / workspace / self.path.name

    def backend(self, workspace: str) -> LocalBackend:
        return LocalBackend(
            self.state_path(workspace), fsync=self.fsync, encryption=self.encryption
        )

    def workspaces(self) -> list[str]:
        names = {DEFAULT_WORKSPACE}
        if self.workspaces_dir.is_dir():
            names |= {
                d.name
                for d in self.workspaces_dir.iterdir()
                if d.is_dir() and WORKSPACE_RE.match(d.name)
            }
        return sorted(names)

    def create_workspace(self, workspace: str) -> None:
        self.state_path(workspace).parent.mkdir(parents=True, exist_ok=True)

    def sensitive_key_file(self, workspace: str) -> Path:
        path = self.state_path(workspace)
        return path.with_name(path.name + ".key")
