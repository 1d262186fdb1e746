"""The command server: a warm process that runs cozyplan commands without their start-up cost.

A cold ``cozyplan plan`` spends most of its CPU importing (pydantic, networkx and every
provider's client library: kubernetes, asyncssh, grpclib, requests) before it reads anything.
``cozyplan server start`` starts one process per user and Python environment that has imported
all of that once (and the lab's simulators, and CozyStack's upstream data). Each command then
connects to it over a Unix socket (``client``), hands over its stdin, stdout and stderr
(``SCM_RIGHTS``), its arguments, environment, working directory and umask, and the server
forks a process that runs the command exactly as the command line would have (``child``): it
writes straight to the terminal, reads prompts from it, and exits with the command's code. A
forked ``--lab`` command forks its lab too, instead of starting an interpreter for it.

Nothing changes without the server, and the client falls back to running the command itself
whenever the server cannot take it (none running, ``COZYPLAN_SERVER=off``, another Python, or
code changed since the server started: the server then exits, see ``fingerprint``). Module
overview:

- ``wire``: the messages (length-prefixed JSON, file descriptors passed with the request);
- ``client``: the ``cozyplan`` side, standard library only, so that it costs nothing;
- ``daemon``: the server's loop (accept, fork, forward signals, report exit statuses);
- ``child``: turning a forked copy of the server into the command's process;
- ``warm``: what the server imports and reads ahead;
- ``fingerprint``: the code the server runs, to refuse commands once it changed;
- ``spawn``: a Popen-like child that is forked from a warm process instead of exec'd.
"""

from __future__ import annotations

import os
import sys
import zlib

#: ``off`` (or ``0``/``no``/``false``): never use a server, not even a running one;
#: ``on``: use a running server, never start one; ``auto``: start one in the background when
#: none runs (this command runs on its own). Unset: as ``on``, except that a ``--lab`` command
#: typed at a terminal starts one (a rehearsal is a loop of edits and plans; scripts and CI,
#: with no terminal or with ``CI`` set, never get one they did not ask for).
ENV_SWITCH = "COZYPLAN_SERVER"
#: the directory of the socket (default: ``$XDG_RUNTIME_DIR/cozyplan`` or a per-user temp dir)
ENV_DIR = "COZYPLAN_SERVER_DIR"
OFF = frozenset({"0", "off", "no", "false"})
ON = frozenset({"1", "on", "yes", "true"})


def mode() -> str:
    """``off``, ``on``, ``auto`` or ``default`` (unset): ``$COZYPLAN_SERVER``."""
    value = os.environ.get(ENV_SWITCH, "").strip().lower()
    if value in OFF:
        return "off"
    if value in ON:
        return "on"
    return "auto" if value == "auto" else "default"


# Paths are strings here: the client imports this module on every command, and pathlib,
# tempfile or hashlib would cost it more (~10 ms) than talking to the server does.


def server_dir() -> str:
    explicit = os.environ.get(ENV_DIR)
    if explicit:
        return explicit
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and os.path.isdir(runtime):
        return os.path.join(runtime, "cozyplan")
    return os.path.join(os.environ.get("TMPDIR") or "/tmp", f"cozyplan-{os.getuid()}")


def interpreter() -> str:
    """This process's interpreter, whichever link started it (``python``, ``python3.11``, a
    console script's shebang): a virtualenv stays apart by its ``sys.prefix``."""
    return os.path.realpath(sys.executable)


def package_dir() -> str:
    """Where this process's cozyplan comes from: ``python -m cozyplan`` in a checkout imports
    the checkout's, whatever is installed, and the server must then not run the command."""
    import cozyplan

    return os.path.dirname(os.path.realpath(cozyplan.__file__))


def socket_path() -> str:
    """The socket of this Python environment's server: one per interpreter and prefix, so a
    virtualenv never reaches a server that imported another environment's packages (and the
    server checks the client's interpreter and ``sys.path`` besides)."""
    tag = zlib.crc32(f"{interpreter()}\0{sys.prefix}".encode())
    return os.path.join(server_dir(), f"server-{tag:08x}.sock")
