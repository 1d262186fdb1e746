"""Messages between the ``cozyplan`` client and the command server, on a Unix stream socket.

A message is a 4-byte big-endian length and that many bytes of JSON (an object). The request
also carries file descriptors (the command's stdin, stdout and stderr) in the same
``sendmsg`` as its first bytes. Both ends check that the other runs as the same user
(``SO_PEERCRED``): the request holds the command's whole environment, secrets included.
"""

from __future__ import annotations

import json
import os
import socket
import struct
from typing import Any

MAX_MESSAGE = 8 << 20  # an environment of a few MB is already absurd
_LEN = struct.Struct(">I")


class WireError(Exception):
    """The peer broke the protocol or went away mid-message."""


def send(sock: socket.socket, message: dict[str, Any], fds: list[int] | None = None) -> None:
    data = json.dumps(message, separators=(",", ":")).encode()
    frame = _LEN.pack(len(data)) + data
    if fds:
        sent = socket.send_fds(sock, [frame], fds)
        frame = frame[sent:]
    if frame:
        sock.sendall(frame)


def recv(sock: socket.socket, max_fds: int = 0) -> tuple[dict[str, Any], list[int]] | None:
    """The next message and the descriptors that came with it; None at a clean end of stream."""
    fds: list[int] = []
    head = b""
    while len(head) < _LEN.size:
        if max_fds and not fds:
            chunk, got, _flags, _addr = socket.recv_fds(sock, _LEN.size - len(head), max_fds)
            fds.extend(got)
        else:
            chunk = sock.recv(_LEN.size - len(head))
        if not chunk:
            _close_all(fds)
            if head:
                raise WireError("the peer closed the connection mid-message")
            return None
        head += chunk
    (size,) = _LEN.unpack(head)
    if size > MAX_MESSAGE:
        _close_all(fds)
        raise WireError(f"a message of {size} bytes is over the limit")
    body = bytearray()
    while len(body) < size:
        chunk = sock.recv(min(size - len(body), 1 << 16))
        if not chunk:
            _close_all(fds)
            raise WireError("the peer closed the connection mid-message")
        body += chunk
    try:
        message = json.loads(body)
    except ValueError as exc:
        _close_all(fds)
        raise WireError(f"a message is not JSON: {exc}") from None
    if not isinstance(message, dict):
        _close_all(fds)
        raise WireError("a message is not a JSON object")
    return message, fds


def peer_uid(sock: socket.socket) -> int:
    """The user id of the process at the other end (Linux ``SO_PEERCRED``)."""
    creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", creds)
    return int(uid)


def _close_all(fds: list[int]) -> None:
    for fd in fds:
        os.close(fd)
