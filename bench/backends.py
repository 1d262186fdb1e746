"""State backends side by side: cozyplan on local files, cozyplan on PostgreSQL, and Terraform
on its ``pg`` backend, on the same server (chain: apply, then a no-op plan); with
``--kubernetes``, cozyplan on the lab's Kubernetes API too (Secrets and a Lease).

    python -m bench.backends [--sizes 1000] [--repeat 3] [--skip-terraform] [--kubernetes]

The server is ``COZYPLAN_TEST_PG`` (an admin connection string) or a throwaway cluster started
from Debian's server binaries; every (case, tool) gets a database of its own.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from bench.cases import DEFAULT_PARALLELISM, Case
from bench.pgserver import admin_conninfo, create_database
from bench.runner import Options, StepResult, run_case
from bench.shapes import Shape
from bench.tools import Cozyplan, Terraform, Tool

TF_BACKEND = 'terraform {\n  backend "pg" {}\n}\n'


@dataclass
class CozyplanPostgres(Cozyplan):
    admin: str = ""
    name: str = "cozyplan-postgres"
    conninfo: dict[Path, str] = field(default_factory=dict)

    def prepare(self, workdir: Path, shape: Shape, n: int, sleep: float) -> None:
        super().prepare(workdir, shape, n, sleep)
        self.conninfo[workdir] = create_database(self.admin)

    def env(self, workdir: Path) -> dict[str, str]:
        return {
            **super().env(workdir),
            "COZYPLAN_BACKEND": "postgres",
            "COZYPLAN_PG_CONN_STR": self.conninfo[workdir],
        }


@dataclass
class TerraformPg(Terraform):
    admin: str = ""
    name: str = "terraform-pg"
    url: dict[Path, str] = field(default_factory=dict)

    def prepare(self, workdir: Path, shape: Shape, n: int, sleep: float) -> None:
        super().prepare(workdir, shape, n, sleep)
        main = workdir / "main.tf"
        main.write_text(TF_BACKEND + main.read_text())
        self.url[workdir] = _url(create_database(self.admin))

    def env(self, workdir: Path) -> dict[str, str]:
        return {**super().env(workdir), "PG_CONN_STR": self.url[workdir]}


@dataclass
class CozyplanKubernetes(Cozyplan):
    kubeconfig: str = ""
    name: str = "cozyplan-kubernetes"
    prefixes: dict[Path, str] = field(default_factory=dict)

    def prepare(self, workdir: Path, shape: Shape, n: int, sleep: float) -> None:
        super().prepare(workdir, shape, n, sleep)
        self.prefixes[workdir] = f"bench-{len(self.prefixes)}"

    def command(self, step: str, workdir: Path, parallelism: int) -> list[str]:
        prefix = self.prefixes[workdir]
        return [*super().command(step, workdir, parallelism), "--backend-config",
                f"secret_prefix={prefix}"]  # fmt: skip

    def env(self, workdir: Path) -> dict[str, str]:
        return {**super().env(workdir), "COZYPLAN_BACKEND": "kubernetes",
                "KUBECONFIG": self.kubeconfig}  # fmt: skip


@contextlib.contextmanager
def lab_kubeconfig() -> Iterator[str]:
    """The lab's Kubernetes API server (in this process), a ``cozyplan`` namespace."""
    from kubernetes import client, config

    import cozyplan.lab.runtime as runtime
    from cozyplan.lab.kube import KubeSimulator
    from cozyplan.lab.kube.testing import start_cluster

    root = Path(tempfile.mkdtemp(prefix="cozyplan-bench-kube-"))
    runtime.simulator_classes = lambda: [KubeSimulator]  # type: ignore[assignment]
    try:
        with runtime.InProcessLab(root / "lab", time_scale=0.01) as lab:
            path = root / "kubeconfig"
            path.write_text(start_cluster(lab).loopback_kubeconfig)
            api = config.new_client_from_config(str(path))  # type: ignore[no-untyped-call]
            client.CoreV1Api(api).create_namespace(
                client.V1Namespace(metadata=client.V1ObjectMeta(name="cozyplan"))
            )
            yield str(path)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _url(conninfo: str) -> str:
    """Terraform's pg backend (lib/pq) over loopback TCP."""
    import psycopg

    info = psycopg.conninfo.conninfo_to_dict(conninfo)
    return (
        f"postgres://{info.get('user', 'postgres')}@127.0.0.1:{info['port']}/{info['dbname']}"
        "?sslmode=disable"
    )


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench.backends", description=__doc__)
    p.add_argument("--sizes", default="1000", help="chain lengths, comma separated")
    p.add_argument("--repeat", type=int, default=3, help="no-op plans per case (median kept)")
    p.add_argument("--skip-terraform", action="store_true")
    p.add_argument("--kubernetes", action="store_true", help="also on the lab's Kubernetes API")
    p.add_argument("--terraform", default="terraform")
    p.add_argument("--timeout", type=float, default=1800)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    sizes = [int(x) for x in args.sizes.split(",") if x.strip()]
    opts = Options(sleep_s=0.0, repeat=args.repeat, timeout_s=args.timeout, keep=False)
    results: list[StepResult] = []
    with contextlib.ExitStack() as stack:
        admin = stack.enter_context(admin_conninfo())
        if admin is None:
            print("error: no PostgreSQL server (set COZYPLAN_TEST_PG)", file=sys.stderr)
            return 2
        tools: list[Tool] = [Cozyplan(), CozyplanPostgres(admin=admin)]
        if args.kubernetes:
            tools.append(CozyplanKubernetes(kubeconfig=stack.enter_context(lab_kubeconfig())))
        tf = TerraformPg(binary=args.terraform, admin=admin)
        if not args.skip_terraform and tf.available():
            tools.append(tf)
        for n in sizes:
            for tool in tools:
                workdir = Path(tempfile.mkdtemp(prefix=f"cozyplan-bench-backend-{tool.name}-"))
                case = Case("chain", n, tool.name, DEFAULT_PARALLELISM)
                print(f"# chain N={n} {tool.name}", file=sys.stderr, flush=True)
                try:
                    results += run_case(case, tool, opts, workdir, _report)
                finally:
                    shutil.rmtree(workdir, ignore_errors=True)
    print(table(results))
    return 0 if all(r.ok for r in results) else 1


def _report(r: StepResult) -> None:
    status = "ok" if r.ok else f"FAILED: {(r.error or '').splitlines()[0]}"
    print(f"    {r.step:<6} {r.wall_s:9.2f} s  {r.peak_rss_mb:7.1f} MB  {status}", file=sys.stderr)


def table(results: list[StepResult]) -> str:
    local = {(r.n, r.step): r.wall_s for r in results if r.tool == "cozyplan"}
    lines = [
        "| N | step | tool | wall s | x local | peak RSS MB |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        if r.step == "init":
            continue
        base = local.get((r.n, r.step))
        ratio = f"{r.wall_s / base:.2f}" if base else "-"
        lines.append(
            f"| {r.n} | {r.step} | {r.tool} | {r.wall_s:.2f} | {ratio} | {r.peak_rss_mb:.0f} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    os.environ.setdefault("NO_COLOR", "1")
    raise SystemExit(main())
