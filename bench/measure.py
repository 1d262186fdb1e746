"""Run one child process and measure it: wall time, CPU time and peak RSS (from wait4)."""

from __future__ import annotations

import os
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Measurement:
    wall_s: float
    user_s: float
    sys_s: float
    peak_rss_kb: int  # the largest of the child and the descendants it waited for (Linux: KiB)
    exit_code: int
    timed_out: bool


def run_measured(
    argv: list[str], cwd: Path, env: dict[str, str], log: Path, timeout: float
) -> Measurement:
    """Run ``argv`` with stdout+stderr appended to ``log``; rusage comes from ``os.wait4``
    on this very child, so concurrent or earlier children do not blur the figure."""
    with log.open("ab") as out:
        out.write(f"$ {' '.join(argv)}\n".encode())
        out.flush()
        start = time.perf_counter()
        proc = subprocess.Popen(
            argv, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
        killed = threading.Event()

        def _kill() -> None:
            killed.set()
            proc.kill()

        timer = threading.Timer(timeout, _kill)
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)  # keep Popen from waiting again
    return Measurement(
        wall_s=wall,
        user_s=usage.ru_utime,
        sys_s=usage.ru_stime,
        peak_rss_kb=usage.ru_maxrss,
        exit_code=proc.returncode,
        timed_out=killed.is_set(),
    )
