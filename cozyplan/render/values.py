"""Masking and formatting of attribute values for output."""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from typing import Any

from cozyplan.values import UNKNOWN

SENSITIVE_TEXT = "(sensitive value)"
UNKNOWN_TEXT = "(known after apply)"


def is_sensitive(path: Sequence[str | int], sensitive_paths: Iterable[Sequence[str | int]]) -> bool:
    p = tuple(path)
    for sp in sensitive_paths:
        s = tuple(sp)
        if p[: len(s)] == s:
            return True
    return False


def mask(
    value: Any, path: tuple[str | int, ...], sensitive_paths: Sequence[Sequence[str | int]]
) -> Any:
    """A copy of ``value`` with sensitive parts replaced by the marker text."""
    if is_sensitive(path, sensitive_paths):
        return SENSITIVE_TEXT if value is not None else None
    if isinstance(value, dict):
        return {k: mask(v, (*path, k), sensitive_paths) for k, v in value.items()}
    if isinstance(value, list):
        return [mask(v, (*path, i), sensitive_paths) for i, v in enumerate(value)]
    return value


_PEM = re.compile(r"-----BEGIN ([A-Z0-9 ]+)-----\s*(.*?)\s*-----END \1-----", re.DOTALL)


def pem_summary(text: str) -> str | None:
    """``(PEM CERTIFICATE sha256:1a2b3c4d5e6f7a8b)`` for a PEM document, else None.

    The fingerprint is the SHA-256 of the DER bytes, as ``openssl x509 -fingerprint -sha256``
    shows it (first 16 hex digits): enough to tell two certificates apart in a plan.
    """
    if "-----BEGIN " not in text:
        return None
    blocks = _PEM.findall(text)
    if not blocks:
        return None
    digest = hashlib.sha256()
    for _kind, body in blocks:
        try:
            digest.update(base64.b64decode("".join(body.split()), validate=True))
        except (ValueError, binascii.Error):
            digest.update(body.encode())
    kind = blocks[0][0] + (f" +{len(blocks) - 1} more" if len(blocks) > 1 else "")
    return f"(PEM {kind} sha256:{digest.hexdigest()[:16]})"


def summarise_pem(value: Any) -> Any:
    """``value`` with every PEM string replaced by its summary (for human output)."""
    if isinstance(value, str):
        return pem_summary(value) or value
    if isinstance(value, dict):
        return {k: summarise_pem(v) for k, v in value.items()}
    if isinstance(value, list):
        return [summarise_pem(v) for v in value]
    return value


def fmt(value: Any) -> str:
    if value is UNKNOWN:
        return UNKNOWN_TEXT
    if value == SENSITIVE_TEXT:
        return SENSITIVE_TEXT
    if isinstance(value, str):
        return json.dumps(value)
    try:
        return json.dumps(value, sort_keys=True, default=_default)
    except (TypeError, ValueError):
        return repr(value)


def _default(value: Any) -> Any:
    if value is UNKNOWN:
        return UNKNOWN_TEXT
    raise TypeError(type(value).__name__)


#: every sensitive value this process has seen (variables marked sensitive), as text
KNOWN_SECRETS: set[str] = set()


def remember_secret(value: Any) -> None:
    """Register a sensitive value (and each string inside it) for scrubbing."""
    if isinstance(value, dict):
        for v in value.values():
            remember_secret(v)
    elif isinstance(value, list | tuple):
        for v in value:
            remember_secret(v)
    elif value is not None and not isinstance(value, bool):
        text = str(value)
        if len(text) >= 4:
            KNOWN_SECRETS.add(text)


@functools.lru_cache(maxsize=4096)
def renderings(secret: str) -> frozenset[str]:
    """Every way a message may spell ``secret``: raw, inside a Python repr (either quote),
    JSON-escaped (ASCII or not), and JSON-escaped twice (a JSON body quoted in a JSON error)."""
    once = json.dumps(secret)[1:-1]
    forms = {
        secret,
        repr(secret)[1:-1],
        repr(secret + "'")[1:-2],  # the double-quoted repr style, as chosen for "it's"
        repr(secret + '"')[1:-2],
        once,
        json.dumps(secret, ensure_ascii=False)[1:-1],
        json.dumps(once)[1:-1],
    }
    return frozenset(f for f in forms if len(f) >= 4)


def scrub(text: str, secrets: Iterable[str] = ()) -> str:
    """Remove known secret values, in any of their renderings, from free text such as
    provider error messages and validation messages."""
    forms: set[str] = set()
    for secret in {*secrets, *KNOWN_SECRETS}:
        if secret and len(secret) >= 4:
            forms |= renderings(secret)
    for form in sorted(forms, key=len, reverse=True):
        text = text.replace(form, SENSITIVE_TEXT)
    return text
