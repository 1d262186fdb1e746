"""A per-user cache of parsed data files that ship with cozyplan (upstream's YAML).

Every command, and its lab, parses the same CozyStack and capmox files copied from upstream
(app definitions, CRDs, chart values): ~10 ms of libyaml per process for each of the two. The
parsed value is kept in ``$COZYPLAN_CACHE_DIR`` (else ``$XDG_CACHE_HOME/cozyplan``, else
``~/.cache/cozyplan``) in ``marshal`` form, which loads ~30x faster and gives back exactly the
same types (``int`` keys, ``bool``, ``bytes``, ``set``; a value it cannot hold, such as the
``datetime`` of a YAML timestamp, is simply not cached).

An entry names the file (absolute path), its size and mtime (a changed file is parsed again and
its entry replaced) and this format's version, and carries a digest of its payload: a damaged
or foreign entry is ignored, never trusted. Entries are written atomically (a temp file
renamed); a cache directory that cannot be written (a read-only home) only means parsing every
time. ``COZYPLAN_CACHE_DIR=""`` turns the cache off.
"""

from __future__ import annotations

import contextlib
import hashlib
import marshal
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["cache_dir", "cached_parse"]

#: bump when what an entry holds changes meaning
FORMAT = 1
_MAGIC = b"cozyplan-datacache\n"
_DIGEST = 16


def cache_dir() -> Path | None:
    """Where entries live, or None when the cache is off."""
    explicit = os.environ.get("COZYPLAN_CACHE_DIR")
    if explicit is not None:
        return Path(explicit) if explicit else None
    base = os.environ.get("XDG_CACHE_HOME")
    if not base:
        try:
            base = str(Path.home() / ".cache")
        except RuntimeError:  # no home directory to be found: no cache
            return None
    return Path(base) / "cozyplan"


def _digest(payload: bytes) -> bytes:
    return hashlib.blake2b(payload, digest_size=_DIGEST).digest()


def cached_parse(path: Path, kind: str, parse: Callable[[Path], Any]) -> Any:
    """``parse(path)``, from the cache when the file is the one an entry was made from.

    ``kind`` names what ``parse`` makes of a file (e.g. ``yaml-all``): two parsers of one file
    keep two entries. The value returned may be shared by nobody else: mutate it freely.
    """
    directory = cache_dir()
    if directory is None:
        return parse(path)
    source = path.absolute()
    st = os.stat(source)  # before reading: a file changed meanwhile then misses next time
    key = (FORMAT, sys.version, str(source), kind, st.st_size, st.st_mtime_ns)
    name = hashlib.sha256(repr(key[:4]).encode()).hexdigest()[:32]
    entry = directory / name
    found = _read(entry, key)
    if found is not None:
        return found[0]
    value = parse(path)
    with contextlib.suppress(ValueError):  # a value marshal cannot hold: not cached
        _write(directory, entry, marshal.dumps((key, value)))
    return value


def _read(entry: Path, key: tuple[Any, ...]) -> tuple[Any] | None:
    """``(value,)`` from ``entry`` if it is whole and made for ``key``, else None."""
    try:
        raw = entry.read_bytes()
    except OSError:
        return None
    head = len(_MAGIC) + _DIGEST
    if not raw.startswith(_MAGIC) or len(raw) < head:
        return None
    payload = raw[head:]
    if _digest(payload) != raw[len(_MAGIC) : head]:
        return None
    try:
        stored_key, value = marshal.loads(payload)
    except (EOFError, ValueError, TypeError):
        return None
    return (value,) if stored_key == key else None


def _write(directory: Path, entry: Path, payload: bytes) -> None:
    tmp = entry.with_name(f".{entry.name}.{os.getpid()}.tmp")
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(_MAGIC + _digest(payload) + payload)
        os.replace(tmp, entry)
    except OSError:  # not writable (a read-only home, a full disk): parse next time too
        with contextlib.suppress(OSError):
            tmp.unlink()
