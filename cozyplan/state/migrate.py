"""Copying a state between backends, and re-encrypting it under a new key.

Both work on the stored form (``Snapshot``): sensitive values stay sealed as they are, so the
resources arrive byte for byte, with their lineage and serial.
"""

from __future__ import annotations

from dataclasses import dataclass

from cozyplan.errors import StateError
from cozyplan.state.backend import Snapshot, StateBackend
from cozyplan.state.envelope import Encryption


@dataclass
class Copied:
    snapshot: Snapshot
    replaced_serial: int | None  # the serial the target held (same lineage), if any


def migrate(source: StateBackend, target: StateBackend) -> Copied:
    """Copy ``source`` into ``target`` (both locked by the caller).

    Refused when the target holds another lineage (another state's history), or a later serial
    of the same lineage (it moved on since it was copied from here).
    """
    if source.describe() == target.describe() and source.kind == target.kind:
        raise StateError(f"the source and the target are the same state ({source.describe()})")
    snapshot = source.read()
    if snapshot is None:
        raise StateError(f"there is no state in {source.describe()} to migrate")
    snapshot.journal_records = 0
    existing = target.read()
    replaced = None
    if existing is not None and (existing.resources or existing.serial):
        if existing.lineage != snapshot.lineage:
            raise StateError(
                f"{target.describe()} already holds another state (lineage {existing.lineage}, "
                f"this one is {snapshot.lineage}); nothing was copied. Delete it first or "
                "choose another workspace"
            )
        if existing.serial > snapshot.serial:
            raise StateError(
                f"{target.describe()} holds a later serial of this state ({existing.serial} > "
                f"{snapshot.serial}); nothing was copied. Migrate the other way round"
            )
        replaced = existing.serial
    target.compact(snapshot)
    return Copied(snapshot, replaced)


def rekey(backend: StateBackend, new: Encryption | None) -> Snapshot:
    """Re-encrypt the whole state under ``new`` (None: store it in clear); the caller holds the
    lock and the backend opens the current state with the key configured for it."""
    snapshot = backend.read()
    if snapshot is None:
        raise StateError(f"there is no state in {backend.describe()} to re-encrypt")
    snapshot.journal_records = 0
    backend.encryption = new
    backend.compact(snapshot, rewrite=True)
    return snapshot
