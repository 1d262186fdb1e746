"""The ``cozyplan`` command line.

``run`` is the program: it hands the command to a running command server when there is one
(``cozyplan.server``: no start-up cost), else runs it in this process (``app.run_local``). This
module imports nothing heavy, so that asking the server costs next to nothing.
"""

from __future__ import annotations

import sys


def run(argv: list[str] | None = None) -> None:
    """Run ``cozyplan`` with ``argv`` (default: this process's command line, which a running
    server may take)."""
    args = sys.argv[1:] if argv is None else list(argv)
    if argv is None:
        from cozyplan.server.client import run_via_server

        code = run_via_server(args)
        if code is not None:
            sys.exit(code)
    from cozyplan.cli.app import run_local

    run_local(args)
