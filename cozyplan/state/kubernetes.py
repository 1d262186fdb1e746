"""The Kubernetes backend: the state in Secrets of a management cluster, locked by a Lease.

For a state named N (``<secret_prefix>`` for ``default``, ``<secret_prefix>--<workspace>``):

- ``N-snapshot``: the snapshot's head (annotations: lineage, serial, generation, chunk count)
  and its first chunk; ``N-snapshot-<generation>-<i>``: the other chunks. The snapshot is gzip'd
  JSON (or an envelope), cut into chunks well under the 1 MiB object limit. Compaction writes the
  new generation's chunks first, then replaces the head (the one atomic step), then deletes the
  old chunks and the journal: a crash in between leaves either state whole.
- ``N-journal-<serial>``: one Secret per resource change (created, so durable in etcd, before
  the call returns: a crash marker is durable before its create starts).
- ``N-lock``: a ``coordination.k8s.io/v1`` Lease naming the holder (annotation
  ``cozyplan.io/lock``), renewed by a thread while the run lives; when the run dies the lease
  expires after ``lease_seconds`` and the next run takes it over. A run that fails to renew (or
  finds another holder) stops writing.

Every object is labelled ``cozyplan.io/state=<secret_prefix>`` and
``cozyplan.io/workspace=<workspace>``. The cluster is reached with a kubeconfig
(``config_path`` or ``$KUBECONFIG``, optional ``context``): credentials never sit in the spec.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gzip
import json
import os
import socket
import threading
import time
import uuid
from typing import Any

from cozyplan.errors import LockedError, StateError
from cozyplan.state.backend import DEFAULT_WORKSPACE, Snapshot
from cozyplan.state.envelope import Encryption, open_maybe
from cozyplan.state.local import journal_context
from cozyplan.state.lock import LockInfo
from cozyplan.state.model import FORMAT_VERSION

CHUNK_BYTES = 512 * 1024  # raw bytes per Secret: ~700 KB once base64'd, under the 1 MiB limit
LABEL_STATE = "cozyplan.io/state"
LABEL_WORKSPACE = "cozyplan.io/workspace"
LABEL_ROLE = "cozyplan.io/role"
LABEL_GENERATION = "cozyplan.io/generation"
ANNOTATION_LOCK = "cozyplan.io/lock"
SNAPSHOT_CONTEXT = "cozyplan-snapshot"


def _client(config_path: str | None, context: str | None) -> Any:
    try:
        from kubernetes import config
    except ImportError:  # pragma: no cover - a dependency of cozyplan
        raise StateError("the kubernetes backend needs the kubernetes client") from None
    try:
        return config.new_client_from_config(  # type: ignore[no-untyped-call]
            config_file=config_path or None, context=context
        )
    except Exception as exc:  # the client raises ConfigException, OSError, TypeError...
        where = config_path or os.environ.get("KUBECONFIG") or "~/.kube/config"
        raise StateError(f"cannot load the kubeconfig {where}: {exc}") from None


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class KubernetesBackend:
    kind = "kubernetes"

    def __init__(
        self,
        api: Any,
        namespace: str,
        prefix: str,
        workspace: str,
        *,
        lease_seconds: int = 30,
        encryption: Encryption | None = None,
    ) -> None:
        from kubernetes import client

        self.api = api
        self.core = client.CoreV1Api(api)
        self.coord = client.CoordinationV1Api(api)
        self.namespace = namespace
        self.prefix = prefix
        self.workspace = workspace
        self.name = prefix if workspace == DEFAULT_WORKSPACE else f"{prefix}--{workspace}"
        self.lease_seconds = lease_seconds
        self.encryption = encryption
        self._info: LockInfo | None = None
        self._stop = threading.Event()
        self._renewer: threading.Thread | None = None
        self._lost: str | None = None
        self._journal_lineage: str | None = None

    def describe(self) -> str:
        host = getattr(self.api.configuration, "host", "?")
        return f"kubernetes {host} namespace {self.namespace} secret {self.name}-snapshot"

    def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        from kubernetes.client.exceptions import ApiException

        try:
            return fn(*args, **kwargs)
        except ApiException as exc:
            raise _api_error(exc, self.describe()) from None
        except Exception as exc:
            if isinstance(exc, StateError):
                raise
            raise StateError(f"{self.describe()}: {type(exc).__name__}: {exc}") from None

    def _labels(self, role: str, **extra: str) -> dict[str, str]:
        return {
            LABEL_STATE: self.prefix,
            LABEL_WORKSPACE: self.workspace,
            LABEL_ROLE: role,
            **extra,
        }

    def _selector(self, role: str, **extra: str) -> str:
        return ",".join(f"{k}={v}" for k, v in self._labels(role, **extra).items())

    def _secret(self, name: str, role: str, data: dict[str, bytes], **meta: Any) -> Any:
        import base64

        from kubernetes import client

        return client.V1Secret(
            metadata=client.V1ObjectMeta(
                name=name,
                labels=self._labels(role, **meta.pop("labels", {})),
                annotations=meta.pop("annotations", None),
                resource_version=meta.pop("resource_version", None),
            ),
            type="cozyplan.io/state",
            data={k: base64.b64encode(v).decode() for k, v in data.items()},
        )

    # -- locking ------------------------------------------------------------------------------
    def lock(self, operation: str) -> LockInfo:
        from kubernetes import client
        from kubernetes.client.exceptions import ApiException

        info = LockInfo(
            str(uuid.uuid4()), os.getpid(), socket.gethostname(), time.time(), operation
        )
        now = _now()
        lease: Any = client.V1Lease(
            metadata=client.V1ObjectMeta(
                name=f"{self.name}-lock",
                labels=self._labels("lock"),
                annotations={ANNOTATION_LOCK: json.dumps(info.__dict__)},
            ),
            spec=client.V1LeaseSpec(
                holder_identity=info.id,
                lease_duration_seconds=self.lease_seconds,
                acquire_time=now,
                renew_time=now,
            ),
        )
        try:
            self.coord.create_namespaced_lease(self.namespace, lease)
        except ApiException as exc:
            if exc.status != 409:
                raise _api_error(exc, self.describe()) from None
            current = self._call(
                self.coord.read_namespaced_lease, f"{self.name}-lock", self.namespace
            )
            if not _expired(current):
                raise LockedError(self._locked_message(current)) from None
            lease.metadata.resource_version = current.metadata.resource_version
            transitions = (current.spec.lease_transitions or 0) + 1
            lease.spec.lease_transitions = transitions
            try:  # take over an expired lease; a racing run gets the 409
                self.coord.replace_namespaced_lease(f"{self.name}-lock", self.namespace, lease)
            except ApiException as exc2:
                if exc2.status == 409:
                    current = self.coord.read_namespaced_lease(f"{self.name}-lock", self.namespace)
                    raise LockedError(self._locked_message(current)) from None
                raise _api_error(exc2, self.describe()) from None
        self._info = info
        self._lost = None
        self._stop.clear()
        self._renewer = threading.Thread(target=self._renew_loop, daemon=True, name="lease")
        self._renewer.start()
        return info

    def _locked_message(self, lease: Any) -> str:
        holder = _lease_holder(lease)
        detail = holder.describe() if holder else f"holder {lease.spec.holder_identity}"
        renewed = lease.spec.renew_time or lease.spec.acquire_time
        expires = ""
        if renewed is not None:
            until = renewed + dt.timedelta(seconds=lease.spec.lease_duration_seconds or 0)
            expires = f" Its lease expires at {until:%H:%M:%S %Z} unless that run renews it."
        hint = f"cozyplan force-unlock {holder.id}" if holder else "cozyplan force-unlock"
        return (
            f"the state ({self.describe()}) is locked: {detail}.{expires} If that run hangs, "
            f"'{hint}' removes the lease."
        )

    def _renew_loop(self) -> None:
        from kubernetes.client.exceptions import ApiException

        interval = max(self.lease_seconds / 3, 0.2)
        while not self._stop.wait(interval):
            try:
                lease: Any = self.coord.read_namespaced_lease(f"{self.name}-lock", self.namespace)
                if self._info is None or lease.spec.holder_identity != self._info.id:
                    self._lost = "another run took the lock over"
                    return
                lease.spec.renew_time = _now()
                self.coord.replace_namespaced_lease(f"{self.name}-lock", self.namespace, lease)
            except ApiException as exc:
                if exc.status in (404, 409):
                    self._lost = f"the lease was {'deleted' if exc.status == 404 else 'taken'}"
                    return
            except Exception:  # a network blip: try again at the next interval
                continue

    def _check_held(self) -> None:
        if self._lost is not None:
            raise StateError(
                f"lost the lock on {self.describe()} ({self._lost}); nothing more is written"
            )

    def unlock(self) -> None:
        self._stop.set()
        if self._renewer is not None:
            self._renewer.join(timeout=5)
            self._renewer = None
        if self._info is not None and self._lost is None:
            with contextlib.suppress(Exception):
                lease: Any = self.coord.read_namespaced_lease(f"{self.name}-lock", self.namespace)
                if lease.spec.holder_identity == self._info.id:
                    self.coord.delete_namespaced_lease(f"{self.name}-lock", self.namespace)
        self._info = None

    def force_unlock(self, lock_id: str) -> LockInfo:
        from kubernetes.client.exceptions import ApiException

        try:
            lease: Any = self.coord.read_namespaced_lease(f"{self.name}-lock", self.namespace)
        except ApiException as exc:
            if exc.status == 404:
                raise StateError(f"no lock is held on {self.describe()}") from None
            raise _api_error(exc, self.describe()) from None
        holder = _lease_holder(lease)
        if holder is None or holder.id != lock_id:
            found = holder.id if holder else lease.spec.holder_identity
            raise StateError(f"the lock id is {found}, not {lock_id}: nothing was unlocked")
        self._call(self.coord.delete_namespaced_lease, f"{self.name}-lock", self.namespace)
        return holder

    # -- reading ------------------------------------------------------------------------------
    def _head(self) -> Any:
        from kubernetes.client.exceptions import ApiException

        try:
            return self.core.read_namespaced_secret(f"{self.name}-snapshot", self.namespace)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise _api_error(exc, self.describe()) from None

    def _journal(self) -> list[Any]:
        items = self._call(
            self.core.list_namespaced_secret,
            self.namespace,
            label_selector=self._selector("journal"),
        ).items
        return sorted(items, key=lambda s: int(s.metadata.annotations["cozyplan.io/serial"]))

    def exists(self) -> bool:
        return self._head() is not None or bool(self._journal())

    def has_journal(self) -> bool:
        return bool(self._journal())

    def read(self) -> Snapshot | None:
        import base64

        head = self._head()
        journal = self._journal()
        snap: Snapshot | None = None
        if head is not None:
            ann = head.metadata.annotations or {}
            if int(ann.get("cozyplan.io/format", 1)) > FORMAT_VERSION:
                raise StateError(f"{self.describe()} holds a newer state format than cozyplan's")
            generation, chunks = ann["cozyplan.io/generation"], int(ann["cozyplan.io/chunks"])
            parts = [base64.b64decode(head.data["chunk"])]
            for i in range(1, chunks):
                secret = self._call(
                    self.core.read_namespaced_secret,
                    f"{self.name}-snapshot-{generation}-{i}",
                    self.namespace,
                )
                parts.append(base64.b64decode(secret.data["chunk"]))
            blob = b"".join(parts)
            data = open_maybe(
                blob, self.encryption, SNAPSHOT_CONTEXT, f"the state {self.describe()}"
            )
            raw = json.loads(gzip.decompress(data))
            snap = Snapshot(
                raw["lineage"], int(raw["serial"]), raw["resources"], last_run=raw.get("last_run")
            )
        for secret in journal:
            ann = secret.metadata.annotations
            serial, lineage = int(ann["cozyplan.io/serial"]), ann["cozyplan.io/lineage"]
            if snap is None:
                snap = Snapshot(lineage, int(ann.get("cozyplan.io/base-serial", 0)))
            if serial <= snap.serial:
                continue
            blob = base64.b64decode(secret.data["record"])
            where = f"journal record {serial} of {self.describe()}"
            entry = json.loads(
                gzip.decompress(
                    open_maybe(blob, self.encryption, journal_context(lineage, serial), where)
                )
            )
            snap.serial = serial
            snap.journal_records += 1
            if entry["resource"] is None:
                snap.resources.pop(entry["address"], None)
            else:
                snap.resources[entry["address"]] = entry["resource"]
        return snap

    # -- writing ------------------------------------------------------------------------------
    def _seal(self, payload: bytes, context: str) -> bytes:
        packed = gzip.compress(payload, compresslevel=6, mtime=0)
        return packed if self.encryption is None else self.encryption.seal(packed, context)

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
        self._check_held()
        entry = json.dumps({"address": address, "resource": resource}, separators=(",", ":"))
        record = self._seal(entry.encode(), journal_context(lineage, serial))
        secret = self._secret(
            f"{self.name}-journal-{serial:012d}",
            "journal",
            {"record": record},
            annotations={
                "cozyplan.io/serial": str(serial),
                "cozyplan.io/lineage": lineage,
                "cozyplan.io/base-serial": str(base_serial),
            },
        )
        self._call(self.core.create_namespaced_secret, self.namespace, secret)

    async def durable(self) -> None:
        """Every journal record is already in etcd when ``append`` returns."""
        self._check_held()

    def compact(self, snapshot: Snapshot, *, rewrite: bool = False) -> None:
        self._check_held()
        doc = {
            "version": FORMAT_VERSION,
            "lineage": snapshot.lineage,
            "serial": snapshot.serial,
            "resources": dict(sorted(snapshot.resources.items())),
        }
        if snapshot.last_run is not None:
            doc["last_run"] = snapshot.last_run
        blob = self._seal(json.dumps(doc, separators=(",", ":")).encode(), SNAPSHOT_CONTEXT)
        chunks = [blob[i : i + CHUNK_BYTES] for i in range(0, len(blob), CHUNK_BYTES)] or [b""]
        head = self._head()
        old_generation = (
            (head.metadata.annotations or {}).get("cozyplan.io/generation") if head else None
        )
        generation = uuid.uuid4().hex[:10]
        for i, chunk in enumerate(chunks[1:], start=1):
            self._call(
                self.core.create_namespaced_secret,
                self.namespace,
                self._secret(
                    f"{self.name}-snapshot-{generation}-{i}",
                    "chunk",
                    {"chunk": chunk},
                    labels={LABEL_GENERATION: generation},
                ),
            )
        annotations = {
            "cozyplan.io/lineage": snapshot.lineage,
            "cozyplan.io/serial": str(snapshot.serial),
            "cozyplan.io/format": str(FORMAT_VERSION),
            "cozyplan.io/generation": generation,
            "cozyplan.io/chunks": str(len(chunks)),
        }
        new_head = self._secret(
            f"{self.name}-snapshot",
            "snapshot",
            {"chunk": chunks[0]},
            annotations=annotations,
            resource_version=head.metadata.resource_version if head else None,
        )
        if head is None:
            self._call(self.core.create_namespaced_secret, self.namespace, new_head)
        else:  # the atomic step: the head names the new generation
            self._call(
                self.core.replace_namespaced_secret,
                f"{self.name}-snapshot",
                self.namespace,
                new_head,
            )
        # what the head no longer names: old chunks, and the journal folded in
        for secret in self._call(
            self.core.list_namespaced_secret, self.namespace, label_selector=self._selector("chunk")
        ).items:
            if secret.metadata.labels.get(LABEL_GENERATION) != generation:
                self._delete(secret.metadata.name)
        for secret in self._journal():
            if int(secret.metadata.annotations["cozyplan.io/serial"]) <= snapshot.serial:
                self._delete(secret.metadata.name)
        del old_generation

    def _delete(self, name: str) -> None:
        from kubernetes.client.exceptions import ApiException

        try:
            self.core.delete_namespaced_secret(name, self.namespace)
        except ApiException as exc:
            if exc.status != 404:
                raise _api_error(exc, self.describe()) from None

    def destroy(self) -> None:
        selector = f"{LABEL_STATE}={self.prefix},{LABEL_WORKSPACE}={self.workspace}"
        for secret in self._call(
            self.core.list_namespaced_secret, self.namespace, label_selector=selector
        ).items:
            self._delete(secret.metadata.name)

    def close(self) -> None:
        pass


def _expired(lease: Any) -> bool:
    renewed = lease.spec.renew_time or lease.spec.acquire_time
    if renewed is None:
        return True
    expiry: dt.datetime = renewed + dt.timedelta(seconds=lease.spec.lease_duration_seconds or 0)
    return _now() > expiry


def _lease_holder(lease: Any) -> LockInfo | None:
    raw = (lease.metadata.annotations or {}).get(ANNOTATION_LOCK)
    try:
        return LockInfo(**json.loads(raw)) if raw else None
    except (TypeError, ValueError):
        return None


def _api_error(exc: Any, where: str) -> StateError:
    reason = exc.reason or ""
    with contextlib.suppress(Exception):
        reason = json.loads(exc.body).get("message", reason)
    return StateError(f"{where}: {exc.status} {reason}")


class KubernetesLocation:
    kind = "kubernetes"

    def __init__(
        self,
        namespace: str,
        prefix: str,
        *,
        config_path: str | None = None,
        context: str | None = None,
        lease_seconds: int = 30,
        encryption: Encryption | None = None,
    ) -> None:
        self.namespace = namespace
        self.prefix = prefix
        self.config_path = config_path
        self.context = context
        self.lease_seconds = lease_seconds
        self.encryption = encryption
        self._api: Any = None

    @property
    def api(self) -> Any:
        if self._api is None:
            self._api = _client(self.config_path, self.context)
        return self._api

    def backend(self, workspace: str) -> KubernetesBackend:
        return KubernetesBackend(
            self.api,
            self.namespace,
            self.prefix,
            workspace,
            lease_seconds=self.lease_seconds,
            encryption=self.encryption,
        )

    def workspaces(self) -> list[str]:
        backend = self.backend(DEFAULT_WORKSPACE)
        items = backend._call(
            backend.core.list_namespaced_secret,
            self.namespace,
            label_selector=f"{LABEL_STATE}={self.prefix}",
        ).items
        return sorted({DEFAULT_WORKSPACE} | {s.metadata.labels[LABEL_WORKSPACE] for s in items})

    def create_workspace(self, workspace: str) -> None:
        backend = self.backend(workspace)
        if backend._head() is None:
            from cozyplan.state.model import State

            backend.compact(Snapshot(State().lineage, 0))

    def sensitive_key_file(self, workspace: str) -> None:
        return None
