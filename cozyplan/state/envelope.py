"""Whole-state encryption at rest: every snapshot, journal record and saved plan sealed whole.

Sensitive values are already sealed one by one (``crypto``); this layer, when configured, seals
the rest too (addresses, attributes, dependencies), in every backend. The key comes from a *key
source*, written ``KIND:WHERE``:

- ``passphrase-env:NAME`` - a passphrase in environment variable NAME, stretched with Argon2id
  (memory-hard: 64 MiB, 3 passes; the salt and parameters travel in each envelope);
- ``key-env:NAME`` - a 32-byte key, base64, in environment variable NAME;
- ``key-file:PATH`` - a 32-byte key, base64, in a file (keep it mode 0600).

An envelope is one JSON object: the algorithm (AES-256-GCM), the KDF parameters, a key id (an
HMAC of the key, so a wrong key is named as such before decrypting), a nonce and the ciphertext.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cozyplan.errors import StateError

MARK = "cozyplan-encrypted"
ALG = "AES-256-GCM"
ENV_SOURCE = "COZYPLAN_STATE_ENCRYPTION"
KINDS = ("passphrase-env", "key-env", "key-file")
# Argon2id, RFC 9106's second recommendation (64 MiB); about 0.1 s here, once per run and salt
ARGON2 = {"m": 64 * 1024, "t": 3, "p": 4}


class EncryptionError(StateError):
    pass


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _unb64(text: str) -> bytes:
    return base64.b64decode(text.encode(), validate=True)


@dataclass(frozen=True)
class KeySource:
    kind: str
    where: str

    def __str__(self) -> str:
        return f"{self.kind}:{self.where}"

    @classmethod
    def parse(cls, text: str, origin: str = "the key source") -> KeySource:
        kind, sep, where = text.strip().partition(":")
        if not sep or kind not in KINDS or not where:
            raise EncryptionError(
                f"{origin}: {text!r} is not a key source; use passphrase-env:NAME, "
                "key-env:NAME or key-file:PATH"
            )
        return cls(kind, where)

    def secret(self) -> bytes:
        """The passphrase or the key, as given (never printed)."""
        if self.kind == "key-file":
            try:
                raw = Path(self.where).expanduser().read_bytes().strip()
            except OSError as exc:
                raise EncryptionError(
                    f"cannot read the state encryption key from {self}: {exc.strerror}"
                ) from None
        else:
            value = os.environ.get(self.where)
            if not value:
                raise EncryptionError(
                    f"the state encryption key source {self} names environment variable "
                    f"{self.where}, which is not set"
                )
            raw = value.encode()
        if self.kind == "passphrase-env":
            return raw
        try:
            key = base64.urlsafe_b64decode(raw.replace(b"+", b"-").replace(b"/", b"_"))
        except (binascii.Error, ValueError):
            key = b""
        if len(key) != 32:
            raise EncryptionError(
                f"the state encryption key from {self} is not 32 bytes of base64 "
                "(make one with: head -c 32 /dev/urandom | base64)"
            )
        return key


def key_id(key: bytes) -> str:
    return hmac.new(key, b"cozyplan state key id", hashlib.sha256).hexdigest()[:16]


def is_envelope(data: bytes | str) -> bool:
    head = data[:40] if isinstance(data, str) else data[:40].decode(errors="replace")
    return head.lstrip().startswith('{"' + MARK + '"')


class Encryption:
    """Seals and opens byte strings with one key source; derived keys are cached per salt."""

    def __init__(self, source: KeySource) -> None:
        self.source = source
        self._secret: bytes | None = None
        self._keys: dict[bytes, bytes] = {}
        self._salt: bytes | None = None

    def check(self) -> None:
        """Read the key (or passphrase) now: a missing one fails before anything is changed."""
        if self._secret is None:
            self._secret = self.source.secret()

    def _key(self, kdf: dict[str, Any] | None) -> bytes:
        if self._secret is None:
            self._secret = self.source.secret()
        if self.source.kind != "passphrase-env":
            if kdf is not None:
                raise EncryptionError(
                    "this data was encrypted with a passphrase, but the key source is "
                    f"{self.source}"
                )
            return self._secret
        if kdf is None:
            raise EncryptionError(
                f"this data was encrypted with a key, but the key source {self.source} "
                "is a passphrase"
            )
        salt = _unb64(kdf["salt"])
        key = self._keys.get(salt)
        if key is None:
            from cryptography.hazmat.primitives.kdf.argon2 import Argon2id

            key = Argon2id(
                salt=salt,
                length=32,
                iterations=int(kdf["t"]),
                lanes=int(kdf["p"]),
                memory_cost=int(kdf["m"]),
            ).derive(self._secret)
            self._keys[salt] = key
        return key

    def _new_kdf(self) -> dict[str, Any] | None:
        if self.source.kind != "passphrase-env":
            return None
        if self._salt is None:
            self._salt = os.urandom(16)
        return {"name": "argon2id", "salt": _b64(self._salt), **ARGON2}

    def seal(self, plaintext: bytes, context: str) -> bytes:
        """``context`` is bound to the ciphertext (AES-GCM associated data): a record cannot be
        moved to another place (a journal line into a snapshot, one state into another)."""
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        kdf = self._new_kdf()
        key = self._key(kdf)
        nonce = os.urandom(12)
        env = {
            MARK: 1,
            "alg": ALG,
            "kdf": kdf,
            "key_id": key_id(key),
            "nonce": _b64(nonce),
            "data": _b64(AESGCM(key).encrypt(nonce, plaintext, context.encode())),
        }
        return json.dumps(env, separators=(",", ":")).encode()

    def open(self, sealed: bytes | str, context: str, where: str) -> bytes:
        from cryptography.exceptions import InvalidTag
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        try:
            env = json.loads(sealed)
            kdf = env.get("kdf")
            nonce, data, stored_id = _unb64(env["nonce"]), _unb64(env["data"]), env["key_id"]
        except (ValueError, KeyError, TypeError, AttributeError):
            raise EncryptionError(f"{where}: the encrypted data is damaged") from None
        if env.get("alg") != ALG:
            raise EncryptionError(f"{where}: unknown encryption algorithm {env.get('alg')!r}")
        key = self._key(kdf)
        if kdf is not None:
            self._salt = _unb64(kdf["salt"])  # keep it: re-sealing needs no new derivation
        if key_id(key) != stored_id:
            raise EncryptionError(
                f"cannot decrypt {where}: wrong key from {self.source} (the data was encrypted "
                f"with key id {stored_id}, this key has id {key_id(key)})"
            )
        try:
            return bytes(AESGCM(key).decrypt(nonce, data, context.encode()))
        except InvalidTag:
            raise EncryptionError(
                f"cannot decrypt {where} with the key from {self.source}: the data was altered "
                "or belongs elsewhere"
            ) from None


def configured(explicit: str | None, origin: str) -> Encryption | None:
    """The encryption to use: ``explicit`` (from --backend-config or the spec), else
    ``$COZYPLAN_STATE_ENCRYPTION``; ``none`` turns it off."""
    text = explicit if explicit is not None else os.environ.get(ENV_SOURCE)
    if explicit is None and text is not None:
        origin = f"${ENV_SOURCE}"
    if not text or text.strip() == "none":
        return None
    return Encryption(KeySource.parse(text, origin))


def open_maybe(
    data: bytes, enc: Encryption | None, context: str, where: str, config_hint: str = ""
) -> bytes:
    """Open ``data`` when it is an envelope (a key must be configured), else return it as is."""
    if not is_envelope(data):
        return data
    if enc is None:
        hint = config_hint or (
            f"set {ENV_SOURCE} (passphrase-env:NAME, key-env:NAME or key-file:PATH) "
            "or the backend's encryption setting"
        )
        raise EncryptionError(f"{where} is encrypted and no key was given: {hint}")
    return enc.open(data, context, where)
