"""Request bodies in Kubernetes' protobuf encoding (``application/vnd.kubernetes.protobuf``),
which kubectl's typed commands send (``kubectl create namespace|configmap|secret``).

The envelope is ``k8s\\x00`` + ``runtime.Unknown`` {typeMeta, raw}; ``raw`` is the object in the
field numbering of k8s.io/api's ``generated.proto``. Only the kinds listed in ``_KINDS`` are
understood; anything else is answered 415 like a server without that serializer would.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

MAGIC = b"k8s\x00"
Obj = dict[str, Any]


class Unsupported(ValueError):
    pass


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    shift = result = 0
    while True:
        if pos >= len(data):
            raise Unsupported("truncated varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def _fields(data: bytes) -> Iterator[tuple[int, int, Any]]:
    """(field number, wire type, value) of a message: varints as int, the rest as bytes."""
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        value: int | bytes
        if wire == 0:
            value, pos = _varint(data, pos)
        elif wire == 2:
            size, pos = _varint(data, pos)
            value, pos = data[pos : pos + size], pos + size
        elif wire == 1:
            value, pos = data[pos : pos + 8], pos + 8
        elif wire == 5:
            value, pos = data[pos : pos + 4], pos + 4
        else:
            raise Unsupported(f"wire type {wire}")
        yield number, wire, value


def _map_entry(data: bytes) -> tuple[str, bytes]:
    key, value = "", b""
    for number, _, raw in _fields(data):
        if number == 1:
            key = raw.decode()
        elif number == 2:
            value = raw
    return key, value


def _meta(data: bytes) -> Obj:
    out: Obj = {}
    strings = {1: "name", 2: "generateName", 3: "namespace", 5: "uid", 6: "resourceVersion"}
    for number, _, raw in _fields(data):
        if number in strings:
            out[strings[number]] = raw.decode()
        elif number in (11, 12):
            key, value = _map_entry(raw)
            out.setdefault("labels" if number == 11 else "annotations", {})[key] = value.decode()
        elif number == 14:
            out.setdefault("finalizers", []).append(raw.decode())
    return out


def _configmap(data: bytes) -> Obj:
    out: Obj = {}
    for number, _, raw in _fields(data):
        if number == 1:
            out["metadata"] = _meta(raw)
        elif number == 2:
            key, value = _map_entry(raw)
            out.setdefault("data", {})[key] = value.decode()
        elif number == 3:
            key, value = _map_entry(raw)
            out.setdefault("binaryData", {})[key] = base64.b64encode(value).decode()
        elif number == 4:
            out["immutable"] = bool(raw)
    return out


def _secret(data: bytes) -> Obj:
    out: Obj = {}
    for number, _, raw in _fields(data):
        if number == 1:
            out["metadata"] = _meta(raw)
        elif number == 2:
            key, value = _map_entry(raw)
            out.setdefault("data", {})[key] = base64.b64encode(value).decode()
        elif number == 3:
            out["type"] = raw.decode()
        elif number == 4:
            key, value = _map_entry(raw)
            out.setdefault("stringData", {})[key] = value.decode()
        elif number == 5:
            out["immutable"] = bool(raw)
    return out


def _namespace(data: bytes) -> Obj:
    out: Obj = {}
    for number, _, raw in _fields(data):
        if number == 1:
            out["metadata"] = _meta(raw)
        elif number == 2:
            finalizers = [v.decode() for n, _, v in _fields(raw) if n == 1]
            if finalizers:
                out["spec"] = {"finalizers": finalizers}
    return out


_KINDS = {
    ("v1", "ConfigMap"): _configmap,
    ("v1", "Secret"): _secret,
    ("v1", "Namespace"): _namespace,
}


def decode(body: bytes) -> Obj:
    if not body.startswith(MAGIC):
        raise Unsupported("no protobuf envelope")
    api_version = kind = ""
    raw = b""
    for number, _, value in _fields(body[len(MAGIC) :]):
        if number == 1:
            for n, _, v in _fields(value):
                if n == 1:
                    api_version = v.decode()
                elif n == 2:
                    kind = v.decode()
        elif number == 2:
            raw = value
    parse = _KINDS.get((api_version, kind))
    if parse is None:
        raise Unsupported(f"{api_version}/{kind}")
    return {"apiVersion": api_version, "kind": kind, **parse(raw)}
