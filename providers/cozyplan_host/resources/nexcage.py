"""``host_nexcage``: NexCage built from source and installed, with its config file.

One resource composed of the same steps as the primitive resources, each run only when its
fact differs: build packages -> Zig 0.15.1 (PyPI ``ziglang`` in a venv, or a given ``zig``) ->
checkout of the tag without submodules -> ``zig build -Doptimize=ReleaseSafe`` (skipped when
``zig-out`` already holds a build of that commit) -> install of the binary (skipped when
identical) -> directories -> ``config.json``. State is read back from ``nexcage version``, the
config file and the checkout. There is no daemon: NexCage v0.7.3 has none.
"""

from __future__ import annotations

import json
import posixpath
from collections.abc import Sequence
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, model_validator

from cozyplan.provider import ApplyContext, Change, Computed, PermanentError, SpecModel
from cozyplan_host import steps
from cozyplan_host.resources.base import AbsPath, HostModel, HostResource
from cozyplan_host.resources.git import git_ref
from cozyplan_host.resources.nexcage_config import NexCageConfig
from cozyplan_host.ssh import HostConnection

NEXCAGE_REPOSITORY = "https://github.com/CageForge/nexcage.git"
BUILD_PACKAGES = ["build-essential", "git", "libcap-dev", "libseccomp-dev", "libyajl-dev"]
BUILD_STAMP = "zig-out/.cozyplan-build"


class ZigSpec(SpecModel):
    #: ``pypi``: ``ziglang==<version>`` in a venv (no tarball download); ``path``: use
    #: ``command`` (e.g. a Zig you unpacked from the official tarball) and check its version
    source: Literal["pypi", "path"] = "pypi"
    version: str = "0.15.1"
    venv: AbsPath = "/opt/nexcage-zig"
    command: str = "zig"

    def argv(self) -> list[str]:
        if self.source == "pypi":
            return [posixpath.join(self.venv, "bin", "python"), "-m", "ziglang"]
        return [self.command]


class NexCageModel(HostModel):
    #: the NexCage version to install; also what ``nexcage version`` reports once installed
    #: (read back as null when no working binary is installed)
    version: Annotated[str | None, Field(pattern=r"^\d+\.\d+\.\d+$")] = "0.7.3"
    repository: str = NEXCAGE_REPOSITORY
    #: default ``v<version>``
    ref: Annotated[str | None, AfterValidator(lambda v: None if v is None else git_ref(v))] = None
    source_dir: AbsPath = "/opt/nexcage"
    zig: ZigSpec = Field(default_factory=ZigSpec)
    build_packages: list[str] = Field(default_factory=lambda: list(BUILD_PACKAGES))
    build_timeout: Annotated[float, Field(gt=0)] = 1800
    install_path: AbsPath = "/usr/local/bin/nexcage"
    #: NexCage reads ./config.json, /etc/nexcage/config.json or /etc/nexcage/nexcage.json
    config_path: AbsPath = "/etc/nexcage/config.json"
    #: (read back as null when the file is missing or not a valid NexCage config)
    config: NexCageConfig | None = Field(default_factory=NexCageConfig)
    #: the commit the installed build came from
    commit: Annotated[str | None, Computed()] = None

    @model_validator(mode="after")
    def _zig_venv_package(self) -> NexCageModel:
        if self.zig.source == "pypi" and "python3-venv" not in self.build_packages:
            self.build_packages = [*self.build_packages, "python3-venv"]
        return self

    @property
    def git_ref(self) -> str:
        if self.ref is None and self.version is None:
            raise PermanentError("host_nexcage needs a version (or a ref)")
        return self.ref or f"v{self.version}"

    @property
    def nexcage_config(self) -> NexCageConfig:
        return self.config or NexCageConfig()

    @property
    def built_binary(self) -> str:
        return posixpath.join(self.source_dir, "zig-out", "bin", "nexcage")


async def installed_version(c: HostConnection, binary: str, *, step: str) -> str | None:
    r = await c.run([binary, "version"], step=step, check=False)
    words = r.stdout.split()
    if r.ok and len(words) >= 3 and words[:2] == ["nexcage", "version"]:
        return words[2]
    return None


class HostNexCage(HostResource[NexCageModel]):
    type_name = "host_nexcage"
    model = NexCageModel
    description = "NexCage built from source (Zig 0.15.1) and installed, with config.json"

    async def read(self, current: NexCageModel) -> NexCageModel | None:
        c = self.conn(current)
        step = "read nexcage"
        version = await installed_version(c, current.install_path, step=step)
        text = await steps.read_text(c, current.config_path, step=step)
        config: NexCageConfig | None = None
        if text is not None:
            try:
                config = NexCageConfig.model_validate(json.loads(text))
            except ValueError:
                config = None
        commit = await steps.git_head(c, current.source_dir, step=step)
        if version is None and text is None and commit is None:
            return None
        return current.model_copy(update={"version": version, "config": config, "commit": commit})

    async def _zig(self, c: HostConnection, m: NexCageModel, ctx: ApplyContext) -> None:
        step = "install zig"
        zig = m.zig
        if zig.source == "pypi":
            python = posixpath.join(zig.venv, "bin", "python")
            if await steps.stat(c, python, step=step) is None:
                ctx.progress(f"python3 -m venv {zig.venv}")
                await c.run(["python3", "-m", "venv", zig.venv], step=step)
        r = await c.run([*zig.argv(), "version"], step=step, check=False)
        if r.ok and r.stdout.strip() == zig.version:
            return
        if zig.source == "path":
            raise PermanentError(
                f"{c.label}: step '{step}': `{zig.command} version` reports "
                f"{r.stdout.strip() or r.stderr.strip()!r}, need "
                f"{zig.version}"
            )
        ctx.progress(f"pip install ziglang=={zig.version}")
        await c.run(
            [
                posixpath.join(zig.venv, "bin", "python"),
                "-m",
                "pip",
                "install",
                "-q",
                f"ziglang=={zig.version}",
            ],
            step=step,
            timeout=m.build_timeout,
        )

    async def _build(
        self, c: HostConnection, m: NexCageModel, commit: str, ctx: ApplyContext
    ) -> None:
        step = "build nexcage"
        stamp = posixpath.join(m.source_dir, BUILD_STAMP)
        built = await steps.stat(c, m.built_binary, step=step)
        if built is not None and await steps.read_text(c, stamp, step=step) == commit + "\n":
            return
        ctx.progress("zig build -Doptimize=ReleaseSafe")
        await c.run(
            [*m.zig.argv(), "build", "-Doptimize=ReleaseSafe"],
            step=step,
            cwd=m.source_dir,
            timeout=m.build_timeout,
        )
        await steps.write_file(
            c, stamp, (commit + "\n").encode(), mode="0644", owner=None, group=None, step=step
        )

    async def _install(self, c: HostConnection, m: NexCageModel, ctx: ApplyContext) -> None:
        step = "install nexcage"
        sums = await steps.sha256_of(c, [m.built_binary, m.install_path], step=step)
        if m.built_binary not in sums:
            raise PermanentError(f"{c.label}: step '{step}': the build left no {m.built_binary}")
        if sums.get(m.install_path) == sums[m.built_binary]:
            return
        ctx.progress(f"install {m.install_path}")
        await steps.ensure_dir(c, posixpath.dirname(m.install_path), step=step)
        tmp = c.temp_name(m.install_path)
        await c.run(["install", "-m", "0755", m.built_binary, tmp], step=step)
        await c.run(["mv", "-f", tmp, m.install_path], step=step)

    async def converge(self, m: NexCageModel, ctx: ApplyContext) -> NexCageModel:
        c = self.conn(m)
        await steps.ensure_packages(
            c, m.build_packages, step="install build packages", progress=ctx.progress
        )
        await self._zig(c, m, ctx)
        commit = await steps.ensure_checkout(
            c, m.repository, m.git_ref, m.source_dir, step="checkout nexcage", progress=ctx.progress
        )
        await self._build(c, m, commit, ctx)
        await self._install(c, m, ctx)
        runtime = m.nexcage_config.runtime
        for d in (
            posixpath.dirname(m.config_path),
            posixpath.dirname(runtime.log_path),
            runtime.root_path,
        ):
            await steps.ensure_dir(c, d, step="nexcage directories", progress=ctx.progress)
        await steps.ensure_file(
            c,
            m.config_path,
            m.nexcage_config.render().encode(),
            mode="0644",
            step="nexcage config",
            progress=ctx.progress,
        )
        version = await installed_version(c, m.install_path, step="verify nexcage")
        if m.version is not None and version != m.version:
            raise PermanentError(
                f"{c.label}: step 'verify nexcage': `{m.install_path} version`"
                f" reports {version!r}, expected {m.version!r}"
            )
        return m.model_copy(update={"commit": commit})

    async def create(self, planned: NexCageModel, ctx: ApplyContext) -> NexCageModel:
        return await self.converge(planned, ctx)

    async def update(
        self,
        prior: NexCageModel,
        planned: NexCageModel,
        changes: Sequence[Change],
        ctx: ApplyContext,
    ) -> NexCageModel:
        return await self.converge(planned, ctx)

    async def delete(self, prior: NexCageModel, ctx: ApplyContext) -> None:
        """Remove the binary, the config and the build tree (packages stay installed)."""
        c = self.conn(prior)
        paths = [prior.install_path, prior.config_path, prior.source_dir]
        if prior.zig.source == "pypi":
            paths.append(prior.zig.venv)
        await c.run(["rm", "-rf", *paths], step="delete nexcage")
