"""Encryption of sensitive values at rest in the state file.

Terraform keeps secrets in state in clear text; cozyplan encrypts every value at a sensitive path
with Fernet (AES-128-CBC + HMAC). The key comes from ``COZYPLAN_STATE_KEY`` or from a key file
beside the state (mode 0600), so the state file itself can be backed up or shared without secrets.
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Any

from cozyplan.errors import StateError

MARK = "$cozyplan-encrypted"


class StateCipher:
    """Seals and opens values. The key is loaded on first use only, so a state whose sensitive
    fields are all empty needs no key. A key file is created only to seal a value: opening a
    value when the key file is gone is an error (a new key could never open it)."""

    def __init__(
        self,
        key: bytes | None = None,
        key_file: Path | None = None,
        *,
        missing_hint: str | None = None,
    ) -> None:
        self._key = key
        self._key_file = key_file
        self._missing_hint = missing_hint
        self._fernet: Any = None
        # a value sealed once keeps its token (Fernet tokens are random): re-encoding an
        # unchanged resource gives the same bytes, so snapshots stay diffable and a shared
        # backend rewrites only the rows that changed
        self._tokens: dict[str, str] = {}

    @classmethod
    def for_state(cls, state_path: Path) -> StateCipher:
        env = os.environ.get("COZYPLAN_STATE_KEY")
        if env:
            return cls(key=env.encode())
        return cls(key_file=state_path.with_name(state_path.name + ".key"))

    def _cipher(self, *, create: bool) -> Any:
        if self._fernet is None:
            from cryptography.fernet import Fernet  # only runs that hold secrets pay for it

            if self._key is None and self._key_file is None:
                raise StateError(
                    self._missing_hint
                    or "a sensitive value must be encrypted but no state key is configured"
                )
            key = self._key if self._key is not None else self._load_or_create(create)
            try:
                self._fernet = Fernet(key)
            except ValueError:
                where = self._key_file or "COZYPLAN_STATE_KEY"
                raise StateError(
                    f"the state key in {where} is not a valid key (32 url-safe base64 bytes)"
                ) from None
        return self._fernet

    def _load_or_create(self, create: bool) -> bytes:
        assert self._key_file is not None
        key_file = self._key_file
        if not key_file.exists() and not create:
            raise StateError(
                f"the state holds encrypted values but its key file {key_file} is missing. "
                f"Restore that file from a backup (or set COZYPLAN_STATE_KEY to the key); "
                f"without the key the encrypted values are lost: then remove the resources "
                f"that hold them ('cozyplan state rm ADDR') and bring them back with "
                f"'cozyplan import ADDR ID'."
            )
        if not key_file.exists():
            from cryptography.fernet import Fernet

            # written whole to a temp file, then linked into place: a crash never leaves a
            # half-written key, and two runs racing agree on one key
            key_file.parent.mkdir(parents=True, exist_ok=True)
            tmp = key_file.with_name(f".{key_file.name}.{os.getpid()}.tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(Fernet.generate_key())
                fh.flush()
                os.fsync(fh.fileno())
            try:
                os.link(tmp, key_file)
            except FileExistsError:
                pass
            finally:
                os.unlink(tmp)
        return key_file.read_bytes().strip()

    def seal(self, value: Any) -> dict[str, str]:
        plain = json.dumps(value, sort_keys=True)
        sealed = self._tokens.get(plain)
        if sealed is None:
            token = self._cipher(create=True).encrypt(plain.encode())
            sealed = self._tokens[plain] = base64.urlsafe_b64encode(token).decode()
        return {MARK: sealed}

    def open(self, sealed: dict[str, str]) -> Any:
        from cryptography.fernet import InvalidToken

        raw = sealed[MARK]
        if not isinstance(raw, str):
            raise StateError(
                f"an encrypted value in the state is damaged: {MARK} must be a token string"
            )
        try:
            token = base64.urlsafe_b64decode(raw)
            value = json.loads(self._cipher(create=False).decrypt(token))
            self._tokens.setdefault(json.dumps(value, sort_keys=True), raw)
            return value
        except (InvalidToken, ValueError) as exc:
            where = self._key_file or "COZYPLAN_STATE_KEY"
            raise StateError(
                f"cannot decrypt a sensitive value in the state: wrong key (from {where}), "
                "or a damaged value"
            ) from exc


def is_sealed(value: Any) -> bool:
    return isinstance(value, dict) and len(value) == 1 and MARK in value


def _map_at(data: Any, path: list[str | int], fn: Any) -> Any:
    if not path:
        return fn(data)
    head, rest = path[0], path[1:]
    if isinstance(data, dict) and head in data:
        copy = dict(data)
        copy[head] = _map_at(data[head], rest, fn)
        return copy
    if isinstance(data, list) and isinstance(head, int) and 0 <= head < len(data):
        copy_l = list(data)
        copy_l[head] = _map_at(data[head], rest, fn)
        return copy_l
    return data


def _map_paths(
    attrs: dict[str, Any] | None, paths: list[list[str | int]], fn: Any
) -> dict[str, Any] | None:
    if attrs is None:
        return None
    out: Any = attrs
    for path in paths:
        out = _map_at(out, path, fn)
    result: dict[str, Any] = out
    return result


def seal_paths(
    attrs: dict[str, Any] | None, paths: list[list[str | int]], cipher: StateCipher
) -> dict[str, Any] | None:
    return _map_paths(attrs, paths, lambda v: v if v is None or is_sealed(v) else cipher.seal(v))


def open_paths(
    attrs: dict[str, Any] | None, paths: list[list[str | int]], cipher: StateCipher
) -> dict[str, Any] | None:
    return _map_paths(attrs, paths, lambda v: cipher.open(v) if is_sealed(v) else v)
