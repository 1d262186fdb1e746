"""Bootstrap exactly once (also across a lab restart and a lost state), and the kubeconfig."""

from __future__ import annotations

import asyncio
import base64
import os
from pathlib import Path

import pytest

import cozyplan.lab.runtime as runtime
from cozyplan.lab.talos import TalosSimulator
from cozyplan.provider import ApplyContext, PermanentError, ProviderContext
from cozyplan_talos import TalosConfig, TalosProvider, yamlio
from cozyplan_talos.resources import TalosBootstrap, TalosKubeconfig, TalosNode
from cozyplan_talos.secrets import Bundle
from tests.talos.conftest import TIME_SCALE, talos_status
from tests.talos.helpers import rendered


def _provider(lab: runtime.InProcessLab, base: Path) -> TalosProvider:
    ctx = ProviderContext(base_dir=base, resolve_endpoint=lab.resolve, time_scale=TIME_SCALE)
    return TalosProvider(TalosConfig(poll_interval=5), ctx)


def test_bootstrap_once_across_restart_and_lost_state(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runtime, "simulator_classes", lambda: [TalosSimulator])
    actx = ApplyContext("test")
    labdir = tmp_path / "lab"
    with runtime.InProcessLab(labdir, time_scale=TIME_SCALE) as lab:
        provider = _provider(lab, tmp_path)

        async def configure() -> tuple[str, str]:
            cfg = await rendered(provider)
            res = TalosNode(provider)
            for ip in ("10.0.0.201", "10.0.0.202"):
                await res.create(
                    res.parse(
                        {
                            "address": ip,
                            "machine_config": cfg.machine_config,
                            "talosconfig": cfg.talosconfig,
                        }
                    ),
                    actx,
                )
            return cfg.talosconfig or "", cfg.secrets

        talosconfig, _ = asyncio.run(configure())
    # "killed" between apply-config and bootstrap: the lab (and its nodes) went down with us
    with runtime.InProcessLab(labdir, time_scale=TIME_SCALE) as lab:
        nodes = talos_status(lab)["nodes"]
        assert {n["state"] for n in nodes.values()} == {"configured"}
        assert talos_status(lab)["bootstrap_calls"] == 0
        provider = _provider(lab, tmp_path)
        res = TalosBootstrap(provider)
        attrs = res.parse({"node": "10.0.0.201", "talosconfig": talosconfig})

        async def bootstrap_twice() -> tuple[str | None, str | None, bool]:
            first = await res.create(attrs, actx)
            # state lost after the call (crash before saving): re-running adopts
            second = await res.create(attrs, actx)
            return first.outcome, second.outcome, await res.read(first) == first

        assert asyncio.run(bootstrap_twice()) == ("bootstrapped", "adopted", True)
        status = talos_status(lab)
        assert status["bootstrap_calls"] == 1
        assert next(iter(status["clusters"].values()))["bootstrapped_on"] == "10.0.0.201"

        # a direct second Bootstrap is refused as Talos does, and the client treats it as done
        async def direct() -> bool:
            from cozyplan_talos import connect

            creds = connect.credentials(talosconfig)
            async with await connect.client(provider, "10.0.0.202", creds) as c:
                return await c.bootstrap()

        assert asyncio.run(direct()) is False
        assert talos_status(lab)["bootstrap_calls"] == 2  # the refused call was made


def test_bootstrap_on_worker_is_permanent(
    lab: runtime.InProcessLab, provider: TalosProvider, actx: ApplyContext
) -> None:
    async def run() -> None:
        cp = await rendered(provider)
        cfg = await rendered(provider, secrets_yaml=cp.secrets, machine_type="worker")
        node = TalosNode(provider)
        await node.create(
            node.parse(
                {
                    "address": "10.0.0.203",
                    "machine_config": cp.machine_config,
                    "talosconfig": cp.talosconfig,
                }
            ),
            actx,
        )
        await node.create(
            node.parse(
                {
                    "address": "10.0.0.204",
                    "machine_config": cfg.machine_config,
                    "talosconfig": cfg.talosconfig,
                }
            ),
            actx,
        )
        res = TalosBootstrap(provider)
        with pytest.raises(PermanentError, match="control plane node"):
            await res.create(
                res.parse({"node": "10.0.0.204", "talosconfig": cfg.talosconfig}), actx
            )

    asyncio.run(run())


def test_kubeconfig_from_chunked_targz(
    lab: runtime.InProcessLab, provider: TalosProvider, actx: ApplyContext, tmp_path: Path
) -> None:
    async def run() -> None:
        cfg = await rendered(provider)
        node = TalosNode(provider)
        await node.create(
            node.parse(
                {
                    "address": "10.0.0.205",
                    "machine_config": cfg.machine_config,
                    "talosconfig": cfg.talosconfig,
                }
            ),
            actx,
        )
        res = TalosKubeconfig(provider)
        kc = await res.create(
            res.parse(
                {"node": "10.0.0.205", "talosconfig": cfg.talosconfig, "path": "out/kubeconfig"}
            ),
            actx,
        )
        assert kc.kubeconfig is not None and len(kc.kubeconfig) > 512  # came in several chunks
        doc = yamlio.load(kc.kubeconfig)
        assert kc.server == "https://10.0.0.201:6443" == doc["clusters"][0]["cluster"]["server"]
        ca = base64.b64decode(doc["clusters"][0]["cluster"]["certificate-authority-data"])
        assert ca == Bundle.from_yaml(cfg.secrets).k8s.crt
        file = tmp_path / "out" / "kubeconfig"
        assert file.read_text() == kc.kubeconfig
        assert os.stat(file).st_mode & 0o777 == 0o600
        assert await res.read(kc) == kc
        file.unlink()
        drifted = await res.read(kc)
        assert drifted is not None and drifted.path is None  # shows as a change: rewrite
        fixed = await res.update(drifted, kc, [], actx)
        assert file.read_text() == fixed.kubeconfig == kc.kubeconfig

    asyncio.run(run())
