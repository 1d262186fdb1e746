"""The narrow protocol every state backend implements (local files, PostgreSQL, ...).

A backend stores *encoded* state (sensitive values already sealed, see ``store``) as a snapshot
plus an append-only journal of one record per resource change, and locks it:

- ``read()`` returns the snapshot with the journal folded in (None: nothing stored yet);
- ``append()`` adds one record; ``sync=True`` makes it durable before returning, ``sync=False``
  only hands it over (it survives the death of this process, not of the machine) and a later
  ``await durable()`` makes it and every record before it durable at once (group commit);
- ``compact()`` replaces the snapshot and empties the journal, atomically;
- ``lock()`` is exclusive and fails at once naming the holder; a holder that dies releases it.

A ``Location`` holds one backend per workspace.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from cozyplan.state.envelope import Encryption
from cozyplan.state.lock import LockInfo

DEFAULT_WORKSPACE = "default"


@dataclass
class Snapshot:
    """A state in its stored form: resources encoded (sensitive values sealed)."""

    lineage: str
    serial: int
    resources: dict[str, dict[str, Any]] = field(default_factory=dict)
    journal_records: int = 0  # how many journal records were folded in on read
    #: the timeline of the last apply (``cozyplan.runlog``), for ``show --report``
    last_run: dict[str, Any] | None = None


class StateBackend(Protocol):
    kind: str
    encryption: Encryption | None

    def describe(self) -> str:
        """Where the state is, for messages: ``state/x.state.json``, ``postgres schema s``."""
        ...

    def lock(self, operation: str) -> LockInfo: ...

    def unlock(self) -> None: ...

    def force_unlock(self, lock_id: str) -> LockInfo: ...

    def exists(self) -> bool: ...

    def read(self) -> Snapshot | None: ...

    def has_journal(self) -> bool: ...

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
        """Record one change; ``lineage``/``base_serial`` describe the snapshot it follows."""
        ...

    async def durable(self) -> None: ...

    def compact(self, snapshot: Snapshot, *, rewrite: bool = False) -> None:
        """``rewrite``: write everything anew (a new encryption key), leave no old copy."""
        ...

    def destroy(self) -> None:
        """Remove this workspace's state entirely (called with the lock held)."""
        ...

    def close(self) -> None: ...


class Location(Protocol):
    """Where the states of one spec live, one per workspace."""

    kind: str

    def backend(self, workspace: str) -> StateBackend: ...

    def workspaces(self) -> list[str]:
        """Workspaces that hold a state (``default`` always listed)."""
        ...

    def create_workspace(self, workspace: str) -> None: ...

    def sensitive_key_file(self, workspace: str) -> Any:
        """The file that keeps the key of sensitive values when no key is configured, or None
        (a shared backend never keeps the key beside the state)."""
        ...
