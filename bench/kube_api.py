"""Benchmark: CPU the lab's Kubernetes API server spends per request (GET, LIST, apply).

    python bench/kube_api.py --lab-dir LAB [--baseline REV] [-n 300] [--rounds 3]
        [--plan SPEC --state STATE]

``LAB`` is a lab directory whose world holds a CozyStack cluster (``cozyplan apply --lab
--lab-dir LAB -f specs/cozystack.yaml``). A copy of it runs as a background lab (``cozyplan lab
up``, time scale 1.0, so the lab's own controllers stay idle) once with this checkout and, with
``--baseline REV``, once with the code of that git revision (``git archive``), round after round.
The client is the ``kubernetes`` package's connection pool sending raw JSON, as the provider
does. Server CPU is the lab process's time on a CPU (``/proc/PID/task/*/schedstat``) over the
requests, less what it spent idle over as long. With ``--plan``, also the lab's CPU over a whole
no-op ``cozyplan plan --lab`` of SPEC (STATE: the state apply wrote; the plan must be empty).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import urllib3
from kubernetes import config

from cozyplan.lab.talos.pki import kubeconfig

REPO = Path(__file__).resolve().parent.parent
HELM = "/apis/helm.toolkit.fluxcd.io/v2"


def cpu_seconds(pid: int) -> float:
    """CPU time of every thread of ``pid``, in nanoseconds' precision (``schedstat``)."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):  # a thread that ended
            total += int((task / "schedstat").read_text().split()[0])
    return total / 1e9


class Lab:
    """One background lab on a copy of the world, running the code under ``root``."""

    def __init__(self, root: Path, world: Path, work: Path) -> None:
        self.root = root
        self.dir = work / "LAB"
        shutil.copytree(world, self.dir, ignore=shutil.ignore_patterns("lab.lock", "*.sock"))
        self.env = {**os.environ, "PYTHONPATH": str(root)}
        out = self._cozyplan("lab", "up", "--lab-dir", str(self.dir), "--time-scale", "1")
        started = re.search(r"pid (\d+)", out)
        assert started is not None, out
        self.pid = int(started.group(1))
        status = self._cozyplan("lab", "status", "--lab-dir", str(self.dir))
        served = re.search(r"kubernetes \S+ -> (\S+):(\d+)", status)
        assert served is not None, status
        host, port = served.group(1), int(served.group(2))
        world_doc = json.loads((self.dir / "world.json").read_text())
        record = next(iter(world_doc["kubernetes"]["clusters"].values()))
        text = kubeconfig(
            "bench", record["endpoint"], record["ca_crt"].encode(), record["ca_key"].encode()
        )
        text = text.replace(f"server: {record['endpoint']}", f"server: https://{host}:{port}")
        path = work / "kubeconfig"
        path.write_text(text)
        api = config.new_client_from_config(str(path))
        self.api = api
        self.pool = api.rest_client.pool_manager
        self.base = api.configuration.host

    def _cozyplan(self, *args: str) -> str:
        proc = subprocess.run(
            [sys.executable, "-m", "cozyplan", *args],
            env=self.env,
            cwd=self.root,
            capture_output=True,
            text=True,
            check=True,
        )
        return proc.stdout

    def request(self, method: str, path: str, body: Any = None, ctype: str = "") -> Any:
        headers = {"Accept": "application/json"}
        data = None
        if body is not None:
            headers["Content-Type"] = ctype or "application/json"
            data = json.dumps(body).encode()
        resp = self.pool.request(method, self.base + path, body=data, headers=headers)
        if resp.status >= 300:
            raise RuntimeError(f"{method} {path}: {resp.status} {resp.data[:300]!r}")
        return json.loads(resp.data)

    def idle_rate(self, seconds: float = 1.5) -> float:
        start, t0 = cpu_seconds(self.pid), time.perf_counter()
        time.sleep(seconds)
        return (cpu_seconds(self.pid) - start) / (time.perf_counter() - t0)

    def measure(self, fn: Callable[[], Any], n: int) -> tuple[float, float]:
        """(server CPU ms per request, requests per second as the client saw them)."""
        fn()  # warm
        idle = self.idle_rate()
        start, t0 = cpu_seconds(self.pid), time.perf_counter()
        for _ in range(n):
            fn()
        wall = time.perf_counter() - t0
        cpu = cpu_seconds(self.pid) - start - idle * wall
        return 1000 * cpu / n, n / wall

    def stop(self) -> None:
        self.api.close()
        self._cozyplan("lab", "down", "--lab-dir", str(self.dir))


def operations(lab: Lab) -> dict[str, Callable[[], Any]]:
    items = lab.request("GET", f"{HELM}/helmreleases")["items"]
    hr = next(i for i in items if i["metadata"]["namespace"] == "cozy-system")
    ns, name = hr["metadata"]["namespace"], hr["metadata"]["name"]
    one = f"{HELM}/namespaces/{ns}/helmreleases/{name}"
    applied = {
        "apiVersion": hr["apiVersion"],
        "kind": hr["kind"],
        "metadata": {"name": name, "namespace": ns},
        "spec": hr["spec"],
    }
    ssa = f"{one}?fieldManager=bench&force=true"
    return {
        "GET namespace": lambda: lab.request("GET", f"/api/v1/namespaces/{ns}"),
        "GET helmrelease": lambda: lab.request("GET", one),
        f"LIST {len(items)} helmreleases": lambda: lab.request("GET", f"{HELM}/helmreleases"),
        "apply helmrelease (no-op)": lambda: lab.request(
            "PATCH", ssa, applied, "application/apply-patch+yaml"
        ),
    }


def plan(lab: Lab, spec: Path, state: Path, work: Path) -> Callable[[], Any]:
    """A no-op plan against the lab (run by this checkout's cozyplan)."""
    copy = work / "state"
    shutil.copy(state, copy)
    key = state.with_name(state.name + ".key")
    if key.exists():
        shutil.copy(key, copy.with_name(copy.name + ".key"))
    command = [sys.executable, "-m", "cozyplan", "plan", "--lab", "--lab-dir", str(lab.dir)]
    command += ["--time-scale", "1", "-f", str(spec), "--state", str(copy), "--detailed-exitcode"]
    return lambda: subprocess.run(command, cwd=spec.parent, capture_output=True, check=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--lab-dir", type=Path, required=True)
    p.add_argument("--baseline", metavar="REV", help="also measure this git revision")
    p.add_argument("-n", type=int, default=300, help="requests per operation")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--plan", type=Path, metavar="SPEC", help="also measure a no-op plan of SPEC")
    p.add_argument("--state", type=Path, help="the state of --plan's SPEC")
    args = p.parse_args()
    urllib3.disable_warnings()
    with tempfile.TemporaryDirectory() as tmp:
        roots = {"this checkout": REPO}
        if args.baseline:
            base = Path(tmp) / "baseline"
            base.mkdir()
            archive = subprocess.run(
                ["git", "archive", args.baseline], cwd=REPO, capture_output=True, check=True
            )
            subprocess.run(["tar", "-x", "-C", str(base)], input=archive.stdout, check=True)
            roots = {f"baseline {args.baseline}": base, **roots}
        results: dict[tuple[str, str], list[tuple[float, float]]] = {}
        for r in range(args.rounds):
            for label, root in roots.items():
                work = Path(tmp) / f"{r}-{len(results)}-{label.split()[0]}"
                work.mkdir()
                lab = Lab(root, args.lab_dir, work)
                try:
                    for op, fn in operations(lab).items():
                        results.setdefault((op, label), []).append(lab.measure(fn, args.n))
                    if args.plan:
                        fn = plan(lab, args.plan.resolve(), args.state.resolve(), work)
                        results.setdefault(("no-op plan", label), []).append(lab.measure(fn, 3))
                finally:
                    lab.stop()
    print(f"{'operation':32} {'code':28} {'CPU ms/request':>15} {'requests/s':>11}")
    for (op, label), got in results.items():
        cpu = sorted(c for c, _ in got)[len(got) // 2]
        rps = sorted(r for _, r in got)[len(got) // 2]
        print(f"{op:32} {label:28} {cpu:15.2f} {rps:11.1f}")
    print(f"(median of {args.rounds} rounds of {args.n} requests each)")


if __name__ == "__main__":
    main()
