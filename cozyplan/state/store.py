"""The engine's view of a state: a backend (where and how it is stored) plus the codec that
seals sensitive values.

``record`` appends one journal record per resource change and ``write`` compacts; ``durable``
group-commits (see ``backend``). The engine never sees which backend it talks to.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cozyplan.errors import StateError
from cozyplan.state.backend import Snapshot, StateBackend
from cozyplan.state.crypto import StateCipher, open_paths, seal_paths
from cozyplan.state.local import LocalBackend, write_atomic
from cozyplan.state.lock import LockInfo
from cozyplan.state.model import ResourceState, State

__all__ = ["LocalStore", "StateStore", "write_atomic"]


class StateStore:
    def __init__(self, backend: StateBackend, cipher: StateCipher) -> None:
        self.backend = backend
        self.cipher = cipher
        self._base_serial = 0
        self.replayed = 0  # journal records the last load folded in (a run died before)

    def describe(self) -> str:
        return self.backend.describe()

    # -- locking ------------------------------------------------------------------------------
    def lock(self, operation: str) -> LockInfo:
        if self.backend.encryption is not None:
            self.backend.encryption.check()
        return self.backend.lock(operation)

    def unlock(self) -> None:
        self.backend.unlock()

    def force_unlock(self, lock_id: str) -> LockInfo:
        return self.backend.force_unlock(lock_id)

    # -- encoding -----------------------------------------------------------------------------
    def encode(self, rs: ResourceState) -> dict[str, Any]:
        data = rs.to_json()
        if rs.sensitive_paths:
            data["observed"] = seal_paths(rs.observed, rs.sensitive_paths, self.cipher)
            data["desired"] = seal_paths(rs.desired, rs.sensitive_paths, self.cipher)
            if rs.pending is not None:
                data["pending"]["attributes"] = seal_paths(
                    rs.pending.attributes, rs.sensitive_paths, self.cipher
                )
            data["deposed"] = [seal_paths(d, rs.sensitive_paths, self.cipher) for d in rs.deposed]
        return data

    def decode(self, data: dict[str, Any]) -> ResourceState:
        rs = ResourceState.from_json(data)
        if rs.sensitive_paths:
            rs.observed = open_paths(rs.observed, rs.sensitive_paths, self.cipher)
            rs.desired = open_paths(rs.desired, rs.sensitive_paths, self.cipher)
            if rs.pending is not None:
                rs.pending.attributes = (
                    open_paths(rs.pending.attributes, rs.sensitive_paths, self.cipher) or {}
                )
            rs.deposed = [open_paths(d, rs.sensitive_paths, self.cipher) or {} for d in rs.deposed]
        return rs

    # -- reading ------------------------------------------------------------------------------
    def exists(self) -> bool:
        return self.backend.exists()

    def has_journal(self) -> bool:
        return self.backend.has_journal()

    def load(self) -> State:
        snapshot = self.backend.read()
        if snapshot is None:
            state = State()
        else:
            state = State(snapshot.lineage, snapshot.serial)
            state.last_run = snapshot.last_run
            try:
                state.resources = {a: self.decode(r) for a, r in snapshot.resources.items()}
            except StateError as exc:
                raise StateError(f"{self.backend.describe()}: {exc}") from None
        self.replayed = snapshot.journal_records if snapshot is not None else 0
        self._base_serial = state.serial
        return state

    def export(self) -> Snapshot:
        """The stored state as is (sensitive values stay sealed): what ``state migrate`` copies."""
        return self.backend.read() or Snapshot(State().lineage, 0)

    # -- writing ------------------------------------------------------------------------------
    def record(
        self, state: State, address: str, rs: ResourceState | None, *, sync: bool = True
    ) -> None:
        """Record one resource's new state (None: it is gone).

        ``sync=False`` only hands the record over; ``await durable()`` later makes it (and every
        record before it) durable at once, shared by all steps waiting at that moment.
        """
        encoded = None if rs is None else self.encode(rs)  # a value that cannot be sealed
        self.backend.append(  # leaves the state as it was
            state.lineage, self._base_serial, state.serial + 1, address, encoded, sync=sync
        )
        state.serial += 1
        if rs is None:
            state.resources.pop(address, None)
        else:
            state.resources[address] = rs

    async def durable(self) -> None:
        await self.backend.durable()

    def write(self, state: State) -> None:
        """Fold everything into a new snapshot (and empty the journal)."""
        resources = {a: self.encode(r) for a, r in state.resources.items()}
        self.backend.compact(
            Snapshot(state.lineage, state.serial, resources, last_run=state.last_run)
        )
        self._base_serial = state.serial

    def close(self) -> None:
        self.backend.close()


class LocalStore(StateStore):
    """A state file with today's defaults: the sensitive-value key beside it (or in
    ``COZYPLAN_STATE_KEY``), no whole-state encryption."""

    def __init__(self, path: Path, *, fsync: bool = True) -> None:
        super().__init__(LocalBackend(path, fsync=fsync), StateCipher.for_state(path))
        self.path = path
